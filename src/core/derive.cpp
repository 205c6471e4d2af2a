// Per-label counts and case-level figures derived from the tuple histogram.
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include <numeric>

#include "engine/tuple_keys.h"
#include "maskeval/counts.h"

namespace maskeval {

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
    const uint64_t n = h.unanimous_counts[i];
    if (n == 0) continue;  // an entry left out (keep_entries)
    LabelCounts& c = entry(h.unanimous_labels[i]);
    for (uint64_t& v : c.volume) v += n;
    for (uint64_t& v : c.intersection) v += n;
    c.votes[r] += n;
  }
  std::vector<int> members;
  for (size_t row = 0; row < h.rows(); ++row) {
    const Label* t = h.tuple(row);
    const uint64_t n = h.counts[row];
    if (n == 0) continue;
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
