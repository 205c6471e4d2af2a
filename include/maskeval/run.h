// A dataset, the options of a run over it, and what the run finds.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "maskeval/case_list.h"
#include "maskeval/case_table.h"
#include "maskeval/counts.h"
#include "maskeval/distance.h"
#include "maskeval/image.h"
#include "maskeval/label_set.h"
#include "maskeval/labels.h"
#include "maskeval/staple.h"

namespace maskeval {

class ThumbnailKeeper;  // maskeval/report.h

// Found while listing: paths that could not be read; the run lists them and exits 3.
struct ListingProblem {
  std::string path, reason;
};

struct Dataset {
  CaseTable cases;         // sorted by id
  bool per_label = false;  // files are binary masks of one label each (manifest `label`)
  // Unreadable folders, and broken links or non-regular files where a mask was looked for.
  std::vector<ListingProblem> problems;
};

// Thrown for a dataset description that cannot be used at all (usage error, exit code 1).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --cases DIR: every folder under DIR (at any depth) in which `rater_glob` (relative to the
// folder; "" means every mask file directly in it) matches a file is a case; `reference` names a
// file inside each case folder.
Dataset dataset_from_case_folders(const std::string& root, const std::string& rater_glob,
                                  const std::string& reference,
                                  const std::string& prediction_glob = "");
// --rater [NAME=]DIR, repeated: files matched by their path inside each rater folder;
// `reference_dir` ("" for none) is a folder of reference files matched the same way.
Dataset dataset_from_rater_folders(const std::vector<std::string>& rater_dirs,
                                   const std::string& reference_dir);
// score --prediction [NAME=]DIR, repeated, --reference DIR (the nnU-Net way): each folder's files
// are one prediction (named by the folder, or NAME), matched to the reference files by their path
// inside each folder without `file_ending` ("" takes every mask file type the readers accept and
// drops its extension; e.g. ".nii.gz" takes only those). A case that lacks its file in one of the
// folders, or has several of its name, fails with the file named.
Dataset dataset_from_prediction_folders(const std::vector<std::string>& prediction_dirs,
                                        const std::string& reference_dir,
                                        const std::string& file_ending = "");
// --manifest FILE.csv with columns case,rater,path and optional label and role
// (rater|reference|prediction). Paths are relative to the manifest's folder.
Dataset dataset_from_manifest(const std::string& csv_path);

enum class Command { kAgree, kFuse, kScore };
enum class FuseMethod { kMajority, kStaple, kMlStaple };
// What `score` compares against: the case's reference file, or a consensus of its raters.
enum class ScoreAgainst { kReference, kMajority, kStaple };
enum class Backend { kAuto, kCpu, kCuda };

struct RunOptions {
  Command command = Command::kAgree;
  ForegroundRule foreground;
  Label max_label = kMaxLabel;
  ReadLimits read;  // --max-voxels, --allow-external-data
  EmptyPolicy empty = EmptyPolicy::kOne;
  bool include_background = false;
  bool write_maps = true;
  // --compression-level: deflate level of the masks and maps written (1 fastest .. 9 smallest);
  // it changes the files' sizes, never their content, so it is not among the run's settings.
  int compression_level = kDefaultCompressionLevel;
  bool overlay = false;       // colour picture of the disagreement (2D, needs OpenCV)
  std::string overlay_image;  // file in each case folder drawn under it (e.g. image.png)
  std::string out_dir = "maskeval-out";
  int threads = 0;  // 0: all cores
  Backend backend = Backend::kAuto;
  // --device-memory-limit: bytes of device memory the CUDA engine may allocate (also capped at
  // 70% of free memory); cases beyond it are counted in slabs or, too large even for those, on
  // the CPU. 0: no limit but the 70%.
  int64_t device_memory_limit = 0;
  bool strict = false;
  // Progress on stderr: a bar redrawn in place (a terminal), or a line every few seconds (a
  // log file).
  enum class Progress { kOff, kBar, kLines };
  Progress progress = Progress::kOff;
  double progress_seconds = 10;  // between lines of kLines
  bool timings = false;          // --timings: stage times in the report and on stderr
  // fuse
  FuseMethod method = FuseMethod::kMajority;
  TiePolicy tie = TiePolicy::kUndecided;
  int undecided_label = -1;  // -1: max label + 1 of each case
  std::vector<Label> paint_order;
  StapleOptions staple;      // confidence weight, iteration cap
  double threshold = 0.5;    // STAPLE consensus: posterior >= threshold
  MlStapleOptions mlstaple;  // iteration cap (undecided label from undecided_label)
  // score
  ScoreAgainst against = ScoreAgainst::kReference;
  // Boundary metrics (agree: with --distances; score: unless --no-distances).
  bool distances = false;
  DistanceOptions distance;
  std::map<LabelId, double> nsd_tolerance_by_label;  // overrides distance.nsd_tolerance
  std::array<double, 3> spacing{0, 0, 0};            // --spacing; 0: from the files
  // --labels, --region, --ignore-label: names and colours, the regions evaluated after the
  // labels, and the label whose voxels take no part in the counts (score: where the reference
  // carries it; agree and fuse: where any rater does).
  LabelSet labels;
  // The command line as typed (shell-quoted words), for the reports.
  std::string command_line;
  // Where the workers leave the report's worklist pictures of the cases they evaluate; none:
  // the report draws every picture from the files again.
  std::shared_ptr<ThumbnailKeeper> thumbnails;
};

// Overlap of one mask against the reference, per label.
// Wall time of each stage of the work on cases, in seconds (--timings), summed over cases:
// decoding the files, counting, deriving figures from counts (and the EM of STAPLE), distance
// transforms and boundary metrics, the write pass and the files written; and, for the run,
// building the summary and the report.
struct StageTimes {
  double decode = 0, count = 0, derive = 0, distances = 0, write = 0, report = 0;
  StageTimes& operator+=(const StageTimes& o) {
    decode += o.decode;
    count += o.count;
    derive += o.derive;
    distances += o.distances;
    write += o.write;
    report += o.report;
    return *this;
  }
};

struct Score {
  uint64_t tp = 0, fp = 0, fn = 0, tn = 0;
  double dice = 0, iou = 0, sensitivity = 0, specificity = 0, precision = 0;
  double volume_similarity = 0;
  std::optional<BoundaryMetrics> boundary;  // against the reference, when distances are on
};

struct LabelResult {
  LabelId label = 0;                           // the label or region reported
  LabelCounts counts;                          // of the view's label (1 in a binary view)
  std::vector<double> dice, iou, cohen_kappa;  // R*R
  double fleiss_kappa = 0;
  std::vector<BoundaryMetrics> boundary;  // R*R when distances are on; [i*R+j] = i against j
  double nsd_tolerance = 0;
  double percentile = 0;                   // of hd_percentile
  std::string agreement_map, entropy_map;  // per-label maps (per-label datasets only)
};

struct MajorityResult {
  Label undecided = 0;
  std::vector<std::pair<Label, uint64_t>> counts;
  std::string mask;
  // Against the case's reference, when it has one.
  bool has_reference = false;
  uint64_t mismatched = 0;
  std::map<LabelId, double> dice_vs_reference;  // labels and regions
};

// Binary STAPLE of one label.
struct StapleLabel {
  LabelId label = 0;
  StapleResult result;  // without the per-pattern posterior
  std::string posterior, mask;
  // With a reference: each rater measured against it, and the consensus's Dice.
  std::vector<Score> measured;
  std::optional<double> dice_vs_reference;
};

struct MlStapleCase {
  MlStapleResult result;
  std::string mask;
  std::optional<uint64_t> mismatched_vs_reference;
};

// The most raters and predictions one case may have: the counting engines take kMaxRaters
// columns, and scoring keeps one of them for the reference.
constexpr int kMaxMasksPerCase = kMaxRaters - 1;

// What the rater files of a case held, for the hint about a forgotten --foreground.
struct ValueHint {
  int files = 0;           // label-map files looked at
  int zero_or_255 = 0;     // files holding no value but 0 and 255
  int two_valued_255 = 0;  // files holding exactly two values, the upper one 255
  int mostly_255 = 0;      // of those, files where 255 covers more than half the image
};

struct CaseResult {
  std::string id;
  ValueHint values;
  std::array<double, 3> distance_spacing{1, 1, 1};  // spacing the distances were measured in
  std::vector<std::string> raters;
  std::map<std::string, std::vector<std::string>> files;  // by rater
  std::string reference_file;
  // Every file read for the case (raters, predictions, the reference, per-label files and a
  // header's data file), by path: its size and SHA-256, hashed as it was read.
  std::map<std::string, FileDigest> inputs;
  Geometry geom;
  std::vector<LabelResult> labels;
  std::optional<double> fleiss_kappa_all;  // label-map cases only
  std::string agreement_map, entropy_map, overlay;
  std::optional<MajorityResult> majority;
  std::vector<StapleLabel> staple;
  std::optional<MlStapleCase> mlstaple;
  // score: what each rater or prediction was scored against, and its scores by label.
  std::string scored_against;
  std::vector<std::string> predictions;  // names, sorted; scored like raters
  std::map<std::string, std::map<LabelId, Score>> scores;
  // --ignore-label: the voxels left out of every count of the case.
  std::optional<uint64_t> ignored_voxels;
  double mean_pairwise_dice = 0;  // over reported labels (not regions) and rater pairs; NaN: none
  StageTimes timings;
  // What the engine did otherwise for this case, e.g. "counted on the CPU: <why>" (device
  // memory short, an allocation that failed); empty when nothing happened (Engine::take_notes).
  std::vector<std::string> engine_notes;
};

struct FailedCase {
  std::string id, file, reason;
};

// --shard and merge: which share of which dataset a report covers.
struct ShardOf {
  int index = 0, count = 0;
  size_t dataset_cases = 0;    // cases in the whole listing
  std::string dataset_sha256;  // of the whole listing (dataset_sha256 in records.h)
};

struct RunResult {
  std::string backend;
  std::string backend_note;
  // Why the engine stopped using its device mid-run (the rest of the run used the CPU engine,
  // no case lost); "" when it did not (Engine::run_note).
  std::string engine_note;
  CaseList cases;
  std::vector<FailedCase> failed;
  bool aborted = false;                  // --strict stopped the run at the first bad case
  std::vector<std::string> warnings;     // run-wide hints (printed, and kept in the report)
  StageTimes timings;                    // summed over the cases reported (and failed)
  std::optional<ShardOf> shard;          // a --shard run: its share
  std::vector<std::string> merged_from;  // maskeval merge: the shard folders, by index
};

// Thrown when the run cannot go on at all (backend unavailable, output not writable).
class FatalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What can be known to fail before any case is read: more raters and predictions in a case than
// kMaxMasksPerCase (UsageError), --backend cuda without a device (FatalError). run_dataset
// checks it too.
void check_run(const Dataset& data, const RunOptions& options);

// Takes each case as it finishes, on the worker that ran it (several workers call at once).
class CaseSink {
 public:
  virtual ~CaseSink() = default;
  virtual void finished(const CaseSpec& spec, const CaseResult& result) = 0;
  virtual void failed(const CaseSpec& spec, const FailedCase& failure, const StageTimes& t) = 0;
};

// Processes every case; a bad case is listed in `failed` (or, with strict, ends the run: the
// first case to fail, in time, is the one reported). With a sink, each case goes to it as it
// finishes and is not kept: the result then holds no cases, failures, warnings or timings (the
// caller reads them back from where the sink put them), only the backend and notes, and the
// run's memory does not grow with the number of cases.
RunResult run_dataset(const Dataset& data, const RunOptions& options, CaseSink* sink = nullptr);

// Run-wide hints drawn from what the cases found (a forgotten --foreground).
std::vector<std::string> run_warnings(const RunOptions& options, const RunResult& result);

}  // namespace maskeval
