// STAPLE (Warfield et al. 2004) as ITK computes it, run on the tuple histogram: with a global
// prior, a voxel's posterior depends only on its tuple of rater labels, so EM iterates over the
// distinct tuples (hundreds) instead of the voxels, in double precision.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "maskeval/counts.h"

namespace maskeval {

// How many voxels carry each binary pattern (rater r says "label" or not), patterns in
// lexicographic order, one byte per rater (0 or 1).
struct BinaryPatterns {
  int raters = 0;
  int64_t voxels = 0;
  std::vector<uint8_t> d;        // raters bytes per row
  std::vector<uint64_t> counts;  // one per row

  size_t rows() const { return counts.size(); }
  const uint8_t* pattern(size_t row) const { return d.data() + row * raters; }
};

// Label `label` against every other label.
BinaryPatterns binary_patterns(const TupleHistogram& h, Label label);

struct StapleOptions {
  double confidence_weight = 1.0;
  int max_iterations = 0;  // 0: until convergence, as ITK's default
};

struct StapleResult {
  std::vector<double> sensitivity, specificity;  // p_i, q_i per rater
  double prior = 0;                              // g: mean vote times the confidence weight, fixed
  int iterations = 0;  // EM rounds run (ITK's ElapsedIterations is one less when it converged)
  bool converged = false;
  std::vector<double> posterior;  // W per row of the patterns it was run on
};

// Binary STAPLE: ITK STAPLEImageFilter's algorithm (initial W = mean vote; M-step, E-step;
// converged from the second round on when every squared change of p_i and q_i is <= 1e-14).
// Where ITK divides by zero, the previous value is kept (p_i and q_i start at 0 when a
// denominator is zero at the first round), and a pattern whose weights are both zero keeps its
// current W: documented in docs/staple.md.
StapleResult staple(const BinaryPatterns& patterns, const StapleOptions& options);

// The same EM, voxel by voxel over binary masks (one byte per voxel and rater), as ITK's loops
// run it but with long double sums: the test oracle. Returns `posterior` per voxel.
StapleResult staple_per_voxel(const std::vector<const uint8_t*>& masks, int64_t voxels,
                              const StapleOptions& options);

// Multi-label STAPLE: ITK MultiLabelSTAPLEImageFilter's algorithm.
struct MlStapleOptions {
  int max_iterations = 0;               // 0: until convergence
  double termination_threshold = 1e-5;  // stop when max |change| of the confusion matrices < this
  int undecided_label = -1;             // -1: max label + 1
};

struct MlStapleResult {
  int raters = 0;
  int labels = 0;  // L = max label + 1
  Label undecided = 0;
  std::vector<double> confusion;  // [R][L+1][L]: rater label j (row), true label c (column)
  std::vector<double> priors;     // [L]
  int iterations = 0;             // EM rounds run
  bool converged = false;

  double theta(int rater, int j, int c) const {
    return confusion[(static_cast<size_t>(rater) * (labels + 1) + j) * labels + c];
  }
};

constexpr int kMaxMlStapleLabels = 1024;

// Throws std::invalid_argument when the case has more than kMaxMlStapleLabels labels.
MlStapleResult mlstaple(const TupleHistogram& h, const MlStapleOptions& options);

// The consensus label of a voxel carrying `tuple`: argmax_c prior_c * prod_k theta_k[t_k][c],
// the undecided label on an exact tie (ITK's rule).
Label mlstaple_label(const MlStapleResult& r, const Label* tuple);

// Voxel by voxel: the test oracle. `labels` per rater, one Label per voxel.
MlStapleResult mlstaple_per_voxel(const std::vector<const Label*>& labels, int64_t voxels,
                                  const MlStapleOptions& options);

namespace cpu {
// Per-voxel outputs of binary STAPLE for label `label` of a case: posterior W and the consensus
// mask (1 where W >= threshold). Null pointers are not written. `patterns` and `result` are
// those returned by binary_patterns and staple for this label.
void staple_maps(const CaseView& view, Label label, const BinaryPatterns& patterns,
                 const StapleResult& result, double threshold, float* posterior, uint8_t* mask,
                 int threads);
// The multi-label consensus of every voxel.
void mlstaple_map(const CaseView& view, const MlStapleResult& result, Label* out, int threads);
}  // namespace cpu

}  // namespace maskeval
