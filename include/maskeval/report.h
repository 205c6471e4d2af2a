// What a run's results say over the dataset, as JSON and as a table people read.
#pragma once

#include <cmath>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "maskeval/run.h"

namespace maskeval {

struct LabelSummary {
  Label label = 0;
  size_t cases = 0;  // cases in which the label appears
  size_t pairs = 0;  // rater pairs with a defined Dice
  double mean_dice = NAN, median_dice = NAN, min_dice = NAN;
  double mean_fleiss_kappa = NAN;
  std::map<std::string, double> rater_mean_dice;  // each rater against the others
  // With boundary metrics: means over rater pairs with finite values, and how many pairs had
  // exactly one mask empty.
  double mean_hd_percentile = NAN, mean_assd = NAN, mean_nsd = NAN;
  size_t infinite_pairs = 0;
  bool boundary = false;  // the rater pairs' boundary metrics were measured (agree --distances)
};

// A case that most needs a human to look at it: lowest mean pairwise Dice first.
struct Adjudication {
  std::string id;
  double mean_dice = NAN;
  Label worst_label = 0;
  std::string rater_a, rater_b;
  double worst_dice = NAN;
};

// score: one label of a leaderboard row, means over the cases in which the label was scored.
struct LabelBoard {
  size_t cases = 0;
  double mean_dice = NAN, mean_iou = NAN;
  double mean_hd_percentile = NAN, mean_assd = NAN, mean_nsd = NAN;  // finite values
  size_t infinite_distances = 0;
};

// score: each rater or prediction against the reference, over the dataset, best first.
struct LeaderboardRow {
  std::string name;
  bool prediction = false;
  size_t cases = 0;
  double mean_dice = NAN, mean_iou = NAN, mean_sensitivity = NAN, mean_precision = NAN;
  // With boundary metrics: means over the finite values, and how many were infinite (one
  // mask empty).
  double mean_hd_percentile = NAN, mean_assd = NAN, mean_nsd = NAN;
  size_t infinite_distances = 0;
  std::map<Label, double> label_mean_dice;  // labels[label].mean_dice
  std::map<Label, LabelBoard> labels;
};

// fuse --method staple: each rater's estimated performance, mean over cases, and the same
// measured against the reference where the cases have one.
struct StapleRaterSummary {
  size_t cases = 0;
  double sensitivity = NAN, specificity = NAN;
  double measured_sensitivity = NAN, measured_specificity = NAN;
};

struct Summary {
  std::vector<LabelSummary> labels;
  std::map<Label, std::map<std::string, StapleRaterSummary>> staple_raters;
  std::vector<Adjudication> adjudicate;
  std::vector<LeaderboardRow> leaderboard;
};

Summary summarize(const RunResult& result, size_t adjudicate_top);

const char* empty_policy_text(EmptyPolicy p);

// The unit boundary distances and NSD tolerances are in: the files' spacing unit ("mm", "um",
// "m") when they give one; else "mm" with --spacing, or for a NIfTI, NRRD or MetaImage voxel
// size without a unit (as ITK reads it); else "px" (PNG, TIFF without a physical size). Over a
// run: the cases' common unit, "mixed" when they differ (with no case, "mm" with --spacing,
// else "px").
std::string case_distance_unit(const CaseResult& c, const RunOptions& options);
std::string distance_unit(const RunResult& result, const RunOptions& options);

// The JSON report (the contract is docs/report.md) as text, indented by one space per level;
// bytes that are not UTF-8 (file names) are replaced with U+FFFD rather than fail the report.
// (The JSON value itself, for code inside maskeval: src/report/json_report.h.)
std::string report_json_text(const RunResult& result, const Summary& summary,
                             const RunOptions& options);

// The table printed at the end of a run.
void print_summary(std::ostream& out, const RunResult& result, const Summary& summary,
                   const RunOptions& options, const std::string& report_path);

}  // namespace maskeval
