// records.jsonl: a run's cases written one JSON line each as they finish, and read back.
#pragma once

#include <cstdio>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "maskeval/run.h"

namespace maskeval {

// The file's name in the output folder.
extern const char* const kRecordsName;

// The SHA-256 of what the listing says of a case (its id, folder, files by rater, prediction,
// reference and label, and a listing problem): a recorded case is reused only for the same.
std::string case_spec_sha256(const CaseSpec& spec);
// The SHA-256 of the whole listing (every case's case_spec_sha256, in order): shards of one
// dataset carry the same.
std::string dataset_sha256(const Dataset& data);

// One line of the file after the header: a case's results or its failure.
struct Record {
  std::string spec_sha256;            // case_spec_sha256 of the case when it ran
  std::optional<CaseResult> result;   // a finished case ...
  std::optional<FailedCase> failure;  // ... or one that failed
  StageTimes timings;
  std::string line;  // the line as written (without its newline)
};

// The line of a finished case: report.json's case object, plus what the reports need that it
// does not hold (the file format, the value hint, the stage times).
std::string record_line(const CaseSpec& spec, const CaseResult& c, const RunOptions& o);
std::string failure_line(const CaseSpec& spec, const FailedCase& f, const StageTimes& t);

// What a run's results depend on beyond report.json's "options": the header's "settings".
nlohmann::ordered_json run_settings_json(const RunOptions& options);

// The first field in which the runs of two headers differ, as a phrase ("" when none): the
// version, the command, the options and settings, and each of `also` ("shard", "dataset").
std::string records_header_difference(const nlohmann::ordered_json& a,
                                      const nlohmann::ordered_json& b,
                                      const std::vector<std::string>& also);

// The header line (the first): {"maskeval_records": 1, "maskeval_version", "command", "options",
// "argv", "cwd", "dataset": {"cases", "sha256"}, "shard", "listing_problems"}.
nlohmann::ordered_json read_records_header(const std::string& path);

struct RecordFile {
  std::vector<Record> records;  // in the order written (read_records only)
  bool complete = false;        // the run got to its end ({"end": ...}, the last line)
  nlohmann::ordered_json end;   // that line's object: backend, backend_note, engine_note
  size_t damaged = 0;           // lines that are not records, left out (scan_records' skip)
};

// Where a line is in its file (without its newline).
struct LineSpan {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Each line after the header in turn, parsed, with where it is; the records are not kept. A
// last line cut short (a run killed while writing it) is left out; any other line that is not
// a record throws std::invalid_argument naming the file and the line, or with `skip_damaged`
// is counted in `damaged` and left out.
RecordFile scan_records(const std::string& path, const LabelSet& labels,
                        const std::function<void(Record&, const LineSpan&)>& each,
                        bool skip_damaged = false);
// Every record of the file, kept (small files: the tests).
RecordFile read_records(const std::string& path, const LabelSet& labels);

// Every case a run (or each shard of one) recorded, as where its line is, read back and parsed
// each time the case is reached: what stays in memory is 16 bytes a case and the failures.
class RecordStore {
 public:
  explicit RecordStore(const LabelSet& labels);
  ~RecordStore();
  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;

  // Adds the file's records; map paths under `from` (a shard's OUT/cases/) are read as under
  // `to`. Returns what its last line said (complete, end). Throws std::invalid_argument as
  // read_records does.
  RecordFile add_file(const std::string& path, const std::string& from = "",
                      const std::string& to = "");
  // Sorts the cases and failures by id (the listing's order) once every file is added; throws
  // std::invalid_argument naming a case recorded twice.
  void sort();

  size_t cases() const { return cases_.size(); }
  uint64_t case_bytes() const { return case_bytes_; }  // of the finished cases' lines
  CaseResult load(size_t i) const;                     // thread-safe
  std::vector<FailedCase>& failures() { return failed_; }
  const StageTimes& timings() const { return timings_; }

 private:
  struct Entry {
    uint64_t offset = 0;
    uint32_t length = 0, file = 0;
  };
  struct File {
    std::string path, from, to;  // opened for each load: shards may outnumber descriptors
  };
  LabelSet labels_;
  std::vector<File> files_;
  std::vector<Entry> cases_;
  std::string ids_;                  // of cases_, one after another, until sort()
  std::vector<uint64_t> id_starts_;  // where each begins in ids_, and the end
  std::vector<FailedCase> failed_;
  StageTimes timings_;
  uint64_t case_bytes_ = 0;
  bool sorted_ = false;
};

// Map paths written under `from` (a shard's OUT/cases/), as they are under `to`.
void relocate_case(CaseResult& c, const std::string& from, const std::string& to);

// Writes the header and the `kept` lines of the file already at `path` (--resume) under a
// temporary name, renames it to `path`, then appends each case as it finishes, flushed at once,
// so that a run killed at any point keeps every case it finished. Thread-safe. Throws
// FatalError naming the file when it cannot be written.
class RecordWriter : public CaseSink {
 public:
  RecordWriter(const std::string& path, const nlohmann::ordered_json& header,
               const std::vector<LineSpan>& kept, const RunOptions& options);
  ~RecordWriter() override;
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  void finished(const CaseSpec& spec, const CaseResult& result) override;
  void failed(const CaseSpec& spec, const FailedCase& failure, const StageTimes& t) override;
  // The last line: every case of the run is in the file, and what engine ran them. Closes it.
  void end(const RunResult& run);

 private:
  void append(const std::string& line);
  std::string path_;
  const RunOptions& options_;
  std::FILE* file_ = nullptr;
  std::mutex mutex_;
};

}  // namespace maskeval
