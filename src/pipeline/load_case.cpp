// Loading a case: label maps, or binary masks per label, with the same grid everywhere.
#include "pipeline/load_case.h"

#include <algorithm>
#include <utility>

#include "pipeline/case.h"
#include "util/parallel.h"

namespace maskeval {
namespace {

// Decodes one file; the files read for it go into `inputs` with their digests.
LabelImage load_labels(const std::string& path, const ForegroundRule& rule, const RunOptions& o,
                       std::map<std::string, FileDigest>& inputs) {
  try {
    RawImage raw = read_image_values(path, o.read);  // to_labels reads the values in place
    inputs.insert(raw.files.begin(), raw.files.end());
    return to_labels(std::move(raw), rule, o.max_label);
  } catch (const InputError& e) {
    throw CaseFailure{path, e.what()};
  } catch (const std::bad_alloc&) {
    throw CaseFailure{path, "out of memory while decoding"};
  }
}

void require_same_grid(const Geometry& geom, const std::string& file, const Geometry& first,
                       const std::string& first_file) {
  if (geom.same_grid(first)) return;
  auto shape = [](const Geometry& g) {
    std::string s = std::to_string(g.shape[0]) + "x" + std::to_string(g.shape[1]);
    if (g.ndim == 3) s += "x" + std::to_string(g.shape[2]);
    return s;
  };
  throw CaseFailure{
      file, "size mismatch: " + shape(geom) + " here, " + shape(first) + " in " + first_file};
}

// The one label map of each rater or prediction, named in `names`.
void collect_maps(const std::map<std::string, LabelFiles>& group, std::vector<std::string>& names,
                  std::vector<std::string>& files, CaseResult& res) {
  for (const auto& [name, by_label] : group) {
    const auto it = by_label.find(kWholeMap);
    if (it == by_label.end() || it->second.size() != 1)
      throw CaseFailure{"", "'" + name + "' has " +
                                std::to_string(it == by_label.end() ? 0 : it->second.size()) +
                                " label maps in this case; expected one"};
    names.push_back(name);
    res.files[name] = it->second;
    files.push_back(it->second[0]);
  }
}

// Decodes the files on up to `threads` threads; the first failure in file order is thrown.
std::vector<LabelImage> load_all(const std::vector<std::string>& files, const RunOptions& o,
                                 int threads, std::map<std::string, FileDigest>& inputs) {
  const int n = static_cast<int>(files.size());
  std::vector<LabelImage> images(n);
  std::vector<std::optional<CaseFailure>> failures(n);
  std::vector<std::map<std::string, FileDigest>> read(n);
  parallel_ranges(n, std::max(1, std::min(threads, n)), [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        images[i] = load_labels(files[i], o.foreground, o, read[i]);
      } catch (const CaseFailure& f) {
        failures[i] = f;
      }
    }
  });
  for (const auto& f : failures)
    if (f) throw *f;
  for (const auto& r : read) inputs.insert(r.begin(), r.end());
  return images;
}

}  // namespace

LabelMapCase load_label_maps(const CaseSpec& spec, const RunOptions& o, int threads,
                             CaseResult& res) {
  std::vector<std::string> files;
  collect_maps(spec.raters, res.raters, files, res);
  collect_maps(spec.predictions, res.predictions, files, res);
  LabelMapCase c;
  c.images = load_all(files, o, threads, res.inputs);
  for (size_t i = 1; i < files.size(); ++i)
    require_same_grid(c.images[i].geom, files[i], c.images[0].geom, files[0]);
  res.geom = c.images[0].geom;
  for (const LabelImage& img : c.images) c.max_label = std::max(c.max_label, img.max_label);
  const auto ref_files = spec.reference.find(kWholeMap);
  if (ref_files != spec.reference.end()) {
    res.reference_file = ref_files->second.at(0);
    c.reference = load_labels(res.reference_file, o.foreground, o, res.inputs);
    require_same_grid(c.reference->geom, res.reference_file, c.images[0].geom, files[0]);
  }
  return c;
}

CaseView label_map_view(LabelMapCase& c, int entities, bool reference) {
  std::vector<LabelImage*> columns;
  for (int i = 0; i < entities; ++i) columns.push_back(&c.images[i]);
  if (reference) columns.push_back(&*c.reference);
  CaseView v;
  v.voxels = c.images[0].geom.voxels();
  for (const LabelImage* img : columns) {
    v.max_label = std::max(v.max_label, img->max_label);
    v.label_bytes = std::max(v.label_bytes, img->label_bytes);
  }
  for (LabelImage* img : columns) {
    if (v.label_bytes == 2) widen_to_16(*img);
    v.raters.push_back(img->data.data());
  }
  return v;
}

namespace {

// Raters, then predictions: their names, and their files by label.
std::vector<const LabelFiles*> collect_per_label(const CaseSpec& spec, PerLabelCase& c,
                                                 CaseResult& res) {
  std::vector<const LabelFiles*> entities;
  auto collect = [&](const std::map<std::string, LabelFiles>& group,
                     std::vector<std::string>& names) {
    for (const auto& [name, by_label] : group) {
      names.push_back(name);
      entities.push_back(&by_label);
      for (const auto& [label, files] : by_label) {
        c.labels.insert(static_cast<Label>(label));
        auto& list = res.files[name];
        list.insert(list.end(), files.begin(), files.end());
      }
    }
  };
  collect(spec.raters, res.raters);
  collect(spec.predictions, res.predictions);
  return entities;
}

std::vector<Label> paint_order(const std::set<Label>& labels, const std::vector<Label>& given) {
  std::vector<Label> order;
  for (const Label l : labels)
    if (std::find(given.begin(), given.end(), l) == given.end()) order.push_back(l);
  for (const Label l : given)
    if (labels.count(l)) order.push_back(l);
  return order;
}

}  // namespace

PerLabelCase load_per_label(const CaseSpec& spec, const RunOptions& o, CaseResult& res) {
  // A file holds a binary mask: with the default rule, any nonzero value is foreground.
  ForegroundRule rule = o.foreground;
  if (rule.kind == ForegroundRule::Kind::kLabels) rule.kind = ForegroundRule::Kind::kNonzero;
  PerLabelCase c;
  const std::vector<const LabelFiles*> entities = collect_per_label(spec, c, res);
  auto load_mask = [&](const std::string& f, std::vector<uint8_t>& into) {
    const LabelImage img = load_labels(f, rule, o, res.inputs);
    if (c.first_file.empty()) {
      c.first_file = f;
      c.geom = img.geom;
    }
    require_same_grid(img.geom, f, c.geom, c.first_file);
    binary_mask_of(img, 1, into, !into.empty());
  };
  for (size_t i = 0; i < entities.size(); ++i)
    for (const auto& [label, files] : *entities[i]) {
      auto& per_entity = c.masks[static_cast<Label>(label)];
      per_entity.resize(entities.size());
      for (const std::string& f : files) load_mask(f, per_entity[i]);
    }
  res.geom = c.geom;
  for (auto& [label, per_entity] : c.masks) {
    per_entity.resize(entities.size());
    for (auto& m : per_entity)
      if (m.empty()) m.assign(c.geom.voxels(), 0);  // no file: nothing marked of this label
  }
  c.order = paint_order(c.labels, o.paint_order);
  c.has_reference = !spec.reference.empty();
  const auto whole = spec.reference.find(kWholeMap);
  if (whole != spec.reference.end()) {
    res.reference_file = whole->second.at(0);
    c.reference_map = load_labels(res.reference_file, o.foreground, o, res.inputs);
    require_same_grid(c.reference_map->geom, res.reference_file, c.geom, c.first_file);
    widen_to_16(*c.reference_map);
    return c;
  }
  for (const Label l : c.order) {
    const auto it = spec.reference.find(l);
    if (it == spec.reference.end()) continue;
    std::vector<uint8_t> mask;
    for (const std::string& f : it->second) load_mask(f, mask);
    if (res.reference_file.empty()) res.reference_file = it->second.at(0);
    c.reference_masks.emplace_back(l, std::move(mask));
  }
  return c;
}

}  // namespace maskeval
