// An earlier report.json's cases, found in one pass over the file and each read back on demand.
#include "report/report_cases.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
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

ReportCases::ReportCases(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block
  if (fd_ < 0)
    throw std::invalid_argument(std::string("cannot be opened: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::invalid_argument("not a file");
  }
}

ReportCases::~ReportCases() {
  ::close(fd_);
}

nlohmann::ordered_json ReportCases::without_cases() const {
  using Json = nlohmann::ordered_json;
  const int copy = ::dup(fd_);
  std::FILE* f = copy < 0 ? nullptr : ::fdopen(copy, "rb");
  if (!f) {
    if (copy >= 0) ::close(copy);
    throw std::invalid_argument(std::string("cannot be read: ") + std::strerror(errno));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  if (::lseek(fd_, 0, SEEK_SET) != 0) throw std::invalid_argument("cannot be read");
  const Json::parser_callback_t skip_cases = [](int depth, Json::parse_event_t event,
                                                Json& parsed) {
    return !(depth == 1 && event == Json::parse_event_t::key && parsed == "cases");
  };
  Json j = Json::parse(f, skip_cases);
  if (std::ferror(f)) throw std::invalid_argument("cannot be read");
  return j;
}

void ReportCases::index(std::string& sha256, const LabelSet* check) {
  Sha256 hash;
  CaseScanner scan;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  std::vector<char> buf(size_t{1} << 20);
  for (uint64_t at = 0;;) {
    const ssize_t got = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      throw std::invalid_argument(std::string("cannot be read: ") + std::strerror(errno));
    if (got == 0) break;
    hash.update(buf.data(), static_cast<size_t>(got));
    scan.feed(buf.data(), static_cast<size_t>(got), at, spans);
    at += static_cast<uint64_t>(got);
  }
  sha256 = hash.finish_hex();
  if (!scan.found_cases()) throw std::invalid_argument("no \"cases\" array: not a maskeval report");
  if (!scan.cases_were_objects())
    throw std::invalid_argument("\"cases\" holds something other than case objects");
  for (const auto& [offset, length] : spans) spans_.push_back({offset, length});
  for (size_t i = 0; i < spans_.size(); ++i) {
    const std::string where = "case " + std::to_string(i + 1) + " of \"cases\": ";
    try {
      const nlohmann::ordered_json j = nlohmann::ordered_json::parse(text(spans_[i]));
      const auto it = j.find("id");
      if (it == j.end() || !it->is_string()) throw std::invalid_argument("it has no id");
      if (check) case_from_json(j, *check);
      ids_ += it->get<std::string>();
      id_ends_.push_back(ids_.size());
    } catch (const std::exception& e) {
      throw std::invalid_argument(where + e.what());
    }
  }
  by_id_.resize(spans_.size());
  for (size_t i = 0; i < by_id_.size(); ++i) by_id_[i] = static_cast<uint32_t>(i);
  std::stable_sort(by_id_.begin(), by_id_.end(),
                   [this](uint32_t a, uint32_t b) { return id(a) < id(b); });
}

std::string ReportCases::text(const Span& s) const {
  std::string out(s.length, '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t got =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(s.offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw std::invalid_argument("cannot read back " + path_);
    done += static_cast<size_t>(got);
  }
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
  const auto it = std::upper_bound(by_id_.begin(), by_id_.end(), wanted,
                                   [this](const std::string& v, uint32_t i) { return v < id(i); });
  if (it == by_id_.begin() || id(*(it - 1)) != wanted) return std::nullopt;
  return *(it - 1);
}

}  // namespace maskeval
