// A case's results as JSON and back: the report's "cases" entry, also each line of records.jsonl.
#pragma once

#include <nlohmann/json.hpp>

#include "maskeval/report.h"

namespace maskeval {

// The case as report.json's "cases" array holds it (docs/report.md).
nlohmann::ordered_json case_json(const CaseResult& c, const RunOptions& options);

// The inverse of case_json: every field the reports use, each number exactly as it was (the JSON
// writer prints doubles with the digits that read back the same). Labels and regions are looked
// up in `labels`. Throws std::invalid_argument (or a JSON exception) for JSON that is not a case.
CaseResult case_from_json(const nlohmann::ordered_json& j, const LabelSet& labels);

// A figure as the reports write it, read back: null is NaN, "inf" and "-inf" are infinities;
// the second form reads j[key], NaN when there is none.
double json_figure(const nlohmann::ordered_json& v);
double json_figure(const nlohmann::ordered_json& j, const char* key);
// A label key of the report ("3", or a region's name) as `labels` knows it; throws
// std::invalid_argument when it does not.
LabelId json_label(const std::string& key, const LabelSet& labels);

}  // namespace maskeval
