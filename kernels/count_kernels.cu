// The counting kernels and their launches: one block per chunk of a batch of resident cases.
#include <thrust/iterator/constant_iterator.h>

#include <algorithm>
#include <climits>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cuda/std/functional>
#include <mutex>

#include "count_kernels.cuh"
#include "cuda_check.cuh"
#include "device_memory.cuh"
#include "device_pools.cuh"

namespace maskeval::cuda::detail {

namespace {

// Dense path (R x bits <= 16): each voxel's packed key indexes a histogram, privatised in shared
// memory when it has at most kSharedBins bins. Packed path (<= 64 bits): unanimous voxels are
// counted per label (in shared memory for up to kSharedLabels labels), the keys of the others
// are appended to a per-case list, then sorted and reduced with CUB. In both, the lanes of a
// warp that carry the same key add their votes with one atomic (match_any), and a thread whose
// four voxels agree adds them at once.
__global__ void __launch_bounds__(kThreads)
    count_dense_kernel(const uint8_t* __restrict__ data, const CaseDesc* __restrict__ cases,
                       const Chunk* __restrict__ chunks, unsigned long long* __restrict__ hist) {
  __shared__ unsigned int bins[kSharedBins];
  const Chunk ch = chunks[blockIdx.x];
  const CaseDesc c = cases[ch.case_index];
  const int nbins = 1 << (c.raters * c.bits);
  const bool local = nbins <= kSharedBins;
  if (local)
    for (int i = threadIdx.x; i < nbins; i += kThreads) bins[i] = 0;
  __syncthreads();
  unsigned long long* global_bins = hist + c.hist;
  auto add = [&](uint32_t key, uint32_t n) {
    if (local) {
      atomicAdd(&bins[key], n);
    } else {
      atomicAdd(&global_bins[key], static_cast<unsigned long long>(n));
    }
  };
  for (long long base = ch.begin; base < ch.end; base += 4 * kThreads) {
    const long long v = base + 4 * threadIdx.x;
    const bool any = v < ch.end;
    uint32_t k[4] = {0, 0, 0, 0};
    if (any) dense_keys4(data, c, v, k);
    const bool quad = any && v + 3 < ch.end && k[0] == k[1] && k[1] == k[2] && k[2] == k[3];
    const uint32_t qkey = quad ? k[0] : kNoKey;
    if (warp_uniform(qkey, add)) continue;
    warp_add(qkey, 4, add);
    if (__any_sync(kAll, any && !quad)) {
      for (int j = 0; j < 4; ++j) warp_add(any && !quad && v + j < ch.end ? k[j] : kNoKey, 1, add);
    }
  }
  __syncthreads();
  if (local)
    for (int i = threadIdx.x; i < nbins; i += kThreads)
      if (bins[i] != 0) atomicAdd(&global_bins[i], static_cast<unsigned long long>(bins[i]));
}

// Appends the keys of the warp's mixed voxels to the case's list: one atomic per warp.
__device__ __forceinline__ void append_mixed(bool mixed, unsigned long long key,
                                             unsigned long long* keys, long long first,
                                             unsigned long long* count) {
  const int lane = threadIdx.x & 31;
  const unsigned ballot = __ballot_sync(kAll, mixed);
  if (ballot == 0) return;
  const int leader = __ffs(ballot) - 1;
  unsigned long long slot = 0;
  if (lane == leader) slot = atomicAdd(count, static_cast<unsigned long long>(__popc(ballot)));
  slot = __shfl_sync(kAll, slot, leader);
  if (mixed) keys[first + slot + __popc(ballot & ((1u << lane) - 1u))] = key;
}

__global__ void __launch_bounds__(kThreads)
    count_packed_kernel(const uint8_t* __restrict__ data, const CaseDesc* __restrict__ cases,
                        const Chunk* __restrict__ chunks,
                        unsigned long long* __restrict__ unanimous,
                        unsigned long long* __restrict__ keys,
                        unsigned long long* __restrict__ key_counts) {
  __shared__ unsigned int labels[kSharedLabels];
  const Chunk ch = chunks[blockIdx.x];
  const CaseDesc c = cases[ch.case_index];
  const bool local = c.max_label < kSharedLabels;
  if (local)
    for (int i = threadIdx.x; i <= c.max_label; i += kThreads) labels[i] = 0;
  __syncthreads();
  unsigned long long* global_labels = unanimous + c.unanimous;
  auto add = [&](uint32_t label, uint32_t n) {
    if (local) {
      atomicAdd(&labels[label], n);
    } else {
      atomicAdd(&global_labels[label], static_cast<unsigned long long>(n));
    }
  };
  for (long long base = ch.begin; base < ch.end; base += 4 * kThreads) {
    const long long v = base + 4 * threadIdx.x;
    const bool any = v < ch.end;
    unsigned long long k[4] = {0, 0, 0, 0};
    uint32_t first[4] = {0, 0, 0, 0};
    bool same[4] = {true, true, true, true};
    if (any) packed_keys4(data, c, v, k, first, same);
    const bool quad = any && v + 3 < ch.end && same[0] && same[1] && same[2] && same[3] &&
                      first[0] == first[1] && first[1] == first[2] && first[2] == first[3];
    const uint32_t qlabel = quad ? first[0] : kNoKey;
    if (warp_uniform(qlabel, add)) continue;
    warp_add(qlabel, 4, add);
    if (!__any_sync(kAll, any && !quad)) continue;
    for (int j = 0; j < 4; ++j) {
      const bool valid = any && !quad && v + j < ch.end;
      warp_add(valid && same[j] ? first[j] : kNoKey, 1, add);
      append_mixed(valid && !same[j], k[j], keys, c.keys, &key_counts[ch.case_index]);
    }
  }
  __syncthreads();
  if (local)
    for (int i = threadIdx.x; i <= c.max_label; i += kThreads)
      if (labels[i] != 0) atomicAdd(&global_labels[i], static_cast<unsigned long long>(labels[i]));
}

}  // namespace

void launch_count_dense(const uint8_t* data, const CaseDesc* cases, const Chunk* chunks,
                        size_t n_chunks, unsigned long long* hist, cudaStream_t s) {
  if (n_chunks == 0) return;
  count_dense_kernel<<<static_cast<unsigned>(n_chunks), kThreads, 0, s>>>(data, cases, chunks,
                                                                          hist);
  MASKEVAL_CUDA_CHECK_LAUNCH("count_dense_kernel");
}

void launch_count_packed(const uint8_t* data, const CaseDesc* cases, const Chunk* chunks,
                         size_t n_chunks, unsigned long long* unanimous, unsigned long long* keys,
                         unsigned long long* key_counts, cudaStream_t s) {
  if (n_chunks == 0) return;
  count_packed_kernel<<<static_cast<unsigned>(n_chunks), kThreads, 0, s>>>(
      data, cases, chunks, unanimous, keys, key_counts);
  MASKEVAL_CUDA_CHECK_LAUNCH("count_packed_kernel");
}

namespace {

// The sort's device buffers, shared by every DeviceCases of the process: grown as needed and
// kept for the next case; one sort at a time holds `mutex`.
struct SortPool {
  std::mutex mutex;
  DeviceArray<unsigned long long> alternate;  // the radix sort's second key buffer
  DeviceArray<uint8_t> temp;                  // CUB's temporary storage (sort, then reduce)
  DeviceArray<long long> runs;                // the number of distinct keys
};

SortPool& sort_pool() {
  static SortPool pool;
  return pool;
}

// CUB's temporary storage for sorting n keys on bits [0, key_bits) and reducing them by key;
// the sort and the reduction share it (one after the other on one stream). Launches nothing.
template <class Offset>
size_t cub_temp_bytes(Offset n, int key_bits, cudaStream_t s) {
  cub::DoubleBuffer<unsigned long long> keys(nullptr, nullptr);
  size_t sort_bytes = 0, reduce_bytes = 0;
  MASKEVAL_CUDA_TRY(cub::DeviceRadixSort::SortKeys(nullptr, sort_bytes, keys, n, 0, key_bits, s));
  MASKEVAL_CUDA_TRY(cub::DeviceReduce::ReduceByKey(
      nullptr, reduce_bytes, static_cast<unsigned long long*>(nullptr),
      static_cast<unsigned long long*>(nullptr), thrust::constant_iterator<unsigned long long>(1),
      static_cast<unsigned long long*>(nullptr), static_cast<long long*>(nullptr),
      ::cuda::std::plus<unsigned long long>(), n, s));
  return std::max(sort_bytes, reduce_bytes);
}

// Sorts keys[0, n) (keys or the alternate buffer end up holding them sorted) and reduces them
// into out_keys and out_counts with the pool's buffers, on stream s; returns the number of
// distinct keys (waits for them).
template <class Offset>
size_t sort_and_reduce(SortPool& p, unsigned long long* keys, Offset n, int key_bits,
                       unsigned long long* out_keys, unsigned long long* out_counts,
                       cudaStream_t s) {
  size_t temp_bytes = cub_temp_bytes(n, key_bits, s);
  p.alternate.resize(static_cast<size_t>(n));
  p.temp.resize(std::max<size_t>(temp_bytes, 16));  // never null: CUB would only size it
  p.runs.resize(1);
  cub::DoubleBuffer<unsigned long long> buffers(keys, p.alternate.get());
  MASKEVAL_CUDA_TRY(
      cub::DeviceRadixSort::SortKeys(p.temp.get(), temp_bytes, buffers, n, 0, key_bits, s));
  temp_bytes = p.temp.size();
  MASKEVAL_CUDA_TRY(
      cub::DeviceReduce::ReduceByKey(p.temp.get(), temp_bytes, buffers.Current(), out_keys,
                                     thrust::constant_iterator<unsigned long long>(1), out_counts,
                                     p.runs.get(), ::cuda::std::plus<unsigned long long>(), n, s));
  long long runs = 0;
  MASKEVAL_CUDA_TRY(cudaMemcpyAsync(&runs, p.runs.get(), sizeof runs, cudaMemcpyDeviceToHost, s));
  MASKEVAL_CUDA_TRY(cudaStreamSynchronize(s));
  return static_cast<size_t>(runs);
}

}  // namespace

int64_t sort_pool_bytes() {
  SortPool& p = sort_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.alternate.bytes_held() + p.temp.bytes_held() + p.runs.bytes_held();
}

void release_sort_pool() {
  SortPool& p = sort_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.alternate.release();
  p.temp.release();
  p.runs.release();
}

int64_t sort_scratch_bytes(size_t n, int key_bits) {
  if (n == 0) return 0;
  const size_t temp = n <= static_cast<size_t>(INT_MAX)
                          ? cub_temp_bytes(static_cast<int>(n), key_bits, nullptr)
                          : cub_temp_bytes(static_cast<long long>(n), key_bits, nullptr);
  return static_cast<int64_t>(8 * n + temp + 8);
}

size_t sort_and_count_keys(unsigned long long* keys, size_t n, unsigned long long* out_keys,
                           unsigned long long* out_counts, cudaStream_t s, int key_bits) {
  if (n == 0) return 0;
  if (key_bits < 1 || key_bits > 64) key_bits = 64;
  SortPool& p = sort_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  try {
    if (n <= static_cast<size_t>(INT_MAX))
      return sort_and_reduce(p, keys, static_cast<int>(n), key_bits, out_keys, out_counts, s);
    return sort_and_reduce(p, keys, static_cast<long long>(n), key_bits, out_keys, out_counts, s);
  } catch (...) {
    cudaStreamSynchronize(s);  // nothing still uses the pool's buffers
    throw;
  }
}

}  // namespace maskeval::cuda::detail
