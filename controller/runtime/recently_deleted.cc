#include "runtime/recently_deleted.h"

#include <utility>

namespace weir::runtime {

RecentlyDeleted::RecentlyDeleted(std::string label_key, absl::Duration retention,
                                 const Clock* clock)
    : label_key_(std::move(label_key)), retention_(retention), clock_(clock) {}

void RecentlyDeleted::Add(const ObjectPtr& object) {
  if (object == nullptr || !object->is_object()) return;
  auto meta = object->find("metadata");
  if (meta == object->end() || !meta->is_object()) return;
  auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return;
  auto label = labels->find(label_key_);
  if (label == labels->end() || !label->is_string()) return;
  const std::string value = label->get<std::string>();
  absl::MutexLock lock(&mu_);
  Expire();
  by_value_[value].push_back({clock_->Now(), object});
  order_.push_back(value);
}

std::vector<ObjectPtr> RecentlyDeleted::ByLabel(absl::string_view value) const {
  absl::MutexLock lock(&mu_);
  Expire();
  std::vector<ObjectPtr> out;
  auto it = by_value_.find(value);
  if (it == by_value_.end()) return out;
  for (const Entry& e : it->second) out.push_back(e.object);
  return out;
}

size_t RecentlyDeleted::size() const {
  absl::MutexLock lock(&mu_);
  Expire();
  return order_.size();
}

void RecentlyDeleted::Expire() const {
  const absl::Time now = clock_->Now();
  while (!order_.empty()) {
    auto it = by_value_.find(order_.front());
    // Entries are added in clock order, so the front of `order_` is the
    // front of its value's deque.
    if (now - it->second.front().deleted < retention_) return;
    it->second.pop_front();
    if (it->second.empty()) by_value_.erase(it);
    order_.pop_front();
  }
}

}  // namespace weir::runtime
