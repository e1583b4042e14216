// ThreadPool: a fixed set of threads that help callers run the independent
// iterations of a loop at once (ParallelFor), for calls that mostly wait on
// the network (a fan-out's Job creates). Fixed, so a busy controller keeps a
// bounded number of threads (and stacks) instead of starting some per call.
// The caller works through its loop too: a busy pool slows a loop down but
// never stalls it.
//
// Thread-safety: every method may be called from any thread at once. The
// destructor joins the threads once their current calls return; a
// ParallelFor still running then finishes its loop on its caller's thread.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace weir {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(0) ... fn(n - 1), each once, at most `max_parallel` (at least
  // 1) at a time: on the caller's thread and on free pool threads. Returns
  // when every call has returned. With n <= 1 or max_parallel 1 everything
  // runs on the caller's thread.
  void ParallelFor(size_t n, size_t max_parallel, absl::FunctionRef<void(size_t)> fn);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace weir
