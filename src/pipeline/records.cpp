// records.jsonl: each case's results appended as it finishes, flushed, and read back.
#include "pipeline/records.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>

#include "maskeval/image.h"
#include "report/case_record.h"
#include "report/streamed_file.h"
#include "util/sha256.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;

Json label_files_json(const LabelFiles& files) {
  Json j = Json::array();
  for (const auto& [label, paths] : files) j.push_back({label, paths});
  return j;
}

Json group_json(const std::map<std::string, LabelFiles>& group) {
  Json j = Json::array();
  for (const auto& [name, files] : group) j.push_back({name, label_files_json(files)});
  return j;
}

Json timings_json(const StageTimes& t) {
  return {t.decode, t.count, t.derive, t.distances, t.write, t.report};
}

StageTimes timings_from(const Json& j) {
  StageTimes t;
  if (!j.is_array() || j.size() != 6) throw std::invalid_argument("'timings': 6 numbers expected");
  t.decode = j[0].get<double>();
  t.count = j[1].get<double>();
  t.derive = j[2].get<double>();
  t.distances = j[3].get<double>();
  t.write = j[4].get<double>();
  t.report = j[5].get<double>();
  return t;
}

Record record_from(const std::string& line, const LabelSet& ls) {
  const Json j = Json::parse(line);
  Record r;
  r.spec_sha256 = j.at("spec").get<std::string>();
  r.timings = timings_from(j.at("timings"));
  if (j.contains("failed")) {
    const Json& f = j["failed"];
    r.failure =
        FailedCase{f.at("id").get<std::string>(), f.value("file", ""), f.value("reason", "")};
  } else {
    CaseResult c = case_from_json(j.at("case"), ls);
    c.geom.format = j.value("format", "");
    const std::vector<int> v = j.at("values").get<std::vector<int>>();
    if (v.size() != 4) throw std::invalid_argument("'values': 4 counts expected");
    c.values = {v[0], v[1], v[2], v[3]};
    c.timings = r.timings;
    r.result = std::move(c);
  }
  r.line = line;
  return r;
}

std::ifstream open_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(path + ": cannot be opened");
  return in;
}

}  // namespace

const char* const kRecordsName = "records.jsonl";

std::string case_spec_sha256(const CaseSpec& c) {
  const Json j = {{"id", c.id},
                  {"folder", c.folder},
                  {"out_folder", c.out_folder},
                  {"raters", group_json(c.raters)},
                  {"predictions", group_json(c.predictions)},
                  {"reference", label_files_json(c.reference)},
                  {"problem", c.problem},
                  {"problem_file", c.problem_file}};
  const std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return sha256_hex(text.data(), text.size());
}

std::string dataset_sha256(const Dataset& data) {
  Sha256 h;
  for (const CaseSpec& c : data.cases) {
    const std::string s = case_spec_sha256(c) + "\n";
    h.update(s.data(), s.size());
  }
  return h.finish_hex();
}

std::string record_line(const CaseSpec& spec, const CaseResult& c, const RunOptions& o) {
  const ValueHint& v = c.values;
  const Json j = {{"case", case_json(c, o)},
                  {"spec", case_spec_sha256(spec)},
                  {"format", c.geom.format},
                  {"values", {v.files, v.zero_or_255, v.two_valued_255, v.mostly_255}},
                  {"timings", timings_json(c.timings)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string failure_line(const CaseSpec& spec, const FailedCase& f, const StageTimes& t) {
  const Json j = {{"failed", {{"id", f.id}, {"file", f.file}, {"reason", f.reason}}},
                  {"spec", case_spec_sha256(spec)},
                  {"timings", timings_json(t)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json read_records_header(const std::string& path) {
  std::ifstream in = open_records(path);
  std::string line;
  std::getline(in, line);
  Json j;
  try {
    j = Json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(path + ": not a maskeval records file (line 1 is not JSON)");
  }
  if (!j.is_object() || !j.contains("maskeval_records"))
    throw std::invalid_argument(path + ": not a maskeval records file");
  return j;
}

RecordFile scan_records(const std::string& path, const LabelSet& ls,
                        const std::function<void(Record&, const LineSpan&)>& each) {
  std::ifstream in = open_records(path);
  std::string line;
  std::getline(in, line);  // the header
  uint64_t offset = line.size() + 1;
  RecordFile out;
  for (size_t number = 2; std::getline(in, line); ++number, offset += line.size() + 1) {
    if (in.eof()) break;  // no newline after it: cut short by a killed run
    if (line.empty()) continue;
    const auto where = [&] { return path + " line " + std::to_string(number); };
    if (line.rfind("{\"end\":", 0) == 0) {
      try {
        out.end = Json::parse(line).at("end");
      } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(where() + ": " + e.what());
      }
      out.complete = true;
      continue;
    }
    out.complete = false;  // records after an end line: a resumed run that has not ended
    Record r;
    try {
      r = record_from(line, ls);
    } catch (const std::exception& e) {
      throw std::invalid_argument(where() + ": not a case record (" + e.what() + ")");
    }
    each(r, LineSpan{offset, line.size()});
  }
  if (in.bad()) throw std::invalid_argument(path + ": cannot be read");
  return out;
}

RecordFile read_records(const std::string& path, const LabelSet& ls) {
  std::vector<Record> records;
  RecordFile out =
      scan_records(path, ls, [&](Record& r, const LineSpan&) { records.push_back(std::move(r)); });
  out.records = std::move(records);
  return out;
}

void relocate_case(CaseResult& c, const std::string& from, const std::string& to) {
  auto move = [&](std::string& path) {
    if (!from.empty() && path.rfind(from, 0) == 0) path = to + path.substr(from.size());
  };
  for (std::string* p : {&c.agreement_map, &c.entropy_map, &c.overlay}) move(*p);
  for (LabelResult& l : c.labels) {
    move(l.agreement_map);
    move(l.entropy_map);
  }
  if (c.majority) move(c.majority->mask);
  for (StapleLabel& st : c.staple) {
    move(st.mask);
    move(st.posterior);
  }
  if (c.mlstaple) move(c.mlstaple->mask);
}

RecordStore::RecordStore(const LabelSet& labels) : labels_(labels) {}

RecordStore::~RecordStore() {
  for (const File& f : files_)
    if (f.fd >= 0) ::close(f.fd);
}

RecordFile RecordStore::add_file(const std::string& path, const std::string& from,
                                 const std::string& to) {
  File file{::open(path.c_str(), O_RDONLY | O_CLOEXEC), path, from, to};
  if (file.fd < 0) throw std::invalid_argument(path + ": cannot be opened");
  const auto number = static_cast<uint32_t>(files_.size());
  files_.push_back(file);
  return scan_records(path, labels_, [&](Record& r, const LineSpan& at) {
    timings_ += r.timings;
    if (r.failure) {
      failed_.push_back(std::move(*r.failure));
      return;
    }
    if (at.length > UINT32_MAX) throw std::invalid_argument(path + ": a line over 4 GiB");
    cases_.push_back({at.offset, static_cast<uint32_t>(at.length), number});
    case_bytes_ += at.length;
    ids_.push_back(r.result->id);
  });
}

void RecordStore::sort() {
  std::vector<size_t> order(cases_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ids_[a] < ids_[b]; });
  std::vector<Entry> sorted;
  sorted.reserve(order.size());
  for (const size_t i : order) sorted.push_back(cases_[i]);
  cases_ = std::move(sorted);
  ids_ = {};
  std::stable_sort(failed_.begin(), failed_.end(),
                   [](const FailedCase& a, const FailedCase& b) { return a.id < b.id; });
}

CaseResult RecordStore::load(size_t i) const {
  const Entry& e = cases_.at(i);
  const File& f = files_[e.file];
  std::string line(e.length, '\0');
  size_t got = 0;
  while (got < line.size()) {
    const ssize_t n =
        ::pread(f.fd, line.data() + got, line.size() - got, static_cast<off_t>(e.offset + got));
    if (n <= 0) throw FatalError("cannot read back " + f.path + ": it changed during the run");
    got += static_cast<size_t>(n);
  }
  Record r;
  try {
    r = record_from(line, labels_);
  } catch (const std::exception& ex) {
    throw FatalError("cannot read back " + f.path + ": it changed during the run (" + ex.what() +
                     ")");
  }
  relocate_case(*r.result, f.from, f.to);
  return std::move(*r.result);
}

RecordWriter::RecordWriter(const std::string& path, const Json& header,
                           const std::vector<LineSpan>& kept, const RunOptions& options)
    : path_(path), options_(options) {
  StreamedFile out(path);  // FatalError naming the file
  out.put(header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (!kept.empty()) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    for (const LineSpan& span : kept) {
      line.resize(span.length);
      in.seekg(static_cast<std::streamoff>(span.offset));
      in.read(line.data(), static_cast<std::streamsize>(span.length));
      if (!in) throw FatalError("cannot read back " + path + " to keep its records");
      out.put(line + "\n");
    }
  }
  out.commit();
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_) throw FatalError("cannot write " + path + ": " + std::strerror(errno));
}

RecordWriter::~RecordWriter() {
  if (file_) std::fclose(file_);
}

void RecordWriter::append(const std::string& line) {
  const std::string text = line + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    throw FatalError("cannot write " + path_ + ": " + std::strerror(errno));
}

void RecordWriter::end(const RunResult& run) {
  const Json j = {{"end",
                   {{"backend", run.backend},
                    {"backend_note", run.backend_note},
                    {"engine_note", run.engine_note},
                    {"aborted", run.aborted}}}};
  append(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::fclose(file_);
  file_ = nullptr;
}

void RecordWriter::finished(const CaseSpec& spec, const CaseResult& result) {
  append(record_line(spec, result, options_));
}

void RecordWriter::failed(const CaseSpec& spec, const FailedCase& failure, const StageTimes& t) {
  append(failure_line(spec, failure, t));
}

}  // namespace maskeval
