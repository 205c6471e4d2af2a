// The report (JSON and table) on small generated datasets: kappa, leaderboards, units.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "maskeval/core/metrics.h"
#include "report/json_report.h"
#include "test_util.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_gray;

RunOptions options(const TempDir& dir, Command command, bool distances) {
  RunOptions o;
  o.command = command;
  o.out_dir = dir / "out";
  o.threads = 1;
  o.backend = Backend::kCpu;
  o.write_maps = false;
  o.distances = distances;
  return o;
}

struct Report {
  nlohmann::ordered_json json;
  std::string table;
};

Report report_of(const Dataset& data, const RunOptions& o) {
  const RunResult r = run_dataset(data, o);
  EXPECT_TRUE(r.failed.empty()) << r.failed[0].id << ": " << r.failed[0].reason;
  const Summary s = summarize(r, 5);
  std::ostringstream table;
  print_summary(table, r, s, o, "report.json");
  return {report_json(r, s, o), table.str()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The index of the first line starting with `prefix`, or -1.
int find_line(const std::vector<std::string>& lines, const std::string& prefix, int from = 0) {
  for (int i = from; i < static_cast<int>(lines.size()); ++i)
    if (lines[i].rfind(prefix, 0) == 0) return i;
  return -1;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// score takes a case with one rater; agree and fuse refuse it.
TEST(FleissKappaReport, OneRaterIsUndefinedAndLeftOutOfTheMean) {
  TempDir d;
  write_gray(d / "data/two/r1.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/two/r2.png", 4, 1, {1, 0, 0, 0});
  write_gray(d / "data/two/gold.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/one/r1.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/one/gold.png", 4, 1, {1, 1, 0, 0});
  const RunOptions o = options(d, Command::kScore, false);
  const Report rep = report_of(dataset_from_case_folders(d / "data", "r*.png", "gold.png"), o);
  const auto& cases = rep.json["cases"];
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0]["id"], "one");
  EXPECT_TRUE(cases[0]["labels"]["1"]["fleiss_kappa"].is_null()) << cases[0]["labels"]["1"];
  EXPECT_TRUE(cases[0]["fleiss_kappa_all"].is_null());
  // Votes of the two-rater case: 2 voxels with none, 1 with one, 1 with both.
  const uint64_t votes[3] = {2, 1, 1};
  const double kappa = fleiss_kappa_binary(votes, 2, EmptyPolicy::kOne);
  EXPECT_DOUBLE_EQ(cases[1]["labels"]["1"]["fleiss_kappa"].get<double>(), kappa);
  EXPECT_DOUBLE_EQ(rep.json["summary"]["labels"]["1"]["mean_fleiss_kappa"].get<double>(), kappa);

  // One rater alone: the table shows no figure.
  fs::remove_all(d / "data/two");
  const Report one = report_of(dataset_from_case_folders(d / "data", "r*.png", "gold.png"), o);
  EXPECT_TRUE(one.json["summary"]["labels"]["1"]["mean_fleiss_kappa"].is_null());
  const std::vector<std::string> lines = lines_of(one.table);
  const int heading = find_line(lines, "label   cases");
  ASSERT_GE(heading, 0) << one.table;
  const std::string& row = lines.at(heading + 1);
  EXPECT_EQ(row.substr(row.size() - 2), " -") << one.table;
}

// Two raters and a prediction scored against gold.png; label 2 only where `two` says.
Dataset scored_dataset(const TempDir& d, bool two) {
  const uint8_t l = two ? 2 : 1;
  write_gray(d / "data/c/r1.png", 6, 1, {1, 1, 1, 0, l, l});
  write_gray(d / "data/c/r2.png", 6, 1, {0, 1, 1, 1, l, 0});
  write_gray(d / "data/c/model.png", 6, 1, {1, 1, 0, 0, 0, l});
  write_gray(d / "data/c/gold.png", 6, 1, {1, 1, 0, 0, l, l});
  return dataset_from_case_folders(d / "data", "r*.png", "gold.png", "model.png");
}

TEST(LeaderboardReport, PredictionMarkerKeepsColumnsAlignedAndIsExplained) {
  TempDir d;
  const Report rep = report_of(scored_dataset(d, false), options(d, Command::kScore, true));
  const std::vector<std::string> lines = lines_of(rep.table);
  const int heading = find_line(lines, "  name");
  ASSERT_GE(heading, 0) << rep.table;
  const std::string& head = lines[heading];
  for (const char* column : {"Dice", "IoU", "precision", "NSD"}) {
    const size_t end = head.find(column) + std::string(column).size();
    for (int i = heading + 1; i <= heading + 3; ++i) {
      const std::string& row = lines.at(i);
      ASSERT_GE(row.size(), end) << rep.table;
      // Each figure ends where its heading ends: "0.800" right below "Dice".
      EXPECT_EQ(row.substr(end - 5, 5).find_first_not_of("0123456789.-"), std::string::npos)
          << column << " in\n"
          << rep.table;
      EXPECT_EQ(row[end - 4], '.') << column << " in\n" << rep.table;
    }
  }
  EXPECT_GE(find_line(lines, "  model *", heading), 0) << rep.table;
  const int note = find_line(lines, "  * ", heading);
  ASSERT_GE(note, 0) << rep.table;
  EXPECT_TRUE(contains(lines[note], "prediction")) << lines[note];
}

TEST(LeaderboardReport, PerLabelBoardInTableAndJson) {
  TempDir d;
  const Report rep = report_of(scored_dataset(d, true), options(d, Command::kScore, true));
  // Label 2 of r1: {4, 5} against {4, 5}: Dice 1; of model: {5} against {4, 5}: 2/3.
  const auto& board = rep.json["summary"]["leaderboard"];
  ASSERT_EQ(board.size(), 3u);
  for (const auto& row : board) {
    ASSERT_TRUE(row.contains("labels")) << row;
    for (const char* label : {"1", "2"}) {
      const auto& l = row["labels"][label];
      for (const char* field : {"cases", "mean_dice", "mean_iou", "mean_hd_percentile", "mean_assd",
                                "mean_nsd", "infinite_distances"})
        EXPECT_TRUE(l.contains(field)) << field << " in " << l;
      EXPECT_EQ(l["mean_dice"], row["label_mean_dice"][label]);
    }
    if (row["name"] == "model") {
      EXPECT_DOUBLE_EQ(row["labels"]["2"]["mean_dice"].get<double>(), 2.0 / 3);
    }
    if (row["name"] == "r1") {
      EXPECT_DOUBLE_EQ(row["labels"]["2"]["mean_dice"].get<double>(), 1.0);
      EXPECT_DOUBLE_EQ(row["labels"]["2"]["mean_assd"].get<double>(), 0.0);
    }
  }
  const std::vector<std::string> lines = lines_of(rep.table);
  const int overall = find_line(lines, "leaderboard against the reference");
  const int two = find_line(lines, "label 2: leaderboard against the reference");
  ASSERT_GE(overall, 0) << rep.table;
  ASSERT_GT(two, overall) << rep.table;
  EXPECT_TRUE(contains(lines.at(two), "NSD at 1 px")) << lines[two];
  const std::string& head = lines.at(two + 1);
  EXPECT_TRUE(contains(head, "HD95 (px)")) << rep.table;
  EXPECT_EQ(find_line(lines, "  r1 ", two + 2), two + 2) << rep.table;  // best first
  EXPECT_TRUE(contains(lines[two + 2], "  1.000")) << lines[two + 2];
}

TEST(DistanceUnitReport, PixelsFromPngsMillimetresWithSpacing) {
  TempDir d;
  const Dataset data = scored_dataset(d, false);
  const Report px = report_of(data, options(d, Command::kScore, true));
  EXPECT_EQ(px.json["options"]["distance_unit"], "px");
  EXPECT_EQ(px.json["cases"][0]["distance_unit"], "px");
  EXPECT_TRUE(contains(px.table, "HD95 (px)")) << px.table;
  EXPECT_TRUE(contains(px.table, "ASSD (px)")) << px.table;
  EXPECT_TRUE(contains(px.table, "NSD at 1 px")) << px.table;

  RunOptions o = options(d, Command::kScore, true);
  o.spacing = {0.5, 0.5, 0};
  const Report mm = report_of(data, o);
  EXPECT_EQ(mm.json["options"]["distance_unit"], "mm");
  EXPECT_TRUE(contains(mm.table, "HD95 (mm)")) << mm.table;
  EXPECT_TRUE(contains(mm.table, "NSD at 1 mm")) << mm.table;
  EXPECT_FALSE(contains(mm.table, "warning")) << mm.table;
}

TEST(DistanceUnitReport, FileUnitAndMixedUnits) {
  TempDir d;
  Geometry g;
  g.ndim = 2;
  g.shape = {4, 1, 1};
  g.spacing = {2.0, 2.0, 1.0};
  g.spacing_unit = "um";
  const uint8_t a[4] = {1, 1, 0, 0}, b[4] = {1, 0, 0, 0};
  fs::create_directories(d / "data/n");
  write_nifti(d / "data/n/a.nii", g, PixelType::kU8, a);
  write_nifti(d / "data/n/b.nii", g, PixelType::kU8, b);
  const RunOptions o = options(d, Command::kAgree, true);
  const Report um = report_of(dataset_from_case_folders(d / "data", "", ""), o);
  EXPECT_EQ(um.json["options"]["distance_unit"], "um");
  EXPECT_TRUE(contains(um.table, "HD95 (um)")) << um.table;

  write_gray(d / "data/p/a.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/p/b.png", 4, 1, {1, 1, 1, 0});
  const Report mixed = report_of(dataset_from_case_folders(d / "data", "", ""), o);
  EXPECT_EQ(mixed.json["options"]["distance_unit"], "mixed");
  EXPECT_EQ(mixed.json["cases"][0]["distance_unit"], "um");
  EXPECT_EQ(mixed.json["cases"][1]["distance_unit"], "px");
  const std::vector<std::string> lines = lines_of(mixed.table);
  const int warning = find_line(lines, "warning:");
  ASSERT_GE(warning, 0) << mixed.table;
  EXPECT_TRUE(contains(lines[warning], "px: 1 case")) << lines[warning];
  EXPECT_TRUE(contains(lines[warning], "um: 1 case")) << lines[warning];
}

TEST(SummaryLabelsReport, BoundaryMeansOnlyWhereMeasured) {
  TempDir d;
  const Dataset data = scored_dataset(d, false);
  const Report score = report_of(data, options(d, Command::kScore, true));
  const auto& scored = score.json["summary"]["labels"]["1"];
  for (const char* field : {"mean_hd_percentile", "mean_assd", "mean_nsd", "infinite_pairs"})
    EXPECT_FALSE(scored.contains(field)) << field << " in " << scored;
  const std::vector<std::string> lines = lines_of(score.table);
  const int heading = find_line(lines, "label   cases");
  ASSERT_GE(heading, 0) << score.table;
  EXPECT_FALSE(contains(lines[heading], "HD95")) << score.table;

  const Report agree = report_of(data, options(d, Command::kAgree, true));
  const auto& agreed = agree.json["summary"]["labels"]["1"];
  EXPECT_TRUE(agreed.at("mean_hd_percentile").is_number()) << agreed;
  EXPECT_TRUE(agreed.at("mean_assd").is_number()) << agreed;
  EXPECT_TRUE(agreed.at("mean_nsd").is_number()) << agreed;
  EXPECT_EQ(agreed.at("infinite_pairs"), 0);
}

}  // namespace
}  // namespace maskeval
