// The JSON report as an nlohmann::ordered_json value (private: keeps the JSON library out of
// the public headers; the public form is report_json_text in maskeval/report.h).
#pragma once

#include <nlohmann/json.hpp>

#include "maskeval/report.h"

namespace maskeval {

// The JSON report (the contract is docs/report.md).
nlohmann::ordered_json report_json(const RunResult& result, const Summary& summary,
                                   const RunOptions& options);
// Its "options" object: the conventions a run was made with (what --baseline compares).
nlohmann::ordered_json report_options_json(const RunResult& result, const RunOptions& options);

}  // namespace maskeval
