// Device discovery for the CUDA engine, whether the device is lost, and its copy ceiling. A
// failing query means "no device".
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_check.cuh"
#include "device_memory.cuh"
#include "maskeval/device.h"

namespace maskeval {

DeviceStatus cuda_device_status() {
  DeviceStatus s;
  s.built = true;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (err == cudaErrorNoDevice) {
      s.message = "no CUDA device found";
    } else if (err == cudaErrorInsufficientDriver) {
      s.message = "no CUDA device: no NVIDIA driver, or one older than this build's CUDA runtime";
    } else {
      s.message = std::string("no CUDA device: ") + cudaGetErrorString(err);
    }
    cudaGetLastError();  // clear the error so later calls start clean
    return s;
  }
  s.devices = count;
  if (count == 0) {
    s.message = "no CUDA device found";
    return s;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) s.name = prop.name;
  return s;
}

namespace cuda {

void detail::require_device() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw CudaError("no CUDA device");
  }
}

bool device_lost() {
  if (cudaDeviceSynchronize() == cudaSuccess) return false;
  // An error left by earlier work is cleared by reading it; a sticky one comes back on every
  // call after it.
  cudaGetLastError();
  if (cudaDeviceSynchronize() != cudaSuccess) return true;
  void* probe = nullptr;
  if (cudaMalloc(&probe, 256) != cudaSuccess) {
    const bool lost = cudaGetLastError() != cudaErrorMemoryAllocation;
    return lost;
  }
  return cudaFree(probe) != cudaSuccess;
}

DeviceHold::DeviceHold(int64_t bytes) {
  detail::require_device();
  MASKEVAL_CUDA_TRY(cudaMalloc(&ptr_, static_cast<size_t>(std::max<int64_t>(bytes, 1))));
}

DeviceHold::~DeviceHold() {
  if (ptr_) cudaFree(ptr_);
}

double copy_ceiling(int64_t bytes) {
  detail::require_device();
  detail::DeviceArray<uint8_t> a(bytes), b(bytes);
  MASKEVAL_CUDA_TRY(cudaMemset(a.get(), 1, bytes));
  MASKEVAL_CUDA_TRY(cudaMemset(b.get(), 0, bytes));
  detail::Event start, stop;
  MASKEVAL_CUDA_TRY(cudaMemcpy(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));  // warm-up
  const int reps = 10;
  MASKEVAL_CUDA_TRY(cudaEventRecord(start.get()));
  for (int i = 0; i < reps; ++i)
    MASKEVAL_CUDA_TRY(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));
  MASKEVAL_CUDA_TRY(cudaEventRecord(stop.get()));
  const float ms = detail::elapsed_ms(start, stop);
  return 2.0 * static_cast<double>(bytes) * reps / (ms * 1e-3);
}

}  // namespace cuda
}  // namespace maskeval
