// The CSV tables beside report.json: cases.csv, pairs.csv, summary.csv and worklist.csv
// (docs/report.md).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "maskeval/report.h"
#include "report/streamed_file.h"
#include "util/csv.h"
#include "util/external_sort.h"

namespace maskeval {
namespace {

// One line of a table: cells added in the header's order, quoted where needed.
class Row {
 public:
  Row& text(const std::string& s) { return cell(csv_cell(s)); }
  Row& count(uint64_t v) { return cell(std::to_string(v)); }
  Row& number(double v) { return cell(csv_number(v)); }
  // Empty cells, e.g. the boundary columns of an entry without boundary metrics.
  Row& blanks(size_t n) {
    for (size_t i = 0; i < n; ++i) cell("");
    return *this;
  }
  std::string line() const { return line_ + "\n"; }

 private:
  Row& cell(const std::string& s) {
    if (!first_) line_ += ',';
    first_ = false;
    line_ += s;
    return *this;
  }
  std::string line_;
  bool first_ = true;
};

std::string header(const std::vector<std::string>& columns) {
  Row r;
  for (const std::string& c : columns) r.text(c);
  return r.line();
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool is_prediction(const CaseResult& c, const std::string& name) {
  for (const std::string& p : c.predictions)
    if (p == name) return true;
  return false;
}

const char* role(bool prediction) {
  return prediction ? "prediction" : "rater";
}

// --- cases.csv -------------------------------------------------------------------------------

const std::vector<std::string> kScoreBoundary = {"hd",  "hd_percentile",   "assd",
                                                 "nsd", "hd_to_reference", "hd_from_reference"};

void score_case_rows(std::string& out, const CaseResult& c, const RunOptions& o) {
  std::vector<std::string> names = c.raters;
  names.insert(names.end(), c.predictions.begin(), c.predictions.end());
  for (const std::string& name : names) {
    const auto it = c.scores.find(name);
    if (it == c.scores.end()) continue;
    for (const auto& [label, s] : it->second) {
      Row r;
      r.text(c.id).text(name).text(role(is_prediction(c, name)));
      r.text(o.labels.key(label)).text(o.labels.name(label)).text(c.scored_against);
      r.count(s.tp).count(s.fp).count(s.fn).count(s.tn);
      r.number(s.dice).number(s.iou).number(s.sensitivity).number(s.specificity);
      r.number(s.precision).number(s.volume_similarity);
      if (o.distances && s.boundary) {
        const BoundaryMetrics& b = *s.boundary;
        r.number(b.hd).number(b.hd_percentile).number(b.assd).number(b.nsd);
        r.number(b.hd_ab).number(b.hd_ba);
      } else if (o.distances) {
        r.blanks(kScoreBoundary.size());
      }
      out += r.line();
    }
  }
}

// agree and fuse: each rater's volume of the label and its mean Dice against the other raters.
void agreement_case_rows(std::string& out, const CaseResult& c, const RunOptions& o) {
  const size_t n = c.raters.size();
  for (size_t i = 0; i < n; ++i) {
    for (const LabelResult& l : c.labels) {
      double sum = 0;
      size_t defined = 0;
      for (size_t j = 0; j < n; ++j) {
        const double d = l.dice[i * n + j];
        if (j == i || std::isnan(d)) continue;
        sum += d;
        ++defined;
      }
      Row r;
      r.text(c.id).text(c.raters[i]).text(role(false));
      r.text(o.labels.key(l.label)).text(o.labels.name(l.label));
      r.count(l.counts.volume[i]).number(defined ? sum / defined : NAN);
      r.number(n >= 2 ? l.fleiss_kappa : NAN);  // undefined with one rater, whatever the policy
      out += r.line();
    }
  }
}

void write_cases(const std::string& path, const RunResult& result, const RunOptions& o) {
  StreamedFile out(path);
  out.put(cases_csv_header(o));
  for (const CaseResult& c : result.cases) out.put(cases_csv_rows(c, o));
  out.commit();
}

// --- pairs.csv -------------------------------------------------------------------------------

}  // namespace

std::string cases_csv_header(const RunOptions& o) {
  const std::vector<std::string> key = {"case", "rater", "role", "label", "label_name"};
  if (o.command == Command::kScore)
    return header(key +
                  std::vector<std::string>{"scored_against", "tp", "fp", "fn", "tn", "dice", "iou",
                                           "sensitivity", "specificity", "precision",
                                           "volume_similarity"} +
                  (o.distances ? kScoreBoundary : std::vector<std::string>{}));
  return header(key + std::vector<std::string>{"volume", "mean_dice", "fleiss_kappa"});
}

std::string cases_csv_rows(const CaseResult& c, const RunOptions& o) {
  std::string out;
  if (o.command == Command::kScore) {
    score_case_rows(out, c, o);
  } else {
    agreement_case_rows(out, c, o);
  }
  return out;
}

namespace {
const std::vector<std::string> kPairDistances = {"hd",  "hd_percentile", "assd",
                                                 "nsd", "hd_a_to_b",     "hd_b_to_a"};
}  // namespace

std::string pairs_csv_header(bool boundary) {
  return header(std::vector<std::string>{"case", "label", "label_name", "rater_a", "rater_b",
                                         "volume_a", "volume_b", "intersection", "dice", "iou",
                                         "cohen_kappa"} +
                (boundary ? kPairDistances : std::vector<std::string>{}));
}

std::string pairs_csv_rows(const CaseResult& c, const RunOptions& o, bool boundary) {
  std::string out;
  const size_t n = c.raters.size();
  for (const LabelResult& l : c.labels) {
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = a + 1; b < n; ++b) {
        const size_t k = a * n + b;
        Row r;
        r.text(c.id).text(o.labels.key(l.label)).text(o.labels.name(l.label));
        r.text(c.raters[a]).text(c.raters[b]);
        r.count(l.counts.volume[a]).count(l.counts.volume[b]).count(l.counts.intersection[k]);
        r.number(l.dice[k]).number(l.iou[k]).number(l.cohen_kappa[k]);
        if (boundary && l.boundary.empty()) r.blanks(kPairDistances.size());
        if (boundary && !l.boundary.empty()) {
          const BoundaryMetrics& m = l.boundary[k];
          r.number(m.hd).number(m.hd_percentile).number(m.assd).number(m.nsd);
          r.number(m.hd_ab).number(m.hd_ba);
        }
        out += r.line();
      }
    }
  }
  return out;
}

namespace {

bool pairs_have_boundary(const RunResult& result) {
  for (const CaseResult& c : result.cases)
    for (const LabelResult& l : c.labels)
      if (!l.boundary.empty()) return true;
  return false;
}

void write_pairs(const std::string& path, const RunResult& result, const RunOptions& o) {
  StreamedFile out(path);
  const bool boundary = pairs_have_boundary(result);
  out.put(pairs_csv_header(boundary));
  for (const CaseResult& c : result.cases) out.put(pairs_csv_rows(c, o, boundary));
  out.commit();
}

// --- summary.csv -----------------------------------------------------------------------------

void score_summary_rows(StreamedFile& out, const Summary& s, const RunOptions& o) {
  out.put(header(std::vector<std::string>{
                     "label", "label_name", "rater", "role", "cases", "mean_dice", "mean_iou",
                     "mean_sensitivity", "mean_specificity", "mean_precision",
                     "mean_volume_similarity", "tp", "fp", "fn", "pooled_dice", "pooled_iou"} +
                 (o.distances ? std::vector<std::string>{"mean_hd_percentile", "mean_assd",
                                                         "mean_nsd", "infinite_distances"}
                              : std::vector<std::string>{})));
  std::set<LabelId> labels;
  for (const LeaderboardRow& row : s.leaderboard)
    for (const auto& kv : row.labels) labels.insert(kv.first);
  for (const LabelId label : labels) {
    for (const LeaderboardRow& row : s.leaderboard) {  // best first over all labels
      const auto it = row.labels.find(label);
      if (it == row.labels.end()) continue;
      const LabelBoard& b = it->second;
      Row r;
      r.text(o.labels.key(label)).text(o.labels.name(label)).text(row.name);
      r.text(role(row.prediction)).count(b.cases);
      r.number(b.mean_dice).number(b.mean_iou).number(b.mean_sensitivity);
      r.number(b.mean_specificity).number(b.mean_precision).number(b.mean_volume_similarity);
      r.count(b.tp).count(b.fp).count(b.fn).number(b.pooled_dice).number(b.pooled_iou);
      if (o.distances) {
        r.number(b.mean_hd_percentile).number(b.mean_assd).number(b.mean_nsd);
        r.count(b.infinite_distances);
      }
      out.put(r.line());
    }
  }
}

void agreement_summary_rows(StreamedFile& out, const Summary& s, const RunOptions& o) {
  bool boundary = false;
  for (const LabelSummary& l : s.labels) boundary = boundary || l.boundary;
  out.put(header(std::vector<std::string>{"label", "label_name", "rater", "role", "cases",
                                          "rater_mean_dice", "pairs", "mean_dice", "median_dice",
                                          "min_dice", "pooled_dice", "mean_fleiss_kappa"} +
                 (boundary ? std::vector<std::string>{"mean_hd_percentile", "mean_assd", "mean_nsd",
                                                      "infinite_pairs"}
                           : std::vector<std::string>{})));
  for (const LabelSummary& l : s.labels) {
    // A label none of whose raters has a defined Dice still gets its row, without a rater.
    std::vector<std::pair<std::string, double>> raters(l.rater_mean_dice.begin(),
                                                       l.rater_mean_dice.end());
    if (raters.empty()) raters.emplace_back("", NAN);
    for (const auto& [name, mean] : raters) {
      Row r;
      r.text(o.labels.key(l.label)).text(o.labels.name(l.label)).text(name);
      r.text(name.empty() ? "" : role(false)).count(l.cases).number(mean).count(l.pairs);
      r.number(l.mean_dice).number(l.median_dice).number(l.min_dice).number(l.pooled_dice);
      r.number(l.mean_fleiss_kappa);
      if (boundary && l.boundary) {
        r.number(l.mean_hd_percentile).number(l.mean_assd).number(l.mean_nsd);
        r.count(l.infinite_pairs);
      } else if (boundary) {
        r.blanks(4);
      }
      out.put(r.line());
    }
  }
}

void write_summary(const std::string& path, const Summary& s, const RunOptions& o) {
  StreamedFile out(path);
  if (o.command == Command::kScore) {
    score_summary_rows(out, s, o);
  } else {
    agreement_summary_rows(out, s, o);
  }
  out.commit();
}

// --- worklist.csv ----------------------------------------------------------------------------

// One case and label to adjudicate: the mean Dice over its rater pairs (agree, fuse) or over its
// raters and predictions against the reference (score), and the worst pair or entry.
struct WorkItem {
  LabelId label = 0;
  double mean = NAN, worst = NAN;
  std::string a, b;  // the worst pair; score: `a` is the worst rater or prediction
};

// Mean and minimum of the defined Dice values given one by one, with the name(s) of the minimum.
struct Tally {
  double sum = 0, worst = NAN;
  size_t n = 0;
  std::string a, b;
  void add(double d, const std::string& x, const std::string& y) {
    if (std::isnan(d)) return;
    sum += d;
    ++n;
    if (std::isnan(worst) || d < worst) {
      worst = d;
      a = x;
      b = y;
    }
  }
  WorkItem item(LabelId label) const { return {label, n ? sum / n : NAN, worst, a, b}; }
};

void agreement_items(const CaseResult& c, std::vector<WorkItem>& items) {
  const size_t n = c.raters.size();
  for (const LabelResult& l : c.labels) {
    Tally t;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j) t.add(l.dice[i * n + j], c.raters[i], c.raters[j]);
    items.push_back(t.item(l.label));
  }
}

void score_items(const CaseResult& c, std::vector<WorkItem>& items) {
  std::map<LabelId, Tally> by_label;
  for (const auto& [name, scores] : c.scores)
    for (const auto& [label, sc] : scores) by_label[label].add(sc.dice, name, "");
  for (const auto& [label, t] : by_label) items.push_back(t.item(label));
}

// The case's mask files (raters and predictions by name, then the reference), ';'-separated.
std::string mask_paths(const CaseResult& c) {
  std::string s;
  auto add = [&s](const std::string& f) { s += (s.empty() ? "" : ";") + f; };
  for (const auto& [name, files] : c.files)
    for (const std::string& f : files) add(f);
  if (!c.reference_file.empty()) add(c.reference_file);
  return s;
}

// Lowest mean Dice first, undefined figures last (ties stay in case and label order).
struct LowerMean {
  bool operator()(double x, double y) const {
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
    return x < y;
  }
};

// Every case and label ranked, each row written as its case is reached (one pass over the
// cases), sorted in the output folder past a few megabytes.
void write_worklist(const std::string& path, const RunResult& result, const RunOptions& o) {
  const bool score = o.command == Command::kScore;
  ExternalSort<double, LowerMean> rows(o.out_dir, size_t{4} << 20);
  std::vector<WorkItem> items;
  for (const CaseResult& c : result.cases) {
    items.clear();
    if (score) {
      score_items(c, items);
    } else {
      agreement_items(c, items);
    }
    const std::string masks = mask_paths(c);
    for (const WorkItem& w : items) {
      Row r;
      r.text(c.id).text(o.labels.key(w.label)).text(o.labels.name(w.label));
      r.number(w.mean).text(w.a);
      if (!score) r.text(w.b);
      r.number(w.worst).text(masks).text(c.overlay);
      rows.push(w.mean, r.line());
    }
  }
  StreamedFile out(path);
  const std::vector<std::string> key = {"rank", "case", "label", "label_name"};
  const std::vector<std::string> worst =
      score ? std::vector<std::string>{"mean_dice", "worst_rater", "worst_dice"}
            : std::vector<std::string>{"mean_pairwise_dice", "rater_a", "rater_b", "worst_dice"};
  out.put(header(key + worst + std::vector<std::string>{"masks", "overlay"}));
  uint64_t rank = 0;
  rows.for_each([&](const double&, const std::string& line) {
    out.put(std::to_string(++rank) + "," + line);
  });
  out.commit();
}

}  // namespace

std::string csv_number(double v) {
  if (std::isnan(v)) return "";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest that reads back the same
  return std::string(buf, r.ptr);
}

const std::vector<std::string>& csv_table_names() {
  static const std::vector<std::string> names = {"cases.csv", "pairs.csv", "summary.csv",
                                                 "worklist.csv"};
  return names;
}

void write_csv_tables(const std::string& out_dir, const RunResult& result, const Summary& summary,
                      const RunOptions& o) {
  const std::filesystem::path dir(out_dir);
  write_cases((dir / "cases.csv").string(), result, o);
  write_pairs((dir / "pairs.csv").string(), result, o);
  write_summary((dir / "summary.csv").string(), summary, o);
  write_worklist((dir / "worklist.csv").string(), result, o);
}

}  // namespace maskeval
