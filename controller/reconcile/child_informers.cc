#include "reconcile/child_informers.h"

#include "absl/strings/str_cat.h"
#include "reconcile/children.h"

namespace weir::reconcile {

runtime::InformerOptions ChildInformerOptions() {
  runtime::InformerOptions options;
  options.reflector.label_selector = absl::StrCat(kLabelManagedBy, "=", kManagedByValue);
  options.store.indexed_label_keys = {kLabelBatchUid, kLabelFlowUid};
  return options;
}

}  // namespace weir::reconcile
