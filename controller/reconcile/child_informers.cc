#include "reconcile/child_informers.h"

#include "absl/strings/str_cat.h"
#include "reconcile/children.h"

namespace weir::reconcile {

runtime::InformerOptions ChildInformerOptions() {
  runtime::InformerOptions options;
  options.reflector.label_selector = absl::StrCat(kLabelManagedBy, "=", kManagedByValue);
  options.store.indexed_label_keys = {kLabelBatchUid, kLabelFlowUid};
  // An event's reconcile reads the owner's children ~100 ms later; kept
  // decoded, the latest 256 need no second decode. W1 at the default
  // profile: 20.1 -> 16.9 ms of CPU per step, peak RSS 40 -> 46 MiB (1,024:
  // 16.7 ms, 59 MiB).
  options.store.keep_decoded = 256;
  return options;
}

}  // namespace weir::reconcile
