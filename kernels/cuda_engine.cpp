// The CUDA engine behind the engine interface: device batches of small cases from all workers,
// one piece of GPU work at a time, and the engine's own fallbacks to the CPU (device memory
// short, an allocation that failed, a lost device), said in each case's notes.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "device_pools.cuh"
#include "engine/group_commit.h"
#include "engine/tuple_keys.h"
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
// when it was counted without staying there) and its place in the batch. `write_note`: why a
// case counted on the device without staying there is written on the CPU.
class CudaCounted : public Engine::Counted {
 public:
  CudaCounted(const CaseView& view, TupleHistogram h, std::shared_ptr<cuda::DeviceCases> device,
              size_t index, std::string write_note = {})
      : Counted(view, std::move(h)),
        device(std::move(device)),
        index(index),
        write_note(std::move(write_note)) {}
  std::shared_ptr<cuda::DeviceCases> device;
  size_t index;
  std::string write_note;
};

// What a batch gives each of its cases: the histogram, with the batch when it stays on the
// device; or on_cpu: the submitter counts its case on the CPU, for `reason` ("" once the engine
// has stopped using the device: the run note says why).
struct DeviceCount {
  std::shared_ptr<cuda::DeviceCases> device;
  size_t index = 0;
  TupleHistogram histogram;
  std::string write_note;
  bool on_cpu = false;
  std::string reason;
};

bool wider_than_64_bits(const CaseView& v) {
  return maskeval::detail::key_path(v.rater_count(), maskeval::detail::label_bits(v.max_label)) ==
         maskeval::detail::KeyPath::kWide;
}

std::string mebibytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// The device memory a distance transform takes (kernels/distance.cu): the features, the
// squared distances, the lines of an axis, the voxels read and their values, the work space
// of the longest line; the work space for more lines at once is sized there from free memory.
int64_t edt_bytes(const Grid& g, size_t at) {
  const int64_t n = g.voxels();
  const int64_t longest = std::max({g.shape[0], g.shape[1], g.shape[2], int64_t{1}});
  return 9 * n + 4 * n + 16 * static_cast<int64_t>(at) + 40 * longest;
}

// The notes of each thread's cases (engine.h, take_notes), each said once.
class Notes {
 public:
  void add(const std::string& note) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string>& mine = by_thread_[std::this_thread::get_id()];
    if (std::find(mine.begin(), mine.end(), note) == mine.end()) mine.push_back(note);
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = by_thread_.find(std::this_thread::get_id());
    if (it == by_thread_.end()) return {};
    std::vector<std::string> out = std::move(it->second);
    by_thread_.erase(it);
    return out;
  }

 private:
  std::mutex mutex_;
  std::map<std::thread::id, std::vector<std::string>> by_thread_;
};

class CudaEngine : public Engine {
 public:
  explicit CudaEngine(int64_t limit)
      : limit_(limit),
        batches_([this](const std::vector<CaseView>& views) { return count_batch(views); },
                 kBatchCases, std::chrono::milliseconds(20)) {}
  const char* name() const override { return "cuda"; }

  std::unique_ptr<Counted> count(const CaseView& view, int threads) override {
    maskeval::detail::validate_view(view);  // a bad case fails alone, never its batch
    if (lost_ || wider_than_64_bits(view)) return on_cpu(view, threads, "");
    const int64_t bytes = cuda::device_footprint(view).count;
    if (bytes <= kBatchCaseBytes) {
      DeviceCount c = batches_.submit(view);
      if (c.on_cpu) return on_cpu(view, threads, c.reason);
      return std::make_unique<CudaCounted>(view, std::move(c.histogram), std::move(c.device),
                                           c.index, std::move(c.write_note));
    }
    std::string reason;
    {
      std::lock_guard<std::mutex> lock(gpu_);
      if (!lost_) {
        try {
          if (std::unique_ptr<Counted> c = count_alone(view, bytes, threads, reason)) return c;
        } catch (const CudaError& e) {
          reason = failed(e);
        }
      }
    }
    return on_cpu(view, threads, reason);
  }

  std::vector<TupleHistogram> count_all(const std::vector<CaseView>& views, int threads) override {
    std::vector<TupleHistogram> out(views.size());
    std::vector<CaseView> on_device;
    std::vector<size_t> at;
    for (size_t i = 0; i < views.size(); ++i) {
      maskeval::detail::validate_view(views[i]);
      if (lost_ || wider_than_64_bits(views[i])) {
        out[i] = cpu::count_tuples(views[i], threads);
      } else {
        on_device.push_back(views[i]);
        at.push_back(i);
      }
    }
    if (on_device.empty()) return out;
    std::vector<TupleHistogram> h;
    {
      std::lock_guard<std::mutex> lock(gpu_);
      try {
        if (!lost_) h = cuda::count_tuples(on_device, {cap(), threads});
      } catch (const CudaError& e) {
        notes_.add("counted on the CPU: " + failed(e));
      }
    }
    for (size_t k = 0; k < at.size(); ++k)
      out[at[k]] = k < h.size() ? std::move(h[k]) : cpu::count_tuples(on_device[k], threads);
    return out;
  }

  void write(Counted& counted, const WriteTable& table, int threads) override {
    auto& c = static_cast<CudaCounted&>(counted);
    if (std::none_of(table.begin(), table.end(), [](const WriteColumn& w) { return w.out; }))
      return;
    std::string reason = c.write_note;
    if (c.device && !lost_) {
      // Only the columns asked for go to the device.
      WriteTable wanted;
      for (const WriteColumn& column : table)
        if (column.out) wanted.push_back(column);
      std::lock_guard<std::mutex> lock(gpu_);
      if (!lost_) {
        const int64_t need = cuda::device_footprint(c.view(), &wanted).write;
        int64_t budget = 0;
        if (!fits(need, budget)) {
          reason = short_of_memory(need, budget);
        } else {
          try {
            c.device->write(c.index, c.histogram(), wanted);
            return;
          } catch (const CudaError& e) {
            reason = failed(e);
          }
        }
      }
    }
    if (!reason.empty()) notes_.add("written on the CPU: " + reason);
    cpu::write(c.view(), c.histogram(), table, threads);
  }

  void squared_edt_at(const uint8_t* feature, const Grid& grid, const std::vector<int64_t>& at,
                      double* out, int threads) override {
    std::string reason;
    {
      std::lock_guard<std::mutex> lock(gpu_);
      if (!lost_) {
        const int64_t need = edt_bytes(grid, at.size());
        int64_t budget = 0;
        if (!fits(need, budget)) {
          reason = short_of_memory(need, budget);
        } else {
          try {
            cuda::squared_edt_at(feature, grid, at, out, threads);
            return;
          } catch (const CudaError& e) {
            reason = failed(e);
          }
        }
      }
    }
    if (!reason.empty()) notes_.add("distance transform on the CPU: " + reason);
    maskeval::squared_edt_at(feature, grid, at, out, threads);
  }

  void add_worker() override { batches_.add_worker(); }
  void remove_worker() override { batches_.remove_worker(); }
  std::vector<std::string> take_notes() override { return notes_.take(); }
  std::string run_note() const override {
    std::lock_guard<std::mutex> lock(note_mutex_);
    return run_note_;
  }

 private:
  // The case on the CPU engine; `reason` ("" for none: by design, or said by the run note)
  // goes into its notes.
  std::unique_ptr<Counted> on_cpu(const CaseView& view, int threads, const std::string& reason) {
    if (!reason.empty()) notes_.add("counted on the CPU: " + reason);
    return std::make_unique<CudaCounted>(view, cpu::count_tuples(view, threads), nullptr, 0);
  }

  // A case too large for the batches, alone (gpu_ held): kept on the device when it fits, else
  // counted in slabs; null, with `reason`, when not even slabs fit.
  std::unique_ptr<Counted> count_alone(const CaseView& view, int64_t bytes, int threads,
                                       std::string& reason) {
    int64_t budget = 0;
    if (fits(bytes, budget)) {
      std::shared_ptr<cuda::DeviceCases> device = resident({view}, bytes);
      TupleHistogram h = device->count()[0];
      return std::make_unique<CudaCounted>(view, std::move(h), std::move(device), 0);
    }
    reason = short_of_memory(bytes, budget);
    if (cuda::slab_voxels(view, budget) == 0) return nullptr;
    TupleHistogram h = cuda::count_tuples({view}, {cap(), threads})[0];
    return std::make_unique<CudaCounted>(view, std::move(h), nullptr, 0,
                                         "counted in slabs, " + reason);
  }

  // One batch of small cases (the group commit's work). Never fails a case: what cannot be
  // counted on the device is given back to its submitter to count on the CPU.
  std::vector<DeviceCount> count_batch(const std::vector<CaseView>& views) {
    std::lock_guard<std::mutex> lock(gpu_);
    std::vector<DeviceCount> out(views.size());
    std::string reason;
    if (!lost_) {
      try {
        count_batch_on_device(views, out);
        return out;
      } catch (const CudaError& e) {
        reason = failed(e);
      } catch (const std::bad_alloc&) {
        reason = "out of host memory for the device batch";
      } catch (const std::exception&) {
        // Not the device's doing (a case breaking its view's promises): each case is counted on
        // the CPU by its submitter, where such an error concerns that case alone.
      }
    }
    for (DeviceCount& c : out) c = DeviceCount{nullptr, 0, {}, {}, true, reason};
    return out;
  }

  void count_batch_on_device(const std::vector<CaseView>& views, std::vector<DeviceCount>& out) {
    int64_t need = 0, budget = 0;
    for (const CaseView& v : views) need += cuda::device_footprint(v).count;
    if (fits(need, budget)) {
      std::shared_ptr<cuda::DeviceCases> device = resident(views, need);
      std::vector<TupleHistogram> h = device->count();
      for (size_t i = 0; i < views.size(); ++i) {
        out[i].device = device;
        out[i].index = i;
        out[i].histogram = std::move(h[i]);
      }
      return;
    }
    // Short of device memory (other batches still held for their write passes, or the limit):
    // counted without staying there, their write passes on the CPU; a case that does not fit
    // even in slabs goes back to its submitter.
    std::vector<CaseView> fit;
    std::vector<size_t> at;
    for (size_t i = 0; i < views.size(); ++i) {
      if (cuda::slab_voxels(views[i], budget) > 0) {
        fit.push_back(views[i]);
        at.push_back(i);
      } else {
        out[i].on_cpu = true;
        out[i].reason = short_of_memory(cuda::device_footprint(views[i]).count, budget);
      }
    }
    if (fit.empty()) return;
    std::vector<TupleHistogram> h = cuda::count_tuples(fit, {cap(), 1});
    for (size_t k = 0; k < fit.size(); ++k) {
      out[at[k]].histogram = std::move(h[k]);
      out[at[k]].write_note =
          "counted without staying on the device, " + short_of_memory(need, budget);
    }
  }

  // The cases up on the device, their bytes held against the limit while they stay there.
  std::shared_ptr<cuda::DeviceCases> resident(const std::vector<CaseView>& views, int64_t bytes) {
    auto* cases = new cuda::DeviceCases(views);
    *held_ += bytes;
    std::shared_ptr<std::atomic<int64_t>> held = held_;
    return std::shared_ptr<cuda::DeviceCases>(cases, [held, bytes](cuda::DeviceCases* d) {
      delete d;
      *held -= bytes;
    });
  }

  // What --device-memory-limit leaves, less what the engine holds: its cases on the device and
  // the buffers the passes keep for reuse (device_pools.cuh).
  int64_t cap() const {
    if (limit_ <= 0) return cuda::kNoMemoryCap;
    return std::max<int64_t>(0, limit_ - held_->load() - cuda::detail::pooled_device_bytes());
  }
  // The budget now (gpu_ held); a device that no longer answers the query is a device error.
  int64_t budget_now() {
    size_t free_bytes = 0;
    if (cuda::free_device_memory(&free_bytes)) return cuda::memory_budget(free_bytes, cap());
    failed(CudaError("cudaMemGetInfo failed"));
    return 0;
  }
  // Whether `need` bytes fit the budget (gpu_ held); when they do not, the buffers kept for
  // reuse are freed and the budget asked again. `budget`: the last one asked.
  bool fits(int64_t need, int64_t& budget) {
    budget = budget_now();
    if (need <= budget) return true;
    if (cuda::detail::pooled_device_bytes() == 0) return false;
    cuda::detail::release_device_pools();
    budget = budget_now();
    return need <= budget;
  }
  std::string short_of_memory(int64_t need, int64_t budget) const {
    return "device memory short (needs " + mebibytes(need) + ", " + mebibytes(budget) +
           (limit_ > 0 ? " left under --device-memory-limit " + mebibytes(limit_) : " available") +
           ")";
  }

  // After a CUDA error (gpu_ held): when the device is lost, the rest of the run goes to the
  // CPU, said once on stderr and in the run note. Returns the reason for the case's note.
  std::string failed(const CudaError& e) {
    if (!lost_ && !cuda::device_lost()) {
      cuda::detail::release_device_pools();  // room for the next cases
      return e.what();
    }
    if (!lost_) {
      std::lock_guard<std::mutex> lock(note_mutex_);
      run_note_ = std::string("the CUDA engine stopped after a device error (") + e.what() +
                  "); the rest of the run, that case included, used the CPU engine";
      lost_ = true;
      std::fprintf(stderr, "maskeval: warning: %s\n", run_note_.c_str());
    }
    return e.what();
  }

  const int64_t limit_;  // bytes, 0: none
  std::shared_ptr<std::atomic<int64_t>> held_ = std::make_shared<std::atomic<int64_t>>(0);
  std::atomic<bool> lost_{false};
  Notes notes_;
  mutable std::mutex note_mutex_;
  std::string run_note_;
  std::mutex gpu_;  // GPU work of the workers, one piece at a time, while the others decode
  GroupCommit<CaseView, DeviceCount> batches_;
};

}  // namespace

std::unique_ptr<Engine> make_cuda_engine(int64_t device_memory_limit) {
  const DeviceStatus s = cuda_device_status();
  if (!s.built || s.devices == 0) throw CudaError(s.message);
  return std::make_unique<CudaEngine>(std::max<int64_t>(0, device_memory_limit));
}

}  // namespace maskeval
