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

// The recorded map paths name OUT as the run was given it: resuming needs the same.
void check_same_folder(const Json& before, const Json& now, const std::string& path) {
  const auto where = [](const Json& h) {
    std::error_code ec;
    return fs::weakly_canonical(fs::path(h.value("cwd", "")) / h.value("out", ""), ec).string() +
           "|" + h.value("out", "");
  };
  if (where(before) != where(now))
    throw UsageError("--resume: " + path + " was written with -o " + before.value("out", "") +
                     " from " + before.value("cwd", "") +
                     "; resume with the same -o from the same folder (the report names the "
                     "maps by that path)");
}

// The files a case wrote in its folder (not the folders in it: those are other cases', whose
// ids go on with '/').
void clear_case_folder(const RunOptions& o, const CaseSpec& c) {
  const fs::path dir = fs::path(o.out_dir) / "cases" / c.out_folder;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (!e.is_directory(ec)) fs::remove(e.path(), ec);
  if (ec) throw FatalError("--resume: cannot clear " + dir.string() + ": " + ec.message());
}

}  // namespace

ResumePlan plan_resume(const std::string& path, const Json& header, const Dataset& data,
                       const RunOptions& o) {
  ResumePlan plan;
  std::set<std::string> kept_ids;
  try {
    const Json before = read_records_header(path);
    const std::string diff = records_header_difference(before, header, {"shard"});
    if (!diff.empty())
      throw UsageError("--resume: " + path + " is of another run (" + diff +
                       ", the records against this run); run again without --resume");
    check_same_folder(before, header, path);
    const RecordFile f = scan_records(
        path, o.labels,
        [&](Record& r, const LineSpan& at) {
          ++plan.recorded;
          if (r.failure) {
            ++plan.failed;
            return;
          }
          const std::optional<size_t> i = data.cases.find(r.result->id);
          bool keep = i && !kept_ids.count(r.result->id) &&
                      case_spec_sha256(data.cases[*i]) == r.spec_sha256;
          for (const auto& [file, digest] : r.result->inputs)
            keep = keep && unchanged(file, digest);
          if (!keep) {
            ++plan.stale;
            return;
          }
          kept_ids.insert(r.result->id);
          plan.kept.push_back(at);
        },
        true);
    plan.damaged = f.damaged;
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
