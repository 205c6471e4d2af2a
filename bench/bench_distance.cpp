// CPU boundary metrics: HD95 + ASSD + NSD of one pair of real CT masks (the KiTS23 kidney of
// annotators 1 and 2 in data/kits23, each the union of its instance files) under each
// convention, the R x R matrix of three raters on a synthetic 256^3 volume, and the host-side
// share of a 3-rater 512^3 matrix (boxes, surfaces, point lists and figures; the transforms
// stubbed out), which the GPU path keeps on the host. The comparison
// with ITK lives in bench/itk (it needs ITK); this one runs everywhere.
// Run: build/bench/maskeval_bench --benchmark_filter=distance
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "maskeval/distance.h"
#include "maskeval/image.h"
#include "maskeval/labels.h"
#include "rater_balls.h"
#include "util/parallel.h"

namespace maskeval {
namespace {

struct Pair {
  Grid grid;
  std::vector<uint8_t> a, b;
  bool ok = false;
};

// The kidney masks of annotators 1 and 2 of the sample KiTS23 case.
const Pair& kits_pair() {
  static const Pair pair = [] {
    Pair p;
    const std::string dir = std::string(MASKEVAL_SOURCE_DIR) + "/data/kits23/case_00061/instances";
    const std::regex name(R"(kidney_instance-\d+_annotation-([12])\.nii\.gz)");
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::smatch m;
      const std::string file = e.path().filename().string();
      if (!std::regex_match(file, m, name)) continue;
      const LabelImage img =
          to_labels(read_image(e.path().string()), ForegroundRule::parse("nonzero"));
      p.grid.ndim = 3;
      p.grid.shape = img.geom.shape;
      p.grid.spacing = img.geom.spacing;
      auto& mask = m[1] == "1" ? p.a : p.b;
      mask.resize(img.geom.voxels(), 0);
      for (size_t i = 0; i < mask.size(); ++i) mask[i] |= img.data[i];
    }
    p.ok = !p.a.empty() && !p.b.empty();
    return p;
  }();
  return pair;
}

void distance_kits_pair(benchmark::State& state, DistanceConvention convention) {
  const Pair& p = kits_pair();
  if (!p.ok) return state.SkipWithError("data/kits23 not found");
  DistanceOptions o;
  o.convention = convention;
  o.nsd_tolerance = 2.0;
  const int threads = hardware_threads();
  for (auto _ : state) {
    const BoundaryMetrics m = boundary_metrics(p.a.data(), p.b.data(), p.grid, o, threads);
    benchmark::DoNotOptimize(m.hd_percentile);
    state.counters["hd95"] = m.hd_percentile;
  }
  state.counters["voxels"] = static_cast<double>(p.grid.voxels());
}

// Three raters' balls in a 256^3 volume (bench/rater_balls.h).
void distance_matrix_256(benchmark::State& state) {
  static const RaterBalls balls = rater_balls(256);
  const int threads = hardware_threads();
  for (auto _ : state) {
    const auto m = boundary_matrix(balls.pointers(), balls.grid, {}, threads);
    benchmark::DoNotOptimize(m.data());
  }
}

void stub_transform(const uint8_t*, const Grid&, const std::vector<int64_t>& at, double* out, int) {
  std::fill(out, out + at.size(), 1.0);
}

void distance_host_work_512(benchmark::State& state) {
  static const RaterBalls balls = rater_balls(512);  // the GPU benchmark's volume
  const DistanceOptions o;
  const int threads = hardware_threads();
  for (auto _ : state) {
    const auto m = boundary_matrix(balls.pointers(), balls.grid, o, threads, stub_transform);
    benchmark::DoNotOptimize(m.data());
  }
}

BENCHMARK_CAPTURE(distance_kits_pair, monai, DistanceConvention::kMonai)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(distance_kits_pair, medpy, DistanceConvention::kMedpy)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(distance_kits_pair, itk, DistanceConvention::kItk)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(distance_kits_pair, deepmind, DistanceConvention::kDeepmind)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(distance_matrix_256)->Unit(benchmark::kMillisecond);
BENCHMARK(distance_host_work_512)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace maskeval
