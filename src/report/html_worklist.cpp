// The HTML report's case sections: the adjudication worklist with a picture per case, the cases
// of lowest agreement, failed cases and warnings.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "report/html_page.h"
#include "report/html_text.h"

namespace maskeval::html {
namespace {

std::string shape_text(const Geometry& g) {
  std::string s = std::to_string(g.shape[0]) + "x" + std::to_string(g.shape[1]);
  if (g.ndim == 3) s += "x" + std::to_string(g.shape[2]);
  return s;
}

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// Links to what the case read and wrote, one line per kind.
std::string case_links(const Context& c, const CaseResult& k) {
  std::string files, maps, consensus;
  auto add = [&](std::string& line, const std::string& path, const std::string& text) {
    if (!path.empty()) line += (line.empty() ? "" : " &middot; ") + c.link(path, text);
  };
  for (const auto& [name, list] : k.files)
    for (const std::string& f : list)
      add(files, f, list.size() == 1 ? name : name + ": " + file_name(f));
  add(files, k.reference_file, "reference");
  add(maps, k.agreement_map, "agreement");
  add(maps, k.entropy_map, "entropy");
  add(maps, k.overlay, "overlay");
  for (const LabelResult& l : k.labels) {
    add(maps, l.agreement_map, "agreement: " + c.o.labels.name(l.label));
    add(maps, l.entropy_map, "entropy: " + c.o.labels.name(l.label));
  }
  if (k.majority) add(consensus, k.majority->mask, "majority vote");
  for (const StapleLabel& sl : k.staple) {
    add(consensus, sl.mask, "STAPLE: " + c.o.labels.name(sl.label));
    add(consensus, sl.posterior, "posterior: " + c.o.labels.name(sl.label));
  }
  if (k.mlstaple) add(consensus, k.mlstaple->mask, "multi-label STAPLE");
  std::string out;
  if (!files.empty()) out += "<div>Files: " + files + "</div>";
  if (!maps.empty()) out += "<div>Maps: " + maps + "</div>";
  if (!consensus.empty()) out += "<div>Consensus: " + consensus + "</div>";
  return "<div class=\"links\">" + out + "</div>\n";
}

std::string picture(const Context& c, const std::string& id) {
  const auto it = c.thumbnails.find(id);
  if (it == c.thumbnails.end()) return "<p class=\"missing\">No picture.</p>";
  const Thumbnail& t = it->second;
  if (t.png.empty()) return "<p class=\"missing\">No picture: " + escape(t.missing) + "</p>";
  // Small images are shown enlarged (pixelated), by a whole factor.
  const int64_t side = std::max<int64_t>(1, std::max(t.width, t.height));
  const int64_t zoom = std::max<int64_t>(1, 192 / side);
  std::string s = "<img src=\"data:image/png;base64," + base64(t.png) + "\" width=\"" +
                  std::to_string(t.width * zoom) + "\" height=\"" +
                  std::to_string(t.height * zoom) + "\" alt=\"where the raters of " + escape(id) +
                  " disagree\">";
  s += "<div class=\"note\">" + escape(t.caption) + "</div><ul class=\"legend\">";
  for (const LegendEntry& e : t.legend)
    s += "<li><span class=\"sw\" style=\"background:" + hex(e.colour) + "\"></span>" +
         escape(e.text) + "</li>";
  return s + "</ul>";
}

std::string card(const Context& c, size_t rank, const Adjudication& a, const CaseResult* k) {
  std::string s = "<div class=\"card\"><h3>" + std::to_string(rank) + ". " + escape(a.id) +
                  "</h3>\n" + picture(c, a.id) + "\n<table class=\"kv\">";
  s += "<tr><th>mean pairwise Dice</th><td>" + number(a.mean_dice) + "</td></tr>";
  s += "<tr><th>worst label</th><td>" + c.label(a.worst_label) + "</td></tr>";
  s += "<tr><th>worst pair</th><td>" + escape(a.rater_a) + " vs " + escape(a.rater_b) + ": Dice " +
       number(a.worst_dice) + "</td></tr>";
  if (k) s += "<tr><th>grid</th><td>" + escape(shape_text(k->geom)) + "</td></tr>";
  s += "</table>\n";
  if (k) s += case_links(c, *k);
  return s + "</div>\n";
}

// Mean Dice of the case's scores over raters, predictions and labels (NaN when none).
double mean_score_dice(const CaseResult& k) {
  double sum = 0;
  size_t n = 0;
  for (const auto& [name, by_label] : k.scores)
    for (const auto& [label, sc] : by_label)
      if (!std::isnan(sc.dice) && !is_region(label)) {  // regions repeat their labels
        sum += sc.dice;
        ++n;
      }
  return n ? sum / n : NAN;
}

}  // namespace

std::string worklist_section(const Context& c) {
  const auto& list = c.summary.adjudicate;
  // The worklist's cases only (--adjudicate of them), held while their cards are written.
  std::map<std::string, std::shared_ptr<const CaseResult>> by_id;
  for (const Adjudication& a : list) by_id[a.id] = nullptr;
  for (auto k = c.result.cases.begin(); k != c.result.cases.end(); ++k)
    if (by_id.count(k->id)) by_id[k->id] = c.result.cases.get(k.index());
  std::string out =
      "<section id=\"worklist\"><h2>Adjudication worklist</h2>\n<p class=\"note\">The cases "
      "with the lowest mean pairwise Dice (--adjudicate), each with a picture of where its "
      "raters disagree and links to its files (relative to this page).</p>\n";
  if (list.empty()) return out + "<p>No case to adjudicate.</p></section>\n";
  out += "<div class=\"cards\">\n";
  for (size_t k = 0; k < list.size() && k < c.h.max_rows; ++k)
    out += card(c, k + 1, list[k], by_id[list[k].id].get());
  return out + "</div>\n" + left_out(std::min(list.size(), c.h.max_rows), list.size(), "cases") +
         "</section>\n";
}

std::string cases_section(const Context& c) {
  const auto& cases = c.result.cases;
  // Lowest agreement first: mean pairwise Dice, else the mean score Dice; undefined last.
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < cases.size(); ++i) {
    const double v = std::isnan(cases[i].mean_pairwise_dice) ? mean_score_dice(cases[i])
                                                             : cases[i].mean_pairwise_dice;
    order.emplace_back(std::isnan(v) ? INFINITY : v, i);
  }
  const size_t shown = std::min(order.size(), c.h.worst_cases);
  std::partial_sort(order.begin(), order.begin() + shown, order.end());
  const bool scores = !c.summary.leaderboard.empty();
  std::vector<std::string> head{
      "#", "case", "grid", "raters", "mean pairwise Dice", "Fleiss kappa (all labels)"};
  if (scores) head.push_back("mean score Dice");
  head.push_back("maps");
  Table t(head);
  for (size_t r = 0; r < shown; ++r) {
    const CaseResult& k = cases[order[r].second];
    std::string row =
        td_count(r + 1) + td(k.id) + td(shape_text(k.geom)) + td_count(k.raters.size()) +
        td_number(k.mean_pairwise_dice) +
        td_number(k.fleiss_kappa_all && k.raters.size() >= 2 ? *k.fleiss_kappa_all : NAN);
    if (scores) row += td_number(mean_score_dice(k));
    std::string maps = c.link(k.agreement_map, "agreement");
    if (!k.overlay.empty()) maps += (maps.empty() ? "" : " ") + c.link(k.overlay, "overlay");
    if (k.majority) maps += (maps.empty() ? "" : " ") + c.link(k.majority->mask, "majority");
    t.row(row + td_html(maps));
  }
  return "<section id=\"cases\"><h2>Cases of lowest agreement</h2>\n<p class=\"note\">The " +
         std::to_string(shown) + " of " + std::to_string(cases.size()) +
         " cases with the lowest mean pairwise Dice (or, without rater pairs, mean score "
         "Dice).</p>\n" +
         t.done() + left_out(shown, cases.size(), "cases") + "</section>\n";
}

std::string problems_section(const Context& c) {
  const auto& failed = c.result.failed;
  std::string out = "<section id=\"failed\"><h2>Failed cases</h2>\n";
  if (failed.empty()) {
    out += "<p>None.</p>\n";
  } else {
    Table t({"case", "file", "reason"});
    for (size_t k = 0; k < failed.size() && k < c.h.max_rows; ++k)
      t.row(td(failed[k].id) + td(shorten(failed[k].file, 1000)) +
            td(shorten(failed[k].reason, 1000)));
    out += t.done() + left_out(std::min(failed.size(), c.h.max_rows), failed.size(), "cases");
  }
  out += "</section>\n<section id=\"warnings\"><h2>Warnings</h2>\n";
  const auto& warnings = c.result.warnings;
  if (warnings.empty()) return out + "<p>None.</p></section>\n";
  out += "<ul>";
  for (size_t k = 0; k < warnings.size() && k < c.h.max_rows; ++k)
    out += "<li class=\"warn\">" + escape(shorten(warnings[k], 1000)) + "</li>";
  return out + "</ul>\n" +
         left_out(std::min(warnings.size(), c.h.max_rows), warnings.size(), "warnings") +
         "</section>\n";
}

}  // namespace maskeval::html
