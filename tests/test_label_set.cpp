// Label names, regions and the ignore label: parsing, and their counts through whole runs.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "maskeval/label_set.h"
#include "maskeval/report.h"
#include "maskeval/run.h"
#include "test_util.h"

namespace maskeval {
namespace {

using test::TempDir;
using test::write_gray;

RunOptions options(const TempDir& dir, Command command) {
  RunOptions o;
  o.command = command;
  o.out_dir = dir / "out";
  o.threads = 2;
  o.backend = Backend::kCpu;
  o.write_maps = false;
  return o;
}

std::string first_failure(const RunResult& r) {
  return r.failed.empty() ? "" : r.failed[0].reason;
}

TEST(LabelSet, RegionsAreCheckedAndSorted) {
  LabelSet s;
  s.add_region(parse_region("masses=3,2,3"));
  ASSERT_EQ(s.regions.size(), 1u);
  EXPECT_EQ(s.regions[0].labels, (std::vector<Label>{2, 3}));
  EXPECT_EQ(s.key(kFirstRegion), "masses");
  EXPECT_EQ(s.find("masses"), kFirstRegion);
  EXPECT_EQ(s.find("7"), 7);
  EXPECT_FALSE(s.find("kidney"));
  EXPECT_THROW(s.add_region(parse_region("masses=1")), std::invalid_argument);  // taken
  EXPECT_THROW(s.add_region(parse_region("12=1")), std::invalid_argument);      // a number
  s.add_region(parse_region("whole tumor=1"));  // nnU-Net's own example names have spaces
  EXPECT_EQ(file_safe("whole tumor"), "whole_tumor");
  EXPECT_THROW(s.add_region(parse_region("whole_tumor=4")), std::invalid_argument);  // its file
  EXPECT_THROW(s.add_region(parse_region("again=3,2")), std::invalid_argument);      // same labels
  EXPECT_THROW(s.add_region(parse_region(std::string(65, 'x') + "=4")), std::invalid_argument);
  EXPECT_THROW(s.add_region(parse_region("tab\there=4")), std::invalid_argument);
  EXPECT_THROW(parse_region("kidney"), std::invalid_argument);
  EXPECT_THROW(parse_region("kidney=1,x"), std::invalid_argument);
  EXPECT_THROW(parse_region("kidney=70000"), std::invalid_argument);
  EXPECT_THROW(s.add_region(parse_region("none=")), std::invalid_argument);
}

TEST(LabelSet, Colours) {
  EXPECT_EQ(parse_colour("#0a10ff"), (Rgb{10, 16, 255}));
  EXPECT_EQ(parse_colour("128,64, 0"), (Rgb{128, 64, 0}));
  EXPECT_EQ(colour_hex({1, 2, 255}), "#0102ff");
  EXPECT_THROW(parse_colour("#12345"), std::invalid_argument);
  EXPECT_THROW(parse_colour("1,2,256"), std::invalid_argument);
  EXPECT_THROW(parse_colour("1,2"), std::invalid_argument);
}

TEST(LabelFile, CsvWithNamesColoursAndARegion) {
  TempDir d;
  test::write_text(d / "l.csv",
                   "\xEF\xBB\xBFvalue,name,colour\n0,Sky,#808080\n1,Building,\"128,0,0\"\n"
                   "\n1 2,built,#ff0000\n");
  const LabelSet s = read_label_file(d / "l.csv");
  EXPECT_EQ(s.name(0), "Sky");
  EXPECT_EQ(s.name(1), "Building");
  EXPECT_EQ(s.name(5), "5");
  EXPECT_EQ(s.colour(1), (Rgb{128, 0, 0}));
  ASSERT_EQ(s.regions.size(), 1u);
  EXPECT_EQ(s.regions[0].name, "built");
  EXPECT_EQ(s.colour(kFirstRegion), (Rgb{255, 0, 0}));
  test::write_text(d / "bad.csv", "value,label\n1,x\n");
  try {
    read_label_file(d / "bad.csv");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv"), std::string::npos) << e.what();
  }
  test::write_text(d / "bad2.csv", "value,name\nx,kidney\n");
  EXPECT_THROW(read_label_file(d / "bad2.csv"), std::invalid_argument);
}

TEST(LabelFile, JsonAndNnUnetDatasetJson) {
  TempDir d;
  test::write_text(d / "l.json",
                   R"({"labels": [{"value": 1, "name": "kidney", "colour": [200, 50, 50]}],
                       "regions": {"masses": [2, 3]}, "ignore_label": 255})");
  const LabelSet a = read_label_file(d / "l.json");
  EXPECT_EQ(a.name(1), "kidney");
  EXPECT_EQ(a.colour(1), (Rgb{200, 50, 50}));
  ASSERT_EQ(a.regions.size(), 1u);
  EXPECT_EQ(a.ignore, Label{255});
  // nnU-Net v2's dataset.json: names to values, a list of values for a region.
  test::write_text(d / "dataset.json",
                   R"({"channel_names": {"0": "CT"}, "labels": {"background": 0,
                       "kidney": [1, 2, 3], "masses": [2, 3], "tumor": 2},
                       "regions_class_order": [1, 3, 2]})");
  const LabelSet n = read_label_file(d / "dataset.json");
  EXPECT_EQ(n.name(0), "background");
  EXPECT_EQ(n.name(2), "tumor");
  ASSERT_EQ(n.regions.size(), 2u);
  EXPECT_EQ(n.regions[0].name, "kidney");
  EXPECT_EQ(n.regions[0].labels, (std::vector<Label>{1, 2, 3}));
  test::write_text(d / "broken.json", R"({"labels": [{"name": "x"}]})");
  EXPECT_THROW(read_label_file(d / "broken.json"), std::invalid_argument);
  test::write_text(d / "trunc.json", R"({"labels": )");
  EXPECT_THROW(read_label_file(d / "trunc.json"), std::invalid_argument);
  EXPECT_THROW(read_label_file(d / "missing.json"), std::invalid_argument);
}

// A region of a label map is the union of its labels, in agreement and in scores.
TEST(Regions, LabelMapsAgreementAndScore) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 5, 1, {1, 2, 0, 0, 3});
  write_gray(d / "data/c/r2.png", 5, 1, {2, 1, 1, 0, 3});
  write_gray(d / "data/c/gold.png", 5, 1, {0, 1, 2, 3, 0});
  RunOptions o = options(d, Command::kAgree);
  o.labels.add_region(parse_region("both=1,2"));
  const Dataset data = dataset_from_case_folders(d / "data", "r*.png", "gold.png");
  const RunResult a = run_dataset(data, o);
  ASSERT_EQ(a.cases.size(), 1u) << first_failure(a);
  const std::vector<LabelResult>& labels = a.cases[0].labels;
  ASSERT_EQ(labels.size(), 4u);  // 1, 2, 3, then the region
  EXPECT_EQ(labels[3].label, kFirstRegion);
  // r1 {1,1,0,0,0}, r2 {1,1,1,0,0}: Dice 2*2/(2+3).
  EXPECT_DOUBLE_EQ(labels[3].dice[1], 0.8);
  EXPECT_EQ(labels[3].counts.volume, (std::vector<uint64_t>{2, 3}));
  EXPECT_DOUBLE_EQ(labels[0].dice[1], 0.0);  // label 1 alone: no overlap

  o.command = Command::kScore;
  const RunResult s = run_dataset(data, o);
  ASSERT_EQ(s.cases.size(), 1u) << first_failure(s);
  // gold's region {0,1,1,0,0}; r2's {1,1,1,0,0}: TP 2, FP 1, FN 0, TN 2.
  const Score& r2 = s.cases[0].scores.at("r2").at(kFirstRegion);
  EXPECT_EQ(r2.tp, 2u);
  EXPECT_EQ(r2.fp, 1u);
  EXPECT_EQ(r2.fn, 0u);
  EXPECT_EQ(r2.tn, 2u);
  const Summary sum = summarize(s, 5);
  // r1's region {1,1,0,0,0}: TP 1, FP 1, FN 1; pooled over the one case: Dice 2/4, IoU 1/3.
  ASSERT_EQ(sum.leaderboard.size(), 2u);
  for (const LeaderboardRow& row : sum.leaderboard) {
    const LabelBoard& b = row.labels.at(kFirstRegion);
    EXPECT_DOUBLE_EQ(b.pooled_dice, row.name == "r2" ? 0.8 : 0.5) << row.name;
    EXPECT_DOUBLE_EQ(b.pooled_iou, row.name == "r2" ? 2.0 / 3 : 1.0 / 3) << row.name;
  }
  const nlohmann::json j = nlohmann::json::parse(report_json_text(s, sum, o));
  EXPECT_TRUE(j["cases"][0]["scores"]["by"]["r2"].contains("both"));
  EXPECT_EQ(j["options"]["regions"]["both"], nlohmann::json::array({1, 2}));
}

// A region of one-file-per-label masks: each rater's files of its labels united.
TEST(Regions, PerLabelFilesAreUnited) {
  TempDir d;
  write_gray(d / "d/a1.png", 4, 1, {1, 0, 0, 0});
  write_gray(d / "d/a2.png", 4, 1, {0, 1, 0, 0});
  write_gray(d / "d/b1.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "d/b2.png", 4, 1, {0, 0, 1, 0});
  write_gray(d / "d/ref.png", 4, 1, {1, 2, 2, 0});
  test::write_text(d / "d/m.csv",
                   "case,rater,path,label,role\nk,a,a1.png,1,\nk,a,a2.png,2,\nk,b,b1.png,1,\n"
                   "k,b,b2.png,2,\nk,gold,ref.png,,reference\n");
  RunOptions o = options(d, Command::kScore);
  o.labels.add_region(parse_region("any=1,2"));
  const RunResult r = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(r.cases.size(), 1u) << first_failure(r);
  // a: {1,1,0,0} against the reference's {1,1,1,0}: Dice 4/5; b: {1,1,1,0}: 1.
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("a").at(kFirstRegion).dice, 0.8);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("b").at(kFirstRegion).dice, 1.0);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("b").at(1).dice, 2.0 / 3);
}

// score: voxels where the reference carries the ignore label count nowhere.
TEST(IgnoreLabel, ScoreLeavesOutTheReferencesIgnoredVoxels) {
  TempDir d;
  write_gray(d / "data/c/pred.png", 5, 1, {1, 1, 1, 255, 0});
  write_gray(d / "data/c/gold.png", 5, 1, {0, 1, 255, 1, 0});
  RunOptions o = options(d, Command::kScore);
  o.distances = false;
  o.labels.ignore = 255;
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "pred.png", "gold.png"), o);
  ASSERT_EQ(r.cases.size(), 1u) << first_failure(r);
  const CaseResult& c = r.cases[0];
  EXPECT_EQ(c.ignored_voxels, uint64_t{1});
  const Score& s = c.scores.at("pred").at(1);
  EXPECT_EQ(s.tp, 1u);
  EXPECT_EQ(s.fp, 1u);
  EXPECT_EQ(s.fn, 1u);  // the prediction's 255 where the reference says 1 is no label
  EXPECT_EQ(s.tn, 1u);
  EXPECT_EQ(c.scores.at("pred").count(255), 0u);  // the ignore label is never reported
  o.labels.ignore.reset();
  const RunResult all =
      run_dataset(dataset_from_case_folders(d / "data", "pred.png", "gold.png"), o);
  EXPECT_EQ(all.cases[0].scores.at("pred").at(1).fp, 2u);
}

// Boundary distances: ignored voxels are in neither mask.
TEST(IgnoreLabel, DistancesLeaveOutIgnoredVoxels) {
  TempDir d;
  write_gray(d / "data/c/pred.png", 8, 1, {1, 1, 0, 0, 0, 0, 0, 1});
  write_gray(d / "data/c/gold.png", 8, 1, {1, 1, 0, 0, 0, 0, 0, 9});
  RunOptions o = options(d, Command::kScore);
  o.distances = true;
  const Dataset data = dataset_from_case_folders(d / "data", "pred.png", "gold.png");
  const RunResult far = run_dataset(data, o);
  ASSERT_EQ(far.cases.size(), 1u) << first_failure(far);
  EXPECT_GT(far.cases[0].scores.at("pred").at(1).boundary->hd, 5.0);
  o.labels.ignore = 9;
  const RunResult r = run_dataset(data, o);
  ASSERT_EQ(r.cases.size(), 1u) << first_failure(r);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("pred").at(1).boundary->hd, 0.0);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("pred").at(1).dice, 1.0);
}

// agree: voxels where any rater carries the ignore label are left out.
TEST(IgnoreLabel, AgreeLeavesOutVoxelsAnyRaterIgnores) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 4, 1, {1, 1, 9, 0});
  write_gray(d / "data/c/r2.png", 4, 1, {1, 0, 1, 0});
  RunOptions o = options(d, Command::kAgree);
  o.labels.ignore = 9;
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(r.cases.size(), 1u) << first_failure(r);
  ASSERT_EQ(r.cases[0].labels.size(), 1u);  // label 1; 9 is not reported
  EXPECT_EQ(r.cases[0].ignored_voxels, uint64_t{1});
  EXPECT_DOUBLE_EQ(r.cases[0].labels[0].dice[1], 2.0 / 3);
  EXPECT_EQ(r.cases[0].labels[0].counts.votes[0], 1u);  // of the 3 voxels kept
}

TEST(IgnoreLabel, NeedsLabelMapsAndNoRegionCoveringIt) {
  TempDir d;
  write_gray(d / "d/a.png", 2, 1, {1, 0});
  test::write_text(d / "d/m.csv", "case,rater,path,label\nk,a,a.png,1\nk,b,a.png,1\n");
  RunOptions o = options(d, Command::kAgree);
  o.labels.ignore = 9;
  EXPECT_THROW(check_run(dataset_from_manifest(d / "d/m.csv"), o), UsageError);
  write_gray(d / "data/c/r1.png", 2, 1, {1, 0});
  write_gray(d / "data/c/r2.png", 2, 1, {1, 0});
  o.labels.add_region(parse_region("all=1,9"));
  EXPECT_THROW(check_run(dataset_from_case_folders(d / "data", "", ""), o), UsageError);
}

// A labels file that names label 0 other than background makes it a class (CamVid's sky).
TEST(LabelNames, NamedLabelZeroIsReported) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 3, 1, {0, 0, 1});
  write_gray(d / "data/c/r2.png", 3, 1, {0, 1, 1});
  RunOptions o = options(d, Command::kAgree);
  const Dataset data = dataset_from_case_folders(d / "data", "", "");
  EXPECT_EQ(run_dataset(data, o).cases[0].labels.size(), 1u);
  o.labels.names[0] = "background";
  EXPECT_EQ(run_dataset(data, o).cases[0].labels.size(), 1u);
  o.labels.names[0] = "Sky";
  const RunResult r = run_dataset(data, o);
  ASSERT_EQ(r.cases[0].labels.size(), 2u);
  EXPECT_EQ(r.cases[0].labels[0].label, 0);
  EXPECT_DOUBLE_EQ(r.cases[0].labels[0].dice[1], 2.0 / 3);
}

// A region is evaluated only in the cases that give one of its labels, like a label.
TEST(Regions, OnlyWhereACaseGivesTheirLabels) {
  TempDir d;
  write_gray(d / "data/c1/r1.png", 3, 1, {2, 2, 0});
  write_gray(d / "data/c1/r2.png", 3, 1, {2, 0, 0});
  write_gray(d / "data/c2/r1.png", 3, 1, {1, 0, 0});
  write_gray(d / "data/c2/r2.png", 3, 1, {1, 0, 0});
  RunOptions o = options(d, Command::kAgree);
  o.labels.add_region(parse_region("masses=2"));
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(r.cases.size(), 2u) << first_failure(r);
  const Summary s = summarize(r, 5);
  for (const LabelSummary& l : s.labels) {
    if (l.label != 2 && l.label != kFirstRegion) continue;
    EXPECT_EQ(l.cases, 1u) << l.label;
    EXPECT_DOUBLE_EQ(l.mean_dice, 2.0 / 3) << l.label;
  }
}

// With label maps a region's majority is the raters' binary vote on the region, not whether the
// multi-label winner lies in it.
TEST(Regions, MajorityIsTheVoteOnTheRegion) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 2, 1, {2, 0});
  write_gray(d / "data/c/r2.png", 2, 1, {3, 0});
  write_gray(d / "data/c/r3.png", 2, 1, {0, 0});
  write_gray(d / "data/c/gold.png", 2, 1, {2, 0});
  RunOptions o = options(d, Command::kScore);
  o.against = ScoreAgainst::kMajority;  // the labels tie 2, 3, 0; the region wins 2 of 3
  o.labels.add_region(parse_region("masses=2,3"));
  const Dataset data = dataset_from_case_folders(d / "data", "r*.png", "");
  const RunResult r = run_dataset(data, o);
  ASSERT_EQ(r.cases.size(), 1u) << first_failure(r);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("r1").at(kFirstRegion).dice, 1.0);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("r3").at(kFirstRegion).dice, 0.0);
  o.command = Command::kFuse;
  const RunResult f = run_dataset(dataset_from_case_folders(d / "data", "r*.png", "gold.png"), o);
  ASSERT_EQ(f.cases.size(), 1u) << first_failure(f);
  EXPECT_DOUBLE_EQ(f.cases[0].majority->dice_vs_reference.at(kFirstRegion), 1.0);
}

// fuse against a reference: its ignored voxels are left out too, as in score.
TEST(IgnoreLabel, FuseLeavesOutTheReferencesIgnoredVoxels) {
  TempDir d;
  for (const char* r : {"r1", "r2", "r3"})
    write_gray(d / (std::string("data/c/") + r + ".png"), 4, 1, {0, 1, 1, 1});
  write_gray(d / "data/c/gold.png", 4, 1, {0, 1, 255, 255});
  RunOptions o = options(d, Command::kFuse);
  o.labels.ignore = 255;
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "r*.png", "gold.png"), o);
  ASSERT_EQ(r.cases.size(), 1u) << first_failure(r);
  EXPECT_EQ(r.cases[0].ignored_voxels, uint64_t{2});
  EXPECT_EQ(r.cases[0].majority->mismatched, 0u);
  EXPECT_DOUBLE_EQ(r.cases[0].majority->dice_vs_reference.at(1), 1.0);
}

// Multi-label STAPLE with ignored voxels: fitted on the voxels kept, written for every voxel.
TEST(IgnoreLabel, MultiLabelStapleWithAReference) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 4, 1, {0, 1, 2, 200});
  write_gray(d / "data/c/r2.png", 4, 1, {0, 1, 2, 0});
  write_gray(d / "data/c/r3.png", 4, 1, {0, 1, 1, 2});
  write_gray(d / "data/c/gold.png", 4, 1, {0, 1, 2, 0});
  RunOptions o = options(d, Command::kFuse);
  o.method = FuseMethod::kMlStaple;
  o.labels.ignore = 200;
  for (const char* ref : {"gold.png", ""}) {
    const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "r*.png", ref), o);
    ASSERT_EQ(r.cases.size(), 1u) << first_failure(r);
    EXPECT_EQ(r.cases[0].mlstaple->result.labels, 3) << ref;  // 0, 1, 2: not 200
  }
}

// A binary --foreground rule leaves no label to ignore.
TEST(IgnoreLabel, RefusedAfterABinaryForegroundRule) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 2, 1, {1, 0});
  write_gray(d / "data/c/r2.png", 2, 1, {1, 0});
  RunOptions o = options(d, Command::kAgree);
  o.foreground = ForegroundRule::parse("nonzero");
  o.labels.ignore = 255;
  EXPECT_THROW(check_run(dataset_from_case_folders(d / "data", "", ""), o), UsageError);
}

TEST(LabelFile, NnUnetIgnoreLabel) {
  TempDir d;
  test::write_text(d / "dataset.json",
                   R"({"labels": {"background": 0, "organ": 1, "ignore": 255}})");
  const LabelSet s = read_label_file(d / "dataset.json");
  EXPECT_EQ(s.ignore, Label{255});
  EXPECT_EQ(s.names.count(255), 0u);
  EXPECT_FALSE(s.zero_is_a_class());
}

}  // namespace
}  // namespace maskeval
