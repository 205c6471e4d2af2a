// Binary and multi-label STAPLE on histograms, and their per-voxel oracles.
#include "maskeval/staple.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace maskeval {
namespace {

constexpr double kStapleTolerance = 1.0e-14;  // ITK's min_rms_error on squared changes

// One EM run of binary STAPLE over weighted rows: row k has pattern d[k*R..], weight n[k].
// W starts at the mean vote of each row. Sums are accumulated in Acc: double over the few rows
// of a histogram; long double for the voxel-by-voxel oracle, whose millions of terms would
// otherwise carry rounding errors (about N x 1e-16) larger than the agreement it checks.
template <class Acc>
StapleResult run_staple(int raters, size_t rows, const uint8_t* d, const uint64_t* n,
                        const StapleOptions& o) {
  const int r = raters;
  StapleResult res;
  res.posterior.resize(rows);
  Acc total = 0, votes = 0;
  for (size_t k = 0; k < rows; ++k) {
    int fg = 0;
    for (int i = 0; i < r; ++i) fg += d[k * r + i];
    res.posterior[k] = static_cast<double>(fg) / r;
    total += static_cast<double>(n[k]);
    votes += static_cast<double>(n[k]) * res.posterior[k];
  }
  const double g = total > 0 ? static_cast<double>(votes / total) * o.confidence_weight : 0.0;
  res.prior = g;
  std::vector<double> p(r, 1.0), q(r, 1.0), last_p(r, -10.0), last_q(r, -10.0);
  for (int iter = 0; o.max_iterations <= 0 || iter < o.max_iterations; ++iter) {
    // M-step.
    for (int i = 0; i < r; ++i) {
      Acc p_num = 0, p_den = 0, q_num = 0, q_den = 0;
      for (size_t k = 0; k < rows; ++k) {
        const double c = static_cast<double>(n[k]), w = res.posterior[k];
        if (d[k * r + i]) {
          p_num += c * w;
        } else {
          q_num += c * (1.0 - w);
        }
        p_den += c * w;
        q_den += c * (1.0 - w);
      }
      if (p_den != 0) p[i] = static_cast<double>(p_num / p_den);
      if (q_den != 0) q[i] = static_cast<double>(q_num / q_den);
    }
    // E-step.
    for (size_t k = 0; k < rows; ++k) {
      double alpha = 1.0, beta = 1.0;
      for (int i = 0; i < r; ++i) {
        if (d[k * r + i]) {
          alpha *= p[i];
          beta *= 1.0 - q[i];
        } else {
          alpha *= 1.0 - p[i];
          beta *= q[i];
        }
      }
      const double den = g * alpha + (1.0 - g) * beta;
      if (den != 0) res.posterior[k] = g * alpha / den;
    }
    res.iterations = iter + 1;
    bool done = iter != 0;
    for (int i = 0; i < r && done; ++i)
      done = (p[i] - last_p[i]) * (p[i] - last_p[i]) <= kStapleTolerance &&
             (q[i] - last_q[i]) * (q[i] - last_q[i]) <= kStapleTolerance;
    last_p = p;
    last_q = q;
    if (done) {
      res.converged = true;
      break;
    }
  }
  res.sensitivity = p;
  res.specificity = q;
  return res;
}

}  // namespace

BinaryPatterns binary_patterns(const TupleHistogram& h, Label label) {
  const int r = h.raters;
  std::map<std::vector<uint8_t>, uint64_t> rows;
  std::vector<uint8_t> pattern(r);
  for (size_t i = 0; i < h.unanimous_labels.size(); ++i) {
    std::fill(pattern.begin(), pattern.end(), h.unanimous_labels[i] == label ? 1 : 0);
    rows[pattern] += h.unanimous_counts[i];
  }
  for (size_t row = 0; row < h.rows(); ++row) {
    for (int k = 0; k < r; ++k) pattern[k] = h.tuple(row)[k] == label ? 1 : 0;
    rows[pattern] += h.counts[row];
  }
  BinaryPatterns out;
  out.raters = r;
  out.voxels = h.voxels;
  for (const auto& [p, c] : rows) {
    out.d.insert(out.d.end(), p.begin(), p.end());
    out.counts.push_back(c);
  }
  return out;
}

StapleResult staple(const BinaryPatterns& p, const StapleOptions& o) {
  return run_staple<double>(p.raters, p.rows(), p.d.data(), p.counts.data(), o);
}

StapleResult staple_per_voxel(const std::vector<const uint8_t*>& masks, int64_t voxels,
                              const StapleOptions& o) {
  // Each voxel is its own row of weight 1: the same arithmetic as ITK's image loops, in the
  // order of the voxels.
  const int r = static_cast<int>(masks.size());
  std::vector<uint8_t> d(static_cast<size_t>(voxels) * r);
  for (int64_t x = 0; x < voxels; ++x)
    for (int i = 0; i < r; ++i) d[x * r + i] = masks[i][x] ? 1 : 0;
  const std::vector<uint64_t> ones(voxels, 1);
  return run_staple<long double>(r, static_cast<size_t>(voxels), d.data(), ones.data(), o);
}

// --- Multi-label STAPLE -----------------------------------------------------------------------
namespace {

// Distinct tuples with their counts, unanimous ones included, in histogram order.
struct Rows {
  std::vector<Label> tuples;
  std::vector<uint64_t> counts;
};

Rows all_rows(const TupleHistogram& h) {
  Rows rows;
  for (size_t i = 0; i < h.unanimous_labels.size(); ++i) {
    rows.tuples.insert(rows.tuples.end(), h.raters, h.unanimous_labels[i]);
    rows.counts.push_back(h.unanimous_counts[i]);
  }
  rows.tuples.insert(rows.tuples.end(), h.tuples.begin(), h.tuples.end());
  rows.counts.insert(rows.counts.end(), h.counts.begin(), h.counts.end());
  return rows;
}

MlStapleResult run_mlstaple(int raters, size_t n_rows, const Label* tuples, const uint64_t* n,
                            const MlStapleOptions& o) {
  Label max = 0;
  for (size_t i = 0; i < n_rows * raters; ++i) max = std::max(max, tuples[i]);
  if (max + 1 > kMaxMlStapleLabels)
    throw std::invalid_argument("multi-label STAPLE supports up to " +
                                std::to_string(kMaxMlStapleLabels) + " labels (0.." +
                                std::to_string(kMaxMlStapleLabels - 1) + "); this case has " +
                                std::to_string(max) + " as its largest");
  MlStapleResult res;
  res.raters = raters;
  const int L = max + 1;
  res.labels = L;
  res.undecided = static_cast<Label>(o.undecided_label >= 0 ? o.undecided_label : L);
  const size_t per_rater = static_cast<size_t>(L + 1) * L;
  res.confusion.assign(per_rater * raters, 0.0);
  auto cell = [&](std::vector<double>& m, int k, int j, int c) -> double& {
    return m[k * per_rater + static_cast<size_t>(j) * L + c];
  };

  // Initial confusion matrices from the label vote (ties undecided), decided voxels only; ITK
  // 5.2 also counts the undecided ones, out of bounds (into the next row's first cell).
  const VoteRule vote_rule{TiePolicy::kUndecided, static_cast<Label>(L), L};
  for (size_t row = 0; row < n_rows; ++row) {
    const Label* t = tuples + row * raters;
    const Label mv = vote_of(t, raters, vote_rule).majority;
    if (mv == L) continue;
    for (int k = 0; k < raters; ++k)
      cell(res.confusion, k, t[k], mv) += static_cast<double>(n[row]);
  }
  for (int k = 0; k < raters; ++k) {  // ITK normalises each row at initialisation
    for (int j = 0; j <= L; ++j) {
      double sum = 0;
      for (int c = 0; c < L; ++c) sum += cell(res.confusion, k, j, c);
      if (sum > 0)
        for (int c = 0; c < L; ++c) cell(res.confusion, k, j, c) /= sum;
    }
  }
  // Priors: label frequencies pooled over all raters, counted exactly.
  std::vector<uint64_t> freq(L, 0);
  uint64_t total = 0;
  for (size_t row = 0; row < n_rows; ++row)
    for (int k = 0; k < raters; ++k) {
      freq[tuples[row * raters + k]] += n[row];
      total += n[row];
    }
  res.priors.resize(L);
  for (int c = 0; c < L; ++c)
    res.priors[c] = total ? static_cast<double>(freq[c]) / static_cast<double>(total) : 0.0;

  std::vector<double> updated(res.confusion.size()), w(L);
  for (int iter = 0; o.max_iterations <= 0 || iter < o.max_iterations; ++iter) {
    std::fill(updated.begin(), updated.end(), 0.0);
    for (size_t row = 0; row < n_rows; ++row) {
      const Label* t = tuples + row * raters;
      for (int c = 0; c < L; ++c) w[c] = res.priors[c];
      for (int k = 0; k < raters; ++k)
        for (int c = 0; c < L; ++c) w[c] *= cell(res.confusion, k, t[k], c);
      double sum = 0;
      for (int c = 0; c < L; ++c) sum += w[c];
      if (sum != 0)
        for (int c = 0; c < L; ++c) w[c] /= sum;
      const double count = static_cast<double>(n[row]);
      for (int k = 0; k < raters; ++k)
        for (int c = 0; c < L; ++c) cell(updated, k, t[k], c) += count * w[c];
    }
    for (int k = 0; k < raters; ++k) {  // the M-step normalises each column
      for (int c = 0; c < L; ++c) {
        double sum = 0;
        for (int j = 0; j <= L; ++j) sum += cell(updated, k, j, c);
        if (sum != 0)
          for (int j = 0; j <= L; ++j) cell(updated, k, j, c) /= sum;
      }
    }
    double most = 0;
    for (size_t i = 0; i < updated.size(); ++i)
      most = std::max(most, std::abs(updated[i] - res.confusion[i]));
    res.confusion.swap(updated);
    res.iterations = iter + 1;
    if (most < o.termination_threshold) {
      res.converged = true;
      break;
    }
  }
  return res;
}

}  // namespace

MlStapleResult mlstaple(const TupleHistogram& h, const MlStapleOptions& o) {
  const Rows rows = all_rows(h);
  return run_mlstaple(h.raters, rows.counts.size(), rows.tuples.data(), rows.counts.data(), o);
}

MlStapleResult mlstaple_per_voxel(const std::vector<const Label*>& labels, int64_t voxels,
                                  const MlStapleOptions& o) {
  const int r = static_cast<int>(labels.size());
  std::vector<Label> tuples(static_cast<size_t>(voxels) * r);
  for (int64_t x = 0; x < voxels; ++x)
    for (int k = 0; k < r; ++k) tuples[x * r + k] = labels[k][x];
  const std::vector<uint64_t> ones(voxels, 1);
  return run_mlstaple(r, static_cast<size_t>(voxels), tuples.data(), ones.data(), o);
}

Label mlstaple_label(const MlStapleResult& r, const Label* tuple) {
  Label winner = r.undecided;
  double best = 0;
  for (int c = 0; c < r.labels; ++c) {
    double w = r.priors[c];
    for (int k = 0; k < r.raters; ++k)
      if (tuple[k] < r.labels) w *= r.theta(k, tuple[k], c);  // else unseen: an ignored entry
    if (w > best) {
      best = w;
      winner = static_cast<Label>(c);
    } else if (!(w < best)) {
      winner = r.undecided;  // an exact tie with the best so far
    }
  }
  return winner;
}

}  // namespace maskeval
