// Every agreement metric as a function of exact integer counts. Defined once, used by the CPU
// engine and (under nvcc, where the functions are host+device) by the CUDA engine, so that a
// figure derived from the same counts is the same double on both.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MASKEVAL_HD __host__ __device__
#else
#define MASKEVAL_HD
#endif

namespace maskeval {

// What a metric is worth when it is undefined because both masks are empty for the label
// (or, for kappa, when every rater gives one category everywhere): 1, NaN or 0.
enum class EmptyPolicy { kOne, kNaN, kZero };

MASKEVAL_HD inline double empty_value(EmptyPolicy p) {
  return p == EmptyPolicy::kOne ? 1.0 : (p == EmptyPolicy::kZero ? 0.0 : NAN);
}

// Dice = 2|A n B| / (|A| + |B|).
MASKEVAL_HD inline double dice(uint64_t inter, uint64_t vol_a, uint64_t vol_b, EmptyPolicy p) {
  const uint64_t sum = vol_a + vol_b;
  if (sum == 0) return empty_value(p);
  return 2.0 * static_cast<double>(inter) / static_cast<double>(sum);
}

// IoU (Jaccard) = |A n B| / |A u B|.
MASKEVAL_HD inline double iou(uint64_t inter, uint64_t vol_a, uint64_t vol_b, EmptyPolicy p) {
  const uint64_t uni = vol_a + vol_b - inter;
  if (uni == 0) return empty_value(p);
  return static_cast<double>(inter) / static_cast<double>(uni);
}

// Scores of a segmentation S against a reference T from the confusion counts. When both S and
// T are empty the policy decides; a ratio whose own denominator is zero otherwise is NaN
// (sensitivity with an empty reference, precision with an empty segmentation).
MASKEVAL_HD inline double ratio_or(uint64_t num, uint64_t den, bool both_empty, EmptyPolicy p) {
  if (den != 0) return static_cast<double>(num) / static_cast<double>(den);
  return both_empty ? empty_value(p) : NAN;
}
MASKEVAL_HD inline double sensitivity(uint64_t tp, uint64_t fp, uint64_t fn, EmptyPolicy p) {
  return ratio_or(tp, tp + fn, tp + fp + fn == 0, p);
}
MASKEVAL_HD inline double precision(uint64_t tp, uint64_t fp, uint64_t fn, EmptyPolicy p) {
  return ratio_or(tp, tp + fp, tp + fp + fn == 0, p);
}
// Specificity TN / (TN + FP); undefined only when every voxel is in the reference.
MASKEVAL_HD inline double specificity(uint64_t fp, uint64_t tn) {
  return tn + fp == 0 ? NAN : static_cast<double>(tn) / static_cast<double>(tn + fp);
}
// ITK's signed volume similarity 2(|S| - |T|) / (|S| + |T|); 0 when both are empty.
MASKEVAL_HD inline double volume_similarity(uint64_t vol_s, uint64_t vol_t) {
  if (vol_s + vol_t == 0) return 0.0;
  return 2.0 * (static_cast<double>(vol_s) - static_cast<double>(vol_t)) /
         static_cast<double>(vol_s + vol_t);
}

// Cohen's kappa of two raters on one label taken as a binary category (label vs the rest)
// over n voxels: (p_o - p_e) / (1 - p_e).
MASKEVAL_HD inline double cohen_kappa_binary(uint64_t inter, uint64_t vol_a, uint64_t vol_b,
                                             uint64_t n, EmptyPolicy p) {
  if (n == 0) return empty_value(p);
  const double nn = static_cast<double>(n);
  const double both_out = static_cast<double>(n - vol_a - vol_b + inter);
  const double po = (static_cast<double>(inter) + both_out) / nn;
  const double a = static_cast<double>(vol_a) / nn;
  const double b = static_cast<double>(vol_b) / nn;
  const double pe = a * b + (1.0 - a) * (1.0 - b);
  if (pe >= 1.0) return empty_value(p);  // both raters put every voxel in one category
  return (po - pe) / (1.0 - pe);
}

// Fleiss' kappa of `raters` raters on one label as a binary category, from votes[k] = number of
// voxels where exactly k raters gave the label (k = 0..raters). Agreement needs two raters: with
// fewer it is NaN whatever the policy (the policy covers only the every-voxel-one-category case).
MASKEVAL_HD inline double fleiss_kappa_binary(const uint64_t* votes, int raters, EmptyPolicy p) {
  if (raters < 2) return NAN;
  uint64_t n = 0;
  double yes = 0.0, agree = 0.0;
  const double r = raters;
  for (int k = 0; k <= raters; ++k) {
    const double c = static_cast<double>(votes[k]);
    n += votes[k];
    yes += c * k;
    agree += c * (static_cast<double>(k) * k + static_cast<double>(raters - k) * (raters - k) - r);
  }
  if (n == 0) return empty_value(p);
  const double nn = static_cast<double>(n);
  const double pj = yes / (nn * r);
  const double pe = pj * pj + (1.0 - pj) * (1.0 - pj);
  if (pe >= 1.0) return empty_value(p);
  const double pbar = agree / (nn * r * (r - 1.0));
  return (pbar - pe) / (1.0 - pe);
}

// Normalised vote entropy of one voxel: -sum_l f_l ln f_l / ln(min(raters, categories)), with
// f_l the share of raters voting l; 0 when every rater agrees, 1 at the most even split the
// categories allow. `vote_counts` lists the nonzero vote counts of the voxel.
MASKEVAL_HD inline double vote_entropy(const int* vote_counts, int n_counts, int raters,
                                       int categories) {
  const int k = raters < categories ? raters : categories;
  if (k < 2 || n_counts < 2) return 0.0;
  double h = 0.0;
  for (int i = 0; i < n_counts; ++i) {
    const double f = static_cast<double>(vote_counts[i]) / raters;
    h -= f * std::log(f);
  }
  return h / std::log(static_cast<double>(k));
}

}  // namespace maskeval
