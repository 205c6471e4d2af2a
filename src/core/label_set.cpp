// Names, colours and regions of the labels a run reports: keys, lookups and parsing.
#include "maskeval/label_set.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace maskeval {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

Label label_value(const std::string& text, const std::string& what) {
  if (!all_digits(text) || text.size() > 5 || std::stol(text) > kMaxLabel)
    throw std::invalid_argument(what + ": '" + text + "' is not a label (0..65535)");
  return static_cast<Label>(std::stol(text));
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

bool Region::covers(Label l) const {
  return std::binary_search(labels.begin(), labels.end(), l);
}

std::string LabelSet::key(LabelId id) const {
  return is_region(id) ? region(id).name : std::to_string(id);
}

std::string LabelSet::name(LabelId id) const {
  if (is_region(id)) return region(id).name;
  const auto it = names.find(static_cast<Label>(id));
  return it == names.end() ? std::to_string(id) : it->second;
}

std::optional<Rgb> LabelSet::colour(LabelId id) const {
  const auto it = colours.find(id);
  if (it == colours.end()) return std::nullopt;
  return it->second;
}

const Region& LabelSet::region(LabelId id) const {
  return regions.at(static_cast<size_t>(id - kFirstRegion));
}

std::optional<LabelId> LabelSet::find(const std::string& text) const {
  if (all_digits(text) && text.size() <= 5 && std::stol(text) <= kMaxLabel)
    return static_cast<LabelId>(std::stol(text));
  for (size_t k = 0; k < regions.size(); ++k)
    if (regions[k].name == text) return region_id(k);
  for (const auto& [label, n] : names)
    if (n == text) return label;
  return std::nullopt;
}

void LabelSet::add_region(Region r) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("region '" + r.name + "': " + why);
  };
  if (r.name.empty()) throw bad("it needs a name (NAME=1,2,3)");
  if (all_digits(r.name)) throw bad("a region's name cannot be a number (labels are)");
  if (r.name.size() > 64) throw bad("names are at most 64 bytes");
  for (const unsigned char c : r.name)
    if (c < 0x20 || c == 0x7f) throw bad("a name cannot hold control characters");
  if (r.labels.empty()) throw bad("it lists no label");
  std::sort(r.labels.begin(), r.labels.end());
  r.labels.erase(std::unique(r.labels.begin(), r.labels.end()), r.labels.end());
  for (const Region& o : regions) {
    if (o.name == r.name) throw bad("given twice");
    if (file_safe(o.name) == file_safe(r.name))
      throw bad("its file name, " + file_safe(r.name) + ", is region '" + o.name + "''s too");
    if (o.labels == r.labels) throw bad("region '" + o.name + "' has the same labels");
  }
  regions.push_back(std::move(r));
}

void LabelSet::merge(const LabelSet& more) {
  for (const auto& [l, n] : more.names) names[l] = n;
  for (const auto& [id, c] : more.colours) {
    if (!is_region(id)) colours[id] = c;
  }
  for (size_t k = 0; k < more.regions.size(); ++k) {
    const auto colour = more.colour(more.region_id(k));
    add_region(more.regions[k]);
    if (colour) colours[region_id(regions.size() - 1)] = *colour;
  }
  if (more.ignore) ignore = more.ignore;
}

bool LabelSet::zero_is_a_class() const {
  const auto it = names.find(0);
  if (it == names.end()) return false;
  std::string n = it->second;
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n != "background" && n != "bg" && n != "_background_";
}

std::string file_safe(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
  return out;
}

Region parse_region(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos)
    throw std::invalid_argument("--region: '" + text + "' is not NAME=1,2,3");
  Region r;
  r.name = trim(text.substr(0, eq));
  std::stringstream items(text.substr(eq + 1));
  std::string item;
  while (std::getline(items, item, ',')) r.labels.push_back(label_value(trim(item), "--region"));
  return r;
}

Rgb parse_colour(const std::string& text) {
  const std::string t = trim(text);
  Rgb c{};
  if (t.size() == 7 && t[0] == '#' &&
      std::all_of(t.begin() + 1, t.end(), [](unsigned char ch) { return std::isxdigit(ch); })) {
    for (int i = 0; i < 3; ++i)
      c[i] = static_cast<uint8_t>(std::stoi(t.substr(1 + 2 * i, 2), nullptr, 16));
    return c;
  }
  std::string parts = t;
  std::replace(parts.begin(), parts.end(), ',', ' ');
  std::stringstream ss(parts);
  std::string p;
  int n = 0;
  while (ss >> p) {
    if (n == 3 || !all_digits(p) || p.size() > 3 || std::stoi(p) > 255) n = 4;
    if (n > 3) break;
    c[n++] = static_cast<uint8_t>(std::stoi(p));
  }
  if (n != 3) throw std::invalid_argument("'" + text + "' is not a colour (#rrggbb or r,g,b)");
  return c;
}

std::string colour_hex(const Rgb& c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

}  // namespace maskeval
