// The retry policy of a Batch or flow step (docs/design.md §2 retry, §4): after an
// attempt ends, decide whether weir makes another one, how long it waits
// first, and, after an OOM kill with retry.onOOM, how much memory the next
// attempt gets. Pure: no clock, no I/O.
//
// Rules:
// - Succeeded, Canceled, and outcomes the classifier marks not retryable
//   (DeadlineExceeded, image-pull and container-config errors, a missing main
//   container) are never retried.
// - Failures of the workload (Error, OOMKilled, a pod the kubelet rejected:
//   the outcomes that count against the limit) are retried while at most
//   `limit` of the attempts so far counted; i.e. `limit` extra attempts.
// - OOMKilled with onOOM: the next attempt's memory limit of the container
//   that was killed is limit x memoryFactor, rounded up to a whole byte and
//   capped at maxMemory; its memory request, if set, is scaled the same way
//   and kept at or below the new limit. If the limit already is at maxMemory,
//   no further OOM retry can help, and none is made (the message says so).
//   While the memory can still grow towards maxMemory, OOM retries go on even
//   when `limit` is used up: the cap bounds them ("retryable if retry.onOOM or
//   limit"). They still count, so they use up `limit` for other failures.
//   Without maxMemory the growth is unbounded, so OOM retries stay within
//   `limit`. A container without a memory limit cannot be raised: its OOM is
//   retried within `limit` like any failure.
// - Disruptions (Evicted, Preempted, NodeLost, PodDeleted) do not count
//   against `limit`. They are retried if onReasons is empty or lists the
//   reason (onReasons only selects among disruptions; listing other reasons
//   has no effect). So that nothing loops for ever, at most
//   kMaxDisruptionRetries attempts ending in a disruption are retried; the
//   next one ends the owner.
// - Backoff before retry n (n = 1 for the first retry) is
//   backoffSeconds x 2^(n-1), capped at kMaxBackoff (10 minutes).
// - Memory for the next attempt is set in the decision only when this
//   decision raises it. Otherwise the next attempt keeps the previous
//   attempt's resources (not the template's), so an earlier raise is kept.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "api/quantity.h"
#include "lifecycle/classifier.h"

namespace weir::lifecycle {

inline constexpr absl::Duration kMaxBackoff = absl::Minutes(10);
inline constexpr int kMaxDisruptionRetries = 10;

// retry.onOOM
struct OOMRetrySpec {
  double memory_factor = 2.0;               // >= 1
  std::optional<api::Quantity> max_memory;  // the cap; none: unbounded
};

// retry of a Batch or flow step.
struct RetrySpec {
  int limit = 0;                               // extra attempts for counted failures, >= 0
  absl::Duration backoff = absl::Seconds(10);  // before the first retry, >= 0
  std::optional<OOMRetrySpec> on_oom;
  std::vector<std::string> on_reasons;  // disruptions worth a retry; empty: all
};

struct RetryDecision {
  bool retry = false;
  // Wait this long after the last attempt ended before creating the next.
  absl::Duration backoff = absl::ZeroDuration();
  // Set when the next attempt's memory is raised (OOM with onOOM): the
  // container to change and its new resources.limits.memory and, if it had
  // one, resources.requests.memory.
  std::string container;
  std::optional<api::Quantity> memory_limit;
  std::optional<api::Quantity> memory_request;
  // Attempts so far that counted against retry.limit, and that ended in a
  // disruption (retryable, not counted).
  int counted = 0;
  int disruptions = 0;
  // Why, for a human: goes into the owner's message and Events.
  std::string message;
};

// Decides after the last of `attempts` (oldest first) has ended.
// InvalidArgument if `attempts` is empty, its last outcome has not ended, or
// `spec` is invalid (negative limit or backoff, memory factor < 1 or not
// finite, negative maxMemory).
absl::StatusOr<RetryDecision> DecideRetry(const RetrySpec& spec,
                                          absl::Span<const Outcome> attempts);

// The backoff before retry `n` (1-based): spec.backoff x 2^(n-1), capped at
// kMaxBackoff; zero for n < 1.
absl::Duration BackoffBefore(const RetrySpec& spec, int n);

}  // namespace weir::lifecycle
