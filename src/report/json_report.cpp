// The JSON report. Undefined (NaN) figures are written as null, infinite distances as "inf".
#include <cmath>

#include "report/json_report.h"

#include "report/case_record.h"
#include "report/streamed_file.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;

constexpr auto* number = &json_number;
constexpr auto* distance = &json_distance;

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

// The report; with `cases` false, its "cases" array is left empty (write_report_json fills it).
Json report_json(const RunResult& result, const Summary& summary, const RunOptions& o,
                 bool cases_too) {
  Json j;
  j["maskeval_version"] = MASKEVAL_VERSION;
  j["command"] =
      o.command == Command::kFuse ? "fuse" : (o.command == Command::kScore ? "score" : "agree");
  j["command_line"] = o.command_line;
  j["backend"] = result.backend;
  if (!result.engine_note.empty()) j["engine_note"] = result.engine_note;
  j["options"] = options_json(result, o);
  if (result.shard)
    j["shard"] = {{"index", result.shard->index},
                  {"count", result.shard->count},
                  {"dataset_cases", result.shard->dataset_cases},
                  {"dataset_sha256", result.shard->dataset_sha256}};
  if (!result.merged_from.empty()) j["merged_from"] = result.merged_from;
  Json cases = Json::array();
  if (cases_too)
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

Json report_json(const RunResult& result, const Summary& summary, const RunOptions& o) {
  return report_json(result, summary, o, true);
}

Json report_options_json(const RunResult& result, const RunOptions& o) {
  return options_json(result, o);
}

std::string report_json_text(const RunResult& result, const Summary& summary, const RunOptions& o) {
  return report_json(result, summary, o)
      .dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_report_json(const std::string& path, const RunResult& result, const Summary& summary,
                       const RunOptions& o) {
  const auto dump = [](const Json& j) {
    return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  const std::string text = dump(report_json(result, summary, o, false));
  const std::string slot = "\n \"cases\": []";  // the top-level key: one space in
  const size_t at = text.find(slot);
  if (at == std::string::npos) throw std::logic_error("report.json: no cases array");
  StreamedFile out(path);
  out.put(text.substr(0, at + slot.size() - 1));
  bool first = true;
  for (const CaseResult& c : result.cases) {
    // Two levels in: each line of the case's own dump shifted by two spaces.
    std::string piece = dump(case_json(c, o));
    std::string shifted = first ? "\n  " : ",\n  ";
    shifted.reserve(piece.size() + piece.size() / 8);
    for (const char ch : piece) {
      shifted += ch;
      if (ch == '\n') shifted += "  ";
    }
    out.put(shifted);
    first = false;
  }
  out.put(first ? "]" : "\n ]");
  out.put(text.substr(at + slot.size()) + "\n");
  out.commit();
}

}  // namespace maskeval
