#include "owner_world.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/meta.h"
#include "base/json_path.h"
#include "fuzz.h"

namespace weir::fuzz {

using nlohmann::json;

namespace {

std::string NameOf(const json& object) { return StringAt(object, {"metadata", "name"}); }

// The value at `path` (object keys), or `fallback` if it is absent or null.
json At(const json& object, std::initializer_list<const char*> path, json fallback) {
  const json& value = JsonAt(object, path);
  return value.is_null() ? fallback : value;
}

std::vector<const json*> Pointers(const std::vector<json>& objects) {
  std::vector<const json*> out;
  for (const json& o : objects) out.push_back(&o);
  return out;
}

}  // namespace

std::optional<OwnerWorld> OwnerWorld::FromInput(const json& input) {
  if (!input.is_array() || input.empty() || !input[0].is_object()) return std::nullopt;
  OwnerWorld world;
  world.owner_ = input[0];
  json& meta = world.owner_["metadata"];
  if (meta.is_null()) meta = json::object();
  if (meta.is_object()) {
    for (const auto& [key, value] : {std::pair<const char*, json>{"uid", "fuzz-uid"},
                                     {"namespace", "default"},
                                     {"generation", 1},
                                     {"creationTimestamp", api::FormatRfc3339(world.now_)}}) {
      if (!meta.contains(key)) meta[key] = value;
    }
  }
  for (size_t i = 1; i < input.size(); ++i) {
    const json& item = input[i];
    if (item.is_object() && item.value("kind", json()) == "JobTemplate") {
      world.templates_.push_back(item);
    } else {
      world.pod_statuses_.push_back(item);
    }
  }
  return world;
}

std::vector<const json*> OwnerWorld::jobs() const { return Pointers(jobs_); }
std::vector<const json*> OwnerWorld::pods() const { return Pointers(pods_); }

void OwnerWorld::AddFinalizer() {
  json& meta = owner_["metadata"];
  if (!meta.is_object()) return;
  json& finalizers = meta["finalizers"];
  if (!finalizers.is_array()) finalizers = json::array();
  finalizers.push_back("weir.dev/cleanup");
}

void OwnerWorld::SetStatus(json status) { owner_["status"] = std::move(status); }

void OwnerWorld::CreateJob(json job) {
  ++created_;
  if (!job.is_object()) return;
  json& meta = job["metadata"];
  if (!meta.is_object()) return;
  meta["creationTimestamp"] = api::FormatRfc3339(now_);
  meta["uid"] = absl::StrCat("job-uid-", created_);
  json pod = {{"metadata",
               {{"name", absl::StrCat(NameOf(job), "-pod")},
                {"namespace", At(job, {"metadata", "namespace"}, "default")},
                {"creationTimestamp", api::FormatRfc3339(now_)},
                {"labels", At(job, {"spec", "template", "metadata", "labels"}, json::object())}}},
              {"spec", At(job, {"spec", "template", "spec"}, json::object())},
              {"status", {{"phase", "Pending"}}}};
  if (!pod_statuses_.empty()) {
    pod["status"] = std::move(pod_statuses_.front());
    pod_statuses_.pop_front();
  }
  jobs_.push_back(std::move(job));
  pods_.push_back(std::move(pod));
}

void OwnerWorld::DeleteJob(const std::string& name) {
  auto named = [](std::string n) { return [n](const json& o) { return NameOf(o) == n; }; };
  jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(), named(name)), jobs_.end());
  pods_.erase(std::remove_if(pods_.begin(), pods_.end(), named(name + "-pod")), pods_.end());
  jobs_gone_.insert(name);
}

void OwnerWorld::VerifyJob(const std::string& name) {
  if (std::none_of(jobs_.begin(), jobs_.end(), [&](const json& j) { return NameOf(j) == name; })) {
    jobs_gone_.insert(name);
  }
}

void OwnerWorld::Advance(std::optional<absl::Time> wake_at) {
  now_ = wake_at.has_value() && *wake_at > now_ ? *wake_at : now_ + absl::Minutes(15);
}

void RunOwnerWorld(const uint8_t* data, size_t size, void (*run)(OwnerWorld& world)) {
  std::optional<json> input = ParseJson(data, size);
  if (!input.has_value()) return;
  std::optional<OwnerWorld> world = OwnerWorld::FromInput(*input);
  if (world.has_value()) run(*world);
}

}  // namespace weir::fuzz
