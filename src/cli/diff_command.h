// The `maskeval diff OLD NEW` subcommand: its options, and running it.
#pragma once

#include <string>
#include <vector>

#include "maskeval/run.h"

namespace CLI {
class App;
}

namespace maskeval {

// What the command line gives the diff subcommand.
struct DiffArgs {
  std::string old_path, new_path;
  std::string labels_file, foreground = "labels", spacing, backend = "auto";
  std::vector<std::string> regions;
  RunOptions run;  // out_dir, threads, read limits (set by the options directly)
  bool quiet = false, no_distances = false, fail_on_change = false;
};

// Adds `diff` to `app`, its options writing into `args` (which must outlive the parse).
CLI::App* add_diff_command(CLI::App& app, DiffArgs& args);

// Runs the diff the parsed `args` describe and returns the exit code: 0, 1 (usage), 2 (fatal),
// 3 (entries failed or paths unreadable), 5 (--fail-on-change and something changed; wins
// over 3). Prints its own messages; never throws.
int execute_diff(const DiffArgs& args, const std::string& command_line);

}  // namespace maskeval
