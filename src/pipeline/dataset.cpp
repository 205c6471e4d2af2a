// Listing a dataset: case folders, rater folders, or a manifest.
#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "maskeval/run.h"

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

// Files under `dir`, as paths relative to it, at most `depth` folders down, sorted.
std::vector<std::string> list_files(const fs::path& dir, int depth) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       it != end; it.increment(ec)) {
    if (ec) break;
    if (it->is_directory(ec)) {
      if (it.depth() >= depth) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> subfolders(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; it != end; it.increment(ec))
    if (it->is_directory(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> matching(const fs::path& dir, const std::string& glob,
                                  const std::string& reference) {
  const int depth = static_cast<int>(std::count(glob.begin(), glob.end(), '/'));
  std::vector<std::string> out;
  for (const std::string& rel : list_files(dir, depth)) {
    if (rel == reference) continue;
    if (glob.empty() ? (rel.find('/') == std::string::npos && is_mask_file(rel))
                     : fnmatch(glob.c_str(), rel.c_str(), FNM_PATHNAME) == 0)
      out.push_back(rel);
  }
  return out;
}

void find_cases(const fs::path& root, const fs::path& dir, const std::string& glob,
                const std::string& reference, const std::string& prediction_glob, Dataset& out) {
  std::vector<std::string> files = matching(dir, glob, reference);
  std::vector<std::string> predictions;
  if (!prediction_glob.empty()) {
    predictions = matching(dir, prediction_glob, reference);
    files.erase(std::remove_if(files.begin(), files.end(),
                               [&](const std::string& f) {
                                 return std::find(predictions.begin(), predictions.end(), f) !=
                                        predictions.end();
                               }),
                files.end());
  }
  if (files.empty() && predictions.empty()) {
    for (const fs::path& sub : subfolders(dir))
      find_cases(root, sub, glob, reference, prediction_glob, out);
    return;
  }
  CaseSpec c;
  c.id = dir == root ? root.filename().generic_string() : fs::relative(dir, root).generic_string();
  c.folder = dir.string();
  for (const std::string& rel : files)
    c.raters[strip_extension(rel)][kWholeMap].push_back((dir / rel).string());
  for (const std::string& rel : predictions)
    c.predictions[strip_extension(rel)][kWholeMap].push_back((dir / rel).string());
  if (!reference.empty()) {
    const fs::path ref = dir / reference;
    if (fs::exists(ref)) {
      c.reference[kWholeMap].push_back(ref.string());
    } else {
      c.problem = "reference file missing";
      c.problem_file = ref.string();
    }
  }
  out.cases.push_back(std::move(c));
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.push_back(cell);
      cell.clear();
    } else if (ch != '\r') {
      cell += ch;
    }
  }
  out.push_back(cell);
  for (std::string& s : out) {
    const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }
  return out;
}

}  // namespace

Dataset dataset_from_case_folders(const std::string& root, const std::string& rater_glob,
                                  const std::string& reference,
                                  const std::string& prediction_glob) {
  const fs::path dir(root);
  if (!fs::is_directory(dir)) throw UsageError("--cases: not a folder: " + root);
  Dataset out;
  find_cases(dir, dir, rater_glob, reference, prediction_glob, out);
  if (out.cases.empty())
    throw UsageError("--cases " + root + ": no folder holds files matching " +
                     (rater_glob.empty() ? std::string("mask files (.png .tif .nii .nii.gz)")
                                         : "'" + rater_glob + "'") +
                     "; set --raters GLOB, e.g. --raters 'experts/*.png'");
  std::sort(out.cases.begin(), out.cases.end(),
            [](const CaseSpec& a, const CaseSpec& b) { return a.id < b.id; });
  return out;
}

Dataset dataset_from_rater_folders(const std::vector<std::string>& rater_dirs,
                                   const std::string& reference_dir) {
  std::map<std::string, std::string> folders;  // name -> dir
  for (const std::string& arg : rater_dirs) {
    const size_t eq = arg.find('=');
    std::string name = eq == std::string::npos ? "" : arg.substr(0, eq);
    const std::string dir = eq == std::string::npos ? arg : arg.substr(eq + 1);
    if (!fs::is_directory(dir)) throw UsageError("--rater: not a folder: " + dir);
    if (name.empty()) name = fs::path(dir).lexically_normal().filename().string();
    if (name.empty()) name = fs::path(dir).lexically_normal().parent_path().filename().string();
    if (!folders.emplace(name, dir).second)
      throw UsageError("--rater: two raters named '" + name + "'; name them with NAME=DIR");
  }
  if (folders.size() < 2) throw UsageError("--rater: give at least two rater folders");
  std::map<std::string, CaseSpec> cases;
  for (const auto& [name, dir] : folders) {
    for (const std::string& rel : list_files(dir, 64)) {
      if (!is_mask_file(rel)) continue;
      CaseSpec& c = cases[strip_extension(rel)];
      c.raters[name][kWholeMap].push_back((fs::path(dir) / rel).string());
    }
  }
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
      for (const std::string& rel : list_files(reference_dir, 64))
        if (is_mask_file(rel) && strip_extension(rel) == id)
          c.reference[kWholeMap].push_back((fs::path(reference_dir) / rel).string());
      if (c.reference.empty() && c.problem.empty()) {
        c.problem = "reference file missing";
        c.problem_file = (fs::path(reference_dir) / id).string() + ".*";
      }
    }
    out.cases.push_back(std::move(c));
  }
  if (out.cases.empty()) throw UsageError("--rater: no mask files in the rater folders");
  return out;
}

Dataset dataset_from_manifest(const std::string& csv_path) {
  std::ifstream in(csv_path);
  if (!in) throw UsageError("--manifest: cannot open " + csv_path);
  const fs::path base = fs::path(csv_path).parent_path();
  std::string line;
  if (!std::getline(in, line)) throw UsageError("--manifest " + csv_path + ": empty file");
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
