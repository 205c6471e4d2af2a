// Dataset-level figures from the per-case results, and the unit the distances are in.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "maskeval/report.h"
#include "util/external_sort.h"

namespace maskeval {
namespace {

// The mean of the defined values given, summed in the order given; NaN when there are none.
struct Mean {
  double sum = 0;
  size_t n = 0;
  void add(double x) {
    if (std::isnan(x)) return;
    sum += x;
    ++n;
  }
  void add_even_nan(double x) {  // a NaN makes the mean NaN
    sum += x;
    ++n;
  }
  double value() const { return n ? sum / static_cast<double>(n) : NAN; }
};

// The values a median needs: held up to a few hundred kilobytes, past that sorted in runs in
// the scratch folder (when there is one), so that the memory does not grow with the cases.
class MedianOf {
 public:
  explicit MedianOf(const std::string& scratch) : values_(scratch, size_t{256} << 10) {}
  void add(double x) { values_.push(x); }
  size_t size() const { return static_cast<size_t>(values_.size()); }
  double value() {
    const size_t n = size();
    if (n == 0) return NAN;
    double below = NAN, at = NAN;
    size_t i = 0;
    values_.for_each([&](const double& x, const std::string&) {
      if (i + 1 == n / 2 + (n % 2)) below = x;  // the (n + 1) / 2 th value
      if (i == n / 2) at = x;
      ++i;
    });
    return n % 2 ? at : (below + at) / 2.0;
  }

 private:
  ExternalSort<double, std::less<double>> values_;
};

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

void summarize_labels(const RunResult& result, size_t top, const std::string& scratch, Summary& s) {
  struct Acc {
    explicit Acc(const std::string& scratch) : median_dice(scratch) {}
    size_t cases = 0;
    Mean pair_dice, fleiss, hdp, assd, nsd;
    MedianOf median_dice;
    double min_dice = NAN;
    size_t infinite = 0;
    bool boundary = false;
    std::map<std::string, Mean> rater_dice;
    uint64_t inter = 0, volumes = 0;  // summed over cases and pairs, for the pooled Dice
  };
  std::map<LabelId, Acc> acc;
  for (const CaseResult& c : result.cases) {
    const int n = static_cast<int>(c.raters.size());
    Adjudication adj;
    adj.id = c.id;
    adj.mean_dice = c.mean_pairwise_dice;
    for (const LabelResult& l : c.labels) {
      Acc& a = acc.try_emplace(l.label, scratch).first->second;
      ++a.cases;
      a.fleiss.add(l.fleiss_kappa);  // undefined (fewer than two raters, or by the policy)
      a.boundary = a.boundary || !l.boundary.empty();
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          const double d = l.dice[i * n + j];
          if (i < j) {
            a.inter += l.counts.inter(i, j);
            a.volumes += l.counts.volume[i] + l.counts.volume[j];
          }
          if (i == j || std::isnan(d)) continue;
          a.rater_dice[c.raters[i]].add(d);
          if (j < i) continue;
          a.pair_dice.add(d);
          a.median_dice.add(d);
          if (std::isnan(a.min_dice) || d < a.min_dice) a.min_dice = d;
          if (!l.boundary.empty()) {
            const BoundaryMetrics& b = l.boundary[i * n + j];
            if (std::isinf(b.hd_percentile)) {
              ++a.infinite;
            } else if (!std::isnan(b.hd_percentile)) {
              a.hdp.add(b.hd_percentile);
              a.assd.add(b.assd);
            }
            a.nsd.add(b.nsd);
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
    ls.pairs = a.pair_dice.n;
    ls.mean_dice = a.pair_dice.value();
    ls.median_dice = a.median_dice.value();
    ls.min_dice = a.min_dice;
    ls.mean_fleiss_kappa = a.fleiss.value();
    if (a.volumes > 0) ls.pooled_dice = 2.0 * static_cast<double>(a.inter) / a.volumes;
    ls.mean_hd_percentile = a.hdp.value();
    ls.mean_assd = a.assd.value();
    ls.mean_nsd = a.nsd.value();
    ls.infinite_pairs = a.infinite;
    ls.boundary = a.boundary;
    for (const auto& [rater, v] : a.rater_dice) ls.rater_mean_dice[rater] = v.value();
    s.labels.push_back(std::move(ls));
  }
}

// STAPLE's estimates per rater.
void summarize_staple(const RunResult& result, Summary& s) {
  struct Estimates {
    size_t cases = 0;
    Mean sensitivity, specificity, measured_sensitivity, measured_specificity;
  };
  std::map<LabelId, std::map<std::string, Estimates>> est;
  for (const CaseResult& c : result.cases) {
    for (const StapleLabel& sl : c.staple) {
      for (size_t i = 0; i < c.raters.size(); ++i) {
        Estimates& v = est[sl.label][c.raters[i]];
        ++v.cases;
        v.sensitivity.add_even_nan(sl.result.sensitivity[i]);
        v.specificity.add_even_nan(sl.result.specificity[i]);
        if (i < sl.measured.size()) {
          v.measured_sensitivity.add(sl.measured[i].sensitivity);
          v.measured_specificity.add(sl.measured[i].specificity);
        }
      }
    }
  }
  for (const auto& [label, raters] : est) {
    for (const auto& [name, v] : raters) {
      StapleRaterSummary r;
      r.cases = v.cases;
      r.sensitivity = v.sensitivity.value();
      r.specificity = v.specificity.value();
      r.measured_sensitivity = v.measured_sensitivity.value();
      r.measured_specificity = v.measured_specificity.value();
      s.staple_raters[label][name] = r;
    }
  }
}

// Scores of one rater or prediction, over cases and labels or over the cases of one label.
struct Means {
  Mean dice, iou, sens, spec, prec, vs, hdp, assd, nsd;
  size_t infinite = 0;
  size_t cases = 0;
  uint64_t tp = 0, fp = 0, fn = 0;

  void add(const Score& sc) {
    dice.add(sc.dice);
    iou.add(sc.iou);
    sens.add(sc.sensitivity);
    spec.add(sc.specificity);
    prec.add(sc.precision);
    vs.add(sc.volume_similarity);
    tp += sc.tp;
    fp += sc.fp;
    fn += sc.fn;
    if (!sc.boundary) return;
    if (std::isinf(sc.boundary->hd_percentile)) {
      ++infinite;
    } else {
      hdp.add(sc.boundary->hd_percentile);
      assd.add(sc.boundary->assd);
    }
    nsd.add(sc.boundary->nsd);
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
    row.mean_dice = e.all.dice.value();
    row.mean_iou = e.all.iou.value();
    row.mean_sensitivity = e.all.sens.value();
    row.mean_precision = e.all.prec.value();
    row.mean_hd_percentile = e.all.hdp.value();
    row.mean_assd = e.all.assd.value();
    row.mean_nsd = e.all.nsd.value();
    row.infinite_distances = e.all.infinite;
    for (const auto& [label, m] : e.by_label) {
      LabelBoard& b = row.labels[label];
      b.cases = m.cases;
      b.mean_dice = m.dice.value();
      b.mean_iou = m.iou.value();
      b.mean_sensitivity = m.sens.value();
      b.mean_specificity = m.spec.value();
      b.mean_precision = m.prec.value();
      b.mean_volume_similarity = m.vs.value();
      b.tp = m.tp;
      b.fp = m.fp;
      b.fn = m.fn;
      if (m.tp + m.fp + m.fn > 0) {
        b.pooled_dice = 2.0 * m.tp / static_cast<double>(2 * m.tp + m.fp + m.fn);
        b.pooled_iou = m.tp / static_cast<double>(m.tp + m.fp + m.fn);
      }
      b.mean_hd_percentile = m.hdp.value();
      b.mean_assd = m.assd.value();
      b.mean_nsd = m.nsd.value();
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

Summary summarize(const RunResult& result, size_t adjudicate_top, const std::string& scratch) {
  Summary s;
  summarize_labels(result, adjudicate_top, scratch, s);
  summarize_staple(result, s);
  summarize_leaderboard(result, s);
  keep_worst(s.adjudicate, adjudicate_top);
  return s;
}

}  // namespace maskeval
