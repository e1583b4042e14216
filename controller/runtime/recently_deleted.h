// RecentlyDeleted: the final states of objects an informer saw deleted, kept
// for a while and looked up by the value of one label.
//
// Why: a reconciler decides from the cache, and the cache forgets an object
// as soon as its DELETED event arrives. An object whose last write and
// removal come close together (a pod the kubelet reports as exited 143 after
// SIGTERM and then removes) may be gone by the time its owner is reconciled,
// and with it the only record of how it ended. Feeding an informer's
// OnDelete into this class keeps that record.
//
// Contract:
//   - Add() keeps `object` if it carries the label; objects without it are
//     ignored. Entries older than `retention` are dropped (on Add and on
//     reads), so memory is bounded by the deletions of one retention period.
//   - ByLabel() returns the kept final states with that label value, oldest
//     deletion first. They are history, never live objects: callers must not
//     count them as existing children.
//
// Thread-safety: all methods are safe for concurrent use. The clock must
// outlive the object.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "runtime/store.h"

namespace weir::runtime {

class RecentlyDeleted {
 public:
  RecentlyDeleted(std::string label_key, absl::Duration retention, const Clock* clock);
  RecentlyDeleted(const RecentlyDeleted&) = delete;
  RecentlyDeleted& operator=(const RecentlyDeleted&) = delete;

  // For an informer's OnDelete: `object` is the deleted object's final state.
  void Add(const ObjectPtr& object);
  std::vector<ObjectPtr> ByLabel(absl::string_view value) const;
  // Entries kept, expired ones excluded.
  size_t size() const;

 private:
  struct Entry {
    absl::Time deleted;
    ObjectPtr object;
  };
  // Drops entries deleted `retention_` or longer ago.
  void Expire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string label_key_;
  const absl::Duration retention_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  // Label value -> its entries, oldest first; `order_` holds every entry's
  // label value in deletion order, so expiry is a walk from the front.
  mutable absl::flat_hash_map<std::string, std::deque<Entry>> by_value_ ABSL_GUARDED_BY(mu_);
  mutable std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::runtime
