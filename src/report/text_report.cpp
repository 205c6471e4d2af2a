// The summary table printed at the end of a run.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "maskeval/report.h"

namespace maskeval {
namespace {

std::string fixed(double v, size_t width = 7) {
  char buf[64];
  const int w = static_cast<int>(width);
  if (std::isnan(v)) {
    std::snprintf(buf, sizeof buf, "%*s", w, "-");
  } else {
    std::snprintf(buf, sizeof buf, "%*.3f", w, v);
  }
  return buf;
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string right(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A label or region as the table names it: its name, with its key when they differ
// ("kidney (1)").
std::string label_text(const RunOptions& o, LabelId id) {
  const std::string name = o.labels.name(id), key = o.labels.key(id);
  return name == key ? name : name + " (" + key + ")";
}

// The boundary columns: the Hausdorff percentile and ASSD with their unit, NSD (a fraction).
// Each is at least as wide as a figure and set off by two spaces.
struct DistanceColumns {
  std::vector<std::string> headings;

  DistanceColumns(double percentile, const std::string& unit) {
    headings = {"HD" + number_text(percentile) + " (" + unit + ")", "ASSD (" + unit + ")", "NSD"};
  }
  size_t width(size_t i) const { return std::max<size_t>(7, headings[i].size()); }
  std::string heading() const {
    std::string s;
    for (size_t i = 0; i < headings.size(); ++i) s += "  " + right(headings[i], width(i));
    return s;
  }
  std::string cells(double hd_percentile, double assd, double nsd) const {
    return "  " + fixed(hd_percentile, width(0)) + "  " + fixed(assd, width(1)) + "  " +
           fixed(nsd, width(2));
  }
};

// A length in the run's unit: "1 mm"; "1 (each case's unit)" when the cases differ.
std::string length(double v, const std::string& unit) {
  return number_text(v) + (unit == "mixed" ? " (each case's unit)" : " " + unit);
}

double nsd_tolerance_of(const RunOptions& o, LabelId label) {
  const auto it = o.nsd_tolerance_by_label.find(label);
  return it == o.nsd_tolerance_by_label.end() ? o.distance.nsd_tolerance : it->second;
}

// The first lines (the run; how distances are measured), and a warning when the cases' distances
// are in different units.
void print_heading(std::ostream& out, const RunResult& result, const RunOptions& o,
                   const std::string& unit) {
  out << "maskeval "
      << (o.command == Command::kFuse ? "fuse" : (o.command == Command::kScore ? "score" : "agree"))
      << ": " << result.cases.size() << (result.cases.size() == 1 ? " case, " : " cases, ")
      << result.failed.size() << " failed"
      << (result.aborted ? " (stopped at the first bad case: --strict)" : "") << "; backend "
      << result.backend << "; both-empty masks score " << empty_policy_text(o.empty);
  if (o.distances) {
    out << "\ndistances: " << convention_name(o.distance.convention) << " convention, in " << unit
        << (unit == "mixed" ? " units" : "");
    if (unit == "px") out << " (the files give no physical size)";
    out << ", NSD at " << length(o.distance.nsd_tolerance, unit);
    for (const auto& [label, t] : o.nsd_tolerance_by_label)
      out << " (" << label_text(o, label) << ": " << length(t, unit) << ")";
  }
  if (o.labels.ignore) {
    uint64_t ignored = 0;
    for (const CaseResult& c : result.cases) ignored += c.ignored_voxels.value_or(0);
    out << "\nignore label " << *o.labels.ignore << ": " << ignored << " voxels left out ("
        << (o.command == Command::kScore && o.against == ScoreAgainst::kReference
                ? "where the reference carries it"
                : "where any rater carries it")
        << ")";
  }
  out << "\n";
  if (o.distances && unit == "mixed") {
    std::map<std::string, size_t> units;
    for (const CaseResult& c : result.cases) ++units[case_distance_unit(c, o)];
    out << "warning: the cases' distances are in different units (";
    const char* sep = "";
    for (const auto& [u, n] : units) {
      out << sep << u << ": " << n << (n == 1 ? " case" : " cases");
      sep = ", ";
    }
    out << ");\n  the means below mix them (each case's unit is its distance_unit in the report)\n";
  }
  out << "\n";
}

// The boundary means of the rater pairs per label (agree --distances), after the agreement
// columns or, when the line would not fit in 100 columns, in a table of their own.
void print_label_distances(std::ostream& out, const LabelSummary& l, const DistanceColumns& dist) {
  out << dist.cells(l.mean_hd_percentile, l.mean_assd, l.mean_nsd);
}

// Agreement of the rater pairs per label: mean, median and min of their Dice over all pairs of
// all cases, the pooled Dice (the dataset as one image) and the mean Fleiss' kappa.
void print_labels(std::ostream& out, const Summary& summary, const RunOptions& o,
                  const std::string& unit) {
  bool boundary = false;
  size_t width = 6;
  for (const LabelSummary& l : summary.labels) {
    boundary = boundary || l.boundary;
    width = std::max(width, label_text(o, l.label).size());
  }
  const DistanceColumns dist(o.distance.percentile, unit);
  const bool one_table = width + 62 + dist.heading().size() <= 100;
  out << pad("label", width) << "  cases  pairs  mean Dice  median     min  pooled  mean Fleiss"
      << (boundary && one_table ? dist.heading() : "") << "\n";
  for (const LabelSummary& l : summary.labels) {
    char line[160];
    std::snprintf(line, sizeof line, " %6zu %6zu    %s %s %s %s      %s", l.cases, l.pairs,
                  fixed(l.mean_dice).c_str(), fixed(l.median_dice).c_str(),
                  fixed(l.min_dice).c_str(), fixed(l.pooled_dice).c_str(),
                  fixed(l.mean_fleiss_kappa).c_str());
    out << pad(label_text(o, l.label), width) << line;
    if (boundary && one_table) print_label_distances(out, l, dist);
    out << "\n";
  }
  if (boundary && !one_table) {
    out << "\n" << pad("label", width) << dist.heading() << "\n";
    for (const LabelSummary& l : summary.labels) {
      out << pad(label_text(o, l.label), width);
      print_label_distances(out, l, dist);
      out << "\n";
    }
  }
  for (const LabelSummary& l : summary.labels)
    if (l.infinite_pairs)
      out << "label " << label_text(o, l.label) << ": " << l.infinite_pairs
          << (l.infinite_pairs == 1 ? " pair" : " pairs")
          << " with one mask empty, left out of the HD and ASSD means\n";
  for (const LabelSummary& l : summary.labels) {
    if (l.rater_mean_dice.empty()) continue;
    size_t w = 5;
    for (const auto& kv : l.rater_mean_dice) w = std::max(w, kv.first.size());
    out << "\nlabel " << label_text(o, l.label) << ": each rater's mean Dice against the others\n";
    for (const auto& [rater, v] : l.rater_mean_dice)
      out << "  " << pad(rater, w) << " " << fixed(v) << "\n";
  }
}

void print_staple(std::ostream& out, const Summary& summary, const RunOptions& o) {
  for (const auto& [label, raters] : summary.staple_raters) {
    size_t width = 5;
    for (const auto& kv : raters) width = std::max(width, kv.first.size());
    out << "\nlabel " << label_text(o, label)
        << ": STAPLE's estimate of each rater (mean over cases), and as measured against the "
           "reference\n  "
        << pad("rater", width) << "  sensitivity  specificity   measured: sens     spec\n";
    for (const auto& [name, r] : raters)
      out << "  " << pad(name, width) << "      " << fixed(r.sensitivity) << "      "
          << fixed(r.specificity) << "             " << fixed(r.measured_sensitivity) << "  "
          << fixed(r.measured_specificity) << "\n";
  }
}

// A leaderboard row's name, with the marker of a prediction.
std::string board_name(const LeaderboardRow& row) {
  return row.prediction ? row.name + " *" : row.name;
}

size_t board_name_width(const Summary& summary) {
  size_t width = 4;
  for (const LeaderboardRow& row : summary.leaderboard)
    width = std::max(width, board_name(row).size());
  return width;
}

// Under a leaderboard: who had infinite distances (one mask empty), left out of the means.
void print_infinite_notes(std::ostream& out,
                          const std::vector<std::pair<std::string, size_t>>& infinite,
                          const char* what) {
  for (const auto& [name, n] : infinite)
    if (n)
      out << "  " << name << ": " << n << " " << what << (n == 1 ? "" : "s")
          << " with one mask empty, left out of the HD and ASSD means\n";
}

void print_leaderboard(std::ostream& out, const Summary& summary, const RunOptions& o,
                       const std::string& against, const std::string& unit) {
  const size_t width = board_name_width(summary);
  const DistanceColumns dist(o.distance.percentile, unit);
  out << "\nleaderboard against the " << against << " (mean over cases and labels)\n  "
      << pad("name", width) << "   cases     Dice      IoU  sensitivity  precision"
      << (o.distances ? dist.heading() : "") << "\n";
  bool predictions = false;
  std::vector<std::pair<std::string, size_t>> infinite;
  for (const LeaderboardRow& row : summary.leaderboard) {
    predictions = predictions || row.prediction;
    infinite.emplace_back(board_name(row), row.infinite_distances);
    char cases[32];
    std::snprintf(cases, sizeof cases, "%7zu", row.cases);
    out << "  " << pad(board_name(row), width) << " " << cases << "  " << fixed(row.mean_dice)
        << "  " << fixed(row.mean_iou) << "      " << fixed(row.mean_sensitivity) << "    "
        << fixed(row.mean_precision);
    if (o.distances) out << dist.cells(row.mean_hd_percentile, row.mean_assd, row.mean_nsd);
    out << "\n";
  }
  print_infinite_notes(out, infinite, "score");
  if (predictions)
    out << "  * a prediction (--prediction, or role=prediction in a manifest): scored like a "
           "rater,\n    never part of a consensus\n";
}

// One row of a label's leaderboard: the case means, the pooled Dice and IoU, the boundary means.
void print_label_board_row(std::ostream& out, const LeaderboardRow& row, const LabelBoard& b,
                           size_t width, const RunOptions& o, const DistanceColumns& dist) {
  char cases[32];
  std::snprintf(cases, sizeof cases, "%7zu", b.cases);
  out << "  " << pad(board_name(row), width) << " " << cases << "  " << fixed(b.mean_dice, 5)
      << "  " << fixed(b.mean_iou, 5) << "  " << fixed(b.mean_sensitivity, 5) << "  "
      << fixed(b.mean_precision, 5) << "  " << fixed(b.pooled_dice, 12) << "  "
      << fixed(b.pooled_iou, 5);
  if (o.distances) out << dist.cells(b.mean_hd_percentile, b.mean_assd, b.mean_nsd);
  out << "\n";
}

// A leaderboard per label or region, best first by its mean Dice: the means over the cases in
// which it was scored and the pooled figures (TP, FP, FN summed over those cases).
void print_label_leaderboards(std::ostream& out, const Summary& summary, const RunOptions& o,
                              const std::string& against, const std::string& unit) {
  std::map<LabelId, std::vector<const LeaderboardRow*>> by_label;
  for (const LeaderboardRow& row : summary.leaderboard)
    for (const auto& kv : row.labels) by_label[kv.first].push_back(&row);
  if (by_label.empty()) return;
  const size_t width = board_name_width(summary);
  const DistanceColumns dist(o.distance.percentile, unit);
  for (auto& [label, rows] : by_label) {
    const LabelId l = label;
    auto dice_of = [l](const LeaderboardRow* r) {
      const double d = r->labels.at(l).mean_dice;
      return std::isnan(d) ? -1.0 : d;
    };
    std::stable_sort(
        rows.begin(), rows.end(),
        [&](const LeaderboardRow* a, const LeaderboardRow* b) { return dice_of(a) > dice_of(b); });
    out << "\nlabel " << label_text(o, label) << ": leaderboard against the " << against;
    if (o.distances) out << " (NSD at " << length(nsd_tolerance_of(o, label), unit) << ")";
    out << "\n  " << pad("name", width)
        << "   cases   Dice    IoU   sens   prec  pooled: Dice    IoU"
        << (o.distances ? dist.heading() : "") << "\n";
    std::vector<std::pair<std::string, size_t>> infinite;
    for (const LeaderboardRow* row : rows) {
      print_label_board_row(out, *row, row->labels.at(label), width, o, dist);
      infinite.emplace_back(board_name(*row), row->labels.at(label).infinite_distances);
    }
    print_infinite_notes(out, infinite, "case");
  }
  out << "  (per label: means over the cases in which it was scored; sens = sensitivity, prec =\n"
         "  precision; pooled: Dice and IoU of the TP, FP, FN summed over those cases)\n";
}

void print_tail(std::ostream& out, const RunResult& result, const Summary& summary,
                const RunOptions& o) {
  size_t with_reference = 0, identical = 0;
  uint64_t differing = 0;
  for (const CaseResult& c : result.cases) {
    if (!c.majority || !c.majority->has_reference) continue;
    ++with_reference;
    identical += c.majority->mismatched == 0;
    differing += c.majority->mismatched;
  }
  if (with_reference > 0)
    out << "\nmajority vs reference: " << identical << " of " << with_reference
        << " cases identical; " << differing << " voxels differ in all\n";
  if (!summary.adjudicate.empty()) {
    size_t width = 4;
    for (const Adjudication& a : summary.adjudicate) width = std::max(width, a.id.size());
    out << "\ncases that most need adjudication (lowest mean pairwise Dice)\n";
    for (const Adjudication& a : summary.adjudicate)
      out << "  " << pad(a.id, width) << " " << fixed(a.mean_dice) << "   worst: label "
          << label_text(o, a.worst_label) << ", " << a.rater_a << " vs " << a.rater_b
          << fixed(a.worst_dice) << "\n";
  }
  if (!result.failed.empty()) {
    out << "\nfailed cases (skipped)\n";
    for (const FailedCase& f : result.failed)
      out << "  " << f.id << ": " << (f.file.empty() ? "" : f.file + ": ") << f.reason << "\n";
  }
}

}  // namespace

void print_summary(std::ostream& out, const RunResult& result, const Summary& summary,
                   const RunOptions& o, const std::string& report_path) {
  const std::string unit = distance_unit(result, o);
  print_heading(out, result, o, unit);
  if (!summary.labels.empty()) print_labels(out, summary, o, unit);
  print_staple(out, summary, o);
  if (!summary.leaderboard.empty()) {
    const std::string against = result.cases.empty() ? "" : result.cases[0].scored_against;
    print_leaderboard(out, summary, o, against, unit);
    print_label_leaderboards(out, summary, o, against, unit);
  }
  print_tail(out, result, summary, o);
  print_gates(out, summary.gates);
  if (summary.baseline) print_baseline(out, *summary.baseline, o);
  out << "\nreport: " << report_path << "\n";
}

}  // namespace maskeval
