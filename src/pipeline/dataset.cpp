// Listing a dataset: case folders, rater folders, or a manifest.
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <system_error>

#include "maskeval/run.h"
#include "pipeline/folder_listing.h"
#include "util/csv.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

// File name without its mask extension (".nii.gz" counts as one).
std::string strip_extension(const std::string& rel) {
  const std::string gz = ".nii.gz";
  if (rel.size() > gz.size() && rel.compare(rel.size() - gz.size(), gz.size(), gz) == 0)
    return rel.substr(0, rel.size() - gz.size());
  const fs::path p(rel);
  return (p.parent_path() / p.stem()).generic_string();
}

// The mask extensions the readers accept, space-separated, for messages.
std::string mask_extension_list() {
  std::string out;
  for (const std::string& ext : mask_extensions()) out += (out.empty() ? "" : " ") + ext;
  return out;
}

// A file (or what stands where one was looked for) found under a folder.
struct Found {
  std::string rel;  // the path walked from the folder, with '/'
  fs::path path;
  Entry entry;
};

// The top folder of a listing, as a usage error (exit 1) when it is not a readable folder.
void require_folder(const std::string& dir, const std::string& option) {
  if (!fs::is_directory(dir)) throw UsageError(option + ": not a folder: " + dir);
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw UsageError(option + ": cannot read folder " + dir + ": " + ec.message());
}

// Whether a file that one of the globs matches can lie under the folder `rel` ("a/b"): the glob
// has more parts than `rel`, and its first ones match it.
bool may_hold_matches(const std::vector<std::string>& globs, const std::string& rel) {
  const size_t parts = static_cast<size_t>(std::count(rel.begin(), rel.end(), '/')) + 1;
  for (const std::string& glob : globs) {
    size_t cut = 0;
    for (size_t i = 0; i < parts && cut != std::string::npos; ++i)
      cut = glob.find('/', i == 0 ? 0 : cut + 1);
    if (cut != std::string::npos &&
        fnmatch(glob.substr(0, cut).c_str(), rel.c_str(), FNM_PATHNAME) == 0)
      return true;
  }
  return false;
}

// What walking a folder looks for: files at most `depth` folders down, and only in folders that
// may hold a match of `globs` (any folder when null).
struct WalkScope {
  int depth = 0;
  const std::vector<std::string>* globs = nullptr;
};

// Everything but folders under `dir`, following links; a folder already in `seen` (a loop, or
// one reached twice) is skipped. `top` gets the entries of `dir` itself.
void walk(Lister& lister, const fs::path& dir, const std::string& prefix, const WalkScope& scope,
          int depth, FolderSet& seen, std::vector<Found>& out, Listing* top) {
  Listing listing = lister.entries(dir);
  for (size_t i = 0; i < listing.size(); ++i) {
    if (listing.kind(i) != Entry::kFolder) {
      Entry e = listing[i];
      std::string rel = prefix + e.name;
      fs::path path = dir / e.name;
      out.push_back({std::move(rel), std::move(path), std::move(e)});
      continue;
    }
    if (depth >= scope.depth) continue;
    const Entry e = listing[i];
    const std::string rel = prefix + e.name;
    if ((!scope.globs || may_hold_matches(*scope.globs, rel)) && seen.insert(e.id))
      walk(lister, dir / e.name, rel + "/", scope, depth + 1, seen, out, nullptr);
  }
  if (top) *top = std::move(listing);
}

// The files under `dir`, by the path walked from it, sorted.
std::vector<Found> list_files(Lister& lister, const fs::path& dir, const WalkScope& scope,
                              Listing* top = nullptr) {
  FolderSet seen(folder_id(dir));
  std::vector<Found> out;
  walk(lister, dir, "", scope, 0, seen, out, top);
  std::sort(out.begin(), out.end(), [](const Found& a, const Found& b) { return a.rel < b.rel; });
  return out;
}

bool glob_matches(const std::string& glob, const std::string& rel) {
  return glob.empty() ? (rel.find('/') == std::string::npos && is_mask_file(rel))
                      : fnmatch(glob.c_str(), rel.c_str(), FNM_PATHNAME) == 0;
}

int glob_depth(const std::string& glob) {
  return static_cast<int>(std::count(glob.begin(), glob.end(), '/'));
}

// The readable files the glob matches; the first match that cannot be read goes to
// `unreadable` (the case then fails with it). `matched` counts every match.
std::vector<std::string> matching(const std::vector<Found>& files, const std::string& glob,
                                  const std::string& reference, int& matched,
                                  const Found*& unreadable) {
  std::vector<std::string> out;
  for (const Found& f : files) {
    if (f.rel == reference || !glob_matches(glob, f.rel)) continue;
    ++matched;
    if (f.entry.kind == Entry::kFile)
      out.push_back(f.rel);
    else if (!unreadable)
      unreadable = &f;
  }
  return out;
}

// Case discovery under one root: every folder is visited once, by the first path reaching it.
struct CaseSearch {
  Lister lister;
  fs::path root;
  std::string glob, reference, prediction_glob;
  std::vector<std::string> globs;  // the non-empty ones
  WalkScope scope;                 // of the listing of each folder
  FolderSet visited;
  int predictions_matched = 0, references_found = 0;
  Dataset out;

  void visit(const fs::path& dir, const std::string& rel);
  void add_reference(const fs::path& dir, CaseSpec& c);
};

void CaseSearch::visit(const fs::path& dir, const std::string& rel) {
  Listing entries;
  const std::vector<Found> listed = list_files(lister, dir, scope, &entries);
  int rater_matches = 0, prediction_matches = 0;
  const Found* unreadable = nullptr;
  std::vector<std::string> files = matching(listed, glob, reference, rater_matches, unreadable);
  std::vector<std::string> predictions;
  if (!prediction_glob.empty()) {
    predictions = matching(listed, prediction_glob, reference, prediction_matches, unreadable);
    predictions_matched += prediction_matches;
    files.erase(std::remove_if(files.begin(), files.end(),
                               [&](const std::string& f) {
                                 return std::find(predictions.begin(), predictions.end(), f) !=
                                        predictions.end();
                               }),
                files.end());
  }
  if (rater_matches == 0 && prediction_matches == 0) {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries.kind(i) != Entry::kFolder) continue;
      const Entry sub = entries[i];
      if (visited.insert(sub.id))
        visit(dir / sub.name, rel.empty() ? sub.name : rel + "/" + sub.name);
    }
    return;
  }
  CaseSpec c;
  c.id = rel.empty() ? root.filename().generic_string() : rel;
  c.folder = dir.string();
  for (const std::string& f : files)
    c.raters[strip_extension(f)][kWholeMap].push_back((dir / f).string());
  for (const std::string& f : predictions)
    c.predictions[strip_extension(f)][kWholeMap].push_back((dir / f).string());
  if (!reference.empty()) add_reference(dir, c);
  if (unreadable) {  // a rater or prediction that cannot be read: never score without it
    c.problem = "cannot read this mask: " + unreadable->entry.reason;
    c.problem_file = unreadable->path.string();
  }
  out.cases.push_back(std::move(c));
}

// Whatever stands at the reference's name is passed on (the reader refuses what it cannot
// read); a broken link or a missing file makes the case fail.
void CaseSearch::add_reference(const fs::path& dir, CaseSpec& c) {
  const fs::path ref = dir / reference;
  Entry e;
  std::string folder_error;
  if (!classify(ref, e, folder_error)) {
    c.problem = folder_error.empty() ? "reference file missing" : folder_error;
    c.problem_file = ref.string();
    return;
  }
  ++references_found;
  if (e.kind == Entry::kBroken) {
    c.problem = "reference file: " + e.reason;
    c.problem_file = ref.string();
  } else {
    c.reference[kWholeMap].push_back(ref.string());
  }
}

// Mask files under a rater or reference folder, by their path walked from it; one that cannot
// be read is reported. `found` gets every mask file's id, readable or not.
std::vector<Found> mask_files(Lister& lister, const std::string& dir,
                              std::set<std::string>* found = nullptr) {
  std::vector<Found> out;
  for (Found& f : list_files(lister, dir, {64, nullptr})) {
    if (!is_mask_file(f.rel)) continue;
    if (found) found->insert(strip_extension(f.rel));
    if (f.entry.kind == Entry::kFile)
      out.push_back(std::move(f));
    else
      lister.report(f.path, f.entry.reason);
  }
  return out;
}

// A usage error's note on what could not be read, for when nothing usable was found.
std::string problems_note(const std::vector<ListingProblem>& problems) {
  if (problems.empty()) return "";
  return "; " + std::to_string(problems.size()) + " path(s) could not be read, e.g. " +
         problems[0].path + ": " + problems[0].reason;
}

// The whole manifest; only a regular file is read (a FIFO or device could block forever).
std::string read_manifest(const std::string& path) {
  try {
    const std::vector<uint8_t> bytes =
        read_regular_file(path, int64_t{1} << 32, "too large for a manifest (over 4 GiB)");
    return std::string(bytes.begin(), bytes.end());
  } catch (const InputError& e) {
    throw UsageError("--manifest " + path + ": " + e.what());
  }
}

}  // namespace

Dataset dataset_from_case_folders(const std::string& root, const std::string& rater_glob,
                                  const std::string& reference,
                                  const std::string& prediction_glob) {
  require_folder(root, "--cases");
  CaseSearch search;
  search.root = root;
  search.glob = rater_glob;
  search.reference = reference;
  search.prediction_glob = prediction_glob;
  for (const std::string& g : {rater_glob, prediction_glob})
    if (!g.empty()) search.globs.push_back(g);
  search.scope = {std::max(glob_depth(rater_glob), glob_depth(prediction_glob)), &search.globs};
  search.visited.insert(folder_id(search.root));
  search.visit(search.root, "");
  Dataset& out = search.out;
  out.problems = std::move(search.lister.problems);
  if (out.cases.empty())
    throw UsageError("--cases " + root + ": no folder holds files matching " +
                     (rater_glob.empty() ? "mask files (" + mask_extension_list() + ")"
                                         : "'" + rater_glob + "'") +
                     "; set --raters GLOB, e.g. --raters 'experts/*.png'" +
                     problems_note(out.problems));
  if (!prediction_glob.empty() && search.predictions_matched == 0)
    throw UsageError("--prediction '" + prediction_glob +
                     "' matches no file in any case folder under " + root +
                     problems_note(out.problems));
  if (!reference.empty() && search.references_found == 0)
    throw UsageError("--reference '" + reference + "' matches no file in any case folder under " +
                     root + " (it names a file inside each case folder)");
  out.cases.sort_by_id();
  return std::move(out);
}

namespace {

// The reference files of --rater's cases, by case id, from the reference folder; a usage error
// when it is no readable folder or holds no file for any case.
std::map<std::string, std::vector<std::string>> reference_files(
    Lister& lister, const std::string& dir, const std::map<std::string, CaseSpec>& cases) {
  require_folder(dir, "--reference");
  std::set<std::string> found;
  std::map<std::string, std::vector<std::string>> out;
  for (const Found& f : mask_files(lister, dir, &found))
    out[strip_extension(f.rel)].push_back(f.path.string());
  const bool any = std::any_of(cases.begin(), cases.end(),
                               [&](const auto& c) { return found.count(c.first) != 0; });
  if (!any)
    throw UsageError("--reference " + dir +
                     ": no file in it matches a case of the rater folders (files are matched by "
                     "their path inside each folder, without the extension)");
  return out;
}

// [NAME=]DIR arguments by name (a folder without one is named by its last part), each checked
// to be a readable folder; two of one name are a usage error.
std::map<std::string, std::string> named_folders(const std::vector<std::string>& args,
                                                 const std::string& option,
                                                 const std::string& plural) {
  std::map<std::string, std::string> folders;  // name -> dir
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    std::string name = eq == std::string::npos ? "" : arg.substr(0, eq);
    const std::string dir = eq == std::string::npos ? arg : arg.substr(eq + 1);
    require_folder(dir, option);
    if (name.empty()) name = fs::path(dir).lexically_normal().filename().string();
    if (name.empty()) name = fs::path(dir).lexically_normal().parent_path().filename().string();
    if (!folders.emplace(name, dir).second)
      throw UsageError(option + ": two " + plural + " named '" + name +
                       "'; name them with NAME=DIR");
  }
  return folders;
}

}  // namespace

Dataset dataset_from_rater_folders(const std::vector<std::string>& rater_dirs,
                                   const std::string& reference_dir) {
  const std::map<std::string, std::string> folders = named_folders(rater_dirs, "--rater", "raters");
  if (folders.size() < 2) throw UsageError("--rater: give at least two rater folders");
  Lister lister;
  std::map<std::string, CaseSpec> cases;
  for (const auto& [name, dir] : folders) {
    for (const Found& f : mask_files(lister, dir))
      cases[strip_extension(f.rel)].raters[name][kWholeMap].push_back(f.path.string());
  }
  if (cases.empty())
    throw UsageError("--rater: no mask files in the rater folders" +
                     problems_note(lister.problems));
  std::map<std::string, std::vector<std::string>> references;
  if (!reference_dir.empty()) references = reference_files(lister, reference_dir, cases);
  Dataset out;
  for (auto& [id, c] : cases) {
    c.id = id;
    for (const auto& [name, dir] : folders) {
      if (c.raters.count(name) == 0 && c.problem.empty()) {
        c.problem = "missing annotator: rater '" + name + "' has no file for this case";
        c.problem_file = (fs::path(dir) / id).string() + ".*";
      }
    }
    if (!reference_dir.empty()) {
      const auto ref = references.find(id);
      if (ref != references.end()) c.reference[kWholeMap] = ref->second;
      if (c.reference.empty() && c.problem.empty()) {
        c.problem = "reference file missing";
        c.problem_file = (fs::path(reference_dir) / id).string() + ".*";
      }
    }
    out.cases.push_back(std::move(c));
  }
  out.problems = std::move(lister.problems);
  return out;
}

namespace {

// The mask files of a prediction or reference folder, by case id.
struct CaseFiles {
  std::map<std::string, std::vector<std::string>> files;  // the readable ones
  std::map<std::string, ListingProblem> unreadable;       // the first that cannot be read
};

// Whether `rel` is one of the files `ending` picks ("": every mask file), and its case id: the
// path without the ending (or without the mask extension).
bool picked(const std::string& rel, const std::string& ending, std::string& id) {
  if (!is_mask_file(rel)) return false;
  if (ending.empty()) {
    id = strip_extension(rel);
    return true;
  }
  if (rel.size() <= ending.size() ||
      rel.compare(rel.size() - ending.size(), ending.size(), ending) != 0)
    return false;
  id = rel.substr(0, rel.size() - ending.size());
  return true;
}

// What `ending` picks, for messages.
std::string picked_files(const std::string& ending) {
  return ending.empty() ? "mask files (" + mask_extension_list() + ")"
                        : "files ending in '" + ending + "'";
}

// The files under `dir` that `ending` picks; one that cannot be read is also reported.
CaseFiles case_files(Lister& lister, const std::string& dir, const std::string& ending) {
  CaseFiles out;
  std::string id;
  for (const Found& f : list_files(lister, dir, {64, nullptr})) {
    if (!picked(f.rel, ending, id)) continue;
    if (f.entry.kind == Entry::kFile) {
      out.files[id].push_back(f.path.string());
    } else {
      lister.report(f.path, f.entry.reason);
      out.unreadable.emplace(id, ListingProblem{f.path.string(), f.entry.reason});
    }
  }
  return out;
}

// Why the case `id` has no usable file in `folder` (`what` names it in the message), and which
// file: none there, one that cannot be read, or several of one name; "" when it has one.
std::string case_file_problem(const CaseFiles& folder, const std::string& id,
                              const std::string& dir, const std::string& ending,
                              const std::string& what, std::string& file) {
  const auto bad = folder.unreadable.find(id);
  if (bad != folder.unreadable.end()) {
    file = bad->second.path;
    return "cannot read this " + what + " file: " + bad->second.reason;
  }
  const auto it = folder.files.find(id);
  if (it == folder.files.end()) {
    file = (fs::path(dir) / id).string() + (ending.empty() ? ".*" : ending);
    return what + " file missing: " + dir + " has no file of this case's name";
  }
  if (it->second.size() == 1) return "";
  file = it->second[0];
  std::string names;
  for (const std::string& f : it->second)
    names += (names.empty() ? "" : ", ") + fs::path(f).filename().string();
  return "several " + what + " files of this case's name (" + names +
         "); keep one, or pick one type with --file-ending";
}

bool same_folder(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

// Each prediction folder must share a case name with the reference folder: otherwise the names
// follow different patterns (a usage error, with an example of each).
void require_common_cases(const std::map<std::string, std::string>& folders,
                          const std::map<std::string, CaseFiles>& predicted, const CaseFiles& refs,
                          const std::string& reference_dir, const std::string& ending) {
  auto ids = [](const CaseFiles& f) {
    std::set<std::string> out;
    for (const auto& [id, files] : f.files) out.insert(id);
    for (const auto& [id, problem] : f.unreadable) out.insert(id);
    return out;
  };
  const std::set<std::string> ref_ids = ids(refs);
  if (ref_ids.empty())
    throw UsageError("--reference " + reference_dir + ": no " + picked_files(ending) + " in it");
  for (const auto& [name, dir] : folders) {
    const std::set<std::string> own = ids(predicted.at(name));
    if (std::any_of(own.begin(), own.end(), [&](const auto& id) { return ref_ids.count(id); }))
      continue;
    throw UsageError("--prediction " + dir +
                     ": no file in it has the name of a file in the "
                     "--reference folder " +
                     reference_dir +
                     " (files are matched by their path "
                     "inside each folder, without the file ending): e.g. '" +
                     *own.begin() + "' here, '" + *ref_ids.begin() + "' there");
  }
}

}  // namespace

Dataset dataset_from_prediction_folders(const std::vector<std::string>& prediction_dirs,
                                        const std::string& reference_dir,
                                        const std::string& file_ending) {
  if (!file_ending.empty() && !is_mask_file("x" + file_ending))
    throw UsageError("--file-ending '" + file_ending +
                     "': no mask file type maskeval reads ends so (" + mask_extension_list() +
                     "); e.g. --file-ending .nii.gz");
  const std::map<std::string, std::string> folders =
      named_folders(prediction_dirs, "--prediction", "predictions");
  if (folders.empty()) throw UsageError("--prediction: give a folder of predictions");
  if (reference_dir.empty())
    throw UsageError(
        "--prediction DIR needs --reference DIR, the folder of reference files "
        "(matched to the predictions by their path inside each folder)");
  require_folder(reference_dir, "--reference");
  Lister lister;
  std::map<std::string, CaseFiles> predicted;
  std::set<std::string> ids;
  for (const auto& [name, dir] : folders) {
    if (same_folder(dir, reference_dir))
      throw UsageError("--prediction " + dir + " is the --reference folder too");
    const CaseFiles& found = predicted[name] = case_files(lister, dir, file_ending);
    if (found.files.empty() && found.unreadable.empty())
      throw UsageError("--prediction " + dir + ": no " + picked_files(file_ending) + " in it" +
                       problems_note(lister.problems));
    for (const auto& [id, files] : found.files) ids.insert(id);
    for (const auto& [id, problem] : found.unreadable) ids.insert(id);
  }
  const CaseFiles refs = case_files(lister, reference_dir, file_ending);
  require_common_cases(folders, predicted, refs, reference_dir, file_ending);
  for (const auto& [id, files] : refs.files) ids.insert(id);
  for (const auto& [id, problem] : refs.unreadable) ids.insert(id);
  Dataset out;
  for (const std::string& id : ids) {
    CaseSpec c;
    c.id = id;
    // Whether `id` has its one file in a folder; the first folder without one fails the case.
    auto has_file = [&](const CaseFiles& folder, const std::string& dir, const std::string& what) {
      std::string file;
      const std::string why = case_file_problem(folder, id, dir, file_ending, what, file);
      if (!why.empty() && c.problem.empty()) {
        c.problem = why;
        c.problem_file = file;
      }
      return why.empty();
    };
    for (const auto& [name, dir] : folders) {
      const CaseFiles& found = predicted.at(name);
      if (has_file(found, dir, "prediction '" + name + "'"))
        c.predictions[name][kWholeMap] = found.files.at(id);
    }
    if (has_file(refs, reference_dir, "reference")) c.reference[kWholeMap] = refs.files.at(id);
    out.cases.push_back(std::move(c));
  }
  out.problems = std::move(lister.problems);
  return out;
}

Dataset dataset_from_manifest(const std::string& csv_path) {
  std::istringstream in(read_manifest(csv_path));
  const fs::path base = fs::path(csv_path).parent_path();
  std::string line;
  if (!std::getline(in, line)) throw UsageError("--manifest " + csv_path + ": empty file");
  if (line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 byte-order mark
  const std::vector<std::string> header = split_csv_line(line);
  auto column = [&](const std::string& name) -> int {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int c_case = column("case"), c_rater = column("rater"), c_path = column("path");
  const int c_label = column("label"), c_role = column("role");
  if (c_case < 0 || c_rater < 0 || c_path < 0)
    throw UsageError("--manifest " + csv_path +
                     ": the header must name the columns case,rater,path (and optionally "
                     "label, role)");
  std::map<std::string, CaseSpec> cases;
  bool any_label = false, any_map = false;
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> cells = split_csv_line(line);
    auto cell = [&](int c) { return c >= 0 && c < static_cast<int>(cells.size()) ? cells[c] : ""; };
    const std::string where = csv_path + " line " + std::to_string(line_no);
    if (cell(c_case).empty() || cell(c_path).empty())
      throw UsageError(where + ": case and path must not be empty");
    const std::string role = cell(c_role).empty() ? "rater" : cell(c_role);
    if (role != "rater" && role != "reference" && role != "prediction")
      throw UsageError(where + ": role must be rater, reference or prediction, not '" + role + "'");
    int label = kWholeMap;
    if (!cell(c_label).empty()) {
      size_t used = 0;
      long v = -1;
      try {
        v = std::stol(cell(c_label), &used);
      } catch (const std::exception&) {
      }
      if (used != cell(c_label).size() || v < 1 || v > kMaxLabel)
        throw UsageError(where + ": label must be a whole number 1..65535, not '" + cell(c_label) +
                         "'");
      label = static_cast<int>(v);
    }
    // A reference may be a whole label map even when the raters' files are per label.
    if (role != "reference") (label == kWholeMap ? any_map : any_label) = true;
    fs::path path(cell(c_path));
    if (path.is_relative()) path = base / path;
    CaseSpec& c = cases[cell(c_case)];
    if (role == "reference") {
      c.reference[label].push_back(path.string());
    } else {
      if (cell(c_rater).empty()) throw UsageError(where + ": rater must not be empty");
      auto& group = role == "prediction" ? c.predictions : c.raters;
      group[cell(c_rater)][label].push_back(path.string());
    }
  }
  if (any_label && any_map)
    throw UsageError("--manifest " + csv_path +
                     ": some rows have a label and some do not; either every file is a label map "
                     "(no label) or every file is the binary mask of its row's label");
  Dataset out;
  out.per_label = any_label;
  for (auto& [id, c] : cases) {
    c.id = id;
    out.cases.push_back(std::move(c));
  }
  if (out.cases.empty()) throw UsageError("--manifest " + csv_path + ": no rows");
  return out;
}

}  // namespace maskeval
