// agree, fuse and score: the listing, its shard, what --resume keeps, the run, its records, the
// end.
#include "cli/run_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/cli.h"
#include "pipeline/output_dir.h"
#include "pipeline/records.h"
#include "pipeline/resume.h"
#include "pipeline/shard.h"
#include "report/csv_progress.h"
#include "report/json_report.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --timings on stderr: where the run's time went, summed over cases.
void print_timings(const StageTimes& t) {
  char line[256];
  std::snprintf(line, sizeof line,
                "maskeval: timings (s, summed over cases): decode %.3f, count %.3f, derive %.3f, "
                "distances %.3f, write %.3f, report %.3f\n",
                t.decode, t.count, t.derive, t.distances, t.write, t.report);
  std::cerr << line;
}

// Each finished case to records.jsonl, then its rows to the partial tables.
class RunSink : public CaseSink {
 public:
  RunSink(RecordWriter& records, CsvProgress& tables) : records_(records), tables_(tables) {}
  void finished(const CaseSpec& spec, const CaseResult& result) override {
    records_.finished(spec, result);
    tables_.add(result);
  }
  void failed(const CaseSpec& spec, const FailedCase& failure, const StageTimes& t) override {
    records_.failed(spec, failure, t);
  }

 private:
  RecordWriter& records_;
  CsvProgress& tables_;
};

// The partial tables' rows of the cases --resume kept (already in records.jsonl).
void add_kept_rows(const std::string& records, const RunOptions& o, CsvProgress& tables) {
  try {
    scan_records(records, o.labels, [&](Record& r, const LineSpan&) {
      if (r.result) tables.add(*r.result);
    });
  } catch (const std::invalid_argument& e) {
    throw FatalError(std::string("cannot read back the kept records: ") + e.what());
  }
}

void write_report(const std::string& json_path, const RunResult& result, const Summary& summary,
                  const RunOptions& o) {
  try {
    const auto parent = std::filesystem::path(json_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    // File names need not be UTF-8: such bytes are replaced rather than fail the report.
    write_report_json(json_path, result, summary, o);
  } catch (const std::exception& e) {
    throw FatalError("cannot write the report " + json_path + ": " + e.what());
  }
}

// The first line of records.jsonl: what a resumed run or a merge checks the records against.
Json records_header(const Cli& c, const RunOptions& o, const Dataset& listing, const Shard& s) {
  std::error_code ec;
  Json h = {{"maskeval_records", 1},
            {"maskeval_version", MASKEVAL_VERSION},
            {"command", command_name(o.command)},
            {"command_line", o.command_line},
            {"argv", c.words},
            {"cwd", fs::current_path(ec).string()},
            {"out", o.out_dir},
            {"options", report_options_json(RunResult{}, o)},
            {"settings", run_settings_json(o)},
            {"dataset", {{"cases", listing.cases.size()}, {"sha256", dataset_sha256(listing)}}}};
  if (s.count > 0) h["shard"] = {{"index", s.index}, {"count", s.count}};
  Json problems = Json::array();
  for (const ListingProblem& p : listing.problems)
    problems.push_back({{"path", p.path}, {"reason", p.reason}});
  h["listing_problems"] = std::move(problems);
  return h;
}

// What the options ask that cannot be done before any case is read.
void check_run_options(const Cli& c, const Dataset& data, const std::vector<Gate>& gates) {
  const RunOptions& o = c.run;
  check_gates(gates, data);
  if (o.command == Command::kFuse && o.method == FuseMethod::kMlStaple && data.per_label)
    throw UsageError(
        "--method mlstaple needs label maps; this manifest gives one binary mask per "
        "label (use --method staple or majority)");
  if (!c.shard.empty() && (!gates.empty() || !c.baseline.empty()))
    throw UsageError(
        "--shard: gates and --baseline apply to the whole dataset; give them to maskeval "
        "merge, which combines the shards");
  if (!c.shard.empty() && !c.json.empty())
    throw UsageError("--shard: the report goes to OUT/report.json (no --json), for merge");
}

// What --resume leaves to do (the kept records' lines in `kept`), or nothing: every case runs,
// and the earlier run's outputs are set aside.
std::optional<Dataset> prepare_output(const Cli& c, const Dataset& data, const Json& header,
                                      std::vector<LineSpan>& kept) {
  const RunOptions& o = c.run;
  const std::string records = (fs::path(o.out_dir) / kRecordsName).string();
  std::error_code ec;
  if (c.resume && fs::is_regular_file(records, ec)) {
    ResumePlan plan = plan_resume(records, header, data, o);
    clear_resumed_outputs(o.out_dir, c.json.empty());
    std::cerr << "maskeval: --resume: " << plan.kept.size() << " of " << data.cases.size()
              << " cases kept from " << records << " (" << plan.stale << " changed or gone, "
              << plan.failed << " failed ones tried again"
              << (plan.damaged ? ", " + std::to_string(plan.damaged) + " damaged lines left out"
                               : std::string())
              << ")\n";
    kept = std::move(plan.kept);
    return std::move(plan.remaining);
  }
  if (c.resume && !c.quiet)
    std::cerr << "maskeval: --resume: " << records << " does not exist; running every case\n";
  set_aside_previous_outputs(o.out_dir, c.json.empty());
  return std::nullopt;
}

}  // namespace

std::string listing_problem_text(const ListingProblem& p) {
  return p.path + ": " + p.reason + " (not read)";
}

void read_back_records(const std::string& path, const RunOptions& o, int64_t memory,
                       const std::vector<ListingProblem>& problems, RunResult& result) {
  const auto store = std::make_shared<RecordStore>(o.labels);
  try {
    store->add_file(path);
  } catch (const std::invalid_argument& e) {
    throw FatalError(std::string("cannot read back the run's records: ") + e.what());
  }
  adopt_records(store, o, memory, problems, result);
}

void adopt_records(const std::shared_ptr<RecordStore>& store, const RunOptions& o, int64_t memory,
                   const std::vector<ListingProblem>& problems, RunResult& result) {
  store->sort();
  result.timings = store->timings();
  result.failed = std::move(store->failures());
  // A case's results take about 4 times its record's bytes in memory.
  if (store->case_bytes() <= static_cast<uint64_t>(memory) / 4) {
    result.cases.reserve(store->cases());
    for (size_t i = 0; i < store->cases(); ++i) result.cases.push_back(store->load(i));
  } else {
    result.cases.load_from(store->cases(), [store](size_t i) { return store->load(i); });
  }
  result.warnings = run_warnings(o, result);
  for (const ListingProblem& p : problems) result.warnings.push_back(listing_problem_text(p));
}

int finish_run(const RunEnd& e, RunResult& result) {
  const RunOptions& o = e.options;
  const auto start = std::chrono::steady_clock::now();
  Summary summary = summarize(result, e.cli.adjudicate, o.out_dir);
  if (e.baseline)
    summary.baseline = std::make_shared<BaselineComparison>(e.baseline->compare(result, summary));
  summary.gates = evaluate_gates(e.gates, result, summary, o, e.baseline.get());
  result.timings.report = seconds_since(start);
  write_report(e.json_path, result, summary, o);
  if (!e.gates.empty()) write_gates_csv(o.out_dir, summary.gates, o);
  if (summary.baseline) write_baseline_csv(o.out_dir, *summary.baseline, o);
  write_html_report(result, summary, o, e.data);
  write_csv_tables(o.out_dir, result, summary, o);
  CsvProgress::remove(o.out_dir);
  if (!e.cli.nnunet_summary.empty()) write_nnunet_summaries(e.cli.nnunet_summary, result, o);
  result.timings.report = seconds_since(start);

  std::vector<std::string> to_print;  // the run's own warnings (listing problems were printed)
  for (const std::string& w : result.warnings)
    if (std::none_of(e.problems.begin(), e.problems.end(),
                     [&](const ListingProblem& p) { return listing_problem_text(p) == w; }))
      to_print.push_back(w);
  try {
    drop_previous_outputs(o.out_dir);
  } catch (const FatalError& err) {
    to_print.push_back(std::string("the earlier run's outputs stay behind: ") + err.what());
  }
  const bool quiet = e.cli.quiet;
  if (!result.backend_note.empty() && !quiet)
    std::cerr << "maskeval: " << result.backend_note << "\n";
  for (const std::string& w : to_print) std::cerr << "maskeval: warning: " << w << "\n";
  if (o.timings) print_timings(result.timings);
  if (!quiet) print_summary(std::cout, result, summary, o, e.json_path);
  // The summary lists the failed cases; without it they go to stderr, once.
  if (quiet)
    for (const FailedCase& f : result.failed)
      std::cerr << "maskeval: case " << f.id
                << " skipped: " << (f.file.empty() ? "" : f.file + ": ") << f.reason << "\n";
  if (any_gate_failed(summary.gates)) return kExitGateFailed;  // wins over kExitFailedCases
  return result.failed.empty() && e.problems.empty() ? kExitOk : kExitFailedCases;
}

int execute(Cli& c, Command command) {
  set_options(c, command);
  // The report's worklist pictures, drawn by the workers while the cases are in memory.
  c.run.thumbnails =
      std::make_shared<ThumbnailKeeper>(std::min(c.adjudicate, HtmlOptions{}.max_thumbnails));
  const RunOptions& o = c.run;
  const Shard shard = c.shard.empty() ? Shard{} : parse_shard(c.shard);
  const int64_t memory = report_memory(c);
  const std::vector<Gate> gates = parse_gates(c);
  // Read before the output folder is touched: it may be the folder's own last report.
  const std::shared_ptr<const BaselineRun> baseline =
      c.baseline.empty() ? nullptr : BaselineRun::read(c.baseline, o);
  Dataset data = load_dataset(c);
  check_run_options(c, data, gates);
  leave_out_own_outputs(data, o.out_dir);
  assign_case_folders(data);
  const Json header = records_header(c, o, data, shard);
  RunResult result;
  if (shard.count > 0) {
    result.shard = ShardOf{shard.index, shard.count, data.cases.size(),
                           header["dataset"]["sha256"].get<std::string>()};
    take_shard(data, shard);
  }
  check_run(data, o);
  for (const ListingProblem& p : data.problems)
    std::cerr << "maskeval: warning: " << listing_problem_text(p) << "\n";

  const std::string json_path =
      c.json.empty() ? (fs::path(o.out_dir) / "report.json").string() : c.json;
  const std::string records = (fs::path(o.out_dir) / kRecordsName).string();
  const OutputLock lock(o.out_dir);
  std::vector<LineSpan> kept;
  const std::optional<Dataset> rest = prepare_output(c, data, header, kept);
  const bool resumed = rest.has_value();
  bool recorded = false;  // every case is in records.jsonl
  try {
    {
      RecordWriter writer(records, header, kept, o);
      CsvProgress tables(o.out_dir, o);
      if (!kept.empty()) add_kept_rows(records, o, tables);
      RunSink sink(writer, tables);
      const RunResult run = run_dataset(rest ? *rest : data, o, &sink);
      result.backend = run.backend;
      result.backend_note = run.backend_note;
      result.engine_note = run.engine_note;
      result.aborted = run.aborted;
      writer.end(run);
    }
    recorded = true;
    read_back_records(records, o, memory, data.problems, result);
    const RunEnd end{c, o, gates, baseline, &data, data.problems, json_path};
    return finish_run(end, result);
  } catch (const FatalError& e) {
    // Every case done: keep them (the earlier run's outputs stay set aside) for --resume.
    if (recorded)
      throw FatalError(std::string(e.what()) + "; every case is recorded in " + records +
                       ": once that is fixed, the same command with --resume writes the report "
                       "without running them again");
    if (!resumed) {
      CsvProgress::remove(o.out_dir);  // they went with the records of this run
      restore_previous_outputs(o.out_dir);
    }
    throw;
  } catch (...) {
    // The folder keeps describing the last whole run; a resumed one keeps what it recorded.
    if (!resumed) {
      CsvProgress::remove(o.out_dir);  // they went with the records of this run
      restore_previous_outputs(o.out_dir);
    }
    throw;
  }
}

}  // namespace maskeval
