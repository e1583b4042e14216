#include "base/thread_pool.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace weir {
namespace {

// One ParallelFor's shared state. Helpers hold it by shared_ptr: one that
// starts after the loop is done finds no index left and never calls `fn`,
// whose target lives on the caller's stack.
struct Loop {
  Loop(size_t n, absl::FunctionRef<void(size_t)> fn) : n(n), fn(fn) {}
  absl::Mutex mu;
  const size_t n;
  size_t next ABSL_GUARDED_BY(mu) = 0;
  int helping ABSL_GUARDED_BY(mu) = 0;  // helpers inside Work()
  absl::FunctionRef<void(size_t)> fn;

  void Work() {
    for (;;) {
      size_t i;
      {
        absl::MutexLock l(&mu);
        if (next >= n) return;
        i = next++;
      }
      fn(i);
    }
  }
};

}  // namespace

ThreadPool::ThreadPool(size_t threads) {
  threads_.reserve(threads);
  for (size_t t = 0; t < threads; ++t) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return p->stopping_ || !p->tasks_.empty();
          },
          this));
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void ThreadPool::ParallelFor(size_t n, size_t max_parallel, absl::FunctionRef<void(size_t)> fn) {
  auto loop = std::make_shared<Loop>(n, fn);
  const size_t helpers = std::min({n, std::max<size_t>(max_parallel, 1), threads_.size() + 1});
  if (helpers > 1) {
    absl::MutexLock l(&mu_);
    for (size_t h = 1; h < helpers; ++h) {
      tasks_.push_back([loop] {
        {
          absl::MutexLock l(&loop->mu);
          if (loop->next >= loop->n) return;
          ++loop->helping;
        }
        loop->Work();
        absl::MutexLock l(&loop->mu);
        --loop->helping;
      });
    }
  }
  loop->Work();
  absl::MutexLock l(&loop->mu);
  loop->mu.Await(absl::Condition(
      +[](Loop* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->helping == 0; }, loop.get()));
}

}  // namespace weir
