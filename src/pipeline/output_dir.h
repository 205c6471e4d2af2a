// The output folder of a run: one run at a time, its case folders, and its earlier outputs.
#pragma once

#include <string>
#include <vector>

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
  // The lock file was there already: an earlier run of maskeval wrote into this folder.
  bool earlier_run() const { return earlier_run_; }
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  int fd_ = -1;
  bool earlier_run_ = false;
};

// maskeval's own outputs in OUT: report.json and cases/. Before a run, the outputs of the last
// complete run move to OUT/.maskeval-previous/ (the cases/ of a run killed before its report was
// written are removed); after the new report is written they are deleted. So OUT never holds
// one run's report beside another run's masks. A cases/ folder that maskeval did not write
// (no lock file or maskeval report beside it) is never touched: FatalError.
void set_aside_previous_outputs(const std::string& out_dir, const OutputLock& lock);
void drop_previous_outputs(const std::string& out_dir);

}  // namespace maskeval
