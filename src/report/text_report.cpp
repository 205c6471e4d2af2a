// The summary table printed at the end of a run.
#include <cmath>
#include <cstdio>
#include <string>

#include "maskeval/report.h"

namespace maskeval {
namespace {

std::string fixed(double v, int width = 7) {
  char buf[32];
  if (std::isnan(v)) {
    std::snprintf(buf, sizeof buf, "%*s", width, "-");
  } else {
    std::snprintf(buf, sizeof buf, "%*.3f", width, v);
  }
  return buf;
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// The column heading of the Hausdorff distance percentile, 9 characters: "     HD95",
// "   HD99.5".
std::string hd_heading(double percentile) {
  char label[32], heading[32];
  std::snprintf(label, sizeof label, "HD%g", percentile);
  std::snprintf(heading, sizeof heading, "%9s", label);
  return heading;
}

}  // namespace

void print_summary(std::ostream& out, const RunResult& result, const Summary& summary,
                   const RunOptions& o, const std::string& report_path) {
  out << "maskeval "
      << (o.command == Command::kFuse ? "fuse" : (o.command == Command::kScore ? "score" : "agree"))
      << ": " << result.cases.size() << (result.cases.size() == 1 ? " case, " : " cases, ")
      << result.failed.size() << " failed"
      << (result.aborted ? " (stopped at the first bad case: --strict)" : "") << "; backend "
      << result.backend << "; both-empty masks score " << empty_policy_text(o.empty);
  if (o.distances)
    out << "; distances: " << convention_name(o.distance.convention) << " convention, NSD at "
        << o.distance.nsd_tolerance;
  out << "\n\n";
  if (!summary.labels.empty()) {
    const bool agree_distances = o.distances && o.command != Command::kScore;
    out << "label   cases  pairs  mean Dice  median     min  mean Fleiss"
        << (agree_distances ? hd_heading(o.distance.percentile) + "     ASSD      NSD" : "")
        << "\n";
    for (const LabelSummary& l : summary.labels) {
      char line[160];
      std::snprintf(line, sizeof line, "%-6u %6zu %6zu    %s %s %s      %s", l.label, l.cases,
                    l.pairs, fixed(l.mean_dice).c_str(), fixed(l.median_dice).c_str(),
                    fixed(l.min_dice).c_str(), fixed(l.mean_fleiss_kappa).c_str());
      out << line;
      if (agree_distances) {
        out << "  " << fixed(l.mean_hd_percentile) << "  " << fixed(l.mean_assd) << "  "
            << fixed(l.mean_nsd);
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
  if (!summary.leaderboard.empty()) {
    size_t width = 4;
    for (const LeaderboardRow& row : summary.leaderboard) width = std::max(width, row.name.size());
    out << "\nleaderboard against the "
        << (result.cases.empty() ? "" : result.cases[0].scored_against)
        << " (mean over cases and labels)\n  " << pad("name", width)
        << "   cases     Dice      IoU  sensitivity  precision"
        << (o.distances ? hd_heading(o.distance.percentile) + "     ASSD      NSD" : "") << "\n";
    for (const LeaderboardRow& row : summary.leaderboard) {
      char line[64];
      std::snprintf(line, sizeof line, "%7zu", row.cases);
      out << "  " << pad(row.name + (row.prediction ? " *" : ""), width) << " " << line << "  "
          << fixed(row.mean_dice) << "  " << fixed(row.mean_iou) << "      "
          << fixed(row.mean_sensitivity) << "    " << fixed(row.mean_precision);
      if (o.distances) {
        out << "  " << fixed(row.mean_hd_percentile) << "  " << fixed(row.mean_assd) << "  "
            << fixed(row.mean_nsd);
        if (row.infinite_distances)
          out << "  (" << row.infinite_distances << " with one mask empty)";
      }
      out << "\n";
    }
  }
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
  out << "\nreport: " << report_path << "\n";
}

}  // namespace maskeval
