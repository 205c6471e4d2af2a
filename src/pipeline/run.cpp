// Running a command over a dataset: cases in parallel on the engine the backend chose, a
// progress bar.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "maskeval/cuda_engine.h"
#include "maskeval/device.h"
#include "maskeval/engine.h"
#include "maskeval/run.h"
#include "pipeline/case.h"
#include "pipeline/output_dir.h"
#include "util/parallel.h"

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

// The run's engine, chosen once from the backend.
std::unique_ptr<Engine> make_engine(const RunResult& result, const RunOptions& o) {
  try {
    return result.backend == "cuda" ? make_cuda_engine(o.device_memory_limit) : make_cpu_engine();
  } catch (const CudaError& e) {
    throw FatalError(std::string("--backend cuda: ") + e.what());
  }
}

// While alive on a worker thread: that worker may submit cases to the engine's batches.
class EngineWorker {
 public:
  explicit EngineWorker(Engine& e) : engine_(e) { engine_.add_worker(); }
  ~EngineWorker() { engine_.remove_worker(); }
  EngineWorker(const EngineWorker&) = delete;
  EngineWorker& operator=(const EngineWorker&) = delete;

 private:
  Engine& engine_;
};

// Cases done so far, on stderr: a bar redrawn in place, or a plain line every few seconds for
// logs (where a bar would be one endless line).
class Progress {
 public:
  Progress(RunOptions::Progress style, double seconds, size_t total)
      : style_(style), period_(seconds), total_(total) {
    if (style_ != RunOptions::Progress::kOff) thread_ = std::thread([this] { loop(); });
  }
  ~Progress() {
    if (style_ == RunOptions::Progress::kOff) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    if (style_ == RunOptions::Progress::kBar) {
      draw_bar();
      std::fputc('\n', stderr);
    } else {
      print_line();  // the last line says how the run ended
    }
  }
  void tick(bool failed) {
    if (failed) failed_.fetch_add(1);
    done_.fetch_add(1);
  }

 private:
  void loop() {
    const auto period = style_ == RunOptions::Progress::kBar
                            ? std::chrono::milliseconds(200)
                            : std::chrono::milliseconds(static_cast<int64_t>(period_ * 1000));
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (style_ == RunOptions::Progress::kBar) draw_bar();
      if (wake_.wait_for(lock, period, [this] { return stop_; })) break;
      if (style_ == RunOptions::Progress::kLines) print_line();
    }
  }
  void draw_bar() {
    const size_t done = done_.load();
    const int width = 30;
    const int filled = total_ == 0 ? width : static_cast<int>(width * done / total_);
    std::fprintf(stderr, "\r[%s%s] %zu/%zu cases", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total_);
    std::fflush(stderr);
  }
  void print_line() {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "maskeval: %zu/%zu cases done, %zu failed, %.0f s\n", done_.load(), total_,
                 failed_.load(), seconds);
    std::fflush(stderr);
  }
  RunOptions::Progress style_;
  double period_;
  size_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<size_t> done_{0}, failed_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

void check_rater_limit(const Dataset& data) {
  for (const CaseSpec& c : data.cases) {
    const size_t columns = c.raters.size() + c.predictions.size();
    if (columns > static_cast<size_t>(kMaxMasksPerCase))
      throw UsageError("case " + c.id + " has " + std::to_string(columns) +
                       " raters and predictions; at most " + std::to_string(kMaxMasksPerCase) +
                       " per case are supported");
  }
}

// The outcome of the case, or why it failed.
std::optional<FailedCase> run_case(const Dataset& data, const CaseSpec& spec,
                                   const std::string& folder, const RunOptions& o, Engine& engine,
                                   int threads, CaseResult& res) {
  const std::string& id = spec.id;
  try {
    process_case(spec, folder, data, o, engine, threads, res);
    return std::nullopt;
  } catch (const CaseFailure& f) {
    return FailedCase{id, f.file, f.reason};
  } catch (const std::bad_alloc&) {
    return FailedCase{id, "", "out of memory"};
  } catch (const FatalError&) {
    throw;
  } catch (const std::exception& e) {
    return FailedCase{id, "", std::string("internal error: ") + e.what()};
  }
}

}  // namespace

// What the options ask that the dataset cannot give.
void check_options(const Dataset& data, const RunOptions& o) {
  if (o.labels.ignore && data.per_label)
    throw UsageError(
        "--ignore-label needs label-map files; this manifest gives one binary mask per label "
        "(leave the label's rows out instead)");
  if (o.labels.ignore && o.foreground.binary())
    throw UsageError("--ignore-label applies to label values; --foreground " + o.foreground.text() +
                     " makes every file binary first (use --foreground labels, the default)");
  for (const Region& r : o.labels.regions)
    if (o.labels.ignore && r.covers(*o.labels.ignore))
      throw UsageError("region " + r.name + " covers the ignore label " +
                       std::to_string(*o.labels.ignore));
}

std::vector<std::string> run_warnings(const RunOptions& o, const RunResult& result) {
  std::vector<std::string> warnings;
  int files = 0, only_0_255 = 0, zero_255 = 0, mostly_255 = 0;
  for (const CaseResult& c : result.cases) {
    files += c.values.files;
    only_0_255 += c.values.zero_or_255;
    zero_255 += c.values.two_valued_255;
    mostly_255 += c.values.mostly_255;
  }
  if (zero_255 > 0 && only_0_255 == files && o.foreground.kind == ForegroundRule::Kind::kLabels)
    warnings.push_back(
        "every mask holds only the values 0 and 255, so 255 is scored as a label; if "
        "255 marks the foreground, pass --foreground nonzero" +
        std::string(mostly_255 * 2 > zero_255 ? " (or --foreground '<128' if the foreground is the "
                                                "dark part: 255 covers most of each image)"
                                              : ""));
  return warnings;
}

void check_run(const Dataset& data, const RunOptions& o) {
  check_rater_limit(data);
  check_options(data, o);
  RunResult unused;
  choose_backend(o, unused);
}

namespace {

// Each case's folder under OUT/cases/ derived from the ids, or none when the listing gives them.
std::vector<std::string> derived_folders(const Dataset& data) {
  bool given = true;
  for (const CaseSpec& c : data.cases) given = given && !c.out_folder.empty();
  if (given) return {};
  std::vector<std::string> ids;
  for (const CaseSpec& c : data.cases) ids.push_back(c.id);
  return case_folders(ids);
}

// What the workers leave behind where there is no sink: each case's result.
struct Outcomes {
  std::vector<CaseResult> results;
  std::vector<std::optional<FailedCase>> failures;
  std::vector<char> done;
  std::vector<StageTimes> timings;
};

// Hands case i to the sink, or keeps it (a sink that cannot take it throws FatalError).
void deliver(const CaseSpec& spec, size_t i, CaseResult& res, std::optional<FailedCase>& failure,
             CaseSink* sink, Outcomes& out) {
  if (!sink) {
    out.done[i] = 1;
    out.timings[i] = res.timings;
    out.failures[i] = std::move(failure);
    out.results[i] = std::move(res);
  } else if (failure) {
    sink->failed(spec, *failure, res.timings);
  } else {
    sink->finished(spec, res);
  }
}

}  // namespace

RunResult run_dataset(const Dataset& data, const RunOptions& o, CaseSink* sink) {
  check_rater_limit(data);
  check_options(data, o);
  RunResult result;
  choose_backend(o, result);
  const int threads = o.threads > 0 ? o.threads : hardware_threads();
  const size_t n = data.cases.size();
  const int workers = static_cast<int>(std::max<size_t>(1, std::min<size_t>(threads, n)));
  const int inner = std::max(1, threads / workers);

  // A sink takes each case as it finishes: then nothing here grows with the cases.
  const std::vector<std::string> folders = derived_folders(data);
  Outcomes out;
  out.results.resize(sink ? 0 : n);
  out.failures.resize(sink ? 0 : n);
  out.done.assign(sink ? 0 : n, 0);
  out.timings.resize(sink ? 0 : n);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};  // --strict: a case failed; a fatal error
  std::exception_ptr fatal;
  std::mutex fatal_mutex;
  {
    Progress progress(o.progress, o.progress_seconds, n);
    const std::unique_ptr<Engine> engine = make_engine(result, o);
    parallel_ranges(workers, workers, [&](int, int64_t, int64_t) {
      const EngineWorker worker(*engine);
      for (size_t i = next++; i < n && !stop; i = next++) {
        try {
          CaseResult res;
          engine->take_notes();  // this worker's notes from here on are case i's
          const CaseSpec spec = data.cases[i];
          const std::string& folder = folders.empty() ? spec.out_folder : folders[i];
          std::optional<FailedCase> failure = run_case(data, spec, folder, o, *engine, inner, res);
          res.engine_notes = engine->take_notes();
          // --strict keeps only the first failure: a case that failed on another worker after
          // it counts as not reached.
          if (failure && o.strict && stop.exchange(true)) continue;
          const bool failed = failure.has_value();
          deliver(spec, i, res, failure, sink, out);
          progress.tick(failed);
        } catch (const FatalError&) {
          std::lock_guard<std::mutex> lock(fatal_mutex);
          if (!fatal) fatal = std::current_exception();
          stop = true;
        }
      }
    });
    result.engine_note = engine->run_note();
  }
  if (fatal) std::rethrow_exception(fatal);
  for (size_t i = 0; i < out.done.size(); ++i) {
    if (!out.done[i]) continue;
    result.timings += out.timings[i];
    if (out.failures[i]) {
      result.failed.push_back(*out.failures[i]);
    } else {
      result.cases.push_back(std::move(out.results[i]));
    }
  }
  result.aborted = o.strict && (sink ? stop.load() : !result.failed.empty());
  if (!sink) result.warnings = run_warnings(o, result);
  return result;
}

}  // namespace maskeval
