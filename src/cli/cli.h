// The maskeval command line.
#pragma once

namespace maskeval {

// Exit codes (documented in the README and in --help).
constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;        // bad command line or dataset description
constexpr int kExitFatal = 2;        // the run could not go on (output not writable, backend)
constexpr int kExitFailedCases = 3;  // the run finished, but some cases were skipped
constexpr int kExitGateFailed = 4;   // a quality gate failed or could not be evaluated
// 5: diff --fail-on-change, the versions differ (kExitChanged, maskeval/diff.h)

int run_cli(int argc, char** argv);

}  // namespace maskeval
