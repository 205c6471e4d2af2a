// Consensus of a counted view: majority vote, binary and multi-label STAPLE, and the painting of
// per-label consensus masks into one label map; every figure against the reference from counts.
#pragma once

#include <vector>

#include "pipeline/evaluate.h"

namespace maskeval {

// The vote pass: majority, agreement and entropy written through one table (null outputs are
// not written). Returns the table: its first column is each entry's majority label.
WriteTable vote_pass(CaseContext& ctx, CountedView& v, const Columns& c, const VoteRule& rule,
                     const VoteMaps& out);

// The binary majority of a binary view's first `raters` columns, per entry (a tie, with an even
// number of raters, is never in it: undecided, or the lowest label, 0).
EntryMask binary_majority(const TupleHistogram& binary, int raters, TiePolicy tie);

// The majority (one label per entry) against the reference column: the Dice of each reported
// label and of each region present in either, and the voxels where they differ. A region's
// consensus: the binary majority of the raters' region masks with `vote_regions` (label maps),
// else the majority's labels in the region (the painted map of a per-label case).
void compare_with_reference(const TupleHistogram& h, const Columns& c,
                            const std::vector<uint16_t>& majority, const RunOptions& o,
                            MajorityResult& m, bool vote_regions);

// Binary STAPLE of one label: its maps written, and with `measure` each rater and the consensus
// against the reference column. `consensus`, when given, receives each entry's mask value.
StapleLabel staple_of(CaseContext& ctx, CountedView& v, const TupleHistogram& raters,
                      const Columns& c, ViewLabel label, bool measure, EntryMask* consensus);

// Multi-label STAPLE over the raters, its map written, and with a reference column the voxels
// where they differ.
MlStapleCase mlstaple_of(CaseContext& ctx, CountedView& v, const TupleHistogram& raters,
                         const Columns& c);

// Per-label masks painted into one label map, in column order (later columns overwrite
// earlier ones): a column's value 1 paints its label, 2 the undecided label. A last column
// beyond the masks (the reference map) is carried along, not painted.
struct Painting {
  std::vector<Label> map;
  std::vector<Label> per_entry;  // the painted label of each entry of the histogram
  std::unique_ptr<Engine::Counted> counted;
};
Painting paint(CaseContext& ctx, const CaseView& view, const std::vector<Label>& labels,
               Label undecided);

}  // namespace maskeval
