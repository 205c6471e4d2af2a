// CSV as maskeval reads it (manifests, label files) and writes it (the result tables).
#pragma once

#include <string>
#include <vector>

namespace maskeval {

// The cells of one line: fields split at commas, "quoted" fields may hold commas and doubled
// quotes, surrounding blanks trimmed, a trailing CR dropped.
std::vector<std::string> split_csv_line(const std::string& line);

// One cell as written: quoted (inner quotes doubled) when it holds a comma, a quote, a line
// break or surrounding blanks.
std::string csv_cell(const std::string& text);

}  // namespace maskeval
