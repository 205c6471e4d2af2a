// Quality gates: their figures looked up in a run, verdicts, gates.csv and the summary block.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <set>

#include "maskeval/baseline.h"
#include "maskeval/gates.h"
#include "maskeval/report.h"
#include "report/streamed_file.h"
#include "util/csv.h"

namespace maskeval {
namespace {

constexpr const char* kNoLabel = "no such label in this run";

// A figure's value, the label it is of, or why there is none.
struct Found {
  double value = NAN;
  std::string label, error;
};

Found error(const std::string& why) {
  Found f;
  f.error = why;
  return f;
}

Found defined(double v, std::string label = "") {
  Found f;
  f.value = v;
  f.label = std::move(label);
  if (std::isnan(v)) f.error = "undefined (null in the report)";
  return f;
}

using ByLabel = std::vector<std::pair<LabelId, double>>;

// The selected label's value; without a selector, the lowest defined value over the labels.
Found pick(const ByLabel& values, const GateFigure& f, const LabelSet& ls) {
  if (f.label) {
    for (const auto& [id, v] : values)
      if (id == *f.label) return defined(v, ls.key(id));
    return error(kNoLabel);
  }
  if (values.empty()) return error("no label in this run");
  const std::pair<LabelId, double>* low = nullptr;
  for (const auto& lv : values)
    if (!std::isnan(lv.second) && (!low || lv.second < low->second)) low = &lv;
  return low ? defined(low->second, ls.key(low->first)) : defined(NAN);
}

struct Run {
  const RunResult& result;
  const Summary& summary;
  const RunOptions& options;
  const BaselineRun* baseline = nullptr;
};

// label_cases, drift_d, drift_p: per label and region, from the cases' volumes.
Found volume_figure(const GateFigure& f, const Run& r) {
  std::set<LabelId> ids;
  for (const LabelSummary& l : r.summary.labels) ids.insert(l.label);
  for (const CaseResult& c : r.result.cases)
    for (const auto& kv : c.scores)
      for (const auto& ls : kv.second) ids.insert(ls.first);
  if (r.baseline)
    for (const LabelSummary& l : r.baseline->summary().labels) ids.insert(l.label);
  if (f.label && !ids.count(*f.label)) return error(kNoLabel);
  ByLabel values;
  for (const LabelId id : ids) {
    if (f.label && id != *f.label) continue;
    if (f.name == "label_cases") {
      values.emplace_back(id, static_cast<double>(case_volumes(r.result, id, r.options).size()));
      continue;
    }
    if (!r.baseline) return error("needs --baseline");
    const LabelDrift d = r.baseline->drift(id, r.result);
    values.emplace_back(id, f.name == "drift_d" ? d.d : d.p);
  }
  return pick(values, f, r.options.labels);
}

Found count_figure(const std::string& name, const Run& r) {
  if (name == "failed_cases") return defined(static_cast<double>(r.result.failed.size()));
  if (name == "cases") return defined(static_cast<double>(r.result.cases.size()));
  if (name == "warnings") return defined(static_cast<double>(r.result.warnings.size()));
  return error("unknown figure");
}

Found dataset_figure(const GateFigure& f, const Run& r) {
  if (f.name == "failed_cases" || f.name == "cases" || f.name == "warnings")
    return count_figure(f.name, r);
  if (f.name == "label_cases" || f.name == "drift_d" || f.name == "drift_p")
    return volume_figure(f, r);
  ByLabel values;
  double total = 0;
  for (const LabelSummary& l : r.summary.labels) {
    double v = NAN;
    if (f.name == "mean_dice") v = l.mean_dice;
    if (f.name == "median_dice") v = l.median_dice;
    if (f.name == "min_dice") v = l.min_dice;
    if (f.name == "pooled_dice") v = l.pooled_dice;
    if (f.name == "mean_fleiss_kappa") v = l.mean_fleiss_kappa;
    if (f.name == "infinite_pairs") v = static_cast<double>(l.infinite_pairs);
    total += f.name == "infinite_pairs" ? v : 0;
    values.emplace_back(l.label, v);
  }
  if (f.name == "infinite_pairs" && !f.label) return defined(total);
  return pick(values, f, r.options.labels);
}

double board_figure(const std::string& name, const LabelBoard& b) {
  if (name == "mean_dice") return b.mean_dice;
  if (name == "mean_iou") return b.mean_iou;
  if (name == "mean_sensitivity") return b.mean_sensitivity;
  if (name == "mean_precision") return b.mean_precision;
  if (name == "pooled_dice") return b.pooled_dice;
  return b.pooled_iou;
}

Found rater_figure(const GateFigure& f, const std::string& rater, const Run& r) {
  if (f.name == "failed_cases" || f.name == "cases" || f.name == "warnings")
    return count_figure(f.name, r);
  ByLabel values;
  if (f.name == "rater_mean_dice") {
    bool seen = false;
    for (const LabelSummary& l : r.summary.labels) {
      const auto it = l.rater_mean_dice.find(rater);
      seen = seen || it != l.rater_mean_dice.end();
      values.emplace_back(l.label, it == l.rater_mean_dice.end() ? NAN : it->second);
    }
    if (!seen) return error("no agreement figures for this rater");
    return pick(values, f, r.options.labels);
  }
  const auto row = std::find_if(r.summary.leaderboard.begin(), r.summary.leaderboard.end(),
                                [&](const LeaderboardRow& x) { return x.name == rater; });
  if (row == r.summary.leaderboard.end()) return error("no such rater or prediction in this run");
  if (!f.label) {
    if (f.name == "mean_dice") return defined(row->mean_dice);
    if (f.name == "mean_iou") return defined(row->mean_iou);
    if (f.name == "mean_sensitivity") return defined(row->mean_sensitivity);
    if (f.name == "mean_precision") return defined(row->mean_precision);
  }
  for (const auto& [id, board] : row->labels) values.emplace_back(id, board_figure(f.name, board));
  return pick(values, f, r.options.labels);
}

Found case_figure(const GateFigure& f, const CaseResult& c, const Run& r) {
  if (f.name == "failed_cases" || f.name == "cases" || f.name == "warnings")
    return count_figure(f.name, r);
  if (f.name == "mean_pairwise_dice") return defined(c.mean_pairwise_dice);
  ByLabel values;
  if (f.name == "min_pair_dice") {
    const size_t n = c.raters.size();
    for (const LabelResult& l : c.labels) {
      double low = NAN;
      for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j)
          if (!std::isnan(l.dice[i * n + j]) && !(l.dice[i * n + j] >= low))
            low = l.dice[i * n + j];
      values.emplace_back(l.label, low);
    }
    return pick(values, f, r.options.labels);
  }
  std::map<LabelId, std::pair<double, int>> sums;  // mean_dice: over the scored masks
  for (const auto& kv : c.scores)
    for (const auto& [id, s] : kv.second)
      if (!std::isnan(s.dice)) {
        sums[id].first += s.dice;
        ++sums[id].second;
      } else {
        sums[id];
      }
  for (const auto& [id, sum] : sums)
    values.emplace_back(id, sum.second ? sum.first / sum.second : NAN);
  return pick(values, f, r.options.labels);
}

bool compare(double v, GateCmp c, double t) {
  switch (c) {
    case GateCmp::kLess:
      return v < t;
    case GateCmp::kLessEqual:
      return v <= t;
    case GateCmp::kGreater:
      return v > t;
    case GateCmp::kGreaterEqual:
      return v >= t;
    case GateCmp::kEqual:
      return v == t;
    case GateCmp::kNotEqual:
      return v != t;
  }
  return false;
}

constexpr size_t kNoCase = static_cast<size_t>(-1);

struct Item {
  std::string name;
  size_t c = kNoCase;  // the case's index in the results (read when looked up: memory stays flat)
};

Found lookup(const GateFigure& f, GateScope scope, const Item& item, const Run& r) {
  return scope == GateScope::kDataset ? dataset_figure(f, r)
         : item.c != kNoCase          ? case_figure(f, *r.result.cases.get(item.c), r)
                                      : rater_figure(f, item.name, r);
}

// Evaluates the tree for one item; every comparison is checked (no short cut) and recorded.
bool eval(const GateNode& n, const Gate& g, const Item& item, const Run& r,
          std::vector<GateCheck>& checks) {
  if (n.kind != GateNode::Kind::kCompare) {
    const bool a = eval(*n.left, g, item, r, checks);
    const bool b = eval(*n.right, g, item, r, checks);
    return n.kind == GateNode::Kind::kAnd ? a && b : a || b;
  }
  Found f = lookup(n.figure, g.scope, item, r);
  if (n.figure.delta && f.error.empty()) {
    const BaselineRun* baseline = r.baseline;
    const GateValue before =
        baseline ? baseline->value(n.figure, g.scope, item.name, f.label) : GateValue{};
    f = !baseline              ? error("needs --baseline")
        : before.error.empty() ? defined(f.value - before.value, f.label)
                               : error("in the baseline: " + before.error);
  }
  GateCheck check{item.name, n.figure.text(), f.label, f.value, n.cmp, n.threshold, false, f.error};
  check.holds = f.error.empty() && compare(f.value, n.cmp, n.threshold);
  checks.push_back(check);
  return check.holds;
}

std::vector<Item> all_items_of(const Gate& g, const Run& r) {
  std::vector<Item> items;
  if (g.scope == GateScope::kDataset) items.push_back({"", kNoCase});
  if (g.scope == GateScope::kRater) items.push_back({g.rater, kNoCase});
  if (g.scope == GateScope::kAnyCase)
    for (auto it = r.result.cases.begin(); it != r.result.cases.end(); ++it)
      items.push_back({it->id, it.index()});
  if (g.scope != GateScope::kEveryRater) return items;
  std::set<std::string> seen;
  for (const LeaderboardRow& row : r.summary.leaderboard)
    if (seen.insert(row.name).second) items.push_back({row.name, kNoCase});
  for (const LabelSummary& l : r.summary.labels)
    for (const auto& kv : l.rater_mean_dice)
      if (seen.insert(kv.first).second) items.push_back({kv.first, kNoCase});
  return items;
}

bool uses_delta(const GateNode& n) {
  if (n.kind == GateNode::Kind::kCompare) return n.figure.delta;
  return uses_delta(*n.left) || uses_delta(*n.right);
}

// The scope's items; a gate that uses delta() leaves out the raters and cases the baseline has
// not (added since: there is nothing to compare them with; the comparison lists them).
std::vector<Item> items_of(const Gate& g, const Run& r) {
  std::vector<Item> items = all_items_of(g, r);
  if (!r.baseline || !uses_delta(*g.root) || g.scope == GateScope::kDataset ||
      g.scope == GateScope::kRater)
    return items;
  std::vector<Item> kept;
  for (const Item& i : items)
    if (i.c != kNoCase ? r.baseline->has_case(i.name) : r.baseline->has_rater(i.name))
      kept.push_back(i);
  return kept;
}

GateVerdict evaluate(const Gate& g, const Run& r) {
  GateVerdict v;
  v.name = g.name;
  v.expression = g.expression;
  const GateCheck* first_fail = nullptr;
  const GateCheck* first_error = nullptr;
  const std::vector<Item> items = items_of(g, r);
  if (items.empty() && !all_items_of(g, r).empty()) {  // every one added since the baseline
    v.verdict = "error";
    v.reason = g.scope == GateScope::kAnyCase ? "no case of this run is in the baseline"
                                              : "no rater or prediction of this run is in the "
                                                "baseline (named differently?)";
    v.figure = v.threshold = NAN;
    return v;
  }
  for (const Item& item : items) {
    const size_t from = v.checks.size();
    const bool holds = eval(*g.root, g, item, r, v.checks);
    std::string why;
    for (size_t i = from; i < v.checks.size() && why.empty(); ++i) why = v.checks[i].error;
    if (!why.empty()) {
      v.erroneous.push_back(item.name);
      if (v.reason.empty()) v.reason = (item.name.empty() ? "" : item.name + ": ") + why;
    } else if (holds) {
      v.failing.push_back(item.name);
    }
  }
  for (size_t i = 0; i < v.checks.size(); ++i) {
    const GateCheck& c = v.checks[i];
    const bool failed_item =
        std::find(v.failing.begin(), v.failing.end(), c.item) != v.failing.end();
    if (!first_fail && failed_item) first_fail = &c;
    if (!first_error && !c.error.empty()) first_error = &c;
  }
  v.verdict = !v.failing.empty() ? "fail" : (!v.erroneous.empty() ? "error" : "pass");
  const GateCheck* shown = first_fail    ? first_fail
                           : first_error ? first_error
                                         : (v.checks.empty() ? nullptr : &v.checks[0]);
  v.figure = shown ? shown->value : NAN;
  v.threshold = shown ? shown->threshold : NAN;
  if (v.verdict != "error") v.reason.clear();
  return v;
}

std::string item_verdict(const GateVerdict& v, const std::string& item) {
  if (std::find(v.failing.begin(), v.failing.end(), item) != v.failing.end()) return "fail";
  if (std::find(v.erroneous.begin(), v.erroneous.end(), item) != v.erroneous.end()) return "error";
  return "pass";
}

std::string short_number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// At most `width` bytes, cut with "...".
std::string fit(const std::string& s, size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 3) + "...";
}

}  // namespace

std::vector<GateVerdict> evaluate_gates(const std::vector<Gate>& gates, const RunResult& result,
                                        const Summary& summary, const RunOptions& options,
                                        const BaselineRun* baseline) {
  const Run r{result, summary, options, baseline};
  std::vector<GateVerdict> out;
  for (const Gate& g : gates) out.push_back(evaluate(g, r));
  return out;
}

GateValue gate_figure_value(const GateFigure& f, GateScope scope, const std::string& item,
                            const RunResult& result, const Summary& summary,
                            const RunOptions& options, const BaselineRun* baseline,
                            size_t case_index) {
  const Run r{result, summary, options, baseline};
  Item it{item, kNoCase};
  if (scope == GateScope::kAnyCase && case_index < result.cases.size()) {
    it.c = case_index;
  } else if (scope == GateScope::kAnyCase) {
    const auto c = std::find_if(result.cases.begin(), result.cases.end(),
                                [&](const CaseResult& x) { return x.id == item; });
    if (c == result.cases.end()) return {NAN, "", "no such case"};
    it.c = c.index();
  }
  const Found found = lookup(f, scope, it, r);
  return {found.value, found.label, found.error};
}

bool any_gate_failed(const std::vector<GateVerdict>& verdicts) {
  for (const GateVerdict& v : verdicts)
    if (v.verdict != "pass") return true;
  return false;
}

void write_gates_csv(const std::string& out_dir, const std::vector<GateVerdict>& verdicts,
                     const RunOptions&) {
  StreamedFile f((std::filesystem::path(out_dir) / "gates.csv").string());
  f.put("gate,expression,verdict,item,figure,label,value,cmp,threshold,holds,error\n");
  for (const GateVerdict& v : verdicts)
    for (const GateCheck& c : v.checks)
      f.put(csv_cell(v.name) + "," + csv_cell(v.expression) + "," + item_verdict(v, c.item) + "," +
            csv_cell(c.item) + "," + csv_cell(c.figure) + "," + csv_cell(c.label) + "," +
            csv_number(c.value) + "," + gate_cmp_text(c.cmp) + "," + csv_number(c.threshold) + "," +
            (c.holds ? "true" : "false") + "," + csv_cell(c.error) + "\n");
  f.commit();
}

void print_gates(std::ostream& out, const std::vector<GateVerdict>& verdicts) {
  if (verdicts.empty()) return;
  size_t failed = 0;
  for (const GateVerdict& v : verdicts) failed += v.verdict != "pass";
  out << "\ngates: " << verdicts.size() - failed << " passed, " << failed << " failed\n";
  for (const GateVerdict& v : verdicts) {
    const std::string mark =
        v.verdict == "pass" ? "pass " : (v.verdict == "fail" ? "FAIL " : "ERROR");
    std::string head = v.name == v.expression ? v.name : v.name + ": " + v.expression;
    out << "  " << mark << " " << fit(head, 90) << "\n";
    std::string detail;
    if (v.verdict == "error") detail = v.reason;
    for (const GateCheck& c : v.checks) {
      if (v.verdict == "error" || (v.verdict == "fail" && item_verdict(v, c.item) != "fail"))
        continue;
      if (v.verdict == "pass" && &c != &v.checks.front()) break;
      const bool selected = c.figure.find('[') != std::string::npos;
      const std::string seen = (c.item.empty() ? "" : c.item + " ") + c.figure +
                               (c.label.empty() || selected ? "" : "[" + c.label + "]") + " " +
                               short_number(c.value);
      const std::string rule = std::string(gate_cmp_text(c.cmp)) + " " + short_number(c.threshold);
      if (v.verdict == "pass")  // the first figure seen, and when it would fail
        detail = (v.checks.size() > 1 ? "first of " + std::to_string(v.checks.size()) + ": " : "") +
                 seen + " (fails if " + rule + ")";
      else
        detail += (detail.empty() ? "" : ", ") + seen + " " + rule;
    }
    if (!detail.empty()) out << "        " << fit(detail, 90) << "\n";
  }
}

}  // namespace maskeval
