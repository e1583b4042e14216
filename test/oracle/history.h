// An independent oracle of weir's reliability invariants (docs/design.md §7,
// invariants 1-5), for tests.
//
// It is fed every watch event of the test namespace's Batches, JobFlows,
// Jobs and Pods, from before a scenario starts, and judges the whole history
// in resourceVersion order (one etcd: the revision orders all kinds). It
// reads the raw JSON itself and uses none of weir's api/ or lifecycle/ code:
// the transition table is a copy of docs/design.md §4.1 as data, and the
// labels and annotations it relies on are the ones §3 documents.
//
// Check() reports, per violation, the invariant, what is wrong, and a
// numbered history of the versions of every object involved. Invariant 4
// (the controller goes quiet) needs wall-clock time, so the watcher that
// feeds the history checks it (test/e2e/support/oracle_watch.h) and adds what
// it found with AddViolation().
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace weir::oracle {

enum class Kind { kBatch, kJobFlow, kJob, kPod };

const char* KindName(Kind kind);

// One version of one object, as a watch delivered it.
struct Version {
  int number = 0;  // position in the whole history, from 1, in resourceVersion order
  int64_t resource_version = 0;
  std::string type;  // ADDED, MODIFIED or DELETED
  Kind kind = Kind::kBatch;
  nlohmann::json object;
};

struct Violation {
  int invariant = 0;  // 1-5, docs/design.md §7
  std::string what;
  std::vector<std::string> uids;  // the objects whose history explains it
};

// Counts that describe a run (how much the oracle saw), for test output.
struct Stats {
  int owners = 0;
  int jobs = 0;
  int pods = 0;
  // Jobs authorized by an owner version that had not asked to stop but
  // created after a later version that did was stored: the window the live
  // GET before a create cannot close. Each must have been deleted, and its
  // owner (or step) must have ended Canceled.
  int jobs_in_cancel_window = 0;
  // Pods first seen after their Job was deleted: the job controller, working
  // from a stale view, created them (an upstream race; seen under load).
  // Each must be gone by the end; invariant 5 does not count them otherwise.
  int pods_for_deleted_jobs = 0;
  // Batches, JobFlows and flow steps that recorded Failed at some version.
  int units_failed = 0;
};

// What a judgement of the history found.
struct Verdict {
  std::vector<Violation> violations;  // empty if every invariant held
  Stats stats;
};

class History {
 public:
  // Adds one watch event {"type": ..., "object": ...}. BOOKMARK events are
  // ignored; ERROR events and malformed ones are errors (the watch lost
  // something).
  absl::Status Add(Kind kind, const nlohmann::json& event);
  // Adds a violation found outside the history (invariant 4).
  void AddViolation(Violation violation) { extra_.push_back(std::move(violation)); }

  // Judges the history so far, once, for both its violations and its stats.
  Verdict Judge() const;
  // Judge()'s violations (an empty list means every invariant held), and its
  // stats.
  std::vector<Violation> Check() const;
  Stats Summary() const;
  // The violation with the numbered history of the objects it names.
  std::string Describe(const Violation& violation) const;
  // Every violation described, numbered; "" when there is none.
  std::string Report(const std::vector<Violation>& violations) const;

 private:
  // The versions in resourceVersion order, numbered: versions_ itself if
  // they were added in that order, else `scratch`, filled with a sorted copy.
  const std::vector<Version>& Ordered(std::vector<Version>& scratch) const;

  std::vector<Version> versions_;  // as added, numbered so
  bool in_order_ = true;           // versions_ is in resourceVersion order
  std::vector<Violation> extra_;
};

}  // namespace weir::oracle
