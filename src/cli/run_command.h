// The end of agree, fuse, score and merge: figures, gates, baseline, outputs, printout, exit code.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/cli_options.h"
#include "maskeval/baseline.h"
#include "maskeval/report.h"
#include "pipeline/records.h"

namespace maskeval {

// What the end of a run needs besides its results.
struct RunEnd {
  const Cli& cli;
  const RunOptions& options;
  const std::vector<Gate>& gates;
  std::shared_ptr<const BaselineRun> baseline;
  const Dataset* data;  // the listing, for the HTML report's pictures; null when merged
  std::vector<ListingProblem> problems;
  std::string json_path;
};

// "PATH: REASON (not read)", as warnings and the report say a listing problem.
std::string listing_problem_text(const ListingProblem& p);

// The run's cases from OUT/records.jsonl in the listing's order (by id), failures too, their
// stage times summed into `result`; the warnings drawn from the cases, then the listing's
// problems. The cases are read back when reached, so memory does not grow with their number.
void read_back_records(const std::string& path, const RunOptions& o, int64_t memory,
                       const std::vector<ListingProblem>& problems, RunResult& result);
// The same from a store of every file added (of one run, or of every shard of one): the cases
// are held in memory when they fit in `memory` bytes (--report-memory), else they stay in the
// files, each parsed again when it is reached (memory flat, the report slower).
void adopt_records(const std::shared_ptr<RecordStore>& store, const RunOptions& o, int64_t memory,
                   const std::vector<ListingProblem>& problems, RunResult& result);

// Summarizes, applies the baseline and gates, writes report.json, the tables and report.html,
// drops the earlier run's outputs and prints the summary. Returns the exit code. On an
// exception the caller restores the earlier outputs.
int finish_run(const RunEnd& end, RunResult& result);

}  // namespace maskeval
