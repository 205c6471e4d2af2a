// The CUDA engine: the counting pass and the write pass on the GPU, with results identical to
// the CPU engine's. Host-only header: no CUDA types. In a build without CUDA every function
// throws CudaError("not built").
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
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

// No cap on device memory but the 70% rule (memory_budget).
constexpr int64_t kNoMemoryCap = std::numeric_limits<int64_t>::max();

struct CountOptions {
  // Device bytes the counting may take (--device-memory-limit less what is held elsewhere);
  // the budget is the smaller of this and 70% of free memory.
  int64_t memory_cap = kNoMemoryCap;
  // Host threads for the cases counted on the CPU (wider than 64 bits, or too large for the
  // budget even in slabs).
  int cpu_threads = 1;
};

// Counts every case; one histogram per case, equal to cpu::count_tuples. Cases are uploaded in
// batches within the budget (many small cases share one launch); a case larger than it is
// counted in slabs (slab_voxels). Tuples wider than 64 bits (e.g. 33 raters with 3 or more
// labels), and a case too large even for slabs, are counted by the CPU engine.
std::vector<TupleHistogram> count_tuples(const std::vector<CaseView>& cases,
                                         const CountOptions& options = {});

// The device memory a case takes, by what each path allocates (kernels/device_cases.cu).
struct DeviceFootprint {
  // Held while the case is on the device: its masks (each rater padded to 16 bytes), its
  // descriptor and chunks; dense path, the histogram; packed path, the label counters, the
  // list of mixed keys, the sort's temporary space and the distinct keys with their counts
  // (every voxel mixed, at most). 0 for tuples wider than 64 bits (counted on the host).
  int64_t count = 0;
  // A write pass of the table's columns that have an `out` (only those are asked for): the
  // entry lookup (dense: one entry per key; packed: per label and per mixed row), the columns'
  // tables and one output buffer per column asked for. 0 without a table.
  int64_t write = 0;
};
DeviceFootprint device_footprint(const CaseView& view, const WriteTable* table = nullptr);

// The slab length (voxels, a multiple of 16) with which count_tuples counts a case within
// `budget` bytes: the whole case when it fits; 0 when not even kMinSlabVoxels fit.
constexpr int64_t kMinSlabVoxels = 4096;
int64_t slab_voxels(const CaseView& view, int64_t budget);

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
  // Device bytes needed to hold a case: device_footprint(view).count.
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
// and other processes), and at most `cap` (--device-memory-limit less what the engine holds).
// The one definition, used by batching, slab counting and the engine's checks.
inline int64_t memory_budget(size_t free_bytes, int64_t cap = kNoMemoryCap) {
  return std::max<int64_t>(0, std::min(static_cast<int64_t>(free_bytes) / 10 * 7, cap));
}

// Whether the device is lost: after a fault (cudaErrorIllegalAddress, cudaErrorLaunchFailure,
// ...) every CUDA call of the process fails. False after an error that leaves it usable (an
// allocation that failed). Never throws.
bool device_lost();

// Device memory held until destroyed (tests leave little free memory with it).
class DeviceHold {
 public:
  explicit DeviceHold(int64_t bytes);  // throws CudaError when it cannot be allocated
  ~DeviceHold();
  DeviceHold(const DeviceHold&) = delete;
  DeviceHold& operator=(const DeviceHold&) = delete;

 private:
  void* ptr_ = nullptr;
};

// Device-to-device copy of `bytes` bytes, repeated; returns bytes read plus written per second.
double copy_ceiling(int64_t bytes);

}  // namespace cuda
}  // namespace maskeval
