// maskeval diff: what changed between two versions of a label set over the same cases.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "maskeval/run.h"

namespace maskeval {

// What happened to an entry (a case, or a case and rater, of a label set) between the versions.
enum class DiffStatus { kAdded, kRemoved, kUnchanged, kChanged, kFailed };
const char* diff_status_name(DiffStatus s);

// One file of an entry as hashed (never decoded, but for a detached header: .mhd, .nhdr, read
// to reach its data file, which is listed in `data_files`).
struct DiffFile {
  std::string path;
  int label = kWholeMap;  // the label slot: kWholeMap for a label map
  std::optional<FileDigest> digest;
  std::vector<std::pair<std::string, FileDigest>> data_files;  // detached headers only
  std::string error;                                           // why it has no digest
};

// One version's side of an entry.
struct DiffSide {
  std::string rater;  // manifest: the rater (or "reference"); folders: ""
  LabelFiles files;
  std::vector<DiffFile> hashed;  // every file of `files`, in slot order
  std::string problem, problem_file;
};

// One label or region of a changed entry: the voxels carrying it in each version, those that
// carry it in exactly one (voxels changed = FP + FN with OLD as the reference) and Dice and
// HD95 (physical units; NaN without distances; infinite when one version lacks the label).
struct DiffLabel {
  LabelId label = 0;
  uint64_t old_voxels = 0, new_voxels = 0, both_voxels = 0, voxels_changed = 0;
  double dice = NAN, hd95 = NAN;
};

struct DiffEntry {
  std::string id;
  DiffStatus status = DiffStatus::kUnchanged;
  std::optional<DiffSide> old_side, new_side;
  bool per_label = false;  // compared as one binary file per label (else label maps)
  // kChanged: labels ascending, then regions; the voxels whose label differs (label maps) or
  // the sum of voxels_changed over the labels (per-label files, which may overlap:
  // `exact_voxels` false); the lowest Dice over the labels (regions aside; 1 when no label
  // is present in either version) and the rank (1 = most changed).
  std::vector<DiffLabel> labels;
  uint64_t voxels_changed = 0;
  bool exact_voxels = true;
  double min_dice = NAN;
  LabelId worst_label = 0;
  size_t rank = 0;
  int64_t voxels = 0;  // of the grid
  std::string distance_unit;
  // kFailed: the file and why.
  std::string file, reason;
};

struct DiffCounts {
  size_t added = 0, removed = 0, unchanged = 0, changed = 0, failed = 0;
  size_t total() const { return added + removed + unchanged + changed + failed; }
};

struct DiffResult {
  std::string old_path, new_path;
  std::string old_kind, new_kind;  // "folder" or "manifest"
  std::vector<DiffEntry> entries;  // sorted by id
  std::vector<size_t> ranked;      // indices of the changed entries, most changed first
  DiffCounts counts;
  std::vector<std::string> warnings;  // paths that could not be read while listing, run hints
  bool listing_problems = false;      // some warnings are unreadable paths (exit 3)
  std::string backend, backend_note;
  std::string distance_unit;  // the changed entries' common unit, "mixed", or "" for none
};

// Lists both versions (folders of mask files, found recursively and matched by their path
// without the mask extension, or manifests), hashes every file, and decodes and compares only
// the entries whose files differ, on the engine of `options.backend` (as `agree` with the two
// versions as its two raters). Options used: foreground, max_label, read, labels (regions;
// the ignore label is not applied), distances (HD95: distance.percentile, normally 95),
// spacing, threads, backend, device_memory_limit, progress. Throws UsageError for versions
// that cannot be used, FatalError when the run cannot go on.
DiffResult diff_versions(const std::string& old_path, const std::string& new_path,
                         const RunOptions& options);

// The outputs (docs/diff.md): diff.json, diff.csv (one row per entry and label) and diff.html.
std::string diff_json_text(const DiffResult& result, const RunOptions& options);
std::string diff_csv_text(const DiffResult& result, const RunOptions& options);
// `max_rows` bounds each table of the page; what is left out is said.
std::string diff_html_text(const DiffResult& result, const RunOptions& options,
                           size_t max_rows = 200);
// Writes the three into options.out_dir, each under a temporary name, renamed once all are
// written; returns their paths. Throws FatalError when one cannot be written, or when the
// folder holds one of these names that maskeval did not write (checked first, by content).
void check_diff_outputs(const std::string& out_dir);
std::vector<std::string> write_diff_outputs(const DiffResult& result, const RunOptions& options);

// The terminal summary: the counts, the `top` most changed entries and the failed ones.
void print_diff_summary(std::ostream& out, const DiffResult& result, const RunOptions& options,
                        size_t top = 10);

// 0; 3 when entries failed or listed paths could not be read; with `fail_on_change`, 5 when any
// entry was added, removed or changed (5 wins over 3).
constexpr int kExitChanged = 5;
int diff_exit_code(const DiffResult& result, bool fail_on_change);

}  // namespace maskeval
