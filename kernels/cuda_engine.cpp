// The CUDA engine behind the engine interface: device batches of small cases from all workers,
// one batch on the device at a time, and the engine's own fallbacks to the CPU.
#include <memory>
#include <mutex>

#include "engine/group_commit.h"
#include "maskeval/cuda_engine.h"
#include "maskeval/device.h"
#include "maskeval/engine.h"

namespace maskeval {
namespace {

// Small cases from all workers go up and are counted together, up to kBatchCases at a time;
// larger ones one by one.
constexpr size_t kBatchCases = 64;
constexpr int64_t kBatchCaseBytes = int64_t{16} << 20;

// A counted case: the batch it went up with (kept on the device for its write passes; null
// when it was counted without staying there) and its place in the batch.
class CudaCounted : public Engine::Counted {
 public:
  CudaCounted(const CaseView& view, TupleHistogram h, std::shared_ptr<cuda::DeviceCases> device,
              size_t index)
      : Counted(view, std::move(h)), device(std::move(device)), index(index) {}
  std::shared_ptr<cuda::DeviceCases> device;
  size_t index;
};

struct DeviceCount {
  std::shared_ptr<cuda::DeviceCases> device;
  size_t index = 0;
  TupleHistogram histogram;
};

bool fits_on_device(int64_t bytes) {
  size_t free_bytes = 0;
  return cuda::free_device_memory(&free_bytes) && bytes <= cuda::memory_budget(free_bytes);
}

class CudaEngine : public Engine {
 public:
  CudaEngine()
      : batches_([this](const std::vector<CaseView>& views) { return count_batch(views); },
                 kBatchCases, std::chrono::milliseconds(20)) {}
  const char* name() const override { return "cuda"; }

  std::unique_ptr<Counted> count(const CaseView& view, int) override {
    if (cuda::DeviceCases::device_bytes(view) <= kBatchCaseBytes) {
      DeviceCount c = batches_.submit(view);
      return std::make_unique<CudaCounted>(view, std::move(c.histogram), std::move(c.device),
                                           c.index);
    }
    std::lock_guard<std::mutex> lock(gpu_);
    if (!fits_on_device(cuda::DeviceCases::device_bytes(view)))  // counted in slabs
      return std::make_unique<CudaCounted>(view, cuda::count_tuples({view})[0], nullptr, 0);
    auto device = std::make_shared<cuda::DeviceCases>(std::vector<CaseView>{view});
    TupleHistogram h = device->count()[0];
    return std::make_unique<CudaCounted>(view, std::move(h), std::move(device), 0);
  }
  std::vector<TupleHistogram> count_all(const std::vector<CaseView>& views, int) override {
    std::lock_guard<std::mutex> lock(gpu_);
    return cuda::count_tuples(views);
  }
  void write(Counted& counted, const WriteTable& table, int threads) override {
    auto& c = static_cast<CudaCounted&>(counted);
    // A case that did not stay on the device is written by the CPU engine.
    if (!c.device) return cpu::write(c.view(), c.histogram(), table, threads);
    WriteTable wanted;
    for (const WriteColumn& column : table)
      if (column.out) wanted.push_back(column);
    if (wanted.empty()) return;
    std::lock_guard<std::mutex> lock(gpu_);
    c.device->write(c.index, c.histogram(), wanted);
  }
  void squared_edt_at(const uint8_t* feature, const Grid& grid, const std::vector<int64_t>& at,
                      double* out, int threads) override {
    std::lock_guard<std::mutex> lock(gpu_);
    cuda::squared_edt_at(feature, grid, at, out, threads);
  }
  void add_worker() override { batches_.add_worker(); }
  void remove_worker() override { batches_.remove_worker(); }

 private:
  std::vector<DeviceCount> count_batch(const std::vector<CaseView>& views) {
    std::lock_guard<std::mutex> lock(gpu_);
    std::vector<DeviceCount> out(views.size());
    int64_t need = 0;
    for (const CaseView& v : views) need += cuda::DeviceCases::device_bytes(v);
    if (!fits_on_device(need)) {
      // Short of device memory (other batches still held for their write passes): count
      // without keeping the cases there; their write passes run on the CPU.
      std::vector<TupleHistogram> h = cuda::count_tuples(views);
      for (size_t i = 0; i < views.size(); ++i) out[i] = {nullptr, i, std::move(h[i])};
      return out;
    }
    auto device = std::make_shared<cuda::DeviceCases>(views);
    std::vector<TupleHistogram> h = device->count();
    for (size_t i = 0; i < views.size(); ++i) out[i] = {device, i, std::move(h[i])};
    return out;
  }

  std::mutex gpu_;  // GPU work of the workers, one piece at a time, while the others decode
  GroupCommit<CaseView, DeviceCount> batches_;
};

}  // namespace

std::unique_ptr<Engine> make_cuda_engine() {
  const DeviceStatus s = cuda_device_status();
  if (!s.built || s.devices == 0) throw CudaError(s.message);
  return std::make_unique<CudaEngine>();
}

}  // namespace maskeval
