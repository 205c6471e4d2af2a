// The write tables of the per-voxel outputs (engine.h): one value per histogram entry, computed
// on the host from the entry's tuple, so that both engines write the same values.
#pragma once

#include "maskeval/counts.h"
#include "maskeval/engine.h"
#include "maskeval/staple.h"

namespace maskeval {

// In every table the outputs depend on the first `raters` columns of the histogram (the raters;
// the columns after them, predictions and the reference, are ignored); -1: every column. A null
// output pointer leaves its column out.

// Majority label, agreement and entropy (vote_of; a voxel whose raters agree gets its label,
// agreement 1 and entropy 0).
WriteTable vote_table(const TupleHistogram& h, const VoteRule& rule, const VoteMaps& out,
                      int raters = -1);

// Binary STAPLE of `label`: the posterior W of each entry's vote pattern, and the consensus
// mask (1 where W >= threshold). `patterns` and `result` are binary_patterns and staple of the
// raters' histogram.
WriteTable staple_table(const TupleHistogram& h, Label label, const BinaryPatterns& patterns,
                        const StapleResult& result, double threshold, float* posterior,
                        uint8_t* mask, int raters = -1);

// Multi-label STAPLE's consensus label (mlstaple_label; unanimous raters included).
WriteTable mlstaple_table(const TupleHistogram& h, const MlStapleResult& result, Label* out,
                          int raters = -1);

// Column `column`'s binary mask of `label` (1 where it gives the label; 0 at entries that count
// no voxel, those keep_entries left out).
WriteColumn mask_column(const TupleHistogram& h, int column, Label label, uint8_t* out);

}  // namespace maskeval
