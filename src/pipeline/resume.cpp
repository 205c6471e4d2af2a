// --resume: which recorded cases still stand (same listing, same input bytes) and what is left.
#include "pipeline/resume.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "pipeline/records.h"
#include "util/sha256.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Whether the file still has the size and SHA-256 it had when the case read it.
bool unchanged(const std::string& path, const FileDigest& d) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  const auto size = fs::file_size(path, ec);
  if (ec || static_cast<int64_t>(size) != d.bytes) return false;
  std::ifstream in(path, std::ios::binary);
  Sha256 h;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  return !in.bad() && h.size() == size && h.finish_hex() == d.sha256;
}

// The first field of the header that makes the records not this run's; "" when none does.
std::string header_difference(const Json& before, const Json& now) {
  for (const char* key : {"maskeval_version", "command", "shard"}) {
    const Json b = before.value(key, Json()), n = now.value(key, Json());
    if (b != n) return std::string("'") + key + "' was " + b.dump() + ", now " + n.dump();
  }
  Json ob = before.value("options", Json::object()), on = now.value("options", Json::object());
  ob.erase("distance_unit");  // from the cases' files, not an option
  on.erase("distance_unit");
  std::set<std::string> keys;
  for (const auto& kv : ob.items()) keys.insert(kv.key());
  for (const auto& kv : on.items()) keys.insert(kv.key());
  for (const std::string& k : keys) {
    const Json b = ob.value(k, Json()), n = on.value(k, Json());
    if (b != n) return "option '" + k + "' was " + b.dump() + ", now " + n.dump();
  }
  return "";
}

void clear_case_folder(const RunOptions& o, const CaseSpec& c) {
  std::error_code ec;
  fs::remove_all(fs::path(o.out_dir) / "cases" / c.out_folder, ec);
  if (ec) throw FatalError("--resume: cannot clear " + c.out_folder + ": " + ec.message());
}

}  // namespace

ResumePlan plan_resume(const std::string& path, const Json& header, const Dataset& data,
                       const RunOptions& o) {
  ResumePlan plan;
  std::map<std::string, const CaseSpec*> by_id;
  for (const CaseSpec& c : data.cases) by_id[c.id] = &c;
  std::set<std::string> kept_ids;
  try {
    const std::string diff = header_difference(read_records_header(path), header);
    if (!diff.empty())
      throw UsageError("--resume: " + path + " is of another run (" + diff +
                       "); run again without --resume");
    scan_records(path, o.labels, [&](Record& r, const LineSpan& at) {
      ++plan.recorded;
      if (r.failure) {
        ++plan.failed;
        return;
      }
      const auto it = by_id.find(r.result->id);
      bool keep = it != by_id.end() && !kept_ids.count(r.result->id) &&
                  case_spec_sha256(*it->second) == r.spec_sha256;
      for (const auto& [file, digest] : r.result->inputs) keep = keep && unchanged(file, digest);
      if (!keep) {
        ++plan.stale;
        return;
      }
      kept_ids.insert(r.result->id);
      plan.kept.push_back(at);
    });
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--resume: ") + e.what());
  }
  plan.remaining.per_label = data.per_label;
  plan.remaining.problems = data.problems;
  for (const CaseSpec& c : data.cases) {
    if (kept_ids.count(c.id)) continue;
    clear_case_folder(o, c);
    plan.remaining.cases.push_back(c);
  }
  return plan;
}

}  // namespace maskeval
