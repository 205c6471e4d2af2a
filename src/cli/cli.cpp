// The command line: subcommands and options, the run, what is printed and the exit code.
#include "cli/cli.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/cli_options.h"
#include "cli/diff_command.h"
#include "cli/merge_command.h"
#include "cli/suggest.h"
#include "maskeval/overlay.h"
#include "maskeval/report.h"
#include "maskeval/run.h"
#include "pipeline/output_dir.h"

namespace maskeval {
namespace {

const char* kExitCodes =
    "Exit codes: 0 all cases done; 1 usage error; 2 the run could not go on (output not "
    "writable or locked by another run, backend unavailable); 3 finished, but some cases failed "
    "(listed in the report under failed_cases) or some listed paths could not be read (under "
    "warnings); 4 a quality gate (--fail-if, --gates) failed or could not be evaluated (4 wins "
    "over 3); 5 diff --fail-on-change: the two versions differ (5 wins over 3).\nLimits: at most "
    "254 raters and predictions per case; images over --max-voxels "
    "are refused from their header.";

void add_distance_options(CLI::App* app, Cli& c, bool on_by_default) {
  if (on_by_default) {
    app->add_flag("--no-distances", c.no_distances, "Skip the boundary metrics");
  } else {
    app->add_flag("--distances", c.distances,
                  "Also compute boundary metrics per label: HD, HD percentile, ASSD, NSD matrices");
  }
  app->add_option("--distance-convention", c.convention,
                  "Whose definitions: monai (surfaces, per-direction percentile), medpy (surfaces, "
                  "pooled percentile), itk (all voxels; ASSD = average Hausdorff distance) or "
                  "deepmind (area-weighted surfels on the corner grid)")
      ->check(CLI::IsMember({"monai", "medpy", "itk", "deepmind"}))
      ->capture_default_str();
  app->add_option("--percentile", c.percentile, "Percentile of the Hausdorff distance")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  app->add_option("--nsd-tolerance", c.nsd_tolerance,
                  "NSD tolerance in physical units: T, or per label L:T, e.g. '1,2:1.5'")
      ->capture_default_str();
  app->add_option("--spacing", c.spacing,
                  "Voxel size X,Y[,Z] overriding the files' (in their unit; mm when they name "
                  "none)");
  app->add_option("--one-empty-distance", c.one_empty,
                  "HD, HD percentile and ASSD when exactly one mask is empty: inf (MONAI) or nan")
      ->check(CLI::IsMember({"inf", "nan"}))
      ->capture_default_str();
}

double parse_number(const std::string& text, const std::string& what) {
  size_t used = 0;
  double v = NAN;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(v >= 0))
    throw UsageError(what + ": '" + text + "' is not a non-negative number");
  return v;
}

void apply_distance_options(const Cli& c, RunOptions& o) {
  o.distances = o.command == Command::kScore ? !c.no_distances : c.distances;
  o.distance.convention = parse_convention(c.convention);
  o.distance.percentile = c.percentile;
  o.distance.one_empty = c.one_empty == "nan" ? NAN : INFINITY;
  std::stringstream items(c.nsd_tolerance);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos) {
      o.distance.nsd_tolerance = parse_number(item, "--nsd-tolerance");
    } else {
      const auto label = o.labels.find(item.substr(0, colon));
      if (!label)
        throw UsageError("--nsd-tolerance: '" + item +
                         "' does not start with a label, a label's name or a region");
      o.nsd_tolerance_by_label[*label] = parse_number(item.substr(colon + 1), "--nsd-tolerance");
    }
  }
  if (!c.spacing.empty()) {
    std::stringstream parts(c.spacing);
    std::string part;
    int axis = 0;
    while (std::getline(parts, part, ',')) {
      if (axis == 3) throw UsageError("--spacing: at most three values");
      o.spacing[axis++] = parse_number(part, "--spacing");
    }
    if (axis < 2) throw UsageError("--spacing: give X,Y or X,Y,Z");
    for (int a = 0; a < axis; ++a)
      if (o.spacing[a] <= 0) throw UsageError("--spacing: every value must be positive");
    if (axis == 2) o.spacing[2] = 1.0;
  }
}

// Where the masks are and how their values are read.
void add_input_options(CLI::App* app, Cli& c) {
  auto* g = app->add_option_group("dataset", "Where the masks are (exactly one of these)");
  g->add_option("--cases", c.cases, "Folder with one folder per case (found at any depth)");
  g->add_option("--rater", c.rater_dirs,
                "[NAME=]DIR: one folder per rater, files matched by name (repeat it)");
  g->add_option("--manifest", c.manifest,
                "CSV with columns case,rater,path and optional label, role "
                "(rater|reference|prediction)");
  g->require_option(1);
  app->add_option("--raters", c.raters,
                  "With --cases: glob of rater files inside a case folder, e.g. 'experts/*.png' "
                  "(default: every mask file directly in it)");
  app->add_option("--reference", c.reference,
                  "With --cases: reference file inside each case folder (e.g. gold.png); with "
                  "--rater or score --prediction DIR: a folder of reference files");
  app->add_option("--foreground", c.foreground,
                  "How pixel values become labels: labels (values are labels), nonzero, "
                  "value=V, <T, <=T, >T, >=T (e.g. '<128' for dark foreground)")
      ->capture_default_str();
  app->add_option("--max-label", c.max_label, "A label above this is an error for the case")
      ->check(CLI::Range(1, kMaxLabel))
      ->capture_default_str();
  app->add_option("--max-voxels", c.run.read.max_voxels,
                  "An image with more values than this (voxels x channels) is an error for its "
                  "case, refused from its header before anything is allocated")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  app->add_flag("--allow-external-data", c.run.read.allow_external_data,
                "Let NRRD and MetaImage headers name data files outside their own folder "
                "(absolute paths or ..); refused by default");
  app->add_option("--empty", c.empty,
                  "Dice/IoU/kappa when both masks of a label are empty: 1, nan or 0")
      ->check(CLI::IsMember({"1", "nan", "0"}))
      ->capture_default_str();
  app->add_flag("--include-background", c.run.include_background,
                "Report label 0 too (it still counts towards Fleiss' kappa over all labels); "
                "implied when --labels names label 0 other than 'background'");
  app->add_option("--labels", c.labels_file,
                  "Label names, colours and regions: a CSV (value,name[,colour]) or JSON file, "
                  "or nnU-Net's dataset.json")
      ->type_name("FILE");
  app->add_option("--region", c.regions,
                  "NAME=1,2,3: also evaluate the union of these labels as one, everywhere a "
                  "label is (repeat it; KiTS23: kidney_and_masses=1,2,3 masses=2,3 tumor=2)")
      ->type_name("NAME=L,...");
  app->add_option("--ignore-label", c.ignore_label,
                  "Voxels of this label take no part in any count: in score against the "
                  "reference, where the reference carries it; otherwise where any rater or the "
                  "reference does (e.g. 255, CamVid's 11)")
      ->check(CLI::Range(0, kMaxLabel));
}

// Where the outputs go, how the run goes, and what the run checks (gates, baseline).
void add_run_options(CLI::App* app, Cli& c, bool maps) {
  if (maps) {
    app->add_flag("--no-maps", c.no_maps, "Do not write the agreement and entropy maps");
    app->add_flag(
        "--overlay", c.run.overlay,
        "Also draw agreement_overlay.png per 2D case: disagreement in colour (needs OpenCV)");
    app->add_option(
        "--overlay-image", c.run.overlay_image,
        "With --cases: image in each case folder to draw the overlay on (e.g. image.png); "
        "implies --overlay");
  }
  app->add_option("-o,--out", c.run.out_dir, "Output folder")->capture_default_str();
  app->add_option("--compression-level", c.run.compression_level,
                  "Deflate level of the masks, maps and overlays written (PNG, .nii.gz): 1 is "
                  "fastest, 9 gives the smallest files; the content is the same at every level")
      ->check(CLI::Range(1, 9))
      ->capture_default_str();
  app->add_option("--report-memory", c.report_memory,
                  "Memory for the cases' results while the report is made (suffix K, M, G); a "
                  "run whose results need more reads each case back from OUT/records.jsonl when "
                  "it is needed: memory stays flat, the report takes longer")
      ->type_name("BYTES")
      ->capture_default_str();
  app->add_flag("--resume", c.resume,
                "Keep the cases OUT/records.jsonl holds from an interrupted run (those whose "
                "files are unchanged, by size and SHA-256) and run only the rest");
  app->add_option("--shard", c.shard,
                  "Run only share I of N (I from 0) of the cases, balanced by file size; "
                  "combine the shards' folders with maskeval merge")
      ->type_name("I/N");
  app->add_option("--json", c.json, "Report path (default: OUT/report.json)");
  app->add_option("--threads", c.run.threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 4096));
  app->add_option("--backend", c.backend,
                  "The engine that counts, writes the maps and masks and runs the distance "
                  "transforms: auto (the GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app->add_option("--device-memory-limit", c.device_memory_limit,
                  "Device memory the CUDA engine may allocate, in bytes (suffix K, M or G: "
                  "2^10, 2^20, 2^30); also capped at 70% of free memory. Cases beyond it are "
                  "counted in slabs, or on the CPU when not even slabs fit (said in the report)")
      ->type_name("BYTES");
  app->add_flag("--timings", c.run.timings,
                "Wall time of each stage (decode, count, derive, distances, write, report), "
                "summed over cases, on stderr and in the report");
  app->add_flag("--strict", c.run.strict,
                "Stop at the first bad case (the first to fail, in time; only it is reported)");
  app->add_option("--adjudicate", c.adjudicate,
                  "How many cases to list as most needing adjudication")
      ->capture_default_str();
  app->add_flag("-q,--quiet", c.quiet, "No progress bar and no summary table");
  app->add_option("--fail-if", c.fail_if,
                  "Quality gate, repeatable: the run fails (exit 4) when EXPR holds, e.g. "
                  "'mean_dice[1] < 0.8', 'rater=*: mean_dice < 0.9', 'any case: min_pair_dice "
                  "< 0.5' (README, Quality gates)")
      ->type_name("EXPR");
  app->add_option("--gates", c.gates_file,
                  "Quality gates from a file: JSON [{\"name\": ..., \"fail_if\": ...}] or "
                  "YAML (.yml/.yaml) entries '- name: ...' / '  fail_if: ...'")
      ->type_name("FILE");
  app->add_option("--baseline", c.baseline,
                  "An earlier run's report.json of the same dataset: the change of every mean "
                  "figure, cases added, removed and moved most, label volume drift (baseline.csv); "
                  "gates may use delta(FIGURE), drift_p[LABEL], drift_d[LABEL]")
      ->type_name("FILE");
}

void add_common(CLI::App* app, Cli& c, bool maps = true) {
  add_input_options(app, c);
  add_run_options(app, c, maps);
}

void add_staple_options(CLI::App* app, Cli& c) {
  app->add_option("--confidence-weight", c.run.staple.confidence_weight,
                  "STAPLE: the prior is the mean vote times this weight")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app->add_option("--max-iterations", c.run.staple.max_iterations,
                  "STAPLE: stop after this many EM rounds (0: at convergence)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app->add_option("--threshold", c.run.threshold,
                  "STAPLE: a voxel is in the consensus when its posterior is >= this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
}

// --device-memory-limit: a positive number of bytes, with an optional K, M or G (binary).
int64_t parse_bytes(const std::string& text, const std::string& option, bool zero_ok = false) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  int shift = -1;
  if (unit.empty()) shift = 0;
  if (unit == "K" || unit == "k") shift = 10;
  if (unit == "M" || unit == "m") shift = 20;
  if (unit == "G" || unit == "g") shift = 30;
  const auto bad = [&] {
    return UsageError(option + ": '" + text +
                      "' is not a size in bytes (e.g. 4000000000, 512M, 8G)");
  };
  if (digits == 0 || digits > 15 || shift < 0) throw bad();
  const int64_t n = std::stoll(text.substr(0, digits));
  if (n < (zero_ok ? 0 : 1) || n > (int64_t{1} << (62 - shift))) throw bad();
  return n << shift;
}

std::vector<Label> parse_label_list(const std::string& text) {
  std::vector<Label> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long v = -1;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
    }
    if (used != item.size() || v < 0 || v > kMaxLabel)
      throw UsageError("--paint-order: '" + item + "' is not a label (0..65535)");
    out.push_back(static_cast<Label>(v));
  }
  return out;
}

}  // namespace

// --prediction is a glob inside case folders with --cases, else folders of predictions.
Dataset load_dataset(const Cli& c) {
  const int given = !c.cases.empty() + !c.rater_dirs.empty() + !c.manifest.empty();
  if (given > 1)
    throw UsageError(
        "give one dataset: --cases DIR, --rater DIR (repeated), --manifest FILE, or "
        "for score --prediction DIR with --reference DIR");
  if (!c.file_ending.empty() && (given > 0 || c.predictions.empty()))
    throw UsageError(
        "--file-ending applies to --prediction DIR folders only (with --cases, "
        "the --raters and --prediction globs say the ending, e.g. '*.nii.gz')");
  if (!c.cases.empty()) {
    if (c.predictions.size() > 1)
      throw UsageError(
          "with --cases, give one --prediction GLOB; for several models, one glob "
          "that matches each model's file, e.g. --prediction 'models/*.png'");
    return dataset_from_case_folders(c.cases, c.raters, c.reference,
                                     c.predictions.empty() ? "" : c.predictions[0]);
  }
  if (!c.raters.empty()) throw UsageError("--raters applies to --cases only");
  if (!c.predictions.empty()) {
    if (given > 0)
      throw UsageError(
          "--prediction goes with --cases (a glob in each case folder) or stands "
          "alone as folders of predictions with --reference DIR; not with --rater "
          "or --manifest (a manifest says role=prediction)");
    if (c.against != "reference")
      throw UsageError("--against " + c.against +
                       " needs raters for a consensus; --prediction DIR folders are scored "
                       "against --reference DIR (use --cases or --manifest for raters)");
    return dataset_from_prediction_folders(c.predictions, c.reference, c.file_ending);
  }
  if (!c.rater_dirs.empty()) return dataset_from_rater_folders(c.rater_dirs, c.reference);
  if (!c.reference.empty()) throw UsageError("--reference does not apply to --manifest (use role)");
  return dataset_from_manifest(c.manifest);
}

namespace {

// --labels, --region, --ignore-label into the run's label set.
void set_label_options(const Cli& c, RunOptions& o) {
  if (!c.labels_file.empty()) o.labels.merge(read_label_file(c.labels_file));
  for (const std::string& r : c.regions) o.labels.add_region(parse_region(r));
  if (c.ignore_label >= 0) o.labels.ignore = static_cast<Label>(c.ignore_label);
}

}  // namespace

void set_options(Cli& c, Command command) {
  RunOptions& o = c.run;
  set_label_options(c, o);
  o.command = command;
  o.foreground = ForegroundRule::parse(c.foreground);
  o.max_label = static_cast<Label>(c.max_label);
  o.empty = c.empty == "1" ? EmptyPolicy::kOne
                           : (c.empty == "0" ? EmptyPolicy::kZero : EmptyPolicy::kNaN);
  o.write_maps = !c.no_maps;
  o.backend =
      c.backend == "cpu" ? Backend::kCpu : (c.backend == "cuda" ? Backend::kCuda : Backend::kAuto);
  o.tie = c.tie == "lowest" ? TiePolicy::kLowest : TiePolicy::kUndecided;
  o.undecided_label = c.undecided;
  if (!c.paint_order.empty()) o.paint_order = parse_label_list(c.paint_order);
  if (!c.device_memory_limit.empty())
    o.device_memory_limit = parse_bytes(c.device_memory_limit, "--device-memory-limit");
  o.progress = c.quiet                      ? RunOptions::Progress::kOff
               : isatty(STDERR_FILENO) != 0 ? RunOptions::Progress::kBar
                                            : RunOptions::Progress::kLines;
  if (!o.overlay_image.empty()) o.overlay = true;
  if (o.overlay && !overlay_supported())
    throw UsageError("--overlay needs OpenCV, and this maskeval was built without it");
  o.method = c.method == "staple"     ? FuseMethod::kStaple
             : c.method == "mlstaple" ? FuseMethod::kMlStaple
                                      : FuseMethod::kMajority;
  o.against = c.against == "majority" ? ScoreAgainst::kMajority
              : c.against == "staple" ? ScoreAgainst::kStaple
                                      : ScoreAgainst::kReference;
  o.mlstaple.max_iterations = o.staple.max_iterations;
  apply_distance_options(c, o);
}

// --gates FILE, then each --fail-if (named by its text); checked before any case is read.
std::vector<Gate> parse_gates(const Cli& c) {
  const GateContext ctx{c.run.command, &c.run.labels, !c.baseline.empty()};
  std::vector<Gate> gates;
  if (!c.gates_file.empty()) gates = read_gate_file(c.gates_file, ctx);
  for (const std::string& e : c.fail_if) gates.push_back(parse_gate(e, e, ctx));
  return gates;
}

int64_t report_memory(const Cli& c) {
  return parse_bytes(c.report_memory, "--report-memory", true);
}

const char* command_name(Command command) {
  return command == Command::kFuse ? "fuse" : (command == Command::kScore ? "score" : "agree");
}

namespace {

// The command line as a shell would take it back: words quoted where they need it.
std::string shell_words(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    const std::string w = argv[i];
    const bool plain = !w.empty() && w.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                         "OPQRSTUVWXYZ0123456789-_./=:,+@%") == std::string::npos;
    std::string q = "'";
    for (const char ch : w) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    out += (i ? " " : "") + (plain ? w : q + "'");
  }
  return out;
}

// Hints for a mistyped command or option, printed before CLI11's own message.
void print_typo_hints(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  if (argc < 2 || argv[1][0] == '-') return;
  const auto found = std::find(commands.begin(), commands.end(), std::string(argv[1]));
  if (found == commands.end()) {
    const std::string near = nearest_word(argv[1], commands);
    std::cerr << "maskeval: '" << argv[1] << "' is not a command (agree, fuse, score, diff)"
              << (near.empty() ? "" : "; did you mean '" + near + "'?") << "\n";
    return;
  }
  std::vector<std::string> names;
  std::vector<const CLI::App*> scopes{app.get_subcommand(argv[1])};  // and its option groups
  for (size_t i = 0; i < scopes.size(); ++i) {
    for (const CLI::Option* opt : scopes[i]->get_options())
      for (const std::string& n : opt->get_lnames()) names.push_back("--" + n);
    for (const CLI::App* group : scopes[i]->get_subcommands({})) scopes.push_back(group);
  }
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") continue;
    const std::string name = arg.substr(0, arg.find('='));
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    const std::string near = nearest_word(name, names);
    std::cerr << "maskeval: unknown option '" << name << "'"
              << (near.empty() ? "" : "; did you mean '" + near + "'?") << "\n";
  }
}

// The fuse subcommand and its options.
void add_fuse(CLI::App& app, Cli& c, Command& command) {
  auto* fuse = app.add_subcommand(
      "fuse",
      "Consensus masks: majority vote, STAPLE or multi-label STAPLE, with everything "
      "agree reports");
  add_common(fuse, c);
  fuse->add_option("--method", c.method,
                   "majority (label vote), staple (binary STAPLE per label, ITK's algorithm) or "
                   "mlstaple (multi-label STAPLE, ITK's algorithm)")
      ->check(CLI::IsMember({"majority", "staple", "mlstaple"}))
      ->capture_default_str();
  add_staple_options(fuse, c);
  fuse->add_option("--tie", c.tie,
                   "Ties at the top: undecided (ITK LabelVoting: the undecided label) or lowest "
                   "(MONAI VoteEnsemble: the lowest tied label wins)")
      ->check(CLI::IsMember({"undecided", "lowest"}))
      ->capture_default_str();
  fuse->add_option("--undecided-label", c.undecided,
                   "Label of tied voxels under --tie undecided (default: max label + 1)")
      ->check(CLI::Range(0, kMaxLabel));
  fuse->add_option("--paint-order", c.paint_order,
                   "For per-label manifests: order in which per-label consensus masks are "
                   "painted, later overwriting earlier (e.g. 1,3,2)");
  fuse->callback([&] { command = Command::kFuse; });
}

// The score subcommand and its options.
void add_score(CLI::App& app, Cli& c, Command& command) {
  auto* score = app.add_subcommand(
      "score",
      "Each rater or prediction against a reference: TP/FP/FN/TN, Dice, IoU, "
      "sensitivity, specificity, precision, volume similarity per label; a leaderboard");
  add_common(score, c, false);
  score
      ->add_option("--against", c.against,
                   "reference (the case's reference file), or the raters' consensus: majority "
                   "or staple, computed in the same run")
      ->check(CLI::IsMember({"reference", "majority", "staple"}))
      ->capture_default_str();
  // --prediction DIR is a dataset of its own; --prediction GLOB goes with --cases.
  CLI::App* dataset = score->get_option_group("dataset");
  dataset->description("Where the masks are (one of these; --prediction GLOB goes with --cases)");
  dataset->add_option(
      "--prediction", c.predictions,
      "[NAME=]DIR: a folder of one model's predictions (repeat it for several), scored "
      "against --reference DIR, files matched by their path inside each folder (the nnU-Net "
      "way); with --cases: GLOB of prediction files inside a case folder (scored, never part "
      "of a consensus), e.g. 'model/*.png'");
  dataset->require_option(1, 2);
  score
      ->add_option("--file-ending", c.file_ending,
                   "With --prediction DIR: take only files whose names end in EXT (e.g. "
                   ".nii.gz, .png), the case name being the rest (default: every mask file "
                   "type maskeval reads, without its extension)")
      ->type_name("EXT");
  score->add_option("--tie", c.tie, "For --against majority: undecided or lowest")
      ->check(CLI::IsMember({"undecided", "lowest"}))
      ->capture_default_str();
  add_staple_options(score, c);
  add_distance_options(score, c, true);
  score
      ->add_option("--nnunet-summary", c.nnunet_summary,
                   "Also write nnU-Net v2's summary.json (metric_per_case, mean, "
                   "foreground_mean) to FILE; with several raters or predictions, one file "
                   "each: FILE's stem + _NAME")
      ->type_name("FILE");
  score->callback([&] { command = Command::kScore; });
}

}  // namespace

void add_run_commands(CLI::App& app, Cli& c, Command& command) {
  auto* agree = app.add_subcommand(
      "agree",
      "Inter-annotator agreement: per label Dice/IoU/Cohen's kappa matrices, Fleiss' "
      "kappa, agreement and entropy maps, cases to adjudicate");
  add_common(agree, c);
  add_distance_options(agree, c, false);
  agree->callback([&] { command = Command::kAgree; });
  add_fuse(app, c, command);
  add_score(app, c, command);
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "maskeval: can your segmentation ground truth be trusted? Agreement between "
      "annotators, consensus masks, over whole datasets."};
  app.footer(kExitCodes);
  app.set_version_flag("--version", std::string("maskeval ") + MASKEVAL_VERSION);
  app.require_subcommand(1);
  Cli c;
  Command command = Command::kAgree;
  add_run_commands(app, c, command);
  DiffArgs diff_args;
  CLI::App* diff = add_diff_command(app, diff_args);
  MergeArgs merge_args;
  CLI::App* merge = add_merge_command(app, merge_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) print_typo_hints(app, argc, argv);
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  c.run.command_line = shell_words(argc, argv);
  c.words.assign(argv + 1, argv + argc);
  if (diff->parsed()) return execute_diff(diff_args, c.run.command_line);
  if (merge->parsed()) return execute_merge(merge_args, c.run.command_line);
  try {
    return execute(c, command);
  } catch (const UsageError& e) {
    std::cerr << "maskeval: " << e.what() << "\n(run maskeval " << command_name(command)
              << " --help for the options)\n";
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "maskeval: " << e.what() << "\n";
    return kExitUsage;
  } catch (const FatalError& e) {
    std::cerr << "maskeval: error: " << e.what() << "\n";
    return kExitFatal;
  } catch (const std::exception& e) {
    std::cerr << "maskeval: error: " << e.what() << "\n";
    return kExitFatal;
  }
}

}  // namespace maskeval
