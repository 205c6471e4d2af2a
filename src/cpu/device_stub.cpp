// Built when the CUDA engine is not: the device query answers that CUDA is not built.
#include "maskeval/device.h"

namespace maskeval {

DeviceStatus cuda_device_status() {
  DeviceStatus s;
  s.built = false;
  s.message = "this maskeval was built without CUDA (configure with -DMASKEVAL_CUDA=ON)";
  return s;
}

}  // namespace maskeval
