// One case of a run: what can go wrong with it, and the work on it.
#pragma once

#include <string>

#include "maskeval/engine.h"
#include "maskeval/run.h"

namespace maskeval {

// A problem with one case: the file it concerns and why.
struct CaseFailure {
  std::string file, reason;
};

// Processes one case into `res` on the run's engine; throws CaseFailure for a problem with the
// case's input and FatalError when the run cannot go on. The case's files go to
// OUT/cases/`folder` (see case_folders).
void process_case(const CaseSpec& spec, const std::string& folder, const Dataset& data,
                  const RunOptions& o, Engine& engine, int threads, CaseResult& res);

}  // namespace maskeval
