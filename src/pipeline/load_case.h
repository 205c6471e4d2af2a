// Loading a case: its files decoded into label arrays the engine counts as columns of one view.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "maskeval/labels.h"
#include "maskeval/run.h"

namespace maskeval {

// A case whose files are label maps: raters, then predictions, each sorted by name.
struct LabelMapCase {
  std::vector<LabelImage> images;
  std::optional<LabelImage> reference;
  Label max_label = 1;  // over raters and predictions (at least 1)
};
// Loads the files (names and files recorded in `res`); throws CaseFailure.
LabelMapCase load_label_maps(const CaseSpec& spec, const RunOptions& o, int threads,
                             CaseResult& res);
// The view of the first `entities` images and, when `reference`, the reference last; every
// column widened to one label width.
CaseView label_map_view(LabelMapCase& c, int entities, bool reference);

// A case whose files are binary masks of one label each.
struct PerLabelCase {
  std::set<Label> labels;                                    // labels with a file
  std::map<Label, std::vector<std::vector<uint8_t>>> masks;  // [label][entity], unions
  std::vector<Label> order;                                  // paint order of the labels
  Geometry geom;
  std::string first_file;
  // The reference: a label map file, or per-label files (painted in `order` by the caller).
  bool has_reference = false;
  std::optional<LabelImage> reference_map;
  std::vector<std::pair<Label, std::vector<uint8_t>>> reference_masks;  // in paint order
};
PerLabelCase load_per_label(const CaseSpec& spec, const RunOptions& o, CaseResult& res);

}  // namespace maskeval
