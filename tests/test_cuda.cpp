// The CUDA engine against the CPU engine: every count and every figure identical. Skipped where
// there is no CUDA device (ctest label gpu).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>

#include "maskeval/cuda_engine.h"
#include "maskeval/device.h"
#include "maskeval/distance.h"
#include "maskeval/engine.h"
#include "maskeval/run.h"
#include "maskeval/staple.h"
#include "maskeval/write_tables.h"
#include "report/json_report.h"
#include "test_util.h"

namespace maskeval {
namespace {

bool have_gpu() {
  const DeviceStatus s = cuda_device_status();
  return s.built && s.devices > 0;
}

#define REQUIRE_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device"

// Rater label arrays and a view of them.
struct Case {
  std::vector<std::vector<uint8_t>> bytes;
  CaseView view;
  std::string name;
};

// Long runs of one label with per-rater flips (real-mask-like), or pure noise.
Case make_case(std::mt19937& rng, int raters, int labels, int64_t voxels, int label_bytes,
               double flip, int max_run) {
  Case c;
  std::uniform_int_distribution<int> label(0, labels - 1), run(1, max_run);
  std::bernoulli_distribution change(flip);
  std::vector<int> truth(voxels);
  for (int64_t i = 0; i < voxels;) {
    const int l = label(rng);
    for (int64_t end = std::min<int64_t>(voxels, i + run(rng)); i < end; ++i) truth[i] = l;
  }
  int max = 0;
  c.bytes.resize(raters);
  for (auto& b : c.bytes) {
    b.resize(voxels * label_bytes);
    for (int64_t i = 0; i < voxels; ++i) {
      const int l = change(rng) ? label(rng) : truth[i];
      max = std::max(max, l);
      if (label_bytes == 1) {
        b[i] = static_cast<uint8_t>(l);
      } else {
        const uint16_t w = static_cast<uint16_t>(l);
        std::memcpy(&b[2 * i], &w, 2);
      }
    }
  }
  c.view.voxels = voxels;
  c.view.label_bytes = label_bytes;
  c.view.max_label = static_cast<Label>(std::max(max, 1));
  for (auto& b : c.bytes) c.view.raters.push_back(b.data());
  c.name = std::to_string(raters) + " raters, " + std::to_string(labels) + " labels, " +
           std::to_string(voxels) + " voxels, " + std::to_string(label_bytes) + "-byte labels";
  return c;
}

std::vector<Case> assorted_cases() {
  std::mt19937 rng(2024);
  std::vector<Case> cases;
  // (raters, labels, voxels, label bytes, flip, max run): dense, packed and wide paths; sizes
  // that are not multiples of the block or chunk sizes; 1x1; 2 to 33 raters; 1 to 300 labels.
  const struct {
    int r, l;
    int64_t n;
    int b;
    double flip;
    int run;
  } shapes[] = {
      {2, 2, 1, 1, 0.5, 1},
      {3, 2, 7, 1, 0.3, 3},
      {2, 1, 1000, 1, 0.0, 1000},
      {3, 2, 65537, 1, 0.01, 500},
      {13, 2, 1000003, 1, 0.002, 900},
      {16, 2, 300001, 1, 0.01, 300},
      {5, 19, 777777, 1, 0.01, 400},
      {4, 4, 262147, 2, 0.05, 100},
      {33, 2, 100003, 1, 0.01, 200},
      {33, 3, 20011, 1, 0.01, 200},
      {6, 300, 150001, 2, 0.02, 50},
      {2, 65535, 5003, 2, 0.3, 5},
      {20, 7, 70001, 1, 0.3, 2},
  };
  for (const auto& s : shapes) cases.push_back(make_case(rng, s.r, s.l, s.n, s.b, s.flip, s.run));
  // All background and all foreground.
  for (uint8_t v : {0, 1}) {
    Case c;
    c.bytes.assign(5, std::vector<uint8_t>(4099, v));
    c.view.voxels = 4099;
    c.view.max_label = 1;
    for (auto& b : c.bytes) c.view.raters.push_back(b.data());
    c.name = v ? "all 1" : "all 0";
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(CudaCount, EachCaseMatchesTheCpu) {
  REQUIRE_GPU();
  for (const Case& c : assorted_cases()) {
    SCOPED_TRACE(c.name);
    cuda::DeviceCases device({c.view});
    const std::vector<TupleHistogram> h = device.count();
    ASSERT_EQ(h.size(), 1u);
    EXPECT_TRUE(h[0] == cpu::count_tuples(c.view, 2));
    EXPECT_TRUE(device.count()[0] == h[0]);  // counting twice gives the same
  }
}

TEST(CudaCount, OneBatchOfMixedCasesMatchesTheCpu) {
  REQUIRE_GPU();
  const std::vector<Case> cases = assorted_cases();
  std::vector<CaseView> views;
  for (const Case& c : cases) views.push_back(c.view);
  const std::vector<TupleHistogram> batch = cuda::count_tuples(views);
  ASSERT_EQ(batch.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    EXPECT_TRUE(batch[i] == cpu::count_tuples(cases[i].view, 1));
  }
}

TEST(CudaCount, ManySmallCasesInOneLaunch) {
  REQUIRE_GPU();
  std::mt19937 rng(99);
  std::vector<Case> cases;
  for (int i = 0; i < 300; ++i)
    cases.push_back(make_case(rng, 3, 2, 1000 + (i * 37) % 5000, 1, 0.02, 200));
  std::vector<CaseView> views;
  for (const Case& c : cases) views.push_back(c.view);
  cuda::DeviceCases device(views);
  const std::vector<TupleHistogram> h = device.count();
  for (size_t i = 0; i < cases.size(); ++i)
    ASSERT_TRUE(h[i] == cpu::count_tuples(cases[i].view, 1)) << i;
}

TEST(CudaVote, MapsMatchTheCpuBitForBit) {
  REQUIRE_GPU();
  for (const Case& c : assorted_cases()) {
    SCOPED_TRACE(c.name);
    cuda::DeviceCases device({c.view});
    const TupleHistogram h = device.count()[0];
    for (TiePolicy tie : {TiePolicy::kUndecided, TiePolicy::kLowest}) {
      const VoteRule rule{tie, static_cast<Label>(std::min<int>(c.view.max_label + 1, kMaxLabel)),
                          static_cast<int>(label_counts(h).size())};
      const size_t n = static_cast<size_t>(c.view.voxels);
      std::vector<Label> gm(n, 7777), cm(n);
      std::vector<float> ga(n, -1.0f), ca(n), ge(n, -1.0f), ce(n);
      device.write(0, h, vote_table(h, rule, {gm.data(), ga.data(), ge.data()}));
      cpu::vote_maps(c.view, rule, {cm.data(), ca.data(), ce.data()}, 2);
      EXPECT_EQ(gm, cm);
      EXPECT_EQ(0, std::memcmp(ga.data(), ca.data(), n * sizeof(float)));
      EXPECT_EQ(0, std::memcmp(ge.data(), ce.data(), n * sizeof(float)));
    }
  }
}

TEST(CudaStaple, MapsMatchTheCpuBitForBit) {
  REQUIRE_GPU();
  for (const Case& c : assorted_cases()) {
    SCOPED_TRACE(c.name);
    cuda::DeviceCases device({c.view});
    const TupleHistogram h = device.count()[0];
    const Label label = 1;
    const BinaryPatterns p = binary_patterns(h, label);
    const StapleResult r = staple(p, {});
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<float> gw(n, -1.0f), cw(n);
    std::vector<uint8_t> gm(n, 7), cm(n);
    cpu::staple_maps(c.view, label, p, r, 0.5, cw.data(), cm.data(), 2);
    device.write(0, h, staple_table(h, label, p, r, 0.5, gw.data(), gm.data()));
    EXPECT_EQ(0, std::memcmp(gw.data(), cw.data(), n * sizeof(float)));
    EXPECT_EQ(gm, cm);
  }
}

TEST(CudaMlStaple, MapMatchesTheCpu) {
  REQUIRE_GPU();
  for (const Case& c : assorted_cases()) {
    if (c.view.max_label >= kMaxMlStapleLabels) continue;  // mlstaple takes up to 1024 labels
    SCOPED_TRACE(c.name);
    cuda::DeviceCases device({c.view});
    const TupleHistogram h = device.count()[0];
    const MlStapleResult result = mlstaple(h, {});
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<Label> g(n, 7777), k(n);
    device.write(0, h, mlstaple_table(h, result, g.data()));
    cpu::mlstaple_map(c.view, result, k.data(), 2);
    EXPECT_EQ(g, k);
  }
}

// Columns of all three types in one write pass, every case of one batch on the device.
TEST(CudaWrite, ManyColumnsOfABatchMatchTheCpu) {
  REQUIRE_GPU();
  const std::vector<Case> cases = assorted_cases();
  std::vector<CaseView> views;
  for (const Case& c : cases) views.push_back(c.view);
  cuda::DeviceCases device(views);
  const std::vector<TupleHistogram> hs = device.count();
  ASSERT_EQ(hs.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    const TupleHistogram& h = hs[i];
    const VoteRule rule{TiePolicy::kUndecided,
                        static_cast<Label>(std::min<int>(c.view.max_label + 1, kMaxLabel)),
                        static_cast<int>(label_counts(h).size())};
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<Label> gm(n, 7777), cm(n);
    std::vector<float> ga(n, -1.0f), ca(n);
    std::vector<uint8_t> gk(n, 9), ck(n);
    auto table = [&](Label* m, float* a, uint8_t* k) {
      WriteTable t = vote_table(h, rule, {m, a, nullptr});
      t.push_back(mask_column(h, 0, 1, k));
      return t;
    };
    const WriteTable gpu_table = table(gm.data(), ga.data(), gk.data());
    ASSERT_EQ(gpu_table.size(), 3u);
    device.write(i, h, gpu_table);
    cpu::write(c.view, h, table(cm.data(), ca.data(), ck.data()), 2);
    EXPECT_EQ(gm, cm);
    EXPECT_EQ(0, std::memcmp(ga.data(), ca.data(), n * sizeof(float)));
    EXPECT_EQ(gk, ck);
    device.write(i, h, {});  // no columns: nothing to do
  }
}

// The engine interface (engine.h): the CUDA engine counts and writes as the CPU engine does.
TEST(CudaEngine, CountsAndWritesAsTheCpuEngine) {
  REQUIRE_GPU();
  const std::unique_ptr<Engine> gpu = make_cuda_engine(), host = make_cpu_engine();
  EXPECT_STREQ(gpu->name(), "cuda");
  const std::vector<Case> cases = assorted_cases();
  std::vector<CaseView> views;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    views.push_back(c.view);
    const std::unique_ptr<Engine::Counted> g = gpu->count(c.view, 2), k = host->count(c.view, 2);
    const TupleHistogram& h = g->histogram();
    EXPECT_TRUE(h == cpu::count_tuples(c.view, 2));
    EXPECT_TRUE(h == k->histogram());
    const VoteRule rule{TiePolicy::kLowest,
                        static_cast<Label>(std::min<int>(c.view.max_label + 1, kMaxLabel)),
                        static_cast<int>(label_counts(h).size())};
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<Label> gm(n, 7777), cm(n);
    std::vector<float> ga(n, -1.0f), ca(n), ge(n, -1.0f), ce(n);
    gpu->write(*g, vote_table(h, rule, {gm.data(), ga.data(), ge.data()}), 2);
    host->write(*k, vote_table(k->histogram(), rule, {cm.data(), ca.data(), ce.data()}), 2);
    EXPECT_EQ(gm, cm);
    EXPECT_EQ(0, std::memcmp(ga.data(), ca.data(), n * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(ge.data(), ce.data(), n * sizeof(float)));
    if (c.view.max_label >= kMaxMlStapleLabels) continue;
    const MlStapleResult result = mlstaple(h, {});
    std::vector<Label> gl(n, 7777), cl(n);
    gpu->write(*g, mlstaple_table(h, result, gl.data()), 2);
    host->write(*k, mlstaple_table(k->histogram(), result, cl.data()), 2);
    EXPECT_EQ(gl, cl);
  }
  const std::vector<TupleHistogram> all = gpu->count_all(views, 2);
  ASSERT_EQ(all.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_TRUE(all[i] == cpu::count_tuples(cases[i].view, 1)) << cases[i].name;
}

TEST(CudaEngine, DistanceTransformEqualsTheCpu) {
  REQUIRE_GPU();
  const std::unique_ptr<Engine> gpu = make_cuda_engine();
  std::mt19937 rng(31);
  Grid g;
  g.ndim = 3;
  g.shape = {37, 23, 11};
  g.spacing = {0.9, 1.3, 2.5};
  std::vector<int64_t> at;
  for (int64_t i = 0; i < g.voxels(); i += 7) at.push_back(i);
  at.push_back(g.voxels() - 1);
  for (double density : {0.0, 0.02, 0.4}) {
    std::bernoulli_distribution on(density);
    std::vector<uint8_t> feature(g.voxels());
    for (auto& v : feature) v = on(rng);
    std::vector<double> out(at.size(), -1.0), expected(at.size());
    gpu->squared_edt_at(feature.data(), g, at, out.data(), 2);
    squared_edt_at(feature.data(), g, at, expected.data(), 2);
    EXPECT_EQ(0, std::memcmp(out.data(), expected.data(), at.size() * sizeof(double)))
        << "density " << density;
  }
  // Boundary metrics through the engine (engine.h) equal the CPU's.
  std::bernoulli_distribution in(0.3);
  std::vector<std::vector<uint8_t>> masks(2, std::vector<uint8_t>(g.voxels()));
  for (auto& m : masks)
    for (auto& v : m) v = in(rng);
  const std::vector<const uint8_t*> ptrs = {masks[0].data(), masks[1].data()};
  const std::vector<BoundaryMetrics> cpu = boundary_matrix(ptrs, g, DistanceOptions{}, 2);
  const std::vector<BoundaryMetrics> dev = boundary_matrix(*gpu, ptrs, g, DistanceOptions{}, 2);
  ASSERT_EQ(cpu.size(), dev.size());
  EXPECT_EQ(0, std::memcmp(cpu.data(), dev.data(), cpu.size() * sizeof(BoundaryMetrics)));
}

// The share of free device memory a batch may take: one definition, in every build.
TEST(CudaBudget, SeventyPercentOfFreeMemory) {
  EXPECT_EQ(cuda::memory_budget(1000), 700);
  EXPECT_EQ(cuda::memory_budget(size_t{80} << 30), (int64_t{80} << 30) / 10 * 7);
  EXPECT_EQ(cuda::memory_budget(0), 0);
}

// The contents of the consensus masks and posteriors a run wrote, case by case.
std::vector<std::string> written_masks(const RunResult& r) {
  std::vector<std::string> contents;
  for (const CaseResult& c : r.cases) {
    std::vector<std::string> files;
    if (c.majority) files.push_back(c.majority->mask);
    if (c.mlstaple) files.push_back(c.mlstaple->mask);
    for (const StapleLabel& s : c.staple) {
      files.push_back(s.mask);
      files.push_back(s.posterior);
    }
    for (const std::string& f : files) {
      std::ifstream in(f, std::ios::binary);
      contents.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  return contents;
}

// The whole run on the sample data: the JSON report of the CUDA backend equals the CPU's but for
// the backend's name, and the written masks are identical.
TEST(CudaPipeline, ReportsEqualTheCpuReports) {
  REQUIRE_GPU();
  const std::string data = std::string(MASKEVAL_SOURCE_DIR) + "/data";
  struct Set {
    Dataset dataset;
    ForegroundRule rule;
    std::vector<Label> paint;
  };
  std::vector<Set> sets;
  sets.push_back({dataset_from_case_folders(data + "/bu-bil", "experts/*.png", "gold.png"),
                  ForegroundRule::parse("<128"),
                  {}});
  sets.push_back({dataset_from_case_folders(data + "/lidc", "reader*.png", ""),
                  ForegroundRule::parse("nonzero"),
                  {}});
  sets.push_back(
      {dataset_from_manifest(data + "/kits23/manifest.csv"), ForegroundRule{}, {1, 3, 2}});
  // Every set fused by majority and STAPLE; the label-map sets (BU-BIL, LIDC) by ML-STAPLE;
  // KiTS23 scored against its reference.
  struct Job {
    size_t set;
    Command command;
    FuseMethod method;
  };
  std::vector<Job> jobs;
  for (size_t s = 0; s < sets.size(); ++s)
    for (FuseMethod method : {FuseMethod::kMajority, FuseMethod::kStaple})
      jobs.push_back({s, Command::kFuse, method});
  jobs.push_back({0, Command::kFuse, FuseMethod::kMlStaple});
  jobs.push_back({1, Command::kFuse, FuseMethod::kMlStaple});
  jobs.push_back({2, Command::kScore, FuseMethod::kMajority});
  for (const Job& job : jobs) {
    const Set& set = sets[job.set];
    SCOPED_TRACE(testing::Message()
                 << "set " << job.set << ", command " << static_cast<int>(job.command)
                 << ", method " << static_cast<int>(job.method));
    test::TempDir out;
    std::string dumps[2];
    std::vector<std::string> masks[2];
    for (int k = 0; k < 2; ++k) {
      RunOptions o;
      o.command = job.command;
      o.method = job.method;
      o.against = ScoreAgainst::kReference;
      o.foreground = set.rule;
      o.paint_order = set.paint;
      o.out_dir = out / "out";
      o.distances = true;  // the distance transforms run on the device too
      o.backend = k == 0 ? Backend::kCpu : Backend::kCuda;
      RunResult r = run_dataset(set.dataset, o);
      EXPECT_EQ(r.backend, k == 0 ? "cpu" : "cuda");
      EXPECT_TRUE(r.failed.empty()) << r.failed[0].reason;
      EXPECT_FALSE(r.cases.empty());
      for (const CaseResult& c : r.cases) {
        if (job.method == FuseMethod::kMlStaple) {
          EXPECT_TRUE(c.mlstaple.has_value()) << c.id;
        }
        if (job.command == Command::kScore) {
          EXPECT_FALSE(c.scores.empty()) << c.id;
        }
      }
      r.backend = "";
      dumps[k] = report_json(r, summarize(r, 10), o).dump();
      masks[k] = written_masks(r);
    }
    EXPECT_EQ(dumps[0], dumps[1]);
    EXPECT_EQ(masks[0], masks[1]);
  }
}

Grid edt_grid(int ndim, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz) {
  Grid g;
  g.ndim = ndim;
  g.shape = {nx, ny, ndim == 3 ? nz : 1};
  g.spacing = {sx, sy, ndim == 3 ? sz : 1.0};
  return g;
}

TEST(CudaDistance, TransformEqualsTheCpuBitForBit) {
  REQUIRE_GPU();
  std::mt19937 rng(17);
  const std::vector<Grid> grids = {
      edt_grid(2, 1, 1, 1, 1, 1, 1),          edt_grid(2, 129, 67, 1, 0.7, 1.9, 1),
      edt_grid(2, 1, 300, 1, 1, 0.3, 1),      edt_grid(3, 33, 17, 9, 0.8, 1.1, 3.0),
      edt_grid(3, 1, 130, 5, 1, 0.5, 2.0),    edt_grid(3, 70, 1, 41, 0.9, 1, 0.6),
      edt_grid(3, 97, 131, 23, 0.73, 0.73, 5)};
  for (const Grid& g : grids) {
    for (double density : {0.0, 0.002, 0.05, 0.5}) {
      std::bernoulli_distribution on(density), need(0.01);
      std::vector<uint8_t> feature(g.voxels()), needed(g.voxels());
      for (auto& v : feature) v = on(rng);
      for (auto& v : needed) v = need(rng);
      const uint8_t* choices[2] = {nullptr, needed.data()};
      for (const uint8_t* wanted : choices) {
        std::vector<double> cpu(g.voxels()), gpu(g.voxels(), -1.0);
        squared_edt(feature.data(), g, cpu.data(), wanted, 2);
        cuda::squared_edt(feature.data(), g, gpu.data(), wanted);
        for (int64_t i = 0; i < g.voxels(); ++i) {
          if (wanted && !wanted[i]) continue;  // only needed voxels are promised
          ASSERT_EQ(std::memcmp(&cpu[i], &gpu[i], sizeof(double)), 0)
              << "voxel " << i << " of " << g.shape[0] << "x" << g.shape[1] << "x" << g.shape[2]
              << ", density " << density << ": cpu " << cpu[i] << " gpu " << gpu[i];
        }
      }
    }
  }
}

TEST(CudaDistance, BoundaryMatricesEqualTheCpu) {
  REQUIRE_GPU();
  std::mt19937 rng(23);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 6; ++trial) {
    const Grid g =
        trial % 2 ? edt_grid(3, 40, 31, 12, 0.8, 0.8, 2.5) : edt_grid(2, 150, 90, 1, 0.5, 0.9, 1);
    std::vector<std::vector<uint8_t>> masks(3, std::vector<uint8_t>(g.voxels()));
    for (auto& m : masks) {
      const double cx = u(rng) * g.shape[0], cy = u(rng) * g.shape[1], cz = u(rng) * g.shape[2];
      const double r = 3 + u(rng) * 10;
      for (int64_t i = 0; i < g.voxels(); ++i) {
        const double x = i % g.shape[0], y = (i / g.shape[0]) % g.shape[1],
                     z = i / (g.shape[0] * g.shape[1]);
        m[i] = std::hypot(x - cx, y - cy, z - cz) < r || u(rng) < 0.01;
      }
    }
    const std::vector<const uint8_t*> ptrs = {masks[0].data(), masks[1].data(), masks[2].data()};
    for (auto c : {DistanceConvention::kMonai, DistanceConvention::kMedpy, DistanceConvention::kItk,
                   DistanceConvention::kDeepmind}) {
      DistanceOptions o;
      o.convention = c;
      const auto cpu = boundary_matrix(ptrs, g, o, 2);
      const auto gpu = boundary_matrix(ptrs, g, o, 2, cuda::squared_edt_at);
      ASSERT_EQ(cpu.size(), gpu.size());
      for (size_t k = 0; k < cpu.size(); ++k) {
        SCOPED_TRACE(testing::Message()
                     << "trial " << trial << " " << convention_name(c) << " " << k);
        EXPECT_EQ(std::memcmp(&cpu[k], &gpu[k], sizeof(BoundaryMetrics)), 0);
        EXPECT_EQ(cpu[k].hd, gpu[k].hd);
        EXPECT_EQ(cpu[k].hd_percentile, gpu[k].hd_percentile);
        EXPECT_EQ(cpu[k].assd, gpu[k].assd);
        EXPECT_EQ(cpu[k].nsd, gpu[k].nsd);
      }
    }
  }
}

TEST(CudaCopy, CeilingIsMeasured) {
  REQUIRE_GPU();
  EXPECT_GT(cuda::copy_ceiling(int64_t{64} << 20), 1e10);  // any GPU copies over 10 GB/s
}

}  // namespace
}  // namespace maskeval
