// A manifest (CSV rows of case, rater, path, label, role) into a dataset: read a line at a time,
// each case's rows grouped through a sort of 16 bytes a row, never the whole file or every case.
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string_view>

#include "io/formats.h"
#include "maskeval/run.h"
#include "util/csv.h"

namespace maskeval {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxManifestBytes = (int64_t{1} << 32) - 1;  // a row's offset fits 32 bits

// Where the columns are, from the header.
struct Columns {
  int id = -1, rater = -1, path = -1, label = -1, role = -1;
};

struct Row {
  std::string id, role, rater, path;
  int label = kWholeMap;
};

// A data row where the sort left it: its case id's hash, then where the line is in the file.
struct RowAt {
  uint64_t hash;
  uint32_t at, size;
};

uint64_t id_hash(const std::string& id) {
  return std::hash<std::string_view>()(id);
}

// The manifest, open once: lines read in order (with where each begins), and read again by place.
class ManifestFile {
 public:
  explicit ManifestFile(const std::string& path) : path_(path), f_(nullptr, std::fclose) {
    try {
      f_ = detail::open_regular(path, "");
      if (detail::file_size(fileno(f_.get())) > kMaxManifestBytes)
        throw InputError("too large for a manifest (over 4 GiB)");
      fstat(fileno(f_.get()), &opened_);
    } catch (const InputError& e) {
      throw UsageError("--manifest " + path + ": " + e.what());
    }
  }
  ~ManifestFile() { std::free(buf_); }
  ManifestFile(const ManifestFile&) = delete;
  ManifestFile& operator=(const ManifestFile&) = delete;

  // The next line without its '\n'; false at the end of the file.
  bool next(std::string& line, uint64_t& at) {
    const ssize_t n = getline(&buf_, &cap_, f_.get());
    if (n < 0) {
      if (std::ferror(f_.get())) fail("cannot read: " + detail::errno_text());
      return false;
    }
    at = at_;
    at_ += static_cast<uint64_t>(n);
    if (at_ > static_cast<uint64_t>(kMaxManifestBytes))  // it grew while being read
      fail("too large for a manifest (over 4 GiB)");
    line.assign(buf_, static_cast<size_t>(n));
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return true;
  }
  // The line that began at `at` (`size` bytes without its '\n'), read again.
  std::string line_at(uint64_t at, uint32_t size) const {
    std::string line(size, '\0');
    size_t got = 0;
    while (got < size) {
      const ssize_t n =
          pread(fileno(f_.get()), &line[got], size - got, static_cast<off_t>(at + got));
      if (n <= 0) fail(n < 0 ? "cannot read: " + detail::errno_text() : "changed while being read");
      got += static_cast<size_t>(n);
    }
    return line;
  }
  // Fails when the file is not as it was opened (size, modification time): rows were read twice.
  void check_unchanged() const {
    struct stat now {};
    if (fstat(fileno(f_.get()), &now) != 0 || now.st_size != opened_.st_size ||
        now.st_mtim.tv_sec != opened_.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != opened_.st_mtim.tv_nsec)
      fail("changed while being read");
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw UsageError("--manifest " + path_ + ": " + why);
  }

 private:
  std::string path_;
  detail::FilePtr f_;
  char* buf_ = nullptr;
  size_t cap_ = 0;
  uint64_t at_ = 0;
  struct stat opened_ {};
};

Columns header_columns(std::string line, const std::string& csv_path) {
  if (line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 byte-order mark
  const std::vector<std::string> header = split_csv_line(line);
  auto column = [&](const std::string& name) -> int {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  Columns c;
  c.id = column("case"), c.rater = column("rater"), c.path = column("path");
  c.label = column("label"), c.role = column("role");
  if (c.id < 0 || c.rater < 0 || c.path < 0)
    throw UsageError("--manifest " + csv_path +
                     ": the header must name the columns case,rater,path (and optionally "
                     "label, role)");
  return c;
}

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

// One data row, checked; `where` names it in the messages.
Row parse_row(const std::string& line, const Columns& col, const std::string& where) {
  const std::vector<std::string> cells = split_csv_line(line);
  auto cell = [&](int c) { return c >= 0 && c < static_cast<int>(cells.size()) ? cells[c] : ""; };
  Row r;
  r.id = cell(col.id), r.path = cell(col.path), r.rater = cell(col.rater);
  if (r.id.empty() || r.path.empty()) throw UsageError(where + ": case and path must not be empty");
  r.role = cell(col.role).empty() ? "rater" : cell(col.role);
  if (r.role != "rater" && r.role != "reference" && r.role != "prediction")
    throw UsageError(where + ": role must be rater, reference or prediction, not '" + r.role + "'");
  const std::string label = cell(col.label);
  if (!label.empty()) {
    size_t used = 0;
    long v = -1;
    try {
      v = std::stol(label, &used);
    } catch (const std::exception&) {
    }
    if (used != label.size() || v < 1 || v > kMaxLabel)
      throw UsageError(where + ": label must be a whole number 1..65535, not '" + label + "'");
    r.label = static_cast<int>(v);
  }
  if (r.role != "reference" && r.rater.empty())
    throw UsageError(where + ": rater must not be empty");
  return r;
}

void add_row(CaseSpec& c, const Row& r, const fs::path& base) {
  fs::path path(r.path);
  if (path.is_relative()) path = base / path;
  if (r.role == "reference")
    c.reference[r.label].push_back(path.string());
  else
    (r.role == "prediction" ? c.predictions : c.raters)[r.rater][r.label].push_back(path.string());
}

// Every data row checked, and where it is by its case's hash; `per_label` says whether the rows
// name labels (all of them or none: a reference may be a whole map either way).
std::vector<RowAt> sorted_rows(ManifestFile& file, const Columns& col, const std::string& csv_path,
                               bool& per_label) {
  std::vector<RowAt> rows;
  bool any_label = false, any_map = false;
  std::string line;
  uint64_t at = 0;
  for (int line_no = 2; file.next(line, at); ++line_no) {
    if (blank(line)) continue;
    const Row r = parse_row(line, col, csv_path + " line " + std::to_string(line_no));
    if (r.role != "reference") (r.label == kWholeMap ? any_map : any_label) = true;
    rows.push_back({id_hash(r.id), static_cast<uint32_t>(at), static_cast<uint32_t>(line.size())});
  }
  if (any_label && any_map)
    throw UsageError("--manifest " + csv_path +
                     ": some rows have a label and some do not; either every file is a label map "
                     "(no label) or every file is the binary mask of its row's label");
  std::sort(rows.begin(), rows.end(), [](const RowAt& a, const RowAt& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.at < b.at;
  });
  per_label = any_label;
  return rows;
}

}  // namespace

Dataset dataset_from_manifest(const std::string& csv_path) {
  ManifestFile file(csv_path);
  std::string line;
  uint64_t at = 0;
  if (!file.next(line, at)) file.fail("empty file");
  const Columns col = header_columns(line, csv_path);
  Dataset out;
  std::vector<RowAt> rows = sorted_rows(file, col, csv_path, out.per_label);
  if (rows.empty()) file.fail("no rows");
  const fs::path base = fs::path(csv_path).parent_path();
  // The rows of one hash, read again in file order and grouped by id (ids rarely share a hash).
  std::map<std::string, CaseSpec> group;
  for (size_t i = 0; i < rows.size(); ++i) {
    Row r;
    try {
      r = parse_row(file.line_at(rows[i].at, rows[i].size), col, csv_path);
    } catch (const UsageError&) {
      file.fail("changed while being read");
    }
    if (id_hash(r.id) != rows[i].hash ||
        (r.role != "reference" && (r.label != kWholeMap) != out.per_label))
      file.fail("changed while being read");
    add_row(group[r.id], r, base);
    if (i + 1 < rows.size() && rows[i + 1].hash == rows[i].hash) continue;
    for (auto& [id, c] : group) {
      c.id = id;
      out.cases.push_back(c);
    }
    group.clear();
  }
  std::vector<RowAt>().swap(rows);
  file.check_unchanged();
  out.cases.sort_by_id();
  return out;
}

}  // namespace maskeval
