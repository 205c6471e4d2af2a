// The `maskeval diff OLD NEW` subcommand: options, the run, outputs, summary and exit code.
#include "cli/diff_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/cli.h"
#include "maskeval/diff.h"
#include "pipeline/output_dir.h"

namespace maskeval {
namespace {

const char* kDiffFooter =
    "OLD and NEW: each a folder of mask files (found recursively, matched by their path "
    "without the mask extension) or a manifest CSV (case,rater,path[,label][,role]). Entries "
    "whose files all have the same size and SHA-256 are unchanged and never decoded.\nExit "
    "codes: 0 done; 1 usage error; 2 the run could not go on; 3 some entries failed or paths "
    "could not be read; 5 with --fail-on-change: an entry was added, removed or changed (5 "
    "wins over 3).";

// --spacing X,Y[,Z]: positive numbers; a 2D spacing gets 1 for Z.
std::array<double, 3> parse_spacing(const std::string& text) {
  std::array<double, 3> out{0, 0, 0};
  std::stringstream parts(text);
  std::string part;
  int axis = 0;
  while (std::getline(parts, part, ',')) {
    if (axis == 3) throw UsageError("--spacing: at most three values");
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || !(v > 0) || !std::isfinite(v))
      throw UsageError("--spacing: '" + part + "' is not a positive number");
    out[axis++] = v;
  }
  if (axis < 2) throw UsageError("--spacing: give X,Y or X,Y,Z");
  if (axis == 2) out[2] = 1.0;
  return out;
}

// The run's options from the command line.
RunOptions diff_options(const DiffArgs& a, const std::string& command_line) {
  RunOptions o = a.run;
  o.command = Command::kAgree;
  o.command_line = command_line;
  if (!a.labels_file.empty()) o.labels.merge(read_label_file(a.labels_file));
  for (const std::string& r : a.regions) o.labels.add_region(parse_region(r));
  o.foreground = ForegroundRule::parse(a.foreground);
  o.backend =
      a.backend == "cpu" ? Backend::kCpu : (a.backend == "cuda" ? Backend::kCuda : Backend::kAuto);
  o.progress = a.quiet                      ? RunOptions::Progress::kOff
               : isatty(STDERR_FILENO) != 0 ? RunOptions::Progress::kBar
                                            : RunOptions::Progress::kLines;
  o.distances = !a.no_distances;
  o.distance.percentile = 95;
  if (!a.spacing.empty()) o.spacing = parse_spacing(a.spacing);
  return o;
}

int run_diff(const DiffArgs& a, const std::string& command_line) {
  const RunOptions o = diff_options(a, command_line);
  for (const std::string& p : {a.old_path, a.new_path}) {
    std::error_code ec;
    if (!std::filesystem::exists(p, ec))
      throw UsageError("diff: " + p + " does not exist (give a folder of masks or a manifest)");
  }
  const OutputLock lock(o.out_dir);
  check_diff_outputs(o.out_dir);
  const DiffResult r = diff_versions(a.old_path, a.new_path, o);
  write_diff_outputs(r, o);
  if (!r.backend_note.empty() && !a.quiet) std::cerr << "maskeval: " << r.backend_note << "\n";
  for (const std::string& w : r.warnings) std::cerr << "maskeval: warning: " << w << "\n";
  if (!a.quiet) print_diff_summary(std::cout, r, o);
  // The summary lists the failed entries; without it they go to stderr.
  if (a.quiet)
    for (const DiffEntry& e : r.entries)
      if (e.status == DiffStatus::kFailed)
        std::cerr << "maskeval: entry " << e.id
                  << " failed: " << (e.file.empty() ? "" : e.file + ": ") << e.reason << "\n";
  return diff_exit_code(r, a.fail_on_change);
}

}  // namespace

CLI::App* add_diff_command(CLI::App& app, DiffArgs& a) {
  CLI::App* d = app.add_subcommand(
      "diff",
      "What changed between two versions of a label set (OLD, NEW: folders or manifests): "
      "entries added, removed, unchanged or changed, and per label the voxels changed, Dice "
      "and HD95 between the versions");
  d->footer(kDiffFooter);
  d->add_option("OLD", a.old_path, "The earlier version: a folder of masks or a manifest CSV")
      ->required();
  d->add_option("NEW", a.new_path, "The later version: a folder of masks or a manifest CSV")
      ->required();
  d->add_option("--labels", a.labels_file,
                "Label names and regions: a CSV (value,name[,colour]), JSON, or nnU-Net's "
                "dataset.json")
      ->type_name("FILE");
  d->add_option("--region", a.regions, "NAME=1,2,3: also compare the union of these labels")
      ->type_name("NAME=L,...");
  d->add_option("--foreground", a.foreground,
                "How pixel values become labels: labels, nonzero, value=V, <T, <=T, >T, >=T")
      ->capture_default_str();
  d->add_option("--spacing", a.spacing, "Voxel size X,Y[,Z] overriding the files' (for HD95)");
  d->add_option("--max-voxels", a.run.read.max_voxels,
                "An image with more values than this is an error for its entry")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  d->add_flag("--allow-external-data", a.run.read.allow_external_data,
              "Let NRRD and MetaImage headers name data files outside their own folder");
  d->add_flag("--no-distances", a.no_distances, "Skip HD95");
  d->add_flag("--fail-on-change", a.fail_on_change,
              "Exit 5 when any entry was added, removed or changed");
  d->add_option("-o,--out", a.run.out_dir, "Output folder (diff.json, diff.csv, diff.html)")
      ->capture_default_str();
  d->add_option("--threads", a.run.threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 4096));
  d->add_option("--backend", a.backend, "auto (the GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  d->add_flag("-q,--quiet", a.quiet, "No progress and no summary (failed entries on stderr)");
  return d;
}

int execute_diff(const DiffArgs& args, const std::string& command_line) {
  try {
    return run_diff(args, command_line);
  } catch (const UsageError& e) {
    std::cerr << "maskeval: " << e.what() << "\n(run maskeval diff --help for the options)\n";
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "maskeval: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {  // FatalError and anything else: the run cannot go on
    std::cerr << "maskeval: error: " << e.what() << "\n";
    return kExitFatal;
  }
}

}  // namespace maskeval
