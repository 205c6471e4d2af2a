// What a run reports labels as: their names and colours, regions (unions of labels) and the
// ignore label.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "maskeval/counts.h"

namespace maskeval {

// A label or region as the results name it: a label value 0..65535, or kFirstRegion + k for
// region k of the run (LabelSet::regions), reported after the labels.
using LabelId = int32_t;
constexpr LabelId kFirstRegion = 65536;
inline bool is_region(LabelId id) {
  return id >= kFirstRegion;
}

using Rgb = std::array<uint8_t, 3>;

// nnU-Net's term: a region is evaluated as the union of its labels, everywhere a label is.
struct Region {
  std::string name;
  std::vector<Label> labels;  // ascending, no repeats, at least one

  bool covers(Label l) const;
};

struct LabelSet {
  std::map<Label, std::string> names;  // --labels; a label without one is named by its value
  std::map<LabelId, Rgb> colours;      // --labels, for labels and regions
  std::vector<Region> regions;         // --region and --labels, in the order given
  std::optional<Label> ignore;         // --ignore-label

  // The key of a label or region in the report, CSV and nnU-Net summary: the value as
  // decimal text, or the region's name.
  std::string key(LabelId id) const;
  // The name people read: the label's name, its value when it has none, the region's name.
  std::string name(LabelId id) const;
  std::optional<Rgb> colour(LabelId id) const;
  const Region& region(LabelId id) const;  // is_region(id)
  LabelId region_id(size_t k) const { return kFirstRegion + static_cast<LabelId>(k); }
  // A key, a label name or a region name (e.g. from --nsd-tolerance kidney:2); none if unknown.
  std::optional<LabelId> find(const std::string& text) const;
  // Adds a region; throws std::invalid_argument when its name is empty, numeric, over 64
  // bytes, holds a control character, or is taken (also once made safe for file names), or
  // when another region has the same labels.
  void add_region(Region r);
  // Whether label 0 is a class of its own: a labels file names it, other than "background".
  bool zero_is_a_class() const;
  // Merges `more` (a labels file) into this set: names, colours, regions.
  void merge(const LabelSet& more);
};

// A region's name as it may appear in a file name: letters, digits, '_', '-', '.'; others '_'.
std::string file_safe(const std::string& name);

// --region NAME=1,2,3. Throws std::invalid_argument with the reason.
Region parse_region(const std::string& text);

// "#rrggbb", "r,g,b" or "r g b". Throws std::invalid_argument.
Rgb parse_colour(const std::string& text);
std::string colour_hex(const Rgb& c);

// --labels FILE: a CSV (header value,name[,colour]; a value listing several labels separated
// by spaces, ';' or '|' makes that row a region) or a JSON file: {"labels": [{"value": 1,
// "name": "kidney", "colour": "#c83232"}], "regions": {"masses": [2, 3]}}, or nnU-Net's
// dataset.json "labels" object (name to value, or to a list of values for a region). Throws
// std::invalid_argument naming the file and what is wrong.
LabelSet read_label_file(const std::string& path);

}  // namespace maskeval
