// The options of agree, fuse and score as parsed, and what turns them into a run.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "maskeval/gates.h"
#include "maskeval/run.h"

namespace maskeval {

struct Cli {
  std::string cases, raters, reference, manifest, file_ending, against = "reference";
  std::string foreground = "labels", empty = "1";
  std::string json, backend = "auto", method = "majority", tie = "undecided", paint_order;
  std::string device_memory_limit;
  std::string labels_file;
  std::vector<std::string> regions;
  int ignore_label = -1;
  std::string nnunet_summary;        // score --nnunet-summary FILE
  std::vector<std::string> fail_if;  // --fail-if EXPR, repeated
  std::string gates_file;            // --gates FILE
  std::string baseline;              // --baseline PREV/report.json
  std::vector<std::string> rater_dirs;
  std::vector<std::string> predictions;  // --prediction: a glob (with --cases) or [NAME=]DIRs
  RunOptions run;
  int undecided = -1;
  int max_label = kMaxLabel;
  size_t adjudicate = 10;
  bool no_maps = false, quiet = false;
  bool distances = false, no_distances = false;
  std::string convention = "monai", nsd_tolerance = "1", spacing, one_empty = "inf";
  double percentile = 95;
  bool resume = false;                 // --resume
  std::string report_memory = "512M";  // --report-memory
  std::string shard;                   // --shard I/N
  std::vector<std::string> words;      // the command line after the program's name
};

// Adds agree, fuse and score with their options to `app`; `command` is set to the one parsed.
void add_run_commands(CLI::App& app, Cli& c, Command& command);
// Sets c.run from the parsed options (reads --labels); throws UsageError.
void set_options(Cli& c, Command command);
// The dataset the options describe.
Dataset load_dataset(const Cli& c);
// --gates FILE, then each --fail-if (named by its text); checked before any case is read.
std::vector<Gate> parse_gates(const Cli& c);
const char* command_name(Command command);
// --report-memory in bytes (UsageError when it is not a size).
int64_t report_memory(const Cli& c);

// Runs agree, fuse or score (src/cli/run_command.cpp); returns the exit code.
int execute(Cli& c, Command command);

}  // namespace maskeval
