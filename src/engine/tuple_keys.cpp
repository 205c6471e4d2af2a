// How a case's tuples are keyed and counted keys assembled into a TupleHistogram in canonical
// order: shared by the CPU and CUDA engines, so that both produce identical histograms.
#include "engine/tuple_keys.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace maskeval {

namespace detail {

void validate_view(const CaseView& v) {
  if (v.rater_count() < 1 || v.rater_count() > kMaxRaters)
    throw std::invalid_argument("a case needs 1 to " + std::to_string(kMaxRaters) +
                                " raters, not " + std::to_string(v.rater_count()));
  if (v.label_bytes != 1 && v.label_bytes != 2)
    throw std::invalid_argument("labels must be 1 or 2 bytes wide");
  if (v.label_bytes == 1 && v.max_label > 255)
    throw std::invalid_argument("max_label exceeds the 8-bit label type");
  if (v.voxels < 0) throw std::invalid_argument("negative voxel count");
  for (const void* p : v.raters)
    if (p == nullptr && v.voxels > 0) throw std::invalid_argument("null rater array");
}

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

}  // namespace maskeval
