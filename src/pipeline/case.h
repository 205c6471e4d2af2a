// One case of a run: what can go wrong with it, and the work on it.
#pragma once

#include <string>

#include "maskeval/run.h"

namespace maskeval {

// A problem with one case: the file it concerns and why.
struct CaseFailure {
  std::string file, reason;
};

// While alive on a worker thread of a GPU run: that worker may submit small cases to the shared
// device batches, so a batch need not wait for it once it holds a case from every worker.
class DeviceBatchWorker {
 public:
  DeviceBatchWorker();
  ~DeviceBatchWorker();
  DeviceBatchWorker(const DeviceBatchWorker&) = delete;
  DeviceBatchWorker& operator=(const DeviceBatchWorker&) = delete;
};

// Processes one case into `res`; throws CaseFailure for a problem with the case's input and
// FatalError when the run cannot go on. `gpu`: count and write on the device. The case's files
// go to OUT/cases/`folder` (see case_folders).
void process_case(const CaseSpec& spec, const std::string& folder, const Dataset& data,
                  const RunOptions& o, int threads, bool gpu, CaseResult& res);

}  // namespace maskeval
