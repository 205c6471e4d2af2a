// Per-label counts and case-level figures derived from the tuple histogram.
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include <numeric>

#include "cpu/histogram_build.h"
#include "maskeval/counts.h"

namespace maskeval {

namespace detail {

int label_bits(Label max_label) {
  int b = 1;
  while ((1u << b) <= max_label) ++b;
  return b;
}

KeyPath key_path(int raters, int bits) {
  const int key_bits = raters * bits;
  return key_bits <= 16 ? KeyPath::kDense : (key_bits <= 64 ? KeyPath::kPacked : KeyPath::kWide);
}

HistogramBuilder::HistogramBuilder(int raters, int64_t voxels, int bits, Label max_label)
    : raters_(raters),
      bits_(bits),
      voxels_(voxels),
      unanimous_(size_t{max_label} + 1, 0),
      scratch_(raters) {}

void HistogramBuilder::add_unanimous(Label label, uint64_t count) {
  unanimous_.at(label) += count;
}

void HistogramBuilder::add_key(uint64_t key, uint64_t count) {
  const uint64_t mask = (uint64_t{1} << bits_) - 1;
  for (int r = 0; r < raters_; ++r) scratch_[r] = static_cast<Label>((key >> (r * bits_)) & mask);
  add_tuple(scratch_.data(), count);
}

void HistogramBuilder::add_tuple(const Label* t, uint64_t count) {
  bool same = true;
  for (int r = 1; r < raters_; ++r) same = same && t[r] == t[0];
  if (same) {
    add_unanimous(t[0], count);
    return;
  }
  tuples_.insert(tuples_.end(), t, t + raters_);
  counts_.push_back(count);
}

TupleHistogram HistogramBuilder::finish() {
  TupleHistogram h;
  h.raters = raters_;
  h.voxels = voxels_;
  for (size_t l = 0; l < unanimous_.size(); ++l) {
    if (unanimous_[l] == 0) continue;
    h.unanimous_labels.push_back(static_cast<Label>(l));
    h.unanimous_counts.push_back(unanimous_[l]);
  }
  const size_t r = raters_;
  auto row = [&](size_t i) { return tuples_.begin() + i * r; };
  std::vector<size_t> order(counts_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::lexicographical_compare(row(a), row(a) + r, row(b), row(b) + r);
  });
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    if (counts_[i] == 0) continue;
    if (!h.counts.empty() && std::equal(row(i), row(i) + r, h.tuples.end() - r)) {
      h.counts.back() += counts_[i];
      continue;
    }
    h.tuples.insert(h.tuples.end(), row(i), row(i) + r);
    h.counts.push_back(counts_[i]);
  }
  return h;
}

}  // namespace detail

TupleHistogram merge_histograms(const TupleHistogram& a, const TupleHistogram& b) {
  if (a.raters != b.raters) throw std::invalid_argument("merging histograms of different raters");
  Label max = 0;
  for (const TupleHistogram* h : {&a, &b}) {
    for (Label l : h->unanimous_labels) max = std::max(max, l);
    for (Label l : h->tuples) max = std::max(max, l);
  }
  detail::HistogramBuilder out(a.raters, a.voxels + b.voxels, detail::label_bits(max), max);
  for (const TupleHistogram* h : {&a, &b}) {
    for (size_t i = 0; i < h->unanimous_labels.size(); ++i)
      out.add_unanimous(h->unanimous_labels[i], h->unanimous_counts[i]);
    for (size_t row = 0; row < h->rows(); ++row) out.add_tuple(h->tuple(row), h->counts[row]);
  }
  return out.finish();
}

bool TupleHistogram::operator==(const TupleHistogram& o) const {
  return raters == o.raters && voxels == o.voxels && unanimous_labels == o.unanimous_labels &&
         unanimous_counts == o.unanimous_counts && tuples == o.tuples && counts == o.counts;
}

std::vector<LabelCounts> label_counts(const TupleHistogram& h) {
  const int r = h.raters;
  std::map<Label, LabelCounts> by_label;
  auto entry = [&](Label l) -> LabelCounts& {
    LabelCounts& c = by_label[l];
    if (c.volume.empty()) {
      c.label = l;
      c.volume.assign(r, 0);
      c.intersection.assign(static_cast<size_t>(r) * r, 0);
      c.votes.assign(r + 1, 0);
    }
    return c;
  };
  for (size_t i = 0; i < h.unanimous_labels.size(); ++i) {
    LabelCounts& c = entry(h.unanimous_labels[i]);
    const uint64_t n = h.unanimous_counts[i];
    for (uint64_t& v : c.volume) v += n;
    for (uint64_t& v : c.intersection) v += n;
    c.votes[r] += n;
  }
  std::vector<int> members;
  for (size_t row = 0; row < h.rows(); ++row) {
    const Label* t = h.tuple(row);
    const uint64_t n = h.counts[row];
    for (int a = 0; a < r; ++a) {
      bool first = true;  // handle each distinct label once, at its first rater
      for (int b = 0; b < a; ++b) first = first && t[b] != t[a];
      if (!first) continue;
      members.clear();
      for (int b = a; b < r; ++b)
        if (t[b] == t[a]) members.push_back(b);
      LabelCounts& c = entry(t[a]);
      for (int x : members) {
        c.volume[x] += n;
        for (int y : members) c.intersection[static_cast<size_t>(x) * r + y] += n;
      }
      c.votes[members.size()] += n;
    }
  }
  std::vector<LabelCounts> out;
  out.reserve(by_label.size());
  for (auto& kv : by_label) {
    LabelCounts& c = kv.second;
    uint64_t voted = 0;
    for (int k = 1; k <= r; ++k) voted += c.votes[k];
    c.votes[0] = static_cast<uint64_t>(h.voxels) - voted;
    out.push_back(std::move(c));
  }
  return out;
}

double fleiss_kappa_all(const std::vector<LabelCounts>& labels, int raters, int64_t voxels,
                        EmptyPolicy p) {
  if (raters < 2) return NAN;  // agreement needs two raters, whatever the empty policy
  if (voxels == 0) return empty_value(p);
  const double n = static_cast<double>(voxels);
  const double r = raters;
  double squares = 0.0, pe = 0.0;
  for (const LabelCounts& c : labels) {
    double yes = 0.0;
    for (int k = 1; k <= raters; ++k) {
      const double v = static_cast<double>(c.votes[k]);
      squares += v * k * k;
      yes += v * k;
    }
    const double pj = yes / (n * r);
    pe += pj * pj;
  }
  if (pe >= 1.0) return empty_value(p);
  const double pbar = (squares - n * r) / (n * r * (r - 1.0));
  return (pbar - pe) / (1.0 - pe);
}

}  // namespace maskeval
