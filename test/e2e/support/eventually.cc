#include "test/e2e/support/eventually.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace weir::e2e {
namespace {

// Failures recorded so far in the running test (0 outside a test).
int FailuresSoFar() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test == nullptr) return 0;
  const ::testing::TestResult* result = test->result();
  int failures = 0;
  for (int i = 0; i < result->total_part_count(); ++i) {
    failures += result->GetTestPartResult(i).failed();
  }
  return failures;
}

}  // namespace

bool Eventually(const std::function<absl::StatusOr<bool>()>& probe, absl::Duration timeout,
                absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int failures_before = FailuresSoFar();
    absl::StatusOr<bool> done = probe();
    if (!done.ok()) {
      ADD_FAILURE() << "Eventually: the probe failed: " << done.status();
      return false;
    }
    if (FailuresSoFar() > failures_before) return false;  // the probe said why
    if (*done) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);
  }
}

}  // namespace weir::e2e
