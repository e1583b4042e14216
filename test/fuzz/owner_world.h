// The world the planner targets (batch_fuzzer.cc, jobflow_fuzzer.cc) run an
// owner in: its object, JobTemplates, Jobs and pods as the API server would
// hold them after the executor carried out each plan. Plans alone see one
// state; a few rounds of plan, apply, advance the clock reach retries, OOM
// memory, cancels, idle cleanup and ttl from one input.
//
// Input: a JSON array [owner, items...]. Items of kind JobTemplate are the
// templates; any other item is a pod status, given in order to the pods of
// the Jobs the plans create (a Job with none left gets a Pending pod). The
// owner gets the metadata the API server sets (uid, namespace,
// creationTimestamp, generation) where the input has none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::fuzz {

// Plan, apply, advance: at most this many rounds per input.
inline constexpr int kRounds = 6;

class OwnerWorld {
 public:
  // Nullopt unless `input` is an array starting with an object.
  static std::optional<OwnerWorld> FromInput(const nlohmann::json& input);

  const nlohmann::json& owner() const { return owner_; }
  const std::vector<nlohmann::json>& templates() const { return templates_; }
  std::vector<const nlohmann::json*> jobs() const;
  std::vector<const nlohmann::json*> pods() const;
  const absl::flat_hash_set<std::string>& jobs_gone() const { return jobs_gone_; }
  absl::Time now() const { return now_; }

  // What the executor does with a plan's actions.
  void AddFinalizer();
  void SetStatus(nlohmann::json status);
  // The Job as created (creationTimestamp, uid), and a pod for it.
  void CreateJob(nlohmann::json job);
  void DeleteJob(const std::string& name);
  // A live read of Job `name`: recorded gone if there is none.
  void VerifyJob(const std::string& name);
  // To the plan's wake-up if it is later, else 15 minutes on.
  void Advance(std::optional<absl::Time> wake_at);

 private:
  nlohmann::json owner_;
  std::vector<nlohmann::json> templates_;
  std::deque<nlohmann::json> pod_statuses_;
  std::vector<nlohmann::json> jobs_, pods_;
  absl::flat_hash_set<std::string> jobs_gone_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  int created_ = 0;
};

// Builds the world of the input `data` and, if it has one, calls `run`.
void RunOwnerWorld(const uint8_t* data, size_t size, void (*run)(OwnerWorld& world));

}  // namespace weir::fuzz
