// ReleaseFreedMemory gives the memory freed into glibc's malloc arenas back
// to the system (malloc_trim(0)), e.g. after a large list has been decoded
// and dropped; without glibc it does nothing.
//
// Thread-safe. The first call is made by one thread alone: where glibc's
// malloc is not the allocator (ASan and TSan replace it), glibc sets its
// malloc up lazily on that first call, and two threads doing so at once
// crash inside glibc (a SEGV reading address 0x8, or "malloc assertion
// failure in __malloc_arena_thread_freeres" when one of them exits).
#pragma once

namespace weir::runtime {

void ReleaseFreedMemory();

}  // namespace weir::runtime
