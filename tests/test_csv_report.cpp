// The CSV tables, nnU-Net's summary.json and the per-label table, on results built by hand and on
// small runs whose counts are worked out here.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "maskeval/report.h"
#include "test_util.h"
#include "util/csv.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::Json;
using test::TempDir;
using test::write_gray;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A CSV file as rows of cells keyed by the header's column names.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::string> lines;  // as written, the header first
};

Table read_table(const std::string& path) {
  Table t;
  t.lines = lines_of(read_text(path));
  if (t.lines.empty()) return t;
  t.columns = split_csv_line(t.lines[0]);
  for (size_t i = 1; i < t.lines.size(); ++i) {
    const std::vector<std::string> cells = split_csv_line(t.lines[i]);
    EXPECT_EQ(cells.size(), t.columns.size()) << t.lines[i];
    std::map<std::string, std::string> row;
    for (size_t k = 0; k < cells.size() && k < t.columns.size(); ++k) row[t.columns[k]] = cells[k];
    t.rows.push_back(std::move(row));
  }
  return t;
}

// The row whose cells hold every given value.
const std::map<std::string, std::string>& row_where(
    const Table& t, const std::map<std::string, std::string>& where) {
  for (const auto& row : t.rows) {
    bool all = true;
    for (const auto& [k, v] : where) all = all && row.count(k) && row.at(k) == v;
    if (all) return row;
  }
  static const std::map<std::string, std::string> none;
  ADD_FAILURE() << "no row with " << Json(where).dump();
  return none;
}

double num(const std::map<std::string, std::string>& row, const std::string& column) {
  return std::stod(row.at(column));
}

// nnU-Net's summary.json as written (Python's json module: NaN for undefined), parsed with NaN
// read as null.
Json read_nnunet(const std::string& path) {
  std::string text = read_text(path);
  for (size_t at; (at = text.find(": NaN")) != std::string::npos;) text.replace(at, 5, ": null");
  return Json::parse(text);
}

// --- By hand ---------------------------------------------------------------------------------

// One case "a,b": rater r1 and prediction m scored on label 1 (named "cell") and region "both".
RunResult scored_by_hand(RunOptions& o) {
  o.command = Command::kScore;
  o.distances = true;
  o.labels.names[1] = "cell";
  o.labels.add_region({"both", {1, 2}});
  CaseResult c;
  c.id = "a,b";
  c.raters = {"r1"};
  c.predictions = {"m"};
  c.scored_against = "reference";
  c.geom.ndim = 2;
  c.geom.shape = {10, 1, 1};
  Score s;
  s.tp = 2;
  s.fp = 1;
  s.fn = 0;
  s.tn = 7;
  s.dice = 2.0 / 3;
  s.iou = 0.5;
  s.sensitivity = 1;
  s.specificity = 7.0 / 8;
  s.precision = NAN;  // as if undefined
  s.volume_similarity = 0.4;
  s.boundary = BoundaryMetrics{INFINITY, 1.5, 0.25, 0.75, INFINITY, 2};
  c.scores["r1"][1] = s;
  c.scores["r1"][o.labels.region_id(0)] = s;
  s.boundary.reset();
  c.scores["m"][1] = s;
  RunResult r;
  r.cases.push_back(c);
  return r;
}

TEST(CsvNumbers, ShortestRoundTripEmptyForNanInfAsText) {
  EXPECT_EQ(csv_number(0.1), "0.1");
  EXPECT_EQ(csv_number(2), "2");
  EXPECT_EQ(std::stod(csv_number(2.0 / 3)), 2.0 / 3);
  EXPECT_EQ(std::stod(csv_number(1e-300 / 3)), 1e-300 / 3);
  EXPECT_EQ(csv_number(NAN), "");
  EXPECT_EQ(csv_number(INFINITY), "inf");
  EXPECT_EQ(csv_number(-INFINITY), "-inf");
}

TEST(CsvTables, ScoreRowsByHand) {
  TempDir d;
  RunOptions o;
  const RunResult r = scored_by_hand(o);
  write_csv_tables(d.path().string(), r, summarize(r, 5), o);
  const Table cases = read_table(d / "cases.csv");
  const std::vector<std::string> expected = {"case",
                                             "rater",
                                             "role",
                                             "label",
                                             "label_name",
                                             "scored_against",
                                             "tp",
                                             "fp",
                                             "fn",
                                             "tn",
                                             "dice",
                                             "iou",
                                             "sensitivity",
                                             "specificity",
                                             "precision",
                                             "volume_similarity",
                                             "hd",
                                             "hd_percentile",
                                             "assd",
                                             "nsd",
                                             "hd_to_reference",
                                             "hd_from_reference"};
  EXPECT_EQ(cases.columns, expected);
  ASSERT_EQ(cases.rows.size(), 3u);  // r1: label and region; m: label; raters before predictions
  EXPECT_EQ(cases.lines[1].rfind("\"a,b\",r1,rater,1,cell,reference,2,1,0,7,", 0), 0u)
      << cases.lines[1];
  const auto& region = cases.rows[1];
  EXPECT_EQ(region.at("label"), "both");
  EXPECT_EQ(region.at("label_name"), "both");
  EXPECT_EQ(std::stod(region.at("dice")), 2.0 / 3);  // reads back to the same double
  EXPECT_EQ(region.at("precision"), "");             // NaN: an empty cell
  EXPECT_EQ(region.at("hd"), "inf");
  EXPECT_EQ(region.at("hd_from_reference"), "2");
  const auto& m = cases.rows[2];
  EXPECT_EQ(m.at("rater"), "m");
  EXPECT_EQ(m.at("role"), "prediction");
  EXPECT_EQ(m.at("hd"), "");  // no boundary metrics for this entry

  const Table summary = read_table(d / "summary.csv");
  ASSERT_EQ(summary.rows.size(), 3u);  // label 1: r1 and m; region: r1
  const auto& s = row_where(summary, {{"label", "1"}, {"rater", "m"}});
  EXPECT_EQ(s.at("tp"), "2");
  EXPECT_EQ(num(s, "pooled_dice"), 4.0 / 5);  // 2 TP / (2 TP + FP + FN) = 4 / 5
  EXPECT_EQ(num(s, "pooled_iou"), 2.0 / 3);
  EXPECT_EQ(s.at("mean_precision"), "");

  const Table pairs = read_table(d / "pairs.csv");
  EXPECT_EQ(pairs.rows.size(), 0u);  // one rater: no pair
  EXPECT_EQ(pairs.columns.front(), "case");
  for (const std::string& name : csv_table_names()) EXPECT_TRUE(fs::exists(d / name)) << name;
  for (const auto& e : fs::directory_iterator(d.path()))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(CsvTables, AgreementRowsByHand) {
  TempDir d;
  RunOptions o;
  o.command = Command::kAgree;
  CaseResult c;
  c.id = " padded";
  c.raters = {"a", "b", "c"};
  LabelResult l;
  l.label = 4;
  l.counts.volume = {4, 2, 0};
  l.counts.intersection = {4, 2, 0, 2, 2, 0, 0, 0, 0};
  l.dice = {1, 2.0 / 3, 0, 2.0 / 3, 1, NAN, 0, NAN, 1};
  l.iou = {1, 0.5, 0, 0.5, 1, NAN, 0, NAN, 1};
  l.cohen_kappa = l.iou;
  l.fleiss_kappa = 0.25;
  c.labels.push_back(l);
  RunResult r;
  r.cases.push_back(c);
  write_csv_tables(d.path().string(), r, summarize(r, 5), o);

  const Table cases = read_table(d / "cases.csv");
  EXPECT_EQ(cases.columns, (std::vector<std::string>{"case", "rater", "role", "label", "label_name",
                                                     "volume", "mean_dice", "fleiss_kappa"}));
  ASSERT_EQ(cases.rows.size(), 3u);
  EXPECT_EQ(cases.lines[1].rfind("\" padded\",a,rater,4,4,4,", 0), 0u) << cases.lines[1];
  EXPECT_DOUBLE_EQ(num(cases.rows[0], "mean_dice"), (2.0 / 3 + 0) / 2);
  EXPECT_DOUBLE_EQ(num(cases.rows[1], "mean_dice"), 2.0 / 3);  // b against c is undefined
  EXPECT_EQ(num(cases.rows[2], "fleiss_kappa"), 0.25);

  const Table pairs = read_table(d / "pairs.csv");
  ASSERT_EQ(pairs.rows.size(), 3u);
  const auto& bc = row_where(pairs, {{"rater_a", "b"}, {"rater_b", "c"}});
  EXPECT_EQ(bc.at("dice"), "");
  EXPECT_EQ(bc.at("volume_a"), "2");
  EXPECT_EQ(row_where(pairs, {{"rater_a", "a"}, {"rater_b", "b"}}).at("intersection"), "2");

  const Table summary = read_table(d / "summary.csv");
  ASSERT_EQ(summary.rows.size(), 3u);
  const auto& a = row_where(summary, {{"rater", "a"}});
  EXPECT_EQ(a.at("pairs"), "2");  // the undefined pair is left out
  // Pooled: 2 (2 + 0 + 0) / ((4 + 2) + (4 + 0) + (2 + 0)) = 4 / 12.
  EXPECT_DOUBLE_EQ(num(a, "pooled_dice"), 4.0 / 12);
  EXPECT_DOUBLE_EQ(num(a, "min_dice"), 0);
}

// --- Runs ------------------------------------------------------------------------------------

// Two cases of 4 pixels: "a,b" (label 1 only) and "z" (labels 1 and 2); raters r1, r2, the
// prediction model, gold.png the reference.
std::string write_dataset(const TempDir& d) {
  write_gray(d / "data/a,b/r1.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/a,b/r2.png", 4, 1, {1, 0, 0, 0});
  write_gray(d / "data/a,b/model.png", 4, 1, {1, 1, 1, 0});
  write_gray(d / "data/a,b/gold.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/z/r1.png", 4, 1, {2, 2, 1, 0});
  write_gray(d / "data/z/r2.png", 4, 1, {2, 0, 1, 0});
  write_gray(d / "data/z/model.png", 4, 1, {2, 2, 0, 0});
  write_gray(d / "data/z/gold.png", 4, 1, {2, 0, 1, 0});
  return d / "data";
}

TEST(CsvTablesCli, ScoreRunCountsByHand) {
  TempDir d;
  const std::string data = write_dataset(d);
  const test::Output o =
      test::run("score -q --cases '" + data + "' --raters 'r*.png' --reference gold.png " +
                "--prediction model.png -o '" + d / "out" + "'");
  ASSERT_EQ(o.code, 0) << o.text;
  const Table cases = read_table(d / "out/cases.csv");
  ASSERT_EQ(cases.rows.size(), 9u);  // "a,b": 3 entities x label 1; "z": 3 x labels 1 and 2
  EXPECT_EQ(cases.lines[1].rfind("\"a,b\",r1,rater,1,1,reference,2,0,0,2,1,", 0), 0u)
      << cases.lines[1];
  // model on "a,b": {0, 1, 2} against {0, 1}: TP 2, FP 1, FN 0, TN 1.
  const auto& m = row_where(cases, {{"case", "a,b"}, {"rater", "model"}});
  EXPECT_EQ(m.at("role"), "prediction");
  EXPECT_EQ(m.at("tp") + m.at("fp") + m.at("fn") + m.at("tn"), "2101");
  EXPECT_DOUBLE_EQ(num(m, "dice"), 0.8);
  // model on "z", label 1: nothing predicted: precision undefined, HD infinite.
  const auto& z = row_where(cases, {{"case", "z"}, {"rater", "model"}, {"label", "1"}});
  EXPECT_EQ(z.at("precision"), "");
  EXPECT_EQ(z.at("hd"), "inf");
  EXPECT_EQ(z.at("dice"), "0");

  const Table pairs = read_table(d / "out/pairs.csv");
  ASSERT_EQ(pairs.rows.size(), 3u);  // r1 x r2 on "a,b" label 1, "z" labels 1 and 2
  const auto& p = row_where(pairs, {{"case", "a,b"}});
  EXPECT_EQ(p.at("volume_a") + "/" + p.at("volume_b") + "/" + p.at("intersection"), "2/1/1");
  EXPECT_DOUBLE_EQ(num(p, "dice"), 2.0 / 3);

  const Table summary = read_table(d / "out/summary.csv");
  ASSERT_EQ(summary.rows.size(), 6u);
  const auto& s = row_where(summary, {{"label", "1"}, {"rater", "model"}});
  EXPECT_EQ(s.at("tp") + "/" + s.at("fp") + "/" + s.at("fn"), "2/1/1");
  EXPECT_DOUBLE_EQ(num(s, "pooled_dice"), 4.0 / 6);
  EXPECT_DOUBLE_EQ(num(s, "pooled_iou"), 2.0 / 4);
  EXPECT_DOUBLE_EQ(num(s, "mean_dice"), (0.8 + 0) / 2);
  for (const auto& e : fs::directory_iterator(d / "out"))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(CsvTablesCli, AgreeRun) {
  TempDir d;
  const std::string data = write_dataset(d);
  const test::Output o = test::run("agree --cases '" + data + "' --raters 'r*.png' -o '" +
                                   d / "out" + "' --distances");
  ASSERT_EQ(o.code, 0) << o.text;
  const Table cases = read_table(d / "out/cases.csv");
  ASSERT_EQ(cases.rows.size(), 6u);  // 2 raters x (1 + 2 labels)
  EXPECT_DOUBLE_EQ(
      num(row_where(cases, {{"case", "z"}, {"rater", "r2"}, {"label", "2"}}), "mean_dice"),
      2.0 / 3);
  const Table pairs = read_table(d / "out/pairs.csv");
  ASSERT_EQ(pairs.rows.size(), 3u);
  EXPECT_EQ(pairs.columns.back(), "hd_b_to_a");  // agree --distances measured the pairs
  const Table summary = read_table(d / "out/summary.csv");
  ASSERT_EQ(summary.rows.size(), 4u);
  // Label 1: I = 1 + 1, volumes (2 + 1) + (1 + 1): pooled 4 / 5.
  EXPECT_DOUBLE_EQ(num(row_where(summary, {{"label", "1"}, {"rater", "r1"}}), "pooled_dice"), 0.8);
  // The table shows the pooled Dice beside the case means.
  const std::vector<std::string> lines = lines_of(o.text);
  bool found = false;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].rfind("label   cases  pairs  mean Dice  median     min  pooled", 0) != 0) continue;
    found = true;
    EXPECT_EQ(lines[i + 1].rfind("1 ", 0), 0u) << o.text;
    EXPECT_TRUE(test::contains(lines[i + 1], "  0.800")) << o.text;
  }
  EXPECT_TRUE(found) << o.text;
  for (const std::string& line : lines)  // the table; notes on stderr may be longer
    if (line.rfind("maskeval: ", 0) != 0) {
      EXPECT_LE(line.size(), 100u) << line;
    }
}

// --- nnU-Net's summary.json ------------------------------------------------------------------

TEST(NnunetSummaryCli, OneFilePerScoredEntityWithNnunetFields) {
  TempDir d;
  const std::string data = write_dataset(d);
  const test::Output o =
      test::run("score -q --cases '" + data +
                "' --raters 'r*.png' --reference gold.png --prediction "
                "model.png --no-distances -o '" +
                d / "out" + "' --nnunet-summary '" + d / "nn/summary.json" + "'");
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_FALSE(fs::exists(d / "nn/summary.json"));  // three entities: one file each
  for (const char* name : {"r1", "r2", "model"})
    EXPECT_TRUE(fs::exists(d / ("nn/summary_" + std::string(name) + ".json"))) << name;
  const std::string text = read_text(d / "nn/summary_model.json");
  EXPECT_EQ(text.rfind("{\n    \"foreground_mean\": {\n        \"Dice\": ", 0), 0u) << text;
  const Json j = read_nnunet(d / "nn/summary_model.json");
  std::vector<std::string> top;
  for (const auto& kv : j.items()) top.push_back(kv.key());
  EXPECT_EQ(top, (std::vector<std::string>{"foreground_mean", "mean", "metric_per_case"}));
  const auto& cases = j["metric_per_case"];
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0]["prediction_file"], d / "data/a,b/model.png");
  EXPECT_EQ(cases[0]["reference_file"], d / "data/a,b/gold.png");
  const auto& one = cases[0]["metrics"]["1"];
  std::vector<std::string> metrics;
  for (const auto& kv : one.items()) metrics.push_back(kv.key());
  EXPECT_EQ(metrics,
            (std::vector<std::string>{"Dice", "FN", "FP", "IoU", "TN", "TP", "n_pred", "n_ref"}));
  // "a,b", label 1: {0, 1, 2} against {0, 1}.
  EXPECT_EQ(one["TP"], 2);
  EXPECT_EQ(one["FP"], 1);
  EXPECT_EQ(one["FN"], 0);
  EXPECT_EQ(one["TN"], 1);
  EXPECT_EQ(one["n_pred"], 3);
  EXPECT_EQ(one["n_ref"], 2);
  EXPECT_DOUBLE_EQ(one["Dice"].get<double>(), 0.8);
  // Label 2 is in neither mask of "a,b": nnU-Net's NaN, every voxel a true negative.
  const auto& two = cases[0]["metrics"]["2"];
  EXPECT_TRUE(two["Dice"].is_null()) << two;
  EXPECT_TRUE(two["IoU"].is_null()) << two;
  EXPECT_EQ(two["TN"], 4);
  // "z": label 1 missed (TP 0, FN 1), label 2 {0, 1} against {0}.
  EXPECT_EQ(cases[1]["metrics"]["1"]["Dice"], 0.0);
  EXPECT_DOUBLE_EQ(cases[1]["metrics"]["2"]["Dice"].get<double>(), 2.0 / 3);
  // mean: np.nanmean over the cases; foreground_mean: np.mean over the labels' means.
  EXPECT_DOUBLE_EQ(j["mean"]["1"]["Dice"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(j["mean"]["2"]["Dice"].get<double>(), 2.0 / 3);  // the NaN left out
  EXPECT_DOUBLE_EQ(j["mean"]["1"]["TP"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["mean"]["2"]["TN"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(j["mean"]["1"]["n_ref"].get<double>(), 1.5);
  EXPECT_TRUE(test::contains(text, "\"TP\": 1.0,")) << text;  // means are floats, as in Python
  EXPECT_DOUBLE_EQ(j["foreground_mean"]["Dice"].get<double>(), (0.4 + 2.0 / 3) / 2);
  EXPECT_DOUBLE_EQ(j["foreground_mean"]["IoU"].get<double>(), (1.0 / 3 + 0.5) / 2);
  EXPECT_TRUE(test::contains(text, "\"Dice\": NaN,")) << text;

  const test::Output help = test::run("score --help");
  EXPECT_TRUE(test::contains(help.text, "--nnunet-summary")) << help.text;
}

RunOptions run_options(const TempDir& d) {
  RunOptions o;
  o.command = Command::kScore;
  o.out_dir = d / "out";
  o.threads = 1;
  o.backend = Backend::kCpu;
  o.write_maps = false;
  return o;
}

TEST(NnunetSummary, OneEntityWritesTheFileNamedAndNamedLabelsAbsentEverywhereAreNan) {
  TempDir d;
  write_dataset(d);
  RunOptions o = run_options(d);
  o.labels.names[3] = "cyst";  // in no mask: nnU-Net scores it anyway, NaN in every case
  const Dataset data = dataset_from_case_folders(d / "data", "model.png", "gold.png");
  const RunResult r = run_dataset(data, o);
  ASSERT_TRUE(r.failed.empty());
  const std::vector<std::string> paths = write_nnunet_summaries(d / "s.json", r, o);
  EXPECT_EQ(paths, std::vector<std::string>{d / "s.json"});
  const Json j = read_nnunet(d / "s.json");
  std::vector<std::string> keys;
  for (const auto& kv : j["mean"].items()) keys.push_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_TRUE(j["mean"]["3"]["Dice"].is_null());
  EXPECT_DOUBLE_EQ(j["mean"]["3"]["TN"].get<double>(), 4.0);
  EXPECT_TRUE(j["foreground_mean"]["Dice"].is_null());  // np.mean: one NaN makes it NaN
  EXPECT_DOUBLE_EQ(j["foreground_mean"]["TP"].get<double>(), (1.0 + 0.5 + 0) / 3);
}

TEST(NnunetSummary, RegionsAreTupleKeysAndLeaveUnnamedLabelsOut) {
  TempDir d;
  write_dataset(d);
  RunOptions o = run_options(d);
  o.labels.add_region({"both", {2, 1}});
  o.labels.add_region({"two", {2}});
  o.labels.names[2] = "tumour";
  const Dataset data = dataset_from_case_folders(d / "data", "model.png", "gold.png");
  const RunResult r = run_dataset(data, o);
  ASSERT_TRUE(r.failed.empty());
  write_nnunet_summaries(d / "s.json", r, o);
  const Json j = read_nnunet(d / "s.json");
  std::vector<std::string> keys;
  for (const auto& kv : j["metric_per_case"][0]["metrics"].items()) keys.push_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"(1, 2)", "(2,)", "2"}));  // label 1 has no name
  // The region of label 2 alone counts as label 2 does, in the case that has none of it too.
  for (const auto& c : j["metric_per_case"]) {
    EXPECT_EQ(c["metrics"]["(2,)"], c["metrics"]["2"]) << c;
  }
  // "a,b", labels 1 and 2 as one: {0, 1, 2} against {0, 1}; "z": {0, 1} against {0, 2}.
  EXPECT_EQ(j["metric_per_case"][0]["metrics"]["(1, 2)"]["TP"], 2);
  EXPECT_EQ(j["metric_per_case"][1]["metrics"]["(1, 2)"]["FN"], 1);
  EXPECT_DOUBLE_EQ(j["mean"]["(1, 2)"]["Dice"].get<double>(), (0.8 + 2.0 / 4) / 2);
}

// --- The table people read -------------------------------------------------------------------

TEST(TextReport, LabelNamesAndPooledFiguresPerLabel) {
  TempDir d;
  write_dataset(d);
  RunOptions o = run_options(d);
  o.distances = true;
  o.labels.names[1] = "cell";
  const Dataset data = dataset_from_case_folders(d / "data", "r*.png", "gold.png", "model.png");
  const RunResult r = run_dataset(data, o);
  ASSERT_TRUE(r.failed.empty());
  std::ostringstream out;
  print_summary(out, r, summarize(r, 5), o, "report.json");
  const std::vector<std::string> lines = lines_of(out.str());
  int board = -1;
  for (int i = 0; i < static_cast<int>(lines.size()); ++i)
    if (lines[i].rfind("label cell (1): leaderboard against the reference", 0) == 0) board = i;
  ASSERT_GE(board, 0) << out.str();
  const std::string& head = lines.at(board + 1);
  EXPECT_TRUE(test::contains(head, "pooled: Dice")) << head;
  // model, label 1: TP 2, FP 1, FN 1 over the two cases: pooled Dice 4/6, IoU 2/4; last of
  // the three by its mean Dice (0.4).
  const std::string& model = lines.at(board + 4);
  EXPECT_EQ(model.rfind("  model *", 0), 0u) << out.str();
  EXPECT_TRUE(test::contains(model, "  0.400  ")) << model;
  EXPECT_TRUE(test::contains(model, "        0.667  0.500")) << model;
  EXPECT_TRUE(test::contains(out.str(), "\ncell (1) ")) << out.str();  // the agreement table
  EXPECT_TRUE(test::contains(out.str(), "label 2: leaderboard against the reference"));
  for (const std::string& line : lines)  // the table; notes on stderr may be longer
    if (line.rfind("maskeval: ", 0) != 0) {
      EXPECT_LE(line.size(), 100u) << line;
    }
}

}  // namespace
}  // namespace maskeval
