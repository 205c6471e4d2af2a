// The output folder of a run: its lock, the case folders under it, the earlier run's outputs.
#include "pipeline/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "maskeval/run.h"
#include "pipeline/records.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxComponent = 200;  // bytes; file systems allow 255
const char* const kLockName = ".maskeval.lock";
const char* const kPreviousName = ".maskeval-previous";
const char* const kCasesMarker = ".maskeval-cases";

std::string clean_component(const std::string& part) {
  std::string out;
  for (const char ch : part) {
    const auto u = static_cast<unsigned char>(ch);
    out.push_back(u < 0x20 || u == 0x7f || ch == '\\' ? '_' : ch);
  }
  if (out.size() > kMaxComponent) {
    size_t cut = kMaxComponent;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
    out.resize(cut);
  }
  return out;
}

std::string read_small_file(const fs::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string text(limit, '\0');
  in.read(text.data(), static_cast<std::streamsize>(limit));
  text.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  return text;
}

// A report.json that maskeval wrote: its first field names the version.
bool is_maskeval_report(const fs::path& path) {
  return read_small_file(path, 64).find("\"maskeval_version\"") != std::string::npos;
}

// A table maskeval wrote: report.html names maskeval in its title, each CSV opens with its
// header (case or label first, or rank then case as in worklist.csv; label_name among the
// columns).
bool is_maskeval_table(const fs::path& path) {
  const std::string head = read_small_file(path, 4096);
  if (path.filename() == "report.html") return head.find("<title>maskeval ") != std::string::npos;
  if (path.filename() == "gates.csv") return head.rfind("gate,expression,verdict,", 0) == 0;
  if (path.filename() == "records.jsonl") return head.rfind("{\"maskeval_records\":", 0) == 0;
  if (path.filename() == "baseline.csv")
    return head.rfind("scope,item,label,label_name,figure,before,now,delta", 0) == 0;
  const std::string line = head.substr(0, head.find('\n'));
  return (line.rfind("case,", 0) == 0 || line.rfind("label,", 0) == 0 ||
          line.rfind("rank,case,", 0) == 0) &&
         line.find(",label_name,") != std::string::npos;
}

void rename_or_fail(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec)
    throw FatalError("cannot move " + from.string() + " to " + to.string() + ": " + ec.message());
}

void remove_or_fail(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) throw FatalError("cannot remove " + path.string() + ": " + ec.message());
}

}  // namespace

std::string case_folder(const std::string& id) {
  std::string out;
  size_t begin = 0;
  while (begin <= id.size()) {
    size_t end = id.find('/', begin);
    if (end == std::string::npos) end = id.size();
    const std::string part = id.substr(begin, end - begin);
    if (!part.empty() && part != "." && part != "..")
      out += (out.empty() ? "" : "/") + clean_component(part);
    begin = end + 1;
  }
  return out.empty() ? "_" : out;
}

std::vector<std::string> case_folders(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  std::set<std::string> taken;
  for (const std::string& id : ids) {
    const std::string base = case_folder(id);
    std::string name = base;
    for (int n = 2; !taken.insert(name).second; ++n) name = base + "~" + std::to_string(n);
    out.push_back(name);
  }
  return out;
}

OutputLock::OutputLock(const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw FatalError("cannot create output folder " + out_dir + ": " + ec.message());
  const fs::path path = fs::path(out_dir) / kLockName;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0)
    throw FatalError("cannot create the lock file " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) {
      ::close(fd_);
      throw FatalError("cannot lock " + path.string() + ": " + std::strerror(err));
    }
    const std::string holder = read_small_file(path, 200);
    ::close(fd_);
    fd_ = -1;
    throw FatalError("output folder " + out_dir + " is in use by another maskeval run (" +
                     (holder.empty() ? std::string("holder unknown") : holder) +
                     "); wait for it or choose another -o");
  }
  char when[32] = "";
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  const std::string holder = "pid " + std::to_string(::getpid()) + ", started " + when;
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, holder.data(), holder.size(), 0) < 0) {
    // The lock holds without the note; only the message to a second run is poorer.
  }
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

namespace {

// The files maskeval writes in OUT beside report.json and cases/.
const char* const kTables[] = {"report.html", "cases.csv",    "pairs.csv",    "summary.csv",
                               "gates.csv",   "worklist.csv", "baseline.csv", "records.jsonl"};

// What of maskeval's own outputs OUT holds.
struct OwnOutputs {
  fs::path out, report, cases, previous;
  bool report_ours = false, report_foreign = false, cases_exist = false, cases_ours = false;

  explicit OwnOutputs(const std::string& out_dir)
      : out(out_dir),
        report(out / "report.json"),
        cases(out / "cases"),
        previous(out / kPreviousName) {
    std::error_code ec;
    const bool report_exists = fs::exists(fs::symlink_status(report, ec));
    report_ours = report_exists && fs::is_regular_file(fs::symlink_status(report, ec)) &&
                  is_maskeval_report(report);
    report_foreign = report_exists && !report_ours;
    const fs::file_status st = fs::symlink_status(cases, ec);
    cases_exist = fs::exists(st);
    // Ours: a real folder with the marker, or beside a maskeval report (outputs of versions
    // that wrote no marker).
    cases_ours = fs::is_directory(st) &&
                 (fs::is_regular_file(fs::symlink_status(cases / kCasesMarker, ec)) || report_ours);
  }
};

}  // namespace

// maskeval's tables found in OUT; FatalError for one of their names that maskeval did not write.
std::vector<const char*> own_tables(const OwnOutputs& own, bool report_in_out) {
  if (own.report_foreign && report_in_out)
    throw FatalError(own.report.string() +
                     " was not written by maskeval; choose another output folder (-o) or --json");
  if (own.cases_exist && !own.cases_ours)
    throw FatalError(own.cases.string() +
                     " was not written by maskeval; choose another output folder (-o)");
  std::error_code st;
  std::vector<const char*> tables;
  for (const char* t : kTables) {
    if (!fs::exists(fs::symlink_status(own.out / t, st))) continue;
    if (!fs::is_regular_file(fs::symlink_status(own.out / t, st)) ||
        !is_maskeval_table(own.out / t))
      throw FatalError((own.out / t).string() +
                       " was not written by maskeval; choose another output folder (-o)");
    tables.push_back(t);
  }
  return tables;
}

void set_aside_previous_outputs(const std::string& out_dir, bool report_in_out) {
  const OwnOutputs own(out_dir);
  std::vector<const char*> tables = own_tables(own, report_in_out);
  // The records of a run killed before its report: dropped, never put aside over the outputs
  // of the last whole run (which .maskeval-previous may still hold).
  if (!own.report_ours) {
    const auto it = std::find(tables.begin(), tables.end(), std::string(kRecordsName));
    if (it != tables.end()) {
      remove_or_fail(own.out / kRecordsName);
      tables.erase(it);
    }
  }
  const bool move_report = own.report_ours && report_in_out;
  if (move_report || !tables.empty()) {
    remove_or_fail(own.previous);
    std::error_code ec;
    fs::create_directory(own.previous, ec);
    if (ec) throw FatalError("cannot create " + own.previous.string() + ": " + ec.message());
  }
  for (const char* t : tables) rename_or_fail(own.out / t, own.previous / t);
  if (move_report) {
    rename_or_fail(own.report, own.previous / "report.json");
    if (own.cases_exist) rename_or_fail(own.cases, own.previous / "cases");
  } else if (own.cases_exist) {
    remove_or_fail(own.cases);  // a run killed before it wrote its report, or a --json run
  }
  std::error_code ec;
  fs::create_directories(own.cases, ec);
  if (ec) throw FatalError("cannot create " + own.cases.string() + ": " + ec.message());
  std::ofstream(own.cases / kCasesMarker) << "written by maskeval; replaced by its next run here\n";
}

void clear_resumed_outputs(const std::string& out_dir, bool report_in_out) {
  const OwnOutputs own(out_dir);
  for (const char* t : own_tables(own, report_in_out))
    if (std::string(t) != kRecordsName) remove_or_fail(own.out / t);
  if (own.report_ours && report_in_out) remove_or_fail(own.report);
}

void restore_previous_outputs(const std::string& out_dir) {
  const OwnOutputs own(out_dir);
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(own.previous, ec))) return;
  if (own.cases_ours) remove_or_fail(own.cases);
  remove_or_fail(own.out / kRecordsName);  // of the run that could not go on
  if (fs::exists(own.previous / "cases", ec)) rename_or_fail(own.previous / "cases", own.cases);
  if (fs::exists(own.previous / "report.json", ec))
    rename_or_fail(own.previous / "report.json", own.report);
  for (const char* t : kTables) {
    if (!fs::exists(own.previous / t, ec)) continue;
    remove_or_fail(own.out / t);
    rename_or_fail(own.previous / t, own.out / t);
  }
  remove_or_fail(own.previous);
}

void drop_previous_outputs(const std::string& out_dir) {
  remove_or_fail(fs::path(out_dir) / kPreviousName);
}

void leave_out_own_outputs(Dataset& data, const std::string& out_dir) {
  std::error_code ec;
  const std::vector<fs::path> own = {fs::weakly_canonical(fs::path(out_dir) / "cases", ec),
                                     fs::weakly_canonical(fs::path(out_dir) / kPreviousName, ec)};
  auto inside = [&](const std::string& file) {
    std::error_code e;
    const std::string p = fs::weakly_canonical(file, e).string();
    for (const fs::path& o : own)
      if (p.rfind(o.string() + "/", 0) == 0) return true;
    return false;
  };
  std::vector<char> drop(data.cases.size(), 0);
  for (size_t i = 0; i < data.cases.size(); ++i) {
    const CaseSpec c = data.cases[i];
    size_t files = 0, ours = 0;
    for_each_file(c, [&](const std::string& f) {
      ++files;
      ours += inside(f) ? 1 : 0;
    });
    if (ours > 0 && ours < files)
      throw UsageError("case " + c.id + " reads files from the output folder's own outputs (" +
                       out_dir + "/cases), which this run replaces; choose another -o");
    drop[i] = ours > 0;  // cases of an earlier run's outputs are no input
  }
  data.cases.erase_if([&](size_t i) { return drop[i] != 0; });
}

}  // namespace maskeval
