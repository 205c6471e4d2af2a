// The counting pass and what is derived from it, against hand-worked cases and a brute-force
// per-voxel oracle.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "maskeval/counts.h"
#include "util/simd.h"

namespace maskeval {
namespace {

// Rater label arrays owned by the test.
struct Case {
  std::vector<std::vector<uint16_t>> raters16;
  std::vector<std::vector<uint8_t>> raters8;
  CaseView view;

  Case(std::vector<std::vector<uint16_t>> labels, bool narrow) {
    Label max = 0;
    for (auto& r : labels)
      for (uint16_t l : r) max = std::max<Label>(max, l);
    view.voxels = static_cast<int64_t>(labels.at(0).size());
    view.max_label = std::max<Label>(max, 1);
    if (narrow && max < 256) {
      view.label_bytes = 1;
      for (auto& r : labels) raters8.emplace_back(r.begin(), r.end());
      for (auto& r : raters8) view.raters.push_back(r.data());
    } else {
      view.label_bytes = 2;
      raters16 = std::move(labels);
      for (auto& r : raters16) view.raters.push_back(r.data());
    }
  }
};

// Per-label counts computed voxel by voxel, pair by pair: the oracle.
std::map<Label, LabelCounts> brute_force(const CaseView& v) {
  const int r = v.rater_count();
  std::map<Label, LabelCounts> out;
  for (int64_t i = 0; i < v.voxels; ++i) {
    for (int a = 0; a < r; ++a) {
      LabelCounts& c = out[v.at(a, i)];
      if (c.volume.empty()) {
        c.label = v.at(a, i);
        c.volume.assign(r, 0);
        c.intersection.assign(r * r, 0);
        c.votes.assign(r + 1, 0);
      }
    }
  }
  for (auto& kv : out) {
    LabelCounts& c = kv.second;
    for (int64_t i = 0; i < v.voxels; ++i) {
      int k = 0;
      for (int a = 0; a < r; ++a) {
        if (v.at(a, i) != c.label) continue;
        ++k;
        ++c.volume[a];
        for (int b = 0; b < r; ++b)
          if (v.at(b, i) == c.label) ++c.intersection[a * r + b];
      }
      ++c.votes[k];
    }
  }
  return out;
}

void expect_matches_oracle_once(const CaseView& v, int threads) {
  const TupleHistogram h = cpu::count_tuples(v, threads);
  uint64_t total = 0;
  for (uint64_t c : h.unanimous_counts) total += c;
  for (uint64_t c : h.counts) total += c;
  ASSERT_EQ(total, static_cast<uint64_t>(v.voxels));
  const auto oracle = brute_force(v);
  const auto counts = label_counts(h);
  ASSERT_EQ(counts.size(), oracle.size());
  for (const LabelCounts& c : counts) {
    const LabelCounts& o = oracle.at(c.label);
    EXPECT_EQ(c.volume, o.volume) << "label " << c.label;
    EXPECT_EQ(c.intersection, o.intersection) << "label " << c.label;
    EXPECT_EQ(c.votes, o.votes) << "label " << c.label;
  }
}

// Both builds of the vectorised loops (AVX2 where the CPU has it, and the baseline) against the
// oracle.
void expect_matches_oracle(const CaseView& v, int threads) {
  for (bool wide : {true, false}) {
    SCOPED_TRACE(wide && simd::wide_vectors() ? "AVX2" : "baseline vectors");
    simd::allow_wide_vectors(wide);
    expect_matches_oracle_once(v, threads);
  }
  simd::allow_wide_vectors(true);
}

std::vector<std::vector<uint16_t>> random_labels(std::mt19937& rng, int raters, int64_t n,
                                                 int labels, double noise) {
  // A shared "truth" with per-rater noise, so that tuples repeat as in real data.
  std::uniform_int_distribution<int> label(0, labels - 1);
  std::bernoulli_distribution flip(noise);
  std::vector<uint16_t> truth(n);
  for (auto& t : truth) t = static_cast<uint16_t>(label(rng));
  std::vector<std::vector<uint16_t>> out(raters, truth);
  for (auto& r : out)
    for (auto& l : r)
      if (flip(rng)) l = static_cast<uint16_t>(label(rng));
  return out;
}

TEST(CountTuples, HandWorkedThreeRaters) {
  // 6 voxels, 3 raters.
  Case c({{0, 1, 1, 2, 2, 0}, {0, 1, 2, 2, 0, 0}, {0, 1, 1, 0, 1, 2}}, true);
  const TupleHistogram h = cpu::count_tuples(c.view, 1);
  EXPECT_EQ(h.unanimous_labels, (std::vector<Label>{0, 1}));
  EXPECT_EQ(h.unanimous_counts, (std::vector<uint64_t>{1, 1}));
  // Rows ascending: (0,0,2), (1,2,1), (2,0,1), (2,2,0).
  EXPECT_EQ(h.tuples, (std::vector<Label>{0, 0, 2, 1, 2, 1, 2, 0, 1, 2, 2, 0}));
  EXPECT_EQ(h.counts, (std::vector<uint64_t>{1, 1, 1, 1}));
  const auto labels = label_counts(h);
  ASSERT_EQ(labels.size(), 3u);
  const LabelCounts& one = labels[1];
  EXPECT_EQ(one.label, 1);
  EXPECT_EQ(one.volume, (std::vector<uint64_t>{2, 1, 3}));
  EXPECT_EQ(one.inter(0, 2), 2u);                             // voxels 1 and 2
  EXPECT_EQ(one.inter(1, 2), 1u);                             // voxel 1
  EXPECT_EQ(one.votes, (std::vector<uint64_t>{3, 1, 1, 1}));  // voxels 0,3,5 | 4 | 2 | 1
  EXPECT_DOUBLE_EQ(dice(one.inter(0, 2), one.volume[0], one.volume[2], EmptyPolicy::kNaN), 0.8);
}

TEST(CountTuples, OneByOneImage) {
  Case c({{3}, {3}}, true);
  const TupleHistogram h = cpu::count_tuples(c.view, 4);
  EXPECT_EQ(h.unanimous_labels, (std::vector<Label>{3}));
  EXPECT_EQ(h.rows(), 0u);
  Case d({{3}, {0}}, true);
  const auto labels = label_counts(cpu::count_tuples(d.view, 1));
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[1].votes, (std::vector<uint64_t>{0, 1, 0}));
}

TEST(CountTuples, ThirtyThreeRatersHandWorked) {
  // Voxel 0: raters 0..16 say 1, raters 17..32 say 0. Voxel 1: everyone says 1.
  std::vector<std::vector<uint16_t>> labels(33, std::vector<uint16_t>{0, 1});
  for (int r = 0; r < 17; ++r) labels[r][0] = 1;
  Case c(labels, true);
  const TupleHistogram h = cpu::count_tuples(c.view, 1);
  EXPECT_EQ(h.unanimous_labels, (std::vector<Label>{1}));
  ASSERT_EQ(h.rows(), 1u);
  const auto counts = label_counts(h);
  ASSERT_EQ(counts.size(), 2u);
  const LabelCounts& one = counts[1];
  EXPECT_EQ(one.volume[0], 2u);
  EXPECT_EQ(one.volume[32], 1u);
  EXPECT_EQ(one.inter(0, 16), 2u);
  EXPECT_EQ(one.inter(0, 17), 1u);
  EXPECT_EQ(one.votes[17], 1u);
  EXPECT_EQ(one.votes[33], 1u);
  EXPECT_EQ(counts[0].votes[16], 1u);
  EXPECT_EQ(counts[0].votes[0], 1u);
  // Fleiss, label 1 vs rest: P_0 = (17^2 + 16^2 - 33) / (33 * 32) = 512/1056, P_1 = 1;
  // p = 50/66; Pe = p^2 + (1-p)^2.
  const double pbar = (512.0 / 1056 + 1.0) / 2, p = 50.0 / 66, pe = p * p + (1 - p) * (1 - p);
  EXPECT_NEAR(fleiss_kappa_binary(one.votes.data(), 33, EmptyPolicy::kNaN), (pbar - pe) / (1 - pe),
              1e-15);
  const VoteRule rule{TiePolicy::kUndecided, 2, 2};
  EXPECT_EQ(majority_counts(h, rule), (std::vector<std::pair<Label, uint64_t>>{{1, 2}}));
}

TEST(CountTuples, TwoRatersTie) {
  Case c({{1, 0, 1}, {0, 0, 1}}, true);
  const TupleHistogram h = cpu::count_tuples(c.view, 1);
  EXPECT_EQ(majority_counts(h, {TiePolicy::kUndecided, 2, 2}),
            (std::vector<std::pair<Label, uint64_t>>{{0, 1}, {1, 1}, {2, 1}}));
  EXPECT_EQ(majority_counts(h, {TiePolicy::kLowest, 2, 2}),
            (std::vector<std::pair<Label, uint64_t>>{{0, 2}, {1, 1}}));
}

TEST(CountTuples, AllZeroAndAllOne) {
  for (uint16_t value : {0, 1}) {
    Case c(std::vector<std::vector<uint16_t>>(5, std::vector<uint16_t>(1000, value)), true);
    const auto labels = label_counts(cpu::count_tuples(c.view, 2));
    ASSERT_EQ(labels.size(), 1u);
    EXPECT_EQ(labels[0].label, value);
    EXPECT_EQ(labels[0].votes[5], 1000u);
    EXPECT_EQ(labels[0].inter(1, 3), 1000u);
  }
}

TEST(CountTuples, LabelsUpTo65535) {
  Case c({{65535, 0, 40000, 65535}, {65535, 65535, 40000, 1}}, false);
  ASSERT_EQ(c.view.label_bytes, 2);
  expect_matches_oracle(c.view, 1);
  const auto labels = label_counts(cpu::count_tuples(c.view, 1));
  ASSERT_EQ(labels.back().label, 65535);
  EXPECT_EQ(labels.back().volume, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(labels.back().inter(0, 1), 1u);
}

TEST(CountTuples, EveryPathMatchesOracle) {
  std::mt19937 rng(7);
  // (raters, labels): dense (R*b <= 16), packed (<= 64), wide (> 64) paths.
  const std::vector<std::pair<int, int>> shapes = {{2, 2},  {13, 2}, {16, 2},  {3, 5},
                                                   {5, 6},  {4, 12}, {5, 19},  {17, 2},
                                                   {33, 2}, {33, 3}, {20, 300}};
  for (auto [raters, labels] : shapes) {
    for (bool narrow : {true, false}) {
      Case c(random_labels(rng, raters, 3001, labels, 0.2), narrow);
      SCOPED_TRACE(testing::Message() << raters << " raters, " << labels << " labels, "
                                      << c.view.label_bytes << " bytes");
      expect_matches_oracle(c.view, 1);
    }
  }
}

TEST(CountTuples, StructuredMasksMatchOracle) {
  // Long runs of one label with rare per-rater flips, as in real masks: uniform words and
  // blocks next to mixed ones, exercising every shortcut of the dense path.
  std::mt19937 rng(17);
  for (auto [raters, labels] : std::vector<std::pair<int, int>>{{13, 2}, {3, 5}, {8, 4}, {6, 19}}) {
    const int64_t n = 20000 + raters;
    std::uniform_int_distribution<int> label(0, labels - 1), run(1, 700);
    std::vector<uint16_t> truth(n);
    for (int64_t i = 0; i < n;) {
      const uint16_t l = static_cast<uint16_t>(label(rng));
      for (int64_t end = std::min<int64_t>(n, i + run(rng)); i < end; ++i) truth[i] = l;
    }
    std::vector<std::vector<uint16_t>> raters_labels(raters, truth);
    std::bernoulli_distribution flip(0.002);
    for (auto& r : raters_labels)
      for (auto& l : r)
        if (flip(rng)) l = static_cast<uint16_t>(label(rng));
    Case c(raters_labels, true);
    SCOPED_TRACE(testing::Message() << raters << " raters, " << labels << " labels");
    expect_matches_oracle(c.view, 1);
    expect_matches_oracle(c.view, 3);
  }
}

TEST(CountTuples, ThreadsDoNotChangeTheHistogram) {
  std::mt19937 rng(11);
  for (auto [raters, labels] : std::vector<std::pair<int, int>>{{3, 2}, {6, 4}, {33, 3}}) {
    Case c(random_labels(rng, raters, 300001, labels, 0.05), true);
    const TupleHistogram one = cpu::count_tuples(c.view, 1);
    EXPECT_TRUE(one == cpu::count_tuples(c.view, 2));
    EXPECT_TRUE(one == cpu::count_tuples(c.view, 7));
  }
}

TEST(CountTuples, SlabsMergeToTheWhole) {
  std::mt19937 rng(23);
  for (auto [raters, labels] : std::vector<std::pair<int, int>>{{3, 2}, {5, 19}, {33, 3}}) {
    Case c(random_labels(rng, raters, 10007, labels, 0.1), true);
    const int64_t half = 4099;
    CaseView first = c.view, second = c.view;
    first.voxels = half;
    second.voxels = c.view.voxels - half;
    for (auto& p : second.raters) p = static_cast<const uint8_t*>(p) + half;
    EXPECT_TRUE(merge_histograms(cpu::count_tuples(first, 1), cpu::count_tuples(second, 1)) ==
                cpu::count_tuples(c.view, 1));
  }
}

TEST(Properties, RandomLabelMaps) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    const int raters = 2 + trial % 12;
    Case c(random_labels(rng, raters, 2000 + trial, 2 + trial % 5, 0.3), true);
    const auto labels = label_counts(cpu::count_tuples(c.view, 1));
    uint64_t volume_sum = 0;
    for (const LabelCounts& l : labels) {
      uint64_t votes = 0;
      for (uint64_t v : l.votes) votes += v;
      EXPECT_EQ(votes, static_cast<uint64_t>(c.view.voxels));  // every voxel has a vote count
      volume_sum += l.volume[0];
      for (int a = 0; a < raters; ++a) {
        for (int b = 0; b < raters; ++b) {
          const double d = dice(l.inter(a, b), l.volume[a], l.volume[b], EmptyPolicy::kOne);
          EXPECT_EQ(d, dice(l.inter(b, a), l.volume[b], l.volume[a], EmptyPolicy::kOne));
          if (a == b) {
            EXPECT_EQ(d, 1.0);
          }
        }
      }
    }
    EXPECT_EQ(volume_sum, static_cast<uint64_t>(c.view.voxels));  // labels partition rater 0
  }
}

TEST(Properties, IdenticalRatersHaveKappaOne) {
  std::mt19937 rng(5);
  auto one = random_labels(rng, 1, 5000, 4, 0.0);
  Case c(std::vector<std::vector<uint16_t>>(4, one[0]), true);
  const auto labels = label_counts(cpu::count_tuples(c.view, 1));
  for (const LabelCounts& l : labels) {
    EXPECT_DOUBLE_EQ(fleiss_kappa_binary(l.votes.data(), 4, EmptyPolicy::kNaN), 1.0);
    EXPECT_DOUBLE_EQ(
        cohen_kappa_binary(l.inter(0, 3), l.volume[0], l.volume[3], 5000, EmptyPolicy::kNaN), 1.0);
  }
  EXPECT_DOUBLE_EQ(fleiss_kappa_all(labels, 4, 5000, EmptyPolicy::kNaN), 1.0);
}

TEST(Vote, TiePolicies) {
  VoteRule undecided{TiePolicy::kUndecided, 9, 3};
  VoteRule lowest{TiePolicy::kLowest, 9, 3};
  const Label tie[4] = {2, 1, 2, 1};
  EXPECT_EQ(vote_of(tie, 4, undecided).majority, 9);
  EXPECT_EQ(vote_of(tie, 4, lowest).majority, 1);
  EXPECT_DOUBLE_EQ(vote_of(tie, 4, lowest).agreement, 0.5);
  const Label clear[3] = {2, 0, 2};
  EXPECT_EQ(vote_of(clear, 3, undecided).majority, 2);
  EXPECT_EQ(vote_of(clear, 3, lowest).majority, 2);
  // A three-way tie among the top, with a smaller fourth label absent.
  const Label three[3] = {3, 2, 1};
  EXPECT_EQ(vote_of(three, 3, lowest).majority, 1);
  EXPECT_EQ(vote_of(three, 3, undecided).majority, 9);
  EXPECT_NEAR(vote_of(three, 3, undecided).entropy, 1.0, 1e-15);
}

TEST(Vote, MapsAgreeWithHistogramCounts) {
  std::mt19937 rng(13);
  for (int raters : {2, 3, 4, 33}) {
    Case c(random_labels(rng, raters, 4097, 3, 0.4), true);
    for (TiePolicy tie : {TiePolicy::kUndecided, TiePolicy::kLowest}) {
      VoteRule rule{tie, 3, 3};
      std::vector<Label> majority(c.view.voxels);
      std::vector<float> agreement(c.view.voxels), entropy(c.view.voxels);
      cpu::vote_maps(c.view, rule, {majority.data(), agreement.data(), entropy.data()}, 2);
      std::map<Label, uint64_t> from_map;
      for (Label l : majority) ++from_map[l];
      const auto from_hist = majority_counts(cpu::count_tuples(c.view, 1), rule);
      const std::vector<std::pair<Label, uint64_t>> expected(from_map.begin(), from_map.end());
      EXPECT_EQ(expected, from_hist);
      for (int64_t i = 0; i < c.view.voxels; ++i) {
        ASSERT_GE(agreement[i], 1.0f / raters);
        ASSERT_LE(agreement[i], 1.0f);
        ASSERT_GE(entropy[i], 0.0f);
        ASSERT_LE(entropy[i], 1.0f + 1e-6f);
      }
    }
  }
}

TEST(Vote, MapsEqualTheVoteOfEachVoxel) {
  // Large enough for the table over keys, small label sets: every output equals vote_of.
  std::mt19937 rng(21);
  for (auto [raters, labels] : std::vector<std::pair<int, int>>{{2, 2}, {3, 4}, {7, 2}, {5, 3}}) {
    Case c(random_labels(rng, raters, 70001, labels, 0.3), true);
    for (TiePolicy tie : {TiePolicy::kUndecided, TiePolicy::kLowest}) {
      const VoteRule rule{tie, static_cast<Label>(labels), labels};
      const size_t n = static_cast<size_t>(c.view.voxels);
      std::vector<Label> majority(n);
      std::vector<float> agreement(n), entropy(n);
      cpu::vote_maps(c.view, rule, {majority.data(), agreement.data(), entropy.data()}, 2);
      std::vector<Label> t(raters);
      for (size_t i = 0; i < n; ++i) {
        for (int r = 0; r < raters; ++r) t[r] = c.view.at(r, static_cast<int64_t>(i));
        const Vote v = vote_of(t.data(), raters, rule);
        ASSERT_EQ(majority[i], v.majority) << i;
        ASSERT_EQ(agreement[i], static_cast<float>(v.agreement)) << i;
        ASSERT_EQ(entropy[i], static_cast<float>(v.entropy)) << i;
      }
    }
  }
}

TEST(CountTuples, RejectsBadViews) {
  CaseView v;
  EXPECT_THROW(cpu::count_tuples(v, 1), std::invalid_argument);
  Case c({{1, 0}}, true);
  c.view.label_bytes = 3;
  EXPECT_THROW(cpu::count_tuples(c.view, 1), std::invalid_argument);
}

}  // namespace
}  // namespace maskeval
