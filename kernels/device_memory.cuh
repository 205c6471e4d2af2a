// Device memory and events owned by RAII, for the CUDA kernels' host code.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cuda_check.cuh"

namespace maskeval::cuda::detail {

// Device memory owned by RAII. resize never shrinks: a smaller size reuses the memory held.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) { resize(n); }
  ~DeviceArray() { release(); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void resize(size_t n) {
    if (n <= capacity_) {
      size_ = n;
      return;
    }
    release();
    T* p = nullptr;  // ptr_ stays null when the allocation fails
    MASKEVAL_CUDA_TRY(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)));
    ptr_ = p;
    capacity_ = size_ = n;
  }
  T* get() const { return ptr_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Device bytes held (the capacity, not the size).
  int64_t bytes_held() const { return static_cast<int64_t>(capacity_ * sizeof(T)); }
  // Frees the memory now; the next resize allocates again.
  void release() {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    capacity_ = size_ = 0;
  }
  void upload(const std::vector<T>& host, cudaStream_t s) {
    resize(host.size());
    if (!host.empty())
      MASKEVAL_CUDA_TRY(
          cudaMemcpyAsync(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, s));
  }
  std::vector<T> download(size_t n, cudaStream_t s) const {
    std::vector<T> host(n);
    if (n > 0)
      MASKEVAL_CUDA_TRY(
          cudaMemcpyAsync(host.data(), ptr_, n * sizeof(T), cudaMemcpyDeviceToHost, s));
    MASKEVAL_CUDA_TRY(cudaStreamSynchronize(s));
    return host;
  }

 private:
  T* ptr_ = nullptr;
  size_t capacity_ = 0, size_ = 0;
};

class Event {
 public:
  Event() { MASKEVAL_CUDA_TRY(cudaEventCreate(&e_)); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

inline float elapsed_ms(const Event& a, const Event& b) {
  MASKEVAL_CUDA_TRY(cudaEventSynchronize(b.get()));
  float ms = 0;
  MASKEVAL_CUDA_TRY(cudaEventElapsedTime(&ms, a.get(), b.get()));
  return ms;
}

}  // namespace maskeval::cuda::detail
