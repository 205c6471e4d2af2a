// STAPLE on histograms against hand-worked values and the per-voxel oracle.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "maskeval/staple.h"

namespace maskeval {
namespace {

struct Binary {
  std::vector<std::vector<uint8_t>> masks;
  CaseView view;
  explicit Binary(std::vector<std::vector<uint8_t>> m) : masks(std::move(m)) {
    view.voxels = static_cast<int64_t>(masks.at(0).size());
    view.max_label = 1;
    for (auto& r : masks) view.raters.push_back(r.data());
  }
  std::vector<const uint8_t*> ptrs() const {
    std::vector<const uint8_t*> p;
    for (auto& r : masks) p.push_back(r.data());
    return p;
  }
};

StapleResult staple_of(const Binary& b, const StapleOptions& o = {}) {
  return staple(binary_patterns(cpu::count_tuples(b.view, 1), 1), o);
}

TEST(Staple, HandWorkedFirstRound) {
  // Patterns (1,1,1), (1,1,0), (1,0,0), (0,0,0): W0 = 1, 2/3, 1/3, 0 and g = 1/2.
  const Binary b({{1, 1, 1, 0}, {1, 1, 0, 0}, {1, 0, 0, 0}});
  StapleOptions one;
  one.max_iterations = 1;
  const StapleResult r = staple_of(b, one);
  EXPECT_DOUBLE_EQ(r.prior, 0.5);
  EXPECT_EQ(r.iterations, 1);
  EXPECT_FALSE(r.converged);
  // p_i = sum_{D_i=1} W / sum W with sum W = 2; q_i = sum_{D_i=0} (1-W) / sum (1-W) = .../2.
  EXPECT_NEAR(r.sensitivity[0], 1.0, 1e-15);
  EXPECT_NEAR(r.sensitivity[1], 5.0 / 6, 1e-15);
  EXPECT_NEAR(r.sensitivity[2], 0.5, 1e-15);
  EXPECT_NEAR(r.specificity[0], 0.5, 1e-15);
  EXPECT_NEAR(r.specificity[1], 5.0 / 6, 1e-15);
  EXPECT_NEAR(r.specificity[2], 1.0, 1e-15);
  // Rows in lexicographic order: 000, 100, 110, 111. For 110: alpha = 1 * 5/6 * 1/2 = 5/12,
  // beta = 1/2 * 1/6 * 1 = 1/12, W = 5/6. For 000: alpha = 0, W = 0. For 111: beta = 0, W = 1.
  ASSERT_EQ(r.posterior.size(), 4u);
  EXPECT_NEAR(r.posterior[0], 0.0, 1e-15);
  EXPECT_NEAR(r.posterior[2], 5.0 / 6, 1e-15);
  EXPECT_NEAR(r.posterior[3], 1.0, 1e-15);
  // For 100: alpha = 1 * 1/6 * 1/2 = 1/12, beta = 1/2 * 5/6 * 1 = 5/12: W = 1/6.
  EXPECT_NEAR(r.posterior[1], 1.0 / 6, 1e-15);
}

TEST(Staple, TwoRatersConverge) {
  // Two raters agreeing on 3 of 5 voxels. The fixed point is symmetric in the raters.
  const Binary b({{1, 1, 0, 0, 1}, {1, 1, 0, 1, 0}});
  const StapleResult r = staple_of(b);
  EXPECT_TRUE(r.converged);
  EXPECT_NEAR(r.sensitivity[0], r.sensitivity[1], 1e-12);
  EXPECT_NEAR(r.specificity[0], r.specificity[1], 1e-12);
  EXPECT_DOUBLE_EQ(r.prior, 0.6);
}

TEST(Staple, IdenticalRatersArePerfect) {
  const Binary b({{0, 1, 1, 0, 1}, {0, 1, 1, 0, 1}, {0, 1, 1, 0, 1}});
  const StapleResult r = staple_of(b);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.iterations, 2);  // converged at the second round (ITK reports 1)
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.sensitivity[i], 1.0);
    EXPECT_EQ(r.specificity[i], 1.0);
  }
  EXPECT_EQ(r.posterior, (std::vector<double>{0.0, 1.0}));
}

TEST(Staple, DegenerateCasesStayFinite) {
  // One rater marks nothing: its sensitivity is 0, the others are unaffected by NaN.
  const StapleResult empty_rater = staple_of(Binary({{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 0}}));
  EXPECT_EQ(empty_rater.sensitivity[2], 0.0);
  for (double v : empty_rater.sensitivity) EXPECT_FALSE(std::isnan(v));
  for (double v : empty_rater.specificity) EXPECT_FALSE(std::isnan(v));
  // Everything foreground: no background to estimate specificity from; it stays 1.
  const StapleResult full = staple_of(Binary({{1, 1, 1}, {1, 1, 1}}));
  EXPECT_EQ(full.sensitivity, (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(full.specificity, (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(full.posterior, (std::vector<double>{1.0}));
  // The label absent everywhere: prior 0, posterior 0, nothing undefined.
  const StapleResult none = staple_of(Binary({{0, 0, 0}, {0, 0, 0}}));
  EXPECT_EQ(none.prior, 0.0);
  EXPECT_EQ(none.posterior, (std::vector<double>{0.0}));
  EXPECT_FALSE(std::isnan(none.sensitivity[0]));
}

TEST(Staple, HistogramEmEqualsPerVoxelEm) {
  std::mt19937 rng(31);
  for (int raters : {2, 5, 8, 11, 14, 17, 20, 23}) {
    // A blob-like truth and raters with their own error rates.
    const int64_t n = 5000;
    std::vector<uint8_t> truth(n);
    for (int64_t x = 0; x < n; ++x) truth[x] = (x / 300) % 2;
    std::vector<std::vector<uint8_t>> masks(raters, truth);
    for (int i = 0; i < raters; ++i) {
      std::bernoulli_distribution miss(0.02 + 0.01 * i), extra(0.01 + 0.005 * i);
      for (int64_t x = 0; x < n; ++x) masks[i][x] = truth[x] ? !miss(rng) : extra(rng);
    }
    const Binary b(masks);
    const BinaryPatterns p = binary_patterns(cpu::count_tuples(b.view, 1), 1);
    const StapleResult h = staple(p, {});
    const StapleResult v = staple_per_voxel(b.ptrs(), n, {});
    SCOPED_TRACE(testing::Message() << raters << " raters");
    EXPECT_EQ(h.iterations, v.iterations);
    EXPECT_NEAR(h.prior, v.prior, 1e-14);
    for (int i = 0; i < raters; ++i) {
      EXPECT_NEAR(h.sensitivity[i], v.sensitivity[i], 1e-12);
      EXPECT_NEAR(h.specificity[i], v.specificity[i], 1e-12);
    }
    // Every voxel's posterior equals its pattern's.
    std::vector<float> posterior(n);
    std::vector<uint8_t> mask(n);
    cpu::staple_maps(b.view, 1, p, h, 0.5, posterior.data(), mask.data(), 2);
    for (int64_t x = 0; x < n; ++x) {
      ASSERT_NEAR(posterior[x], v.posterior[x], 1e-6) << x;
      ASSERT_EQ(mask[x], v.posterior[x] >= 0.5 ? 1 : 0) << x;
    }
  }
}

TEST(Staple, MapsOfOneLabelOfALabelMap) {
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> label(0, 3);
  for (int raters : {3, 18, 22}) {
    const int64_t n = 4000;
    std::vector<std::vector<uint8_t>> maps(raters, std::vector<uint8_t>(n));
    std::vector<std::vector<uint8_t>> twos(raters, std::vector<uint8_t>(n));
    for (int64_t x = 0; x < n; ++x) {
      const int truth = (x / 250) % 4;
      for (int k = 0; k < raters; ++k) {
        maps[k][x] = static_cast<uint8_t>(label(rng) == 0 ? label(rng) : truth);
        twos[k][x] = maps[k][x] == 2;
      }
    }
    CaseView v;
    v.voxels = n;
    v.max_label = 3;
    std::vector<const uint8_t*> ptrs;
    for (int k = 0; k < raters; ++k) {
      v.raters.push_back(maps[k].data());
      ptrs.push_back(twos[k].data());
    }
    const BinaryPatterns p = binary_patterns(cpu::count_tuples(v, 1), 2);
    const StapleResult h = staple(p, {});
    const StapleResult o = staple_per_voxel(ptrs, n, {});
    std::vector<float> posterior(n);
    std::vector<uint8_t> mask(n);
    cpu::staple_maps(v, 2, p, h, 0.5, posterior.data(), mask.data(), 3);
    for (int64_t x = 0; x < n; ++x) {
      ASSERT_NEAR(posterior[x], o.posterior[x], 1e-6) << raters << " raters, voxel " << x;
      ASSERT_EQ(mask[x], o.posterior[x] >= 0.5 ? 1 : 0);
    }
  }
}

TEST(Staple, ConfidenceWeightScalesThePrior) {
  const Binary b({{1, 1, 0, 0}, {1, 0, 0, 0}});
  StapleOptions o;
  o.confidence_weight = 0.5;
  EXPECT_DOUBLE_EQ(staple_of(b, o).prior, 3.0 / 8 * 0.5);
}

TEST(BinaryPatterns, FromALabelMap) {
  CaseView v;
  const std::vector<uint8_t> a = {0, 1, 2, 2}, b = {0, 2, 2, 1};
  v.voxels = 4;
  v.max_label = 2;
  v.raters = {a.data(), b.data()};
  const BinaryPatterns p = binary_patterns(cpu::count_tuples(v, 1), 2);
  // Label 2 vs the rest: patterns 00 (voxel 0), 01 (voxel 1), 10 (voxel 3), 11 (voxel 2).
  EXPECT_EQ(p.d, (std::vector<uint8_t>{0, 0, 0, 1, 1, 0, 1, 1}));
  EXPECT_EQ(p.counts, (std::vector<uint64_t>{1, 1, 1, 1}));
}

TEST(MlStaple, IdenticalRatersGiveTheirLabels) {
  const std::vector<Label> a = {0, 1, 2, 2, 1, 0};
  CaseView v;
  const std::vector<uint8_t> a8(a.begin(), a.end());
  v.voxels = 6;
  v.max_label = 2;
  v.raters = {a8.data(), a8.data(), a8.data()};
  const MlStapleResult r = mlstaple(cpu::count_tuples(v, 1), {});
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.labels, 3);
  EXPECT_EQ(r.undecided, 3);
  for (int c = 0; c < 3; ++c) EXPECT_DOUBLE_EQ(r.priors[c], 1.0 / 3);
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 3; ++c) EXPECT_DOUBLE_EQ(r.theta(k, c, c), 1.0);
  std::vector<Label> out(6);
  cpu::mlstaple_map(v, r, out.data(), 1);
  EXPECT_EQ(out, a);
}

TEST(MlStaple, HistogramEmEqualsPerVoxelEm) {
  std::mt19937 rng(5);
  for (int raters : {2, 3, 5, 8}) {
    for (int labels : {2, 4, 7}) {
      const int64_t n = 3000;
      std::uniform_int_distribution<int> label(0, labels - 1);
      std::bernoulli_distribution err(0.1);
      std::vector<Label> truth(n);
      for (int64_t x = 0; x < n; ++x) truth[x] = static_cast<Label>((x / 100) % labels);
      std::vector<std::vector<Label>> l(raters, truth);
      std::vector<std::vector<uint8_t>> l8(raters);
      for (int k = 0; k < raters; ++k) {
        for (auto& t : l[k])
          if (err(rng)) t = static_cast<Label>(label(rng));
        l8[k].assign(l[k].begin(), l[k].end());
      }
      CaseView v;
      v.voxels = n;
      v.max_label = static_cast<Label>(labels - 1);
      std::vector<const Label*> ptrs;
      for (int k = 0; k < raters; ++k) {
        v.raters.push_back(l8[k].data());
        ptrs.push_back(l[k].data());
      }
      SCOPED_TRACE(testing::Message() << raters << " raters, " << labels << " labels");
      const MlStapleResult h = mlstaple(cpu::count_tuples(v, 1), {});
      const MlStapleResult p = mlstaple_per_voxel(ptrs, n, {});
      EXPECT_EQ(h.iterations, p.iterations);
      ASSERT_EQ(h.confusion.size(), p.confusion.size());
      for (size_t i = 0; i < h.confusion.size(); ++i)
        EXPECT_NEAR(h.confusion[i], p.confusion[i], 1e-12);
      EXPECT_EQ(h.priors, p.priors);
      std::vector<Label> out(n);
      cpu::mlstaple_map(v, h, out.data(), 2);
      int64_t agree_with_truth = 0;
      for (int64_t x = 0; x < n; ++x) {
        std::vector<Label> t(raters);
        for (int k = 0; k < raters; ++k) t[k] = l[k][x];
        ASSERT_EQ(out[x], mlstaple_label(p, t.data()));
        agree_with_truth += out[x] == truth[x];
      }
      if (raters >= 3) {
        EXPECT_GT(agree_with_truth, n * 9 / 10);
      }
    }
  }
}

TEST(MlStaple, ExactTiesAreUndecided) {
  // Two raters that disagree everywhere on two labels: the posterior of every mixed voxel is an
  // exact tie by symmetry.
  const std::vector<uint8_t> a = {0, 1, 0, 1}, b = {1, 0, 1, 0};
  CaseView v;
  v.voxels = 4;
  v.max_label = 1;
  v.raters = {a.data(), b.data()};
  MlStapleOptions o;
  o.undecided_label = 9;
  const MlStapleResult r = mlstaple(cpu::count_tuples(v, 1), o);
  std::vector<Label> out(4);
  cpu::mlstaple_map(v, r, out.data(), 1);
  EXPECT_EQ(out, (std::vector<Label>{9, 9, 9, 9}));
}

TEST(MlStaple, TooManyLabelsIsAClearError) {
  const std::vector<uint16_t> a = {0, 2000};
  CaseView v;
  v.voxels = 2;
  v.label_bytes = 2;
  v.max_label = 2000;
  v.raters = {a.data(), a.data()};
  EXPECT_THROW(mlstaple(cpu::count_tuples(v, 1), {}), std::invalid_argument);
}

}  // namespace
}  // namespace maskeval
