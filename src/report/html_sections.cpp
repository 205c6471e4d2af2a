// The HTML report's sections of figures: labels, the pairwise Dice heatmaps, the leaderboard,
// the adjudication worklist with its pictures, the worst cases, failed cases and warnings.
#include <algorithm>
#include <cmath>
#include <set>

#include "report/html_page.h"
#include "report/html_text.h"

namespace maskeval::html {
namespace {

// The labels shown as columns: the first ones of the summary.
std::vector<LabelId> column_labels(const Context& c) {
  std::vector<LabelId> out;
  for (const LabelSummary& l : c.summary.labels)
    if (out.size() < c.h.max_label_columns) out.push_back(l.label);
  return out;
}

std::string rater_means_table(const Context& c) {
  const std::vector<LabelId> labels = column_labels(c);
  std::set<std::string> raters;
  for (const LabelSummary& l : c.summary.labels)
    for (const auto& kv : l.rater_mean_dice) raters.insert(kv.first);
  if (raters.empty()) return "";
  std::vector<std::string> head{"rater"};
  for (const LabelId id : labels) head.push_back(c.o.labels.name(id));
  Table t(head);
  size_t shown = 0;
  for (const std::string& r : raters) {
    if (shown++ == c.h.max_rows) break;
    std::string row = td(r);
    for (const LabelSummary& l : c.summary.labels) {
      if (std::find(labels.begin(), labels.end(), l.label) == labels.end()) continue;
      const auto it = l.rater_mean_dice.find(r);
      row += td_number(it == l.rater_mean_dice.end() ? NAN : it->second);
    }
    t.row(row);
  }
  return "<h3>Each rater's mean Dice against the others</h3>\n" + t.done() +
         left_out(std::min(raters.size(), c.h.max_rows), raters.size(), "raters") +
         left_out(labels.size(), c.summary.labels.size(), "labels (as columns)");
}

std::string staple_table(const Context& c) {
  if (c.summary.staple_raters.empty()) return "";
  Table t({"label", "rater", "cases", "sensitivity", "specificity", "measured sensitivity",
           "measured specificity"});
  size_t rows = 0, total = 0;
  for (const auto& [label, raters] : c.summary.staple_raters) {
    for (const auto& [name, r] : raters) {
      if (total++ >= c.h.max_rows) continue;
      ++rows;
      t.row(td_html(c.label(label)) + td(name) + td_count(r.cases) + td_number(r.sensitivity) +
            td_number(r.specificity) + td_number(r.measured_sensitivity) +
            td_number(r.measured_specificity));
    }
  }
  return "<h3>STAPLE's estimate of each rater (mean over cases)</h3>\n" + t.done() +
         left_out(rows, total, "rows");
}

}  // namespace

std::string labels_section(const Context& c) {
  const Summary& s = c.summary;
  bool boundary = false;
  for (const LabelSummary& l : s.labels) boundary = boundary || l.boundary;
  std::vector<std::string> head{"label",       "cases",    "rater pairs", "mean Dice",
                                "median Dice", "min Dice", "pooled Dice", "mean Fleiss kappa"};
  const std::string u = " (" + c.unit + ")";
  if (boundary)
    head.insert(head.end(), {"mean HD" + number(c.o.distance.percentile, 0) + u, "mean ASSD" + u,
                             "mean NSD", "pairs with one mask empty"});
  Table t(head);
  size_t shown = 0;
  for (const LabelSummary& l : s.labels) {
    if (shown++ == c.h.max_labels) break;
    std::string row = td_html(c.label(l.label)) + td_count(l.cases) + td_count(l.pairs) +
                      td_number(l.mean_dice) + td_number(l.median_dice) + td_number(l.min_dice) +
                      td_number(l.pooled_dice) + td_number(l.mean_fleiss_kappa);
    if (boundary)
      row += td_number(l.mean_hd_percentile) + td_number(l.mean_assd) + td_number(l.mean_nsd) +
             td_count(l.infinite_pairs);
    t.row(row);
  }
  std::string out =
      "<section id=\"labels\"><h2>Agreement per label</h2>\n<p class=\"note\">Between rater "
      "pairs, over every pair of every case; pooled Dice sums the counts over cases and pairs "
      "(the dataset as one image).</p>\n";
  if (s.labels.empty()) return out + "<p>No label was reported.</p></section>\n";
  return out + t.done() +
         left_out(std::min(s.labels.size(), c.h.max_labels), s.labels.size(), "labels") +
         rater_means_table(c) + staple_table(c) + "</section>\n";
}

namespace {

// Mean Dice of each rater pair over the cases, for one label.
struct PairMatrix {
  std::vector<double> sum;
  std::vector<size_t> n;
};

std::string heatmap(const Context& c, const std::vector<std::string>& raters, const PairMatrix& m) {
  const size_t r = raters.size();
  std::string s = "<table class=\"hm\"><thead><tr><th></th>";
  for (const std::string& name : raters) s += "<th>" + escape(name) + "</th>";
  s += "</tr></thead><tbody>\n";
  for (size_t i = 0; i < r; ++i) {
    s += "<tr><th>" + escape(raters[i]) + "</th>";
    for (size_t j = 0; j < r; ++j) {
      const size_t k = i * r + j;
      if (i == j || m.n[k] == 0) {
        s += i == j ? "<td style=\"background:#f4f4f6\"></td>" : "<td class=\"note\">-</td>";
        continue;
      }
      const double v = m.sum[k] / m.n[k];
      s += "<td style=\"background:" + hex(dice_colour(v)) + "\" title=\"" + escape(raters[i]) +
           " vs " + escape(raters[j]) + ": mean over " + std::to_string(m.n[k]) + " cases\">" +
           number(v) + "</td>";
    }
    s += "</tr>\n";
  }
  (void)c;
  return s + "</tbody></table>\n";
}

}  // namespace

std::string pairwise_section(const Context& c) {
  std::string out =
      "<section id=\"pairwise\"><h2>Pairwise Dice</h2>\n<p class=\"note\">Per label, the mean "
      "over cases of each rater pair's Dice (cases where both rated it and the figure is "
      "defined). Colour: <span class=\"scale\"></span> 0 (red), 0.75 (yellow), 1 (green).</p>\n";
  std::set<std::string> names;
  for (const CaseResult& k : c.result.cases) names.insert(k.raters.begin(), k.raters.end());
  if (names.size() > c.h.max_matrix_raters)
    return out + "<p>" + std::to_string(names.size()) + " raters: more than " +
           std::to_string(c.h.max_matrix_raters) +
           " for a matrix; report.json has each case's.</p></section>\n";
  const std::vector<std::string> raters(names.begin(), names.end());
  const size_t r = raters.size();
  std::map<LabelId, PairMatrix> matrices;
  for (size_t k = 0; k < c.summary.labels.size() && k < c.h.max_heatmaps; ++k)
    matrices[c.summary.labels[k].label] = {std::vector<double>(r * r), std::vector<size_t>(r * r)};
  for (const CaseResult& k : c.result.cases) {
    std::vector<size_t> at;
    for (const std::string& name : k.raters)
      at.push_back(std::lower_bound(raters.begin(), raters.end(), name) - raters.begin());
    const size_t n = k.raters.size();
    for (const LabelResult& l : k.labels) {
      const auto it = matrices.find(l.label);
      if (it == matrices.end()) continue;
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
          const double d = l.dice[i * n + j];
          if (i == j || std::isnan(d)) continue;
          it->second.sum[at[i] * r + at[j]] += d;
          ++it->second.n[at[i] * r + at[j]];
        }
    }
  }
  if (matrices.empty() || r < 2) return out + "<p>No rater pairs.</p></section>\n";
  for (const auto& [label, m] : matrices)
    out += "<h3>" + c.label(label) + "</h3>\n" + heatmap(c, raters, m);
  return out + left_out(matrices.size(), c.summary.labels.size(), "labels") + "</section>\n";
}

namespace {

std::string board_name(const LeaderboardRow& row) {
  return row.prediction ? row.name + " *" : row.name;
}

std::vector<std::string> distance_heads(const Context& c) {
  const std::string u = " (" + c.unit + ")";
  return {"HD" + number(c.o.distance.percentile, 0) + u, "ASSD" + u, "NSD", "one mask empty"};
}

std::string overall_board(const Context& c) {
  const std::vector<LabelId> labels = column_labels(c);
  std::vector<std::string> head{"#", "name", "cases", "Dice", "IoU", "sensitivity", "precision"};
  if (c.o.distances)
    for (const std::string& h : distance_heads(c)) head.push_back(h);
  for (const LabelId id : labels) head.push_back("Dice: " + c.o.labels.name(id));
  Table t(head);
  const auto& board = c.summary.leaderboard;
  for (size_t k = 0; k < board.size() && k < c.h.max_rows; ++k) {
    const LeaderboardRow& row = board[k];
    std::string cells = td_count(k + 1) + td(board_name(row)) + td_count(row.cases) +
                        td_number(row.mean_dice) + td_number(row.mean_iou) +
                        td_number(row.mean_sensitivity) + td_number(row.mean_precision);
    if (c.o.distances)
      cells += td_number(row.mean_hd_percentile) + td_number(row.mean_assd) +
               td_number(row.mean_nsd) + td_count(row.infinite_distances);
    for (const LabelId id : labels) {
      const auto it = row.label_mean_dice.find(id);
      cells += td_number(it == row.label_mean_dice.end() ? NAN : it->second);
    }
    t.row(cells);
  }
  return t.done() + left_out(std::min(board.size(), c.h.max_rows), board.size(), "rows");
}

// One label's leaderboard, best first by its mean Dice: case means and pooled figures.
std::string label_board(const Context& c, LabelId label) {
  std::vector<const LeaderboardRow*> rows;
  for (const LeaderboardRow& row : c.summary.leaderboard)
    if (row.labels.count(label)) rows.push_back(&row);
  const auto dice = [label](const LeaderboardRow* r) {
    const double d = r->labels.at(label).mean_dice;
    return std::isnan(d) ? -1.0 : d;
  };
  std::stable_sort(rows.begin(), rows.end(),
                   [&](const auto* a, const auto* b) { return dice(a) > dice(b); });
  std::vector<std::string> head{
      "name",       "cases",       "mean Dice",   "pooled Dice", "mean IoU",
      "pooled IoU", "sensitivity", "specificity", "precision",   "volume similarity",
      "TP",         "FP",          "FN"};
  if (c.o.distances)
    for (const std::string& h : distance_heads(c)) head.push_back(h);
  Table t(head);
  for (size_t k = 0; k < rows.size() && k < c.h.max_rows; ++k) {
    const LabelBoard& b = rows[k]->labels.at(label);
    std::string cells = td(board_name(*rows[k])) + td_count(b.cases) + td_number(b.mean_dice) +
                        td_number(b.pooled_dice) + td_number(b.mean_iou) + td_number(b.pooled_iou) +
                        td_number(b.mean_sensitivity) + td_number(b.mean_specificity) +
                        td_number(b.mean_precision) + td_number(b.mean_volume_similarity) +
                        td_count(b.tp) + td_count(b.fp) + td_count(b.fn);
    if (c.o.distances)
      cells += td_number(b.mean_hd_percentile) + td_number(b.mean_assd) + td_number(b.mean_nsd) +
               td_count(b.infinite_distances);
    t.row(cells);
  }
  return "<h3>" + c.label(label) + "</h3>\n" + t.done() +
         left_out(std::min(rows.size(), c.h.max_rows), rows.size(), "rows");
}

}  // namespace

std::string leaderboard_section(const Context& c) {
  const auto& board = c.summary.leaderboard;
  if (board.empty()) return "";
  const std::string against =
      c.result.cases.empty() ? "reference" : c.result.cases.front().scored_against;
  std::string out =
      "<section id=\"leaderboard\"><h2>Leaderboard</h2>\n<p class=\"note\">"
      "Each rater and prediction against the " +
      escape(against) +
      ", best first by mean Dice over cases and labels. * a prediction: scored "
      "like a rater, never part of a consensus.</p>\n" +
      overall_board(c);
  std::set<LabelId> labels;
  for (const LeaderboardRow& row : board)
    for (const auto& kv : row.labels) labels.insert(kv.first);
  out +=
      "<p class=\"note\">Per label: means over the cases in which the label was scored, "
      "and pooled figures from TP, FP and FN summed over those cases.</p>\n";
  size_t shown = 0;
  for (const LabelId id : labels) {
    if (shown++ == c.h.max_labels) break;
    out += label_board(c, id);
  }
  return out + left_out(std::min(labels.size(), c.h.max_labels), labels.size(), "labels") +
         "</section>\n";
}

}  // namespace maskeval::html
