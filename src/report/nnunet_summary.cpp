// score --nnunet-summary: nnU-Net v2's summary.json for each scored rater or prediction.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "maskeval/report.h"
#include "report/streamed_file.h"

namespace maskeval {
namespace {

// nnU-Net's metrics of one label or region in one case, as its compute_metrics names them.
struct Counts {
  uint64_t tp = 0, fp = 0, fn = 0, tn = 0;
  // NaN when the mask and the reference are both empty (nnU-Net's rule, whatever --empty says).
  double dice() const {
    return tp + fp + fn == 0 ? NAN : static_cast<double>(2 * tp) / (2 * tp + fp + fn);
  }
  double iou() const { return tp + fp + fn == 0 ? NAN : static_cast<double>(tp) / (tp + fp + fn); }
};

// numpy's float64 summation (np.sum, np.mean, np.nanmean): pairwise, in blocks of up to 128
// summed with 8 accumulators, so that the means read the same as nnU-Net's to the last bit.
double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// np.nanmean: NaN replaced by 0 where it stands, the sum divided by the count of the others.
double nanmean(std::vector<double> v) {
  size_t defined = 0;
  for (double& x : v) {
    if (std::isnan(x)) {
      x = 0;
    } else {
      ++defined;
    }
  }
  return defined == 0 ? NAN : pairwise_sum(v.data(), v.size()) / static_cast<double>(defined);
}

// A float as Python's json module writes it (repr): the shortest digits that read back the
// same, positional from 1e-4 up to 1e16 (with ".0" when whole), else d.ddde+XX; NaN as NaN.
std::string py_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, r.ptr), sign;
  if (s[0] == '-') {
    sign = "-";
    s.erase(0, 1);
  }
  const size_t e = s.find('e');
  const int exp = std::stoi(s.substr(e + 1));
  std::string digits = s.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // the point
  if (exp < -4 || exp >= 16) {
    const std::string mantissa =
        digits.size() > 1 ? digits.substr(0, 1) + "." + digits.substr(1) : digits;
    const std::string power = std::to_string(std::abs(exp));
    return sign + mantissa + (exp < 0 ? "e-" : "e+") + (power.size() < 2 ? "0" : "") + power;
  }
  if (exp < 0) return sign + "0." + std::string(-exp - 1, '0') + digits;
  const size_t whole = static_cast<size_t>(exp) + 1;
  if (digits.size() <= whole) return sign + digits + std::string(whole - digits.size(), '0') + ".0";
  return sign + digits.substr(0, whole) + "." + digits.substr(whole);
}

// The next code point of UTF-8 text at `i` (advanced). Where the bytes are not UTF-8, U+FFFD
// for the longest start of a valid sequence (at least one byte), as Python's "replace" does.
uint32_t next_code_point(const std::string& s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return s[i++];
  const int len = b >= 0xc2 && b <= 0xdf ? 2 : (b >> 4) == 0xe ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
  const unsigned char lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
  const unsigned char hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
  uint32_t cp = len == 2 ? b & 0x1f : len == 3 ? b & 0x0f : b & 0x07;
  int k = 1;
  for (; k < len && i + k < s.size(); ++k) {
    const unsigned char c = byte(i + k);
    if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf)) break;
    cp = cp << 6 | (c & 0x3f);
  }
  i += k;
  return len > 0 && k == len ? cp : 0xfffd;
}

// A string as Python's json module writes it (ensure_ascii): everything outside printable
// ASCII as \uXXXX (UTF-16 pairs above U+FFFF); bytes that are not UTF-8 become U+FFFD.
std::string py_string(const std::string& s) {
  std::string out = "\"";
  char hex[16];
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    const char* named = cp == '"'    ? "\\\""
                        : cp == '\\' ? "\\\\"
                        : cp == '\n' ? "\\n"
                        : cp == '\r' ? "\\r"
                        : cp == '\t' ? "\\t"
                        : cp == '\b' ? "\\b"
                        : cp == '\f' ? "\\f"
                                     : nullptr;
    if (named) {
      out += named;
    } else if (cp >= 0x20 && cp < 0x7f) {
      out += static_cast<char>(cp);
    } else if (cp < 0x10000) {
      std::snprintf(hex, sizeof hex, "\\u%04x", cp);
      out += hex;
    } else {
      const uint32_t v = cp - 0x10000;
      std::snprintf(hex, sizeof hex, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      out += hex;
    }
  }
  return out + "\"";
}

// The key nnU-Net gives a label (str of an int: "2") or a region (str of a tuple: "(1, 2)",
// "(3,)"), with the region's labels ascending.
std::string nnunet_key(LabelId id, const RunOptions& o) {
  if (!is_region(id)) return std::to_string(id);
  const std::vector<Label>& labels = o.labels.region(id).labels;
  std::string key = "(";
  for (size_t i = 0; i < labels.size(); ++i) key += (i ? ", " : "") + std::to_string(labels[i]);
  return key + (labels.size() == 1 ? ",)" : ")");
}

bool in_summary(const RunOptions& o, LabelId id) {
  if (is_region(id)) return true;
  if (o.labels.ignore && static_cast<LabelId>(*o.labels.ignore) == id) return false;
  return id != 0 || o.include_background;
}

// What nnU-Net evaluates. Without regions: every label scored in the run and every label named
// by --labels (its dataset.json lists them all, each case scored for each). With regions (its
// region mode): the regions and the labels --labels names, the others left out. Never the
// ignore label; the background only with --include-background. Labels first, then regions.
std::vector<LabelId> summary_ids(const RunResult& result, const RunOptions& o) {
  std::set<LabelId> ids;
  for (const auto& [label, name] : o.labels.names) ids.insert(label);
  for (size_t k = 0; k < o.labels.regions.size(); ++k) ids.insert(o.labels.region_id(k));
  if (o.labels.regions.empty())
    for (const CaseResult& c : result.cases)
      for (const auto& [entity, by_label] : c.scores)
        for (const auto& kv : by_label) ids.insert(kv.first);
  std::vector<LabelId> out;
  for (const LabelId id : ids)
    if (in_summary(o, id)) out.push_back(id);
  return out;
}

bool scores_entity(const CaseResult& c, const std::string& name) {
  if (c.scored_against.empty()) return false;
  for (const auto* group : {&c.raters, &c.predictions})
    for (const std::string& n : *group)
      if (n == name) return true;
  return false;
}

// A label the case's scores lack was absent from both masks: nothing but true negatives.
Counts counts_of(const CaseResult& c, const std::string& name, LabelId id) {
  Counts k;
  const auto e = c.scores.find(name);
  if (e != c.scores.end()) {
    const auto it = e->second.find(id);
    if (it != e->second.end()) return {it->second.tp, it->second.fp, it->second.fn, it->second.tn};
  }
  k.tn = static_cast<uint64_t>(c.geom.voxels()) - c.ignored_voxels.value_or(0);
  return k;
}

std::string joined_files(const CaseResult& c, const std::string& name) {
  const auto it = c.files.find(name);
  std::string s;
  if (it == c.files.end()) return s;
  for (const std::string& f : it->second) s += (s.empty() ? "" : ";") + f;
  return s;
}

// The metrics in nnU-Net's (sorted) order: Dice, FN, FP, IoU, TN, TP, n_pred, n_ref.
constexpr const char* kMetrics[8] = {"Dice", "FN", "FP", "IoU", "TN", "TP", "n_pred", "n_ref"};

std::string indent(int level) {
  return std::string(4 * static_cast<size_t>(level), ' ');
}

// An object as json.dump(indent=4) lays it out; the values are JSON text already.
std::string object(const std::vector<std::pair<std::string, std::string>>& members, int level) {
  if (members.empty()) return "{}";
  std::string s = "{";
  for (size_t i = 0; i < members.size(); ++i)
    s += (i ? ",\n" : "\n") + indent(level + 1) + py_string(members[i].first) + ": " +
         members[i].second;
  return s + "\n" + indent(level) + "}";
}

std::string metrics_object(const std::vector<std::string>& values, int level) {
  std::vector<std::pair<std::string, std::string>> m;
  for (size_t i = 0; i < 8; ++i) m.emplace_back(kMetrics[i], values[i]);
  return object(m, level);
}

// The keys, sorted as Python sorts strings (sort_keys), with their labels and regions.
using Keys = std::vector<std::pair<std::string, LabelId>>;

// One case of `metric_per_case`, at depth 2.
std::string case_object(const CaseResult& c, const std::string& name, const Keys& keys) {
  std::vector<std::pair<std::string, std::string>> metrics;
  for (const auto& [key, id] : keys) {
    const Counts k = counts_of(c, name, id);
    metrics.emplace_back(
        key, metrics_object({py_float(k.dice()), std::to_string(k.fn), std::to_string(k.fp),
                             py_float(k.iou()), std::to_string(k.tn), std::to_string(k.tp),
                             std::to_string(k.tp + k.fp), std::to_string(k.tp + k.fn)},
                            4));
  }
  const std::string reference = c.scored_against == "reference" ? c.reference_file : "";
  return object({{"metrics", object(metrics, 3)},
                 {"prediction_file", py_string(joined_files(c, name))},
                 {"reference_file", py_string(reference)}},
                2);
}

// `mean`: per label or region, each metric averaged over the cases (np.nanmean), in the order
// of kMetrics.
std::map<LabelId, std::vector<double>> means_of(const RunResult& result, const std::string& name,
                                                const std::vector<LabelId>& ids) {
  std::map<LabelId, std::vector<double>> means;
  for (const LabelId id : ids) {
    std::vector<double> dice, iou;
    uint64_t fn = 0, fp = 0, tn = 0, tp = 0;  // whole numbers: their float sums are exact
    for (const CaseResult& c : result.cases) {
      if (!scores_entity(c, name)) continue;
      const Counts k = counts_of(c, name, id);
      dice.push_back(k.dice());
      iou.push_back(k.iou());
      fn += k.fn;
      fp += k.fp;
      tn += k.tn;
      tp += k.tp;
    }
    const double n = static_cast<double>(dice.size());
    const auto mean = [n](uint64_t sum) { return n == 0 ? NAN : static_cast<double>(sum) / n; };
    means[id] = {nanmean(dice), mean(fn), mean(fp),      nanmean(iou),
                 mean(tn),      mean(tp), mean(tp + fp), mean(tp + fn)};
  }
  return means;
}

void write_summary_file(const std::string& path, const std::string& name, const RunResult& result,
                        const RunOptions& o) {
  const std::vector<LabelId> ids = summary_ids(result, o);
  Keys keys;
  for (const LabelId id : ids) keys.emplace_back(nnunet_key(id, o), id);
  std::sort(keys.begin(), keys.end());
  const std::map<LabelId, std::vector<double>> means = means_of(result, name, ids);
  // foreground_mean: np.mean over the labels' and regions' means but label 0's, in their order
  // (labels, then regions); NaN where any of them is.
  std::vector<std::string> foreground(8);
  for (size_t m = 0; m < 8; ++m) {
    std::vector<double> v;
    for (const LabelId id : ids)
      if (id != 0) v.push_back(means.at(id)[m]);
    foreground[m] = py_float(v.empty() ? NAN : pairwise_sum(v.data(), v.size()) / v.size());
  }
  std::vector<std::pair<std::string, std::string>> mean;
  for (const auto& [key, id] : keys) {
    std::vector<std::string> values;
    for (const double x : means.at(id)) values.push_back(py_float(x));
    mean.emplace_back(key, metrics_object(values, 2));
  }
  StreamedFile out(path);
  out.put("{\n" + indent(1) + "\"foreground_mean\": " + metrics_object(foreground, 1) + ",\n" +
          indent(1) + "\"mean\": " + object(mean, 1) + ",\n" + indent(1) +
          "\"metric_per_case\": [");
  bool first = true;
  for (const CaseResult& c : result.cases) {
    if (!scores_entity(c, name)) continue;
    out.put((first ? "\n" : ",\n") + indent(2) + case_object(c, name, keys));
    first = false;
  }
  out.put(first ? "]\n}" : "\n" + indent(1) + "]\n}");
  out.commit();
}

// FILE itself for the one scored name; with several, FILE's stem + "_" + the name (characters
// other than letters, digits, '-', '.' and '_' made '_'; "~2", "~3" where two names meet) +
// FILE's extension, beside FILE.
std::vector<std::string> summary_paths(const std::string& file,
                                       const std::vector<std::string>& names) {
  if (names.size() <= 1) return {file};
  const std::filesystem::path p(file);
  std::set<std::string> taken;
  std::vector<std::string> out;
  for (const std::string& name : names) {
    std::string safe = name;
    for (char& ch : safe)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.' && ch != '_')
        ch = '_';
    std::string stem = p.stem().string() + "_" + safe;
    for (int k = 2; taken.count(stem); ++k)
      stem = p.stem().string() + "_" + safe + "~" + std::to_string(k);
    taken.insert(stem);
    out.push_back((p.parent_path() / (stem + p.extension().string())).string());
  }
  return out;
}

}  // namespace

std::vector<std::string> write_nnunet_summaries(const std::string& file, const RunResult& result,
                                                const RunOptions& o) {
  std::set<std::string> names;
  for (const CaseResult& c : result.cases) {
    if (c.scored_against.empty()) continue;
    names.insert(c.raters.begin(), c.raters.end());
    names.insert(c.predictions.begin(), c.predictions.end());
  }
  const std::vector<std::string> sorted(names.begin(), names.end());
  const std::vector<std::string> paths = summary_paths(file, sorted);
  const std::filesystem::path parent = std::filesystem::path(file).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // else open() says why
  if (sorted.empty()) {
    write_summary_file(paths[0], "", result, o);  // no case: no metric_per_case, NaN means
    return paths;
  }
  for (size_t i = 0; i < sorted.size(); ++i) write_summary_file(paths[i], sorted[i], result, o);
  return paths;
}

}  // namespace maskeval
