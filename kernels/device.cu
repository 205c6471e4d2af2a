// Device discovery for the CUDA engine. A failing query means "no device", never an abort.
#include <cuda_runtime.h>

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

}  // namespace maskeval
