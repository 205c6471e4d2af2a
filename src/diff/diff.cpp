// maskeval diff: listing and matching two versions, hashing, comparing only what changed.
#include "maskeval/diff.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "maskeval/report.h"
#include "pipeline/output_dir.h"
#include "util/parallel.h"
#include "util/sha256.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

// The two raters of the comparison run: OLD first in every sorted list.
const char* const kOldRater = "a:old";
const char* const kNewRater = "b:new";

// One entry as a version lists it, before entries are matched.
struct Listed {
  std::string case_id, rater;
  LabelFiles files;
  std::string problem, problem_file;
};

// One version: its entries and what could not be read while listing it.
struct Version {
  std::string kind;  // "folder" or "manifest"
  std::vector<Listed> entries;
  std::vector<ListingProblem> problems;
};

// A folder's entries, from a listing of it as rater `rater` (matched by path, no extension).
std::vector<Listed> folder_entries(const Dataset& d, const std::string& rater) {
  std::vector<Listed> out;
  for (const CaseSpec& c : d.cases) {
    const auto it = c.raters.find(rater);
    if (it == c.raters.end()) continue;
    Listed e{c.id, "", it->second, "", ""};
    const auto& files = it->second.begin()->second;
    if (files.size() > 1) {
      std::string names;
      for (const std::string& f : files)
        names += (names.empty() ? "" : ", ") + fs::path(f).filename().string();
      e.problem = "several files of this name (" + names + "); keep one";
      e.problem_file = files[0];
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Lists OLD and NEW where they are folders, both in one walk when both are (the rater-folder
// listing: mask files found recursively, symlinks followed, each folder once).
Dataset list_folders(const std::vector<std::string>& named_dirs, const std::string& out_dir) {
  Dataset d;
  try {
    d = dataset_from_rater_folders(named_dirs, "");
  } catch (const UsageError& e) {
    const std::string why = e.what(), prefix = "--rater: ";
    throw UsageError("diff: " + (why.rfind(prefix, 0) == 0 ? why.substr(prefix.size()) : why));
  }
  leave_out_own_outputs(d, out_dir);
  return d;
}

// A manifest's entries: each (case, rater) pair, role=reference rows as the rater "reference".
Version manifest_version(const std::string& path) {
  const Dataset d = dataset_from_manifest(path);
  Version v{"manifest", {}, {}};
  for (const CaseSpec& c : d.cases) {
    std::set<std::string> names;
    auto add = [&](const std::string& rater, const LabelFiles& files) {
      if (!names.insert(rater).second)
        throw UsageError("diff: manifest " + path + ": case " + c.id + " names '" + rater +
                         "' twice (as rater, prediction or reference); entries are case and "
                         "rater pairs");
      v.entries.push_back({c.id, rater, files, "", ""});
    };
    for (const auto& [name, files] : c.raters) add(name, files);
    for (const auto& [name, files] : c.predictions) add(name, files);
    if (!c.reference.empty()) add("reference", c.reference);
  }
  return v;
}

// The id a mask file has in a version folder (its path inside, without the mask extension).
std::string id_in(const std::string& rel) {
  const std::string gz = ".nii.gz";
  if (rel.size() > gz.size() && rel.compare(rel.size() - gz.size(), gz.size(), gz) == 0)
    return rel.substr(0, rel.size() - gz.size());
  const fs::path p(rel);
  return (p.parent_path() / p.stem()).generic_string();
}

// Mask files the listing could not read (broken links, FIFOs) under `root`: their entries fail
// naming the file, rather than look removed or added.
void add_unreadable(Version& v, const std::string& root, const std::vector<ListingProblem>& ps) {
  for (const ListingProblem& p : ps) {
    const std::string rel = fs::path(p.path).lexically_relative(root).generic_string();
    if (rel.empty() || rel.rfind("..", 0) == 0 || !is_mask_file(rel)) continue;
    const std::string id = id_in(rel);
    auto it = std::find_if(v.entries.begin(), v.entries.end(),
                           [&](const Listed& e) { return e.case_id == id; });
    if (it == v.entries.end()) it = v.entries.insert(v.entries.end(), {id, "", {}, "", ""});
    if (it->problem.empty()) {
      it->problem = p.reason;
      it->problem_file = p.path;
    }
  }
}

bool is_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// Both versions listed; a path that is neither a folder nor a readable file is a usage error.
std::pair<Version, Version> list_versions(const std::string& old_path, const std::string& new_path,
                                          const std::string& out_dir) {
  for (const std::string& p : {old_path, new_path}) {
    std::error_code ec;
    if (!fs::exists(p, ec))
      throw UsageError("diff: " + p + " does not exist (give a folder of masks or a manifest)");
  }
  const bool old_dir = is_folder(old_path), new_dir = is_folder(new_path);
  Version o, n;
  if (old_dir && new_dir) {
    const Dataset d = list_folders({"old=" + old_path, "new=" + new_path}, out_dir);
    o = {"folder", folder_entries(d, "old"), d.problems};
    n = {"folder", folder_entries(d, "new"), {}};
    add_unreadable(o, old_path, d.problems);
    add_unreadable(n, new_path, d.problems);
    return {std::move(o), std::move(n)};
  }
  auto one = [&](const std::string& path, bool dir) {
    if (!dir) return manifest_version(path);
    const Dataset d = list_folders({"a=" + path, "b=" + path}, out_dir);  // the folder alone
    Version v{"folder", folder_entries(d, "a"), d.problems};
    add_unreadable(v, path, d.problems);
    return v;
  };
  return {one(old_path, old_dir), one(new_path, new_dir)};
}

// Entries by id: the case, or "case/rater" when a case has several entries in either version.
std::map<std::string, DiffSide> keyed(std::vector<Listed>& entries, bool by_rater) {
  std::map<std::string, DiffSide> out;
  for (Listed& e : entries) {
    const std::string id = by_rater ? e.case_id + "/" + e.rater : e.case_id;
    DiffSide s;
    s.rater = e.rater;
    s.files = std::move(e.files);
    s.problem = std::move(e.problem);
    s.problem_file = std::move(e.problem_file);
    if (!out.emplace(id, std::move(s)).second)
      throw UsageError("diff: two entries have the id '" + id + "' (case '" + e.case_id +
                       "', rater '" + e.rater + "' and another case and rater that join to it)");
  }
  return out;
}

bool several_per_case(const Version& v) {
  std::set<std::string> seen;
  for (const Listed& e : v.entries)
    if (!seen.insert(e.case_id).second) return true;
  return false;
}

// --- Hashing ------------------------------------------------------------------------------

std::string errno_text(int err) {
  return std::strerror(err);
}

// The size and SHA-256 of a regular file, read in pieces (a FIFO or device is refused unread).
FileDigest hash_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw InputError("cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError("not a regular file");
  }
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw InputError("cannot read: " + errno_text(err));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return {static_cast<int64_t>(h.size()), h.finish_hex()};
}

bool ends_with_nocase(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i])
      return false;
  return true;
}

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// The first `limit` bytes of a file hashed already (so a regular file); "" when unreadable.
std::string file_head(const std::string& path, size_t limit) {
  std::string head(limit, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "";
  size_t got = 0;
  while (got < limit) {
    const ssize_t n = ::read(fd, head.data() + got, limit - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  head.resize(got);
  return head;
}

// Whether a MetaImage or NRRD header may name a separate data file (ElementDataFile other than
// LOCAL; a "data file" field): its bytes alone do not say whether the image changed. A header
// longer than the part looked at counts as naming one.
bool may_name_data_file(const std::string& path) {
  const bool nrrd = ends_with_nocase(path, ".nrrd") || ends_with_nocase(path, ".nhdr");
  const bool meta = ends_with_nocase(path, ".mha") || ends_with_nocase(path, ".mhd");
  if (!nrrd && !meta) return false;
  const std::string head = file_head(path, 1 << 16);
  size_t begin = 0;
  while (begin < head.size()) {
    const size_t end = std::min(head.find('\n', begin), head.size());
    const std::string line = trimmed(head.substr(begin, end - begin));
    begin = end + 1;
    if (nrrd && line.empty()) return false;  // the header ends: the data is attached
    const size_t sep = line.find(nrrd ? ':' : '=');
    if (sep == std::string::npos) continue;
    std::string key;
    for (const char c : line.substr(0, sep))
      if (c != ' ' && c != '\t') key.push_back(static_cast<char>(std::tolower(c)));
    if (nrrd && key == "datafile") return true;
    if (meta && key == "elementdatafile") {
      std::string value = trimmed(line.substr(sep + 1));
      for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return value != "local";
    }
  }
  return head.size() >= (1u << 16);  // no data file named in a header read whole
}

// One file hashed: its digest, and for a header naming a data file, that file's too (read
// through the reader, the only code that knows which file a header names).
DiffFile hash_one(const std::string& path, int label, const ReadLimits& limits) {
  DiffFile f;
  f.path = path;
  f.label = label;
  try {
    f.digest = hash_file(path);
    if (!may_name_data_file(path)) return f;
    const RawImage raw = read_image(path, limits);
    for (const auto& [p, d] : raw.files)
      if (p != path) f.data_files.emplace_back(p, d);
    if (f.data_files.empty()) f.error = "its data file could not be hashed";
  } catch (const InputError& e) {
    if (!f.digest) {
      f.error = e.what();
    } else {
      f.error = std::string("its data file could not be hashed: ") + e.what();
    }
  }
  return f;
}

// Hashes every file of every side (each path once) on up to `threads` threads.
void hash_sides(const std::vector<DiffSide*>& sides, const RunOptions& o) {
  std::vector<std::pair<std::string, int>> files;
  std::map<std::string, size_t> index;
  for (const DiffSide* s : sides)
    for (const auto& [label, list] : s->files)
      for (const std::string& f : list)
        if (index.emplace(f, files.size()).second) files.emplace_back(f, label);
  std::vector<DiffFile> hashed(files.size());
  const int threads = o.threads > 0 ? o.threads : hardware_threads();
  const int parts = static_cast<int>(std::max<size_t>(1, std::min<size_t>(threads, files.size())));
  parallel_ranges(static_cast<int64_t>(files.size()), parts, [&](int, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hashed[i] = hash_one(files[i].first, files[i].second, o.read);
  });
  for (DiffSide* s : sides)
    for (const auto& [label, list] : s->files)
      for (const std::string& f : list) {
        DiffFile d = hashed[index.at(f)];
        d.label = label;
        s->hashed.push_back(std::move(d));
      }
}

// What a side's files hold, slot by slot, as sizes and hashes (file names aside); none when a
// file's content is not known from its bytes.
using Signature = std::map<int, std::vector<std::string>>;
std::optional<Signature> signature(const DiffSide& s) {
  Signature sig;
  for (const DiffFile& f : s.hashed) {
    if (!f.digest || !f.error.empty()) return std::nullopt;
    std::string text = std::to_string(f.digest->bytes) + ":" + f.digest->sha256;
    for (const auto& [p, d] : f.data_files) text += "+" + std::to_string(d.bytes) + ":" + d.sha256;
    sig[f.label].push_back(std::move(text));
  }
  for (auto& [label, list] : sig) std::sort(list.begin(), list.end());
  return sig;
}

}  // namespace

const char* diff_status_name(DiffStatus s) {
  switch (s) {
    case DiffStatus::kAdded:
      return "added";
    case DiffStatus::kRemoved:
      return "removed";
    case DiffStatus::kUnchanged:
      return "unchanged";
    case DiffStatus::kChanged:
      return "changed";
    case DiffStatus::kFailed:
      return "failed";
  }
  return "?";
}

namespace {

// --- Classification -----------------------------------------------------------------------

enum class Kind { kMap, kPerLabel, kMixed };

Kind side_kind(const DiffSide& s) {
  const bool map = s.files.count(kWholeMap) > 0;
  if (map && s.files.size() > 1) return Kind::kMixed;
  return map ? Kind::kMap : Kind::kPerLabel;
}

void fail(DiffEntry& e, const std::string& file, const std::string& reason) {
  e.status = DiffStatus::kFailed;
  e.file = file;
  e.reason = reason;
}

// An entry in both versions: failed when it cannot be compared, unchanged when its files have
// the same bytes slot for slot, else changed (to be decoded and compared).
void classify_pair(DiffEntry& e) {
  for (const DiffSide* s : {&*e.old_side, &*e.new_side}) {
    if (!s->problem.empty()) return fail(e, s->problem_file, s->problem);
    for (const DiffFile& f : s->hashed)
      if (!f.digest) return fail(e, f.path, f.error);
    if (side_kind(*s) == Kind::kMixed)
      return fail(e, s->hashed.at(0).path, "mixes a label map with per-label files");
    const auto map = s->files.find(kWholeMap);
    if (map != s->files.end() && map->second.size() != 1)
      return fail(e, map->second.at(0),
                  std::to_string(map->second.size()) + " label maps for this entry; expected one");
  }
  const Kind ko = side_kind(*e.old_side), kn = side_kind(*e.new_side);
  if (ko != kn)
    return fail(e, e.new_side->hashed.at(0).path,
                std::string("OLD gives ") +
                    (ko == Kind::kMap ? "a label map" : "one binary file per label") + ", NEW " +
                    (kn == Kind::kMap ? "a label map" : "one binary file per label") +
                    "; they cannot be compared");
  e.per_label = ko == Kind::kPerLabel;
  const auto so = signature(*e.old_side), sn = signature(*e.new_side);
  e.status = so && sn && *so == *sn ? DiffStatus::kUnchanged : DiffStatus::kChanged;
}

// The matched entries of both versions, hashed and classified (changed ones still to compare).
std::vector<DiffEntry> match(Version& o, Version& n, const RunOptions& opt) {
  // Folder entries are named by their path; manifest entries by case, or by case/rater.
  const bool by_rater = several_per_case(o) || several_per_case(n);
  std::map<std::string, DiffSide> old_map = keyed(o.entries, by_rater && o.kind == "manifest");
  std::map<std::string, DiffSide> new_map = keyed(n.entries, by_rater && n.kind == "manifest");
  std::map<std::string, DiffEntry> all;
  for (auto& [id, s] : old_map) all[id].old_side = std::move(s);
  for (auto& [id, s] : new_map) all[id].new_side = std::move(s);
  std::vector<DiffSide*> sides;
  for (auto& [id, e] : all) {
    e.id = id;
    if (e.old_side) sides.push_back(&*e.old_side);
    if (e.new_side) sides.push_back(&*e.new_side);
  }
  hash_sides(sides, opt);
  std::vector<DiffEntry> out;
  for (auto& [id, e] : all) {
    if (!e.new_side) {
      e.status = DiffStatus::kRemoved;
    } else if (!e.old_side) {
      e.status = DiffStatus::kAdded;
    } else {
      classify_pair(e);
    }
    out.push_back(std::move(e));
  }
  return out;
}

// --- Comparing the changed entries --------------------------------------------------------

// The options of a comparison run: `agree` between OLD and NEW as two raters, nothing written.
// Label maps also evaluate one hidden region of every label (its voxels where exactly one
// version has a label give the exact count of voxels whose label differs).
RunOptions compare_options(const RunOptions& given, bool per_label) {
  RunOptions o = given;
  o.command = Command::kAgree;
  o.write_maps = false;
  o.overlay = false;
  o.strict = false;
  o.labels.ignore.reset();
  if (per_label) return o;
  Region all{"maskeval-diff-all-labels", {}};
  for (int l = 1; l <= kMaxLabel; ++l) all.labels.push_back(static_cast<Label>(l));
  o.labels.regions.push_back(std::move(all));
  return o;
}

// The figures of one compared entry from its case result.
void read_figures(const CaseResult& c, const RunOptions& o, DiffEntry& e) {
  const auto at = [&](const char* name) {
    return static_cast<size_t>(std::find(c.raters.begin(), c.raters.end(), name) -
                               c.raters.begin());
  };
  const size_t a = at(kOldRater), b = at(kNewRater), n = c.raters.size();
  const LabelId hidden =
      e.per_label ? -1 : o.labels.region_id(o.labels.regions.size() - 1);  // compare_options
  uint64_t sum = 0, one_side_foreground = 0;
  size_t labels = 0;
  double lowest = NAN;
  for (const LabelResult& l : c.labels) {
    if (l.label == hidden) {
      one_side_foreground = l.counts.votes.at(1);
      continue;
    }
    DiffLabel d;
    d.label = l.label;
    d.old_voxels = l.counts.volume.at(a);
    d.new_voxels = l.counts.volume.at(b);
    d.both_voxels = l.counts.inter(static_cast<int>(a), static_cast<int>(b));
    d.voxels_changed = d.old_voxels + d.new_voxels - 2 * d.both_voxels;
    d.dice = l.dice.at(a * n + b);
    if (!l.boundary.empty()) d.hd95 = l.boundary.at(a * n + b).hd_percentile;
    if (!is_region(l.label) && l.label != 0) {
      sum += d.voxels_changed;
      ++labels;
    }
    if (!is_region(l.label) && !std::isnan(d.dice) && (std::isnan(lowest) || d.dice < lowest)) {
      lowest = d.dice;
      e.worst_label = l.label;
    }
    e.labels.push_back(d);
  }
  e.min_dice = std::isnan(lowest) ? 1.0 : lowest;  // no label in either version: nothing moved
  // Label maps: sum counts a voxel once per label it left or joined, twice when both labels are
  // foreground; adding the voxels foreground in one version only counts each changed voxel twice.
  e.voxels_changed = e.per_label ? sum : (sum + one_side_foreground) / 2;
  e.exact_voxels = !e.per_label || labels <= 1;
  e.voxels = c.geom.voxels();
  e.distance_unit = case_distance_unit(c, o);
}

// Runs the comparison of the entries at `picked` (all label maps, or all per-label).
RunResult compare(std::vector<DiffEntry>& entries, const std::vector<size_t>& picked,
                  bool per_label, const RunOptions& given) {
  Dataset data;
  data.per_label = per_label;
  std::map<std::string, size_t> by_id;
  for (const size_t i : picked) {
    CaseSpec c;
    c.id = entries[i].id;
    c.raters[kOldRater] = entries[i].old_side->files;
    c.raters[kNewRater] = entries[i].new_side->files;
    by_id[c.id] = i;
    data.cases.push_back(std::move(c));
  }
  const RunOptions o = compare_options(given, per_label);
  RunResult r = run_dataset(data, o);
  for (const CaseResult& c : r.cases) read_figures(c, o, entries[by_id.at(c.id)]);
  for (const FailedCase& f : r.failed) fail(entries[by_id.at(f.id)], f.file, f.reason);
  return r;
}

// Most changed first: the lowest Dice over the labels, then the most voxels changed, then id.
std::vector<size_t> rank_changed(std::vector<DiffEntry>& entries) {
  std::vector<size_t> ranked;
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].status == DiffStatus::kChanged) ranked.push_back(i);
  std::stable_sort(ranked.begin(), ranked.end(), [&](size_t x, size_t y) {
    const DiffEntry &a = entries[x], &b = entries[y];
    if (a.min_dice != b.min_dice) return a.min_dice < b.min_dice;
    if (a.voxels_changed != b.voxels_changed) return a.voxels_changed > b.voxels_changed;
    return a.id < b.id;
  });
  for (size_t k = 0; k < ranked.size(); ++k) entries[ranked[k]].rank = k + 1;
  return ranked;
}

void add_run(const RunResult& r, DiffResult& out) {
  out.backend = r.backend;
  out.backend_note = r.backend_note;
  for (const std::string& w : r.warnings)
    if (std::find(out.warnings.begin(), out.warnings.end(), w) == out.warnings.end())
      out.warnings.push_back(w);
}

void count_and_unit(DiffResult& out) {
  std::set<std::string> units;
  for (const DiffEntry& e : out.entries) {
    DiffCounts& c = out.counts;
    switch (e.status) {
      case DiffStatus::kAdded:
        ++c.added;
        break;
      case DiffStatus::kRemoved:
        ++c.removed;
        break;
      case DiffStatus::kUnchanged:
        ++c.unchanged;
        break;
      case DiffStatus::kChanged:
        ++c.changed;
        units.insert(e.distance_unit);
        break;
      case DiffStatus::kFailed:
        ++c.failed;
        break;
    }
  }
  out.distance_unit = units.empty() ? "" : (units.size() == 1 ? *units.begin() : "mixed");
}

}  // namespace

DiffResult diff_versions(const std::string& old_path, const std::string& new_path,
                         const RunOptions& options) {
  check_run(Dataset{}, compare_options(options, true));  // the backend, before a file is read
  auto [o, n] = list_versions(old_path, new_path, options.out_dir);
  DiffResult out;
  out.old_path = old_path;
  out.new_path = new_path;
  out.old_kind = o.kind;
  out.new_kind = n.kind;
  for (const Version* v : {&o, &n})
    for (const ListingProblem& p : v->problems) {
      out.warnings.push_back(p.path + ": " + p.reason + " (not read)");
      out.listing_problems = true;
    }
  out.entries = match(o, n, options);
  std::vector<size_t> maps, per_label;
  for (size_t i = 0; i < out.entries.size(); ++i)
    if (out.entries[i].status == DiffStatus::kChanged)
      (out.entries[i].per_label ? per_label : maps).push_back(i);
  if (!maps.empty()) add_run(compare(out.entries, maps, false, options), out);
  if (!per_label.empty()) add_run(compare(out.entries, per_label, true, options), out);
  out.ranked = rank_changed(out.entries);
  count_and_unit(out);
  return out;
}

int diff_exit_code(const DiffResult& r, bool fail_on_change) {
  const DiffCounts& c = r.counts;
  if (fail_on_change && c.added + c.removed + c.changed > 0) return kExitChanged;
  return c.failed > 0 || r.listing_problems ? 3 : 0;  // cli.h: kExitFailedCases, kExitOk
}

}  // namespace maskeval
