// worklist.csv: every case and label ranked by disagreement, on results built by hand and on a
// run written twice into one output folder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "maskeval/report.h"
#include "test_util.h"
#include "util/csv.h"

namespace maskeval {
namespace {

using test::TempDir;

using Rows = std::vector<std::map<std::string, std::string>>;

// The table's header and its rows keyed by column.
Rows read_rows(const std::string& path, std::vector<std::string>* columns) {
  std::vector<std::string> lines;
  std::istringstream in(test::read_text(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  Rows rows;
  if (lines.empty()) return rows;
  *columns = split_csv_line(lines[0]);
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> cells = split_csv_line(lines[i]);
    EXPECT_EQ(cells.size(), columns->size()) << lines[i];
    std::map<std::string, std::string> row;
    for (size_t k = 0; k < cells.size() && k < columns->size(); ++k) row[(*columns)[k]] = cells[k];
    rows.push_back(std::move(row));
  }
  return rows;
}

// A label of three raters a, b, c with the given pairwise Dice (a-b, a-c, b-c).
LabelResult three_raters(LabelId label, double ab, double ac, double bc) {
  LabelResult l;
  l.label = label;
  l.counts.volume = {1, 1, 1};
  l.counts.intersection.assign(9, 0);
  l.dice = {1, ab, ac, ab, 1, bc, ac, bc, 1};
  l.iou = l.dice;
  l.cohen_kappa = l.dice;
  return l;
}

CaseResult agreement_case(const std::string& id, std::vector<LabelResult> labels) {
  CaseResult c;
  c.id = id;
  c.raters = {"a", "b", "c"};
  for (const std::string& r : c.raters) c.files[r] = {id + "/" + r + ".png"};
  c.labels = std::move(labels);
  return c;
}

TEST(Worklist, AgreementRankedLowestMeanPairwiseDiceFirst) {
  TempDir d;
  RunOptions o;
  o.command = Command::kAgree;
  o.labels.names[2] = "tumour";
  RunResult r;
  r.cases.push_back(agreement_case("x", {three_raters(1, 0.9, 0.8, 0.7),     // mean 0.8
                                         three_raters(2, 0.2, 0.5, 0.5)}));  // mean 0.4, worst a-b
  r.cases.push_back(agreement_case("y", {three_raters(1, NAN, NAN, NAN)}));  // undefined: last
  r.cases.push_back(agreement_case("z,1", {three_raters(1, 0.6, 0.3, 0.6)}));  // 0.5, worst a-c
  r.cases.back().overlay = "cases/z,1/overlay.png";
  r.cases.back().reference_file = "z,1/gold.png";
  write_csv_tables(d.path().string(), r, summarize(r, 5), o);

  std::vector<std::string> columns;
  const Rows rows = read_rows(d / "worklist.csv", &columns);
  EXPECT_EQ(columns,
            (std::vector<std::string>{"rank", "case", "label", "label_name", "mean_pairwise_dice",
                                      "rater_a", "rater_b", "worst_dice", "masks", "overlay"}));
  ASSERT_EQ(rows.size(), 4u);  // every case and label
  EXPECT_EQ(rows[0].at("rank"), "1");
  EXPECT_EQ(rows[0].at("case"), "x");
  EXPECT_EQ(rows[0].at("label_name"), "tumour");
  EXPECT_DOUBLE_EQ(std::stod(rows[0].at("mean_pairwise_dice")), 0.4);
  EXPECT_EQ(rows[0].at("rater_a"), "a");
  EXPECT_EQ(rows[0].at("rater_b"), "b");
  EXPECT_EQ(rows[0].at("worst_dice"), "0.2");
  EXPECT_EQ(rows[0].at("masks"), "x/a.png;x/b.png;x/c.png");
  EXPECT_EQ(rows[0].at("overlay"), "");
  EXPECT_EQ(rows[1].at("case"), "z,1");
  EXPECT_EQ(rows[1].at("rater_b"), "c");
  EXPECT_EQ(rows[1].at("masks"), "z,1/a.png;z,1/b.png;z,1/c.png;z,1/gold.png");
  EXPECT_EQ(rows[1].at("overlay"), "cases/z,1/overlay.png");
  EXPECT_EQ(rows[2].at("case"), "x");
  EXPECT_EQ(rows[2].at("label"), "1");
  EXPECT_EQ(rows[3].at("case"), "y");  // no defined pair: ranked last, empty cells
  EXPECT_EQ(rows[3].at("rank"), "4");
  EXPECT_EQ(rows[3].at("mean_pairwise_dice"), "");
  EXPECT_EQ(rows[3].at("rater_a"), "");
}

TEST(Worklist, ScoreRankedLowestMeanDiceAgainstTheReferenceFirst) {
  TempDir d;
  RunOptions o;
  o.command = Command::kScore;
  RunResult r;
  for (const auto& [id, dice] : std::vector<std::pair<std::string, std::vector<double>>>{
           {"good", {0.9, 0.95}}, {"bad", {0.1, 0.7}}}) {
    CaseResult c;
    c.id = id;
    c.raters = {"r1"};
    c.predictions = {"m"};
    c.files["r1"] = {id + "/r1.png"};
    c.files["m"] = {id + "/m.png"};
    c.scored_against = "reference";
    Score s;
    s.dice = dice[0];
    c.scores["r1"][1] = s;
    s.dice = dice[1];
    c.scores["m"][1] = s;
    r.cases.push_back(c);
  }
  write_csv_tables(d.path().string(), r, summarize(r, 5), o);
  std::vector<std::string> columns;
  const Rows rows = read_rows(d / "worklist.csv", &columns);
  EXPECT_EQ(columns, (std::vector<std::string>{"rank", "case", "label", "label_name", "mean_dice",
                                               "worst_rater", "worst_dice", "masks", "overlay"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("case"), "bad");
  EXPECT_DOUBLE_EQ(std::stod(rows[0].at("mean_dice")), 0.4);
  EXPECT_EQ(rows[0].at("worst_rater"), "r1");
  EXPECT_EQ(rows[0].at("worst_dice"), "0.1");
  EXPECT_EQ(rows[0].at("masks"), "bad/m.png;bad/r1.png");
  EXPECT_EQ(rows[1].at("case"), "good");
  EXPECT_EQ(rows[1].at("worst_rater"), "r1");
}

// A second run into the same folder takes worklist.csv for maskeval's own and replaces it.
TEST(Worklist, WrittenByARunAndReplacedByTheNext) {
  TempDir d;
  const std::string out = d / "out";
  const std::string args = "agree --cases " + test::kData +
                           "/bu-bil --raters 'experts/*.png' --foreground '<128' --no-maps -o " +
                           out;
  for (int i = 0; i < 2; ++i) {
    const auto r = test::run(args);
    ASSERT_EQ(r.code, 0) << r.text;
  }
  std::vector<std::string> columns;
  const Rows rows = read_rows(out + "/worklist.csv", &columns);
  ASSERT_EQ(rows.size(), 8u);  // eight cases of one label
  double last = -1;
  for (const auto& row : rows) {
    const double mean = std::stod(row.at("mean_pairwise_dice"));
    EXPECT_LE(last, mean);
    last = mean;
    EXPECT_EQ(std::count(row.at("masks").begin(), row.at("masks").end(), ';'), 2) << row.at("case");
  }
}

}  // namespace
}  // namespace maskeval
