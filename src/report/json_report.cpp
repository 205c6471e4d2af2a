// The JSON report. Undefined (NaN) figures are written as null, infinite distances as "inf".
#include <cmath>

#include "report/json_report.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;

Json number(double v) {
  return json_number(v);
}

// A distance: NaN as null, infinity as the string "inf" (JSON has no infinity).
Json distance(double v) {
  return json_distance(v);
}

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

// The label set: names and colours by key, regions by name with their labels, the ignore label.
void label_set_json(const LabelSet& ls, Json& j) {
  Json names = Json::object();
  for (const auto& [label, name] : ls.names) names[ls.key(label)]["name"] = name;
  for (const auto& [id, colour] : ls.colours) names[ls.key(id)]["colour"] = colour_hex(colour);
  if (!names.empty()) j["label_names"] = std::move(names);
  Json regions = Json::object();
  for (const Region& r : ls.regions) regions[r.name] = r.labels;
  if (!regions.empty()) j["regions"] = std::move(regions);
  if (ls.ignore) j["ignore_label"] = *ls.ignore;
}

Json options_json(const RunResult& result, const RunOptions& o) {
  Json j = {
      {"foreground", o.foreground.text()},
      {"empty", empty_policy_text(o.empty)},
      {"empty_policy",
       "value of Dice, IoU and kappa when both masks are empty for a label (kappa: when every "
       "rater gives one category everywhere)"},
      {"include_background", o.include_background || o.labels.zero_is_a_class()},
  };
  label_set_json(o.labels, j);
  if (o.distances) {
    j["distance_convention"] = convention_name(o.distance.convention);
    j["distance_unit"] = distance_unit(result, o);
    j["percentile"] = o.distance.percentile;
    j["nsd_tolerance"] = o.distance.nsd_tolerance;
    Json by = Json::object();
    for (const auto& [label, t] : o.nsd_tolerance_by_label) by[o.labels.key(label)] = t;
    if (!by.empty()) j["nsd_tolerance_by_label"] = std::move(by);
    j["one_empty_distance"] = distance(o.distance.one_empty);
    if (o.spacing[0] > 0) j["spacing"] = std::vector<double>(o.spacing.begin(), o.spacing.end());
  }
  if (o.command == Command::kFuse) {
    j["method"] = o.method == FuseMethod::kMajority
                      ? "majority"
                      : (o.method == FuseMethod::kStaple ? "staple" : "mlstaple");
    j["tie"] = o.tie == TiePolicy::kUndecided ? "undecided" : "lowest";
    if (!o.paint_order.empty()) j["paint_order"] = o.paint_order;
  }
  if (o.command == Command::kScore)
    j["against"] = o.against == ScoreAgainst::kReference
                       ? "reference"
                       : (o.against == ScoreAgainst::kMajority ? "majority" : "staple");
  if ((o.command == Command::kFuse && o.method != FuseMethod::kMajority) ||
      (o.command == Command::kScore && o.against == ScoreAgainst::kStaple)) {
    j["confidence_weight"] = o.staple.confidence_weight;
    j["max_iterations"] = o.staple.max_iterations;
    j["threshold"] = o.threshold;
  }
  return j;
}

// Rater-pair agreement per label. Boundary means only where the pairs' distances were measured
// (agree --distances); score measures distances against the reference only (the leaderboard).
Json summary_labels_json(const Summary& summary, const LabelSet& ls) {
  Json labels = Json::object();
  for (const LabelSummary& l : summary.labels) {
    Json lj;
    lj["name"] = ls.name(l.label);
    lj["cases"] = l.cases;
    lj["pairs"] = l.pairs;
    lj["mean_dice"] = number(l.mean_dice);
    lj["median_dice"] = number(l.median_dice);
    lj["min_dice"] = number(l.min_dice);
    lj["pooled_dice"] = number(l.pooled_dice);
    lj["mean_fleiss_kappa"] = number(l.mean_fleiss_kappa);
    if (l.boundary) {
      lj["mean_hd_percentile"] = number(l.mean_hd_percentile);
      lj["mean_assd"] = number(l.mean_assd);
      lj["mean_nsd"] = number(l.mean_nsd);
      lj["infinite_pairs"] = l.infinite_pairs;
    }
    Json r = Json::object();
    for (const auto& [rater, v] : l.rater_mean_dice) r[rater] = number(v);
    lj["rater_mean_dice"] = std::move(r);
    labels[ls.key(l.label)] = std::move(lj);
  }
  return labels;
}

Json staple_raters_json(const Summary& summary, const LabelSet& ls) {
  Json st = Json::object();
  for (const auto& [label, raters] : summary.staple_raters) {
    Json rj = Json::object();
    for (const auto& [name, r] : raters)
      rj[name] = {{"cases", r.cases},
                  {"sensitivity", number(r.sensitivity)},
                  {"specificity", number(r.specificity)},
                  {"measured_sensitivity", number(r.measured_sensitivity)},
                  {"measured_specificity", number(r.measured_specificity)}};
    st[ls.key(label)] = std::move(rj);
  }
  return st;
}

Json leaderboard_json(const Summary& summary, bool distances, const LabelSet& ls) {
  Json board = Json::array();
  for (const LeaderboardRow& row : summary.leaderboard) {
    Json by = Json::object(), labels = Json::object();
    for (const auto& [label, v] : row.label_mean_dice) by[ls.key(label)] = number(v);
    for (const auto& [label, b] : row.labels) {
      Json lj = {{"cases", b.cases},
                 {"mean_dice", number(b.mean_dice)},
                 {"mean_iou", number(b.mean_iou)},
                 {"mean_sensitivity", number(b.mean_sensitivity)},
                 {"mean_specificity", number(b.mean_specificity)},
                 {"mean_precision", number(b.mean_precision)},
                 {"mean_volume_similarity", number(b.mean_volume_similarity)},
                 {"tp", b.tp},
                 {"fp", b.fp},
                 {"fn", b.fn},
                 {"pooled_dice", number(b.pooled_dice)},
                 {"pooled_iou", number(b.pooled_iou)}};
      if (distances) {
        lj["mean_hd_percentile"] = number(b.mean_hd_percentile);
        lj["mean_assd"] = number(b.mean_assd);
        lj["mean_nsd"] = number(b.mean_nsd);
        lj["infinite_distances"] = b.infinite_distances;
      }
      labels[ls.key(label)] = std::move(lj);
    }
    board.push_back({{"name", row.name},
                     {"prediction", row.prediction},
                     {"cases", row.cases},
                     {"mean_dice", number(row.mean_dice)},
                     {"mean_iou", number(row.mean_iou)},
                     {"mean_sensitivity", number(row.mean_sensitivity)},
                     {"mean_precision", number(row.mean_precision)},
                     {"mean_hd_percentile", number(row.mean_hd_percentile)},
                     {"mean_assd", number(row.mean_assd)},
                     {"mean_nsd", number(row.mean_nsd)},
                     {"infinite_distances", row.infinite_distances},
                     {"label_mean_dice", std::move(by)},
                     {"labels", std::move(labels)}});
  }
  return board;
}

Json summary_json(const RunResult& result, const Summary& summary, const RunOptions& o) {
  Json s;
  s["cases"] = result.cases.size();
  s["failed"] = result.failed.size();
  s["aborted"] = result.aborted;
  s["labels"] = summary_labels_json(summary, o.labels);
  Json adj = Json::array();
  for (const Adjudication& a : summary.adjudicate)
    adj.push_back({{"id", a.id},
                   {"mean_pairwise_dice", number(a.mean_dice)},
                   {"worst_label", is_region(a.worst_label) ? Json(o.labels.key(a.worst_label))
                                                            : Json(a.worst_label)},
                   {"worst_pair", {a.rater_a, a.rater_b}},
                   {"worst_dice", number(a.worst_dice)}});
  s["adjudicate"] = std::move(adj);
  if (!summary.staple_raters.empty()) s["staple_raters"] = staple_raters_json(summary, o.labels);
  if (!summary.leaderboard.empty())
    s["leaderboard"] = leaderboard_json(summary, o.distances, o.labels);
  return s;
}

// --fail-if, --gates: each gate's verdict, the figure it saw and every comparison made.
Json gates_json(const std::vector<GateVerdict>& gates) {
  Json out = Json::array();
  for (const GateVerdict& v : gates) {
    Json checks = Json::array();
    for (const GateCheck& c : v.checks) {
      Json cj = {
          {"item", c.item},           {"figure", c.figure},          {"label", c.label},
          {"value", number(c.value)}, {"cmp", gate_cmp_text(c.cmp)}, {"threshold", c.threshold},
          {"holds", c.holds}};
      if (!c.error.empty()) cj["error"] = c.error;
      checks.push_back(std::move(cj));
    }
    Json g = {{"name", v.name},
              {"expression", v.expression},
              {"verdict", v.verdict},
              {"figure", number(v.figure)},
              {"threshold", number(v.threshold)},
              {"failing", v.failing},
              {"errors", v.erroneous}};
    if (!v.reason.empty()) g["reason"] = v.reason;
    g["checks"] = std::move(checks);
    out.push_back(std::move(g));
  }
  return out;
}

// --baseline: the earlier run, every figure before and now, cases added, removed and moved
// most (at most kMovedInJson; baseline.csv has them all), and the drift of each label.
constexpr size_t kMovedInJson = 100;

Json change_json(const FigureChange& x, const LabelSet& ls) {
  Json j = {{"scope", x.scope}, {"item", x.item}};
  if (x.label) j["label"] = ls.key(*x.label);
  j["figure"] = x.figure;
  j["before"] = number(x.before);
  j["now"] = number(x.now);
  j["delta"] = number(x.delta());
  return j;
}

Json baseline_json(const BaselineComparison& b, const LabelSet& ls) {
  Json j = {{"path", b.path},
            {"sha256", b.sha256},
            {"maskeval_version", b.version},
            {"command_line", b.command_line},
            {"cases_before", b.cases_before},
            {"cases_now", b.cases_now},
            {"cases_added", b.cases_added},
            {"cases_removed", b.cases_removed}};
  Json changes = Json::array(), moved = Json::array();
  for (const FigureChange& x : b.changes) changes.push_back(change_json(x, ls));
  for (size_t i = 0; i < b.moved.size() && i < kMovedInJson; ++i)
    moved.push_back({{"id", b.moved[i].item},
                     {"figure", b.moved[i].figure},
                     {"before", number(b.moved[i].before)},
                     {"now", number(b.moved[i].now)},
                     {"delta", number(b.moved[i].delta())}});
  j["changes"] = std::move(changes);
  j["moved"] = std::move(moved);
  Json drift = Json::object();
  for (const LabelDrift& d : b.drift)
    drift[ls.key(d.label)] = {{"name", ls.name(d.label)},
                              {"cases_before", d.cases_before},
                              {"cases_now", d.cases_now},
                              {"median_volume_before", number(d.median_before)},
                              {"median_volume_now", number(d.median_now)},
                              {"volume_unit", d.unit},
                              {"statistic", "two-sample Kolmogorov-Smirnov"},
                              {"ks_d", number(d.d)},
                              {"ks_p", number(d.p)}};
  j["drift"] = std::move(drift);
  return j;
}

}  // namespace

Json report_json(const RunResult& result, const Summary& summary, const RunOptions& o) {
  Json j;
  j["maskeval_version"] = MASKEVAL_VERSION;
  j["command"] =
      o.command == Command::kFuse ? "fuse" : (o.command == Command::kScore ? "score" : "agree");
  j["command_line"] = o.command_line;
  j["backend"] = result.backend;
  if (!result.engine_note.empty()) j["engine_note"] = result.engine_note;
  j["options"] = options_json(result, o);
  Json cases = Json::array();
  for (const CaseResult& c : result.cases) cases.push_back(case_json(c, o));
  j["cases"] = std::move(cases);
  Json failed = Json::array();
  for (const FailedCase& f : result.failed)
    failed.push_back({{"id", f.id}, {"file", f.file}, {"reason", f.reason}});
  j["failed_cases"] = std::move(failed);
  j["warnings"] = result.warnings;
  if (!summary.gates.empty()) j["gates"] = gates_json(summary.gates);
  if (summary.baseline) j["baseline"] = baseline_json(*summary.baseline, o.labels);
  if (o.timings) {
    const StageTimes& t = result.timings;
    j["timings"] = {{"decode_s", t.decode},       {"count_s", t.count}, {"derive_s", t.derive},
                    {"distances_s", t.distances}, {"write_s", t.write}, {"report_s", t.report}};
  }
  j["summary"] = summary_json(result, summary, o);
  return j;
}

Json report_options_json(const RunResult& result, const RunOptions& o) {
  return options_json(result, o);
}

std::string report_json_text(const RunResult& result, const Summary& summary, const RunOptions& o) {
  return report_json(result, summary, o)
      .dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace maskeval
