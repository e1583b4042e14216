// ParallelFor runs a loop's independent iterations on a few threads at once,
// for calls that mostly wait on the network (a fan-out's Job creates).
//
// Thread-safety: `fn` is called from up to `max_parallel` threads at once
// (the caller's among them) and must be safe for that; each index is run
// exactly once. ParallelFor returns when every call has returned.
#pragma once

#include <cstddef>

#include "absl/functional/function_ref.h"

namespace weir {

// Calls fn(0) ... fn(n - 1), at most `max_parallel` (at least 1) at a time.
// With one call or max_parallel 1 it starts no thread.
void ParallelFor(size_t n, size_t max_parallel, absl::FunctionRef<void(size_t)> fn);

}  // namespace weir
