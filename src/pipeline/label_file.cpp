// --labels FILE: label names, colours and regions from a CSV, a JSON file or nnU-Net's
// dataset.json.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "maskeval/image.h"
#include "maskeval/label_set.h"
#include "util/csv.h"

namespace maskeval {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Label json_label(const json& v, const std::string& where) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxLabel)
    throw std::invalid_argument(where + ": " + v.dump() + " is not a label (0..65535)");
  return static_cast<Label>(v.get<int64_t>());
}

Rgb json_colour(const json& v, const std::string& where) {
  if (v.is_string()) return parse_colour(v.get<std::string>());
  if (v.is_array() && v.size() == 3) {
    Rgb c{};
    for (int i = 0; i < 3; ++i) {
      if (!v[i].is_number_integer() || v[i].get<int>() < 0 || v[i].get<int>() > 255)
        throw std::invalid_argument(where + ": colour " + v.dump() + " is not r,g,b (0..255)");
      c[i] = static_cast<uint8_t>(v[i].get<int>());
    }
    return c;
  }
  throw std::invalid_argument(where + ": colour " + v.dump() + " is not \"#rrggbb\" or [r,g,b]");
}

// A region or a label named `name` with value(s) `v` (nnU-Net: a list is a region).
void add_named(LabelSet& s, const std::string& name, const json& v, const std::string& where) {
  if (v.is_array()) {
    Region r;
    r.name = name;
    for (const json& l : v) r.labels.push_back(json_label(l, where));
    s.add_region(std::move(r));
  } else {
    s.names[json_label(v, where)] = name;
  }
}

LabelSet from_json(const json& j, const std::string& where) {
  LabelSet s;
  if (!j.is_object() || !j.contains("labels"))
    throw std::invalid_argument(where +
                                ": no \"labels\" (a list of {value, name, colour}, or "
                                "nnU-Net's name-to-value object)");
  const json& labels = j["labels"];
  if (labels.is_object()) {
    for (const auto& [name, v] : labels.items()) {
      if (name == "ignore" && v.is_number_integer()) {  // nnU-Net's ignore label
        s.ignore = json_label(v, where);
        continue;
      }
      add_named(s, name, v, where);
    }
  } else if (labels.is_array()) {
    for (const json& e : labels) {
      if (!e.is_object() || !e.contains("value"))
        throw std::invalid_argument(where + ": every entry of \"labels\" needs a \"value\"");
      const Label l = json_label(e["value"], where);
      if (e.contains("name")) s.names[l] = e["name"].get<std::string>();
      if (e.contains("colour")) s.colours[l] = json_colour(e["colour"], where);
      if (e.contains("color")) s.colours[l] = json_colour(e["color"], where);
    }
  } else {
    throw std::invalid_argument(where + ": \"labels\" must be a list or an object");
  }
  if (j.contains("regions")) {
    if (!j["regions"].is_object())
      throw std::invalid_argument(where + ": \"regions\" must map names to lists of labels");
    for (const auto& [name, v] : j["regions"].items()) {
      if (!v.is_array()) throw std::invalid_argument(where + ": region " + name + " is no list");
      add_named(s, name, v, where);
    }
  }
  if (j.contains("ignore_label")) s.ignore = json_label(j["ignore_label"], where);
  return s;
}

// A CSV row's value cell: one label, or several (separated by spaces, ';' or '|'): a region.
std::vector<Label> csv_values(std::string cell, const std::string& where) {
  std::replace_if(
      cell.begin(), cell.end(), [](char c) { return c == ';' || c == '|'; }, ' ');
  std::stringstream ss(cell);
  std::vector<Label> out;
  for (std::string v; ss >> v;) out.push_back(json_label(json::parse(v, nullptr, false), where));
  if (out.empty()) throw std::invalid_argument(where + ": no value");
  return out;
}

LabelSet from_csv(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  if (line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  std::vector<std::string> header = split_csv_line(line);
  for (std::string& h : header) h = lower(h);
  const auto col = [&](const std::string& n) {
    const auto it = std::find(header.begin(), header.end(), n);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int c_value = col("value"), c_name = col("name");
  const int c_colour = std::max(col("colour"), col("color"));
  if (c_value < 0 || c_name < 0)
    throw std::invalid_argument(path + ": the header must name the columns value,name[,colour]");
  LabelSet s;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + " line " + std::to_string(n);
    const std::vector<std::string> cells = split_csv_line(line);
    if (static_cast<int>(cells.size()) <= std::max({c_value, c_name, c_colour}))
      throw std::invalid_argument(where + ": too few cells");
    const std::vector<Label> values = csv_values(cells[c_value], where);
    std::optional<Rgb> colour;
    if (c_colour >= 0 && !cells[c_colour].empty()) colour = parse_colour(cells[c_colour]);
    if (values.size() == 1 && cells[c_value].find_first_of(" ;|") == std::string::npos) {
      s.names[values[0]] = cells[c_name];
      if (colour) s.colours[values[0]] = *colour;
    } else {
      s.add_region({cells[c_name], values});
      if (colour) s.colours[s.region_id(s.regions.size() - 1)] = *colour;
    }
  }
  return s;
}

}  // namespace

LabelSet read_label_file(const std::string& path) {
  std::string text;
  try {
    const std::vector<uint8_t> bytes =
        read_regular_file(path, int64_t{1} << 20, "too large for a labels file (over 1 MiB)");
    text.assign(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    throw std::invalid_argument("--labels " + path + ": " + e.what());
  }
  try {
    const size_t first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first != std::string::npos && text[first] == '{') {
      const json j = json::parse(text, nullptr, false);
      if (j.is_discarded()) throw std::invalid_argument(path + ": not valid JSON");
      return from_json(j, path);
    }
    return from_csv(text, path);
  } catch (const json::exception& e) {
    throw std::invalid_argument("--labels " + path + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    throw std::invalid_argument(what.rfind("--labels", 0) == 0 ? what : "--labels " + what);
  }
}

}  // namespace maskeval
