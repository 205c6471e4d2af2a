// The CUDA engine against the CPU engine: every count and every figure identical; its memory
// budget, slabs and fallbacks to the CPU. Skipped where there is no CUDA device (ctest label
// gpu), failed instead with MASKEVAL_REQUIRE_GPU=1 (the GPU check sets it).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <type_traits>

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

// MASKEVAL_REQUIRE_GPU=1: a test that needs a device fails where none is usable, so that a GPU
// run cannot pass by skipping.
bool gpu_required() {
  const char* v = std::getenv("MASKEVAL_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

#define REQUIRE_GPU()                                                     \
  do {                                                                    \
    if (have_gpu()) break;                                                \
    if (gpu_required())                                                   \
      FAIL() << "no usable CUDA device (" << cuda_device_status().message \
             << ") and MASKEVAL_REQUIRE_GPU=1";                           \
    GTEST_SKIP() << "no CUDA device";                                     \
  } while (0)

// A value as the failure messages show it: integers as numbers, floating point to the last bit.
template <class T>
std::string shown(T v) {
  std::ostringstream o;
  if constexpr (std::is_floating_point_v<T>) {
    o << std::setprecision(std::numeric_limits<T>::max_digits10) << v;
  } else {
    o << +v;
  }
  return o.str();
}

// Bit-for-bit equality of two arrays of n values; on failure, the first voxel that differs.
template <class T>
testing::AssertionResult same_values(const T* got, const T* want, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0)
      return testing::AssertionFailure() << "first difference at voxel " << i << " of " << n << ": "
                                         << shown(got[i]) << ", expected " << shown(want[i]);
  return testing::AssertionSuccess();
}
template <class T>
testing::AssertionResult same_values(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size())
    return testing::AssertionFailure() << got.size() << " values, expected " << want.size();
  return same_values(got.data(), want.data(), got.size());
}

std::string entry_text(const TupleHistogram& h, size_t row, bool unanimous) {
  std::ostringstream o;
  if (unanimous) {
    if (row >= h.unanimous_labels.size()) return "none";
    o << "label " << h.unanimous_labels[row] << " x "
      << (row < h.unanimous_counts.size() ? h.unanimous_counts[row] : 0);
    return o.str();
  }
  if (row >= h.rows()) return "none";
  o << "(";
  for (int r = 0; r < h.raters; ++r) o << (r ? "," : "") << h.tuple(row)[r];
  o << ") x " << h.counts[row];
  return o.str();
}

// Equality of two histograms; on failure, the first bin that differs (a unanimous label or a
// mixed row, with its tuple and count).
testing::AssertionResult same_histogram(const TupleHistogram& got, const TupleHistogram& want) {
  if (got.raters != want.raters || got.voxels != want.voxels)
    return testing::AssertionFailure()
           << got.raters << " raters, " << got.voxels << " voxels; expected " << want.raters << ", "
           << want.voxels;
  const size_t u = std::max(got.unanimous_labels.size(), want.unanimous_labels.size());
  for (size_t i = 0; i < u; ++i)
    if (entry_text(got, i, true) != entry_text(want, i, true))
      return testing::AssertionFailure()
             << "unanimous bin " << i << ": " << entry_text(got, i, true) << ", expected "
             << entry_text(want, i, true);
  for (size_t row = 0; row < std::max(got.rows(), want.rows()); ++row)
    if (entry_text(got, row, false) != entry_text(want, row, false))
      return testing::AssertionFailure()
             << "mixed row " << row << " of " << want.rows() << ": " << entry_text(got, row, false)
             << ", expected " << entry_text(want, row, false);
  if (!(got == want)) return testing::AssertionFailure() << "the histograms differ";
  return testing::AssertionSuccess();
}

// Bit-for-bit equality of boundary metrics; on failure, the first pair that differs.
testing::AssertionResult same_metrics(const std::vector<BoundaryMetrics>& got,
                                      const std::vector<BoundaryMetrics>& want) {
  if (got.size() != want.size())
    return testing::AssertionFailure() << got.size() << " pairs, expected " << want.size();
  for (size_t k = 0; k < got.size(); ++k) {
    if (std::memcmp(&got[k], &want[k], sizeof(BoundaryMetrics)) == 0) continue;
    auto text = [](const BoundaryMetrics& m) {
      return "hd " + shown(m.hd) + ", hd_percentile " + shown(m.hd_percentile) + ", assd " +
             shown(m.assd) + ", nsd " + shown(m.nsd) + ", hd_ab " + shown(m.hd_ab) + ", hd_ba " +
             shown(m.hd_ba);
    };
    return testing::AssertionFailure()
           << "pair " << k << ": " << text(got[k]) << "; expected " << text(want[k]);
  }
  return testing::AssertionSuccess();
}

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
    EXPECT_TRUE(same_histogram(h[0], cpu::count_tuples(c.view, 2)));
    EXPECT_TRUE(same_histogram(device.count()[0], h[0]));  // counting twice gives the same
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
    EXPECT_TRUE(same_histogram(batch[i], cpu::count_tuples(cases[i].view, 1)));
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
    ASSERT_TRUE(same_histogram(h[i], cpu::count_tuples(cases[i].view, 1))) << i;
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
      EXPECT_TRUE(same_values(gm, cm)) << "majority";
      EXPECT_TRUE(same_values(ga, ca)) << "agreement";
      EXPECT_TRUE(same_values(ge, ce)) << "entropy";
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
    EXPECT_TRUE(same_values(gw, cw)) << "posterior";
    EXPECT_TRUE(same_values(gm, cm)) << "mask";
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
    EXPECT_TRUE(same_values(g, k));
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
    EXPECT_TRUE(same_values(gm, cm)) << "majority";
    EXPECT_TRUE(same_values(ga, ca)) << "agreement";
    EXPECT_TRUE(same_values(gk, ck)) << "mask";
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
    EXPECT_TRUE(same_histogram(h, cpu::count_tuples(c.view, 2)));
    EXPECT_TRUE(same_histogram(h, k->histogram()));
    const VoteRule rule{TiePolicy::kLowest,
                        static_cast<Label>(std::min<int>(c.view.max_label + 1, kMaxLabel)),
                        static_cast<int>(label_counts(h).size())};
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<Label> gm(n, 7777), cm(n);
    std::vector<float> ga(n, -1.0f), ca(n), ge(n, -1.0f), ce(n);
    gpu->write(*g, vote_table(h, rule, {gm.data(), ga.data(), ge.data()}), 2);
    host->write(*k, vote_table(k->histogram(), rule, {cm.data(), ca.data(), ce.data()}), 2);
    EXPECT_TRUE(same_values(gm, cm)) << "majority";
    EXPECT_TRUE(same_values(ga, ca)) << "agreement";
    EXPECT_TRUE(same_values(ge, ce)) << "entropy";
    if (c.view.max_label >= kMaxMlStapleLabels) continue;
    const MlStapleResult result = mlstaple(h, {});
    std::vector<Label> gl(n, 7777), cl(n);
    gpu->write(*g, mlstaple_table(h, result, gl.data()), 2);
    host->write(*k, mlstaple_table(k->histogram(), result, cl.data()), 2);
    EXPECT_TRUE(same_values(gl, cl)) << "mlstaple";
  }
  const std::vector<TupleHistogram> all = gpu->count_all(views, 2);
  ASSERT_EQ(all.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_TRUE(same_histogram(all[i], cpu::count_tuples(cases[i].view, 1))) << cases[i].name;
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
    EXPECT_TRUE(same_values(out, expected)) << "density " << density;
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
  EXPECT_TRUE(same_metrics(dev, cpu));
}

// The share of free device memory a batch may take: one definition, in every build.
TEST(CudaBudget, SeventyPercentOfFreeMemory) {
  EXPECT_EQ(cuda::memory_budget(1000), 700);
  EXPECT_EQ(cuda::memory_budget(size_t{80} << 30), (int64_t{80} << 30) / 10 * 7);
  EXPECT_EQ(cuda::memory_budget(0), 0);
  // --device-memory-limit caps it (less what the engine holds, never below 0).
  EXPECT_EQ(cuda::memory_budget(1000, 500), 500);
  EXPECT_EQ(cuda::memory_budget(1000, 900), 700);
  EXPECT_EQ(cuda::memory_budget(1000, 0), 0);
  EXPECT_EQ(cuda::memory_budget(1000, -5), 0);
}

// A view of `raters` arrays of `voxels` labels (contents irrelevant to the footprint).
CaseView shape_view(int raters, int64_t voxels, int label_bytes, Label max_label) {
  static const std::vector<uint8_t> none(1);
  CaseView v;
  v.voxels = voxels;
  v.label_bytes = label_bytes;
  v.max_label = max_label;
  v.raters.assign(raters, none.data());
  return v;
}

// The footprint (pure host arithmetic: runs without a device in a CUDA build) counts what each
// path allocates, and only the outputs asked for.
TEST(CudaBudget, FootprintFollowsWhatEachPathAllocates) {
  if (!cuda_device_status().built) GTEST_SKIP() << "built without CUDA";
  const int64_t n = 1000000;
  // Dense (3 binary raters): the masks (padded to 16 bytes) and 2^3 bins, a few bytes more.
  const int64_t dense = cuda::device_footprint(shape_view(3, n, 1, 1)).count;
  EXPECT_GE(dense, 3 * n + 8 * 8);
  EXPECT_LE(dense, 3 * n + 8 * 8 + 3 * 16 + 4096);
  // Packed (5 raters, 19 labels: 25 bits): also per voxel a key, the sort's copy and tile
  // state, a distinct key and its count.
  const int64_t packed = cuda::device_footprint(shape_view(5, n, 1, 19)).count;
  EXPECT_GE(packed, 5 * n + 33 * n);
  EXPECT_LE(packed, 5 * n + 33 * n + (int64_t{2} << 20));
  // Wider than 64 bits: counted on the host, nothing on the device.
  EXPECT_EQ(cuda::device_footprint(shape_view(65, n, 1, 1)).count, 0);
  EXPECT_GT(cuda::device_footprint(shape_view(64, n, 1, 1)).count, 0);  // 64 bits: packed
  // The write pass: only the columns that have an output.
  const CaseView v = shape_view(3, n, 1, 1);
  std::vector<uint16_t> out16(1);
  std::vector<float> out32(1);
  WriteTable all(3);
  for (WriteColumn& c : all) c.labels.assign(4, 0);
  all[0].type = WriteType::kU16;
  all[1].type = all[2].type = WriteType::kF32;
  all[1].values.assign(4, 0.0f);
  all[2].values.assign(4, 0.0f);
  WriteTable none = all;
  EXPECT_EQ(cuda::device_footprint(v, &none).write, 0);
  WriteTable one = all;
  one[0].out = out16.data();
  all[0].out = out16.data();
  all[1].out = all[2].out = out32.data();
  const int64_t w1 = cuda::device_footprint(v, &one).write,
                w3 = cuda::device_footprint(v, &all).write;
  EXPECT_GE(w1, 2 * n);
  EXPECT_LT(w1, 2 * n + 4096);
  EXPECT_GE(w3, 2 * n + 8 * n);
  EXPECT_LT(w3, 2 * n + 8 * n + 4096);
  EXPECT_EQ(cuda::device_footprint(v, &all).count, cuda::device_footprint(v).count);
}

// Slabs: the whole case when it fits, else the longest run of 16-voxel groups that does.
TEST(CudaBudget, SlabsAreTheLongestThatFit) {
  if (!cuda_device_status().built) GTEST_SKIP() << "built without CUDA";
  for (const CaseView& v : {shape_view(13, 1000003, 1, 1), shape_view(5, 777777, 1, 19),
                            shape_view(4, 262147, 2, 4), shape_view(64, 300001, 1, 1)}) {
    const int64_t whole = cuda::device_footprint(v).count;
    EXPECT_EQ(cuda::slab_voxels(v, whole), v.voxels);
    for (int64_t budget : {whole - 1, whole / 3, whole / 10}) {
      const int64_t slab = cuda::slab_voxels(v, budget);
      ASSERT_GT(slab, 0) << budget;
      EXPECT_LT(slab, v.voxels);
      EXPECT_EQ(slab % 16, 0);
      CaseView part = v;
      part.voxels = slab;
      EXPECT_LE(cuda::device_footprint(part).count, budget);
      part.voxels = slab + 16;
      EXPECT_GT(cuda::device_footprint(part).count, budget);
    }
    EXPECT_EQ(cuda::slab_voxels(v, 1), 0);  // not even the smallest slab: the CPU counts it
  }
}

// Cases counted in slabs (the budget capped so that each takes several) equal the CPU's.
TEST(CudaSlab, CasesCountedInSlabsMatchTheCpu) {
  REQUIRE_GPU();
  for (const Case& c : assorted_cases()) {
    if (c.view.voxels < 100000) continue;
    SCOPED_TRACE(c.name);
    const int64_t whole = cuda::device_footprint(c.view).count;
    if (whole == 0) continue;  // wider than 64 bits: no slabs
    const int64_t cap = whole / 3;
    const int64_t slab = cuda::slab_voxels(c.view, cap);
    ASSERT_GT(slab, 0);
    ASSERT_LT(slab * 2, c.view.voxels);  // three slabs or more
    cuda::CountOptions o;
    o.memory_cap = cap;
    const std::vector<TupleHistogram> h = cuda::count_tuples({c.view, c.view}, o);
    ASSERT_EQ(h.size(), 2u);
    const TupleHistogram cpu = cpu::count_tuples(c.view, 2);
    EXPECT_TRUE(same_histogram(h[0], cpu));
    EXPECT_TRUE(same_histogram(h[1], cpu));
  }
}

// Long runs of labels per rater: a case that is large on the device (above the batches' 16 MB).
Case large_case(int raters, int labels, int64_t voxels, uint32_t seed) {
  std::mt19937 rng(seed);
  return make_case(rng, raters, labels, voxels, 1, 0.01, 400);
}

// Vote maps of a counted case through an engine, against the CPU's.
void expect_vote_maps_equal(Engine& engine, Engine::Counted& counted) {
  const CaseView& v = counted.view();
  const TupleHistogram& h = counted.histogram();
  const VoteRule rule{TiePolicy::kUndecided,
                      static_cast<Label>(std::min<int>(v.max_label + 1, kMaxLabel)),
                      static_cast<int>(label_counts(h).size())};
  const size_t n = static_cast<size_t>(v.voxels);
  std::vector<Label> gm(n, 7777), cm(n);
  std::vector<float> ga(n, -1.0f), ca(n), ge(n, -1.0f), ce(n);
  engine.write(counted, vote_table(h, rule, {gm.data(), ga.data(), ge.data()}), 2);
  cpu::vote_maps(v, rule, {cm.data(), ca.data(), ce.data()}, 2);
  EXPECT_TRUE(same_values(gm, cm)) << "majority";
  EXPECT_TRUE(same_values(ga, ca)) << "agreement";
  EXPECT_TRUE(same_values(ge, ce)) << "entropy";
}

bool has_note(const std::vector<std::string>& notes, const std::string& start) {
  for (const std::string& n : notes)
    if (n.rfind(start, 0) == 0) return true;
  return false;
}

std::string notes_text(const std::vector<std::string>& notes) {
  std::string t;
  for (const std::string& n : notes) t += "[" + n + "] ";
  return t;
}

// The engine under --device-memory-limit: a case above it is counted in slabs (equal to the
// CPU), written by the CPU engine, and its notes say so.
TEST(CudaSlab, EngineUnderAMemoryLimitCountsInSlabs) {
  REQUIRE_GPU();
  const Case dense = large_case(13, 2, 1600003, 5), packed = large_case(5, 19, 900001, 6);
  for (const Case* c : {&dense, &packed}) {
    SCOPED_TRACE(c->name);
    const int64_t whole = cuda::device_footprint(c->view).count;
    ASSERT_GT(whole, int64_t{16} << 20);  // too large for the batches: counted alone
    const int64_t limit = whole / 4;
    ASSERT_GT(cuda::slab_voxels(c->view, limit), 0);
    const std::unique_ptr<Engine> engine = make_cuda_engine(limit);
    engine->add_worker();
    engine->take_notes();
    const std::unique_ptr<Engine::Counted> counted = engine->count(c->view, 2);
    EXPECT_TRUE(same_histogram(counted->histogram(), cpu::count_tuples(c->view, 2)));
    expect_vote_maps_equal(*engine, *counted);
    const std::vector<std::string> notes = engine->take_notes();
    EXPECT_TRUE(has_note(notes, "written on the CPU: counted in slabs")) << notes_text(notes);
    EXPECT_FALSE(has_note(notes, "counted on the CPU")) << notes_text(notes);
    EXPECT_EQ(engine->run_note(), "");
    engine->remove_worker();
  }
}

// Under a limit the cases fit: kept on the device, written there, no notes.
TEST(CudaSlab, CasesWithinTheLimitStayOnTheDevice) {
  REQUIRE_GPU();
  const Case c = large_case(13, 2, 1600003, 7);
  const std::unique_ptr<Engine> engine =
      make_cuda_engine(cuda::device_footprint(c.view).count + (int64_t{64} << 20));
  engine->take_notes();
  const std::unique_ptr<Engine::Counted> counted = engine->count(c.view, 2);
  EXPECT_TRUE(same_histogram(counted->histogram(), cpu::count_tuples(c.view, 2)));
  expect_vote_maps_equal(*engine, *counted);
  EXPECT_TRUE(engine->take_notes().empty());
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

// Equality of two texts (reports); on failure, where they first differ, with some context.
testing::AssertionResult same_text(const std::string& got, const std::string& want) {
  if (got == want) return testing::AssertionSuccess();
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  const size_t from = i < 60 ? 0 : i - 60;
  return testing::AssertionFailure()
         << "first difference at character " << i << ": ..." << got.substr(from, 120)
         << "... expected ..." << want.substr(from, 120) << "...";
}

// Equality of written files' contents; on failure, the first file and byte that differ.
testing::AssertionResult same_files(const std::vector<std::string>& got,
                                    const std::vector<std::string>& want) {
  if (got.size() != want.size())
    return testing::AssertionFailure() << got.size() << " files, expected " << want.size();
  for (size_t f = 0; f < got.size(); ++f) {
    if (got[f] == want[f]) continue;
    size_t i = 0;
    while (i < got[f].size() && i < want[f].size() && got[f][i] == want[f][i]) ++i;
    return testing::AssertionFailure()
           << "file " << f << " differs first at byte " << i << " of " << want[f].size();
  }
  return testing::AssertionSuccess();
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
    EXPECT_TRUE(same_text(dumps[1], dumps[0]));
    EXPECT_TRUE(same_files(masks[1], masks[0]));
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
        EXPECT_TRUE(same_metrics({gpu[k]}, {cpu[k]}));
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

// A limit so small that nothing fits, not even a slab: every case is counted and written by
// the CPU engine, equal to it, and its notes say why; the distance transforms too.
TEST(CudaFallback, NothingFitsUnderATinyLimit) {
  REQUIRE_GPU();
  const std::unique_ptr<Engine> engine = make_cuda_engine(1);
  engine->add_worker();
  const std::vector<Case> cases = assorted_cases();
  std::vector<CaseView> views;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    views.push_back(c.view);
    engine->take_notes();
    const std::unique_ptr<Engine::Counted> counted = engine->count(c.view, 2);
    EXPECT_TRUE(same_histogram(counted->histogram(), cpu::count_tuples(c.view, 2)));
    expect_vote_maps_equal(*engine, *counted);
    const std::vector<std::string> notes = engine->take_notes();
    if (cuda::device_footprint(c.view).count == 0) {
      EXPECT_TRUE(notes.empty()) << notes_text(notes);  // wide: on the CPU by design
    } else {
      EXPECT_TRUE(has_note(notes, "counted on the CPU: device memory short")) << notes_text(notes);
    }
  }
  const std::vector<TupleHistogram> all = engine->count_all(views, 2);
  ASSERT_EQ(all.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_TRUE(same_histogram(all[i], cpu::count_tuples(cases[i].view, 1))) << cases[i].name;
  Grid g;
  g.ndim = 3;
  g.shape = {37, 23, 11};
  g.spacing = {0.9, 1.3, 2.5};
  std::mt19937 rng(3);
  std::bernoulli_distribution on(0.05);
  std::vector<uint8_t> feature(g.voxels());
  for (auto& v : feature) v = on(rng);
  std::vector<int64_t> at;
  for (int64_t i = 0; i < g.voxels(); i += 5) at.push_back(i);
  std::vector<double> out(at.size(), -1.0), expected(at.size());
  engine->take_notes();
  engine->squared_edt_at(feature.data(), g, at, out.data(), 2);
  squared_edt_at(feature.data(), g, at, expected.data(), 2);
  EXPECT_TRUE(same_values(out, expected));
  EXPECT_TRUE(has_note(engine->take_notes(), "distance transform on the CPU"));
  EXPECT_EQ(engine->run_note(), "");  // memory short is no device error
  engine->remove_worker();
}

// Device memory held so that about `leave` bytes stay free (a little less than all of the rest
// may be allocatable in one piece: the hold shrinks until it fits); null when none fits.
std::unique_ptr<cuda::DeviceHold> hold_all_but(int64_t leave) {
  size_t free_bytes = 0;
  if (!cuda::free_device_memory(&free_bytes)) return nullptr;
  int64_t hold = static_cast<int64_t>(free_bytes) - leave;
  for (int attempt = 0; attempt < 256 && hold > 0; ++attempt, hold -= int64_t{2} << 20) {
    try {
      return std::make_unique<cuda::DeviceHold>(hold);
    } catch (const CudaError&) {
    }
  }
  return nullptr;
}

// An allocation that fails on the device is a CudaError that leaves the device usable, and the
// next allocation works.
TEST(CudaFallback, AFailedAllocationLeavesTheDeviceUsable) {
  REQUIRE_GPU();
  const Case c = large_case(13, 2, 1600003, 8);
  {
    const int64_t need = cuda::device_footprint(c.view).count;
    const std::unique_ptr<cuda::DeviceHold> hold = hold_all_but(need / 4);
    ASSERT_TRUE(hold);
    size_t free_bytes = 0;
    ASSERT_TRUE(cuda::free_device_memory(&free_bytes));
    ASSERT_LT(static_cast<int64_t>(free_bytes), need) << "could not leave the device short";
    EXPECT_THROW({ cuda::DeviceCases device({c.view}); }, CudaError);
    EXPECT_FALSE(cuda::device_lost());
  }
  cuda::DeviceCases device({c.view});
  EXPECT_TRUE(same_histogram(device.count()[0], cpu::count_tuples(c.view, 2)));
}

// A bad case submitted with good ones from other workers fails alone (it is checked before it
// joins a device batch); the others get their histograms.
TEST(CudaFallback, ABadCaseFailsOnlyItsSubmitter) {
  REQUIRE_GPU();
  const std::unique_ptr<Engine> engine = make_cuda_engine();
  std::mt19937 rng(12);
  std::vector<Case> cases;
  for (int i = 0; i < 16; ++i) cases.push_back(make_case(rng, 3, 2, 5000 + 17 * i, 1, 0.02, 200));
  CaseView bad = cases[5].view;
  bad.raters[1] = nullptr;  // no array for rater 1
  CaseView wide_labels = cases[9].view;
  wide_labels.label_bytes = 3;
  constexpr int kWorkers = 8;
  for (int w = 0; w < kWorkers; ++w) engine->add_worker();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0}, rejected{0};
  for (int w = 0; w < kWorkers; ++w)
    threads.emplace_back([&, w] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = w; i < cases.size(); i += kWorkers) {
          const CaseView& v = i == 5 ? bad : (i == 9 ? wide_labels : cases[i].view);
          try {
            const std::unique_ptr<Engine::Counted> c = engine->count(v, 1);
            if (!(c->histogram() == cpu::count_tuples(cases[i].view, 1))) ++wrong;
          } catch (const std::invalid_argument&) {
            if (i == 5 || i == 9) {
              ++rejected;
            } else {
              ++wrong;
            }
          }
        }
      }
      engine->remove_worker();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(rejected.load(), 6);  // each bad case, every round, and nothing else
}

// 64 binary raters: keys exactly 64 bits wide, the packed path at its edge; and 32 raters with
// 3 labels (2 bits each). Counting, writing and the engine equal the CPU.
TEST(CudaWide, SixtyFourBitKeysUseThePackedPath) {
  REQUIRE_GPU();
  std::mt19937 rng(64);
  const std::unique_ptr<Engine> engine = make_cuda_engine();
  for (const auto& shape : {std::pair<int, int>{64, 2}, std::pair<int, int>{32, 3}}) {
    const Case c = make_case(rng, shape.first, shape.second, 200003, 1, 0.01, 300);
    SCOPED_TRACE(c.name);
    ASSERT_GT(cuda::device_footprint(c.view).count, 0);  // on the device, not the host
    const TupleHistogram cpu = cpu::count_tuples(c.view, 2);
    cuda::DeviceCases device({c.view});
    const TupleHistogram h = device.count()[0];
    EXPECT_TRUE(same_histogram(h, cpu));
    // Many mixed tuples, some where the last rater (the key's top bits) differs from the first.
    EXPECT_GT(h.rows(), 100u);
    bool top = false;
    for (size_t row = 0; row < h.rows(); ++row)
      top = top || h.tuple(row)[h.raters - 1] != h.tuple(row)[0];
    EXPECT_TRUE(top);
    const std::unique_ptr<Engine::Counted> counted = engine->count(c.view, 2);
    EXPECT_TRUE(same_histogram(counted->histogram(), cpu));
    expect_vote_maps_equal(*engine, *counted);
    const BinaryPatterns p = binary_patterns(h, 1);
    const StapleResult r = staple(p, {});
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<float> gw(n, -1.0f), cw(n);
    std::vector<uint8_t> gm(n, 7), cm(n);
    device.write(0, h, staple_table(h, 1, p, r, 0.5, gw.data(), gm.data()));
    cpu::staple_maps(c.view, 1, p, r, 0.5, cw.data(), cm.data(), 2);
    EXPECT_TRUE(same_values(gw, cw)) << "posterior";
    EXPECT_TRUE(same_values(gm, cm)) << "mask";
  }
}

// 65 binary raters: wider than 64 bits, counted and written by the CPU engine with the caller's
// threads, without a note (by design), equal to the CPU.
TEST(CudaWide, SixtyFiveRatersGoToTheCpu) {
  REQUIRE_GPU();
  std::mt19937 rng(65);
  const Case c = make_case(rng, 65, 2, 100003, 1, 0.01, 300);
  EXPECT_EQ(cuda::device_footprint(c.view).count, 0);
  const std::unique_ptr<Engine> engine = make_cuda_engine();
  engine->take_notes();
  const std::unique_ptr<Engine::Counted> counted = engine->count(c.view, 4);
  EXPECT_TRUE(same_histogram(counted->histogram(), cpu::count_tuples(c.view, 2)));
  expect_vote_maps_equal(*engine, *counted);
  EXPECT_TRUE(engine->take_notes().empty());
  // The batch path of cuda::count_tuples and DeviceCases take them too.
  EXPECT_TRUE(same_histogram(cuda::count_tuples({c.view})[0], counted->histogram()));
  cuda::DeviceCases device({c.view});
  EXPECT_TRUE(same_histogram(device.count()[0], counted->histogram()));
}

// Vote maps with some outputs not asked for (null pointers): the others equal the CPU's, on
// DeviceCases and through the engine (which sends only the columns asked for).
TEST(CudaVote, SomeOutputsNotAskedFor) {
  REQUIRE_GPU();
  const std::unique_ptr<Engine> engine = make_cuda_engine();
  for (const Case& c : assorted_cases()) {
    SCOPED_TRACE(c.name);
    cuda::DeviceCases device({c.view});
    const TupleHistogram h = device.count()[0];
    const std::unique_ptr<Engine::Counted> counted = engine->count(c.view, 2);
    const VoteRule rule{TiePolicy::kLowest,
                        static_cast<Label>(std::min<int>(c.view.max_label + 1, kMaxLabel)),
                        static_cast<int>(label_counts(h).size())};
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<Label> cm(n);
    std::vector<float> ca(n), ce(n);
    cpu::vote_maps(c.view, rule, {cm.data(), ca.data(), ce.data()}, 2);
    for (int asked = 1; asked < 7; ++asked) {  // every non-empty subset but all three
      SCOPED_TRACE(asked);
      for (int via_engine = 0; via_engine < 2; ++via_engine) {
        std::vector<Label> gm(n, 7777);
        std::vector<float> ga(n, -1.0f), ge(n, -1.0f);
        const VoteMaps out{asked & 1 ? gm.data() : nullptr, asked & 2 ? ga.data() : nullptr,
                           asked & 4 ? ge.data() : nullptr};
        if (via_engine) {
          engine->write(*counted, vote_table(counted->histogram(), rule, out), 2);
        } else {
          device.write(0, h, vote_table(h, rule, out));
        }
        if (asked & 1) {
          EXPECT_TRUE(same_values(gm, cm)) << "majority, engine " << via_engine;
        }
        if (asked & 2) {
          EXPECT_TRUE(same_values(ga, ca)) << "agreement, engine " << via_engine;
        }
        if (asked & 4) {
          EXPECT_TRUE(same_values(ge, ce)) << "entropy, engine " << via_engine;
        }
      }
    }
  }
}

// Binary STAPLE of several labels of one multi-label case, all on one resident batch (each case
// not the first of it), equal to the CPU's for each label.
TEST(CudaStaple, SeveralLabelsOfOneCase) {
  REQUIRE_GPU();
  std::mt19937 rng(41);
  std::vector<Case> cases;
  cases.push_back(make_case(rng, 3, 2, 4099, 1, 0.05, 100));
  cases.push_back(make_case(rng, 5, 19, 777777, 1, 0.01, 400));
  cases.push_back(make_case(rng, 4, 4, 262147, 2, 0.05, 100));
  cases.push_back(make_case(rng, 6, 300, 150001, 2, 0.02, 50));
  std::vector<CaseView> views;
  for (const Case& c : cases) views.push_back(c.view);
  cuda::DeviceCases device(views);
  const std::vector<TupleHistogram> hs = device.count();
  for (size_t i = 1; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    const size_t n = static_cast<size_t>(c.view.voxels);
    for (Label label : {Label{0}, Label{1}, Label{2}, Label{3}, c.view.max_label}) {
      SCOPED_TRACE(label);
      const BinaryPatterns p = binary_patterns(hs[i], label);
      const StapleResult r = staple(p, {});
      std::vector<float> gw(n, -1.0f), cw(n);
      std::vector<uint8_t> gm(n, 7), cm(n);
      device.write(i, hs[i], staple_table(hs[i], label, p, r, 0.5, gw.data(), gm.data()));
      cpu::staple_maps(c.view, label, p, r, 0.5, cw.data(), cm.data(), 2);
      EXPECT_TRUE(same_values(gw, cw)) << "posterior";
      EXPECT_TRUE(same_values(gm, cm)) << "mask";
    }
  }
}

// The distance transform's axes in several launches: distance.cu sizes the lines of one launch
// from free device memory (a quarter of it for work space), so with little left free a volume
// of 192x160x96 takes several launches per axis. Equal to the CPU, voxel for voxel.
TEST(CudaDistance, SplitAcrossLaunchesEqualsTheCpu) {
  REQUIRE_GPU();
  const Grid g = edt_grid(3, 192, 160, 96, 0.8, 1.1, 2.5);
  std::mt19937 rng(77);
  std::bernoulli_distribution on(0.001);
  std::vector<uint8_t> feature(g.voxels());
  for (auto& v : feature) v = on(rng);
  std::vector<double> cpu(g.voxels()), gpu(g.voxels(), -1.0);
  squared_edt(feature.data(), g, cpu.data(), nullptr, 8);
  {
    const std::unique_ptr<cuda::DeviceHold> hold = hold_all_but(int64_t{192} << 20);
    ASSERT_TRUE(hold);
    size_t free_bytes = 0;
    ASSERT_TRUE(cuda::free_device_memory(&free_bytes));
    ASSERT_LT(free_bytes, size_t{256} << 20) << "could not leave little free memory";
    cuda::squared_edt(feature.data(), g, gpu.data());
  }
  EXPECT_TRUE(same_values(gpu, cpu));
}

// A whole run under a limit so small that nothing fits (--device-memory-limit 1): the report
// equals the CPU backend's but for the backend's name and the notes, which every case has.
TEST(CudaFallback, ARunUnderATinyLimitEqualsTheCpuAndSaysSo) {
  REQUIRE_GPU();
  const std::string data = std::string(MASKEVAL_SOURCE_DIR) + "/data";
  const Dataset set = dataset_from_case_folders(data + "/bu-bil", "experts/*.png", "gold.png");
  test::TempDir out;
  std::string dumps[2];
  std::vector<std::string> masks[2];
  for (int k = 0; k < 2; ++k) {
    RunOptions o;
    o.command = Command::kFuse;
    o.method = FuseMethod::kStaple;
    o.foreground = ForegroundRule::parse("<128");
    o.out_dir = out / "out";
    o.distances = true;
    o.backend = k == 0 ? Backend::kCpu : Backend::kCuda;
    o.device_memory_limit = 1;
    RunResult r = run_dataset(set, o);
    ASSERT_TRUE(r.failed.empty()) << r.failed[0].reason;
    ASSERT_FALSE(r.cases.empty());
    EXPECT_EQ(r.engine_note, "");
    for (size_t i = 0; i < r.cases.size(); ++i) {
      CaseResult& c = r.cases[i];
      if (k == 1) {
        EXPECT_TRUE(has_note(c.engine_notes, "counted on the CPU: device memory short"))
            << c.id << ": " << notes_text(c.engine_notes);
        EXPECT_TRUE(has_note(c.engine_notes, "distance transform on the CPU"))
            << c.id << ": " << notes_text(c.engine_notes);
      } else {
        EXPECT_TRUE(c.engine_notes.empty()) << c.id;
      }
      c.engine_notes.clear();
    }
    r.backend = "";
    dumps[k] = report_json(r, summarize(r, 10), o).dump();
    masks[k] = written_masks(r);
  }
  EXPECT_TRUE(same_text(dumps[1], dumps[0]));
  EXPECT_TRUE(same_files(masks[1], masks[0]));
}

}  // namespace
}  // namespace maskeval
