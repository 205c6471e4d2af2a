// Tonight against the baseline: the figures side by side, cases added, removed and moved, drift.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <set>

#include "maskeval/baseline.h"
#include "maskeval/report.h"
#include "report/report_cases.h"
#include "report/streamed_file.h"
#include "util/csv.h"
#include "util/external_sort.h"

namespace maskeval {

// Where a case sorts among the moved ones: defined before undefined, the largest |delta| first,
// then tonight's order.
struct MovedKey {
  uint64_t undefined = 0;
  double size = 0;
  uint64_t rank = 0;
};
struct MovedFirst {
  bool operator()(const MovedKey& a, const MovedKey& b) const {
    if (a.undefined != b.undefined) return a.undefined < b.undefined;
    if (!a.undefined && a.size != b.size) return a.size > b.size;
    return a.rank < b.rank;
  }
};
// Each case's payload: its figure before and now (8 bytes each), then its id.
class MovedCases : public ExternalSort<MovedKey, MovedFirst> {
 public:
  using ExternalSort::ExternalSort;
};

namespace {

std::string moved_payload(const FigureChange& c) {
  std::string out(16, '\0');
  std::memcpy(&out[0], &c.before, 8);
  std::memcpy(&out[8], &c.now, 8);
  return out + c.item;
}

FigureChange moved_change(const std::string& payload, const std::string& figure) {
  FigureChange c{"case", payload.substr(16), std::nullopt, figure, 0, 0};
  std::memcpy(&c.before, payload.data(), 8);
  std::memcpy(&c.now, payload.data() + 8, 8);
  return c;
}

// The kept cases (at most BaselineComparison::kMovedHeld), as a heap whose top sorts last.
class MovedMost {
 public:
  void add(const MovedKey& key, const FigureChange& change) {
    if (heap_.size() == BaselineComparison::kMovedHeld && !MovedFirst()(key, heap_.front().key))
      return;
    heap_.push_back({key, change});
    std::push_heap(heap_.begin(), heap_.end(), later);
    if (heap_.size() > BaselineComparison::kMovedHeld) {
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
    }
  }
  std::vector<FigureChange> in_order() {
    std::sort_heap(heap_.begin(), heap_.end(), later);
    std::vector<FigureChange> out;
    out.reserve(heap_.size());
    for (Held& h : heap_) out.push_back(std::move(h.change));
    return out;
  }

 private:
  struct Held {
    MovedKey key;
    FigureChange change;
  };
  static bool later(const Held& a, const Held& b) { return MovedFirst()(a.key, b.key); }
  std::vector<Held> heap_;
};

void add(std::vector<NamedFigure>& out, const std::string& scope, const std::string& item,
         std::optional<LabelId> label, const std::string& figure, double v) {
  out.push_back({scope, item, label, figure, v});
}

void label_figures(const LabelSummary& l, std::vector<NamedFigure>& out) {
  add(out, "dataset", "", l.label, "mean_dice", l.mean_dice);
  add(out, "dataset", "", l.label, "median_dice", l.median_dice);
  add(out, "dataset", "", l.label, "min_dice", l.min_dice);
  add(out, "dataset", "", l.label, "pooled_dice", l.pooled_dice);
  add(out, "dataset", "", l.label, "mean_fleiss_kappa", l.mean_fleiss_kappa);
  add(out, "dataset", "", l.label, "cases", static_cast<double>(l.cases));
  if (!l.boundary) return;
  add(out, "dataset", "", l.label, "mean_hd_percentile", l.mean_hd_percentile);
  add(out, "dataset", "", l.label, "mean_assd", l.mean_assd);
  add(out, "dataset", "", l.label, "mean_nsd", l.mean_nsd);
  add(out, "dataset", "", l.label, "infinite_pairs", static_cast<double>(l.infinite_pairs));
}

void row_figures(const LeaderboardRow& r, std::vector<NamedFigure>& out) {
  const std::optional<LabelId> none;
  add(out, "rater", r.name, none, "mean_dice", r.mean_dice);
  add(out, "rater", r.name, none, "mean_iou", r.mean_iou);
  add(out, "rater", r.name, none, "mean_sensitivity", r.mean_sensitivity);
  add(out, "rater", r.name, none, "mean_precision", r.mean_precision);
  add(out, "rater", r.name, none, "mean_hd_percentile", r.mean_hd_percentile);
  add(out, "rater", r.name, none, "mean_assd", r.mean_assd);
  add(out, "rater", r.name, none, "mean_nsd", r.mean_nsd);
  for (const auto& [id, b] : r.labels) {
    add(out, "rater", r.name, id, "mean_dice", b.mean_dice);
    add(out, "rater", r.name, id, "mean_iou", b.mean_iou);
    add(out, "rater", r.name, id, "mean_sensitivity", b.mean_sensitivity);
    add(out, "rater", r.name, id, "mean_precision", b.mean_precision);
    add(out, "rater", r.name, id, "pooled_dice", b.pooled_dice);
    add(out, "rater", r.name, id, "pooled_iou", b.pooled_iou);
    add(out, "rater", r.name, id, "mean_hd_percentile", b.mean_hd_percentile);
    add(out, "rater", r.name, id, "mean_nsd", b.mean_nsd);
  }
}

std::string key_of(const std::string& scope, const std::string& item, std::optional<LabelId> label,
                   const std::string& figure) {
  return scope + '\x1f' + item + '\x1f' + (label ? std::to_string(*label) : "") + '\x1f' + figure;
}

// The asymptotic Kolmogorov distribution's tail Q(x) = 2 sum (-1)^(k-1) exp(-2 k^2 x^2), and
// for small x its equivalent 1 - sqrt(2 pi)/x sum exp(-(2k-1)^2 pi^2 / (8 x^2)).
double kolmogorov_tail(double x) {
  if (x <= 0) return 1;
  double s = 0;
  if (x < 1.18) {
    for (int k = 1; k <= 20; ++k)
      s += std::exp(-(2 * k - 1) * (2 * k - 1) * M_PI * M_PI / (8 * x * x));
    return std::clamp(1 - std::sqrt(2 * M_PI) / x * s, 0.0, 1.0);
  }
  for (int k = 1; k <= 100; ++k) s += (k % 2 ? 2 : -2) * std::exp(-2.0 * k * k * x * x);
  return std::clamp(s, 0.0, 1.0);
}

// P(D >= D_observed) when the two samples come from one distribution: one minus the
// probability that a uniformly random merge order of n and m values keeps |i m - j n| below
// `limit` (= D_observed n m) at every step.
double exact_ks_p(size_t n, size_t m, int64_t limit) {
  std::vector<double> row(m + 1, 0.0), next(m + 1, 0.0);
  auto inside = [&](size_t i, size_t j) {
    return std::llabs(static_cast<int64_t>(i * m) - static_cast<int64_t>(j * n)) < limit;
  };
  row[0] = 1;
  for (size_t i = 0; i <= n; ++i) {
    std::fill(next.begin(), next.end(), 0.0);
    for (size_t j = 0; j <= m; ++j) {
      if (!inside(i, j)) row[j] = 0;
      if (row[j] == 0) continue;
      const double left = static_cast<double>(n - i + m - j);
      if (i < n) next[j] += row[j] * static_cast<double>(n - i) / left;
      if (j < m) row[j + 1] += row[j] * static_cast<double>(m - j) / left;
    }
    if (i < n) row.swap(next);
  }
  return std::clamp(1 - row[m], 0.0, 1.0);
}

// The figure of one change for the terminal: 4 significant digits.
std::string short_number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

std::vector<NamedFigure> run_figures(const Summary& summary) {
  std::vector<NamedFigure> out;
  for (const LabelSummary& l : summary.labels) label_figures(l, out);
  for (const LeaderboardRow& r : summary.leaderboard) row_figures(r, out);
  for (const LabelSummary& l : summary.labels)
    for (const auto& [rater, v] : l.rater_mean_dice)
      add(out, "rater", rater, l.label, "rater_mean_dice", v);
  return out;
}

std::string case_figure_name(Command command) {
  return command == Command::kScore ? "mean_dice" : "mean_pairwise_dice";
}

double case_figure(const CaseResult& c, Command command) {
  if (command != Command::kScore) return c.mean_pairwise_dice;
  double sum = 0;
  size_t n = 0;
  for (const auto& kv : c.scores)
    for (const auto& [id, s] : kv.second)
      if (!is_region(id) && !std::isnan(s.dice)) {
        sum += s.dice;
        ++n;
      }
  return n ? sum / n : NAN;
}

std::vector<double> case_volumes(const RunResult& result, LabelId label, const RunOptions& o) {
  std::vector<double> out;
  for (const CaseResult& c : result.cases) {
    double voxel = 1;
    for (int a = 0; a < c.geom.ndim; ++a) voxel *= c.geom.spacing[a];
    double v = 0;
    if (o.command == Command::kScore) {
      for (const auto& kv : c.scores) {
        const auto it = kv.second.find(label);
        if (it != kv.second.end()) v = static_cast<double>(it->second.tp + it->second.fn);
        if (it != kv.second.end()) break;
      }
    } else {
      for (const LabelResult& l : c.labels)
        if (l.label == label && !l.counts.volume.empty()) {
          for (const uint64_t x : l.counts.volume) v += static_cast<double>(x);
          v /= static_cast<double>(l.counts.volume.size());
        }
    }
    if (v > 0) out.push_back(v * voxel);
  }
  return out;
}

std::string volume_unit(const RunResult& result) {
  if (result.cases.empty()) return "voxels";
  const CaseResult& c = result.cases.front();
  if (c.geom.spacing_unit.empty()) return c.geom.format == "png" ? "px" : "voxels";
  return c.geom.spacing_unit + "^" + std::to_string(c.geom.ndim);
}

std::pair<double, double> ks_two_sample(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) return {NAN, NAN};
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const size_t n = a.size(), m = b.size();
  size_t i = 0, j = 0;
  int64_t most = 0;  // max |i m - j n| after each distinct value (ties step together)
  while (i < n || j < m) {
    const double x = j >= m || (i < n && a[i] <= b[j]) ? a[i] : b[j];
    while (i < n && a[i] == x) ++i;
    while (j < m && b[j] == x) ++j;
    most = std::max<int64_t>(most,
                             std::llabs(static_cast<int64_t>(i * m) - static_cast<int64_t>(j * n)));
  }
  const double d = static_cast<double>(most) / static_cast<double>(n * m);
  if (n * m <= 10000) return {d, exact_ks_p(n, m, most)};
  const double en = std::sqrt(static_cast<double>(n * m) / static_cast<double>(n + m));
  return {d, kolmogorov_tail((en + 0.12 + 0.11 / en) * d)};
}

BaselineComparison BaselineRun::compare(const RunResult& now, const Summary& now_summary) const {
  BaselineComparison c;
  c.path = path_;
  c.sha256 = sha256_;
  c.version = version_;
  c.command_line = command_line_;
  c.cases_before = result_->cases.size();
  c.cases_now = now.cases.size();
  const std::vector<NamedFigure> before = run_figures(*summary_), after = run_figures(now_summary);
  std::map<std::string, double> old;
  for (const NamedFigure& f : before) old[key_of(f.scope, f.item, f.label, f.figure)] = f.value;
  std::set<std::string> seen;
  for (const NamedFigure& f : after) {
    const std::string k = key_of(f.scope, f.item, f.label, f.figure);
    seen.insert(k);
    const auto it = old.find(k);
    c.changes.push_back(
        {f.scope, f.item, f.label, f.figure, it == old.end() ? NAN : it->second, f.value});
  }
  for (const NamedFigure& f : before)
    if (!seen.count(key_of(f.scope, f.item, f.label, f.figure)))
      c.changes.push_back({f.scope, f.item, f.label, f.figure, f.value, NAN});
  const std::string figure = case_figure_name(options_.command);
  c.all_moved = std::make_shared<MovedCases>(options_.out_dir, size_t{4} << 20);
  MovedMost most;
  std::vector<bool> found(cases_->size());  // by the baseline's index
  for (auto x = now.cases.begin(); x != now.cases.end(); ++x) {
    const std::optional<size_t> at = cases_->find(x->id);
    if (!at) {
      c.cases_added.push_back(x->id);
      continue;
    }
    found[*at] = true;
    const FigureChange change{"case",
                              x->id,
                              std::nullopt,
                              figure,
                              case_figure(result_->cases[*at], options_.command),
                              case_figure(*x, options_.command)};
    const double size = std::fabs(change.delta());
    const MovedKey key{std::isnan(size) ? 1u : 0u, std::isnan(size) ? 0 : size, x.index()};
    c.all_moved->push(key, moved_payload(change));
    most.add(key, change);
  }
  c.moved = most.in_order();
  c.moved_count = c.all_moved->size();
  for (size_t i = 0; i < cases_->size(); ++i)  // a doubled id: found as its last
    if (!found[*cases_->find(cases_->id(i))]) c.cases_removed.push_back(cases_->id(i));
  std::set<LabelId> ids;
  for (const Summary* s : {static_cast<const Summary*>(summary_.get()), &now_summary})
    for (const LabelSummary& l : s->labels) ids.insert(l.label);
  for (const RunResult* r : {static_cast<const RunResult*>(result_.get()), &now})
    for (const CaseResult& x : r->cases)
      for (const auto& kv : x.scores)
        for (const auto& ls : kv.second) ids.insert(ls.first);
  for (const LabelId id : ids) c.drift.push_back(drift(id, now));
  return c;
}

void write_baseline_csv(const std::string& out_dir, const BaselineComparison& b,
                        const RunOptions& o) {
  StreamedFile f((std::filesystem::path(out_dir) / "baseline.csv").string());
  f.put("scope,item,label,label_name,figure,before,now,delta\n");
  auto row = [&](const std::string& scope, const std::string& item, std::optional<LabelId> label,
                 const std::string& figure, double before, double now) {
    f.put(csv_cell(scope) + "," + csv_cell(item) + "," +
          (label ? csv_cell(o.labels.key(*label)) : "") + "," +
          (label ? csv_cell(o.labels.name(*label)) : "") + "," + csv_cell(figure) + "," +
          csv_number(before) + "," + csv_number(now) + "," + csv_number(now - before) + "\n");
  };
  for (const FigureChange& x : b.changes) row(x.scope, x.item, x.label, x.figure, x.before, x.now);
  if (b.all_moved) {
    const std::string figure = case_figure_name(o.command);
    b.all_moved->for_each([&](const MovedKey&, const std::string& payload) {
      const FigureChange x = moved_change(payload, figure);
      row("case", x.item, std::nullopt, x.figure, x.before, x.now);
    });
  } else {
    for (const FigureChange& x : b.moved)
      row("case", x.item, std::nullopt, x.figure, x.before, x.now);
  }
  for (const std::string& id : b.cases_added) row("case", id, std::nullopt, "added", NAN, 1);
  for (const std::string& id : b.cases_removed) row("case", id, std::nullopt, "removed", 1, NAN);
  for (const LabelDrift& d : b.drift) {
    row("drift", "", d.label, "cases", static_cast<double>(d.cases_before),
        static_cast<double>(d.cases_now));
    row("drift", "", d.label, "median_volume", d.median_before, d.median_now);
    row("drift", "", d.label, "ks_d", NAN, d.d);
    row("drift", "", d.label, "ks_p", NAN, d.p);
  }
  f.commit();
}

void print_baseline(std::ostream& out, const BaselineComparison& b, const RunOptions& o) {
  out << "\nagainst the baseline " << b.path << ": " << b.cases_before << " -> " << b.cases_now
      << " cases (" << b.cases_added.size() << " added, " << b.cases_removed.size()
      << " removed)\n";
  std::vector<const FigureChange*> big;  // mean Dice: per label, and each rater's
  for (const FigureChange& x : b.changes)
    if ((x.figure == "mean_dice" || x.figure == "rater_mean_dice") && !std::isnan(x.delta()) &&
        x.delta() != 0)
      big.push_back(&x);
  std::stable_sort(big.begin(), big.end(), [](const FigureChange* x, const FigureChange* y) {
    return std::fabs(x->delta()) > std::fabs(y->delta());
  });
  if (big.empty()) out << "  every mean Dice as in the baseline\n";
  for (size_t i = 0; i < big.size() && i < 5; ++i) {
    const FigureChange& x = *big[i];
    out << "  " << (x.item.empty() ? "" : x.item + " ") << x.figure
        << (x.label ? "[" + o.labels.name(*x.label) + "]" : "") << " " << short_number(x.before)
        << " -> " << short_number(x.now) << " (" << (x.delta() >= 0 ? "+" : "")
        << short_number(x.delta()) << ")\n";
  }
  for (size_t i = 0; i < b.moved.size() && i < 3; ++i) {
    const FigureChange& m = b.moved[i];
    if (std::isnan(m.delta()) || m.delta() == 0) break;
    out << "  moved most: " << m.item << " " << m.figure << " " << short_number(m.before) << " -> "
        << short_number(m.now) << "\n";
  }
  for (const LabelDrift& d : b.drift)
    if (d.p < 0.05)
      out << "  drift: " << o.labels.name(d.label) << " volumes (" << d.cases_before << " -> "
          << d.cases_now << " cases, median " << short_number(d.median_before) << " -> "
          << short_number(d.median_now) << " " << d.unit << ") KS D " << short_number(d.d) << ", p "
          << short_number(d.p) << "\n";
}

}  // namespace maskeval
