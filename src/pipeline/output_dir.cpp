// The output folder of a run: its lock, the case folders under it, the earlier run's outputs.
#include "pipeline/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "maskeval/run.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxComponent = 200;  // bytes; file systems allow 255
const char* const kLockName = ".maskeval.lock";
const char* const kPreviousName = ".maskeval-previous";

std::string clean_component(const std::string& part) {
  std::string out;
  for (const char ch : part) {
    const auto u = static_cast<unsigned char>(ch);
    out.push_back(u < 0x20 || u == 0x7f || ch == '\\' ? '_' : ch);
  }
  if (out.size() > kMaxComponent) out.resize(kMaxComponent);
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
  earlier_run_ = fs::exists(path, ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0)
    throw FatalError("cannot create the lock file " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
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

void set_aside_previous_outputs(const std::string& out_dir, const OutputLock& lock) {
  const fs::path out(out_dir), report = out / "report.json", cases = out / "cases";
  const fs::path previous = out / kPreviousName;
  std::error_code ec;
  const bool has_report = fs::is_regular_file(report, ec) && is_maskeval_report(report);
  const bool has_cases = fs::exists(fs::symlink_status(cases, ec));
  if (has_cases && !has_report && !lock.earlier_run())
    throw FatalError(cases.string() +
                     " was not written by maskeval; choose another output folder (-o)");
  if (!has_report) {
    if (has_cases) remove_or_fail(cases);  // a run killed before it wrote its report
    return;
  }
  remove_or_fail(previous);
  fs::create_directory(previous, ec);
  if (ec) throw FatalError("cannot create " + previous.string() + ": " + ec.message());
  rename_or_fail(report, previous / "report.json");
  if (has_cases) rename_or_fail(cases, previous / "cases");
}

void drop_previous_outputs(const std::string& out_dir) {
  remove_or_fail(fs::path(out_dir) / kPreviousName);
}

}  // namespace maskeval
