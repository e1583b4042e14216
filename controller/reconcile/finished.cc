#include "reconcile/finished.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "reconcile/children.h"

namespace weir::reconcile {

FinishedPlan PlanFinished(const FinishedInput& in, std::vector<api::Condition>& conditions,
                          std::vector<std::string>& delete_jobs) {
  FinishedPlan plan;
  const std::string already = absl::StrCat("already ", lifecycle::PhaseName(in.phase),
                                           "; its Jobs and pods are cleaned up");
  if (in.finished_before && in.new_cancel && !in.deleting) {
    plan.events.push_back({"Normal", "AlreadyFinished", already});
  }
  if (in.release_now || in.now >= in.completed + in.idle_timeout) {
    for (const nlohmann::json* job : in.jobs) {
      const nlohmann::json& meta = job->value("metadata", nlohmann::json::object());
      if (!meta.is_object() || meta.contains("deletionTimestamp")) continue;
      const std::string name = meta.value("name", "");
      if (std::find(delete_jobs.begin(), delete_jobs.end(), name) == delete_jobs.end()) {
        delete_jobs.push_back(name);
      }
    }
    if (!in.children && in.any_attempt &&
        !api::IsConditionTrue(conditions, api::kConditionResourcesReleased)) {
      api::SetCondition(
          conditions, api::kConditionResourcesReleased, api::kConditionTrue, "Released",
          absl::StrCat("the ", in.noun, "'s Jobs and pods were deleted; its status stays"),
          in.generation, in.now);
      plan.released = true;
    }
  } else {
    plan.wake_at = in.completed + in.idle_timeout;
  }

  if (in.deleting) {
    if (!in.children && in.has_finalizer) {
      plan.remove_finalizer = true;
      if (in.finished_before && !in.transitioned) {
        plan.events.push_back({"Normal", "AlreadyFinished", already});
      }
    }
    return plan;
  }
  if (in.ttl_after_finished.has_value()) {
    const absl::Time expire = in.completed + *in.ttl_after_finished;
    if (in.now >= expire) {
      plan.delete_owner = true;
    } else if (!plan.wake_at.has_value() || expire < *plan.wake_at) {
      plan.wake_at = expire;
    }
  }
  return plan;
}

}  // namespace weir::reconcile
