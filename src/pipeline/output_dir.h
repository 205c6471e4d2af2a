// The output folder of a run: one run at a time, its case folders, and its earlier outputs.
#pragma once

#include <string>
#include <vector>

#include "maskeval/run.h"

namespace maskeval {

// The folder of one case under OUT/cases/, derived from its id: a relative path of plain
// components that can never leave OUT/cases/ (no "..", ".", empty or absolute part; control
// characters and backslashes become '_'; over-long components are cut). Never empty.
std::string case_folder(const std::string& id);

// case_folder of each id, made unique: an id whose folder is already taken by an earlier id
// (the two differ only in what sanitising changed) gets "~2", "~3", ... in the order given.
std::vector<std::string> case_folders(const std::vector<std::string>& ids);

// An exclusive lock on the output folder (created when missing), held while the object lives.
// Throws FatalError when another run holds it, naming that run's process and start time.
class OutputLock {
 public:
  explicit OutputLock(const std::string& out_dir);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  int fd_ = -1;
};

// maskeval's own outputs in OUT: report.json, report.html, cases.csv, pairs.csv, summary.csv and
// cases/ (marked by cases/.maskeval-cases).
// Before a run, the outputs of the last complete run move to OUT/.maskeval-previous/ (the
// cases/ of a run killed before its report was written are removed) and a fresh, marked cases/
// is made; after the new report is written they are deleted, or put back by
// restore_previous_outputs when the run could not go on. So OUT never holds one run's report
// beside another run's masks. A cases/ or report.json that maskeval did not write is never
// touched, nor a table file in an OUT without either: FatalError. `report_in_out`: the report goes
// to OUT/report.json (no --json).
void set_aside_previous_outputs(const std::string& out_dir, bool report_in_out);
void restore_previous_outputs(const std::string& out_dir);
// --resume: removes what the end of the run writes again from the records (report.json, the
// tables, report.html), keeping records.jsonl and cases/; the same FatalError as above for files
// maskeval did not write.
void clear_resumed_outputs(const std::string& out_dir, bool report_in_out);
void drop_previous_outputs(const std::string& out_dir);

// Cases all of whose files are maskeval's own outputs in OUT (a dataset folder that holds
// OUT) are left out; a case that mixes them with other inputs is a UsageError, since the run
// replaces those files.
void leave_out_own_outputs(Dataset& data, const std::string& out_dir);

}  // namespace maskeval
