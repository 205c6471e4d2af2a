// The JSON report. NaN figures (undefined metrics under --empty nan) are written as null.
#include <cmath>

#include "maskeval/report.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;

Json number(double v) {
  return std::isnan(v) ? Json(nullptr) : Json(v);
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

Json case_json(const CaseResult& c) {
  Json j;
  j["id"] = c.id;
  j["raters"] = c.raters;
  j["files"] = c.files;
  if (!c.reference_file.empty()) j["reference"] = c.reference_file;
  std::vector<int64_t> shape(c.geom.shape.begin(), c.geom.shape.begin() + c.geom.ndim);
  j["shape"] = shape;
  j["spacing"] = std::vector<double>(c.geom.spacing.begin(), c.geom.spacing.begin() + c.geom.ndim);
  j["spacing_unit"] = c.geom.spacing_unit;
  j["voxels"] = c.geom.voxels();
  Json labels = Json::object();
  const size_t n = c.raters.size();
  for (const LabelResult& l : c.labels) {
    Json lj;
    lj["volume"] = l.counts.volume;
    lj["intersection"] = count_matrix(l.counts.intersection, n);
    lj["dice"] = matrix(l.dice, n);
    lj["iou"] = matrix(l.iou, n);
    lj["cohen_kappa"] = matrix(l.cohen_kappa, n);
    lj["fleiss_kappa"] = number(l.fleiss_kappa);
    lj["votes"] = l.counts.votes;
    if (!l.agreement_map.empty()) lj["agreement_map"] = l.agreement_map;
    if (!l.entropy_map.empty()) lj["entropy_map"] = l.entropy_map;
    labels[std::to_string(l.counts.label)] = std::move(lj);
  }
  j["labels"] = std::move(labels);
  j["fleiss_kappa_all"] = c.fleiss_kappa_all ? number(*c.fleiss_kappa_all) : Json(nullptr);
  j["mean_pairwise_dice"] = number(c.mean_pairwise_dice);
  if (!c.agreement_map.empty()) j["agreement_map"] = c.agreement_map;
  if (!c.entropy_map.empty()) j["entropy_map"] = c.entropy_map;
  if (!c.overlay.empty()) j["overlay"] = c.overlay;
  if (c.majority) {
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
      for (const auto& [label, v] : m.dice_vs_reference) d[std::to_string(label)] = number(v);
      ref["dice"] = std::move(d);
      mj["vs_reference"] = std::move(ref);
    }
    j["majority"] = std::move(mj);
  }
  return j;
}

}  // namespace

Json report_json(const RunResult& result, const Summary& summary, const RunOptions& o) {
  Json j;
  j["maskeval_version"] = MASKEVAL_VERSION;
  j["command"] = o.command == Command::kFuse ? "fuse" : "agree";
  j["backend"] = result.backend;
  j["options"] = {
      {"foreground", o.foreground.text()},
      {"empty", empty_policy_text(o.empty)},
      {"empty_policy",
       "value of Dice, IoU and kappa when both masks are empty for a label (kappa: when every "
       "rater gives one category everywhere)"},
      {"include_background", o.include_background},
  };
  if (o.command == Command::kFuse) {
    j["options"]["method"] = "majority";
    j["options"]["tie"] = o.tie == TiePolicy::kUndecided ? "undecided" : "lowest";
    if (!o.paint_order.empty()) j["options"]["paint_order"] = o.paint_order;
  }
  Json cases = Json::array();
  for (const CaseResult& c : result.cases) {
    Json cj = case_json(c);
    if (cj.contains("majority"))
      cj["majority"]["tie"] = o.tie == TiePolicy::kUndecided ? "undecided" : "lowest";
    cases.push_back(std::move(cj));
  }
  j["cases"] = std::move(cases);
  Json failed = Json::array();
  for (const FailedCase& f : result.failed)
    failed.push_back({{"id", f.id}, {"file", f.file}, {"reason", f.reason}});
  j["failed_cases"] = std::move(failed);

  Json s;
  s["cases"] = result.cases.size();
  s["failed"] = result.failed.size();
  s["aborted"] = result.aborted;
  Json labels = Json::object();
  for (const LabelSummary& l : summary.labels) {
    Json lj;
    lj["cases"] = l.cases;
    lj["pairs"] = l.pairs;
    lj["mean_dice"] = number(l.mean_dice);
    lj["median_dice"] = number(l.median_dice);
    lj["min_dice"] = number(l.min_dice);
    lj["mean_fleiss_kappa"] = number(l.mean_fleiss_kappa);
    Json r = Json::object();
    for (const auto& [rater, v] : l.rater_mean_dice) r[rater] = number(v);
    lj["rater_mean_dice"] = std::move(r);
    labels[std::to_string(l.label)] = std::move(lj);
  }
  s["labels"] = std::move(labels);
  Json adj = Json::array();
  for (const Adjudication& a : summary.adjudicate)
    adj.push_back({{"id", a.id},
                   {"mean_pairwise_dice", number(a.mean_dice)},
                   {"worst_label", a.worst_label},
                   {"worst_pair", {a.rater_a, a.rater_b}},
                   {"worst_dice", number(a.worst_dice)}});
  s["adjudicate"] = std::move(adj);
  j["summary"] = std::move(s);
  return j;
}

}  // namespace maskeval
