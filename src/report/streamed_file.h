// A text file written piece by piece under a temporary name and renamed into place when whole.
#pragma once

#include <cstdio>
#include <string>

#include "io/formats.h"
#include "maskeval/run.h"

namespace maskeval {

// Pieces go to `path` + ".<pid>.<n>.tmp" (detail::TempFile) through a stdio buffer; commit()
// renames it over `path`. Destroyed without commit(), the temporary is removed. Every failure is
// a FatalError "cannot write <path>: <why>".
class StreamedFile {
 public:
  explicit StreamedFile(const std::string& path) : path_(path), tmp_(path) {
    try {
      file_ = tmp_.open();
    } catch (const std::exception& e) {
      throw FatalError("cannot write " + path_ + ": " + e.what());
    }
  }

  void put(const std::string& text) {
    if (!text.empty() && std::fwrite(text.data(), 1, text.size(), file_) != text.size())
      throw FatalError("cannot write " + path_ + ": write failed");
  }

  void commit() {
    try {
      tmp_.commit();
    } catch (const std::exception& e) {
      throw FatalError("cannot write " + path_ + ": " + e.what());
    }
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  detail::TempFile tmp_;
  FILE* file_ = nullptr;
};

}  // namespace maskeval
