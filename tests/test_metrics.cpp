// Metrics from counts, checked against hand-worked values.
#include <gtest/gtest.h>

#include <cmath>

#include "maskeval/core/metrics.h"

namespace maskeval {
namespace {

TEST(Dice, HandWorked) {
  // A = 4 voxels, B = 6 voxels, 3 shared: 2*3/10.
  EXPECT_DOUBLE_EQ(dice(3, 4, 6, EmptyPolicy::kNaN), 0.6);
  EXPECT_DOUBLE_EQ(iou(3, 4, 6, EmptyPolicy::kNaN), 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(dice(0, 5, 0, EmptyPolicy::kOne), 0.0);  // one empty: 0, not the policy
  EXPECT_DOUBLE_EQ(dice(5, 5, 5, EmptyPolicy::kZero), 1.0);
}

TEST(Dice, BothEmptyFollowsPolicy) {
  EXPECT_DOUBLE_EQ(dice(0, 0, 0, EmptyPolicy::kOne), 1.0);
  EXPECT_DOUBLE_EQ(dice(0, 0, 0, EmptyPolicy::kZero), 0.0);
  EXPECT_TRUE(std::isnan(dice(0, 0, 0, EmptyPolicy::kNaN)));
  EXPECT_TRUE(std::isnan(iou(0, 0, 0, EmptyPolicy::kNaN)));
  EXPECT_DOUBLE_EQ(iou(0, 0, 0, EmptyPolicy::kOne), 1.0);
}

TEST(CohenKappa, HandWorked) {
  // 10 voxels: both yes 3, A only 1, B only 2, both no 4. po = 0.7,
  // pe = 0.4*0.5 + 0.6*0.5 = 0.5, kappa = 0.4.
  EXPECT_NEAR(cohen_kappa_binary(3, 4, 5, 10, EmptyPolicy::kNaN), 0.4, 1e-15);
  // Perfect agreement on a mixed image: 1. Perfect disagreement with balanced marginals: -1.
  EXPECT_DOUBLE_EQ(cohen_kappa_binary(5, 5, 5, 10, EmptyPolicy::kNaN), 1.0);
  EXPECT_DOUBLE_EQ(cohen_kappa_binary(0, 5, 5, 10, EmptyPolicy::kNaN), -1.0);
  // Both empty, or both full: expected agreement is 1, the policy decides.
  EXPECT_TRUE(std::isnan(cohen_kappa_binary(0, 0, 0, 10, EmptyPolicy::kNaN)));
  EXPECT_DOUBLE_EQ(cohen_kappa_binary(10, 10, 10, 10, EmptyPolicy::kOne), 1.0);
  EXPECT_DOUBLE_EQ(cohen_kappa_binary(0, 0, 0, 10, EmptyPolicy::kZero), 0.0);
}

TEST(FleissKappa, HandWorkedThreeRaters) {
  // 4 voxels, 3 raters; yes-votes per voxel 3, 2, 1, 0 -> votes[k] = 1 for every k.
  // P_i = (k^2 + (3-k)^2 - 3) / 6 = 1, 1/3, 1/3, 1; Pbar = 2/3; p = 6/12 = 0.5; Pe = 0.5.
  // kappa = (2/3 - 1/2) / (1/2) = 1/3.
  const uint64_t votes[4] = {1, 1, 1, 1};
  EXPECT_NEAR(fleiss_kappa_binary(votes, 3, EmptyPolicy::kNaN), 1.0 / 3.0, 1e-15);
  const uint64_t unanimous[4] = {6, 0, 0, 2};
  EXPECT_DOUBLE_EQ(fleiss_kappa_binary(unanimous, 3, EmptyPolicy::kNaN), 1.0);
  const uint64_t none[4] = {8, 0, 0, 0};
  EXPECT_TRUE(std::isnan(fleiss_kappa_binary(none, 3, EmptyPolicy::kNaN)));
  EXPECT_DOUBLE_EQ(fleiss_kappa_binary(none, 3, EmptyPolicy::kOne), 1.0);
}

TEST(FleissKappa, TwoRatersMatchesScottPi) {
  // With two raters Fleiss' kappa is Scott's pi: po = 0.7 (as above), pooled p = 9/20.
  // pe = 0.45^2 + 0.55^2 = 0.505, pi = (0.7 - 0.505) / 0.495.
  const uint64_t votes[3] = {4, 3, 3};
  EXPECT_NEAR(fleiss_kappa_binary(votes, 2, EmptyPolicy::kNaN), (0.7 - 0.505) / 0.495, 1e-15);
}

TEST(FleissKappa, FewerThanTwoRatersIsUndefinedWhateverThePolicy) {
  // One rater cannot agree or disagree with anyone: NaN, not the empty-mask policy's value.
  const uint64_t mixed[2] = {3, 5}, none[2] = {8, 0};
  for (EmptyPolicy p : {EmptyPolicy::kOne, EmptyPolicy::kZero, EmptyPolicy::kNaN}) {
    EXPECT_TRUE(std::isnan(fleiss_kappa_binary(mixed, 1, p)));
    EXPECT_TRUE(std::isnan(fleiss_kappa_binary(none, 1, p)));
    EXPECT_TRUE(std::isnan(fleiss_kappa_binary(none, 0, p)));
  }
}

TEST(VoteEntropy, Normalised) {
  const int even[2] = {1, 1};
  EXPECT_DOUBLE_EQ(vote_entropy(even, 2, 2, 2), 1.0);
  const int one[1] = {3};
  EXPECT_DOUBLE_EQ(vote_entropy(one, 1, 3, 2), 0.0);
  const int split[2] = {2, 1};  // -(2/3 ln 2/3 + 1/3 ln 1/3) / ln 2
  const double h = -(2.0 / 3 * std::log(2.0 / 3) + 1.0 / 3 * std::log(1.0 / 3)) / std::log(2.0);
  EXPECT_NEAR(vote_entropy(split, 2, 3, 2), h, 1e-15);
  const int three[3] = {1, 1, 1};  // 3 raters, 3 labels, all different: maximal
  EXPECT_NEAR(vote_entropy(three, 3, 3, 5), 1.0, 1e-15);
}

}  // namespace
}  // namespace maskeval
