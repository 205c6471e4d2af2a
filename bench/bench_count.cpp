// CPU counting pass and write pass. Bytes processed = mask bytes read (raters x voxels x label
// bytes). Run: build/bench/maskeval_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "maskeval/counts.h"
#include "maskeval/write_tables.h"
#include "util/parallel.h"

namespace maskeval {
namespace {

// R raters outlining the same few blobs, each with its own boundary jitter, like real masks:
// large uniform areas, disagreement in a thin band along the edges.
struct Masks {
  std::vector<std::vector<uint8_t>> raters;
  CaseView view;

  Masks(int r, int width, int height, int labels) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> jitter(-3.0, 3.0);
    struct Blob {
      double x, y, radius;
      int label;
    };
    std::vector<Blob> blobs;
    for (int b = 0; b < 12; ++b)
      blobs.push_back({width * (0.1 + 0.8 * (b % 4) / 3.0), height * (0.15 + 0.7 * (b / 4) / 2.0),
                       std::min(width, height) * 0.08, 1 + b % (labels - 1)});
    raters.resize(r);
    for (int k = 0; k < r; ++k) {
      raters[k].assign(static_cast<size_t>(width) * height, 0);
      for (const Blob& b : blobs) {
        const double radius = b.radius + jitter(rng);
        const double dx = jitter(rng) * 0.5, dy = jitter(rng) * 0.5;
        for (int y = 0; y < height; ++y)
          for (int x = 0; x < width; ++x)
            if (std::hypot(x - b.x - dx, y - b.y - dy) < radius)
              raters[k][static_cast<size_t>(y) * width + x] = static_cast<uint8_t>(b.label);
      }
    }
    view.voxels = static_cast<int64_t>(width) * height;
    view.label_bytes = 1;
    view.max_label = static_cast<Label>(labels - 1);
    for (auto& m : raters) view.raters.push_back(m.data());
  }
};

void count(benchmark::State& state, int raters, int width, int height, int labels) {
  static std::map<std::tuple<int, int, int, int>, Masks> cache;
  auto key = std::make_tuple(raters, width, height, labels);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, Masks(raters, width, height, labels)).first;
  const CaseView& v = it->second.view;
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(cpu::count_tuples(v, threads));
  state.SetBytesProcessed(state.iterations() * v.voxels * raters);
  state.counters["threads"] = threads;
}

// The ceiling: one plain read of the same mask bytes (a sum of 64-bit words), same threads.
void read_ceiling(benchmark::State& state, int raters, int width, int height) {
  Masks m(raters, width, height, 2);
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<uint64_t> sums(threads, 0);
    parallel_ranges(m.view.voxels / 8, threads, [&](int part, int64_t begin, int64_t end) {
      uint64_t s = 0;
      for (const auto& r : m.raters) {
        const uint8_t* p = r.data();
        for (int64_t w = begin; w < end; ++w) {
          uint64_t word;
          std::memcpy(&word, p + 8 * w, 8);
          s += word;
        }
      }
      sums[part] = s;
    });
    benchmark::DoNotOptimize(sums);
  }
  state.SetBytesProcessed(state.iterations() * m.view.voxels * raters);
}

void vote(benchmark::State& state, int raters, int width, int height, int labels) {
  Masks m(raters, width, height, labels);
  std::vector<Label> majority(m.view.voxels);
  std::vector<float> agreement(m.view.voxels), entropy(m.view.voxels);
  const VoteRule rule{TiePolicy::kUndecided, static_cast<Label>(labels), labels};
  const TupleHistogram h = cpu::count_tuples(m.view, 1);
  const WriteTable table = vote_table(h, rule, {majority.data(), agreement.data(), entropy.data()});
  for (auto _ : state) cpu::write(m.view, h, table, static_cast<int>(state.range(0)));
  state.SetBytesProcessed(state.iterations() * m.view.voxels * raters);
}

BENCHMARK_CAPTURE(read_ceiling, binary_13_raters_2048x2048, 13, 2048, 2048)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// The target workload: 13 binary raters (BU-BIL-like), 2048 x 2048.
BENCHMARK_CAPTURE(count, binary_13_raters_2048x2048, 13, 2048, 2048, 2)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(count, binary_3_raters_2048x2048, 3, 2048, 2048, 2)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// Driving-scene-like: 5 raters, 19 labels, 1024 x 2048 (packed-key hash path).
BENCHMARK_CAPTURE(count, labels19_5_raters_1024x2048, 5, 2048, 1024, 19)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(vote, binary_13_raters_2048x2048, 13, 2048, 2048, 2)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace maskeval

BENCHMARK_MAIN();
