// Evaluating one counted view of a case: agreement between its raters and scores of its
// columns, every figure read from the one histogram of raters, predictions and reference.
#pragma once

#include <memory>
#include <vector>

#include "maskeval/engine.h"
#include "maskeval/run.h"
#include "pipeline/case_outputs.h"
#include "pipeline/stage_timer.h"

namespace maskeval {

// What every step of a case shares: the options, the run's engine, its threads, the grid the
// distances are measured on, where the files go and the case's stage times.
struct CaseContext {
  const RunOptions& o;
  Engine& engine;
  int threads;
  Grid grid;
  OutputFiles out;
  StageTimes* times;
};

// The engine's count and write pass, timed.
std::unique_ptr<Engine::Counted> count_view(CaseContext& ctx, const CaseView& view);
void write_pass(CaseContext& ctx, Engine::Counted& counted, const WriteTable& table);

// The columns of a view, in this order: raters, predictions, the reference.
struct Columns {
  int raters = 0;
  int predictions = 0;
  bool reference = false;
  int entities() const { return raters + predictions; }
  int reference_column() const { return entities(); }
  int total() const { return entities() + (reference ? 1 : 0); }
};

// A label as a view holds it: label maps hold labels as they are; a binary view of one label
// of a one-file-per-label case holds it as 1.
struct ViewLabel {
  Label in_view = 1;
  Label reported = 1;
};

// The grid boundary metrics are measured on: the case's shape, with the file's spacing or
// --spacing.
Grid distance_grid(const Geometry& geom, const RunOptions& o);
DistanceOptions distance_options(const RunOptions& o, Label label);

// The raters' histogram: the first `raters` columns of the view's.
TupleHistogram raters_histogram(const TupleHistogram& h, const Columns& c);

// The counts of `label` in the raters' histogram (zero counts when no rater gives it).
LabelCounts counts_of(const std::vector<LabelCounts>& counts, Label label, int raters,
                      int64_t voxels);

// Dice, IoU and kappas between the raters for one label, with boundary metrics when asked.
LabelResult agreement_of(CaseContext& ctx, Engine::Counted& counted, LabelCounts counts,
                         const Columns& c, ViewLabel label, bool distances);

// One value per histogram entry: whether the consensus (or the reference) gives the label there.
using EntryMask = std::vector<uint8_t>;
EntryMask entries_with(const TupleHistogram& h, int column, Label label);

// Each entity's mask of `label` scored against the consensus marked by `consensus` (one value
// per entry), from counts; with `distances`, boundary metrics through the engine.
std::vector<Score> score_against(CaseContext& ctx, Engine::Counted& counted, const Columns& c,
                                 ViewLabel label, const EntryMask& consensus, bool distances);

// TP, FP, FN, TN and the overlap metrics of a column against a consensus, from their counts.
Score score_from(uint64_t tp, uint64_t vol_s, uint64_t vol_t, uint64_t n, EmptyPolicy p);

// Masks of the view's columns written by the engine in one pass: column c's mask of `label`
// for each listed column, then one mask per extra entry mask.
std::vector<std::vector<uint8_t>> write_masks(CaseContext& ctx, Engine::Counted& counted,
                                              const std::vector<int>& columns, Label label,
                                              const std::vector<const EntryMask*>& extra = {});

}  // namespace maskeval
