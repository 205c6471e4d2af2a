// The CUDA engine: the counting pass and the write pass on the GPU, with results identical to
// the CPU engine's. Host-only header: no CUDA types. In a build without CUDA every function
// throws CudaError("not built").
#pragma once

#include <memory>
#include <stdexcept>
#include <vector>

#include "maskeval/counts.h"
#include "maskeval/distance.h"
#include "maskeval/engine.h"

namespace maskeval {

// A CUDA call failed, or the engine is not usable; the message says which call and why.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace cuda {

// Counts every case; one histogram per case, equal to cpu::count_tuples. Cases are uploaded in
// batches sized from free device memory (many small cases share one launch); a case larger
// than the device is counted in slabs. Tuples wider than 64 bits (e.g. 33 raters with 3 or more
// labels) are counted by the CPU engine.
std::vector<TupleHistogram> count_tuples(const std::vector<CaseView>& cases);

// Cases resident on the device: upload once, then count, then write the per-voxel outputs.
// Cases whose tuples are wider than 64 bits stay on the host and go through the CPU engine
// (their views must outlive this object).
class DeviceCases {
 public:
  explicit DeviceCases(const std::vector<CaseView>& cases);
  ~DeviceCases();
  DeviceCases(const DeviceCases&) = delete;
  DeviceCases& operator=(const DeviceCases&) = delete;

  std::vector<TupleHistogram> count();
  // The write pass of case i (engine.h): every column of `table` for every voxel, looked up by
  // the voxel's histogram entry on the device; equal to cpu::write. `h` is that case's
  // histogram. Cases wider than 64 bits go through cpu::write.
  void write(size_t i, const TupleHistogram& h, const WriteTable& table);
  // The same pass into device buffers only (benchmarks); returns its kernel time, ms.
  float write_on_device(size_t i, const TupleHistogram& h, const WriteTable& table);
  // Device bytes needed to hold a case (masks, padding, work space).
  static int64_t device_bytes(const CaseView& view);
  // Device time of the last count()'s kernels (counting and, for multi-label cases, the sort
  // of the mixed tuples), in milliseconds, from CUDA events.
  float last_kernel_ms() const;
  // Mask bytes resident (raters x voxels x label bytes, without padding).
  int64_t mask_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The exact squared distance transform of maskeval::squared_edt on the device, with identical
// results (the same line transform on the same lines). `kernel_ms`, when given, receives the
// kernels' time from CUDA events (without the transfers).
void squared_edt(const uint8_t* feature, const Grid& grid, double* d2,
                 const uint8_t* needed = nullptr, float* kernel_ms = nullptr);
// maskeval::squared_edt_at on the device (an EdtAtFunction for DistanceOptions::edt): only the
// values read come back. `threads` is unused.
void squared_edt_at(const uint8_t* feature, const Grid& grid, const std::vector<int64_t>& at,
                    double* out, int threads);

// Free device memory in bytes; false when there is no usable device.
bool free_device_memory(size_t* bytes);
// The device memory a batch may take: 70% of what is free (the rest for the runtime, sorting
// and other processes). The one definition, used by batching and slab counting.
inline int64_t memory_budget(size_t free_bytes) {
  return static_cast<int64_t>(free_bytes) / 10 * 7;
}

// Device-to-device copy of `bytes` bytes, repeated; returns bytes read plus written per second.
double copy_ceiling(int64_t bytes);

}  // namespace cuda
}  // namespace maskeval
