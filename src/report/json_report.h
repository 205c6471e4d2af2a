// The JSON report as an nlohmann::ordered_json value (private: keeps the JSON library out of
// the public headers; the public form is report_json_text in maskeval/report.h).
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>

#include "maskeval/report.h"

namespace maskeval {

// A figure as the reports write it: NaN (undefined) as null; json_distance also writes an
// infinite distance as the string "inf" (or "-inf": JSON has no infinity).
inline nlohmann::ordered_json json_number(double v) {
  return std::isnan(v) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v);
}
inline nlohmann::ordered_json json_distance(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return json_number(v);
}

// The JSON report (the contract is docs/report.md).
nlohmann::ordered_json report_json(const RunResult& result, const Summary& summary,
                                   const RunOptions& options);
// report.json written case by case under a temporary name and renamed (never the whole report
// in memory): the same bytes as report_json_text plus a newline. Throws FatalError.
void write_report_json(const std::string& path, const RunResult& result, const Summary& summary,
                       const RunOptions& options);
// Its "options" object: the conventions a run was made with (what --baseline compares).
nlohmann::ordered_json report_options_json(const RunResult& result, const RunOptions& options);

}  // namespace maskeval
