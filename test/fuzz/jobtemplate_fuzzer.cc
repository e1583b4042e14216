// JobTemplate: parse + validate + the Jobs stamped from it. Checks, beyond
// memory safety: an invalid jobSpec is an InvalidArgument naming its field
// under "spec" (or "JobTemplate" for a document that is not an object); a valid one still validates
// as the spec of a Job built from it (weir's labels, restartPolicy, an OOM memory override on each
// container in turn); every container name is accepted as mainContainer;
// the status reads back equal.
#include "api/jobspec.h"
#include "api/jobtemplate.h"
#include "api/quantity.h"
#include "fuzz.h"
#include "reconcile/children.h"

namespace weir::fuzz {
namespace {

void Run(const nlohmann::json& object) {
  api::JobTemplate t = api::ParseJobTemplate(object);
  if (!t.job_spec.ok()) {
    // A document that is no object at all is named by its kind.
    CheckFieldError(t.job_spec.status(), object.is_object() ? "spec" : "JobTemplate");
  } else {
    reconcile::ChildOwner owner = reconcile::ChildOwner::Batch("ns", "b", "uid");
    reconcile::MemoryOverride memory{api::Quantity::FromUnits(512 << 20),
                                     api::Quantity::FromUnits(256 << 20)};
    int attempt = 0;
    for (const std::string& name : api::ContainerNames(*t.job_spec)) {
      Check(api::CheckMainContainer(*t.job_spec, name, "spec.mainContainer").ok(), name);
      nlohmann::json job = reconcile::BuildChildJob(owner, ++attempt, *t.job_spec, name, memory);
      absl::Status valid = api::ValidateJobSpec(job["spec"], "job.spec");
      Check(valid.ok(), valid.ToString());
    }
  }
  nlohmann::json status = api::JobTemplateStatusToJson(t.status);
  Check(api::ParseJobTemplate({{"status", status}}).status == t.status,
        "status round trip: " + status.dump());
}

}  // namespace
}  // namespace weir::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<nlohmann::json> object = weir::fuzz::ParseJson(data, size);
  if (object.has_value()) weir::fuzz::Run(*object);
  return 0;
}
