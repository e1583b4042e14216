// The JobFlow step patch merge (api::MergeJobSpec): input [base, patch], any
// JSON. Checks, beyond memory safety: a null patch keeps the base; applying
// the same patch twice gives what applying it once gives (the reconciler
// merges again on every plan); the merged JobSpec validates or names its
// field under the step's path, as the flow planner reports it.
#include "api/jobspec.h"
#include "fuzz.h"

namespace weir::fuzz {
namespace {

void Run(const nlohmann::json& base, const nlohmann::json& patch) {
  Check(api::MergeJobSpec(base, nullptr) == base, "a null patch changed the base");
  nlohmann::json merged = api::MergeJobSpec(base, patch);
  Check(api::MergeJobSpec(merged, patch) == merged, "merging twice differs: " + merged.dump());
  absl::Status valid = api::ValidateJobSpec(merged, "spec.steps[0]");
  if (!valid.ok()) CheckFieldError(valid, "spec.steps[0]");
}

}  // namespace
}  // namespace weir::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<nlohmann::json> input = weir::fuzz::ParseJson(data, size);
  if (input.has_value() && input->is_array() && input->size() == 2) {
    weir::fuzz::Run((*input)[0], (*input)[1]);
  }
  return 0;
}
