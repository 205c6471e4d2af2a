// Whether a CUDA device is usable by this build, asked at run time.
#pragma once

#include <string>

namespace maskeval {

struct DeviceStatus {
  bool built = false;   // the CUDA engine was compiled in
  int devices = 0;      // usable devices found
  std::string name;     // the first device's name
  std::string message;  // why none is usable, when devices == 0
};

// Never throws: a failing driver query means no device.
DeviceStatus cuda_device_status();

}  // namespace maskeval
