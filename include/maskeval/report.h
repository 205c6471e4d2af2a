// What a run's results say over the dataset, as JSON and as a table people read.
#pragma once

#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "maskeval/baseline.h"
#include "maskeval/gates.h"
#include "maskeval/overlay.h"
#include "maskeval/run.h"

namespace maskeval {

struct LabelSummary {
  LabelId label = 0;
  size_t cases = 0;  // cases in which the label appears
  size_t pairs = 0;  // rater pairs with a defined Dice
  double mean_dice = NAN, median_dice = NAN, min_dice = NAN;
  double mean_fleiss_kappa = NAN;
  // From counts summed over cases and rater pairs: 2 sum(I) / sum(Va + Vb) (cityscapes' way:
  // the dataset as one image), beside the mean of the case figures.
  double pooled_dice = NAN;
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
  LabelId worst_label = 0;
  std::string rater_a, rater_b;
  double worst_dice = NAN;
};

// score: one label of a leaderboard row, means over the cases in which the label was scored.
struct LabelBoard {
  size_t cases = 0;
  double mean_dice = NAN, mean_iou = NAN, mean_sensitivity = NAN, mean_specificity = NAN;
  double mean_precision = NAN, mean_volume_similarity = NAN;
  // Pooled: TP, FP, FN summed over the cases, and the Dice and IoU of those sums (the dataset
  // as one image; cityscapes' dataset IoU).
  uint64_t tp = 0, fp = 0, fn = 0;
  double pooled_dice = NAN, pooled_iou = NAN;
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
  std::map<LabelId, double> label_mean_dice;  // labels[label].mean_dice
  std::map<LabelId, LabelBoard> labels;
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
  std::map<LabelId, std::map<std::string, StapleRaterSummary>> staple_raters;
  std::vector<Adjudication> adjudicate;
  std::vector<LeaderboardRow> leaderboard;
  std::vector<GateVerdict> gates;  // --fail-if, --gates: set after summarize (evaluate_gates)
  // --baseline: tonight against the earlier run (BaselineRun::compare), set after summarize.
  std::shared_ptr<const BaselineComparison> baseline;
};

// `scratch`: a folder for what does not fit in memory over very many cases (the median's values);
// "" holds everything in memory.
Summary summarize(const RunResult& result, size_t adjudicate_top, const std::string& scratch = "");

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

// The CSV tables (docs/report.md), written into `out_dir` beside report.json, each under a
// temporary name and renamed, row by row: cases.csv (a row per case, rater or prediction and
// label), pairs.csv (per case, label and rater pair), summary.csv (per label and rater or
// prediction) and worklist.csv (every case and label, the lowest mean Dice first, with the worst
// pair or entry and the case's files, for adjudication). Throws FatalError naming the file that
// could not be written.
void write_csv_tables(const std::string& out_dir, const RunResult& result, const Summary& summary,
                      const RunOptions& options);
// The names of the files write_csv_tables writes: cases.csv, pairs.csv, summary.csv,
// worklist.csv.
const std::vector<std::string>& csv_table_names();
// cases.csv's and pairs.csv's header and the rows of one case, as write_csv_tables writes them
// (pairs.csv has the distance columns when `boundary`).
std::string cases_csv_header(const RunOptions& options);
std::string cases_csv_rows(const CaseResult& c, const RunOptions& options);
std::string pairs_csv_header(bool boundary);
std::string pairs_csv_rows(const CaseResult& c, const RunOptions& options, bool boundary);
// A figure as the CSV tables write it: the shortest digits that read back the same, "" for
// NaN (undefined), "inf" and "-inf".
std::string csv_number(double v);

// score --nnunet-summary FILE: nnU-Net v2's summary.json (metric_per_case, mean,
// foreground_mean; docs/report.md) of each scored rater or prediction: FILE for the only one;
// with several, one file each beside FILE, named FILE's stem + "_" + the name + its extension.
// Returns the paths written; throws FatalError naming a file that could not be written.
std::vector<std::string> write_nnunet_summaries(const std::string& file, const RunResult& result,
                                                const RunOptions& options);

// --- The HTML report: report.html, one self-contained page (no network, no external files;
// pictures inline as data: URIs) that reads without JavaScript. Its size is bounded whatever the
// dataset's: long tables show their first or worst rows and say how many were left out.
struct HtmlOptions {
  size_t worst_cases = 100;        // rows of the per-case table: the cases of lowest agreement
  size_t max_rows = 200;           // rows of the other long tables and lists
  size_t max_labels = 64;          // labels (and regions) in the per-label tables
  size_t max_label_columns = 12;   // labels shown as columns (rater means, leaderboard)
  size_t max_heatmaps = 16;        // labels with a pairwise Dice matrix
  size_t max_matrix_raters = 32;   // a matrix over more raters is left out
  size_t max_thumbnails = 50;      // worklist cases with a picture (the first ones)
  size_t picture_bytes = 8 << 20;  // PNG bytes of all the pictures together, at most
  int64_t thumbnail_side = 256;    // pixels, the longer side at most
};

// The picture of one worklist case where its raters disagree, or why it has none.
struct Thumbnail {
  std::string png;                  // PNG file bytes; empty when there is none
  int64_t width = 0, height = 0;    // of the PNG
  std::string caption;              // which image or slice it shows
  std::vector<LegendEntry> legend;  // what its colours mean
  std::string missing;              // why there is none
};

// The worklist's pictures drawn during the run, while each case's files are in memory: those
// of the `capacity` cases of lowest mean pairwise Dice so far (ties: the lower id), the order of
// the worklist, so that the report reloads the files of only the cases it has no picture of (a
// resumed run's earlier cases, say). Thread-safe.
class ThumbnailKeeper {
 public:
  explicit ThumbnailKeeper(size_t capacity) : capacity_(capacity) {}
  // Keeps `draw()` for the case when it is among the lowest so far; draw runs only then.
  void offer(const std::string& id, double mean_dice, const std::function<Thumbnail()>& draw);
  // The picture kept for the case, if any.
  std::optional<Thumbnail> find(const std::string& id) const;

 private:
  bool would_keep(double mean_dice, const std::string& id) const;  // under the lock
  size_t capacity_;
  mutable std::mutex mutex_;
  std::map<std::pair<double, std::string>, Thumbnail> kept_;
};

// A case's thumbnail (as worklist_thumbnails draws it) from its loaded files: the first
// `raters` columns of `view` (label maps) or of each label's masks (one binary file per label).
Thumbnail label_map_thumbnail(const CaseSpec& spec, const RunOptions& options, const CaseView& view,
                              int raters, const Geometry& geom, const HtmlOptions& html = {});
Thumbnail per_label_thumbnail(const CaseSpec& spec, const RunOptions& options,
                              const std::map<Label, std::vector<std::vector<uint8_t>>>& masks,
                              int raters, const Geometry& geom, const HtmlOptions& html = {});

// The thumbnails of the worklist cases (Summary::adjudicate): those options.thumbnails kept,
// the others drawn by reloading their rater files: the 2D image, or a volume's axial slice of most
// disagreement, downscaled to options.thumbnail_side (nearest neighbour), over --overlay-image when
// there is one. `data`, the run's dataset listing, is needed for cases of one binary file per
// label; without it they get none, with the reason. Never throws for a case: a file that cannot be
// read now gives "missing".
std::map<std::string, Thumbnail> worklist_thumbnails(const RunResult& result,
                                                     const Summary& summary,
                                                     const RunOptions& options,
                                                     const Dataset* data = nullptr,
                                                     const HtmlOptions& html = {});

// The page as text. Links to the cases' files are relative to `dir`, the folder the page is
// written to; `data` (optional) says whether the files are label maps or per-label masks.
std::string report_html_text(const RunResult& result, const Summary& summary,
                             const RunOptions& options,
                             const std::map<std::string, Thumbnail>& thumbnails,
                             const std::string& dir, const Dataset* data = nullptr,
                             const HtmlOptions& html = {});

// Draws the thumbnails and writes OUT/report.html (OUT = options.out_dir) under a temporary
// name, renamed; returns its path. Throws FatalError when it cannot be written.
std::string write_html_report(const RunResult& result, const Summary& summary,
                              const RunOptions& options, const Dataset* data = nullptr,
                              const HtmlOptions& html = {});

}  // namespace maskeval
