// Histograms of columns derived from a histogram's tuples: projections, consensus columns.
#include <algorithm>
#include <stdexcept>

#include "engine/tuple_keys.h"
#include "maskeval/counts.h"
#include "maskeval/engine.h"

namespace maskeval {

size_t entry_count(const TupleHistogram& h) {
  return h.unanimous_labels.size() + h.rows();
}

void for_each_entry(const TupleHistogram& h,
                    const std::function<void(size_t entry, const Label* tuple)>& f) {
  std::vector<Label> same(static_cast<size_t>(std::max(h.raters, 1)));
  const size_t u = h.unanimous_labels.size();
  for (size_t e = 0; e < u; ++e) {
    std::fill(same.begin(), same.end(), h.unanimous_labels[e]);
    f(e, same.data());
  }
  for (size_t row = 0; row < h.rows(); ++row) f(u + row, h.tuple(row));
}

uint64_t entry_voxels(const TupleHistogram& h, size_t entry) {
  const size_t u = h.unanimous_labels.size();
  return entry < u ? h.unanimous_counts[entry] : h.counts[entry - u];
}

TupleHistogram derive_histogram(
    const TupleHistogram& h, int columns,
    const std::function<void(size_t entry, const Label* in, Label* out)>& f) {
  if (columns < 1 || columns > kMaxRaters) throw std::invalid_argument("bad column count");
  std::vector<Label> derived(entry_count(h) * columns);
  Label max = 0;
  for_each_entry(h, [&](size_t e, const Label* t) {
    Label* out = derived.data() + e * columns;
    f(e, t, out);
    for (int c = 0; c < columns; ++c) max = std::max(max, out[c]);
  });
  detail::HistogramBuilder b(columns, h.voxels, detail::label_bits(max), max);
  for (size_t e = 0; e < entry_count(h); ++e)
    b.add_tuple(derived.data() + e * columns, entry_voxels(h, e));
  return b.finish();
}

TupleHistogram keep_entries(const TupleHistogram& h, const std::vector<uint8_t>& keep) {
  if (keep.size() != entry_count(h)) throw std::invalid_argument("one keep flag per entry");
  TupleHistogram out = h;
  const size_t u = h.unanimous_labels.size();
  for (size_t e = 0; e < keep.size(); ++e) {
    if (keep[e]) continue;
    uint64_t& n = e < u ? out.unanimous_counts[e] : out.counts[e - u];
    out.voxels -= static_cast<int64_t>(n);
    n = 0;
  }
  return out;
}

TupleHistogram map_labels(const TupleHistogram& h, const std::function<Label(Label)>& f) {
  TupleHistogram out = h;
  for (Label& l : out.unanimous_labels) l = f(l);
  for (Label& l : out.tuples) l = f(l);
  return out;
}

TupleHistogram project(const TupleHistogram& h, const std::vector<int>& columns) {
  for (int c : columns)
    if (c < 0 || c >= h.raters) throw std::invalid_argument("projecting onto a missing column");
  return derive_histogram(h, static_cast<int>(columns.size()),
                          [&](size_t, const Label* in, Label* out) {
                            for (size_t k = 0; k < columns.size(); ++k) out[k] = in[columns[k]];
                          });
}

}  // namespace maskeval
