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

// Every string of `j` (values and keys) through f.
template <typename F>
Json map_strings(const Json& j, const F& f) {
  if (j.is_string()) return f(j.get<std::string>());
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& v : j) out.push_back(map_strings(v, f));
    return out;
  }
  if (!j.is_object()) return j;
  Json out = Json::object();
  for (const auto& [key, v] : j.items()) out[f(key)] = map_strings(v, f);
  return out;
}

// Bytes as the Latin-1 characters of the same numbers, and back: how a record keeps names that
// are not UTF-8 (file names may be any bytes) without losing one.
std::string bytes_as_text(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string text_as_bytes(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c & 0xFE) == 0xC2 && i + 1 < s.size()) {
      out.push_back(static_cast<char>(((c & 0x1F) << 6) | (s[++i] & 0x3F)));
    } else {
      throw std::invalid_argument("a byte string that is not Latin-1 text");
    }
  }
  return out;
}

// The line of a record: as it is, or, when a string in it is not UTF-8, every string's bytes as
// Latin-1 text, flagged by "strings": "bytes".
std::string line_of(Json j) {
  try {
    return j.dump();
  } catch (const nlohmann::json::type_error&) {
    j = map_strings(j, bytes_as_text);
    j["strings"] = "bytes";
    return j.dump();
  }
}

Record record_from(const std::string& line, const LabelSet& ls) {
  Json j = Json::parse(line);
  if (j.value("strings", "") == "bytes") j = map_strings(j, text_as_bytes);
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
  const std::string text = line_of(j);  // every byte of the names counts
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

Json run_settings_json(const RunOptions& o) {
  return {{"max_label", o.max_label},
          {"max_voxels", o.read.max_voxels},
          {"allow_external_data", o.read.allow_external_data},
          {"write_maps", o.write_maps},
          {"overlay", o.overlay},
          {"overlay_image", o.overlay_image},
          {"strict", o.strict},
          {"timings", o.timings},
          {"tie", o.tie == TiePolicy::kUndecided ? "undecided" : "lowest"},
          {"undecided_label", o.undecided_label},
          {"max_iterations", o.mlstaple.max_iterations},
          {"spacing", std::vector<double>(o.spacing.begin(), o.spacing.end())}};
}

namespace {

std::string shown(const Json& v) {
  const std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

// The first key of two objects whose values differ; "" when none.
std::string differing_key(const Json& a, const Json& b) {
  std::vector<std::string> keys;
  for (const auto& kv : a.items()) keys.push_back(kv.key());
  for (const auto& kv : b.items()) keys.push_back(kv.key());
  for (const std::string& k : keys)
    if (a.value(k, Json()) != b.value(k, Json())) return k;
  return "";
}

}  // namespace

std::string records_header_difference(const Json& a, const Json& b,
                                      const std::vector<std::string>& also) {
  std::vector<std::string> keys = {"maskeval_version", "command"};
  keys.insert(keys.end(), also.begin(), also.end());
  for (const std::string& k : keys)
    if (a.value(k, Json()) != b.value(k, Json()))
      return "'" + k + "' " + shown(a.value(k, Json())) + " against " + shown(b.value(k, Json()));
  for (const char* group : {"options", "settings"}) {
    Json ga = a.value(group, Json::object()), gb = b.value(group, Json::object());
    ga.erase("distance_unit");  // from the cases' files, not an option
    gb.erase("distance_unit");
    const std::string k = differing_key(ga, gb);
    if (!k.empty())
      return "option '" + k + "' " + shown(ga.value(k, Json())) + " against " +
             shown(gb.value(k, Json()));
  }
  return "";
}

std::string record_line(const CaseSpec& spec, const CaseResult& c, const RunOptions& o) {
  const ValueHint& v = c.values;
  const Json j = {{"case", case_json(c, o)},
                  {"spec", case_spec_sha256(spec)},
                  {"format", c.geom.format},
                  {"values", {v.files, v.zero_or_255, v.two_valued_255, v.mostly_255}},
                  {"timings", timings_json(c.timings)}};
  return line_of(j);
}

std::string failure_line(const CaseSpec& spec, const FailedCase& f, const StageTimes& t) {
  const Json j = {{"failed", {{"id", f.id}, {"file", f.file}, {"reason", f.reason}}},
                  {"spec", case_spec_sha256(spec)},
                  {"timings", timings_json(t)}};
  return line_of(j);
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
                        const std::function<void(Record&, const LineSpan&)>& each,
                        bool skip_damaged) {
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
      if (!skip_damaged)
        throw std::invalid_argument(where() + ": not a case record (" + e.what() + ")");
      ++out.damaged;
      continue;
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

RecordStore::~RecordStore() = default;

namespace {

// An id to compare: the string itself, or the id of the case at that place.
template <class Id>
std::string_view view_of(const std::string& s, const Id&) {
  return s;
}
template <class Id>
std::string_view view_of(uint32_t i, const Id& id) {
  return id(i);
}

}  // namespace

RecordFile RecordStore::add_file(const std::string& path, const std::string& from,
                                 const std::string& to) {
  const auto number = static_cast<uint32_t>(files_.size());
  files_.push_back(File{path, from, to});
  return scan_records(path, labels_, [&](Record& r, const LineSpan& at) {
    timings_ += r.timings;
    if (r.failure) {
      failed_.push_back(std::move(*r.failure));
      return;
    }
    if (at.length > UINT32_MAX) throw std::invalid_argument(path + ": a line over 4 GiB");
    cases_.push_back({at.offset, static_cast<uint32_t>(at.length), number});
    case_bytes_ += at.length;
    if (id_starts_.empty()) id_starts_.push_back(0);
    ids_ += r.result->id;
    id_starts_.push_back(ids_.size());
  });
}

void RecordStore::sort() {
  if (sorted_) return;
  if (cases_.size() > UINT32_MAX) throw std::invalid_argument("over 4 billion cases");
  auto id = [this](uint32_t i) {
    return std::string_view(ids_).substr(id_starts_[i], id_starts_[i + 1] - id_starts_[i]);
  };
  std::vector<uint32_t> order(cases_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return id(a) < id(b); });
  for (size_t k = 1; k < order.size(); ++k)
    if (id(order[k]) == id(order[k - 1]))
      throw std::invalid_argument("case " + std::string(id(order[k])) + " is recorded twice (in " +
                                  files_[cases_[order[k - 1]].file].path + " and " +
                                  files_[cases_[order[k]].file].path + ")");
  std::stable_sort(failed_.begin(), failed_.end(),
                   [](const FailedCase& a, const FailedCase& b) { return a.id < b.id; });
  for (size_t k = 0; k < failed_.size(); ++k) {
    const bool finished_too = std::binary_search(
        order.begin(), order.end(), failed_[k].id,
        [&](const auto& x, const auto& y) { return view_of(x, id) < view_of(y, id); });
    if ((k > 0 && failed_[k].id == failed_[k - 1].id) || finished_too)
      throw std::invalid_argument("case " + failed_[k].id + " is recorded twice");
  }
  std::vector<Entry> sorted;
  sorted.reserve(order.size());
  for (const uint32_t i : order) sorted.push_back(cases_[i]);
  cases_ = std::move(sorted);
  ids_ = {};
  id_starts_ = {};
  sorted_ = true;
}

CaseResult RecordStore::load(size_t i) const {
  const Entry& e = cases_.at(i);
  const File& f = files_[e.file];
  std::string line(e.length, '\0');
  const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  while (fd >= 0 && got < line.size()) {
    const ssize_t n =
        ::pread(fd, line.data() + got, line.size() - got, static_cast<off_t>(e.offset + got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (fd >= 0) ::close(fd);
  if (got < line.size())
    throw FatalError("cannot read back " + f.path + ": it is gone or changed during the run");
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
