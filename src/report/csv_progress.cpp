// cases.partial.csv and pairs.partial.csv: the table rows of each case as it finishes.
#include "report/csv_progress.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "maskeval/report.h"
#include "report/streamed_file.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

const char* const kCasesName = "cases.partial.csv";
const char* const kPairsName = "pairs.partial.csv";

// The file with its header, written under a temporary name and renamed, then open to append.
std::FILE* start(const std::string& path, const std::string& header) {
  StreamedFile out(path);
  out.put(header);
  out.commit();
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) throw FatalError("cannot write " + path + ": " + std::strerror(errno));
  return f;
}

}  // namespace

CsvProgress::CsvProgress(const std::string& out_dir, const RunOptions& options)
    : options_(options) {
  cases_.path = (fs::path(out_dir) / kCasesName).string();
  pairs_.path = (fs::path(out_dir) / kPairsName).string();
  cases_.file = start(cases_.path, cases_csv_header(options));
  try {
    pairs_.file = start(pairs_.path, pairs_csv_header(options.distances));
  } catch (...) {
    std::fclose(cases_.file);
    throw;
  }
}

CsvProgress::~CsvProgress() {
  for (Table* t : {&cases_, &pairs_})
    if (t->file) std::fclose(t->file);
}

void CsvProgress::append(Table& t, const std::string& rows) {
  if (rows.empty()) return;
  if (std::fwrite(rows.data(), 1, rows.size(), t.file) != rows.size() || std::fflush(t.file) != 0)
    throw FatalError("cannot write " + t.path + ": " + std::strerror(errno));
}

void CsvProgress::add(const CaseResult& c) {
  const std::string cases = cases_csv_rows(c, options_);
  const std::string pairs = pairs_csv_rows(c, options_, options_.distances);
  std::lock_guard<std::mutex> lock(mutex_);
  append(cases_, cases);
  append(pairs_, pairs);
}

void CsvProgress::remove(const std::string& out_dir) {
  std::error_code ec;
  for (const char* name : {kCasesName, kPairsName}) fs::remove(fs::path(out_dir) / name, ec);
}

}  // namespace maskeval
