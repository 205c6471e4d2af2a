// Listing a dataset: case folders, rater folders, or a manifest.
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
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

// Everything but folders under `dir`, following links, into `out` (each named by the path walked
// from the first folder, with '/'); a folder already in `seen` (a loop, or one reached twice) is
// skipped. `top` gets the entries of `dir` itself.
void walk(Lister& lister, const fs::path& dir, const std::string& prefix, const WalkScope& scope,
          int depth, FolderSet& seen, Listing& out, Listing* top) {
  Listing listing = lister.entries(dir);
  for (size_t i = 0; i < listing.size(); ++i) {
    Entry e = listing[i];
    e.name = prefix + e.name;
    if (e.kind != Entry::kFolder) {
      if (!out.add(e)) lister.report(dir, "too many files to list (over 4 GiB of names)");
      continue;
    }
    if (depth < scope.depth && (!scope.globs || may_hold_matches(*scope.globs, e.name)) &&
        seen.insert(e.id))
      walk(lister, dir / listing[i].name, e.name + "/", scope, depth + 1, seen, out, nullptr);
  }
  if (top) *top = std::move(listing);
}

// The files under `dir`, each named by the path walked from it, sorted.
Listing list_files(Lister& lister, const fs::path& dir, const WalkScope& scope,
                   Listing* top = nullptr) {
  FolderSet seen(folder_id(dir));
  Listing out;
  walk(lister, dir, "", scope, 0, seen, out, top);
  out.sort_by_name();
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
std::vector<std::string> matching(const Listing& files, const std::string& glob,
                                  const std::string& reference, int& matched,
                                  std::optional<Entry>& unreadable) {
  std::vector<std::string> out;
  for (size_t i = 0; i < files.size(); ++i) {
    Entry f = files[i];
    if (f.name == reference || !glob_matches(glob, f.name)) continue;
    ++matched;
    if (f.kind == Entry::kFile)
      out.push_back(std::move(f.name));
    else if (!unreadable)
      unreadable = std::move(f);
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
  const Listing listed = list_files(lister, dir, scope, &entries);
  int rater_matches = 0, prediction_matches = 0;
  std::optional<Entry> unreadable;
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
    c.problem = "cannot read this mask: " + unreadable->reason;
    c.problem_file = (dir / unreadable->name).string();
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

// A usage error's note on what could not be read, for when nothing usable was found.
std::string problems_note(const std::vector<ListingProblem>& problems) {
  if (problems.empty()) return "";
  return "; " + std::to_string(problems.size()) + " path(s) could not be read, e.g. " +
         problems[0].path + ": " + problems[0].reason;
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

// The files of one folder that `ending` picks, by case id: the packed walk, and each picked
// file's id and place in it, sorted by id (then by path). A picked file that cannot be read is
// reported.
struct FolderCases {
  // A picked file: its place in `files`, and its id (the first id_length bytes of its name).
  struct Picked {
    uint32_t file = 0, id_length = 0;
  };
  fs::path dir;
  Listing files;  // each named by the path walked from dir
  std::vector<Picked> by_id;

  std::string_view id(const Picked& p) const { return files.name(p.file).substr(0, p.id_length); }
  // [first, last) of by_id: the picked files of `id`, readable or not.
  std::pair<size_t, size_t> of(std::string_view id_wanted) const {
    const auto lo =
        std::lower_bound(by_id.begin(), by_id.end(), id_wanted,
                         [this](const Picked& p, std::string_view v) { return id(p) < v; });
    size_t first = static_cast<size_t>(lo - by_id.begin()), last = first;
    while (last < by_id.size() && id(by_id[last]) == id_wanted) ++last;
    return {first, last};
  }
  Entry file(size_t k) const { return files[by_id[k].file]; }
  std::string path(size_t k) const { return (dir / file(k).name).string(); }
  bool has(std::string_view id_wanted) const {
    const auto r = of(id_wanted);
    return r.first != r.second;
  }
  // The readable files of `id`, by path.
  std::vector<std::string> readable(const std::string& id_wanted) const {
    std::vector<std::string> out;
    for (auto [k, last] = of(id_wanted); k < last; ++k)
      if (files.kind(by_id[k].file) == Entry::kFile) out.push_back(path(k));
    return out;
  }
};

FolderCases folder_cases(Lister& lister, const std::string& dir, const std::string& ending) {
  FolderCases out{dir, list_files(lister, dir, {64, nullptr}), {}};
  std::string id;
  for (size_t i = 0; i < out.files.size(); ++i) {
    const Entry e = out.files[i];
    if (!picked(e.name, ending, id)) continue;
    if (e.name.compare(0, id.size(), id) != 0)  // never: an id is its file's path, cut short
      throw std::logic_error("case id '" + id + "' is not a prefix of " + e.name);
    if (e.kind != Entry::kFile) lister.report(out.dir / e.name, e.reason);
    out.by_id.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(id.size())});
  }
  std::sort(out.by_id.begin(), out.by_id.end(),
            [&out](const FolderCases::Picked& a, const FolderCases::Picked& b) {
              const std::string_view x = out.id(a), y = out.id(b);
              return x != y ? x < y : a.file < b.file;
            });
  return out;
}

using NamedFolders = std::vector<std::pair<std::string, FolderCases>>;  // by name

// Calls f(id) for each case id of `folders` once, in order, until f returns false: the union of
// their sorted ids (with readable_only, of the ids with a readable file), never held as a list.
void for_each_case_id(const std::vector<const FolderCases*>& folders, bool readable_only,
                      const std::function<bool(const std::string&)>& f) {
  std::vector<size_t> at(folders.size(), 0);
  auto head = [&](size_t k) -> const FolderCases::Picked* {
    const FolderCases& fc = *folders[k];
    while (at[k] < fc.by_id.size() && readable_only &&
           fc.files.kind(fc.by_id[at[k]].file) != Entry::kFile)
      ++at[k];
    return at[k] < fc.by_id.size() ? &fc.by_id[at[k]] : nullptr;
  };
  std::string id;
  for (;;) {
    bool any = false;
    for (size_t k = 0; k < folders.size(); ++k) {
      const FolderCases::Picked* p = head(k);
      if (p && (!any || folders[k]->id(*p) < id)) id.assign(folders[k]->id(*p));
      any = any || p;
    }
    if (!any || !f(id)) return;
    for (size_t k = 0; k < folders.size(); ++k)
      while (at[k] < folders[k]->by_id.size() && folders[k]->id(folders[k]->by_id[at[k]]) == id)
        ++at[k];
  }
}

std::vector<const FolderCases*> folders_of(const NamedFolders& named) {
  std::vector<const FolderCases*> out;
  for (const auto& [name, folder] : named) out.push_back(&folder);
  return out;
}

// The reference folder of --rater's cases; a usage error when it is no readable folder or holds
// no file for any case.
FolderCases reference_cases(Lister& lister, const std::string& dir, const NamedFolders& raters) {
  require_folder(dir, "--reference");
  FolderCases out = folder_cases(lister, dir, "");
  bool common = false;
  for_each_case_id(folders_of(raters), true, [&](const std::string& id) {
    common = out.has(id);
    return !common;
  });
  if (!common)
    throw UsageError("--reference " + dir +
                     ": no file in it matches a case of the rater folders (files are matched by "
                     "their path inside each folder, without the extension)");
  return out;
}

// Case `id` of rater folders: each rater's readable files; the first rater without one (then
// the reference) fails the case.
CaseSpec rater_folder_case(const std::string& id, const NamedFolders& raters,
                           const FolderCases* refs) {
  CaseSpec c;
  c.id = id;
  for (const auto& [name, folder] : raters) {
    std::vector<std::string> files = folder.readable(id);
    if (!files.empty()) {
      c.raters[name][kWholeMap] = std::move(files);
    } else if (c.problem.empty()) {
      c.problem = "missing annotator: rater '" + name + "' has no file for this case";
      c.problem_file = (folder.dir / id).string() + ".*";
    }
  }
  if (!refs) return c;
  std::vector<std::string> files = refs->readable(id);
  if (!files.empty()) {
    c.reference[kWholeMap] = std::move(files);
  } else if (c.problem.empty()) {
    c.problem = "reference file missing";
    c.problem_file = (refs->dir / id).string() + ".*";
  }
  return c;
}

}  // namespace

Dataset dataset_from_rater_folders(const std::vector<std::string>& rater_dirs,
                                   const std::string& reference_dir) {
  const std::map<std::string, std::string> folders = named_folders(rater_dirs, "--rater", "raters");
  if (folders.size() < 2) throw UsageError("--rater: give at least two rater folders");
  Lister lister;
  NamedFolders raters;
  for (const auto& [name, dir] : folders) raters.emplace_back(name, folder_cases(lister, dir, ""));
  bool any = false;
  for_each_case_id(folders_of(raters), true, [&](const std::string&) {
    any = true;
    return false;
  });
  if (!any)
    throw UsageError("--rater: no mask files in the rater folders" +
                     problems_note(lister.problems));
  std::optional<FolderCases> refs;
  if (!reference_dir.empty()) refs = reference_cases(lister, reference_dir, raters);
  Dataset out;
  for_each_case_id(folders_of(raters), true, [&](const std::string& id) {
    out.cases.push_back(rater_folder_case(id, raters, refs ? &*refs : nullptr));
    return true;
  });
  out.problems = std::move(lister.problems);
  return out;
}

namespace {

// Why the case `id` has no usable file in `folder` (`what` names it in the message), and which
// file: none there, one that cannot be read, or several of one name; "" when it has one.
std::string case_file_problem(const FolderCases& folder, const std::string& id,
                              const std::string& ending, const std::string& what,
                              std::string& file) {
  const auto [first, last] = folder.of(id);
  for (size_t k = first; k < last; ++k) {
    const Entry e = folder.file(k);
    if (e.kind == Entry::kFile) continue;
    file = folder.path(k);
    return "cannot read this " + what + " file: " + e.reason;
  }
  if (first == last) {
    file = (folder.dir / id).string() + (ending.empty() ? ".*" : ending);
    return what + " file missing: " + folder.dir.string() + " has no file of this case's name";
  }
  if (last - first == 1) return "";
  file = folder.path(first);
  std::string names;
  for (size_t k = first; k < last; ++k)
    names += (names.empty() ? "" : ", ") + fs::path(folder.path(k)).filename().string();
  return "several " + what + " files of this case's name (" + names +
         "); keep one, or pick one type with --file-ending";
}

bool same_folder(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

// Each prediction folder must share a case name with the reference folder: otherwise the names
// follow different patterns (a usage error, with an example of each).
void require_common_cases(const NamedFolders& predicted, const FolderCases& refs,
                          const std::string& ending) {
  if (refs.by_id.empty())
    throw UsageError("--reference " + refs.dir.string() + ": no " + picked_files(ending) +
                     " in it");
  for (const auto& [name, folder] : predicted) {
    if (std::any_of(folder.by_id.begin(), folder.by_id.end(),
                    [&](const FolderCases::Picked& p) { return refs.has(folder.id(p)); }))
      continue;
    throw UsageError("--prediction " + folder.dir.string() +
                     ": no file in it has the name of a file in the --reference folder " +
                     refs.dir.string() +
                     " (files are matched by their path inside each folder, without the file "
                     "ending): e.g. '" +
                     std::string(folder.id(folder.by_id.front())) + "' here, '" +
                     std::string(refs.id(refs.by_id.front())) + "' there");
  }
}

// Case `id` of prediction folders: each one's file and the reference's; the first folder
// without exactly one readable file fails the case.
CaseSpec prediction_folder_case(const std::string& id, const NamedFolders& predicted,
                                const FolderCases& refs, const std::string& ending) {
  CaseSpec c;
  c.id = id;
  auto has_file = [&](const FolderCases& folder, const std::string& what) {
    std::string file;
    const std::string why = case_file_problem(folder, id, ending, what, file);
    if (!why.empty() && c.problem.empty()) {
      c.problem = why;
      c.problem_file = file;
    }
    return why.empty();
  };
  for (const auto& [name, folder] : predicted)
    if (has_file(folder, "prediction '" + name + "'"))
      c.predictions[name][kWholeMap] = folder.readable(id);
  if (has_file(refs, "reference")) c.reference[kWholeMap] = refs.readable(id);
  return c;
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
  NamedFolders predicted;
  for (const auto& [name, dir] : folders) {
    if (same_folder(dir, reference_dir))
      throw UsageError("--prediction " + dir + " is the --reference folder too");
    predicted.emplace_back(name, folder_cases(lister, dir, file_ending));
    const FolderCases& found = predicted.back().second;
    if (found.by_id.empty())
      throw UsageError("--prediction " + dir + ": no " + picked_files(file_ending) + " in it" +
                       problems_note(lister.problems));
  }
  const FolderCases refs = folder_cases(lister, reference_dir, file_ending);
  require_common_cases(predicted, refs, file_ending);
  std::vector<const FolderCases*> all = folders_of(predicted);
  all.push_back(&refs);
  Dataset out;
  for_each_case_id(all, false, [&](const std::string& id) {
    out.cases.push_back(prediction_folder_case(id, predicted, refs, file_ending));
    return true;
  });
  out.problems = std::move(lister.problems);
  return out;
}

}  // namespace maskeval
