// GPU benchmarks: the counting pass and the write pass alone (CUDA events), and agree+majority
// end to end from host memory, on the peer workloads of the PyTorch baseline:
//   W1 "driving": 32 cases x 5 raters x 1024x2048, 19 labels
//   W2 "medical": 8 volumes x 4 raters x 128x512x512, binary
//   small: 10,000 cases x 3 raters x 512x512, binary
// and the pairwise boundary metrics (HD95 matrix, monai convention) of 3 raters on a 512^3
// volume, its distance transforms on the device.
// Every run also measures the device-to-device copy ceiling; the counters give each pass's
// mask bytes per second and its ratio to that ceiling. No device: SkipWithError.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <random>

#include "maskeval/cuda_engine.h"
#include "maskeval/device.h"
#include "maskeval/distance.h"
#include "maskeval/staple.h"
#include "maskeval/write_tables.h"
#include "rater_balls.h"

namespace maskeval {
namespace {

bool have_gpu() {
  const DeviceStatus s = cuda_device_status();
  return s.built && s.devices > 0;
}

double copy_ceiling() {
  static const double bytes_per_s = cuda::copy_ceiling(int64_t{2} << 30);
  return bytes_per_s;
}

// `distinct` different cases of R raters drawn as blobs with per-rater boundary jitter; a
// workload of `cases` cases cycles through them (the device holds every case separately).
struct Workload {
  int raters = 0, labels = 0;
  int64_t voxels = 0;
  std::vector<std::vector<std::vector<uint8_t>>> data;  // [distinct][rater][voxel]
  std::vector<CaseView> views;
  int64_t mask_bytes = 0;
};

void draw_case(std::mt19937& rng, int raters, int labels, int64_t nx, int64_t ny, int64_t nz,
               std::vector<std::vector<uint8_t>>& out) {
  std::uniform_real_distribution<double> unit(0.0, 1.0), jitter(-2.0, 2.0);
  struct Blob {
    double x, y, z, r;
    int label;
  };
  std::vector<Blob> blobs;
  for (int b = 0; b < 24; ++b)
    blobs.push_back({unit(rng) * nx, unit(rng) * ny, unit(rng) * nz,
                     (0.03 + 0.1 * unit(rng)) * std::min(nx, ny), 1 + b % std::max(1, labels - 1)});
  out.assign(raters, std::vector<uint8_t>(nx * ny * nz, 0));
  for (int k = 0; k < raters; ++k) {
    for (const Blob& b : blobs) {
      const double r = b.r + jitter(rng), dx = b.x + jitter(rng), dy = b.y + jitter(rng);
      const double rz = nz > 1 ? r : 0.5;
      for (int64_t z = std::max<int64_t>(0, b.z - rz); z < std::min<int64_t>(nz, b.z + rz + 1); ++z)
        for (int64_t y = std::max<int64_t>(0, dy - r); y < std::min<int64_t>(ny, dy + r + 1); ++y)
          for (int64_t x = std::max<int64_t>(0, dx - r); x < std::min<int64_t>(nx, dx + r + 1);
               ++x) {
            const double ez = nz > 1 ? (z - b.z) / r : 0.0;
            if ((x - dx) * (x - dx) / (r * r) + (y - dy) * (y - dy) / (r * r) + ez * ez < 1.0)
              out[k][(z * ny + y) * nx + x] = static_cast<uint8_t>(b.label);
          }
    }
  }
}

const Workload& workload(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Workload>> cache;
  auto& w = cache[name];
  if (w) return *w;
  w = std::make_unique<Workload>();
  std::mt19937 rng(7);
  int cases = 0, distinct = 0;
  int64_t nx = 0, ny = 0, nz = 1;
  if (name == "W1") {
    w->raters = 5, w->labels = 19, cases = 32, distinct = 4, nx = 2048, ny = 1024;
  } else if (name == "W2") {
    w->raters = 4, w->labels = 2, cases = 8, distinct = 2, nx = 512, ny = 512, nz = 128;
  } else {
    w->raters = 3, w->labels = 2, cases = 10000, distinct = 16, nx = 512, ny = 512;
  }
  w->voxels = nx * ny * nz;
  w->data.resize(distinct);
  for (auto& d : w->data) draw_case(rng, w->raters, w->labels, nx, ny, nz, d);
  for (int c = 0; c < cases; ++c) {
    CaseView v;
    v.voxels = w->voxels;
    v.max_label = static_cast<Label>(w->labels - 1);
    for (const auto& r : w->data[c % distinct]) v.raters.push_back(r.data());
    w->views.push_back(v);
    w->mask_bytes += w->voxels * w->raters;
  }
  return *w;
}

// Host arrays for a case's majority, agreement and entropy: the tables' destinations (a pass
// kept on the device only needs them to exist).
struct VoteOutputs {
  explicit VoteOutputs(int64_t voxels) : major(voxels), agree(voxels), entropy(voxels) {}
  VoteMaps maps() { return {major.data(), agree.data(), entropy.data()}; }
  std::vector<Label> major;
  std::vector<float> agree, entropy;
};

void report(benchmark::State& state, int64_t bytes, double seconds) {
  state.SetIterationTime(seconds);
  state.counters["mask_GBps"] = benchmark::Counter(bytes / seconds / 1e9);
  state.counters["ratio_to_copy"] = benchmark::Counter(bytes / seconds / copy_ceiling());
  state.counters["copy_TBps"] = benchmark::Counter(copy_ceiling() / 1e12);
}

// The counting pass alone, masks already on the device.
void count_pass(benchmark::State& state, const std::string& name) {
  if (!have_gpu()) return state.SkipWithError("no CUDA device");
  const Workload& w = workload(name);
  cuda::DeviceCases device(w.views);
  device.count();  // warm-up
  for (auto _ : state) {
    device.count();
    report(state, device.mask_bytes(), device.last_kernel_ms() * 1e-3);
  }
}

// The write pass alone (majority, agreement, entropy through the lookup tables), every case.
void write_pass(benchmark::State& state, const std::string& name) {
  if (!have_gpu()) return state.SkipWithError("no CUDA device");
  const Workload& w = workload(name);
  const size_t n = std::min<size_t>(w.views.size(), 32);
  cuda::DeviceCases device(std::vector<CaseView>(w.views.begin(), w.views.begin() + n));
  const std::vector<TupleHistogram> h = device.count();
  const VoteRule rule{TiePolicy::kUndecided, static_cast<Label>(w.labels), w.labels};
  VoteOutputs out(w.voxels);
  std::vector<WriteTable> tables;
  for (size_t i = 0; i < n; ++i) tables.push_back(vote_table(h[i], rule, out.maps()));
  for (auto _ : state) {
    double ms = 0;
    for (size_t i = 0; i < n; ++i) ms += device.write_on_device(i, h[i], tables[i]);
    report(state, device.mask_bytes(), ms * 1e-3);
  }
}

// agree + majority, kernels only: counting pass plus write pass.
void agree_majority_kernels(benchmark::State& state, const std::string& name) {
  if (!have_gpu()) return state.SkipWithError("no CUDA device");
  const Workload& w = workload(name);
  cuda::DeviceCases device(w.views);
  const VoteRule rule{TiePolicy::kUndecided, static_cast<Label>(w.labels), w.labels};
  VoteOutputs out(w.voxels);
  device.count();
  for (auto _ : state) {
    const std::vector<TupleHistogram> h = device.count();
    double ms = device.last_kernel_ms();
    for (size_t i = 0; i < w.views.size(); ++i)
      ms += device.write_on_device(i, h[i], vote_table(h[i], rule, out.maps()));
    report(state, device.mask_bytes(), ms * 1e-3);
    state.counters["ms"] = benchmark::Counter(ms);
  }
}

// Binary STAPLE, kernels plus the EM on the host: counting pass, EM over the histogram, and the
// posterior/consensus write pass, every case (the peer: a 20-iteration EM over the voxels).
void staple_job(benchmark::State& state, const std::string& name) {
  if (!have_gpu()) return state.SkipWithError("no CUDA device");
  const Workload& w = workload(name);
  cuda::DeviceCases device(w.views);
  std::vector<float> posterior(w.voxels);
  std::vector<uint8_t> mask(w.voxels);
  device.count();
  for (auto _ : state) {
    const std::vector<TupleHistogram> h = device.count();
    double ms = device.last_kernel_ms();
    double em_ms = 0;
    for (size_t i = 0; i < w.views.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const BinaryPatterns p = binary_patterns(h[i], 1);
      const StapleResult r = staple(p, {});
      em_ms +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ms += device.write_on_device(i, h[i],
                                   staple_table(h[i], 1, p, r, 0.5, posterior.data(), mask.data()));
    }
    ms += em_ms;
    report(state, device.mask_bytes(), ms * 1e-3);
    state.counters["em_ms"] = benchmark::Counter(em_ms);
  }
}

// agree + majority end to end from host memory: upload, count, write pass, outputs back.
void agree_majority_end_to_end(benchmark::State& state, const std::string& name) {
  if (!have_gpu()) return state.SkipWithError("no CUDA device");
  const Workload& w = workload(name);
  const VoteRule rule{TiePolicy::kUndecided, static_cast<Label>(w.labels), w.labels};
  std::vector<Label> major(w.voxels);
  std::vector<float> agree(w.voxels);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    cuda::DeviceCases device(w.views);
    const std::vector<TupleHistogram> h = device.count();
    for (size_t i = 0; i < w.views.size(); ++i)
      device.write(i, h[i], vote_table(h[i], rule, {major.data(), agree.data(), nullptr}));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report(state, device.mask_bytes(), s);
  }
}

const RaterBalls& distance_volume() {
  static const RaterBalls v = rater_balls(512);
  return v;
}

// The three surfaces' distance transforms on the device, kernels only (CUDA events), each
// needed only at the other two surfaces, as the HD95 matrix needs them.
void distance_transforms(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA device");
  const RaterBalls& v = distance_volume();
  std::vector<std::vector<uint8_t>> surface;
  for (const auto& m : v.masks)
    surface.push_back(measured_points(m.data(), v.grid, DistanceConvention::kMonai));
  std::vector<double> d2(v.grid.voxels());
  for (auto _ : state) {
    double ms = 0;
    for (size_t i = 0; i < surface.size(); ++i) {
      std::vector<uint8_t> needed(v.grid.voxels(), 0);
      for (size_t j = 0; j < surface.size(); ++j)
        if (j != i)
          for (int64_t k = 0; k < v.grid.voxels(); ++k) needed[k] |= surface[j][k];
      float kernel_ms = 0;
      cuda::squared_edt(surface[i].data(), v.grid, d2.data(), needed.data(), &kernel_ms);
      ms += kernel_ms;
    }
    state.SetIterationTime(ms * 1e-3);
    state.counters["ms"] = benchmark::Counter(ms);
  }
}

// The whole HD95 + ASSD + NSD matrix: host-side box, surfaces and metrics, transforms on the
// device, wall time.
void distance_matrix(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA device");
  const RaterBalls& v = distance_volume();
  const std::vector<const uint8_t*> ptrs = v.pointers();
  const DistanceOptions o;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto m = boundary_matrix(ptrs, v.grid, o, 16, cuda::squared_edt_at);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(m.data());
    state.SetIterationTime(s);
    state.counters["ms"] = benchmark::Counter(s * 1e3);
    state.counters["hd95_01"] = benchmark::Counter(m[1].hd_percentile);
  }
}

BENCHMARK_CAPTURE(count_pass, W1, std::string("W1"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(count_pass, W2, std::string("W2"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(count_pass, small, std::string("small"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(write_pass, W1, std::string("W1"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(write_pass, W2, std::string("W2"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(agree_majority_kernels, W1, std::string("W1"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(agree_majority_kernels, W2, std::string("W2"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(staple_job, W2, std::string("W2"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(agree_majority_end_to_end, W1, std::string("W1"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(agree_majority_end_to_end, W2, std::string("W2"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(distance_transforms)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(distance_matrix)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace maskeval

BENCHMARK_MAIN();
