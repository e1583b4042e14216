#include "runtime/release_memory.h"

#include <mutex>  // also defines __GLIBC__ with glibc

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace weir::runtime {

void ReleaseFreedMemory() {
#ifdef __GLIBC__
  static std::once_flag first;
  bool trimmed = false;
  std::call_once(first, [&trimmed] {
    malloc_trim(0);
    trimmed = true;
  });
  if (!trimmed) malloc_trim(0);
#endif
}

}  // namespace weir::runtime
