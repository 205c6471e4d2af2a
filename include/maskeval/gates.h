// Quality gates: expressions that say when a run fails (--fail-if, --gates), and their verdicts.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "maskeval/label_set.h"
#include "maskeval/run.h"

namespace maskeval {

struct Summary;
class BaselineRun;

// What a gate's expression is checked over: the dataset, one rater or prediction, every rater
// or prediction (the gate fails if any does), or every case (the gate fails if any does).
enum class GateScope { kDataset, kRater, kEveryRater, kAnyCase };
enum class GateCmp { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

// A figure as written: its name, the label selector ("" for none) and what it resolved to.
struct GateFigure {
  std::string name;
  std::string label_text;        // between [ and ], as written
  std::optional<LabelId> label;  // the label or region it names
  bool delta = false;            // delta(FIGURE): the change against a baseline run
  bool needs_baseline() const;   // delta(), or a drift figure
  std::string text() const;      // e.g. "mean_dice[kidney]", "delta(pooled_dice)"
};

// The expression's tree: a comparison (a leaf), or `and` / `or` of two subtrees.
struct GateNode {
  enum class Kind { kCompare, kAnd, kOr } kind = Kind::kCompare;
  GateFigure figure;
  GateCmp cmp = GateCmp::kLess;
  double threshold = 0;
  std::unique_ptr<GateNode> left, right;
};

struct Gate {
  std::string name, expression;
  GateScope scope = GateScope::kDataset;
  std::string rater;  // GateScope::kRater
  std::shared_ptr<const GateNode> root;
};

// What may be known when parsing: the run's command and labels, whether a baseline is given.
struct GateContext {
  Command command = Command::kAgree;
  const LabelSet* labels = nullptr;
  bool baseline = false;
};

// Parses `[SCOPE:] FIGURE CMP NUMBER [and|or ...]` (docs in the README, "Quality gates").
// Throws UsageError "gate 'NAME': column C: what is wrong" for a malformed expression, an
// unknown figure or label name, a figure the scope or command does not have, or delta()
// without a baseline.
Gate parse_gate(const std::string& name, const std::string& expression, const GateContext& ctx);
// --gates FILE: JSON, [{"name": ..., "fail_if": ...}] or {"gates": [...]}; or the YAML subset
// of a list of `- name: ...` / `  fail_if: ...` entries. Throws UsageError naming the file.
std::vector<Gate> read_gate_file(const std::string& path, const GateContext& ctx);
// Once the dataset is listed (before any case is read): every `rater=NAME:` names a rater or
// prediction of the dataset, and gate names are unique. Throws UsageError.
void check_gates(const std::vector<Gate>& gates, const Dataset& data);

// One comparison of one scope item.
struct GateCheck {
  std::string item;    // the rater or case; "" at dataset scope
  std::string figure;  // GateFigure::text()
  std::string label;   // the label key the value is of ("" for none)
  double value = 0;    // NaN when undefined
  GateCmp cmp = GateCmp::kLess;
  double threshold = 0;
  bool holds = false;  // the comparison is true (a failing condition where the gate fails)
  std::string error;   // why the figure could not be had; "" when it was
};

struct GateVerdict {
  std::string name, expression;
  std::string verdict;                 // "pass", "fail" or "error"
  std::string reason;                  // for "error": the first check's error
  std::vector<std::string> failing;    // scope items that failed ("" for the dataset)
  std::vector<std::string> erroneous;  // scope items that could not be evaluated
  std::vector<GateCheck> checks;       // every comparison of every scope item
  // The figure seen and its threshold: the first comparison of the first failing item (else
  // of the first erroneous item, else the first item); NaN when there is none.
  double figure = 0, threshold = 0;
};

// Evaluates every gate on the run. A label the run does not report, a rater it does not have, or
// an undefined figure makes the item "error". Gate verdict: fail when any item fails, else error
// when any could not be evaluated, else pass.
std::vector<GateVerdict> evaluate_gates(const std::vector<Gate>& gates, const RunResult& result,
                                        const Summary& summary, const RunOptions& options,
                                        const BaselineRun* baseline = nullptr);
// One gate figure of a run for a scope item (a rater's name, a case id; "" at dataset scope),
// as the gates see it; without a label selector, the lowest defined value over the labels.
// `error` says why there is none ("" when there is); `label` is the key the value is of.
struct GateValue {
  double value = 0;
  std::string label, error;
};
// `case_index`: where the case `item` is in result.cases, when the caller knows (else found by
// id, a pass over the cases).
GateValue gate_figure_value(const GateFigure& f, GateScope scope, const std::string& item,
                            const RunResult& result, const Summary& summary,
                            const RunOptions& options, const BaselineRun* baseline = nullptr,
                            size_t case_index = static_cast<size_t>(-1));
// Whether any verdict is "fail" or "error" (exit code 4).
bool any_gate_failed(const std::vector<GateVerdict>& verdicts);
const char* gate_cmp_text(GateCmp c);

// OUT/gates.csv: gate,expression,verdict,item,figure,label,value,cmp,threshold; a row per
// comparison of each scope item (verdict: that item's). Throws FatalError.
void write_gates_csv(const std::string& out_dir, const std::vector<GateVerdict>& verdicts,
                     const RunOptions& options);
// The gates block of the terminal summary (nothing without gates).
void print_gates(std::ostream& out, const std::vector<GateVerdict>& verdicts);

}  // namespace maskeval
