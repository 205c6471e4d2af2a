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

// A counted view as its figures read it: the engine's count, which the write passes go
// through, and the histogram every figure is derived from, entry for entry the engine's (so
// that write tables computed from it line up): voxels left out by the ignore label count zero,
// and in a region's view the region's labels read as 1, the others as 0.
struct CountedView {
  Engine::Counted& counted;
  TupleHistogram histogram;
  int64_t voxels() const { return histogram.voxels; }
};

// The view of `counted` as it is (no voxel left out).
CountedView whole_view(Engine::Counted& counted);
// The same view with a region's labels as 1 and every other label as 0.
CountedView region_view(const CountedView& v, const Region& region);

// The columns of a view, in this order: raters, predictions, the reference.
struct Columns {
  int raters = 0;
  int predictions = 0;
  bool reference = false;
  int entities() const { return raters + predictions; }
  int reference_column() const { return entities(); }
  int total() const { return entities() + (reference ? 1 : 0); }
};

// A label as a view holds it (`in_view`) and as it is reported: label maps hold labels as they
// are; a binary view of one label of a one-file-per-label case, and a region's view, hold it
// as 1.
struct ViewLabel {
  Label in_view = 1;
  LabelId reported = 1;
};

// The grid boundary metrics are measured on: the case's shape, with the file's spacing or
// --spacing.
Grid distance_grid(const Geometry& geom, const RunOptions& o);
DistanceOptions distance_options(const RunOptions& o, LabelId label);

// Whether a label is reported: not the ignore label, and not the background unless asked for
// (--include-background, or a labels file that names label 0 as something else).
bool reported(const RunOptions& o, Label l);
// The suffix of a label's or region's output files: "_label3", "_region-masses".
std::string output_suffix(const RunOptions& o, LabelId id);

// The raters' histogram: the first `raters` columns of the view's.
TupleHistogram raters_histogram(const TupleHistogram& h, const Columns& c);

// The counts of `label` in the raters' histogram (zero counts when no rater gives it).
LabelCounts counts_of(const std::vector<LabelCounts>& counts, Label label, int raters,
                      int64_t voxels);

// Dice, IoU and kappas between the raters for one label, with boundary metrics when asked.
LabelResult agreement_of(CaseContext& ctx, CountedView& v, LabelCounts counts, const Columns& c,
                         ViewLabel label, bool distances);

// One value per histogram entry: whether the consensus (or the reference) gives the label there.
using EntryMask = std::vector<uint8_t>;
EntryMask entries_with(const TupleHistogram& h, int column, Label label);

// Each entity's mask of `label` scored against the consensus marked by `consensus` (one value
// per entry), from counts; with `distances`, boundary metrics through the engine.
std::vector<Score> score_against(CaseContext& ctx, CountedView& v, const Columns& c,
                                 ViewLabel label, const EntryMask& consensus, bool distances);

// TP, FP, FN, TN and the overlap metrics of a column against a consensus, from their counts.
Score score_from(uint64_t tp, uint64_t vol_s, uint64_t vol_t, uint64_t n, EmptyPolicy p);

// Masks of the view's columns written by the engine in one pass: column c's mask of `label`
// for each listed column, then one mask per extra entry mask. Voxels left out are in no mask.
std::vector<std::vector<uint8_t>> write_masks(CaseContext& ctx, CountedView& v,
                                              const std::vector<int>& columns, Label label,
                                              const std::vector<const EntryMask*>& extra = {});

}  // namespace maskeval
