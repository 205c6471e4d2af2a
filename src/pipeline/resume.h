// --resume: the cases an interrupted run recorded, kept where their inputs are unchanged.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "maskeval/run.h"
#include "pipeline/records.h"

namespace maskeval {

struct ResumePlan {
  std::vector<LineSpan> kept;  // the record lines to keep, in the order they were written
  size_t recorded = 0;         // case records found (finished or failed)
  size_t stale = 0;            // records dropped: inputs changed, case gone or listed anew
  size_t failed = 0;           // failures dropped, to be tried again
  size_t damaged = 0;          // lines that are not records (a damaged file), left out
  Dataset remaining;           // the cases still to run
};

// Reads OUT's records.jsonl (`path`); `header` is this run's header line. Refuses (UsageError)
// records of another command, version, option set or shard. A recorded case is kept when the
// listing still has it unchanged (case_spec_sha256) and each of its input files still has its
// recorded size and SHA-256; every other case (and every failed one) is to run, and its folder
// under OUT/cases/ is cleared first.
ResumePlan plan_resume(const std::string& path, const nlohmann::ordered_json& header,
                       const Dataset& data, const RunOptions& options);

}  // namespace maskeval
