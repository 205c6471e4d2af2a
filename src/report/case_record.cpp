// A case's results as JSON (report.json's "cases" entry, a line of records.jsonl) and back.
#include "report/case_record.h"

#include <cmath>

#include "report/json_report.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;

constexpr auto* number = &json_number;
constexpr auto* distance = &json_distance;

Json boundary_matrix_json(const std::vector<BoundaryMetrics>& m, size_t n,
                          double BoundaryMetrics::*field) {
  Json rows = Json::array();
  for (size_t a = 0; a < n; ++a) {
    Json row = Json::array();
    for (size_t b = 0; b < n; ++b) row.push_back(distance(m[a * n + b].*field));
    rows.push_back(std::move(row));
  }
  return rows;
}

Json matrix(const std::vector<double>& m, size_t n) {
  Json rows = Json::array();
  for (size_t a = 0; a < n; ++a) {
    Json row = Json::array();
    for (size_t b = 0; b < n; ++b) row.push_back(number(m[a * n + b]));
    rows.push_back(std::move(row));
  }
  return rows;
}

Json count_matrix(const std::vector<uint64_t>& m, size_t n) {
  Json rows = Json::array();
  for (size_t a = 0; a < n; ++a)
    rows.push_back(std::vector<uint64_t>(m.begin() + a * n, m.begin() + (a + 1) * n));
  return rows;
}

Json score_json(const Score& s) {
  Json j = {{"tp", s.tp},
            {"fp", s.fp},
            {"fn", s.fn},
            {"tn", s.tn},
            {"dice", number(s.dice)},
            {"iou", number(s.iou)},
            {"sensitivity", number(s.sensitivity)},
            {"specificity", number(s.specificity)},
            {"precision", number(s.precision)},
            {"volume_similarity", number(s.volume_similarity)}};
  if (s.boundary) {
    j["hd"] = distance(s.boundary->hd);
    j["hd_percentile"] = distance(s.boundary->hd_percentile);
    j["assd"] = distance(s.boundary->assd);
    j["nsd"] = distance(s.boundary->nsd);
    j["hd_to_reference"] = distance(s.boundary->hd_ab);
    j["hd_from_reference"] = distance(s.boundary->hd_ba);
  }
  return j;
}

Json numbers(const std::vector<double>& v) {
  Json a = Json::array();
  for (double x : v) a.push_back(number(x));
  return a;
}

Json label_json(const LabelResult& l, size_t n) {
  Json lj;
  lj["volume"] = l.counts.volume;
  lj["intersection"] = count_matrix(l.counts.intersection, n);
  lj["dice"] = matrix(l.dice, n);
  lj["iou"] = matrix(l.iou, n);
  lj["cohen_kappa"] = matrix(l.cohen_kappa, n);
  lj["fleiss_kappa"] = number(l.fleiss_kappa);
  lj["votes"] = l.counts.votes;
  if (!l.boundary.empty()) {
    lj["hd"] = boundary_matrix_json(l.boundary, n, &BoundaryMetrics::hd);
    lj["hd_percentile"] = boundary_matrix_json(l.boundary, n, &BoundaryMetrics::hd_percentile);
    lj["percentile"] = l.percentile;
    lj["assd"] = boundary_matrix_json(l.boundary, n, &BoundaryMetrics::assd);
    lj["nsd"] = boundary_matrix_json(l.boundary, n, &BoundaryMetrics::nsd);
    lj["hd_directed"] = boundary_matrix_json(l.boundary, n, &BoundaryMetrics::hd_ab);
    lj["nsd_tolerance"] = l.nsd_tolerance;
  }
  if (!l.agreement_map.empty()) lj["agreement_map"] = l.agreement_map;
  if (!l.entropy_map.empty()) lj["entropy_map"] = l.entropy_map;
  return lj;
}

Json majority_json(const CaseResult& c, const LabelSet& ls) {
  const MajorityResult& m = *c.majority;
  Json mj;
  mj["undecided_label"] = m.undecided;
  Json counts = Json::object();
  for (const auto& [label, count] : m.counts) counts[std::to_string(label)] = count;
  mj["counts"] = std::move(counts);
  mj["mask"] = m.mask;
  if (m.has_reference) {
    Json ref;
    ref["file"] = c.reference_file;
    ref["mismatched_voxels"] = m.mismatched;
    ref["equal"] = m.mismatched == 0;
    Json d = Json::object();
    for (const auto& [label, v] : m.dice_vs_reference) d[ls.key(label)] = number(v);
    ref["dice"] = std::move(d);
    mj["vs_reference"] = std::move(ref);
  }
  return mj;
}

Json staple_json(const std::vector<StapleLabel>& staple, const LabelSet& ls) {
  Json st = Json::object();
  for (const StapleLabel& sl : staple) {
    Json lj;
    lj["sensitivity"] = numbers(sl.result.sensitivity);
    lj["specificity"] = numbers(sl.result.specificity);
    lj["prior"] = number(sl.result.prior);
    lj["iterations"] = sl.result.iterations;
    lj["converged"] = sl.result.converged;
    lj["posterior"] = sl.posterior;
    lj["mask"] = sl.mask;
    if (!sl.measured.empty()) {
      std::vector<double> sens, spec, d;
      for (const Score& sc : sl.measured) {
        sens.push_back(sc.sensitivity);
        spec.push_back(sc.specificity);
        d.push_back(sc.dice);
      }
      lj["measured_vs_reference"] = {
          {"sensitivity", numbers(sens)}, {"specificity", numbers(spec)}, {"dice", numbers(d)}};
    }
    if (sl.dice_vs_reference) lj["dice_vs_reference"] = number(*sl.dice_vs_reference);
    st[ls.key(sl.label)] = std::move(lj);
  }
  return st;
}

Json mlstaple_json(const CaseResult& c) {
  const MlStapleResult& r = c.mlstaple->result;
  Json mj;
  Json conf = Json::array();
  for (int k = 0; k < r.raters; ++k) {
    Json rows = Json::array();
    for (int row = 0; row <= r.labels; ++row) {
      Json cols = Json::array();
      for (int col = 0; col < r.labels; ++col) cols.push_back(number(r.theta(k, row, col)));
      rows.push_back(std::move(cols));
    }
    conf.push_back(std::move(rows));
  }
  mj["confusion"] = std::move(conf);
  mj["priors"] = numbers(r.priors);
  mj["iterations"] = r.iterations;
  mj["converged"] = r.converged;
  mj["undecided_label"] = r.undecided;
  mj["mask"] = c.mlstaple->mask;
  if (c.mlstaple->mismatched_vs_reference)
    mj["vs_reference"] = {{"file", c.reference_file},
                          {"mismatched_voxels", *c.mlstaple->mismatched_vs_reference}};
  return mj;
}

Json scores_json(const CaseResult& c, const LabelSet& ls) {
  Json sj;
  sj["against"] = c.scored_against;
  Json by = Json::object();
  for (const auto& [name, by_label] : c.scores) {
    Json lj = Json::object();
    for (const auto& [label, sc] : by_label) lj[ls.key(label)] = score_json(sc);
    by[name] = std::move(lj);
  }
  sj["by"] = std::move(by);
  return sj;
}

}  // namespace

Json case_json(const CaseResult& c, const RunOptions& o) {
  Json j;
  j["id"] = c.id;
  j["raters"] = c.raters;
  if (!c.predictions.empty()) j["predictions"] = c.predictions;
  j["files"] = c.files;
  if (!c.reference_file.empty()) j["reference"] = c.reference_file;
  Json inputs = Json::array();
  for (const auto& [path, d] : c.inputs)
    inputs.push_back({{"path", path}, {"bytes", d.bytes}, {"sha256", d.sha256}});
  j["inputs"] = std::move(inputs);
  std::vector<int64_t> shape(c.geom.shape.begin(), c.geom.shape.begin() + c.geom.ndim);
  j["shape"] = shape;
  j["spacing"] = std::vector<double>(c.geom.spacing.begin(), c.geom.spacing.begin() + c.geom.ndim);
  j["spacing_unit"] = c.geom.spacing_unit;
  j["distance_spacing"] =
      std::vector<double>(c.distance_spacing.begin(), c.distance_spacing.begin() + c.geom.ndim);
  if (o.distances) j["distance_unit"] = case_distance_unit(c, o);
  j["voxels"] = c.geom.voxels();
  Json labels = Json::object();
  for (const LabelResult& l : c.labels)
    labels[o.labels.key(l.label)] = label_json(l, c.raters.size());
  j["labels"] = std::move(labels);
  if (c.ignored_voxels) j["ignored_voxels"] = *c.ignored_voxels;
  // Fleiss' kappa needs two raters; the count-level function may still apply the policy.
  const bool kappa = c.fleiss_kappa_all && c.raters.size() >= 2;
  j["fleiss_kappa_all"] = kappa ? number(*c.fleiss_kappa_all) : Json(nullptr);
  j["mean_pairwise_dice"] = number(c.mean_pairwise_dice);
  if (!c.agreement_map.empty()) j["agreement_map"] = c.agreement_map;
  if (!c.entropy_map.empty()) j["entropy_map"] = c.entropy_map;
  if (!c.overlay.empty()) j["overlay"] = c.overlay;
  if (c.majority) {
    j["majority"] = majority_json(c, o.labels);
    j["majority"]["tie"] = o.tie == TiePolicy::kUndecided ? "undecided" : "lowest";
  }
  if (!c.staple.empty()) j["staple"] = staple_json(c.staple, o.labels);
  if (c.mlstaple) j["mlstaple"] = mlstaple_json(c);
  if (!c.scores.empty()) j["scores"] = scores_json(c, o.labels);
  // Only when the engine did part of the case otherwise (e.g. on the CPU instead of the GPU).
  if (!c.engine_notes.empty()) j["engine_notes"] = c.engine_notes;
  return j;
}

// --- Reading back ----------------------------------------------------------------------------

double json_figure(const Json& v) {
  if (v.is_null()) return NAN;
  if (v.is_string()) {
    if (v == "inf") return INFINITY;
    if (v == "-inf") return -INFINITY;
    throw std::invalid_argument("'" + v.get<std::string>() + "' is not a number");
  }
  return v.get<double>();
}

double json_figure(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() ? NAN : json_figure(*it);
}

LabelId json_label(const std::string& key, const LabelSet& ls) {
  const std::optional<LabelId> id = ls.find(key);
  if (!id) throw std::invalid_argument("label '" + key + "' is not in this run's label set");
  return *id;
}

namespace {

double figure(const Json& j, const char* key) {
  return json_figure(j, key);
}

LabelId label_of(const std::string& key, const LabelSet& ls) {
  return json_label(key, ls);
}

std::vector<double> figures(const Json& a) {
  std::vector<double> out;
  for (const Json& v : a) out.push_back(json_figure(v));
  return out;
}

// An n x n matrix, row after row.
std::vector<double> square(const Json& rows, size_t n, const char* what) {
  std::vector<double> out;
  if (rows.size() != n)
    throw std::invalid_argument(std::string(what) + ": not " + std::to_string(n) + " rows");
  for (const Json& row : rows) {
    if (row.size() != n) throw std::invalid_argument(std::string(what) + ": not a square matrix");
    for (const Json& v : row) out.push_back(json_figure(v));
  }
  return out;
}

std::vector<uint64_t> count_square(const Json& rows, size_t n) {
  std::vector<uint64_t> out;
  if (rows.size() != n) throw std::invalid_argument("intersection: not a square matrix");
  for (const Json& row : rows) {
    if (row.size() != n) throw std::invalid_argument("intersection: not a square matrix");
    for (const Json& v : row) out.push_back(v.get<uint64_t>());
  }
  return out;
}

Score score_from(const Json& j) {
  Score s;
  s.tp = j.at("tp").get<uint64_t>();
  s.fp = j.at("fp").get<uint64_t>();
  s.fn = j.at("fn").get<uint64_t>();
  s.tn = j.at("tn").get<uint64_t>();
  s.dice = figure(j, "dice");
  s.iou = figure(j, "iou");
  s.sensitivity = figure(j, "sensitivity");
  s.specificity = figure(j, "specificity");
  s.precision = figure(j, "precision");
  s.volume_similarity = figure(j, "volume_similarity");
  if (j.contains("hd")) {
    BoundaryMetrics b;
    b.hd = figure(j, "hd");
    b.hd_percentile = figure(j, "hd_percentile");
    b.assd = figure(j, "assd");
    b.nsd = figure(j, "nsd");
    b.hd_ab = figure(j, "hd_to_reference");
    b.hd_ba = figure(j, "hd_from_reference");
    s.boundary = b;
  }
  return s;
}

// The pairs' boundary matrices; [i*n+j].hd_ba is j's directed distance to i.
std::vector<BoundaryMetrics> boundary_from(const Json& j, size_t n) {
  const std::vector<double> hd = square(j.at("hd"), n, "hd");
  const std::vector<double> pct = square(j.at("hd_percentile"), n, "hd_percentile");
  const std::vector<double> assd = square(j.at("assd"), n, "assd");
  const std::vector<double> nsd = square(j.at("nsd"), n, "nsd");
  const std::vector<double> directed = square(j.at("hd_directed"), n, "hd_directed");
  std::vector<BoundaryMetrics> m(n * n);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b) {
      BoundaryMetrics& x = m[a * n + b];
      x.hd = hd[a * n + b];
      x.hd_percentile = pct[a * n + b];
      x.assd = assd[a * n + b];
      x.nsd = nsd[a * n + b];
      x.hd_ab = directed[a * n + b];
      x.hd_ba = directed[b * n + a];
    }
  return m;
}

LabelResult label_from(const std::string& key, const Json& j, size_t n, const LabelSet& ls) {
  LabelResult l;
  l.label = label_of(key, ls);
  l.counts.label = is_region(l.label) ? 1 : static_cast<Label>(l.label);
  l.counts.volume = j.at("volume").get<std::vector<uint64_t>>();
  if (l.counts.volume.size() != n)
    throw std::invalid_argument("label '" + key + "': one volume per rater expected");
  l.counts.intersection = count_square(j.at("intersection"), n);
  l.counts.votes = j.at("votes").get<std::vector<uint64_t>>();
  if (l.counts.votes.size() != n + 1)
    throw std::invalid_argument("label '" + key + "': votes for 0 to R raters expected");
  l.dice = square(j.at("dice"), n, "dice");
  l.iou = square(j.at("iou"), n, "iou");
  l.cohen_kappa = square(j.at("cohen_kappa"), n, "cohen_kappa");
  l.fleiss_kappa = figure(j, "fleiss_kappa");
  if (j.contains("hd")) {
    l.boundary = boundary_from(j, n);
    l.percentile = j.at("percentile").get<double>();
    l.nsd_tolerance = j.at("nsd_tolerance").get<double>();
  }
  l.agreement_map = j.value("agreement_map", "");
  l.entropy_map = j.value("entropy_map", "");
  return l;
}

MajorityResult majority_from(const Json& j, const LabelSet& ls) {
  MajorityResult m;
  m.undecided = j.at("undecided_label").get<Label>();
  for (const auto& [label, count] : j.at("counts").items())
    m.counts.emplace_back(static_cast<Label>(std::stoul(label)), count.get<uint64_t>());
  m.mask = j.value("mask", "");
  if (j.contains("vs_reference")) {
    const Json& r = j["vs_reference"];
    m.has_reference = true;
    m.mismatched = r.at("mismatched_voxels").get<uint64_t>();
    for (const auto& [key, v] : r.at("dice").items())
      m.dice_vs_reference[label_of(key, ls)] = json_figure(v);
  }
  return m;
}

StapleLabel staple_from(const std::string& key, const Json& j, size_t raters, const LabelSet& ls) {
  StapleLabel s;
  s.label = label_of(key, ls);
  s.result.sensitivity = figures(j.at("sensitivity"));
  s.result.specificity = figures(j.at("specificity"));
  if (s.result.sensitivity.size() != raters || s.result.specificity.size() != raters)
    throw std::invalid_argument("staple '" + key + "': one sensitivity and specificity per rater");
  s.result.prior = figure(j, "prior");
  s.result.iterations = j.at("iterations").get<int>();
  s.result.converged = j.at("converged").get<bool>();
  s.posterior = j.value("posterior", "");
  s.mask = j.value("mask", "");
  if (j.contains("measured_vs_reference")) {
    const Json& m = j["measured_vs_reference"];
    const std::vector<double> sens = figures(m.at("sensitivity"));
    const std::vector<double> spec = figures(m.at("specificity"));
    const std::vector<double> dice = figures(m.at("dice"));
    if (sens.size() != raters || spec.size() != raters || dice.size() != raters)
      throw std::invalid_argument("staple measured_vs_reference: one value per rater expected");
    for (size_t i = 0; i < sens.size(); ++i) {
      Score sc;
      sc.sensitivity = sens[i];
      sc.specificity = spec[i];
      sc.dice = dice[i];
      s.measured.push_back(sc);
    }
  }
  if (j.contains("dice_vs_reference")) s.dice_vs_reference = figure(j, "dice_vs_reference");
  return s;
}

MlStapleCase mlstaple_from(const Json& j, size_t raters) {
  MlStapleCase m;
  MlStapleResult& r = m.result;
  const Json& conf = j.at("confusion");
  if (conf.size() != raters) throw std::invalid_argument("mlstaple: a confusion matrix per rater");
  r.raters = static_cast<int>(conf.size());
  r.priors = figures(j.at("priors"));
  r.labels = static_cast<int>(r.priors.size());
  for (const Json& rows : conf) {
    if (rows.size() != static_cast<size_t>(r.labels) + 1)
      throw std::invalid_argument("mlstaple confusion: L+1 rows per rater expected");
    for (const Json& cols : rows) {
      if (cols.size() != static_cast<size_t>(r.labels))
        throw std::invalid_argument("mlstaple confusion: L columns per row expected");
      for (const Json& v : cols) r.confusion.push_back(json_figure(v));
    }
  }
  r.iterations = j.at("iterations").get<int>();
  r.converged = j.at("converged").get<bool>();
  r.undecided = j.at("undecided_label").get<Label>();
  m.mask = j.value("mask", "");
  if (j.contains("vs_reference"))
    m.mismatched_vs_reference = j["vs_reference"].at("mismatched_voxels").get<uint64_t>();
  return m;
}

// Shape, spacing and the spacing distances were measured in (the first ndim axes of each).
void geometry_from(const Json& j, CaseResult& c) {
  const auto shape = j.at("shape").get<std::vector<int64_t>>();
  const auto spacing = j.at("spacing").get<std::vector<double>>();
  const auto dspacing = j.value("distance_spacing", std::vector<double>{});
  if (shape.size() < 2 || shape.size() > 3 || spacing.size() != shape.size() ||
      dspacing.size() > shape.size())
    throw std::invalid_argument("shape and spacing: 2 or 3 axes expected");
  c.geom.ndim = static_cast<int>(shape.size());
  for (size_t a = 0; a < shape.size(); ++a) {
    c.geom.shape[a] = shape[a];
    c.geom.spacing[a] = spacing[a];
  }
  for (size_t a = 0; a < dspacing.size(); ++a) c.distance_spacing[a] = dspacing[a];
  c.geom.spacing_unit = j.value("spacing_unit", "");
}

void scores_from(const Json& j, const LabelSet& ls, CaseResult& c) {
  c.scored_against = j.value("against", "");
  for (const auto& [name, by_label] : j.at("by").items())
    for (const auto& [key, sj] : by_label.items())
      c.scores[name][label_of(key, ls)] = score_from(sj);
}

}  // namespace

CaseResult case_from_json(const Json& j, const LabelSet& ls) {
  CaseResult c;
  c.id = j.at("id").get<std::string>();
  c.raters = j.at("raters").get<std::vector<std::string>>();
  c.predictions = j.value("predictions", std::vector<std::string>{});
  c.files = j.value("files", std::map<std::string, std::vector<std::string>>{});
  c.reference_file = j.value("reference", "");
  for (const Json& in : j.value("inputs", Json::array()))
    c.inputs[in.at("path").get<std::string>()] = {in.at("bytes").get<int64_t>(),
                                                  in.at("sha256").get<std::string>()};
  geometry_from(j, c);
  for (const auto& [key, lj] : j.at("labels").items())
    c.labels.push_back(label_from(key, lj, c.raters.size(), ls));
  if (j.contains("ignored_voxels")) c.ignored_voxels = j["ignored_voxels"].get<uint64_t>();
  if (j.contains("fleiss_kappa_all") && !j["fleiss_kappa_all"].is_null())
    c.fleiss_kappa_all = json_figure(j["fleiss_kappa_all"]);
  c.mean_pairwise_dice = figure(j, "mean_pairwise_dice");
  c.agreement_map = j.value("agreement_map", "");
  c.entropy_map = j.value("entropy_map", "");
  c.overlay = j.value("overlay", "");
  if (j.contains("majority")) c.majority = majority_from(j["majority"], ls);
  if (j.contains("staple"))
    for (const auto& [key, sj] : j["staple"].items())
      c.staple.push_back(staple_from(key, sj, c.raters.size(), ls));
  if (j.contains("mlstaple")) c.mlstaple = mlstaple_from(j["mlstaple"], c.raters.size());
  if (j.contains("scores")) scores_from(j["scores"], ls, c);
  c.engine_notes = j.value("engine_notes", std::vector<std::string>{});
  return c;
}

}  // namespace maskeval
