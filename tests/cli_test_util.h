// Helpers of the tests that run the maskeval executable: a run's exit code and output, reports.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace maskeval::test {

using Json = nlohmann::json;
inline const std::string kData = std::string(MASKEVAL_SOURCE_DIR) + "/data";

struct Output {
  int code = -1;
  std::string text;  // stdout and stderr
};

// Runs `maskeval ARGS` through the shell.
inline Output run(const std::string& args) {
  Output out;
  const std::string cmd = std::string(MASKEVAL_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.text.append(buf.data(), n);
  const int status = pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

inline Json read_json(const std::string& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace maskeval::test
