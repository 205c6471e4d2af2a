// --baseline: an earlier run's report.json read back and checked against tonight's options.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "maskeval/baseline.h"
#include "maskeval/report.h"
#include "report/case_record.h"
#include "report/json_report.h"
#include "report/report_cases.h"
#include "util/sha256.h"

namespace maskeval {
namespace {

using Json = nlohmann::ordered_json;

double num(const Json& j, const char* key) {
  return json_figure(j, key);
}

size_t count(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? 0 : it->get<size_t>();
}

LabelId label_of(const std::string& key, const LabelSet& ls) {
  return json_label(key, ls);
}

LabelSummary label_summary_of(const std::string& key, const Json& j, const LabelSet& ls) {
  LabelSummary l;
  l.label = label_of(key, ls);
  l.cases = count(j, "cases");
  l.pairs = count(j, "pairs");
  l.mean_dice = num(j, "mean_dice");
  l.median_dice = num(j, "median_dice");
  l.min_dice = num(j, "min_dice");
  l.pooled_dice = num(j, "pooled_dice");
  l.mean_fleiss_kappa = num(j, "mean_fleiss_kappa");
  l.boundary = j.contains("mean_hd_percentile");
  l.mean_hd_percentile = num(j, "mean_hd_percentile");
  l.mean_assd = num(j, "mean_assd");
  l.mean_nsd = num(j, "mean_nsd");
  l.infinite_pairs = count(j, "infinite_pairs");
  for (const auto& [rater, v] : j.at("rater_mean_dice").items())
    l.rater_mean_dice[rater] = v.is_null() ? NAN : v.get<double>();
  return l;
}

LabelBoard board_of(const Json& j) {
  LabelBoard b;
  b.cases = count(j, "cases");
  b.mean_dice = num(j, "mean_dice");
  b.mean_iou = num(j, "mean_iou");
  b.mean_sensitivity = num(j, "mean_sensitivity");
  b.mean_specificity = num(j, "mean_specificity");
  b.mean_precision = num(j, "mean_precision");
  b.mean_volume_similarity = num(j, "mean_volume_similarity");
  b.tp = j.at("tp").get<uint64_t>();
  b.fp = j.at("fp").get<uint64_t>();
  b.fn = j.at("fn").get<uint64_t>();
  b.pooled_dice = num(j, "pooled_dice");
  b.pooled_iou = num(j, "pooled_iou");
  b.mean_hd_percentile = num(j, "mean_hd_percentile");
  b.mean_assd = num(j, "mean_assd");
  b.mean_nsd = num(j, "mean_nsd");
  b.infinite_distances = count(j, "infinite_distances");
  return b;
}

LeaderboardRow row_of(const Json& j, const LabelSet& ls) {
  LeaderboardRow r;
  r.name = j.at("name").get<std::string>();
  r.prediction = j.value("prediction", false);
  r.cases = count(j, "cases");
  r.mean_dice = num(j, "mean_dice");
  r.mean_iou = num(j, "mean_iou");
  r.mean_sensitivity = num(j, "mean_sensitivity");
  r.mean_precision = num(j, "mean_precision");
  r.mean_hd_percentile = num(j, "mean_hd_percentile");
  r.mean_assd = num(j, "mean_assd");
  r.mean_nsd = num(j, "mean_nsd");
  r.infinite_distances = count(j, "infinite_distances");
  for (const auto& [key, bj] : j.at("labels").items()) {
    const LabelId id = label_of(key, ls);
    r.labels[id] = board_of(bj);
    r.label_mean_dice[id] = r.labels[id].mean_dice;
  }
  return r;
}

Summary summary_of(const Json& j, const LabelSet& ls) {
  Summary s;
  for (const auto& [key, lj] : j.at("labels").items())
    s.labels.push_back(label_summary_of(key, lj, ls));
  if (j.contains("leaderboard"))
    for (const Json& row : j["leaderboard"]) s.leaderboard.push_back(row_of(row, ls));
  return s;
}

// The run the report describes, its cases read back from the file one at a time.
RunResult result_of(const Json& j, const std::shared_ptr<const ReportCases>& cases,
                    const LabelSet& ls) {
  RunResult r;
  r.cases.load_from(cases->size(), [cases, ls](size_t i) { return cases->load(i, ls); });
  for (const Json& f : j.at("failed_cases"))
    r.failed.push_back({f.at("id").get<std::string>(), f.value("file", ""), f.value("reason", "")});
  r.warnings = j.at("warnings").get<std::vector<std::string>>();
  return r;
}

// --- Conventions ----------------------------------------------------------------------------

// Options that describe the report rather than what was measured.
bool presentation_only(const std::string& key) {
  return key == "empty_policy" || key == "distance_unit" || key == "label_names";
}
// Options present only when boundary distances were measured: compared when both runs have them.
bool distance_option(const std::string& key) {
  return key == "distance_convention" || key == "percentile" || key == "nsd_tolerance" ||
         key == "nsd_tolerance_by_label" || key == "one_empty_distance" || key == "spacing";
}

std::map<std::string, std::string> label_names(const Json& options) {
  std::map<std::string, std::string> names;
  if (options.contains("label_names"))
    for (const auto& [key, v] : options["label_names"].items()) names[key] = v.value("name", "");
  return names;
}

std::string shown(const Json* v) {
  if (!v) return "(not set)";
  const std::string s = v->dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// The first difference that makes the runs incomparable; "" when there is none.
std::string difference(const Json& before, const Json& now) {
  const auto nb = label_names(before), nn = label_names(now);
  if (nb != nn)
    for (const auto* m : {&nb, &nn})
      for (const auto& [key, name] : *m) {
        const auto& other = m == &nb ? nn : nb;
        const auto it = other.find(key);
        if (it != other.end() && it->second == name) continue;
        const std::string b = nb.count(key) ? "'" + nb.at(key) + "'" : "no name";
        const std::string n = nn.count(key) ? "'" + nn.at(key) + "'" : "no name";
        return "the label sets differ: label " + key + " has " + b + " in the baseline, " + n +
               " in this run";
      }
  std::set<std::string> keys;
  for (const auto& kv : before.items()) keys.insert(kv.key());
  for (const auto& kv : now.items()) keys.insert(kv.key());
  const bool distances =
      before.contains("distance_convention") && now.contains("distance_convention");
  for (const std::string& k : keys) {
    if (presentation_only(k) || (distance_option(k) && !distances)) continue;
    const Json* b = before.contains(k) ? &before[k] : nullptr;
    const Json* n = now.contains(k) ? &now[k] : nullptr;
    if (!b || !n || *b != *n)
      return "option '" + k + "' differs: the baseline has " + shown(b) + ", this run " + shown(n);
  }
  return "";
}

std::string command_text(Command c) {
  return c == Command::kFuse ? "fuse" : (c == Command::kScore ? "score" : "agree");
}

}  // namespace

std::shared_ptr<const BaselineRun> BaselineRun::read(const std::string& path,
                                                     const RunOptions& tonight) {
  const std::string where = "--baseline " + path + ": ";
  std::shared_ptr<BaselineRun> b(new BaselineRun);
  Json j;
  try {
    auto cases = std::make_shared<ReportCases>(path);
    j = cases->without_cases();
    if (!j.is_object() || !j.contains("maskeval_version") || !j.contains("options"))
      throw std::invalid_argument("not a maskeval report.json");
    const std::string cmd = j.at("command").get<std::string>();
    if (cmd != command_text(tonight.command))
      throw std::invalid_argument("the baseline is a '" + cmd + "' run, this one '" +
                                  command_text(tonight.command) + "': they cannot be compared");
    const std::string diff =
        difference(j["options"], Json::parse(report_options_json(RunResult{}, tonight).dump()));
    if (!diff.empty())
      throw std::invalid_argument(diff +
                                  "; runs with different conventions "
                                  "cannot be compared");
    cases->index(b->sha256_, &tonight.labels);
    b->cases_ = std::move(cases);
    b->result_ = std::make_shared<RunResult>(result_of(j, b->cases_, tonight.labels));
    b->summary_ = std::make_shared<Summary>(summary_of(j.at("summary"), tonight.labels));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(where + "not a maskeval report: " + e.what());
  } catch (const std::exception& e) {
    throw UsageError(where + e.what());
  }
  b->path_ = path;
  b->version_ = j["maskeval_version"].is_string() ? j["maskeval_version"].get<std::string>() : "";
  b->command_line_ = j.value("command_line", "");
  b->options_ = tonight;
  return b;
}

GateValue BaselineRun::value(const GateFigure& f, GateScope scope, const std::string& item,
                             const std::string& label) const {
  GateFigure g = f;
  g.delta = false;
  if (!label.empty()) g.label = options_.labels.find(label);
  const std::optional<size_t> at =
      scope == GateScope::kAnyCase ? cases_->find(item) : std::optional<size_t>();
  return gate_figure_value(g, scope, item, *result_, *summary_, options_, nullptr,
                           at ? *at : static_cast<size_t>(-1));
}

bool BaselineRun::has_case(const std::string& id) const {
  return cases_->find(id).has_value();
}

bool BaselineRun::has_rater(const std::string& name) const {
  for (const LeaderboardRow& r : summary_->leaderboard)
    if (r.name == name) return true;
  for (const LabelSummary& l : summary_->labels)
    if (l.rater_mean_dice.count(name)) return true;
  return false;
}

LabelDrift BaselineRun::drift(LabelId label, const RunResult& now) const {
  LabelDrift d;
  d.label = label;
  const std::vector<double> before = case_volumes(*result_, label, options_);
  const std::vector<double> after = case_volumes(now, label, options_);
  d.cases_before = before.size();
  d.cases_now = after.size();
  d.unit = volume_unit(now.cases.empty() ? *result_ : now);
  auto median = [](std::vector<double> v) -> double {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };
  d.median_before = median(before);
  d.median_now = median(after);
  std::tie(d.d, d.p) = ks_two_sample(before, after);
  return d;
}

}  // namespace maskeval
