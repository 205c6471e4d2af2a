// The pieces the HTML report's page is built from: its context, tables and links.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "maskeval/report.h"

namespace maskeval::html {

// What every section of the page reads.
struct Context {
  const RunResult& result;
  const Summary& summary;
  const RunOptions& o;
  const HtmlOptions& h;
  const std::map<std::string, Thumbnail>& thumbnails;
  std::string dir;  // the folder the page is written to: links are relative to it
  bool per_label = false;
  std::string unit;  // of the distances

  // A label's or region's name as people read it, with its key when that differs (escaped).
  std::string label(LabelId id) const;
  // A link to a file the run read or wrote, named `text` (escaped here); "" for no file.
  std::string link(const std::string& path, const std::string& text) const;
};

// A table, sortable by its columns where the page's script runs. Cells are HTML.
class Table {
 public:
  explicit Table(const std::vector<std::string>& headings, const std::string& cls = "sortable");
  void row(const std::string& cells) { html_ += "<tr>" + cells + "</tr>\n"; }
  std::string done() const { return html_ + "</tbody></table>\n"; }

 private:
  std::string html_;
};

// Cells: text (escaped), a figure, a count, HTML as it is.
std::string td(const std::string& text);
std::string td_number(double v, int digits = 3);
std::string td_count(uint64_t n);
std::string td_html(const std::string& html);

// A "N more not shown" note after a list cut at `shown` of `total`; "" when nothing was cut.
std::string left_out(size_t shown, size_t total, const std::string& what);

// The sections, each a <section> with its heading.
std::string run_section(const Context& c);
std::string dataset_section(const Context& c);
std::string labels_section(const Context& c);
std::string pairwise_section(const Context& c);
std::string leaderboard_section(const Context& c);
std::string worklist_section(const Context& c);
std::string cases_section(const Context& c);
std::string problems_section(const Context& c);
std::string baseline_section(const Context& c);  // --baseline (html_baseline.cpp)

}  // namespace maskeval::html
