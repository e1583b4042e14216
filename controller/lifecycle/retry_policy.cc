#include "lifecycle/retry_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace weir::lifecycle {

namespace internal {

absl::Status Validate(const RetrySpec& spec) {
  if (spec.limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry.limit must not be negative, got ", spec.limit));
  }
  if (spec.backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retry.backoffSeconds must not be negative, got ", absl::FormatDuration(spec.backoff)));
  }
  if (spec.on_oom.has_value()) {
    const double f = spec.on_oom->memory_factor;
    if (!std::isfinite(f) || f < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("retry.onOOM.memoryFactor must be a number >= 1, got ", f));
    }
    if (spec.on_oom->max_memory.has_value() && spec.on_oom->max_memory->Sign() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retry.onOOM.maxMemory must not be negative, got ", spec.on_oom->max_memory->ToString()));
    }
  }
  return absl::OkStatus();
}

std::string Ordinal(size_t n) { return absl::StrCat("attempt ", n); }

}  // namespace internal

absl::Duration BackoffBefore(const RetrySpec& spec, int n) {
  if (n < 1 || spec.backoff <= absl::ZeroDuration()) return absl::ZeroDuration();
  absl::Duration d = std::min(spec.backoff, kMaxBackoff);
  for (int i = 1; i < n && d < kMaxBackoff; ++i) d *= 2;
  return std::min(d, kMaxBackoff);
}

absl::StatusOr<RetryDecision> DecideRetry(const RetrySpec& spec,
                                          absl::Span<const Outcome> attempts) {
  if (absl::Status s = internal::Validate(spec); !s.ok()) return s;
  if (attempts.empty()) return absl::InvalidArgumentError("no attempts to decide on");
  const Outcome& last = attempts.back();
  const size_t n = attempts.size();
  if (!last.ended()) {
    return absl::InvalidArgumentError(
        absl::StrCat(internal::Ordinal(n), " has not ended (it is ", PhaseName(last.phase), ")"));
  }

  RetryDecision d;
  for (const Outcome& a : attempts) {
    if (a.counts_against_limit) ++d.counted;
    if (a.ended() && a.retryable && !a.counts_against_limit) ++d.disruptions;
  }
  const std::string what =
      absl::StrCat(internal::Ordinal(n), " ended ", PhaseName(last.phase),
                   last.reason.empty() ? "" : absl::StrCat(" (", last.reason, ")"));
  const auto retry = [&](std::string why) {
    d.retry = true;
    d.backoff = BackoffBefore(spec, static_cast<int>(n));
    d.message = absl::StrCat(what, "; retrying in ", absl::FormatDuration(d.backoff), ": ", why);
    return d;
  };
  const auto stop = [&](std::string why) {
    d.retry = false;
    d.message = absl::StrCat(what, "; no retry: ", why);
    return d;
  };

  if (last.phase == Phase::kSucceeded) {
    d.message = absl::StrCat(what);
    return d;
  }
  if (last.phase == Phase::kCanceled) return stop("canceled attempts are not retried");
  if (!last.retryable) return stop(absl::StrCat("another attempt would end the same way"));

  if (!last.counts_against_limit) {
    // A disruption.
    if (!spec.on_reasons.empty() && std::find(spec.on_reasons.begin(), spec.on_reasons.end(),
                                              last.reason) == spec.on_reasons.end()) {
      return stop(absl::StrCat(last.reason, " is not in retry.onReasons [",
                               absl::StrJoin(spec.on_reasons, ", "), "]"));
    }
    if (d.disruptions > kMaxDisruptionRetries) {
      return stop(absl::StrCat(d.disruptions,
                               " attempts ended in evictions, preemptions or lost nodes; "
                               "giving up after ",
                               kMaxDisruptionRetries, " retries of that kind"));
    }
    return retry(absl::StrCat(last.reason, " does not count against retry.limit (", d.disruptions,
                              " of at most ", kMaxDisruptionRetries, " such retries)"));
  }

  const bool within_limit = d.counted <= spec.limit;
  const std::string limit_used =
      absl::StrCat("retry.limit of ", spec.limit, " is used up (", d.counted,
                   d.counted == 1 ? " attempt" : " attempts", " failed)");
  const std::string budget =
      absl::StrCat("retry ", d.counted, " of ", spec.limit, " allowed by retry.limit");

  if (last.reason == reason::kOOMKilled && spec.on_oom.has_value()) {
    const OOMRetrySpec& oom = *spec.on_oom;
    if (!last.memory_limit.has_value()) {
      if (!within_limit) return stop(limit_used);
      return retry(absl::StrCat(budget, "; container \"", last.container,
                                "\" has no memory limit for retry.onOOM to raise"));
    }
    const api::Quantity& current = *last.memory_limit;
    if (oom.max_memory.has_value() && current >= *oom.max_memory) {
      return stop(absl::StrCat("container \"", last.container, "\" already had ",
                               current.ToString(), ", the retry.onOOM.maxMemory of ",
                               oom.max_memory->ToString(),
                               ", so another attempt would run out of memory again; raise "
                               "maxMemory or make the job use less memory"));
    }
    absl::StatusOr<api::Quantity> next =
        api::ScaleMemory(current, oom.memory_factor, oom.max_memory);
    if (!next.ok() || *next <= current) {
      // Cannot grow (factor 1, or too large to represent): a plain retry.
      if (!within_limit) return stop(limit_used);
      return retry(absl::StrCat(budget, "; memory limit stays ", current.ToString()));
    }
    if (!within_limit && !oom.max_memory.has_value()) return stop(limit_used);
    d.container = last.container;
    d.memory_limit = *next;
    if (last.memory_request.has_value() && last.memory_request->Sign() >= 0) {
      absl::StatusOr<api::Quantity> request =
          api::ScaleMemory(*last.memory_request, oom.memory_factor, *next);
      d.memory_request = request.ok() ? *request : *next;
    }
    std::string why =
        absl::StrCat("retry.onOOM raises the memory limit of container \"", last.container,
                     "\" from ", current.ToString(), " to ", next->ToString());
    if (d.memory_request.has_value()) {
      absl::StrAppend(&why, " (request ", last.memory_request->ToString(), " to ",
                      d.memory_request->ToString(), ")");
    }
    if (oom.max_memory.has_value()) {
      absl::StrAppend(&why, ", at most ", oom.max_memory->ToString());
    }
    return retry(why);
  }

  if (!within_limit) return stop(limit_used);
  return retry(budget);
}

}  // namespace weir::lifecycle
