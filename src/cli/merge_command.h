// maskeval merge DIR...: the output folders of every --shard of one run, as one report.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace maskeval {

struct MergeArgs {
  std::vector<std::string> dirs;  // the shards' output folders, any order
  std::string out = "maskeval-out", json, gates_file, baseline, nnunet_summary;
  std::vector<std::string> fail_if;
  std::string report_memory;  // "" : the shards' own
  bool quiet = false;
};

CLI::App* add_merge_command(CLI::App& app, MergeArgs& args);

// Checks that the folders are every shard of one run exactly once, then writes OUT as that run
// unsharded would have (per-case results verbatim, the case folders linked or copied into
// OUT/cases, dataset figures recomputed; gates and the baseline applied to the whole). Returns
// the exit code (0, 3 or 4 as a run; 1 for shards that do not fit together).
int execute_merge(const MergeArgs& args, const std::string& command_line);

}  // namespace maskeval
