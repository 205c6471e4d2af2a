// Exact squared Euclidean distance transforms on the device, equal bit for bit to the CPU
// engine's squared_edt: the same line transform (engine/edt_line.h), compiled without fused
// multiply-add, on the same lines. One thread per line; neighbouring threads take neighbouring
// lines, so that the strided axes are read and written in whole cache lines.
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "cuda_check.cuh"
#include "device_memory.cuh"
#include "engine/edt_line.h"
#include "maskeval/cuda_engine.h"

namespace maskeval::cuda {

using detail::DeviceArray;
using detail::elapsed_ms;
using detail::Event;

namespace {

constexpr int kThreads = 128;

// Axis 0 from the features, one thread per row.
__global__ void first_axis_kernel(const uint8_t* feature, double* d2, int64_t rows, int64_t len,
                                  double step) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  maskeval::detail::first_axis_row(feature + row * len, d2 + row * len, len, step);
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

int blocks(int64_t n) {
  return static_cast<int>((n + kThreads - 1) / kThreads);
}

// out[k] = d2[at[k]].
__global__ void gather_kernel(const double* d2, const int64_t* at, int64_t count, double* out) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k < count) out[k] = d2[at[k]];
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

// The transform of `feature` into d_d2 (device) on the given lines, kernels timed from `start`
// to `stop`.
void transform(const uint8_t* feature, const Grid& g,
               const std::vector<std::vector<int64_t>>& lines, DeviceArray<double>& d_d2,
               const Event& start, const Event& stop) {
  const int64_t n = g.voxels();
  DeviceArray<uint8_t> d_feature(n);
  d_d2.resize(n);
  MASKEVAL_CUDA_TRY(cudaMemcpy(d_feature.get(), feature, n, cudaMemcpyHostToDevice));
  // Work space for as many lines at once as fit in a quarter of the free memory (at most all,
  // at least the longest line).
  int64_t widest = 0, longest = 1;
  for (int axis = 1; axis < g.ndim; ++axis) {
    widest = std::max(widest, static_cast<int64_t>(lines[axis].size()) * g.shape[axis]);
    longest = std::max(longest, g.shape[axis]);
  }
  size_t free_bytes = 0, total_bytes = 0;
  MASKEVAL_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const int64_t work_budget = std::max<int64_t>(longest, static_cast<int64_t>(free_bytes / 4 / 40));
  DeviceArray<double> work(5 * std::max<int64_t>(1, std::min(widest, work_budget)));
  DeviceArray<int64_t> d_lines;
  MASKEVAL_CUDA_TRY(cudaEventRecord(start.get()));
  const int64_t rows = n / g.shape[0];
  first_axis_kernel<<<blocks(rows), kThreads>>>(d_feature.get(), d_d2.get(), rows, g.shape[0],
                                                g.spacing[0]);
  MASKEVAL_CUDA_CHECK_LAUNCH("first_axis_kernel");
  const int64_t stride[3] = {1, g.shape[0], g.shape[0] * g.shape[1]};
  for (int axis = 1; axis < g.ndim; ++axis) {
    const int64_t len = g.shape[axis];
    if (len < 2 || lines[axis].empty()) continue;
    d_lines.upload(lines[axis], nullptr);
    const int64_t per_launch = std::max<int64_t>(1, static_cast<int64_t>(work.size()) / (5 * len));
    const int64_t total = static_cast<int64_t>(lines[axis].size());
    for (int64_t begin = 0; begin < total; begin += per_launch) {
      const int64_t count = std::min(per_launch, total - begin);
      axis_kernel<<<blocks(count), kThreads>>>(d_d2.get(), d_lines.get() + begin, count, len,
                                               stride[axis], g.spacing[axis], work.get());
      MASKEVAL_CUDA_CHECK_LAUNCH("axis_kernel");
    }
  }
  MASKEVAL_CUDA_TRY(cudaEventRecord(stop.get()));
}

}  // namespace

void squared_edt(const uint8_t* feature, const Grid& g, double* d2, const uint8_t* needed,
                 float* kernel_ms) {
  const int64_t n = g.voxels();
  if (n == 0) return;
  DeviceArray<double> d_d2;
  Event start, stop;
  transform(feature, g, lines_needed(g, needed), d_d2, start, stop);
  const float ms = elapsed_ms(start, stop);
  if (kernel_ms) *kernel_ms = ms;
  MASKEVAL_CUDA_TRY(cudaMemcpy(d2, d_d2.get(), n * sizeof(double), cudaMemcpyDeviceToHost));
}

void squared_edt_at(const uint8_t* feature, const Grid& g, const std::vector<int64_t>& at,
                    double* out, int /*threads*/) {
  if (g.voxels() == 0 || at.empty()) return;
  DeviceArray<double> d_d2, d_out(at.size());
  DeviceArray<int64_t> d_at;
  Event start, stop;
  transform(feature, g, lines_needed(g, at), d_d2, start, stop);
  d_at.upload(at, nullptr);
  const int64_t count = static_cast<int64_t>(at.size());
  gather_kernel<<<blocks(count), kThreads>>>(d_d2.get(), d_at.get(), count, d_out.get());
  MASKEVAL_CUDA_CHECK_LAUNCH("gather_kernel");
  MASKEVAL_CUDA_TRY(
      cudaMemcpy(out, d_out.get(), at.size() * sizeof(double), cudaMemcpyDeviceToHost));
}

}  // namespace maskeval::cuda
