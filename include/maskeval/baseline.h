// --baseline PREV/report.json: an earlier run read back, checked against tonight's, compared.
#pragma once

#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "maskeval/gates.h"
#include "maskeval/run.h"

namespace maskeval {

struct Summary;
class ReportCases;

// One figure of a run, by where it is: scope "dataset" (item ""), "rater" (item: the rater or
// prediction; label empty for its overall figure) or "case" (item: the case id).
struct NamedFigure {
  std::string scope, item;
  std::optional<LabelId> label;
  std::string figure;
  double value = 0;  // NaN: undefined
};

// The same figure in the baseline and tonight (NaN where a run has none).
struct FigureChange {
  std::string scope, item;
  std::optional<LabelId> label;
  std::string figure;
  double before = 0, now = 0;
  double delta() const { return now - before; }
};

// Per-case volumes of one label in both runs: how many cases carry it, and the two-sample
// Kolmogorov-Smirnov statistic D = sup |F_before(v) - F_now(v)| over the empirical
// distributions of the volumes of the cases that carry it, with its p-value (exact for
// n_before * n_now <= 10000, else the asymptotic Kolmogorov distribution with Stephens'
// correction; docs/nightly.md). NaN when either run has no case with the label.
struct LabelDrift {
  LabelId label = 0;
  size_t cases_before = 0, cases_now = 0;
  double median_before = 0, median_now = 0;
  std::string unit;  // "mm^3", "px", ... (the cases' voxel size); "voxels" when unknown
  double d = 0, p = 0;
};

// Every case's figure in both runs, in the order of BaselineComparison::moved, spilled to the
// output folder past a few MiB (baseline_compare.cpp).
class MovedCases;

struct BaselineComparison {
  std::string path, sha256, version, command_line;
  size_t cases_before = 0, cases_now = 0;
  std::vector<std::string> cases_added, cases_removed;
  std::vector<FigureChange> changes;  // dataset and rater figures, in the runs' order
  // The case figure (agree, fuse: mean_pairwise_dice; score: mean_dice over the scored masks and
  // labels) of each case in both runs, the largest |delta| first, undefined ones last, ties in
  // tonight's order (by id): the first kMovedHeld of them here, all moved_count in all_moved.
  static constexpr size_t kMovedHeld = 1000;
  std::vector<FigureChange> moved;
  size_t moved_count = 0;
  std::shared_ptr<MovedCases> all_moved;  // null: `moved` is all of them
  std::vector<LabelDrift> drift;          // labels and regions of either run
};

// The figures a comparison lists: each label's dataset figures, each rater's or prediction's
// overall and per-label figures (the leaderboard; agree and fuse: rater_mean_dice).
std::vector<NamedFigure> run_figures(const Summary& summary);
// The volume of a label or region in each case that carries it (agree, fuse: the mean over the
// raters; score: the reference's), in voxels times the case's voxel size (volume_unit).
std::vector<double> case_volumes(const RunResult& result, LabelId label, const RunOptions& options);
std::string volume_unit(const RunResult& result);
// The figure `moved` ranks, of one case.
std::string case_figure_name(Command command);
double case_figure(const CaseResult& c, Command command);

// Two-sample Kolmogorov-Smirnov D and p-value (see LabelDrift); NaN for an empty sample.
std::pair<double, double> ks_two_sample(std::vector<double> a, std::vector<double> b);

class BaselineRun {
 public:
  // Reads PATH (an earlier run's report.json) and checks it against tonight's options: the same
  // command and conventions (foreground rule, empty policy, background, label names, regions,
  // ignore label, distance convention, percentile, tolerances, method, tie, against). Throws
  // UsageError "--baseline PATH: ..." naming the file and the first difference, or why the file
  // cannot be used.
  static std::shared_ptr<const BaselineRun> read(const std::string& path,
                                                 const RunOptions& tonight);

  // A gate's figure in the baseline run, for the same scope item and label as tonight's value
  // (`label`: the key tonight's figure was of); `error` says why the baseline has none.
  GateValue value(const GateFigure& f, GateScope scope, const std::string& item,
                  const std::string& label) const;
  // Whether the baseline has the case, or the rater or prediction (delta gates skip those it
  // has not: they were added since).
  bool has_case(const std::string& id) const;
  bool has_rater(const std::string& name) const;
  // The drift of one label or region, tonight against the baseline.
  LabelDrift drift(LabelId label, const RunResult& now) const;

  BaselineComparison compare(const RunResult& now, const Summary& now_summary) const;

  const RunResult& result() const { return *result_; }
  const Summary& summary() const { return *summary_; }

 private:
  BaselineRun() = default;
  std::string path_, sha256_, version_, command_line_;
  RunOptions options_;  // tonight's: the baseline's are the same where they matter
  std::shared_ptr<const RunResult> result_;
  std::shared_ptr<Summary> summary_;
  std::shared_ptr<const ReportCases> cases_;  // where the report's cases lie, by id
};

// OUT/baseline.csv: scope,item,label,label_name,figure,before,now,delta; the dataset and rater
// changes, every case's figure (scope "case", added and removed cases with one side empty) and
// the drift (scope "drift": figures cases, median_volume, ks_d, ks_p). Throws FatalError.
void write_baseline_csv(const std::string& out_dir, const BaselineComparison& b,
                        const RunOptions& options);
// The terminal block: cases added and removed, the largest changes, the drift flagged.
void print_baseline(std::ostream& out, const BaselineComparison& b, const RunOptions& options);

}  // namespace maskeval
