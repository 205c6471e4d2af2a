// An earlier report.json's cases, found in one pass over the file and each read back on demand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskeval/report.h"

namespace maskeval {

// Where each object of a report.json's top-level "cases" array lies in the file, and its id,
// packed: a few dozen bytes a case, the file never held whole. The file is held open, so that
// every read is of the same file (the one hashed) even when it is moved, replaced or removed
// meanwhile (a run's own last report is set aside before the comparison); each case is parsed
// again when it is loaded.
class ReportCases {
 public:
  // Opens `path`; throws std::invalid_argument when it is no regular file or cannot be opened.
  explicit ReportCases(const std::string& path);
  ~ReportCases();
  ReportCases(const ReportCases&) = delete;
  ReportCases& operator=(const ReportCases&) = delete;

  // The report without its "cases" (the whole text is parsed, and so checked). Throws a JSON
  // exception for text that is not JSON.
  nlohmann::ordered_json without_cases() const;
  // One pass over the file: its SHA-256 into `sha256`, and each case's place; then each case
  // is read once for its id and, given `check`, converted as load() would. Throws
  // std::invalid_argument when there is no "cases" array of objects or a case is not one.
  void index(std::string& sha256, const LabelSet* check = nullptr);

  size_t size() const { return spans_.size(); }
  // Case i, in the file's order (thread-safe).
  CaseResult load(size_t i, const LabelSet& labels) const;
  // The index of the case with this id (the last, should the report hold it twice).
  std::optional<size_t> find(const std::string& id) const;
  // The id of case i.
  std::string id(size_t i) const;

 private:
  struct Span {
    uint64_t offset = 0, length = 0;
  };
  std::string text(const Span& s) const;

  std::string path_;
  int fd_ = -1;
  std::vector<Span> spans_;
  std::string ids_;                // every case's id, one after another
  std::vector<uint64_t> id_ends_;  // where each ends in ids_
  std::vector<uint32_t> by_id_;    // the cases' indices, sorted by id (stable)
};

}  // namespace maskeval
