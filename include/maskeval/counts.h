// The counting pass: how many voxels carry each tuple of rater labels, and what follows.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "maskeval/core/metrics.h"

namespace maskeval {

using Label = uint16_t;
constexpr int kMaxRaters = 255;
constexpr int kMaxLabel = 65535;

// The label arrays of one case: one array per rater, each `voxels` long, of uint8 labels
// (label_bytes 1) or uint16 labels (label_bytes 2). max_label bounds every label.
struct CaseView {
  int64_t voxels = 0;
  int label_bytes = 1;
  Label max_label = 1;
  std::vector<const void*> raters;

  int rater_count() const { return static_cast<int>(raters.size()); }
  Label at(int rater, int64_t i) const {
    return label_bytes == 1 ? static_cast<const uint8_t*>(raters[rater])[i]
                            : static_cast<const uint16_t*>(raters[rater])[i];
  }
};

// How many voxels carry each R-tuple of labels. Unanimous tuples (every rater gives the same
// label) are kept apart, one counter per label; the others are listed in lexicographic order
// of their tuples, so that two engines that count the same case produce identical histograms.
struct TupleHistogram {
  int raters = 0;
  int64_t voxels = 0;
  std::vector<Label> unanimous_labels;     // ascending
  std::vector<uint64_t> unanimous_counts;  // one per label above
  std::vector<Label> tuples;               // raters labels per row, rows ascending
  std::vector<uint64_t> counts;            // one per row

  size_t rows() const { return counts.size(); }
  const Label* tuple(size_t row) const { return tuples.data() + row * raters; }
  bool operator==(const TupleHistogram& o) const;
};

// Counts of one label taken as a binary mask per rater.
struct LabelCounts {
  Label label = 0;
  std::vector<uint64_t> volume;        // [R]: voxels with this label, per rater
  std::vector<uint64_t> intersection;  // [R*R]: voxels where both raters give it; diagonal = volume
  std::vector<uint64_t> votes;         // [R+1]: voxels where exactly k raters give it

  uint64_t inter(int a, int b) const { return intersection[a * volume.size() + b]; }
};

namespace cpu {
// Counts a case with `threads` threads (>= 1). Throws std::invalid_argument on a bad view.
TupleHistogram count_tuples(const CaseView& view, int threads);
}  // namespace cpu

// The histogram of two parts of one case counted apart (slabs of a volume): counts add up.
TupleHistogram merge_histograms(const TupleHistogram& a, const TupleHistogram& b);

// Calls f(entry, tuple) for every entry of the histogram: its unanimous labels (the tuple holds
// the label in every column), then its mixed rows. Write tables follow this order (engine.h).
void for_each_entry(const TupleHistogram& h,
                    const std::function<void(size_t entry, const Label* tuple)>& f);
// Voxels carrying an entry.
uint64_t entry_voxels(const TupleHistogram& h, size_t entry);

// The histogram of `columns` columns derived from each entry by f(entry, tuple, out): what
// counting the derived columns voxel by voxel would give (a consensus next to the reference,
// binary masks of one label), without touching a voxel.
TupleHistogram derive_histogram(
    const TupleHistogram& h, int columns,
    const std::function<void(size_t entry, const Label* in, Label* out)>& f);
// The same entries, where they were (write tables still line up), those not kept counting no
// voxel: the counts of the kept voxels only (--ignore-label). `keep`: one flag per entry.
TupleHistogram keep_entries(const TupleHistogram& h, const std::vector<uint8_t>& keep);
// The same entries with every label of every column mapped by f (a region's labels to 1, the
// rest to 0). Unanimous entries stay unanimous; mixed rows may now hold equal labels.
TupleHistogram map_labels(const TupleHistogram& h, const std::function<Label(Label)>& f);
// The histogram of some of h's columns, in the order given (the raters of a case counted with
// its reference and predictions).
TupleHistogram project(const TupleHistogram& h, const std::vector<int>& columns);

// Marginalises the histogram to per-label counts for every label present in it (entries that
// count no voxel aside), ascending.
std::vector<LabelCounts> label_counts(const TupleHistogram& h);

// The vote of one voxel carrying `tuple`.
enum class TiePolicy { kUndecided, kLowest };
struct Vote {
  Label majority = 0;    // winner, or the undecided label on a tie under kUndecided
  int top_votes = 0;     // votes of the winning label(s)
  double agreement = 0;  // top_votes / raters
  double entropy = 0;    // normalised vote entropy
};
struct VoteRule {
  TiePolicy tie = TiePolicy::kUndecided;
  Label undecided = 0;
  int categories = 2;  // number of labels in the case, for the entropy normalisation
};
Vote vote_of(const Label* tuple, int raters, const VoteRule& rule);

// Voxels per majority label (the undecided label included), from the histogram, ascending.
std::vector<std::pair<Label, uint64_t>> majority_counts(const TupleHistogram& h,
                                                        const VoteRule& rule);

// Fleiss' kappa over all categories (every label, background included) of one case; NaN with
// fewer than 2 raters.
double fleiss_kappa_all(const std::vector<LabelCounts>& labels, int raters, int64_t voxels,
                        EmptyPolicy p);

// The per-voxel outputs of the write pass. Pointers left null are not written.
struct VoteMaps {
  Label* majority = nullptr;
  float* agreement = nullptr;
  float* entropy = nullptr;
};

namespace cpu {
void vote_maps(const CaseView& view, const VoteRule& rule, const VoteMaps& out, int threads);
}  // namespace cpu

}  // namespace maskeval
