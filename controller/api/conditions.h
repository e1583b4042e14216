// Condition: a metav1.Condition in a weir status (docs/design.md §2 Conventions),
// with the usual set/find helpers and JSON conversion.
//
// Contract:
// - SetCondition adds or updates the condition of a type. lastTransitionTime
//   moves to `now` only when the status changes (or the condition is new);
//   reason, message and observedGeneration are always updated. It returns
//   true if anything changed. Messages longer than the API server accepts
//   (32768 bytes) are cut at a UTF-8 boundary and end in "...", so what is
//   stored equals what is written.
// - ConditionsToJson writes every required field (type, status, reason,
//   message, lastTransitionTime), observedGeneration when not 0.
// - ParseConditions is tolerant: entries that are not objects or have no type
//   are dropped, as are repeats of a type (the first is kept), a missing or bad lastTransitionTime
//   reads as the Unix epoch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::api {

// Condition types and statuses used by weir.
inline constexpr absl::string_view kConditionValid = "Valid";
inline constexpr absl::string_view kConditionRunning = "Running";
inline constexpr absl::string_view kConditionFinished = "Finished";
inline constexpr absl::string_view kConditionResourcesReleased = "ResourcesReleased";
inline constexpr absl::string_view kConditionTrue = "True";
inline constexpr absl::string_view kConditionFalse = "False";
inline constexpr absl::string_view kConditionUnknown = "Unknown";

// The API server's limit on a condition message.
inline constexpr size_t kMaxConditionMessageBytes = 32768;

struct Condition {
  std::string type, status, reason, message;
  absl::Time last_transition_time = absl::UnixEpoch();
  int64_t observed_generation = 0;

  bool operator==(const Condition&) const = default;
};

// Sets/updates condition `type`; keeps lastTransitionTime when status is
// unchanged. Returns true if anything changed.
bool SetCondition(std::vector<Condition>& conditions, absl::string_view type,
                  absl::string_view status, absl::string_view reason, absl::string_view message,
                  int64_t generation, absl::Time now);

// The condition of type `type`, or nullptr.
const Condition* FindCondition(const std::vector<Condition>& conditions, absl::string_view type);

// True if condition `type` exists with status "True".
bool IsConditionTrue(const std::vector<Condition>& conditions, absl::string_view type);

// Removes condition `type`; returns true if there was one.
bool RemoveCondition(std::vector<Condition>& conditions, absl::string_view type);

nlohmann::json ConditionToJson(const Condition& condition);
nlohmann::json ConditionsToJson(const std::vector<Condition>& conditions);
// Reads a `conditions` array (anything else reads as no conditions).
std::vector<Condition> ParseConditions(const nlohmann::json& array);

// `message` cut to at most `max_bytes` bytes at a UTF-8 character boundary,
// ending in "..." when cut.
std::string TruncateMessage(absl::string_view message, size_t max_bytes);

}  // namespace weir::api
