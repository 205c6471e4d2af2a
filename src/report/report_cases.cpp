// An earlier report.json's cases, found in one pass over the file and each read back on demand.
#include "report/report_cases.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "report/case_record.h"
#include "util/sha256.h"

namespace maskeval {
namespace {

// Follows a JSON text byte by byte (strings, escapes and nesting) and notes where each object
// element of the top-level object's "cases" array begins and ends. The syntax is checked
// elsewhere (a full parse); this only has to find the spans of a well-formed file.
class CaseScanner {
 public:
  void feed(const char* p, size_t n, uint64_t at, std::vector<std::pair<uint64_t, uint64_t>>& out);
  bool found_cases() const { return cases_state_ != kNotSeen; }
  bool cases_were_objects() const { return all_objects_; }

 private:
  void structural(char c, uint64_t pos, std::vector<std::pair<uint64_t, uint64_t>>& out);

  enum CasesState { kNotSeen, kInside, kDone };
  int depth_ = 0;
  bool in_string_ = false, escape_ = false;
  std::string key_;        // the last string at depth 1 (a key, or a value just after one)
  bool take_key_ = false;  // the string being read is at depth 1
  CasesState cases_state_ = kNotSeen;
  bool all_objects_ = true;
  uint64_t start_ = 0;
};

void CaseScanner::feed(const char* p, size_t n, uint64_t at,
                       std::vector<std::pair<uint64_t, uint64_t>>& out) {
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      if (take_key_ && in_string_ && key_.size() < 16) key_ += c;
      continue;
    }
    structural(c, at + i, out);
  }
}

void CaseScanner::structural(char c, uint64_t pos,
                             std::vector<std::pair<uint64_t, uint64_t>>& out) {
  if (c == '"') {
    if (cases_state_ == kInside && depth_ == 2) all_objects_ = false;  // a string among the cases
    in_string_ = true;
    take_key_ = depth_ == 1;
    if (take_key_) key_.clear();
    return;
  }
  const bool inside = cases_state_ == kInside;
  if (c == '{' || c == '[') {
    if (depth_ == 1 && c == '[' && key_ == "cases" && cases_state_ == kNotSeen)
      cases_state_ = kInside;
    else if (inside && depth_ == 2 && c == '{')
      start_ = pos;
    else if (inside && depth_ == 2)
      all_objects_ = false;
    ++depth_;
  } else if (c == '}' || c == ']') {
    --depth_;
    if (inside && depth_ == 2 && c == '}') out.emplace_back(start_, pos + 1 - start_);
    if (inside && depth_ == 1) cases_state_ = kDone;
  } else if (inside && depth_ == 2 && c != ',' && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
    all_objects_ = false;  // a number, true, false or null among the cases
  }
}

}  // namespace

ReportCases::ReportCases(const std::string& path, std::string& sha256) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot be opened");
  Sha256 hash;
  CaseScanner scan;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  std::vector<char> buf(size_t{1} << 20);
  uint64_t at = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const size_t got = static_cast<size_t>(in.gcount());
    hash.update(buf.data(), got);
    scan.feed(buf.data(), got, at, spans);
    at += got;
  }
  if (in.bad()) throw std::invalid_argument("cannot be read");
  sha256 = hash.finish_hex();
  if (!scan.found_cases()) throw std::invalid_argument("no \"cases\" array: not a maskeval report");
  if (!scan.cases_were_objects())
    throw std::invalid_argument("\"cases\" holds something other than case objects");
  spans_.reserve(spans.size());
  for (const auto& [offset, length] : spans) spans_.push_back({offset, length});
  for (size_t i = 0; i < spans_.size(); ++i) {
    const nlohmann::ordered_json j = nlohmann::ordered_json::parse(text(spans_[i]));
    const auto it = j.find("id");
    if (it == j.end() || !it->is_string())
      throw std::invalid_argument("case " + std::to_string(i + 1) + " has no id");
    ids_ += it->get<std::string>();
    id_ends_.push_back(ids_.size());
  }
  by_id_.resize(spans_.size());
  for (size_t i = 0; i < by_id_.size(); ++i) by_id_[i] = static_cast<uint32_t>(i);
  std::stable_sort(by_id_.begin(), by_id_.end(),
                   [this](uint32_t a, uint32_t b) { return id(a) < id(b); });
}

std::string ReportCases::text(const Span& s) const {
  std::ifstream in(path_, std::ios::binary);
  std::string out(s.length, '\0');
  in.seekg(static_cast<std::streamoff>(s.offset));
  in.read(out.data(), static_cast<std::streamsize>(s.length));
  if (!in) throw std::invalid_argument("cannot read back " + path_);
  return out;
}

std::string ReportCases::id(size_t i) const {
  const uint64_t begin = i == 0 ? 0 : id_ends_[i - 1];
  return ids_.substr(begin, id_ends_[i] - begin);
}

CaseResult ReportCases::load(size_t i, const LabelSet& labels) const {
  return case_from_json(nlohmann::ordered_json::parse(text(spans_[i])), labels);
}

std::optional<size_t> ReportCases::find(const std::string& wanted) const {
  const auto it = std::lower_bound(by_id_.begin(), by_id_.end(), wanted,
                                   [this](uint32_t i, const std::string& v) { return id(i) < v; });
  if (it == by_id_.end() || id(*it) != wanted) return std::nullopt;
  return *it;
}

}  // namespace maskeval
