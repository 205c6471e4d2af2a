// The HTML report, report.html: the page's frame, its style and script, the run and dataset
// sections, and writing it.
#include <algorithm>
#include <filesystem>
#include <set>

#include "report/html_page.h"
#include "report/html_text.h"

namespace maskeval {
namespace html {
namespace {

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d1d1f;background:#fff;margin:0 auto;max-width:1240px;padding:0 20px 40px}
header{border-bottom:3px solid #3288dc;margin-bottom:8px}section{overflow-x:auto}
h1{font-size:24px;margin:18px 0 4px}h2{font-size:19px;margin:28px 0 8px;
 border-bottom:1px solid #ddd;padding-bottom:3px}h3{font-size:15px;margin:16px 0 6px}
nav a{margin-right:14px}a{color:#1a5fa8}code{font:12px ui-monospace,Menlo,Consolas,monospace;
 background:#f4f4f6;padding:1px 4px;border-radius:3px;word-break:break-all}
table{border-collapse:collapse;margin:6px 0 10px}th,td{border:1px solid #d8d8dc;
 padding:3px 7px;vertical-align:top}th{background:#eef1f6;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.kv th{width:190px}table.hm td{text-align:center;min-width:3.2em;font-size:12px}
table.hm th{font-size:12px}.note{color:#555;font-size:13px}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em;border:1px solid #555;vertical-align:baseline}.lead{font-size:15px}
.scale{display:inline-block;width:180px;height:12px;vertical-align:middle;
 border:1px solid #999;background:linear-gradient(90deg,#e65546,#fff0aa 75%,#5ab464)}
.cards{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #d8d8dc;border-radius:6px;
 padding:10px 12px;width:540px}.card img{image-rendering:pixelated;border:1px solid #999;
 float:left;margin:0 12px 6px 0;background:#000}.card table{font-size:13px}
.legend{list-style:none;padding:0;margin:4px 0;font-size:12px}.legend li{margin:1px 0}
.sw{display:inline-block;width:12px;height:12px;border:1px solid #666;margin-right:6px;
 vertical-align:-1px}.links{clear:both;font-size:12px;word-break:break-all}
.missing{color:#8a4a00;font-size:13px}.warn{color:#8a4a00}
)";

// Sorting by a column on a click of its heading; the page reads the same without it.
const char* kScript = R"(
document.querySelectorAll('table.sortable').forEach(function(t){
 t.setAttribute('data-sortable','ready');
 t.querySelectorAll('thead th').forEach(function(th,i){
  th.style.cursor='pointer';th.title='Sort by this column';
  th.addEventListener('click',function(){
   var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),up=th.getAttribute('data-up')!=='1';
   th.setAttribute('data-up',up?'1':'0');
   function key(r){var c=r.cells[i],s=c?c.textContent.trim():'',n=parseFloat(s);
    return /^[-+]?[0-9.]/.test(s)&&!isNaN(n)?n:s;}
   rows.sort(function(x,y){var a=key(x),c=key(y);
    if(typeof a!==typeof c)return typeof a==='number'?-1:1;
    return (a<c?-1:a>c?1:0)*(up?1:-1);});
   rows.forEach(function(r){b.appendChild(r);});});});});
)";

const char* command_name(Command c) {
  return c == Command::kFuse ? "fuse" : (c == Command::kScore ? "score" : "agree");
}

std::string kv(const std::string& key, const std::string& value_html) {
  return "<tr><th>" + escape(key) + "</th><td>" + value_html + "</td></tr>\n";
}

// Names joined by ", ", at most `max` of them.
std::string name_list(const std::set<std::string>& names, size_t max) {
  std::string out;
  size_t k = 0;
  for (const std::string& n : names) {
    if (k == max) break;
    out += (k++ ? ", " : "") + escape(n);
  }
  if (names.size() > max) out += " and " + std::to_string(names.size() - max) + " more";
  return out.empty() ? "none" : out;
}

// The deepest folder that holds every file the cases read.
std::string common_folder(const RunResult& r) {
  namespace fs = std::filesystem;
  std::string common;
  bool first = true;
  for (const CaseResult& c : r.cases) {
    for (const auto& [name, files] : c.files) {
      for (const std::string& f : files) {
        const std::string dir = fs::path(f).parent_path().generic_string();
        if (first) {
          common = dir;
          first = false;
        }
        const auto inside = [&] {
          if (common == "/") return dir.rfind('/', 0) == 0;  // every absolute folder
          return dir.compare(0, common.size(), common) == 0 &&
                 (dir.size() == common.size() || dir[common.size()] == '/');
        };
        while (!common.empty() && !inside()) {
          const std::string up = fs::path(common).parent_path().generic_string();
          common = up == common ? "" : up;  // the root is its own parent
        }
      }
    }
  }
  return common.empty() ? "." : common;
}

std::string command_text(const RunOptions& o) {
  std::string s = command_name(o.command);
  if (o.command == Command::kFuse)
    s += o.method == FuseMethod::kMajority
             ? std::string(" (majority vote, ties: ") +
                   (o.tie == TiePolicy::kUndecided ? "undecided label)" : "lowest label wins)")
             : (o.method == FuseMethod::kStaple ? " (binary STAPLE per label)"
                                                : " (multi-label STAPLE)");
  if (o.command == Command::kScore)
    s += o.against == ScoreAgainst::kReference
             ? " (against the reference)"
             : (o.against == ScoreAgainst::kMajority ? " (against the raters' majority vote)"
                                                     : " (against the raters' STAPLE)");
  return s;
}

std::string inputs_text(const Context& c) {
  std::map<std::string, size_t> formats;
  size_t volumes = 0;
  for (const CaseResult& k : c.result.cases) {
    ++formats[k.geom.format.empty() ? "?" : k.geom.format];
    volumes += k.geom.ndim == 3;
  }
  std::string s = std::to_string(c.result.cases.size() + c.result.failed.size()) +
                  (c.result.cases.size() + c.result.failed.size() == 1 ? " case" : " cases") +
                  " listed; " +
                  (c.per_label ? "one binary file per label and rater" : "label maps") +
                  ", under <code>" + escape(common_folder(c.result)) + "</code>; ";
  for (const auto& [f, n] : formats) s += escape(f) + ": " + std::to_string(n) + " ";
  s += "(" + std::to_string(volumes) + " 3D)";
  return s;
}

std::string distances_text(const Context& c) {
  const RunOptions& o = c.o;
  if (!o.distances) return "not measured";
  const std::string unit = escape(c.unit);
  std::string s = escape(convention_name(o.distance.convention)) + " convention; HD percentile " +
                  number(o.distance.percentile, 0) + "; unit " + unit +
                  (c.unit == "px" ? " (the files give no physical size)" : "") +
                  "; NSD tolerance " + number(o.distance.nsd_tolerance, 3) + " " + unit;
  for (const auto& [label, t] : o.nsd_tolerance_by_label)
    s += " (" + c.label(label) + ": " + number(t, 3) + ")";
  s += std::string("; one mask empty: ") + (std::isnan(o.distance.one_empty) ? "nan" : "inf");
  if (o.spacing[0] > 0)
    s += "; spacing " + number(o.spacing[0], 4) + ", " + number(o.spacing[1], 4) + ", " +
         number(o.spacing[2], 4) + " (--spacing)";
  return s;
}

std::string labels_text(const Context& c) {
  const LabelSet& l = c.o.labels;
  std::string ignore = "none";
  if (l.ignore) ignore = c.label(*l.ignore) + " (left out of every count)";
  std::string regions;
  for (size_t k = 0; k < l.regions.size() && k < c.h.max_labels; ++k) {
    std::string parts;
    for (const Label v : l.regions[k].labels) parts += (parts.empty() ? "" : " + ") + c.label(v);
    regions += (regions.empty() ? "" : "; ") + escape(l.regions[k].name) + " = " + parts;
  }
  regions += left_out(std::min(l.regions.size(), c.h.max_labels), l.regions.size(), "regions");
  return kv("ignore label", ignore) + kv("regions", regions.empty() ? "none" : regions);
}

}  // namespace

std::string Context::label(LabelId id) const {
  const LabelSet& l = o.labels;
  if (is_region(id) && static_cast<size_t>(id - kFirstRegion) >= l.regions.size())
    return "region " + std::to_string(id - kFirstRegion);
  const std::string name = l.name(id), key = l.key(id);
  const auto colour = l.colour(id);  // the labels file's colour, as a swatch before the name
  const std::string swatch =
      colour ? "<span class=\"swatch\" style=\"background:" + colour_hex(*colour) + "\"></span>"
             : "";
  return swatch + escape(name) +
         (name == key ? "" : " <span class=\"note\">(" + escape(key) + ")</span>");
}

std::string Context::link(const std::string& path, const std::string& text) const {
  if (path.empty()) return "";
  return "<a href=\"" + relative_url(path, dir) + "\">" + escape(text) + "</a>";
}

Table::Table(const std::vector<std::string>& headings, const std::string& cls) {
  html_ = "<table" + (cls.empty() ? "" : " class=\"" + cls + "\"") + "><thead><tr>";
  for (const std::string& h : headings) html_ += "<th>" + escape(h) + "</th>";
  html_ += "</tr></thead><tbody>\n";
}

std::string td(const std::string& text) {
  return "<td>" + escape(text) + "</td>";
}
std::string td_number(double v, int digits) {
  return "<td class=\"n\">" + number(v, digits) + "</td>";
}
std::string td_count(uint64_t n) {
  return "<td class=\"n\">" + std::to_string(n) + "</td>";
}
std::string td_html(const std::string& html) {
  return "<td>" + html + "</td>";
}

std::string left_out(size_t shown, size_t total, const std::string& what) {
  if (shown >= total) return "";
  return "<p class=\"note\">" + std::to_string(total - shown) + " more " + escape(what) +
         " not shown here (" + std::to_string(total) + " in all; report.json has every one).</p>\n";
}

// --fail-if, --gates: each gate's verdict and what failed (nothing without gates).
std::string gates_section(const Context& c) {
  if (c.summary.gates.empty()) return "";
  std::string s =
      "<section id=\"gates\"><h2>Quality gates</h2><table>\n<tr><th>gate</th><th>expression</th>"
      "<th>verdict</th><th>figure</th><th>threshold</th><th>failing</th></tr>\n";
  for (const GateVerdict& v : c.summary.gates) {
    std::string failing;
    for (size_t i = 0; i < v.failing.size() && i < c.h.max_rows; ++i)
      failing += (i ? ", " : "") + (v.failing[i].empty() ? "dataset" : v.failing[i]);
    if (v.failing.size() > c.h.max_rows) failing += ", ...";
    if (!v.reason.empty()) failing += (failing.empty() ? "" : "; ") + v.reason;
    s += "<tr>" + td_html(escape(shorten(v.name, 200))) +
         td_html("<code>" + escape(shorten(v.expression, 400)) + "</code>") +
         td_html(v.verdict == "pass" ? "pass" : "<strong>" + escape(v.verdict) + "</strong>") +
         td_html(number(v.figure, 4)) + td_html(number(v.threshold, 4)) +
         td_html(escape(shorten(failing, 2000))) + "</tr>\n";
  }
  return s + "</table></section>\n";
}

std::string run_section(const Context& c) {
  const RunOptions& o = c.o;
  const RunResult& r = c.result;
  std::set<std::string> raters, predictions;
  size_t references = 0;
  for (const CaseResult& k : r.cases) {
    raters.insert(k.raters.begin(), k.raters.end());
    predictions.insert(k.predictions.begin(), k.predictions.end());
    references += !k.reference_file.empty();
  }
  // The backend note says the backend already ("backend cpu (built without CUDA)").
  std::string backend = escape(r.backend_note.empty() ? r.backend : r.backend_note);
  if (!r.engine_note.empty()) backend += "; " + escape(r.engine_note);
  std::string s = "<section id=\"run\"><h2>The run</h2><table class=\"kv\">\n";
  s += kv("command line", o.command_line.empty()
                              ? std::string("not recorded")
                              : "<code>" + escape(shorten(o.command_line, 4000)) + "</code>");
  s += kv("maskeval", escape(MASKEVAL_VERSION));
  s += kv("command", escape(command_text(o)));
  s += kv("inputs", inputs_text(c));
  s += kv("raters", name_list(raters, 50));
  if (!predictions.empty()) s += kv("predictions", name_list(predictions, 50));
  s += kv("reference", references ? std::to_string(references) +
                                        (references == 1 ? " case has one" : " cases have one")
                                  : "none");
  s += kv("foreground rule", "<code>" + escape(o.foreground.text()) + "</code>");
  s += kv("backend", backend);
  s += kv("both masks empty", std::string("Dice, IoU and kappa are ") + empty_policy_text(o.empty) +
                                  " (--empty; nan: left out of every mean)");
  s += kv("boundary distances", distances_text(c));
  s += labels_text(c);
  s += kv("background (label 0)",
          o.include_background ? "reported (--include-background)"
          : o.labels.zero_is_a_class()
              ? "reported: the labels file names it " + escape(o.labels.name(0))
              : "not reported");
  if (o.timings) {
    const StageTimes& t = r.timings;
    s += kv("timings (s)", "decode " + number(t.decode) + ", count " + number(t.count) +
                               ", derive " + number(t.derive) + ", distances " +
                               number(t.distances) + ", write " + number(t.write));
  }
  return s + "</table></section>\n";
}

std::string dataset_section(const Context& c) {
  const RunResult& r = c.result;
  size_t min_r = 0, max_r = 0, with_ref = 0, identical = 0, noted = 0;
  uint64_t voxels = 0, ignored = 0;
  for (size_t i = 0; i < r.cases.size(); ++i) {
    const CaseResult& k = r.cases[i];
    min_r = i ? std::min(min_r, k.raters.size()) : k.raters.size();
    max_r = std::max(max_r, k.raters.size());
    voxels += static_cast<uint64_t>(k.geom.voxels());
    ignored += k.ignored_voxels.value_or(0);
    noted += !k.engine_notes.empty();
    if (k.majority && k.majority->has_reference) {
      ++with_ref;
      identical += k.majority->mismatched == 0;
    }
  }
  std::string s = "<section id=\"dataset\"><h2>Dataset</h2><table class=\"kv\">\n";
  s += kv("cases processed", std::to_string(r.cases.size()));
  s += kv("cases failed", std::to_string(r.failed.size()) +
                              (r.aborted ? " (--strict stopped the run at the first)" : ""));
  s += kv("raters per case", min_r == max_r
                                 ? std::to_string(min_r)
                                 : std::to_string(min_r) + " to " + std::to_string(max_r));
  s += kv("labels and regions reported", std::to_string(c.summary.labels.size()));
  s += kv("voxels", std::to_string(voxels));
  if (c.o.labels.ignore) s += kv("voxels ignored", std::to_string(ignored));
  if (with_ref)
    s += kv("majority vs reference",
            std::to_string(identical) + " of " + std::to_string(with_ref) + " cases identical");
  if (noted) s += kv("engine notes", std::to_string(noted) + " cases (see report.json)");
  return s + "</table></section>\n";
}

}  // namespace html

std::string report_html_text(const RunResult& result, const Summary& summary, const RunOptions& o,
                             const std::map<std::string, Thumbnail>& thumbnails,
                             const std::string& dir, const Dataset* data, const HtmlOptions& h) {
  bool per_label = data && data->per_label;
  for (size_t i = 0; !data && i < result.cases.size() && !per_label; ++i)
    for (const auto& kv : result.cases[i].files) per_label = per_label || kv.second.size() > 1;
  const html::Context c{result,     summary, o,         h,
                        thumbnails, dir,     per_label, distance_unit(result, o)};
  const std::string title = std::string("maskeval ") + html::command_name(o.command) + ": " +
                            std::to_string(result.cases.size()) +
                            (result.cases.size() == 1 ? " case" : " cases");
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>" +
      html::escape(title) + "</title>\n<style>" + html::kStyle +
      "</style></head><body>\n<header><h1>" + html::escape(title) +
      "</h1>\n"
      "<p class=\"lead\">" +
      (summary.gates.empty()
           ? std::string()
           : std::string(any_gate_failed(summary.gates) ? "Gates FAILED; " : "Gates passed; ")) +
      std::to_string(result.failed.size()) + " failed, " + std::to_string(result.warnings.size()) +
      " warnings; every figure is in "
      "<a href=\"report.json\">report.json</a>.</p>\n<nav>" +
      (summary.gates.empty() ? "" : "<a href=\"#gates\">Gates</a>") +
      (summary.baseline ? "<a href=\"#baseline\">Baseline</a>" : "") +
      "<a href=\"#run\">Run</a>"
      "<a href=\"#dataset\">Dataset</a><a href=\"#labels\">Labels</a>"
      "<a href=\"#pairwise\">Pairwise Dice</a>" +
      (summary.leaderboard.empty() ? "" : "<a href=\"#leaderboard\">Leaderboard</a>") +
      "<a href=\"#worklist\">Worklist</a><a href=\"#cases\">Cases</a>"
      "<a href=\"#failed\">Failed</a><a href=\"#warnings\">Warnings</a></nav>"
      "</header>\n";
  s += html::gates_section(c) + html::baseline_section(c) + html::run_section(c) +
       html::dataset_section(c) + html::labels_section(c) + html::pairwise_section(c) +
       html::leaderboard_section(c) + html::worklist_section(c) + html::cases_section(c) +
       html::problems_section(c);
  s += "<footer class=\"note\"><p>Written by maskeval " + html::escape(MASKEVAL_VERSION) +
       ". This page is not the contract: report.json is (docs/report.md).</p></footer>\n";
  return s + "<script>" + html::kScript + "</script>\n</body></html>\n";
}

std::string write_html_report(const RunResult& result, const Summary& summary, const RunOptions& o,
                              const Dataset* data, const HtmlOptions& h) {
  const std::string path = (std::filesystem::path(o.out_dir) / "report.html").string();
  try {
    const auto thumbnails = worklist_thumbnails(result, summary, o, data, h);
    write_file_atomic(path, report_html_text(result, summary, o, thumbnails, o.out_dir, data, h));
  } catch (const std::exception& e) {
    throw FatalError("cannot write the report " + path + ": " + e.what());
  }
  return path;
}

}  // namespace maskeval
