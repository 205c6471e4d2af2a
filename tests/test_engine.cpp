// The engine interface, the write pass through tables and derived histograms, against
// per-voxel oracles on every key path.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "maskeval/engine.h"
#include "maskeval/write_tables.h"

namespace maskeval {
namespace {

// Columns of 16-bit labels owned by the test: a shared truth with per-column noise.
struct Columns16 {
  std::vector<std::vector<uint16_t>> cols;
  CaseView view;
  Columns16(std::mt19937& rng, int columns, int64_t n, int labels, double noise) {
    std::uniform_int_distribution<int> label(0, labels - 1);
    std::bernoulli_distribution flip(noise);
    std::vector<uint16_t> truth(n);
    for (auto& t : truth) t = static_cast<uint16_t>(label(rng));
    cols.assign(columns, truth);
    for (auto& c : cols)
      for (auto& l : c)
        if (flip(rng)) l = static_cast<uint16_t>(label(rng));
    view.voxels = n;
    view.label_bytes = 2;
    view.max_label = static_cast<Label>(std::max(1, labels - 1));
    for (auto& c : cols) view.raters.push_back(c.data());
  }
};

// (raters, labels): dense (3 x 2 bits), packed (6 x 3 bits), wide (20 x 4 bits).
const std::vector<std::pair<int, int>> kPaths = {{3, 4}, {6, 8}, {20, 16}};

TEST(Columns, ProjectionEqualsCountingTheColumns) {
  std::mt19937 rng(5);
  for (const auto& [r, labels] : kPaths) {
    Columns16 c(rng, r + 2, 5000, labels, 0.2);
    const TupleHistogram all = cpu::count_tuples(c.view, 2);
    CaseView first = c.view;
    first.raters.resize(r);
    EXPECT_TRUE(project(all, [r = r] {
                  std::vector<int> cols(r);
                  for (int i = 0; i < r; ++i) cols[i] = i;
                  return cols;
                }()) == cpu::count_tuples(first, 1));
    CaseView two;
    two.voxels = c.view.voxels;
    two.label_bytes = 2;
    two.max_label = c.view.max_label;
    two.raters = {c.view.raters[r + 1], c.view.raters[0]};
    EXPECT_TRUE(project(all, {r + 1, 0}) == cpu::count_tuples(two, 1));
  }
}

TEST(Columns, DerivedColumnsEqualCountingThemVoxelByVoxel) {
  std::mt19937 rng(6);
  for (const auto& [r, labels] : kPaths) {
    Columns16 c(rng, r, 4000, labels, 0.3);
    const TupleHistogram h = cpu::count_tuples(c.view, 1);
    const VoteRule rule{TiePolicy::kUndecided, static_cast<Label>(labels), labels};
    // Column 0's mask of label 1, and the majority of every column.
    const TupleHistogram derived = derive_histogram(h, 2, [&](size_t, const Label* t, Label* o) {
      o[0] = t[0] == 1;
      o[1] = vote_of(t, r, rule).majority;
    });
    std::vector<uint16_t> mask(c.view.voxels), major(c.view.voxels);
    for (int64_t i = 0; i < c.view.voxels; ++i) {
      std::vector<Label> t(r);
      for (int k = 0; k < r; ++k) t[k] = c.view.at(k, i);
      mask[i] = t[0] == 1;
      major[i] = vote_of(t.data(), r, rule).majority;
    }
    CaseView v;
    v.voxels = c.view.voxels;
    v.label_bytes = 2;
    v.max_label = static_cast<Label>(labels);
    v.raters = {mask.data(), major.data()};
    EXPECT_TRUE(derived == cpu::count_tuples(v, 1)) << r << " raters";
  }
}

TEST(Write, EveryPathEqualsThePerVoxelValues) {
  std::mt19937 rng(7);
  for (const auto& [r, labels] : kPaths) {
    Columns16 c(rng, r, 3001, labels, 0.25);  // not a multiple of the block
    const TupleHistogram h = cpu::count_tuples(c.view, 1);
    const VoteRule rule{TiePolicy::kLowest, 0, labels};
    const size_t n = static_cast<size_t>(c.view.voxels);
    std::vector<Label> major(n, 7777);
    std::vector<float> agree(n, -1);
    std::vector<uint8_t> mask(n, 9);
    WriteTable table = vote_table(h, rule, {major.data(), agree.data(), nullptr});
    table.push_back(mask_column(h, r - 1, 2, mask.data()));
    cpu::write(c.view, h, table, 3);
    for (size_t i = 0; i < n; ++i) {
      std::vector<Label> t(r);
      for (int k = 0; k < r; ++k) t[k] = c.view.at(k, static_cast<int64_t>(i));
      bool same = true;
      for (int k = 1; k < r; ++k) same = same && t[k] == t[0];
      const Vote v = vote_of(t.data(), r, rule);
      ASSERT_EQ(major[i], same ? t[0] : v.majority) << r << " raters, voxel " << i;
      ASSERT_EQ(agree[i], same ? 1.0f : static_cast<float>(v.agreement));
      ASSERT_EQ(mask[i], t[r - 1] == 2 ? 1 : 0);
    }
  }
}

TEST(Write, TablesOfTheRatersIgnoreTheColumnsAfterThem) {
  std::mt19937 rng(8);
  Columns16 c(rng, 5, 2000, 3, 0.3);  // 3 raters, then two more columns
  const TupleHistogram all = cpu::count_tuples(c.view, 1);
  CaseView raters = c.view;
  raters.raters.resize(3);
  const TupleHistogram h = cpu::count_tuples(raters, 1);
  const VoteRule rule{TiePolicy::kUndecided, 3, 3};
  const size_t n = 2000;
  std::vector<Label> a(n), b(n);
  std::vector<float> ea(n), eb(n);
  cpu::write(c.view, all, vote_table(all, rule, {a.data(), nullptr, ea.data()}, 3), 1);
  cpu::write(raters, h, vote_table(h, rule, {b.data(), nullptr, eb.data()}), 1);
  EXPECT_EQ(a, b);
  EXPECT_EQ(0, std::memcmp(ea.data(), eb.data(), n * sizeof(float)));
  const MlStapleResult ml = mlstaple(h, {});
  cpu::write(c.view, all, mlstaple_table(all, ml, a.data(), 3), 1);
  cpu::mlstaple_map(raters, ml, b.data(), 2);
  EXPECT_EQ(a, b);
}

TEST(Write, RejectsAHistogramOfAnotherCase) {
  std::mt19937 rng(9);
  Columns16 c(rng, 3, 100, 2, 0.1), d(rng, 3, 101, 2, 0.1);
  const TupleHistogram h = cpu::count_tuples(d.view, 1);
  std::vector<Label> out(100);
  EXPECT_THROW(cpu::write(c.view, h, vote_table(h, {}, {out.data(), nullptr, nullptr}), 1),
               std::invalid_argument);
}

TEST(Engine, CpuEngineCountsWritesAndTransformsLikeTheCpuFunctions) {
  std::mt19937 rng(10);
  const std::unique_ptr<Engine> engine = make_cpu_engine();
  EXPECT_STREQ(engine->name(), "cpu");
  Columns16 c(rng, 4, 64 * 48, 3, 0.2);
  const auto counted = engine->count(c.view, 2);
  EXPECT_TRUE(counted->histogram() == cpu::count_tuples(c.view, 1));
  EXPECT_TRUE(engine->count_all({c.view, c.view}, 1).at(1) == counted->histogram());
  std::vector<Label> a(c.view.voxels), b(c.view.voxels);
  const VoteRule rule{TiePolicy::kUndecided, 3, 3};
  engine->write(*counted, vote_table(counted->histogram(), rule, {a.data(), nullptr, nullptr}), 2);
  cpu::vote_maps(c.view, rule, {b.data(), nullptr, nullptr}, 1);
  EXPECT_EQ(a, b);
  // Boundary metrics through the engine equal the direct ones.
  Grid g;
  g.shape = {64, 48, 1};
  std::vector<std::vector<uint8_t>> masks(2, std::vector<uint8_t>(g.voxels()));
  for (int64_t i = 0; i < g.voxels(); ++i) {
    masks[0][i] = c.cols[0][i] == 1;
    masks[1][i] = c.cols[1][i] == 1;
  }
  const std::vector<const uint8_t*> p = {masks[0].data(), masks[1].data()};
  const auto direct = boundary_matrix(p, g, DistanceOptions{}, 1);
  const auto through = boundary_matrix(*engine, p, g, DistanceOptions{}, 1);
  ASSERT_EQ(direct.size(), through.size());
  for (size_t k = 0; k < direct.size(); ++k)
    EXPECT_EQ(0, std::memcmp(&direct[k], &through[k], sizeof(BoundaryMetrics)));
}

}  // namespace
}  // namespace maskeval
