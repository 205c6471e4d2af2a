// Dataset-level figures from the per-case results.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "maskeval/report.h"

namespace maskeval {
namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2.0;
}

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

}  // namespace

const char* empty_policy_text(EmptyPolicy p) {
  return p == EmptyPolicy::kOne ? "1" : (p == EmptyPolicy::kZero ? "0" : "nan");
}

Summary summarize(const RunResult& result, size_t adjudicate_top) {
  struct Acc {
    size_t cases = 0;
    std::vector<double> pair_dice, fleiss, hdp, assd, nsd;
    size_t infinite = 0;
    std::map<std::string, std::vector<double>> rater_dice;
  };
  std::map<Label, Acc> acc;
  Summary s;
  for (const CaseResult& c : result.cases) {
    const int n = static_cast<int>(c.raters.size());
    Adjudication adj;
    adj.id = c.id;
    adj.mean_dice = c.mean_pairwise_dice;
    for (const LabelResult& l : c.labels) {
      Acc& a = acc[l.counts.label];
      ++a.cases;
      if (!std::isnan(l.fleiss_kappa)) a.fleiss.push_back(l.fleiss_kappa);
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          const double d = l.dice[i * n + j];
          if (i == j || std::isnan(d)) continue;
          a.rater_dice[c.raters[i]].push_back(d);
          if (j < i) continue;
          a.pair_dice.push_back(d);
          if (!l.boundary.empty()) {
            const BoundaryMetrics& b = l.boundary[i * n + j];
            if (std::isinf(b.hd_percentile)) {
              ++a.infinite;
            } else if (!std::isnan(b.hd_percentile)) {
              a.hdp.push_back(b.hd_percentile);
              a.assd.push_back(b.assd);
            }
            if (!std::isnan(b.nsd)) a.nsd.push_back(b.nsd);
          }
          if (std::isnan(adj.worst_dice) || d < adj.worst_dice) {
            adj.worst_dice = d;
            adj.worst_label = l.counts.label;
            adj.rater_a = c.raters[i];
            adj.rater_b = c.raters[j];
          }
        }
      }
    }
    if (!std::isnan(adj.mean_dice)) s.adjudicate.push_back(adj);
  }
  for (auto& [label, a] : acc) {
    LabelSummary ls;
    ls.label = label;
    ls.cases = a.cases;
    ls.pairs = a.pair_dice.size();
    ls.mean_dice = mean_of(a.pair_dice);
    ls.median_dice = median_of(a.pair_dice);
    if (!a.pair_dice.empty())
      ls.min_dice = *std::min_element(a.pair_dice.begin(), a.pair_dice.end());
    ls.mean_fleiss_kappa = mean_of(a.fleiss);
    ls.mean_hd_percentile = mean_of(a.hdp);
    ls.mean_assd = mean_of(a.assd);
    ls.mean_nsd = mean_of(a.nsd);
    ls.infinite_pairs = a.infinite;
    for (const auto& [rater, v] : a.rater_dice) ls.rater_mean_dice[rater] = mean_of(v);
    s.labels.push_back(std::move(ls));
  }
  // STAPLE's estimates per rater.
  std::map<Label, std::map<std::string, std::array<std::vector<double>, 4>>> est;
  for (const CaseResult& c : result.cases) {
    for (const StapleLabel& sl : c.staple) {
      for (size_t i = 0; i < c.raters.size(); ++i) {
        auto& v = est[sl.label][c.raters[i]];
        v[0].push_back(sl.result.sensitivity[i]);
        v[1].push_back(sl.result.specificity[i]);
        if (i < sl.measured.size()) {
          if (!std::isnan(sl.measured[i].sensitivity)) v[2].push_back(sl.measured[i].sensitivity);
          if (!std::isnan(sl.measured[i].specificity)) v[3].push_back(sl.measured[i].specificity);
        }
      }
    }
  }
  for (const auto& [label, raters] : est) {
    for (const auto& [name, v] : raters) {
      StapleRaterSummary r;
      r.cases = v[0].size();
      r.sensitivity = mean_of(v[0]);
      r.specificity = mean_of(v[1]);
      r.measured_sensitivity = mean_of(v[2]);
      r.measured_specificity = mean_of(v[3]);
      s.staple_raters[label][name] = r;
    }
  }
  // Leaderboard of scored raters and predictions: means over cases and labels (NaN skipped).
  struct Means {
    std::vector<double> dice, iou, sens, prec, hdp, assd, nsd;
    size_t infinite = 0;
    std::map<Label, std::vector<double>> by_label;
    size_t cases = 0;
    bool prediction = false;
  };
  std::map<std::string, Means> board;
  for (const CaseResult& c : result.cases) {
    for (const auto& [name, by_label] : c.scores) {
      Means& m = board[name];
      ++m.cases;
      m.prediction =
          std::find(c.predictions.begin(), c.predictions.end(), name) != c.predictions.end();
      for (const auto& [label, sc] : by_label) {
        auto put = [](std::vector<double>& v, double x) {
          if (!std::isnan(x)) v.push_back(x);
        };
        put(m.dice, sc.dice);
        put(m.iou, sc.iou);
        put(m.sens, sc.sensitivity);
        put(m.prec, sc.precision);
        put(m.by_label[label], sc.dice);
        if (sc.boundary) {
          if (std::isinf(sc.boundary->hd_percentile)) {
            ++m.infinite;
          } else {
            put(m.hdp, sc.boundary->hd_percentile);
            put(m.assd, sc.boundary->assd);
          }
          put(m.nsd, sc.boundary->nsd);
        }
      }
    }
  }
  for (const auto& [name, m] : board) {
    LeaderboardRow row;
    row.name = name;
    row.prediction = m.prediction;
    row.cases = m.cases;
    row.mean_dice = mean_of(m.dice);
    row.mean_iou = mean_of(m.iou);
    row.mean_sensitivity = mean_of(m.sens);
    row.mean_precision = mean_of(m.prec);
    row.mean_hd_percentile = mean_of(m.hdp);
    row.mean_assd = mean_of(m.assd);
    row.mean_nsd = mean_of(m.nsd);
    row.infinite_distances = m.infinite;
    for (const auto& [label, v] : m.by_label) row.label_mean_dice[label] = mean_of(v);
    s.leaderboard.push_back(std::move(row));
  }
  std::stable_sort(s.leaderboard.begin(), s.leaderboard.end(),
                   [](const LeaderboardRow& a, const LeaderboardRow& b) {
                     const double x = std::isnan(a.mean_dice) ? -1 : a.mean_dice;
                     const double y = std::isnan(b.mean_dice) ? -1 : b.mean_dice;
                     return x > y;
                   });
  std::stable_sort(s.adjudicate.begin(), s.adjudicate.end(),
                   [](const Adjudication& a, const Adjudication& b) {
                     if (a.mean_dice != b.mean_dice) return a.mean_dice < b.mean_dice;
                     return a.id < b.id;
                   });
  if (s.adjudicate.size() > adjudicate_top) s.adjudicate.resize(adjudicate_top);
  return s;
}

}  // namespace maskeval
