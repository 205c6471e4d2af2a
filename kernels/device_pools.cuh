// The process-wide device buffers that the passes reuse from case to case: their size, release.
#pragma once

#include <cstdint>

// Host-only declarations (no CUDA types), so that the engine's host code may include this.
namespace maskeval::cuda::detail {

// Each pass keeps its device buffers between calls (grow-only, one call at a time under the
// pool's own mutex), so that a hot path allocates nothing once they are large enough:
// distance.cu: the EDT's features, distances, line lists, work space and gathered values;
// write_pass.cu: the write pass's lookup tables and outputs;
// count_kernels.cu: the sort's alternate key buffer, CUB's temporary storage, the run count.
// *_pool_bytes: the device bytes a pool holds now; release_*_pool: frees them (waits for a
// call in progress), the next call allocates again.
int64_t edt_pool_bytes();
void release_edt_pool();
int64_t write_pool_bytes();
void release_write_pool();
int64_t sort_pool_bytes();
void release_sort_pool();

// The device bytes all pools hold, e.g. for the memory budget.
inline int64_t pooled_device_bytes() {
  return edt_pool_bytes() + write_pool_bytes() + sort_pool_bytes();
}

// Frees every pool (e.g. before retrying an allocation that failed).
inline void release_device_pools() {
  release_edt_pool();
  release_write_pool();
  release_sort_pool();
}

}  // namespace maskeval::cuda::detail
