// maskeval merge: every shard of one run checked, combined, and finished as that run would be.
#include "cli/merge_command.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "cli/cli.h"
#include "cli/run_command.h"
#include "pipeline/output_dir.h"
#include "pipeline/records.h"
#include "report/json_report.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct ShardDir {
  std::string dir, records;
  Json header;
  int index = 0;
};

std::string shard_name(int index, int count) {
  return "shard " + std::to_string(index) + "/" + std::to_string(count);
}

// Every folder's header, checked to be one shard each of the same run, sorted by index.
std::vector<ShardDir> read_shards(const std::vector<std::string>& dirs) {
  std::vector<ShardDir> shards;
  for (const std::string& d : dirs) {
    ShardDir s{d, (fs::path(d) / kRecordsName).string(), Json(), 0};
    std::error_code ec;
    if (!fs::is_regular_file(s.records, ec))
      throw UsageError("merge: " + d + " holds no " + kRecordsName + " (not a shard's output)");
    s.header = read_records_header(s.records);
    if (!s.header.contains("shard"))
      throw UsageError("merge: " + d + " is not a shard (its run had no --shard)");
    s.index = s.header["shard"].at("index").get<int>();
    const std::string diff =
        shards.empty() ? "" : records_header_difference(shards[0].header, s.header, {"dataset"});
    if (!diff.empty())
      throw UsageError("merge: " + d + " is not a shard of the same run as " + shards[0].dir +
                       " (" + diff + ")");
    if (!shards.empty() &&
        s.header["shard"].value("count", 0) != shards[0].header["shard"].value("count", 0))
      throw UsageError("merge: " + d + " is a shard of another split than " + shards[0].dir +
                       " (I/N with another N)");
    shards.push_back(std::move(s));
  }
  const int count = shards[0].header["shard"]["count"].get<int>();
  std::map<int, const ShardDir*> by_index;
  for (const ShardDir& s : shards) {
    const auto [it, fresh] = by_index.emplace(s.index, &s);
    if (!fresh)
      throw UsageError("merge: " + shard_name(s.index, count) +
                       " is given twice: " + it->second->dir + " and " + s.dir);
  }
  for (int k = 0; k < count; ++k)
    if (!by_index.count(k))
      throw UsageError("merge: " + shard_name(k, count) + " is missing (" +
                       std::to_string(shards.size()) + " of " + std::to_string(count) + " given)");
  std::sort(shards.begin(), shards.end(),
            [](const ShardDir& a, const ShardDir& b) { return a.index < b.index; });
  return shards;
}

// The run's options rebuilt from the shard's command line (relative paths from its folder),
// checked against those it recorded.
void rebuild_options(const Json& header, Cli& c, Command& command) {
  CLI::App app;
  add_run_commands(app, c, command);
  std::vector<std::string> words = header.at("argv").get<std::vector<std::string>>();
  std::reverse(words.begin(), words.end());
  try {
    app.parse(words);
  } catch (const CLI::ParseError& e) {
    throw UsageError(std::string("merge: the shards' command line does not parse: ") + e.what());
  }
  const fs::path here = fs::current_path();
  std::error_code ec;
  fs::current_path(header.value("cwd", here.string()), ec);
  if (ec) throw UsageError("merge: cannot enter the shards' folder " + header.value("cwd", ""));
  try {
    set_options(c, command);
  } catch (...) {
    fs::current_path(here);
    throw;
  }
  fs::current_path(here);
  if (report_options_json(RunResult{}, c.run) != header.at("options"))
    throw UsageError(
        "merge: the shards' options cannot be rebuilt as they were (a --labels file changed "
        "since?)");
  if (run_settings_json(c.run) != header.at("settings"))
    throw UsageError("merge: the shards' settings cannot be rebuilt as they were");
}

// The shard's case folders into OUT/cases: hard links where the file system allows, else copies.
void bring_case_folders(const std::string& shard_dir, const std::string& out_dir) {
  const fs::path from = fs::path(shard_dir) / "cases", to = fs::path(out_dir) / "cases";
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return;
  for (const fs::directory_entry& e : fs::directory_iterator(from)) {
    if (e.path().filename().string().rfind(".maskeval", 0) == 0) continue;
    const auto opts = fs::copy_options::recursive | fs::copy_options::overwrite_existing;
    fs::copy(e.path(), to / e.path().filename(), opts | fs::copy_options::create_hard_links, ec);
    if (ec) fs::copy(e.path(), to / e.path().filename(), opts, ec);
    if (ec) throw FatalError("merge: cannot copy " + e.path().string() + ": " + ec.message());
  }
}

// Every shard's records into one store, map paths moved to OUT; backend and notes from the
// shards' last lines.
std::shared_ptr<RecordStore> gather(const std::vector<ShardDir>& shards, const RunOptions& o,
                                    RunResult& result) {
  const auto store = std::make_shared<RecordStore>(o.labels);
  std::set<std::string> backends;
  for (const ShardDir& s : shards) {
    const std::string from = (fs::path(s.header.value("out", "")) / "cases").string() + "/";
    const std::string to = (fs::path(o.out_dir) / "cases").string() + "/";
    const RecordFile f = store->add_file(s.records, from, to);
    if (!f.complete)
      throw UsageError("merge: " + shard_name(s.index, static_cast<int>(shards.size())) + " (" +
                       s.dir + ") did not finish; run it again with --resume");
    bring_case_folders(s.dir, o.out_dir);
    backends.insert(f.end.value("backend", ""));
    if (result.backend_note.empty()) result.backend_note = f.end.value("backend_note", "");
    const std::string note = f.end.value("engine_note", "");
    if (!note.empty() && result.engine_note.find(note) == std::string::npos)
      result.engine_note += (result.engine_note.empty() ? "" : "; ") + note;
    if (f.end.value("aborted", false))
      throw UsageError("merge: " + s.dir +
                       " stopped at its first failed case (--strict); "
                       "run it again without --strict to merge it");
    result.merged_from.push_back(s.dir);
  }
  for (const std::string& b : backends) result.backend += (result.backend.empty() ? "" : "+") + b;
  store->sort();  // a case in two shards is refused here
  const size_t listed = shards[0].header.at("dataset").value("cases", size_t{0});
  const size_t recorded = store->cases() + store->failures().size();
  if (recorded != listed)
    throw UsageError("merge: the shards hold " + std::to_string(recorded) + " of the dataset's " +
                     std::to_string(listed) +
                     " cases (did a file's size change between the shards' runs? the shares "
                     "follow the files' sizes: run the shards again)");
  return store;
}

std::vector<ListingProblem> listing_problems(const Json& header) {
  std::vector<ListingProblem> out;
  for (const Json& p : header.value("listing_problems", Json::array()))
    out.push_back({p.at("path").get<std::string>(), p.at("reason").get<std::string>()});
  return out;
}

}  // namespace

CLI::App* add_merge_command(CLI::App& app, MergeArgs& a) {
  CLI::App* m = app.add_subcommand(
      "merge",
      "Combine the output folders of every --shard I/N of one run into one report, as the run "
      "unsharded would have written it; gates and --baseline apply to the whole");
  m->add_option("dirs", a.dirs, "The shards' output folders (each shard exactly once)")->required();
  m->add_option("-o,--out", a.out, "Output folder")->capture_default_str();
  m->add_option("--json", a.json, "Report path (default: OUT/report.json)");
  m->add_option("--fail-if", a.fail_if, "Quality gate, repeatable (as for agree, fuse, score)")
      ->type_name("EXPR");
  m->add_option("--gates", a.gates_file, "Quality gates from a file")->type_name("FILE");
  m->add_option("--baseline", a.baseline, "An earlier run's report.json of the same dataset")
      ->type_name("FILE");
  m->add_option("--nnunet-summary", a.nnunet_summary, "score: nnU-Net v2's summary.json too")
      ->type_name("FILE");
  m->add_option("--report-memory", a.report_memory,
                "Memory for the cases' results while the report is made (as for a run)")
      ->type_name("BYTES");
  m->add_flag("-q,--quiet", a.quiet, "No summary table");
  return m;
}

int execute_merge(const MergeArgs& a, const std::string& command_line) {
  try {
    const std::vector<ShardDir> shards = read_shards(a.dirs);
    Cli c;
    Command command = Command::kAgree;
    rebuild_options(shards[0].header, c, command);
    c.run.out_dir = a.out;
    c.run.command_line = command_line;
    c.json = a.json;
    c.quiet = a.quiet;
    c.fail_if = a.fail_if;
    c.gates_file = a.gates_file;
    c.baseline = a.baseline;
    c.nnunet_summary = a.nnunet_summary;
    if (!a.report_memory.empty()) c.report_memory = a.report_memory;
    c.run.progress = RunOptions::Progress::kOff;
    const RunOptions& o = c.run;
    const int64_t memory = report_memory(c);
    const std::vector<Gate> gates = parse_gates(c);
    const std::shared_ptr<const BaselineRun> baseline =
        c.baseline.empty() ? nullptr : BaselineRun::read(c.baseline, o);
    const std::vector<ListingProblem> problems = listing_problems(shards[0].header);
    for (const ListingProblem& p : problems)
      std::cerr << "maskeval: warning: " << listing_problem_text(p) << "\n";
    const std::string json_path =
        c.json.empty() ? (fs::path(o.out_dir) / "report.json").string() : c.json;
    std::vector<std::unique_ptr<OutputLock>> locks;  // no shard rerun while it is read
    for (const ShardDir& s : shards) {
      std::error_code ec;
      if (fs::equivalent(s.dir, o.out_dir, ec))
        throw UsageError("merge: the output folder " + o.out_dir + " is one of the shards");
      locks.push_back(std::make_unique<OutputLock>(s.dir));
    }
    const OutputLock lock(o.out_dir);
    set_aside_previous_outputs(o.out_dir, c.json.empty());
    try {
      RunResult result;
      adopt_records(gather(shards, o, result), o, memory, problems, result);
      const RunEnd end{c, o, gates, baseline, nullptr, problems, json_path};
      return finish_run(end, result);
    } catch (...) {
      restore_previous_outputs(o.out_dir);
      throw;
    }
  } catch (const UsageError& e) {
    std::cerr << "maskeval: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "maskeval: merge: " << e.what() << "\n";
    return kExitUsage;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "maskeval: merge: a shard's records header is damaged: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "maskeval: error: " << e.what() << "\n";
    return kExitFatal;
  }
}

}  // namespace maskeval
