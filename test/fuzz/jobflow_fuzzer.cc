// JobFlow: parse + validate + plan. A JobFlow object (with its JobTemplates
// and the statuses of its steps' pods; owner_world.h) runs through a few
// rounds of PlanJobFlow: graph checks, step patches, skips, cancels,
// retries. Checks, beyond memory safety: an invalid spec is an
// InvalidArgument naming its field under "spec" and creates no Job; every
// status the plan writes reads back equal.
#include "api/jobflow.h"
#include "api/jobtemplate.h"
#include "fuzz.h"
#include "owner_world.h"
#include "reconcile/flow_plan.h"

namespace weir::fuzz {
namespace {

void Run(OwnerWorld& world) {
  for (int round = 0; round < kRounds; ++round) {
    reconcile::FlowInput in;
    in.flow = api::ParseJobFlow(world.owner());
    if (!in.flow.spec.ok()) CheckFieldError(in.flow.spec.status(), "spec");
    for (const nlohmann::json& t : world.templates()) {
      api::JobTemplate parsed = api::ParseJobTemplate(t);
      in.templates.try_emplace(
          parsed.metadata.name,
          reconcile::FlowTemplate{parsed.job_spec, parsed.metadata.resource_version});
    }
    in.jobs = world.jobs();
    in.pods = world.pods();
    in.jobs_gone = world.jobs_gone();
    in.now = world.now();
    reconcile::FlowPlan plan = reconcile::PlanJobFlow(in);

    Check(in.flow.spec.ok() || plan.create_jobs.empty(), "a Job for an invalid JobFlow");
    for (const std::string& name : plan.verify_jobs) world.VerifyJob(name);
    if (plan.add_finalizer) world.AddFinalizer();
    if (plan.status.has_value()) {
      nlohmann::json status = api::JobFlowStatusToJson(*plan.status);
      Check(api::ParseJobFlowStatus(status) == *plan.status, "status round trip: " + status.dump());
      world.SetStatus(std::move(status));
    }
    for (const std::string& name : plan.delete_jobs) world.DeleteJob(name);
    for (reconcile::FlowJobToCreate& create : plan.create_jobs) {
      world.CreateJob(std::move(create.job));
    }
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
