// The state of DeviceCases (cuda_engine.h), shared by its residency code and its write pass.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "device_memory.cuh"
#include "keys.cuh"
#include "maskeval/cuda_engine.h"

namespace maskeval::cuda {

struct DeviceCases::Impl {
  std::vector<CaseView> views;
  std::vector<detail::CaseDesc> desc;
  std::vector<detail::Chunk> dense_chunks, packed_chunks;
  int64_t mask_bytes = 0;
  int64_t hist_bins = 0, label_slots = 0, key_slots = 0;
  int multiprocessors = 1;
  cudaStream_t stream = nullptr;
  detail::DeviceArray<uint8_t> data;
  detail::DeviceArray<detail::CaseDesc> d_desc;
  detail::DeviceArray<detail::Chunk> d_dense_chunks, d_packed_chunks;
  detail::DeviceArray<unsigned long long> hist, unanimous, keys, key_counts, unique_keys,
      unique_counts;
  detail::Event start, stop;
  float kernel_ms = 0;

  // Where each case's distinct mixed keys lie in unique_keys and unique_counts after a count.
  struct MixedKeys {
    std::vector<size_t> at, n;
    size_t total = 0;
  };

  Impl();
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Places case i's raters, counters and chunks in the buffers (not yet allocated); appends its
  // rater arrays and their offsets in `data` to the pieces to upload.
  void place(size_t i, std::vector<std::pair<const void*, int64_t>>& pieces,
             std::vector<int64_t>& offsets, int64_t& data_bytes);
  // Host -> device through two pinned staging buffers.
  void upload(const std::vector<std::pair<const void*, int64_t>>& pieces,
              const std::vector<int64_t>& offsets);
  // The counting kernels and the sort of the mixed keys of every case, timed into kernel_ms.
  MixedKeys count_on_device();
  // The write pass of case i on the device; with copy_back, the columns go to their `out`.
  // Returns the kernel's time in ms.
  float write(size_t i, const TupleHistogram& h, const WriteTable& table, bool copy_back);
};

}  // namespace maskeval::cuda
