// maskeval diff's outputs: diff.json, diff.csv, diff.html and the summary on the terminal.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "maskeval/diff.h"
#include "maskeval/report.h"
#include "report/html_page.h"
#include "report/html_text.h"
#include "report/json_report.h"
#include "util/csv.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

const char* const kOutputs[] = {"diff.json", "diff.csv", "diff.html"};
const char* const kCsvHeader =
    "entry,status,label,label_name,old_voxels,new_voxels,voxels_changed,dice,hd95,old_files,"
    "new_files";

Json number(double v) {
  return json_number(v);
}

Json distance(double v) {
  return json_distance(v);
}

Json digest_json(const std::string& path, const FileDigest& d) {
  return {{"path", path}, {"bytes", d.bytes}, {"sha256", d.sha256}};
}

Json side_json(const std::optional<DiffSide>& s) {
  if (!s) return nullptr;
  Json files = Json::array();
  for (const DiffFile& f : s->hashed) {
    Json j = {{"path", f.path},
              {"label", f.label == kWholeMap ? Json(nullptr) : Json(f.label)},
              {"bytes", f.digest ? Json(f.digest->bytes) : Json(nullptr)},
              {"sha256", f.digest ? Json(f.digest->sha256) : Json(nullptr)}};
    if (!f.data_files.empty()) {
      Json data = Json::array();
      for (const auto& [p, d] : f.data_files) data.push_back(digest_json(p, d));
      j["data_files"] = std::move(data);
    }
    if (!f.error.empty()) j["error"] = f.error;
    files.push_back(std::move(j));
  }
  Json j = {{"files", std::move(files)}};
  if (!s->rater.empty()) j["rater"] = s->rater;
  if (!s->problem.empty()) j["problem"] = {{"file", s->problem_file}, {"reason", s->problem}};
  return j;
}

Json labels_json(const DiffEntry& e, const RunOptions& o) {
  Json labels = Json::object();
  for (const DiffLabel& l : e.labels) {
    Json j = {{"name", o.labels.name(l.label)},     {"old_voxels", l.old_voxels},
              {"new_voxels", l.new_voxels},         {"both_voxels", l.both_voxels},
              {"voxels_changed", l.voxels_changed}, {"dice", number(l.dice)}};
    if (o.distances) j["hd95"] = distance(l.hd95);
    labels[o.labels.key(l.label)] = std::move(j);
  }
  return labels;
}

Json entry_json(const DiffEntry& e, const RunOptions& o) {
  Json j = {{"id", e.id}, {"status", diff_status_name(e.status)}};
  j["old"] = side_json(e.old_side);
  j["new"] = side_json(e.new_side);
  if (e.old_side && e.new_side && e.status != DiffStatus::kFailed)
    j["files"] = e.per_label ? "per_label" : "label_map";
  if (e.status == DiffStatus::kFailed) {
    j["file"] = e.file;
    j["reason"] = e.reason;
  }
  if (e.status != DiffStatus::kChanged) return j;
  j["rank"] = e.rank;
  j["voxels"] = e.voxels;
  j["voxels_changed"] = e.voxels_changed;
  j["voxels_changed_counts"] = e.exact_voxels ? "voxels" : "voxel_labels";
  j["min_dice"] = number(e.min_dice);
  j["worst_label"] = e.labels.empty() ? Json(nullptr) : Json(o.labels.key(e.worst_label));
  if (o.distances) j["distance_unit"] = e.distance_unit;
  j["labels"] = labels_json(e, o);
  return j;
}

Json options_json(const RunOptions& o) {
  Json regions = Json::object();
  for (const Region& r : o.labels.regions) regions[r.name] = r.labels;
  Json names = Json::object();
  for (const auto& [label, name] : o.labels.names) names[std::to_string(label)] = name;
  Json j = {{"foreground", o.foreground.text()},
            {"distances", o.distances},
            {"label_names", std::move(names)},
            {"regions", std::move(regions)}};
  if (o.distances) {
    j["distance_convention"] = convention_name(o.distance.convention);
    j["percentile"] = o.distance.percentile;
    if (o.spacing[0] > 0) j["spacing"] = o.spacing;
  }
  return j;
}

}  // namespace

std::string diff_json_text(const DiffResult& r, const RunOptions& o) {
  Json j;
  j["maskeval_version"] = MASKEVAL_VERSION;
  j["command"] = "diff";
  j["command_line"] = o.command_line;
  j["versions"] = {{"old", {{"path", r.old_path}, {"kind", r.old_kind}}},
                   {"new", {{"path", r.new_path}, {"kind", r.new_kind}}}};
  j["backend"] = r.backend.empty() ? Json(nullptr) : Json(r.backend);
  j["options"] = options_json(o);
  if (o.distances)
    j["distance_unit"] = r.distance_unit.empty() ? Json(nullptr) : Json(r.distance_unit);
  const DiffCounts& c = r.counts;
  j["counts"] = {{"entries", c.total()},     {"added", c.added},     {"removed", c.removed},
                 {"unchanged", c.unchanged}, {"changed", c.changed}, {"failed", c.failed}};
  Json ranked = Json::array();
  for (const size_t i : r.ranked) {
    const DiffEntry& e = r.entries[i];
    ranked.push_back(
        {{"rank", e.rank},
         {"id", e.id},
         {"min_dice", number(e.min_dice)},
         {"worst_label", e.labels.empty() ? Json(nullptr) : Json(o.labels.key(e.worst_label))},
         {"voxels_changed", e.voxels_changed}});
  }
  j["ranked"] = std::move(ranked);
  Json entries = Json::array();
  for (const DiffEntry& e : r.entries) entries.push_back(entry_json(e, o));
  j["entries"] = std::move(entries);
  j["warnings"] = r.warnings;
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

std::string joined_files(const std::optional<DiffSide>& s) {
  std::string out;
  if (!s) return out;
  for (const DiffFile& f : s->hashed) out += (out.empty() ? "" : ";") + f.path;
  return out;
}

std::string csv_row(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
  return line + "\n";
}

std::string count_text(uint64_t n) {
  return std::to_string(n);
}

}  // namespace

std::string diff_csv_text(const DiffResult& r, const RunOptions& o) {
  std::string out = std::string(kCsvHeader) + "\n";
  for (const DiffEntry& e : r.entries) {
    const std::string id = csv_cell(e.id), status = diff_status_name(e.status);
    const std::string files =
        csv_cell(joined_files(e.old_side)) + "," + csv_cell(joined_files(e.new_side));
    if (e.status != DiffStatus::kChanged) {
      out += csv_row({id, status, "", "", "", "", "", "", "", files});
      continue;
    }
    // The entry as a whole (label empty), then each label and region.
    out += csv_row({id, status, "", "", "", "", count_text(e.voxels_changed), "", "", files});
    for (const DiffLabel& l : e.labels)
      out +=
          csv_row({id, status, csv_cell(o.labels.key(l.label)), csv_cell(o.labels.name(l.label)),
                   count_text(l.old_voxels), count_text(l.new_voxels), count_text(l.voxels_changed),
                   csv_number(l.dice), o.distances ? csv_number(l.hd95) : "", files});
  }
  return out;
}

namespace {

const char* kStyle =
    "body{font:14px/1.45 system-ui,sans-serif;color:#1d1d1f;margin:0 auto;max-width:1240px;"
    "padding:0 20px 40px}h1{font-size:24px}h2{font-size:19px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:6px 0 10px}th,td{border:1px solid #d8d8dc;"
    "padding:3px 7px;vertical-align:top}th{background:#eef1f6;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#555;font-size:13px}"
    "code{font:12px ui-monospace,monospace;background:#f4f4f6;padding:1px 4px}";

std::string kv(const std::string& key, const std::string& value_html) {
  return "<tr><th>" + html::escape(key) + "</th><td>" + value_html + "</td></tr>\n";
}

std::string cut_note(size_t shown, size_t total, const std::string& what) {
  if (shown >= total) return "";
  return "<p class=\"note\">" + std::to_string(total - shown) + " more " + html::escape(what) +
         " not shown (" + std::to_string(total) + " in all; diff.json and diff.csv list every " +
         "one).</p>\n";
}

// A label as people read it: its name, with its key when that differs.
std::string label_text(const RunOptions& o, LabelId id) {
  const std::string name = o.labels.name(id), key = o.labels.key(id);
  return name == key ? name : name + " (" + key + ")";
}

// Each label's Dice of a changed entry, in one cell.
std::string labels_cell(const DiffEntry& e, const RunOptions& o) {
  std::string s;
  for (size_t k = 0; k < e.labels.size() && k < 12; ++k)
    s += (k ? "; " : "") + label_text(o, e.labels[k].label) + ": " +
         html::number(e.labels[k].dice, 4);
  if (e.labels.size() > 12) s += "; ...";
  return s;
}

std::string ranked_table(const DiffResult& r, const RunOptions& o, size_t max_rows) {
  const std::string unit = r.distance_unit.empty() ? "" : " (" + r.distance_unit + ")";
  std::vector<std::string> headings = {"rank", "entry", "lowest Dice", "label", "voxels changed"};
  if (o.distances) headings.push_back("HD95" + unit + " of that label");
  headings.push_back("Dice per label");
  html::Table t(headings);
  size_t shown = 0;
  for (; shown < r.ranked.size() && shown < max_rows; ++shown) {
    const DiffEntry& e = r.entries[r.ranked[shown]];
    double hd = NAN;
    for (const DiffLabel& l : e.labels)
      if (l.label == e.worst_label) hd = l.hd95;
    std::string cells = html::td_count(e.rank) + html::td(e.id) + html::td_number(e.min_dice, 4) +
                        html::td(e.labels.empty() ? "-" : label_text(o, e.worst_label)) +
                        html::td_count(e.voxels_changed);
    if (o.distances) cells += html::td_number(hd, 2);
    t.row(cells + html::td(labels_cell(e, o)));
  }
  return t.done() + cut_note(shown, r.ranked.size(), "changed entries");
}

// Added, removed and failed entries, with their files and, for failures, the reason.
std::string others_table(const DiffResult& r, size_t max_rows) {
  html::Table t({"entry", "status", "file", "reason"});
  size_t shown = 0, total = 0;
  for (const DiffEntry& e : r.entries) {
    if (e.status == DiffStatus::kChanged || e.status == DiffStatus::kUnchanged) continue;
    ++total;
    if (shown == max_rows) continue;
    ++shown;
    const std::optional<DiffSide>& side = e.new_side ? e.new_side : e.old_side;
    const std::string file = e.status == DiffStatus::kFailed ? e.file : joined_files(side);
    t.row(html::td(e.id) + html::td(diff_status_name(e.status)) +
          html::td_html("<code>" + html::escape(html::shorten(file, 400)) + "</code>") +
          html::td(e.reason));
  }
  if (total == 0) return "<p>None.</p>\n";
  return t.done() + cut_note(shown, total, "entries");
}

std::string counts_table(const DiffResult& r) {
  const DiffCounts& c = r.counts;
  return "<table class=\"kv\">\n" +
         kv("OLD", "<code>" + html::escape(r.old_path) + "</code> (" + r.old_kind + ")") +
         kv("NEW", "<code>" + html::escape(r.new_path) + "</code> (" + r.new_kind + ")") +
         kv("entries", std::to_string(c.total())) + kv("changed", std::to_string(c.changed)) +
         kv("unchanged", std::to_string(c.unchanged) + " (same size and SHA-256, not decoded)") +
         kv("added (only in NEW)", std::to_string(c.added)) +
         kv("removed (only in OLD)", std::to_string(c.removed)) +
         kv("failed", std::to_string(c.failed)) + "</table>\n";
}

}  // namespace

std::string diff_html_text(const DiffResult& r, const RunOptions& o, size_t max_rows) {
  const std::string title = "maskeval diff: " + std::to_string(r.counts.changed) + " of " +
                            std::to_string(r.counts.total()) + " entries changed";
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
                  html::escape(title) + "</title>\n<style>" + kStyle + "</style></head><body>\n" +
                  "<h1>" + html::escape(title) + "</h1>\n";
  if (!o.command_line.empty())
    s += "<p class=\"note\"><code>" + html::escape(html::shorten(o.command_line, 4000)) +
         "</code></p>\n";
  s += "<section id=\"changes\"><h2>Changes between versions</h2>\n" + counts_table(r) +
       "<h3>Changed entries, most changed first</h3>\n<p class=\"note\">Ranked by the lowest "
       "Dice between the versions over the entry's labels (regions aside), then by the voxels "
       "changed. Voxels changed: voxels whose label differs (for one binary file per label, "
       "the sum over the labels).</p>\n" +
       ranked_table(r, o, max_rows) + "<h3>Added, removed and failed entries</h3>\n" +
       others_table(r, max_rows) + "</section>\n";
  if (!r.warnings.empty()) {
    s += "<section id=\"warnings\"><h2>Warnings</h2><ul>\n";
    for (size_t k = 0; k < r.warnings.size() && k < max_rows; ++k)
      s += "<li>" + html::escape(html::shorten(r.warnings[k], 2000)) + "</li>\n";
    s += "</ul>" + cut_note(std::min(max_rows, r.warnings.size()), r.warnings.size(), "warnings") +
         "</section>\n";
  }
  return s + "<footer class=\"note\"><p>Written by maskeval " + html::escape(MASKEVAL_VERSION) +
         "; every figure is in <a href=\"diff.json\">diff.json</a>.</p></footer>\n</body></html>\n";
}

namespace {

// Whether `path` is an output of maskeval diff, by its content.
bool is_ours(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  const std::string name = path.filename().string();
  if (name == "diff.json")
    return head.find("\"maskeval_version\"") != std::string::npos &&
           head.find("\"command\": \"diff\"") != std::string::npos;
  if (name == "diff.csv") return head.rfind(kCsvHeader, 0) == 0;
  return head.find("<title>maskeval diff") != std::string::npos;
}

}  // namespace

void check_diff_outputs(const std::string& out_dir) {
  for (const char* name : kOutputs) {
    const fs::path p = fs::path(out_dir) / name;
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(p, ec);
    if (!fs::exists(st)) continue;
    if (!fs::is_regular_file(st) || !is_ours(p))
      throw FatalError(p.string() +
                       " was not written by maskeval diff; choose another output folder (-o)");
  }
}

std::vector<std::string> write_diff_outputs(const DiffResult& r, const RunOptions& o) {
  const std::string texts[] = {diff_json_text(r, o), diff_csv_text(r, o), diff_html_text(r, o)};
  std::vector<std::string> paths, partial;
  try {
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    for (size_t k = 0; k < 3; ++k) {
      paths.push_back((fs::path(o.out_dir) / kOutputs[k]).string());
      partial.push_back(
          (fs::path(o.out_dir) / (std::string(".") + kOutputs[k] + ".partial")).string());
      write_file_atomic(partial.back(), texts[k]);
    }
    for (size_t k = 0; k < 3; ++k) fs::rename(partial[k], paths[k]);
  } catch (const std::exception& e) {
    for (const std::string& p : partial) {
      std::error_code ec;
      fs::remove(p, ec);
    }
    throw FatalError("cannot write the diff outputs in " + o.out_dir + ": " + e.what());
  }
  return paths;
}

namespace {

std::string fixed(double v, int width, int digits) {
  char buf[64];
  if (std::isnan(v)) {
    std::snprintf(buf, sizeof buf, "%*s", width, "-");
  } else if (std::isinf(v)) {
    std::snprintf(buf, sizeof buf, "%*s", width, "inf");
  } else {
    std::snprintf(buf, sizeof buf, "%*.*f", width, digits, v);
  }
  return buf;
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// The ids of the entries of one status, at most `max` of them.
std::string ids_of(const DiffResult& r, DiffStatus status, size_t max) {
  std::string out;
  size_t n = 0;
  for (const DiffEntry& e : r.entries) {
    if (e.status != status) continue;
    if (n++ < max) out += (out.empty() ? "" : ", ") + e.id;
  }
  if (n > max) out += " and " + std::to_string(n - max) + " more";
  return out;
}

void print_ranked(std::ostream& out, const DiffResult& r, const RunOptions& o, size_t top) {
  size_t width = 5;
  for (size_t k = 0; k < r.ranked.size() && k < top; ++k)
    width = std::max(width, r.entries[r.ranked[k]].id.size());
  const std::string unit = r.distance_unit.empty() ? "" : " (" + r.distance_unit + ")";
  out << "most changed (lowest Dice first):\n  rank  " << pad("entry", width)
      << "  lowest Dice  voxels changed" << (o.distances ? "  HD95" + unit : "") << "  label\n";
  for (size_t k = 0; k < r.ranked.size() && k < top; ++k) {
    const DiffEntry& e = r.entries[r.ranked[k]];
    double hd = NAN;
    for (const DiffLabel& l : e.labels)
      if (l.label == e.worst_label) hd = l.hd95;
    char rank[16];
    std::snprintf(rank, sizeof rank, "%6zu", e.rank);
    out << rank << "  " << pad(e.id, width) << "  " << fixed(e.min_dice, 11, 4) << "  "
        << fixed(static_cast<double>(e.voxels_changed), 14, 0)
        << (o.distances ? "  " + fixed(hd, 4 + static_cast<int>(unit.size()), 2) : "") << "  "
        << (e.labels.empty() ? "-" : label_text(o, e.worst_label)) << "\n";
  }
  if (r.ranked.size() > top)
    out << "  ... " << r.ranked.size() - top << " more changed entries in diff.json\n";
}

}  // namespace

void print_diff_summary(std::ostream& out, const DiffResult& r, const RunOptions& o, size_t top) {
  const DiffCounts& c = r.counts;
  out << "maskeval diff: " << r.old_path << " (" << r.old_kind << ") -> " << r.new_path << " ("
      << r.new_kind << ")\n"
      << c.total() << " entries: " << c.changed << " changed, " << c.unchanged << " unchanged, "
      << c.added << " added, " << c.removed << " removed, " << c.failed << " failed\n";
  if (!r.ranked.empty()) print_ranked(out, r, o, top);
  if (c.added) out << "added: " << ids_of(r, DiffStatus::kAdded, top) << "\n";
  if (c.removed) out << "removed: " << ids_of(r, DiffStatus::kRemoved, top) << "\n";
  for (const DiffEntry& e : r.entries)
    if (e.status == DiffStatus::kFailed)
      out << "failed: " << e.id << ": " << (e.file.empty() ? "" : e.file + ": ") << e.reason
          << "\n";
  out << "outputs: " << (fs::path(o.out_dir) / "diff.json").string() << ", diff.csv, diff.html\n";
}

}  // namespace maskeval
