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

double nsd_tolerance_of(const RunOptions& o, Label label) {
  const auto it = o.nsd_tolerance_by_label.find(label);
  return it == o.nsd_tolerance_by_label.end() ? o.distance.nsd_tolerance : it->second;
}

// The first line, and a warning when the cases' distances are in different units.
void print_heading(std::ostream& out, const RunResult& result, const RunOptions& o,
                   const std::string& unit) {
  out << "maskeval "
      << (o.command == Command::kFuse ? "fuse" : (o.command == Command::kScore ? "score" : "agree"))
      << ": " << result.cases.size() << (result.cases.size() == 1 ? " case, " : " cases, ")
      << result.failed.size() << " failed"
      << (result.aborted ? " (stopped at the first bad case: --strict)" : "") << "; backend "
      << result.backend << "; both-empty masks score " << empty_policy_text(o.empty);
  if (o.distances) {
    out << "; distances: " << convention_name(o.distance.convention) << " convention, in " << unit
        << (unit == "mixed" ? " units" : "");
    if (unit == "px") out << " (the files give no physical size)";
    out << ", NSD at " << length(o.distance.nsd_tolerance, unit);
    for (const auto& [label, t] : o.nsd_tolerance_by_label)
      out << " (label " << label << ": " << length(t, unit) << ")";
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
    out << "); the means below mix them (each case's unit is its distance_unit in the report)\n";
  }
  out << "\n";
}

void print_labels(std::ostream& out, const Summary& summary, const RunOptions& o,
                  const std::string& unit) {
  bool boundary = false;
  for (const LabelSummary& l : summary.labels) boundary = boundary || l.boundary;
  const DistanceColumns dist(o.distance.percentile, unit);
  out << "label   cases  pairs  mean Dice  median     min  mean Fleiss"
      << (boundary ? dist.heading() : "") << "\n";
  for (const LabelSummary& l : summary.labels) {
    char line[160];
    std::snprintf(line, sizeof line, "%-6u %6zu %6zu    %s %s %s      %s", l.label, l.cases,
                  l.pairs, fixed(l.mean_dice).c_str(), fixed(l.median_dice).c_str(),
                  fixed(l.min_dice).c_str(), fixed(l.mean_fleiss_kappa).c_str());
    out << line;
    if (boundary) {
      out << dist.cells(l.mean_hd_percentile, l.mean_assd, l.mean_nsd);
      if (l.infinite_pairs) out << "  (" << l.infinite_pairs << " pairs with one mask empty)";
    }
    out << "\n";
  }
  for (const LabelSummary& l : summary.labels) {
    if (l.rater_mean_dice.empty()) continue;
    size_t width = 5;
    for (const auto& kv : l.rater_mean_dice) width = std::max(width, kv.first.size());
    out << "\nlabel " << l.label << ": each rater's mean Dice against the others\n";
    for (const auto& [rater, v] : l.rater_mean_dice)
      out << "  " << pad(rater, width) << " " << fixed(v) << "\n";
  }
}

void print_staple(std::ostream& out, const Summary& summary) {
  for (const auto& [label, raters] : summary.staple_raters) {
    size_t width = 5;
    for (const auto& kv : raters) width = std::max(width, kv.first.size());
    out << "\nlabel " << label
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

std::string infinite_note(size_t n) {
  return n ? "  (" + std::to_string(n) + " with one mask empty)" : "";
}

void print_leaderboard(std::ostream& out, const Summary& summary, const RunOptions& o,
                       const std::string& against, const std::string& unit) {
  const size_t width = board_name_width(summary);
  const DistanceColumns dist(o.distance.percentile, unit);
  out << "\nleaderboard against the " << against << " (mean over cases and labels)\n  "
      << pad("name", width) << "   cases     Dice      IoU  sensitivity  precision"
      << (o.distances ? dist.heading() : "") << "\n";
  bool predictions = false;
  for (const LeaderboardRow& row : summary.leaderboard) {
    predictions = predictions || row.prediction;
    char cases[32];
    std::snprintf(cases, sizeof cases, "%7zu", row.cases);
    out << "  " << pad(board_name(row), width) << " " << cases << "  " << fixed(row.mean_dice)
        << "  " << fixed(row.mean_iou) << "      " << fixed(row.mean_sensitivity) << "    "
        << fixed(row.mean_precision);
    if (o.distances)
      out << dist.cells(row.mean_hd_percentile, row.mean_assd, row.mean_nsd)
          << infinite_note(row.infinite_distances);
    out << "\n";
  }
  if (predictions)
    out << "  * a prediction (--prediction, or role=prediction in a manifest): scored like a "
           "rater, never part of a consensus\n";
}

// One leaderboard per label, best first by that label's mean Dice, when there are several.
void print_label_leaderboards(std::ostream& out, const Summary& summary, const RunOptions& o,
                              const std::string& against, const std::string& unit) {
  std::map<Label, std::vector<const LeaderboardRow*>> by_label;
  for (const LeaderboardRow& row : summary.leaderboard)
    for (const auto& kv : row.labels) by_label[kv.first].push_back(&row);
  if (by_label.size() < 2) return;
  const size_t width = board_name_width(summary);
  const DistanceColumns dist(o.distance.percentile, unit);
  for (auto& [label, rows] : by_label) {
    const Label l = label;
    auto dice_of = [l](const LeaderboardRow* r) {
      const double d = r->labels.at(l).mean_dice;
      return std::isnan(d) ? -1.0 : d;
    };
    std::stable_sort(
        rows.begin(), rows.end(),
        [&](const LeaderboardRow* a, const LeaderboardRow* b) { return dice_of(a) > dice_of(b); });
    out << "\nlabel " << label << ": leaderboard against the " << against
        << " (mean over the cases scored";
    if (o.distances) out << "; NSD at " << length(nsd_tolerance_of(o, label), unit);
    out << ")\n  " << pad("name", width) << "   cases     Dice"
        << (o.distances ? dist.heading() : "") << "\n";
    for (const LeaderboardRow* row : rows) {
      const LabelBoard& b = row->labels.at(label);
      char cases[32];
      std::snprintf(cases, sizeof cases, "%7zu", b.cases);
      out << "  " << pad(board_name(*row), width) << " " << cases << "  " << fixed(b.mean_dice);
      if (o.distances)
        out << dist.cells(b.mean_hd_percentile, b.mean_assd, b.mean_nsd)
            << infinite_note(b.infinite_distances);
      out << "\n";
    }
  }
}

void print_tail(std::ostream& out, const RunResult& result, const Summary& summary) {
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
          << a.worst_label << ", " << a.rater_a << " vs " << a.rater_b << fixed(a.worst_dice)
          << "\n";
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
  print_staple(out, summary);
  if (!summary.leaderboard.empty()) {
    const std::string against = result.cases.empty() ? "" : result.cases[0].scored_against;
    print_leaderboard(out, summary, o, against, unit);
    print_label_leaderboards(out, summary, o, against, unit);
  }
  print_tail(out, result, summary);
  out << "\nreport: " << report_path << "\n";
}

}  // namespace maskeval
