// Eventually: the one way e2e tests wait for something to become true.
//
// The probe answers true (done), false (not yet) or an error. An error never
// counts as "not yet": it fails the test at once, and so does a probe that
// recorded a gtest failure of its own (a fixture helper whose kubectl call
// failed), so a wait never passes or times out on a broken read.
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace weir::e2e {

// Calls `probe` every `interval` until it returns true (then returns true),
// `timeout` has passed (then false), or it fails (then adds the failure to
// the current test and returns false).
bool Eventually(const std::function<absl::StatusOr<bool>()>& probe, absl::Duration timeout,
                absl::Duration interval = absl::Milliseconds(200));

}  // namespace weir::e2e
