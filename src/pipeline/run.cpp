// Running a command over a dataset: cases in parallel, a progress bar, the backend.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "cpu/parallel.h"
#include "maskeval/device.h"
#include "maskeval/run.h"
#include "pipeline/case.h"

namespace maskeval {
namespace {

void choose_backend(const RunOptions& o, RunResult& result) {
  result.backend = "cpu";
  if (o.backend == Backend::kCpu) return;
  const DeviceStatus s = cuda_device_status();
  if (s.built && s.devices > 0) {
    result.backend = "cuda";
    result.backend_note = "backend cuda (" + s.name + ")";
    return;
  }
  if (o.backend == Backend::kCuda) throw FatalError("--backend cuda: " + s.message);
  result.backend_note =
      s.built ? "backend cpu (" + s.message + ")" : "backend cpu (built without CUDA)";
}

class Progress {
 public:
  Progress(bool on, size_t total) : on_(on), total_(total) {
    if (on_) thread_ = std::thread([this] { loop(); });
  }
  ~Progress() {
    if (!on_) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    draw();
    std::fputc('\n', stderr);
  }
  void tick() { done_.fetch_add(1); }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      draw();
      wake_.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
  void draw() {
    const size_t done = done_.load();
    const int width = 30;
    const int filled = total_ == 0 ? width : static_cast<int>(width * done / total_);
    std::fprintf(stderr, "\r[%s%s] %zu/%zu cases", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total_);
    std::fflush(stderr);
  }
  bool on_;
  size_t total_;
  std::atomic<size_t> done_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

RunResult run_dataset(const Dataset& data, const RunOptions& o) {
  RunResult result;
  choose_backend(o, result);
  const int threads = o.threads > 0 ? o.threads : hardware_threads();
  const size_t n = data.cases.size();
  const int workers = static_cast<int>(std::max<size_t>(1, std::min<size_t>(threads, n)));
  const int inner = std::max(1, threads / workers);

  std::vector<CaseResult> results(n);
  std::vector<std::optional<FailedCase>> failures(n);
  std::vector<char> done(n, 0);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr fatal;
  std::mutex fatal_mutex;
  {
    Progress progress(o.progress, n);
    const bool gpu = result.backend == "cuda";
    parallel_ranges(workers, workers, [&](int, int64_t, int64_t) {
      std::optional<DeviceBatchWorker> batch_worker;
      if (gpu) batch_worker.emplace();
      for (size_t i = next++; i < n && !stop; i = next++) {
        try {
          process_case(data.cases[i], data, o, inner, gpu, results[i]);
        } catch (const CaseFailure& f) {
          failures[i] = FailedCase{data.cases[i].id, f.file, f.reason};
          if (o.strict) stop = true;
        } catch (const FatalError&) {
          std::lock_guard<std::mutex> lock(fatal_mutex);
          if (!fatal) fatal = std::current_exception();
          stop = true;
        } catch (const std::bad_alloc&) {
          failures[i] = FailedCase{data.cases[i].id, "", "out of memory"};
          if (o.strict) stop = true;
        } catch (const std::exception& e) {
          failures[i] =
              FailedCase{data.cases[i].id, "", std::string("internal error: ") + e.what()};
          if (o.strict) stop = true;
        }
        done[i] = 1;
        progress.tick();
      }
    });
  }
  if (fatal) std::rethrow_exception(fatal);
  for (size_t i = 0; i < n; ++i) {
    if (!done[i]) continue;
    if (failures[i]) {
      result.failed.push_back(*failures[i]);
    } else {
      result.cases.push_back(std::move(results[i]));
    }
  }
  result.aborted = o.strict && !result.failed.empty();
  return result;
}

}  // namespace maskeval
