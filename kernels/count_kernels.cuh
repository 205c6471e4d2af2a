// Launches of the counting kernels and of the sort of mixed keys, for the residency code.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "keys.cuh"

namespace maskeval::cuda::detail {

// Dense cases: hist[c.hist + key] += the voxels of the chunks that carry key.
void launch_count_dense(const uint8_t* data, const CaseDesc* cases, const Chunk* chunks,
                        size_t n_chunks, unsigned long long* hist, cudaStream_t s);

// Packed cases: unanimous[c.unanimous + label] += the chunks' voxels on which every rater gives
// label; the keys of the other voxels are appended to keys[c.keys ...], key_counts[case] of
// them.
void launch_count_packed(const uint8_t* data, const CaseDesc* cases, const Chunk* chunks,
                         size_t n_chunks, unsigned long long* unanimous, unsigned long long* keys,
                         unsigned long long* key_counts, cudaStream_t s);

// Writes each distinct key of keys[0, n) once, ascending, with how many times it occurs; returns
// the number of distinct keys. The keys use bits [0, key_bits) (raters x bits of the case; 64
// when unsure) and are left in some order. CUB's radix sort and reduce-by-key on stream s, with
// the process's sort pool (device_pools.cuh) for the second key buffer and the temporary
// storage: nothing is allocated once the pool is large enough.
size_t sort_and_count_keys(unsigned long long* keys, size_t n, unsigned long long* out_keys,
                           unsigned long long* out_counts, cudaStream_t s, int key_bits = 64);

// Device bytes sort_and_count_keys takes from the pool for n keys of key_bits bits (the second
// key buffer, CUB's temporary storage, the run count). Launches nothing.
int64_t sort_scratch_bytes(size_t n, int key_bits);

}  // namespace maskeval::cuda::detail
