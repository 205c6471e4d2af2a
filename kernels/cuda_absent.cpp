// The stand-in built without CUDA: every CUDA entry point throws, so that the CPU paths link.
#include "maskeval/cuda_engine.h"
#include "maskeval/device.h"
#include "maskeval/engine.h"

namespace maskeval {

DeviceStatus cuda_device_status() {
  DeviceStatus s;
  s.built = false;
  s.message = "this maskeval was built without CUDA (configure with -DMASKEVAL_CUDA=ON)";
  return s;
}

namespace cuda {
namespace {
[[noreturn]] void not_built() {
  throw CudaError("the CUDA engine is not built in this maskeval");
}
}  // namespace

std::vector<TupleHistogram> count_tuples(const std::vector<CaseView>&, const CountOptions&) {
  not_built();
}
DeviceFootprint device_footprint(const CaseView&, const WriteTable*) {
  return {};
}
int64_t slab_voxels(const CaseView&, int64_t) {
  return 0;
}
bool device_lost() {
  return true;
}
DeviceHold::DeviceHold(int64_t) {
  not_built();
}
DeviceHold::~DeviceHold() = default;
struct DeviceCases::Impl {};
DeviceCases::DeviceCases(const std::vector<CaseView>&) {
  not_built();
}
DeviceCases::~DeviceCases() = default;
std::vector<TupleHistogram> DeviceCases::count() {
  not_built();
}
void DeviceCases::write(size_t, const TupleHistogram&, const WriteTable&) {
  not_built();
}
float DeviceCases::write_on_device(size_t, const TupleHistogram&, const WriteTable&) {
  not_built();
}
int64_t DeviceCases::device_bytes(const CaseView&) {
  return 0;
}
float DeviceCases::last_kernel_ms() const {
  return 0;
}
int64_t DeviceCases::mask_bytes() const {
  return 0;
}
bool free_device_memory(size_t*) {
  return false;
}
double copy_ceiling(int64_t) {
  not_built();
}
void squared_edt(const uint8_t*, const Grid&, double*, const uint8_t*, float*) {
  not_built();
}
void squared_edt_at(const uint8_t*, const Grid&, const std::vector<int64_t>&, double*, int) {
  not_built();
}

}  // namespace cuda

std::unique_ptr<Engine> make_cuda_engine(int64_t) {
  throw CudaError("the CUDA engine is not built in this maskeval");
}

}  // namespace maskeval
