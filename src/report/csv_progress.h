// cases.partial.csv and pairs.partial.csv: the table rows of each case as it finishes.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "maskeval/run.h"

namespace maskeval {

// The rows cases.csv and pairs.csv will hold, appended for each case as it finishes (in the
// order the cases finish) and flushed at once, so that the tables of a run killed at any point
// can be read; the whole tables, sorted, replace them at the end of the run (remove()).
// Thread-safe. Throws FatalError naming the file when it cannot be written.
class CsvProgress {
 public:
  CsvProgress(const std::string& out_dir, const RunOptions& options);
  ~CsvProgress();
  CsvProgress(const CsvProgress&) = delete;
  CsvProgress& operator=(const CsvProgress&) = delete;

  void add(const CaseResult& c);
  // Removes both files from `out_dir` (once the run's own tables are written).
  static void remove(const std::string& out_dir);

 private:
  struct Table {
    std::string path;
    std::FILE* file = nullptr;
  };
  void append(Table& t, const std::string& rows);

  const RunOptions& options_;
  Table cases_, pairs_;
  std::mutex mutex_;
};

}  // namespace maskeval
