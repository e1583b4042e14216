#include "base/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace weir {

void ParallelFor(size_t n, size_t max_parallel, absl::FunctionRef<void(size_t)> fn) {
  const size_t threads = std::min(n, std::max<size_t>(max_parallel, 1));
  std::atomic<size_t> next{0};
  auto drain = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads > 0 ? threads - 1 : 0);
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(drain);
  drain();
  for (std::thread& t : helpers) t.join();
}

}  // namespace weir
