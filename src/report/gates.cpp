// Quality gates: the expression parser (recursive descent), gate files and their checks.
#include "maskeval/gates.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace maskeval {
namespace {

// Where a figure may be used: bits of scopes, whether it takes [label], score runs only.
constexpr unsigned kAtDataset = 1, kAtRater = 2, kAtCase = 4, kEverywhere = 7;
struct FigureInfo {
  const char* name;
  unsigned scopes;
  bool label;
  bool score_only;
};
constexpr FigureInfo kFigures[] = {
    {"mean_dice", kAtDataset, true, false},
    {"median_dice", kAtDataset, true, false},
    {"min_dice", kAtDataset, true, false},
    {"pooled_dice", kAtDataset, true, false},
    {"mean_fleiss_kappa", kAtDataset, true, false},
    {"infinite_pairs", kAtDataset, true, false},
    {"label_cases", kAtDataset, true, false},
    {"drift_d", kAtDataset, true, false},
    {"drift_p", kAtDataset, true, false},
    {"failed_cases", kEverywhere, false, false},
    {"cases", kEverywhere, false, false},
    {"warnings", kEverywhere, false, false},
    {"mean_dice", kAtRater, true, true},
    {"mean_iou", kAtRater, true, true},
    {"mean_sensitivity", kAtRater, true, true},
    {"mean_precision", kAtRater, true, true},
    {"pooled_dice", kAtRater, true, true},
    {"pooled_iou", kAtRater, true, true},
    {"rater_mean_dice", kAtRater, true, false},
    {"mean_pairwise_dice", kAtCase, false, false},
    {"min_pair_dice", kAtCase, true, false},
    {"mean_dice", kAtCase, true, true},
};

unsigned scope_bit(GateScope s) {
  return s == GateScope::kDataset ? kAtDataset : (s == GateScope::kAnyCase ? kAtCase : kAtRater);
}

const char* scope_words(GateScope s) {
  return s == GateScope::kDataset ? "at dataset level"
                                  : (s == GateScope::kAnyCase ? "per case" : "per rater");
}

// The figures of a scope and command, for messages.
std::string figure_list(GateScope scope, Command command) {
  std::string out;
  std::set<std::string> seen;
  for (const FigureInfo& f : kFigures)
    if ((f.scopes & scope_bit(scope)) && (!f.score_only || command == Command::kScore) &&
        seen.insert(f.name).second)
      out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

class Parser {
 public:
  Parser(const std::string& name, const std::string& text, const GateContext& ctx)
      : name_(name), s_(text), ctx_(ctx) {}

  Gate parse() {
    Gate g;
    g.name = name_;
    g.expression = s_;
    parse_scope(g);
    scope_ = g.scope;
    auto root = parse_or();
    skip();
    if (pos_ < s_.size()) fail(pos_, "unexpected '" + s_.substr(pos_, 12) + "'; and/or expected");
    g.root = std::move(root);
    return g;
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw UsageError("gate '" + name_ + "': column " + std::to_string(at + 1) + ": " + what);
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  // A keyword at pos_ (not the start of a longer name); consumed when it is there.
  bool keyword(const std::string& w) {
    skip();
    if (s_.compare(pos_, w.size(), w) != 0) return false;
    if (pos_ + w.size() < s_.size() && ident_char(s_[pos_ + w.size()]) && ident_char(w.back()))
      return false;
    pos_ += w.size();
    return true;
  }
  void expect(char c, const std::string& what) {
    skip();
    if (pos_ >= s_.size() || s_[pos_] != c) fail(pos_, what);
    ++pos_;
  }

  void parse_scope(Gate& g) {
    const size_t start = pos_;
    if (keyword("rater")) {
      skip();
      if (pos_ < s_.size() && s_[pos_] == '=') {
        ++pos_;
        const size_t colon = s_.find(':', pos_);
        if (colon == std::string::npos) fail(pos_, "':' expected after rater=NAME");
        std::string who = s_.substr(pos_, colon - pos_);
        while (!who.empty() && std::isspace(static_cast<unsigned char>(who.back()))) who.pop_back();
        while (!who.empty() && std::isspace(static_cast<unsigned char>(who.front())))
          who.erase(0, 1);
        if (who.empty()) fail(pos_, "a rater's name or * expected after rater=");
        g.scope = who == "*" ? GateScope::kEveryRater : GateScope::kRater;
        if (who != "*") g.rater = who;
        pos_ = colon + 1;
        return;
      }
      pos_ = start;
    }
    if (keyword("any")) {
      if (!keyword("case")) fail(pos_, "'any case:' expected");
      expect(':', "':' expected after 'any case'");
      g.scope = GateScope::kAnyCase;
      return;
    }
    pos_ = start;
  }

  std::unique_ptr<GateNode> parse_or() {
    auto left = parse_and();
    while (keyword("or")) left = join(GateNode::Kind::kOr, std::move(left), parse_and());
    return left;
  }
  std::unique_ptr<GateNode> parse_and() {
    auto left = parse_primary();
    while (keyword("and")) left = join(GateNode::Kind::kAnd, std::move(left), parse_primary());
    return left;
  }
  static std::unique_ptr<GateNode> join(GateNode::Kind k, std::unique_ptr<GateNode> a,
                                        std::unique_ptr<GateNode> b) {
    auto n = std::make_unique<GateNode>();
    n->kind = k;
    n->left = std::move(a);
    n->right = std::move(b);
    return n;
  }
  std::unique_ptr<GateNode> parse_primary() {
    skip();
    if (pos_ < s_.size() && s_[pos_] == '(') {
      ++pos_;
      auto inner = parse_or();
      expect(')', "')' expected");
      return inner;
    }
    auto n = std::make_unique<GateNode>();
    n->figure = parse_figure();
    n->cmp = parse_cmp();
    n->threshold = parse_number();
    return n;
  }

  std::string ident() {
    skip();
    const size_t start = pos_;
    while (pos_ < s_.size() && ident_char(s_[pos_])) ++pos_;
    if (pos_ == start)
      fail(start, start < s_.size() ? "a figure expected, not '" + s_.substr(start, 1) + "'"
                                    : "a figure expected at the end");
    return s_.substr(start, pos_ - start);
  }

  GateFigure parse_figure() {
    skip();
    const size_t start = pos_;
    GateFigure f;
    f.name = ident();
    if (f.name == "delta") {
      skip();
      if (pos_ >= s_.size() || s_[pos_] != '(') fail(pos_, "'(' expected after delta");
      if (!ctx_.baseline) fail(start, "delta() needs --baseline (a baseline run to compare with)");
      ++pos_;
      const size_t inner = pos_;
      f.name = ident();
      f.delta = true;
      parse_label(f, inner);
      expect(')', "')' expected after delta's figure");
      return f;
    }
    parse_label(f, start);
    if (f.needs_baseline() && !ctx_.baseline)
      fail(start, "'" + f.name + "' needs --baseline (a baseline run to compare with)");
    return f;
  }

  const FigureInfo* find_figure(const std::string& name) const {
    for (const FigureInfo& f : kFigures)
      if (name == f.name && (f.scopes & scope_bit(scope_))) return &f;
    return nullptr;
  }

  // The optional [label] after a figure's name, and whether the figure exists here.
  void parse_label(GateFigure& f, size_t start) {
    const FigureInfo* info = find_figure(f.name);
    if (!info)
      fail(start, "no figure '" + f.name + "' " + scope_words(scope_) +
                      " (figures: " + figure_list(scope_, ctx_.command) + ")");
    if (info->score_only && ctx_.command != Command::kScore)
      fail(start, "'" + f.name + "' " + scope_words(scope_) +
                      " needs score (figures here: " + figure_list(scope_, ctx_.command) + ")");
    skip();
    if (pos_ >= s_.size() || s_[pos_] != '[') return;
    if (!info->label) fail(pos_, "'" + f.name + "' takes no [label]");
    const size_t open = pos_;
    const size_t close = s_.find(']', open);
    if (close == std::string::npos) fail(open, "']' expected");
    f.label_text = s_.substr(open + 1, close - open - 1);
    pos_ = close + 1;
    if (f.label_text.empty()) fail(open, "a label, label name or region expected in []");
    if (ctx_.labels) f.label = ctx_.labels->find(f.label_text);
    if (!f.label)
      fail(open + 1, "'" + f.label_text +
                         "' is no label (0..65535), label name (--labels) or region (--region)");
  }

  GateCmp parse_cmp() {
    skip();
    const std::string two = s_.substr(pos_, 2);
    const std::pair<const char*, GateCmp> ops[] = {
        {"<=", GateCmp::kLessEqual}, {">=", GateCmp::kGreaterEqual}, {"==", GateCmp::kEqual},
        {"!=", GateCmp::kNotEqual},  {"<", GateCmp::kLess},          {">", GateCmp::kGreater}};
    for (const auto& [text, cmp] : ops)
      if (two.compare(0, std::char_traits<char>::length(text), text) == 0) {
        pos_ += std::char_traits<char>::length(text);
        return cmp;
      }
    fail(pos_, "a comparison expected (< <= > >= == !=)");
  }

  double parse_number() {
    skip();
    const char c = pos_ < s_.size() ? s_[pos_] : '\0';
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+'))
      fail(pos_, "a number expected");
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin || !std::isfinite(v)) fail(pos_, "a number expected");
    pos_ += static_cast<size_t>(end - begin);
    if (pos_ < s_.size() && ident_char(s_[pos_])) fail(pos_, "a number expected");
    return v;
  }

  const std::string& name_;
  const std::string& s_;
  const GateContext& ctx_;
  GateScope scope_ = GateScope::kDataset;
  size_t pos_ = 0;
};

// A YAML scalar of the subset: plain, or in single or double quotes.
std::string yaml_scalar(std::string v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    std::string out;
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      out += v[i];
      if (v[i] == '\'' && v[i + 1] == '\'') ++i;
    }
    return out;
  }
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    if (v.find('\\') != std::string::npos)
      throw std::invalid_argument("escapes in double quotes are not read; use single quotes");
    return v.substr(1, v.size() - 2);
  }
  return v;
}

// `- name: X` / `  fail_if: EXPR` entries; returns (name, expression) pairs.
std::vector<std::pair<std::string, std::string>> read_yaml(std::istream& in) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(' ');
    if (first == std::string::npos || line[first] == '#') continue;
    std::string rest = line.substr(first);
    const bool item = rest.rfind("- ", 0) == 0;
    if (item) rest = rest.substr(rest.find_first_not_of(' ', 1));
    if (!item && (first == 0 || out.empty()))
      throw std::invalid_argument("line " + std::to_string(n) + ": '- name: ...' expected");
    const size_t colon = rest.find(':');
    const std::string key = colon == std::string::npos ? "" : rest.substr(0, colon);
    if (key != "name" && key != "fail_if")
      throw std::invalid_argument("line " + std::to_string(n) +
                                  ": only 'name:' and 'fail_if:' keys are read");
    if (item) out.emplace_back();
    try {
      (key == "name" ? out.back().first : out.back().second) = yaml_scalar(rest.substr(colon + 1));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("line " + std::to_string(n) + ": " + e.what());
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> read_json(std::istream& in) {
  const nlohmann::json j = nlohmann::json::parse(in);
  const nlohmann::json& list = j.is_object() && j.contains("gates") ? j["gates"] : j;
  if (!list.is_array())
    throw std::invalid_argument("a list of {\"name\", \"fail_if\"} (or {\"gates\": [...]})");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& g : list) {
    if (!g.is_object() || !g.contains("fail_if") || !g["fail_if"].is_string() ||
        (g.contains("name") && !g["name"].is_string()))
      throw std::invalid_argument("each gate is {\"name\": text, \"fail_if\": text}");
    out.emplace_back(g.value("name", ""), g["fail_if"].get<std::string>());
  }
  return out;
}

}  // namespace

std::string GateFigure::text() const {
  const std::string f = name + (label_text.empty() ? "" : "[" + label_text + "]");
  return delta ? "delta(" + f + ")" : f;
}

bool GateFigure::needs_baseline() const {
  return delta || name == "drift_d" || name == "drift_p";
}

const char* gate_cmp_text(GateCmp c) {
  switch (c) {
    case GateCmp::kLess:
      return "<";
    case GateCmp::kLessEqual:
      return "<=";
    case GateCmp::kGreater:
      return ">";
    case GateCmp::kGreaterEqual:
      return ">=";
    case GateCmp::kEqual:
      return "==";
    case GateCmp::kNotEqual:
      return "!=";
  }
  return "?";
}

Gate parse_gate(const std::string& name, const std::string& expression, const GateContext& ctx) {
  return Parser(name.empty() ? expression : name, expression, ctx).parse();
}

std::vector<Gate> read_gate_file(const std::string& path, const GateContext& ctx) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--gates " + path + ": cannot be read");
  std::vector<std::pair<std::string, std::string>> entries;
  try {
    const bool yaml = path.size() > 4 && (path.compare(path.size() - 4, 4, ".yml") == 0 ||
                                          path.compare(path.size() - 5, 5, ".yaml") == 0);
    entries = yaml ? read_yaml(in) : read_json(in);
  } catch (const std::exception& e) {
    throw UsageError("--gates " + path + ": " + e.what());
  }
  std::vector<Gate> gates;
  for (const auto& [name, expression] : entries) {
    if (expression.empty())
      throw UsageError("--gates " + path + ": gate '" + name + "' has no fail_if");
    gates.push_back(parse_gate(name, expression, ctx));
  }
  return gates;
}

void check_gates(const std::vector<Gate>& gates, const Dataset& data) {
  std::set<std::string> names, raters;
  for (const CaseSpec& c : data.cases) {
    for (const auto& kv : c.raters) raters.insert(kv.first);
    for (const auto& kv : c.predictions) raters.insert(kv.first);
  }
  for (const Gate& g : gates) {
    if (!names.insert(g.name).second) throw UsageError("two gates are named '" + g.name + "'");
    if (g.scope != GateScope::kRater || raters.count(g.rater)) continue;
    std::string known;
    for (const std::string& r : raters) known += (known.empty() ? "" : ", ") + r;
    throw UsageError("gate '" + g.name + "': no rater or prediction '" + g.rater +
                     "' in this dataset (" + (known.empty() ? "none" : known) + ")");
  }
}

}  // namespace maskeval
