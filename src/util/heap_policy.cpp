// Keeping freed buffers for the next case: glibc's malloc told not to map and unmap them.
#include "util/heap_policy.h"

#include <cstdlib>  // defines __GLIBC__ where it is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace maskeval {

void keep_freed_buffers() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);              // large blocks from the heap, not a mapping of their own
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // freed memory at the heap's top is kept (up to 1 GiB)
#endif
}

}  // namespace maskeval
