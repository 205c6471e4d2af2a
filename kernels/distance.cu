// Exact squared Euclidean distance transforms on the device, equal bit for bit to the CPU
// engine's squared_edt: the same line transform (engine/edt_line.h), compiled without fused
// multiply-add, on the same lines. The first axis one warp per row (edt_first_axis.cuh), the
// later axes one thread per line, neighbouring threads on neighbouring lines, so that every
// pass reads and writes whole cache lines. The device buffers are kept from call to call.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "cuda_check.cuh"
#include "device_memory.cuh"
#include "device_pools.cuh"
#include "edt_first_axis.cuh"
#include "engine/edt_line.h"
#include "maskeval/cuda_engine.h"

namespace maskeval::cuda {

using detail::DeviceArray;
using detail::elapsed_ms;
using detail::Event;
using detail::kFullWarp;
using detail::kWarp;

namespace {

constexpr int kThreads = 128;  // a multiple of kWarp: every warp lies in one block
static_assert(kThreads % kWarp == 0, "the first-axis kernel takes whole warps");

// Axis 0 from the features, one warp per row (edt_first_axis.cuh): first_axis_row's forward
// sweep (each element's last feature, kept in d2 as a double), then its backward sweep. Every
// lane of a warp takes the same row and the same trips, so the ballots see the whole warp; a
// lane reads back only the elements it wrote itself.
__global__ void first_axis_kernel(const uint8_t* feature, double* d2, int64_t rows, int64_t len,
                                  double step) {
  const int64_t row = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / kWarp;
  if (row >= rows) return;  // the whole warp
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  const uint8_t* f = feature + row * len;
  double* d = d2 + row * len;
  int64_t last = -1;  // the last feature before the chunk
  for (int64_t c0 = 0; c0 < len; c0 += kWarp) {
    const int64_t q = c0 + lane;
    const unsigned ballot = __ballot_sync(kFullWarp, q < len && f[q] != 0);
    if (q < len) d[q] = static_cast<double>(detail::last_feature_upto(ballot, lane, c0, last));
    last = detail::last_feature_upto(ballot, kWarp - 1, c0, last);
  }
  if (last < 0) {  // a row without a feature
    for (int64_t q = lane; q < len; q += kWarp) d[q] = static_cast<double>(INFINITY);
    return;
  }
  int64_t next = -1;  // the first feature after the chunk
  for (int64_t c0 = (len - 1) / kWarp * kWarp; c0 >= 0; c0 -= kWarp) {
    const int64_t q = c0 + lane;
    const unsigned ballot = __ballot_sync(kFullWarp, q < len && f[q] != 0);
    if (q < len)
      d[q] = detail::first_axis_value(q, static_cast<int64_t>(d[q]),
                                      detail::first_feature_from(ballot, lane, c0, next), step);
    next = detail::first_feature_from(ballot, 0, c0, next);
  }
}

// Lines of one axis, in place: thread t takes the line starting at lines[t]; its work arrays
// interleave with the other threads' (element stride `count`).
__global__ void axis_kernel(double* d2, const int64_t* lines, int64_t count, int64_t len,
                            int64_t stride, double step, double* work) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= count) return;
  double* line = d2 + lines[t];
  maskeval::detail::edt_line(line, stride, line, stride, len, step, work + t, count);
}

int blocks(int64_t threads) {
  return static_cast<int>((threads + kThreads - 1) / kThreads);
}

// out[k] = d2[at[k]].
__global__ void gather_kernel(const double* d2, const int64_t* at, int64_t count, double* out) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k < count) out[k] = d2[at[k]];
}

// The transforms' device buffers, grown as needed and kept for the next call; one call at a
// time holds `mutex`. All work runs on the default stream, in order.
struct EdtPool {
  std::mutex mutex;
  DeviceArray<uint8_t> feature;
  DeviceArray<double> d2, work, out;
  DeviceArray<int64_t> lines[3], at;  // lines[axis] for axes 1 and 2

  int64_t bytes() const {
    int64_t b = feature.bytes_held() + d2.bytes_held() + work.bytes_held() + out.bytes_held() +
                at.bytes_held();
    for (const auto& l : lines) b += l.bytes_held();
    return b;
  }
  void release() {
    cudaStreamSynchronize(nullptr);  // nothing of a failed call still uses them
    feature.release();
    d2.release();
    work.release();
    out.release();
    at.release();
    for (auto& l : lines) l.release();
  }
};

EdtPool& edt_pool() {
  static EdtPool pool;
  return pool;
}

// The lines of each later axis that squared_edt computes: those reaching a voxel marked in
// `needed` (all when null) or listed in `at`.
template <class Needed>
std::vector<std::vector<int64_t>> lines_needed(const Grid& g, const Needed& needed) {
  std::vector<std::vector<int64_t>> lines(3);
  for (int axis = 1; axis < g.ndim; ++axis)
    if (g.shape[axis] >= 2) lines[axis] = maskeval::detail::needed_lines(g, axis, needed);
  return lines;
}

// Work space of the later axes (5 doubles per element of a line) for as many lines at once as
// the buffer already holds or a quarter of the free memory holds (at most all, at least the
// longest line).
void size_work(const Grid& g, const std::vector<std::vector<int64_t>>& lines,
               DeviceArray<double>& work) {
  int64_t widest = 0, longest = 1;
  for (int axis = 1; axis < g.ndim; ++axis) {
    widest = std::max(widest, static_cast<int64_t>(lines[axis].size()) * g.shape[axis]);
    longest = std::max(longest, g.shape[axis]);
  }
  const int64_t all = 5 * std::max<int64_t>(1, widest);
  if (static_cast<int64_t>(work.capacity()) >= all) {
    work.resize(all);
    return;
  }
  size_t free_bytes = 0;
  if (!free_device_memory(&free_bytes))
    throw CudaError("distance transform: the free device memory could not be read");
  // The memory the buffer holds now is free again when it grows.
  const int64_t free_now = static_cast<int64_t>(free_bytes) + work.bytes_held();
  const int64_t budget = std::max<int64_t>(longest, free_now / 4 / 40);
  work.resize(5 * std::max<int64_t>(1, std::min(widest, budget)));
}

// The transform of `feature` into p.d2 on the given lines, kernels timed from `start` to
// `stop`. Every buffer is sized before the first kernel.
void transform(const uint8_t* feature, const Grid& g,
               const std::vector<std::vector<int64_t>>& lines, EdtPool& p, const Event& start,
               const Event& stop) {
  const int64_t n = g.voxels();
  p.feature.resize(n);
  p.d2.resize(n);
  size_work(g, lines, p.work);
  for (int axis = 1; axis < g.ndim; ++axis) p.lines[axis].upload(lines[axis], nullptr);
  MASKEVAL_CUDA_TRY(cudaMemcpy(p.feature.get(), feature, n, cudaMemcpyHostToDevice));
  MASKEVAL_CUDA_TRY(cudaEventRecord(start.get()));
  const int64_t rows = n / g.shape[0];
  first_axis_kernel<<<blocks(rows * kWarp), kThreads>>>(p.feature.get(), p.d2.get(), rows,
                                                        g.shape[0], g.spacing[0]);
  MASKEVAL_CUDA_CHECK_LAUNCH("first_axis_kernel");
  const int64_t stride[3] = {1, g.shape[0], g.shape[0] * g.shape[1]};
  for (int axis = 1; axis < g.ndim; ++axis) {
    const int64_t len = g.shape[axis];
    if (len < 2 || lines[axis].empty()) continue;
    const int64_t per_launch =
        std::max<int64_t>(1, static_cast<int64_t>(p.work.size()) / (5 * len));
    const int64_t total = static_cast<int64_t>(lines[axis].size());
    for (int64_t begin = 0; begin < total; begin += per_launch) {
      const int64_t count = std::min(per_launch, total - begin);
      axis_kernel<<<blocks(count), kThreads>>>(p.d2.get(), p.lines[axis].get() + begin, count, len,
                                               stride[axis], g.spacing[axis], p.work.get());
      MASKEVAL_CUDA_CHECK_LAUNCH("axis_kernel");
    }
  }
  MASKEVAL_CUDA_TRY(cudaEventRecord(stop.get()));
}

}  // namespace

namespace detail {

int64_t edt_pool_bytes() {
  EdtPool& p = edt_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.bytes();
}

void release_edt_pool() {
  EdtPool& p = edt_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.release();
}

}  // namespace detail

void squared_edt(const uint8_t* feature, const Grid& g, double* d2, const uint8_t* needed,
                 float* kernel_ms) {
  const int64_t n = g.voxels();
  if (n == 0) return;
  const auto lines = lines_needed(g, needed);
  EdtPool& p = edt_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  Event start, stop;
  transform(feature, g, lines, p, start, stop);
  const float ms = elapsed_ms(start, stop);
  if (kernel_ms) *kernel_ms = ms;
  MASKEVAL_CUDA_TRY(cudaMemcpy(d2, p.d2.get(), n * sizeof(double), cudaMemcpyDeviceToHost));
}

void squared_edt_at(const uint8_t* feature, const Grid& g, const std::vector<int64_t>& at,
                    double* out, int /*threads*/) {
  if (g.voxels() == 0 || at.empty()) return;
  const auto lines = lines_needed(g, at);
  EdtPool& p = edt_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.at.upload(at, nullptr);
  p.out.resize(at.size());
  Event start, stop;
  transform(feature, g, lines, p, start, stop);
  const int64_t count = static_cast<int64_t>(at.size());
  gather_kernel<<<blocks(count), kThreads>>>(p.d2.get(), p.at.get(), count, p.out.get());
  MASKEVAL_CUDA_CHECK_LAUNCH("gather_kernel");
  MASKEVAL_CUDA_TRY(
      cudaMemcpy(out, p.out.get(), at.size() * sizeof(double), cudaMemcpyDeviceToHost));
}

}  // namespace maskeval::cuda
