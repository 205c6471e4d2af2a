// CPU boundary metrics: HD95 + ASSD + NSD of one pair of real CT masks (the KiTS23 kidney of
// annotators 1 and 2 in data/kits23, each the union of its instance files) under each
// convention, the R x R matrix of three raters on a synthetic 256^3 volume, and the host-side
// share of a 3-rater 512^3 matrix (boxes, surfaces, point lists and figures; the transforms
// stubbed out), which the GPU path keeps on the host. The comparison
// with ITK lives in bench/itk (it needs ITK); this one runs everywhere.
// Run: build/bench/maskeval_bench --benchmark_filter=distance
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "cpu/parallel.h"
#include "maskeval/distance.h"
#include "maskeval/image.h"
#include "maskeval/labels.h"

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

// Three raters' balls of radius about 80 voxels in a 256^3 volume, boundaries jittered.
void distance_matrix_256(benchmark::State& state) {
  static const std::vector<std::vector<uint8_t>> masks = [] {
    std::vector<std::vector<uint8_t>> out;
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> jitter(-1.5, 1.5);
    for (int r = 0; r < 3; ++r) {
      std::vector<uint8_t> m(int64_t{256} * 256 * 256);
      const double cx = 128 + 2 * r, cy = 125 - 2 * r, cz = 130 + r, radius = 80 + 3 * r;
      for (int64_t z = 0; z < 256; ++z)
        for (int64_t y = 0; y < 256; ++y)
          for (int64_t x = 0; x < 256; ++x) {
            const double d =
                std::sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy) + (z - cz) * (z - cz));
            m[(z * 256 + y) * 256 + x] = d < radius + (d > radius - 2 ? jitter(rng) : 0);
          }
      out.push_back(std::move(m));
    }
    return out;
  }();
  Grid g;
  g.ndim = 3;
  g.shape = {256, 256, 256};
  g.spacing = {0.8, 0.8, 1.0};
  const std::vector<const uint8_t*> ptrs = {masks[0].data(), masks[1].data(), masks[2].data()};
  const int threads = hardware_threads();
  for (auto _ : state) {
    const auto m = boundary_matrix(ptrs, g, {}, threads);
    benchmark::DoNotOptimize(m.data());
  }
}

// Balls of radius about 150 voxels in a 512^3 volume, as in the GPU benchmark.
std::vector<std::vector<uint8_t>> balls_512() {
  std::vector<std::vector<uint8_t>> out;
  for (int r = 0; r < 3; ++r) {
    std::vector<uint8_t> m(int64_t{512} * 512 * 512);
    const double cx = 256 + 4 * r, cy = 250 - 3 * r, cz = 260 + 2 * r, radius = 150 + 5 * r;
    for (int64_t z = 0; z < 512; ++z)
      for (int64_t y = 0; y < 512; ++y)
        for (int64_t x = 0; x < 512; ++x)
          m[(z * 512 + y) * 512 + x] =
              (x - cx) * (x - cx) + (y - cy) * (y - cy) + (z - cz) * (z - cz) < radius * radius;
    out.push_back(std::move(m));
  }
  return out;
}

void stub_transform(const uint8_t*, const Grid&, const std::vector<int64_t>& at, double* out, int) {
  std::fill(out, out + at.size(), 1.0);
}

void distance_host_work_512(benchmark::State& state) {
  static const std::vector<std::vector<uint8_t>> masks = balls_512();
  Grid g;
  g.ndim = 3;
  g.shape = {512, 512, 512};
  g.spacing = {0.8, 0.8, 1.0};
  const std::vector<const uint8_t*> ptrs = {masks[0].data(), masks[1].data(), masks[2].data()};
  DistanceOptions o;
  o.edt = stub_transform;
  const int threads = hardware_threads();
  for (auto _ : state) {
    const auto m = boundary_matrix(ptrs, g, o, threads);
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
