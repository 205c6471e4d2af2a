// Launches of the counting kernels and of the sort of mixed keys, for the residency code.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

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

// Sorts keys[0, n) in place and writes each distinct key once, ascending, with how many times
// it occurs; returns the number of distinct keys.
size_t sort_and_count_keys(unsigned long long* keys, size_t n, unsigned long long* out_keys,
                           unsigned long long* out_counts, cudaStream_t s);

}  // namespace maskeval::cuda::detail
