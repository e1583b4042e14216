#include "runtime/release_memory.h"

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

// The race is in glibc's lazy set-up, which happens once per process, and
// only where glibc's malloc is not the allocator: this test finds it under
// ASan and TSan (`make tsan-unit`), where calling malloc_trim directly
// crashed about 1 process in 100; a plain build sets glibc's malloc up on
// the first allocation and cannot fail it. So each try is a fresh process
// (a death test's fork, before this process ever trims), with 8 threads
// making their first call at once, as the informers' reflectors do when their
// first lists end together.
TEST(ReleaseFreedMemoryTest, FirstCallsFromManyThreadsAtOnce) {
  constexpr int kTries = 400;
  for (int i = 0; i < kTries; ++i) {
    EXPECT_EXIT(
        {
          std::atomic<bool> go{false};
          std::vector<std::thread> threads;
          for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&go] {
              while (!go.load()) {
              }
              ReleaseFreedMemory();
            });
          }
          go = true;
          for (std::thread& t : threads) t.join();
          std::_Exit(0);
        },
        testing::ExitedWithCode(0), "")
        << "try " << i;
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace weir::runtime
