#include "api/conditions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "api/json_fields.h"
#include "api/meta.h"

namespace weir::api {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxReasonBytes = 1024;

}  // namespace

std::string TruncateMessage(absl::string_view message, size_t max_bytes) {
  if (message.size() <= max_bytes) return std::string(message);
  constexpr absl::string_view kEllipsis = "...";
  if (max_bytes < kEllipsis.size()) return std::string(message.substr(0, 0));
  size_t cut = max_bytes - kEllipsis.size();
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(message.substr(0, cut), kEllipsis);
}

bool SetCondition(std::vector<Condition>& conditions, absl::string_view type,
                  absl::string_view status, absl::string_view reason, absl::string_view message,
                  int64_t generation, absl::Time now) {
  std::string new_message = TruncateMessage(message, kMaxConditionMessageBytes);
  std::string new_reason = TruncateMessage(reason, kMaxReasonBytes);
  for (Condition& c : conditions) {
    if (c.type != type) continue;
    bool changed = false;
    if (c.status != status) {
      c.status = std::string(status);
      c.last_transition_time = now;
      changed = true;
    }
    if (c.reason != new_reason) {
      c.reason = std::move(new_reason);
      changed = true;
    }
    if (c.message != new_message) {
      c.message = std::move(new_message);
      changed = true;
    }
    if (c.observed_generation != generation) {
      c.observed_generation = generation;
      changed = true;
    }
    return changed;
  }
  Condition c;
  c.type = std::string(type);
  c.status = std::string(status);
  c.reason = std::move(new_reason);
  c.message = std::move(new_message);
  c.last_transition_time = now;
  c.observed_generation = generation;
  conditions.push_back(std::move(c));
  return true;
}

const Condition* FindCondition(const std::vector<Condition>& conditions, absl::string_view type) {
  for (const Condition& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

bool IsConditionTrue(const std::vector<Condition>& conditions, absl::string_view type) {
  const Condition* c = FindCondition(conditions, type);
  return c != nullptr && c->status == kConditionTrue;
}

bool RemoveCondition(std::vector<Condition>& conditions, absl::string_view type) {
  auto it = std::remove_if(conditions.begin(), conditions.end(),
                           [&](const Condition& c) { return c.type == type; });
  bool removed = it != conditions.end();
  conditions.erase(it, conditions.end());
  return removed;
}

json ConditionToJson(const Condition& c) {
  json out = json::object();
  out["type"] = c.type;
  out["status"] = c.status;
  if (c.observed_generation != 0) out["observedGeneration"] = c.observed_generation;
  out["lastTransitionTime"] = FormatRfc3339(c.last_transition_time);
  out["reason"] = c.reason;
  out["message"] = c.message;
  return out;
}

json ConditionsToJson(const std::vector<Condition>& conditions) {
  json out = json::array();
  for (const Condition& c : conditions) out.push_back(ConditionToJson(c));
  return out;
}

std::vector<Condition> ParseConditions(const json& array) {
  std::vector<Condition> out;
  if (!array.is_array()) return out;
  for (const json& item : array) {
    if (!item.is_object()) continue;
    Condition c;
    c.type = internal::StringOr(item, "type");
    if (c.type.empty() || FindCondition(out, c.type) != nullptr) continue;  // keep the first
    c.status = internal::StringOr(item, "status");
    c.reason = internal::StringOr(item, "reason");
    c.message = internal::StringOr(item, "message");
    c.last_transition_time =
        internal::OptionalTime(item, "lastTransitionTime").value_or(absl::UnixEpoch());
    c.observed_generation = internal::Int64Or(item, "observedGeneration");
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace weir::api
