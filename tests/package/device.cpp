// Consumer of an installed maskeval linking maskeval::lib: prints whether CUDA is built in.
#include <cstdio>

#include "maskeval/device.h"

int main() {
  const maskeval::DeviceStatus s = maskeval::cuda_device_status();
  std::printf("cuda built %d\n", s.built ? 1 : 0);
  return 0;
}
