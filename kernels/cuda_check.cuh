// Checking CUDA calls: every failure becomes a CudaError naming the call and the place.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "maskeval/cuda_engine.h"

namespace maskeval::cuda::detail {

[[noreturn]] inline void throw_cuda(cudaError_t err, const char* what, const char* file, int line) {
  cudaGetLastError();  // clear a sticky launch error so that later calls start clean
  throw CudaError(std::string(what) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

// Throws CudaError("no CUDA device") when no device is usable (defined in device.cu).
void require_device();

}  // namespace maskeval::cuda::detail

#define MASKEVAL_CUDA_TRY(call)                                                       \
  do {                                                                                \
    const cudaError_t maskeval_err_ = (call);                                         \
    if (maskeval_err_ != cudaSuccess)                                                 \
      ::maskeval::cuda::detail::throw_cuda(maskeval_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: the launch itself, not the kernel's completion.
#define MASKEVAL_CUDA_CHECK_LAUNCH(name)                                                          \
  do {                                                                                            \
    const cudaError_t maskeval_err_ = cudaGetLastError();                                         \
    if (maskeval_err_ != cudaSuccess)                                                             \
      ::maskeval::cuda::detail::throw_cuda(maskeval_err_, "launch of " name, __FILE__, __LINE__); \
  } while (0)
