// The HTML report's "Against the baseline" section: figure changes, cases moved, label drift.
#include <algorithm>
#include <cmath>

#include "report/html_page.h"
#include "report/html_text.h"

namespace maskeval::html {
namespace {

std::string signed_number(double v) {
  return std::isnan(v) ? "" : (v > 0 ? "+" : "") + number(v, 4);
}

// Figure changes of one scope, the largest |delta| first, at most c.h.max_rows.
std::string changes_table(const Context& c, const BaselineComparison& b, const std::string& scope) {
  std::vector<const FigureChange*> rows;
  for (const FigureChange& x : b.changes)
    if (x.scope == scope) rows.push_back(&x);
  if (rows.empty()) return "";
  std::stable_sort(rows.begin(), rows.end(), [](const FigureChange* x, const FigureChange* y) {
    const double a = std::fabs(x->delta()), d = std::fabs(y->delta());
    if (std::isnan(a) || std::isnan(d)) return !std::isnan(a) && std::isnan(d);
    return a > d;
  });
  const bool rater = scope == "rater";
  std::vector<std::string> head = {"label", "figure", "baseline", "now", "change"};
  if (rater) head.insert(head.begin(), "rater");
  Table t(head);
  for (size_t i = 0; i < rows.size() && i < c.h.max_rows; ++i) {
    const FigureChange& x = *rows[i];
    t.row((rater ? td(x.item) : "") + td_html(x.label ? c.label(*x.label) : "all") + td(x.figure) +
          td_number(x.before, 4) + td_number(x.now, 4) + td_html(signed_number(x.delta())));
  }
  return "<h3>" + std::string(rater ? "Raters and predictions" : "Dataset, per label") + "</h3>\n" +
         t.done() + left_out(std::min(rows.size(), c.h.max_rows), rows.size(), "figures");
}

std::string moved_table(const Context& c, const BaselineComparison& b) {
  if (b.moved.empty()) return "";
  Table t({"case", "figure", "baseline", "now", "change"});
  for (size_t i = 0; i < b.moved.size() && i < c.h.max_rows; ++i) {
    const FigureChange& m = b.moved[i];
    t.row(td(m.item) + td(m.figure) + td_number(m.before, 4) + td_number(m.now, 4) +
          td_html(signed_number(m.delta())));
  }
  return "<h3>Cases that moved most</h3>\n" + t.done() +
         left_out(std::min(b.moved.size(), c.h.max_rows), std::max(b.moved.size(), b.moved_count),
                  "cases");
}

std::string drift_table(const Context& c, const BaselineComparison& b) {
  if (b.drift.empty()) return "";
  Table t({"label", "cases (baseline)", "cases (now)", "median volume (baseline)",
           "median volume (now)", "unit", "KS D", "KS p"});
  for (size_t i = 0; i < b.drift.size() && i < c.h.max_labels; ++i) {
    const LabelDrift& d = b.drift[i];
    const std::string p = number(d.p, 3);
    t.row(td_html(c.label(d.label)) + td_count(d.cases_before) + td_count(d.cases_now) +
          td_number(d.median_before, 6) + td_number(d.median_now, 6) + td(d.unit) +
          td_number(d.d, 3) + td_html(d.p < 0.05 ? "<strong>" + p + "</strong>" : p));
  }
  return "<h3>Label volume drift</h3>\n<p class=\"note\">Per label, the volumes of the cases "
         "that carry it, tonight against the baseline: the two-sample Kolmogorov-Smirnov "
         "statistic D and its p-value (bold below 0.05).</p>\n" +
         t.done() + left_out(std::min(b.drift.size(), c.h.max_labels), b.drift.size(), "labels");
}

std::string id_list(const std::vector<std::string>& ids, size_t max) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < max; ++i) s += (i ? ", " : "") + escape(ids[i]);
  return ids.size() > max ? s + ", ..." : s;
}

}  // namespace

std::string baseline_section(const Context& c) {
  if (!c.summary.baseline) return "";
  const BaselineComparison& b = *c.summary.baseline;
  std::string s = "<section id=\"baseline\"><h2>Against the baseline</h2><table class=\"kv\">\n";
  auto kv = [&s](const std::string& k, const std::string& v) {
    s += "<tr><th>" + escape(k) + "</th><td>" + v + "</td></tr>\n";
  };
  kv("baseline", "<code>" + escape(shorten(b.path, 400)) + "</code> (sha256 " +
                     escape(b.sha256.substr(0, 16)) + "...)");
  kv("its command line", "<code>" + escape(shorten(b.command_line, 2000)) + "</code>");
  kv("maskeval", escape(b.version));
  kv("cases", std::to_string(b.cases_before) + " then, " + std::to_string(b.cases_now) + " now");
  kv("added", std::to_string(b.cases_added.size()) + (b.cases_added.empty() ? "" : ": ") +
                  id_list(b.cases_added, c.h.max_rows));
  kv("removed", std::to_string(b.cases_removed.size()) + (b.cases_removed.empty() ? "" : ": ") +
                    id_list(b.cases_removed, c.h.max_rows));
  s += "</table>\n";
  return s + changes_table(c, b, "dataset") + changes_table(c, b, "rater") + moved_table(c, b) +
         drift_table(c, b) + "</section>\n";
}

}  // namespace maskeval::html
