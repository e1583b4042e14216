// Batch: parse + validate + plan. A Batch object (with its JobTemplate, and
// the statuses of its pods; owner_world.h) runs through a few rounds of
// PlanBatch. Checks, beyond memory safety: an invalid spec is an
// InvalidArgument naming its field under "spec" and creates no Job; every
// status the plan writes reads back equal (the status subresource round
// trip).
#include "api/batch.h"
#include "api/jobtemplate.h"
#include "fuzz.h"
#include "owner_world.h"
#include "reconcile/batch_plan.h"

namespace weir::fuzz {
namespace {

// The JobTemplate named `name`, as the Batch reconciler looks it up.
std::optional<absl::StatusOr<nlohmann::json>> TemplateJobSpec(const OwnerWorld& world,
                                                              const std::string& name) {
  for (const nlohmann::json& t : world.templates()) {
    api::JobTemplate parsed = api::ParseJobTemplate(t);
    if (parsed.metadata.name == name) return parsed.job_spec;
  }
  return std::nullopt;
}

void Run(OwnerWorld& world) {
  for (int round = 0; round < kRounds; ++round) {
    reconcile::BatchInput in;
    in.batch = api::ParseBatch(world.owner());
    if (!in.batch.spec.ok()) CheckFieldError(in.batch.spec.status(), "spec");
    if (in.batch.spec.ok() && !in.batch.spec->template_name.empty()) {
      in.template_job_spec = TemplateJobSpec(world, in.batch.spec->template_name);
    }
    in.jobs = world.jobs();
    in.pods = world.pods();
    in.jobs_gone = world.jobs_gone();
    in.now = world.now();
    reconcile::BatchPlan plan = reconcile::PlanBatch(in);

    Check(in.batch.spec.ok() || !plan.create_job.has_value(), "a Job for an invalid Batch");
    if (plan.verify_job.has_value()) world.VerifyJob(*plan.verify_job);
    if (plan.add_finalizer) world.AddFinalizer();
    if (plan.status.has_value()) {
      nlohmann::json status = api::BatchStatusToJson(*plan.status);
      Check(api::ParseBatchStatus(status) == *plan.status, "status round trip: " + status.dump());
      world.SetStatus(std::move(status));
    }
    for (const std::string& name : plan.delete_jobs) world.DeleteJob(name);
    if (plan.create_job.has_value()) world.CreateJob(*plan.create_job);
    if (plan.remove_finalizer || plan.delete_owner) return;
    world.Advance(plan.wake_at);
  }
}

}  // namespace
}  // namespace weir::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weir::fuzz::RunOwnerWorld(data, size, weir::fuzz::Run);
  return 0;
}
