// The C allocator's policy (see allocator.hpp).
#include "coordexp/util/allocator.hpp"

#include <cstdlib>  // defines __GLIBC__ where the C library is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace coordexp {

bool keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // Large blocks from the heap (a thread's arena falls back to the main heap when its own cannot grow), and
  // no trimming of the heap's top: both settings are what MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...
  // would set from the environment.
  const bool mmap_off = mallopt(M_MMAP_MAX, 0) == 1;
  // (-1 disables trimming, mallopt(3); the largest positive value, 2 GiB, still lets a model whose freed
  // step buffers exceed it give them back and fault them in again the next step)
  const bool no_trim = mallopt(M_TRIM_THRESHOLD, -1) == 1 && mallopt(M_TOP_PAD, 64 << 20) == 1;
  return mmap_off && no_trim;
#else
  return false;
#endif
}

}  // namespace coordexp
