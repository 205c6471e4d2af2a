// Quality gates: the expression parser, verdicts on results built by hand, and CLI runs on BU-BIL.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_test_util.h"
#include "maskeval/gates.h"
#include "maskeval/report.h"
#include "test_util.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::TempDir;

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

GateContext context(Command command, const LabelSet* labels) {
  return GateContext{command, labels, false};
}

// The column a parse error names, or -1 when the text parses.
int error_column(const std::string& expression, Command command = Command::kScore) {
  static const LabelSet none;
  try {
    parse_gate("", expression, context(command, &none));
  } catch (const UsageError& e) {
    const std::string m = e.what();
    const size_t at = m.find("column ");
    return at == std::string::npos ? 0 : std::stoi(m.substr(at + 7));
  }
  return -1;
}

TEST(GateParser, AndBindsTighterThanOr) {
  const LabelSet labels;
  const Gate g = parse_gate("", "cases < 1 or warnings > 2 and failed_cases >= 3",
                            context(Command::kAgree, &labels));
  ASSERT_EQ(g.root->kind, GateNode::Kind::kOr);
  EXPECT_EQ(g.root->left->kind, GateNode::Kind::kCompare);
  EXPECT_EQ(g.root->left->figure.name, "cases");
  ASSERT_EQ(g.root->right->kind, GateNode::Kind::kAnd);
  EXPECT_EQ(g.root->right->left->figure.name, "warnings");
  EXPECT_EQ(g.root->right->right->cmp, GateCmp::kGreaterEqual);
  EXPECT_EQ(g.root->right->right->threshold, 3);
  const Gate p = parse_gate("", "(cases < 1 or warnings > 2) and failed_cases != 0",
                            context(Command::kAgree, &labels));
  EXPECT_EQ(p.root->kind, GateNode::Kind::kAnd);
  EXPECT_EQ(p.root->left->kind, GateNode::Kind::kOr);
  EXPECT_EQ(p.root->right->cmp, GateCmp::kNotEqual);
}

TEST(GateParser, ScopesLabelsAndNames) {
  LabelSet labels;
  labels.names[1] = "kidney";
  labels.add_region(parse_region("masses=2,3"));
  const GateContext ctx = context(Command::kScore, &labels);
  const Gate a = parse_gate("golden", "rater=*: mean_dice[kidney] < 0.90", ctx);
  EXPECT_EQ(a.name, "golden");
  EXPECT_EQ(a.scope, GateScope::kEveryRater);
  EXPECT_EQ(*a.root->figure.label, 1);
  EXPECT_EQ(a.root->figure.text(), "mean_dice[kidney]");
  const Gate b = parse_gate("", " rater = Expert 2 : mean_iou[masses]<=0.5", ctx);
  EXPECT_EQ(b.name, " rater = Expert 2 : mean_iou[masses]<=0.5");
  EXPECT_EQ(b.scope, GateScope::kRater);
  EXPECT_EQ(b.rater, "Expert 2");
  EXPECT_EQ(*b.root->figure.label, labels.region_id(0));
  const Gate c = parse_gate("", "any case: min_pair_dice < 0.5", ctx);
  EXPECT_EQ(c.scope, GateScope::kAnyCase);
  EXPECT_EQ(parse_gate("", "mean_dice[7] < -1e-3", ctx).root->threshold, -1e-3);
  EXPECT_EQ(*parse_gate("", "rater=*: rater_mean_dice < 1", ctx).root->figure.name.begin(), 'r');
}

TEST(GateParser, ErrorsSayWhere) {
  EXPECT_EQ(error_column("mean_dice <"), 12);             // a number expected at the end
  EXPECT_EQ(error_column("mean_dice 0.5"), 11);           // a comparison expected
  EXPECT_EQ(error_column("mean_dise < 0.5"), 1);          // no such figure
  EXPECT_EQ(error_column("mean_dice[liver] < 0.5"), 11);  // no such label name
  EXPECT_EQ(error_column("mean_dice[1 < 0.5"), 10);       // ']' expected
  EXPECT_EQ(error_column("cases[1] > 0"), 6);             // takes no label
  EXPECT_EQ(error_column("cases > 0 and"), 14);
  EXPECT_EQ(error_column("cases > 0 nor cases < 1"), 11);
  EXPECT_EQ(error_column("(cases > 0"), 11);  // ')' expected
  EXPECT_EQ(error_column("cases > 0.5x"), 12);
  EXPECT_EQ(error_column("cases > nan"), 9);
  EXPECT_EQ(error_column("rater=: mean_dice < 1"), 7);
  EXPECT_EQ(error_column("any cases: mean_pairwise_dice < 1"), 5);
  EXPECT_EQ(error_column("any case: mean_pairwise_dice[1] < 1"), 29);
  EXPECT_EQ(error_column("rater=*: mean_dice < 1", Command::kAgree), 10);  // needs score
  EXPECT_EQ(error_column("rater=*: rater_mean_dice < 1", Command::kAgree), -1);
  EXPECT_EQ(error_column("mean_pairwise_dice < 1"), 1);    // a per-case figure at dataset level
  EXPECT_EQ(error_column("delta(mean_dice) < -0.01"), 1);  // needs --baseline
  const LabelSet none;
  GateContext with_baseline = context(Command::kScore, &none);
  with_baseline.baseline = true;
  EXPECT_TRUE(parse_gate("", "delta(mean_dice[1]) < -0.01", with_baseline).root->figure.delta);
  try {
    parse_gate("", "delta(mean_dice) < 0", context(Command::kScore, &none));
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_TRUE(contains(e.what(), "needs --baseline")) << e.what();
  }
}

// Two labels, two scored raters, two cases, built by hand.
struct Built {
  RunResult result;
  Summary summary;
  RunOptions options;
  Built() {
    options.command = Command::kScore;
    options.labels.names[1] = "kidney";
    LabelSummary l1, l2;
    l1.label = 1;
    l1.mean_dice = 0.8;
    l1.rater_mean_dice = {{"a", 0.85}, {"b", 0.75}};
    l2.label = 2;
    l2.mean_dice = 0.6;
    l2.pooled_dice = NAN;
    summary.labels = {l1, l2};
    LeaderboardRow a, b;
    a.name = "a";
    a.mean_dice = 0.95;
    a.labels[1].mean_dice = 0.97;
    a.labels[2].mean_dice = 0.93;
    b.name = "b";
    b.mean_dice = 0.85;
    b.labels[1].mean_dice = 0.9;
    b.labels[2].mean_dice = 0.8;
    summary.leaderboard = {a, b};
    for (const char* id : {"c1", "c2"}) {
      CaseResult c;
      c.id = id;
      c.raters = {"a", "b"};
      LabelResult l;
      l.label = 1;
      l.dice = {1, id[1] == '1' ? 0.9 : 0.4, id[1] == '1' ? 0.9 : 0.4, 1};
      c.labels = {l};
      c.mean_pairwise_dice = l.dice[1];
      c.scores["a"][1].dice = 0.9;
      c.scores["b"][1].dice = id[1] == '1' ? 0.7 : 0.3;
      result.cases.push_back(c);
    }
    result.failed.push_back({"c3", "x.png", "unreadable"});
  }
  GateVerdict verdict(const std::string& expression) const {
    const Gate g = parse_gate("", expression, GateContext{options.command, &options.labels});
    return evaluate_gates({g}, result, summary, options)[0];
  }
};

TEST(GateEval, DatasetFigures) {
  const Built b;
  EXPECT_EQ(b.verdict("mean_dice[kidney] < 0.7").verdict, "pass");
  const GateVerdict low = b.verdict("mean_dice < 0.7");  // the lowest label: 2
  EXPECT_EQ(low.verdict, "fail");
  EXPECT_DOUBLE_EQ(low.figure, 0.6);
  EXPECT_DOUBLE_EQ(low.threshold, 0.7);
  EXPECT_EQ(low.checks[0].label, "2");
  EXPECT_EQ(b.verdict("failed_cases > 0").verdict, "fail");
  EXPECT_EQ(b.verdict("failed_cases > 0 and cases > 5").verdict, "pass");
  EXPECT_EQ(b.verdict("cases > 5 or mean_dice[1] <= 0.8").verdict, "fail");
  const GateVerdict missing = b.verdict("mean_dice[5] < 0.7");
  EXPECT_EQ(missing.verdict, "error");
  EXPECT_TRUE(contains(missing.reason, "no such label in this run"));
  EXPECT_EQ(b.verdict("pooled_dice[2] < 0.7").verdict, "error");  // undefined
  EXPECT_TRUE(any_gate_failed({b.verdict("mean_dice[5] < 0.7")}));
  EXPECT_FALSE(any_gate_failed({b.verdict("cases > 5")}));
}

TEST(GateEval, RatersAndCases) {
  const Built b;
  const GateVerdict every = b.verdict("rater=*: mean_dice < 0.9");
  EXPECT_EQ(every.verdict, "fail");
  EXPECT_EQ(every.failing, std::vector<std::string>{"b"});
  EXPECT_DOUBLE_EQ(every.figure, 0.85);
  EXPECT_EQ(b.verdict("rater=*: mean_dice[kidney] < 0.9").failing.size(), 0u);
  EXPECT_EQ(b.verdict("rater=*: mean_dice[2] < 0.9").failing, std::vector<std::string>{"b"});
  EXPECT_EQ(b.verdict("rater=a: mean_dice < 0.9").verdict, "pass");
  EXPECT_EQ(b.verdict("rater=*: rater_mean_dice[1] < 0.8").failing, std::vector<std::string>{"b"});
  const GateVerdict cases = b.verdict("any case: min_pair_dice < 0.5");
  EXPECT_EQ(cases.failing, std::vector<std::string>{"c2"});
  EXPECT_EQ(b.verdict("any case: mean_dice[1] < 0.8").failing, std::vector<std::string>{"c2"});
  EXPECT_EQ(b.verdict("any case: mean_pairwise_dice < 0.95").failing.size(), 2u);
  EXPECT_EQ(b.verdict("any case: mean_pairwise_dice < 0.95").checks.size(), 2u);
}

TEST(GateFile, JsonAndYaml) {
  TempDir dir;
  const LabelSet labels;
  const GateContext ctx = context(Command::kScore, &labels);
  const std::string json = (dir.path() / "g.json").string();
  std::ofstream(json) << R"({"gates": [{"name": "ok", "fail_if": "failed_cases > 0"}]})";
  const auto a = read_gate_file(json, ctx);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].name, "ok");
  const std::string yaml = (dir.path() / "g.yml").string();
  std::ofstream(yaml) << "# nightly\n- name: golden\n  fail_if: 'rater=*: mean_dice < 0.9'\n"
                         "- fail_if: cases < 1\n  name: \"some\"\n";
  const auto y = read_gate_file(yaml, ctx);
  ASSERT_EQ(y.size(), 2u);
  EXPECT_EQ(y[0].scope, GateScope::kEveryRater);
  EXPECT_EQ(y[1].name, "some");
  std::ofstream(yaml) << "gates:\n  - name: x\n";
  EXPECT_THROW(read_gate_file(yaml, ctx), UsageError);
  std::ofstream(json) << R"([{"name": "x"}])";
  EXPECT_THROW(read_gate_file(json, ctx), UsageError);
}

// --- CLI runs on BU-BIL.
const std::string kScore = "score --cases " + test::kData +
                           "/bu-bil --raters 'experts/*.png' --reference gold.png "
                           "--foreground '<128' -q --no-distances";

std::vector<std::string> csv_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(GateCli, PassingGateExitsZero) {
  TempDir dir;
  const auto out = test::run(kScore + " -o " + (dir.path() / "o").string() +
                             " --fail-if 'failed_cases > 0' --fail-if 'rater=*: mean_dice < 0.5'");
  EXPECT_EQ(out.code, 0) << out.text;
  const auto report = test::read_json((dir.path() / "o" / "report.json").string());
  ASSERT_EQ(report["gates"].size(), 2u);
  EXPECT_EQ(report["gates"][0]["verdict"], "pass");
  EXPECT_EQ(report["gates"][0]["name"], "failed_cases > 0");
  EXPECT_EQ(report["gates"][0]["figure"], 0);
  const auto rows = csv_lines(dir.path() / "o" / "gates.csv");
  ASSERT_GE(rows.size(), 3u);
  EXPECT_EQ(rows[0].rfind("gate,expression,verdict,item,figure,", 0), 0u);
  EXPECT_TRUE(
      contains(read_text_file((dir.path() / "o" / "report.html").string()), "id=\"gates\""));
}

TEST(GateCli, FailingGateExitsFour) {
  TempDir dir;
  const auto out =
      test::run(kScore + " -o " + (dir.path() / "o").string() + " --fail-if 'mean_dice[1] > 0.1'");
  EXPECT_EQ(out.code, 4) << out.text;
  const auto rows = csv_lines(dir.path() / "o" / "gates.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].rfind("mean_dice[1] > 0.1,mean_dice[1] > 0.1,fail,,mean_dice[1],1,", 0), 0u)
      << rows[1];
  // Printed in the summary, under 100 columns.
  std::string loud = kScore;
  loud.replace(loud.find(" -q"), 3, "");
  const auto shown = test::run(loud + " -o " + (dir.path() / "p").string() +
                               " --fail-if 'mean_dice[1] > 0.1' --fail-if 'rater=*: mean_dice < "
                               "0.95' --fail-if 'any case: min_pair_dice < 0.99'");
  EXPECT_EQ(shown.code, 4);
  const size_t block = shown.text.find("\ngates: 0 passed, 3 failed\n");
  ASSERT_NE(block, std::string::npos) << shown.text;
  EXPECT_TRUE(contains(shown.text, "  FAIL  mean_dice[1] > 0.1\n"));
  std::istringstream lines(shown.text.substr(block));
  for (std::string line; std::getline(lines, line);) EXPECT_LT(line.size(), 100u) << line;
}

TEST(GateCli, GoldenSetNamesTheFailingRaters) {
  TempDir dir;
  const auto out =
      test::run(kScore + " -o " + (dir.path() / "o").string() +
                " --fail-if 'rater=*: mean_dice < 0.95' --fail-if 'rater=experts/Expert1: "
                "mean_dice < 0.5'");
  EXPECT_EQ(out.code, 4) << out.text;
  const auto report = test::read_json((dir.path() / "o" / "report.json").string());
  const auto& gates = report["gates"];
  ASSERT_EQ(gates.size(), 2u);
  EXPECT_EQ(gates[0]["verdict"], "fail");
  EXPECT_EQ(gates[1]["verdict"], "pass");
  size_t below = 0;
  for (const auto& row : report["summary"]["leaderboard"]) {
    const bool fails = row["mean_dice"].get<double>() < 0.95;
    below += fails;
    const auto& failing = gates[0]["failing"];
    EXPECT_EQ(std::find(failing.begin(), failing.end(), row["name"]) != failing.end(), fails)
        << row["name"];
  }
  EXPECT_EQ(gates[0]["failing"].size(), below);
  EXPECT_GT(below, 0u);
}

TEST(GateCli, MalformedGateIsAUsageErrorBeforeAnyCase) {
  TempDir dir;
  const fs::path out_dir = dir.path() / "o";
  for (const std::string gate :
       {"--fail-if 'mean_dice <'", "--fail-if 'mean_dice[liver] < 1'",
        "--fail-if 'rater=Nobody: mean_dice < 1'", "--fail-if 'delta(mean_dice) < 0'"}) {
    const auto out = test::run(kScore + " -o " + out_dir.string() + " " + gate);
    EXPECT_EQ(out.code, 1) << gate << "\n" << out.text;
    EXPECT_TRUE(contains(out.text, "gate '")) << out.text;
    EXPECT_FALSE(fs::exists(out_dir)) << gate;
  }
  const auto help = test::run("score --help");
  EXPECT_TRUE(contains(help.text, "4 a quality gate")) << help.text;
}

}  // namespace
}  // namespace maskeval
