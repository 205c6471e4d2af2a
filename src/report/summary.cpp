// Dataset-level figures from the per-case results, and the unit the distances are in.
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

void put(std::vector<double>& v, double x) {
  if (!std::isnan(x)) v.push_back(x);
}

// Agreement of rater pairs per label, and each case's worst pair for the adjudication list.
// The cases most needing adjudication first: lowest mean pairwise Dice, then id (a total order,
// since ids are unique), at most `top` of them.
void keep_worst(std::vector<Adjudication>& list, size_t top) {
  std::sort(list.begin(), list.end(), [](const Adjudication& a, const Adjudication& b) {
    if (a.mean_dice != b.mean_dice) return a.mean_dice < b.mean_dice;
    return a.id < b.id;
  });
  if (list.size() > top) list.resize(top);
}

void summarize_labels(const RunResult& result, size_t top, Summary& s) {
  struct Acc {
    size_t cases = 0;
    std::vector<double> pair_dice, fleiss, hdp, assd, nsd;
    size_t infinite = 0;
    bool boundary = false;
    std::map<std::string, std::vector<double>> rater_dice;
    uint64_t inter = 0, volumes = 0;  // summed over cases and pairs, for the pooled Dice
  };
  std::map<LabelId, Acc> acc;
  for (const CaseResult& c : result.cases) {
    const int n = static_cast<int>(c.raters.size());
    Adjudication adj;
    adj.id = c.id;
    adj.mean_dice = c.mean_pairwise_dice;
    for (const LabelResult& l : c.labels) {
      Acc& a = acc[l.label];
      ++a.cases;
      put(a.fleiss, l.fleiss_kappa);  // undefined (fewer than two raters, or by the policy)
      a.boundary = a.boundary || !l.boundary.empty();
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          const double d = l.dice[i * n + j];
          if (i < j) {
            a.inter += l.counts.inter(i, j);
            a.volumes += l.counts.volume[i] + l.counts.volume[j];
          }
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
            put(a.nsd, b.nsd);
          }
          if (std::isnan(adj.worst_dice) || d < adj.worst_dice) {
            adj.worst_dice = d;
            adj.worst_label = l.label;
            adj.rater_a = c.raters[i];
            adj.rater_b = c.raters[j];
          }
        }
      }
    }
    if (!std::isnan(adj.mean_dice)) s.adjudicate.push_back(adj);
    // Bounded whatever the number of cases: the worst ones so far, kept as they come.
    if (s.adjudicate.size() >= 2 * top + 1024) keep_worst(s.adjudicate, top);
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
    if (a.volumes > 0) ls.pooled_dice = 2.0 * static_cast<double>(a.inter) / a.volumes;
    ls.mean_hd_percentile = mean_of(a.hdp);
    ls.mean_assd = mean_of(a.assd);
    ls.mean_nsd = mean_of(a.nsd);
    ls.infinite_pairs = a.infinite;
    ls.boundary = a.boundary;
    for (const auto& [rater, v] : a.rater_dice) ls.rater_mean_dice[rater] = mean_of(v);
    s.labels.push_back(std::move(ls));
  }
}

// STAPLE's estimates per rater.
void summarize_staple(const RunResult& result, Summary& s) {
  std::map<LabelId, std::map<std::string, std::array<std::vector<double>, 4>>> est;
  for (const CaseResult& c : result.cases) {
    for (const StapleLabel& sl : c.staple) {
      for (size_t i = 0; i < c.raters.size(); ++i) {
        auto& v = est[sl.label][c.raters[i]];
        v[0].push_back(sl.result.sensitivity[i]);
        v[1].push_back(sl.result.specificity[i]);
        if (i < sl.measured.size()) {
          put(v[2], sl.measured[i].sensitivity);
          put(v[3], sl.measured[i].specificity);
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
}

// Scores of one rater or prediction, over cases and labels or over the cases of one label.
struct Means {
  std::vector<double> dice, iou, sens, spec, prec, vs, hdp, assd, nsd;
  size_t infinite = 0;
  size_t cases = 0;
  uint64_t tp = 0, fp = 0, fn = 0;

  void add(const Score& sc) {
    put(dice, sc.dice);
    put(iou, sc.iou);
    put(sens, sc.sensitivity);
    put(spec, sc.specificity);
    put(prec, sc.precision);
    put(vs, sc.volume_similarity);
    tp += sc.tp;
    fp += sc.fp;
    fn += sc.fn;
    if (!sc.boundary) return;
    if (std::isinf(sc.boundary->hd_percentile)) {
      ++infinite;
    } else {
      put(hdp, sc.boundary->hd_percentile);
      put(assd, sc.boundary->assd);
    }
    put(nsd, sc.boundary->nsd);
  }
};

// Leaderboard of scored raters and predictions: means over cases and labels (NaN skipped), and
// per label.
void summarize_leaderboard(const RunResult& result, Summary& s) {
  struct Entry {
    Means all;
    std::map<LabelId, Means> by_label;
    bool prediction = false;
  };
  std::map<std::string, Entry> board;
  for (const CaseResult& c : result.cases) {
    for (const auto& [name, by_label] : c.scores) {
      Entry& e = board[name];
      ++e.all.cases;
      e.prediction =
          std::find(c.predictions.begin(), c.predictions.end(), name) != c.predictions.end();
      for (const auto& [label, sc] : by_label) {
        if (!is_region(label)) e.all.add(sc);  // regions repeat their labels
        Means& m = e.by_label[label];
        ++m.cases;
        m.add(sc);
      }
    }
  }
  for (const auto& [name, e] : board) {
    LeaderboardRow row;
    row.name = name;
    row.prediction = e.prediction;
    row.cases = e.all.cases;
    row.mean_dice = mean_of(e.all.dice);
    row.mean_iou = mean_of(e.all.iou);
    row.mean_sensitivity = mean_of(e.all.sens);
    row.mean_precision = mean_of(e.all.prec);
    row.mean_hd_percentile = mean_of(e.all.hdp);
    row.mean_assd = mean_of(e.all.assd);
    row.mean_nsd = mean_of(e.all.nsd);
    row.infinite_distances = e.all.infinite;
    for (const auto& [label, m] : e.by_label) {
      LabelBoard& b = row.labels[label];
      b.cases = m.cases;
      b.mean_dice = mean_of(m.dice);
      b.mean_iou = mean_of(m.iou);
      b.mean_sensitivity = mean_of(m.sens);
      b.mean_specificity = mean_of(m.spec);
      b.mean_precision = mean_of(m.prec);
      b.mean_volume_similarity = mean_of(m.vs);
      b.tp = m.tp;
      b.fp = m.fp;
      b.fn = m.fn;
      if (m.tp + m.fp + m.fn > 0) {
        b.pooled_dice = 2.0 * m.tp / static_cast<double>(2 * m.tp + m.fp + m.fn);
        b.pooled_iou = m.tp / static_cast<double>(m.tp + m.fp + m.fn);
      }
      b.mean_hd_percentile = mean_of(m.hdp);
      b.mean_assd = mean_of(m.assd);
      b.mean_nsd = mean_of(m.nsd);
      b.infinite_distances = m.infinite;
      row.label_mean_dice[label] = b.mean_dice;
    }
    s.leaderboard.push_back(std::move(row));
  }
  std::stable_sort(s.leaderboard.begin(), s.leaderboard.end(),
                   [](const LeaderboardRow& a, const LeaderboardRow& b) {
                     const double x = std::isnan(a.mean_dice) ? -1 : a.mean_dice;
                     const double y = std::isnan(b.mean_dice) ? -1 : b.mean_dice;
                     return x > y;
                   });
}

}  // namespace

const char* empty_policy_text(EmptyPolicy p) {
  return p == EmptyPolicy::kOne ? "1" : (p == EmptyPolicy::kZero ? "0" : "nan");
}

std::string case_distance_unit(const CaseResult& c, const RunOptions& o) {
  if (!c.geom.spacing_unit.empty()) return c.geom.spacing_unit;
  if (o.spacing[0] > 0) return "mm";
  // A voxel size without a unit (NIfTI xyzt_units 0, NRRD without space units) is read as mm,
  // as ITK reads it; a picture without a physical size is measured in pixels.
  const std::string& f = c.geom.format;
  return f == "nifti" || f == "nrrd" || f == "metaimage" ? "mm" : "px";
}

std::string distance_unit(const RunResult& result, const RunOptions& o) {
  if (result.cases.empty()) return o.spacing[0] > 0 ? "mm" : "px";
  const std::string first = case_distance_unit(result.cases[0], o);
  for (const CaseResult& c : result.cases)
    if (case_distance_unit(c, o) != first) return "mixed";
  return first;
}

Summary summarize(const RunResult& result, size_t adjudicate_top) {
  Summary s;
  summarize_labels(result, adjudicate_top, s);
  summarize_staple(result, s);
  summarize_leaderboard(result, s);
  keep_worst(s.adjudicate, adjudicate_top);
  return s;
}

}  // namespace maskeval
