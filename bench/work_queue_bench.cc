// Measures WorkQueue throughput on one thread: one "cycle" is Add + Get +
// Done of a key. Prints ops/s (cycles per second) over several repeats as
// median, min and max, for a few shapes:
//   depth1        Add, Get, Done of one key at a time (queue never deeper than 1)
//   batch1000     1000 distinct keys added, then all taken and done
//   dup4          every key added 4 times before it is taken (coalesced adds)
//   metrics       depth1 with registry-backed queue metrics attached
//
// Usage: work_queue_bench [cycles_per_repeat=1000000] [repeats=7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "runtime/controller.h"
#include "runtime/metrics.h"
#include "runtime/work_queue.h"

namespace {

using weir::runtime::WorkQueue;

std::vector<std::string> MakeKeys(int n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int i = 0; i < n; ++i) keys.push_back("default/batch-" + std::to_string(i));
  return keys;
}

// Runs `cycles` cycles of `shape` on `q`; returns the number of cycles done.
using Shape = std::function<long(WorkQueue&, const std::vector<std::string>&, long)>;

long Depth1(WorkQueue& q, const std::vector<std::string>& keys, long cycles) {
  const size_t n = keys.size();
  for (long i = 0; i < cycles; ++i) {
    const std::string& k = keys[static_cast<size_t>(i) % n];
    q.Add(k);
    WorkQueue::Item item = q.Get();
    q.Done(item.key);
  }
  return cycles;
}

long Batch(WorkQueue& q, const std::vector<std::string>& keys, long cycles) {
  long done = 0;
  while (done < cycles) {
    for (const std::string& k : keys) q.Add(k);
    for (size_t j = 0; j < keys.size(); ++j) {
      WorkQueue::Item item = q.Get();
      q.Done(item.key);
    }
    done += static_cast<long>(keys.size());
  }
  return done;
}

long Dup4(WorkQueue& q, const std::vector<std::string>& keys, long cycles) {
  const size_t n = keys.size();
  for (long i = 0; i < cycles; ++i) {
    const std::string& k = keys[static_cast<size_t>(i) % n];
    q.Add(k);
    q.Add(k);
    q.Add(k);
    q.Add(k);
    WorkQueue::Item item = q.Get();
    q.Done(item.key);
  }
  return cycles;
}

void Run(const char* name, const Shape& shape, int num_keys, bool with_metrics, long cycles,
         int repeats) {
  const std::vector<std::string> keys = MakeKeys(num_keys);
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    weir::runtime::MetricsRegistry registry;
    std::unique_ptr<weir::runtime::WorkQueueMetrics> metrics;
    weir::runtime::WorkQueueOptions o;
    if (with_metrics) {
      metrics = weir::runtime::NewWorkQueueMetrics(registry, "bench");
      o.metrics = metrics.get();
    }
    WorkQueue q(std::move(o));
    shape(q, keys, 10000);  // warm-up: hash tables and deque at size
    const auto start = std::chrono::steady_clock::now();
    const long done = shape(q, keys, cycles);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(done / secs);
  }
  std::sort(rates.begin(), rates.end());
  std::printf(
      "%-10s keys=%-5d cycles/repeat=%ld repeats=%d  median=%.2fM ops/s  min=%.2fM  "
      "max=%.2fM\n",
      name, num_keys, cycles, repeats, rates[rates.size() / 2] / 1e6, rates.front() / 1e6,
      rates.back() / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  const long cycles = argc > 1 ? std::atol(argv[1]) : 1000000;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 7;
  if (cycles <= 0 || repeats <= 0) {
    std::fprintf(stderr, "usage: %s [cycles_per_repeat] [repeats]\n", argv[0]);
    return 2;
  }
  std::printf("WorkQueue single-thread throughput (one op = Add + Get + Done)\n");
  Run("depth1", Depth1, 1000, false, cycles, repeats);
  Run("batch1000", Batch, 1000, false, cycles, repeats);
  Run("dup4", Dup4, 1000, false, cycles, repeats);
  Run("metrics", Depth1, 1000, true, cycles, repeats);
  return 0;
}
