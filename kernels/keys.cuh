// Device logic per thread and warp: the case layout, 4-voxel loads and keys, warp-wide adds.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace maskeval::cuda::detail {

// Layout on the device: every case's raters lie one after another in one buffer, each rater's
// labels padded to a multiple of 16 bytes (the padding zeroed), so that a thread reads 4
// consecutive voxels of a rater with one aligned load, also past the last voxel.
constexpr int kThreads = 256;
constexpr int64_t kChunkVoxels = 65536;  // multiple of 4 * kThreads
constexpr int kSharedBins = 8192;        // 32 KB of uint32 counters
constexpr int kSharedLabels = 4096;
constexpr uint32_t kNoKey = 0xffffffffu;
constexpr unsigned kAll = 0xffffffffu;

// How a case is counted and looked up (engine/tuple_keys.h's KeyPath, as an int for the device).
enum Path : int { kDense = 0, kPacked = 1, kWide = 2 };

struct CaseDesc {
  long long data;    // byte offset of rater 0 in the mask buffer
  long long stride;  // bytes from one rater to the next (multiple of 16)
  long long voxels;
  int raters, bits, label_bytes, path, max_label;
  long long hist;       // dense: first bin in the histogram buffer
  long long unanimous;  // packed: first label counter
  long long keys;       // packed: first slot in the key buffer (capacity: voxels)
};

// Voxels [begin, end) of one case: the work of one block of the counting kernels.
struct Chunk {
  int case_index;
  long long begin, end;
};

inline int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

// Labels of 4 consecutive voxels of rater r, starting at voxel v (a multiple of 4).
__device__ __forceinline__ void load4(const uint8_t* data, const CaseDesc& c, int r, long long v,
                                      uint32_t out[4]) {
  const uint8_t* p = data + c.data + r * c.stride;
  if (c.label_bytes == 1) {
    const uint32_t w = *reinterpret_cast<const uint32_t*>(p + v);
    for (int j = 0; j < 4; ++j) out[j] = (w >> (8 * j)) & 0xffu;
  } else {
    const uint2 w = *reinterpret_cast<const uint2*>(p + 2 * v);
    out[0] = w.x & 0xffffu;
    out[1] = w.x >> 16;
    out[2] = w.y & 0xffffu;
    out[3] = w.y >> 16;
  }
}

// Packed keys of 4 voxels (dense path: at most 16 bits each).
__device__ __forceinline__ void dense_keys4(const uint8_t* data, const CaseDesc& c, long long v,
                                            uint32_t k[4]) {
  for (int j = 0; j < 4; ++j) k[j] = 0;
  for (int r = 0; r < c.raters; ++r) {
    uint32_t l[4];
    load4(data, c, r, v, l);
    for (int j = 0; j < 4; ++j) k[j] |= l[j] << (r * c.bits);
  }
}

// Packed 64-bit keys of 4 voxels, rater 0's labels, and whether every rater agrees with it.
__device__ __forceinline__ void packed_keys4(const uint8_t* data, const CaseDesc& c, long long v,
                                             unsigned long long k[4], uint32_t first[4],
                                             bool same[4]) {
  load4(data, c, 0, v, first);
  for (int j = 0; j < 4; ++j) {
    k[j] = first[j];
    same[j] = true;
  }
  for (int r = 1; r < c.raters; ++r) {
    uint32_t l[4];
    load4(data, c, r, v, l);
    for (int j = 0; j < 4; ++j) {
      k[j] |= static_cast<unsigned long long>(l[j]) << (r * c.bits);
      same[j] = same[j] && l[j] == first[j];
    }
  }
}

// Adds n to counter `key` for every distinct key of the warp: one atomic per distinct key.
// Every lane of the warp must call it.
template <class Add>
__device__ __forceinline__ void warp_add(uint32_t key, uint32_t n_each, Add&& add) {
  const unsigned peers = __match_any_sync(kAll, key);
  if (key != kNoKey && (threadIdx.x & 31) == __ffs(peers) - 1) add(key, n_each * __popc(peers));
}

// When all 32 lanes hold the same key for their 4 voxels (the common case: inside or outside
// every mask), lane 0 adds all 128 votes; returns whether it did. Every lane must call it.
template <class Add>
__device__ __forceinline__ bool warp_uniform(uint32_t key, Add&& add) {
  const uint32_t lane0 = __shfl_sync(kAll, key, 0);
  if (!__all_sync(kAll, key == lane0 && key != kNoKey)) return false;
  if ((threadIdx.x & 31) == 0) add(key, 4u * 32u);
  return true;
}

}  // namespace maskeval::cuda::detail
