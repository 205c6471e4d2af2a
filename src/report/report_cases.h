// An earlier report.json's cases, found in one pass over the file and each read back on demand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "maskeval/report.h"

namespace maskeval {

// Where each object of a report.json's top-level "cases" array lies in the file, and its id,
// packed: a few dozen bytes a case, the file never held whole. Each case is parsed again when
// it is loaded.
class ReportCases {
 public:
  // Scans `path` (its SHA-256 into `sha256`), then reads each case once for its id. Throws
  // std::invalid_argument when the file cannot be read, has no "cases" array of objects, or a
  // case has no id (a JSON exception for one that is not JSON).
  ReportCases(const std::string& path, std::string& sha256);

  size_t size() const { return spans_.size(); }
  // Case i, in the file's order (thread-safe: the file is opened for each load).
  CaseResult load(size_t i, const LabelSet& labels) const;
  // The index of the (first) case with this id.
  std::optional<size_t> find(const std::string& id) const;

 private:
  struct Span {
    uint64_t offset = 0, length = 0;
  };
  std::string text(const Span& s) const;
  std::string id(size_t i) const;

  std::string path_;
  std::vector<Span> spans_;
  std::string ids_;                // every case's id, one after another
  std::vector<uint64_t> id_ends_;  // where each ends in ids_
  std::vector<uint32_t> by_id_;    // the cases' indices, sorted by id
};

}  // namespace maskeval
