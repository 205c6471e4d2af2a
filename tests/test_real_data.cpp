// Relations that the published datasets are known to satisfy (see each SOURCE.md), checked
// on the full shared copies where present; skipped cleanly where they are absent.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "maskeval/report.h"
#include "maskeval/run.h"
#include "test_util.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
const std::string kShared = MASKEVAL_SHARED_DATA;

RunOptions fuse_options(const test::TempDir& out) {
  RunOptions o;
  o.command = Command::kFuse;
  o.out_dir = out / "out";
  o.write_maps = false;
  o.backend = Backend::kCpu;
  return o;
}

// BU-BIL datasets 4 and 5: gold.png is the strict majority (2 of 3) of the experts.
class BuBilGold : public testing::TestWithParam<const char*> {};

TEST_P(BuBilGold, ExpertMajorityEqualsGoldPixelForPixel) {
  const std::string root = kShared + "/bu-bil/" + GetParam();
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not present";
  test::TempDir out;
  RunOptions o = fuse_options(out);
  o.foreground = ForegroundRule::parse("<128");
  const RunResult r = run_dataset(dataset_from_case_folders(root, "experts/*.png", "gold.png"), o);
  EXPECT_TRUE(r.failed.empty());
  EXPECT_GE(r.cases.size(), 58u);
  for (const CaseResult& c : r.cases) {
    ASSERT_EQ(c.raters.size(), 3u) << c.id;
    ASSERT_TRUE(c.majority && c.majority->has_reference) << c.id;
    EXPECT_EQ(c.majority->mismatched, 0u) << c.id;
    EXPECT_EQ(c.majority->counts.size(), 2u) << c.id;  // 3 raters, 2 labels: never a tie
  }
  // SOURCE.md: mean pairwise expert Dice 0.930 (dataset 4) and 0.934 (dataset 5).
  const Summary s = summarize(r, 0);
  EXPECT_NEAR(s.labels.at(0).mean_dice, std::string(GetParam()) == "dataset4" ? 0.930 : 0.934,
              0.0005);
}

INSTANTIATE_TEST_SUITE_P(Datasets, BuBilGold, testing::Values("dataset4", "dataset5"));

// LIDC: SOURCE.md gives each patient's mean pairwise Dice over pairs with any foreground,
// i.e. with both-empty pairs left out (--empty nan).
TEST(LidcReaders, MeanPairwiseDiceMatchesSource) {
  const std::string root = kShared + "/lidc-readers";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not present";
  const std::map<std::string, double> expected = {
      {"LIDC-IDRI-0002", 0.642}, {"LIDC-IDRI-0004", 0.452}, {"LIDC-IDRI-0005", 0.472}};
  for (const auto& [patient, dice] : expected) {
    test::TempDir out;
    RunOptions o = fuse_options(out);
    o.command = Command::kAgree;
    o.empty = EmptyPolicy::kNaN;
    o.foreground = ForegroundRule::parse("nonzero");
    const RunResult r =
        run_dataset(dataset_from_case_folders(root + "/" + patient, "reader*.png", ""), o);
    EXPECT_TRUE(r.failed.empty()) << patient;
    const Summary s = summarize(r, 0);
    ASSERT_EQ(s.labels.size(), 1u);
    EXPECT_NEAR(s.labels[0].mean_dice, dice, 0.0005) << patient;
  }
}

// KiTS23: segmentation.nii.gz is the per-instance 2-of-3 vote painted kidney, cyst, tumour.
TEST(Kits23, PaintedMajorityEqualsOfficialSegmentation) {
  const std::string root = kShared + "/kits23";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not present";
  test::TempDir out;
  // Two cases with a cyst, to exercise the paint order (tumour over cyst matters in 00021).
  std::string csv = "case,rater,path,label,role\n";
  const std::regex name(R"((kidney|tumor|cyst)_instance-\d+_annotation-(\d)\.nii\.gz)");
  const std::map<std::string, int> label = {{"kidney", 1}, {"tumor", 2}, {"cyst", 3}};
  for (const char* id : {"case_00021", "case_00030"}) {
    for (const auto& e : fs::directory_iterator(root + "/" + id + "/instances")) {
      std::smatch m;
      const std::string file = e.path().filename().string();
      ASSERT_TRUE(std::regex_match(file, m, name)) << file;
      csv += std::string(id) + ",annotation-" + m[2].str() + "," + e.path().string() + "," +
             std::to_string(label.at(m[1].str())) + ",rater\n";
    }
    csv += std::string(id) + ",kits," + root + "/" + id + "/segmentation.nii.gz,,reference\n";
  }
  test::write_text(out / "kits.csv", csv);
  RunOptions o = fuse_options(out);
  o.paint_order = {1, 3, 2};
  const RunResult r = run_dataset(dataset_from_manifest(out / "kits.csv"), o);
  ASSERT_TRUE(r.failed.empty()) << r.failed[0].reason;
  ASSERT_EQ(r.cases.size(), 2u);
  for (const CaseResult& c : r.cases) {
    EXPECT_EQ(c.raters.size(), 3u);
    EXPECT_EQ(c.labels.size(), 3u) << c.id;
    EXPECT_EQ(c.geom.ndim, 3);
    EXPECT_DOUBLE_EQ(c.geom.spacing[0], 5.0);  // slices run along the first NIfTI axis
    EXPECT_EQ(c.geom.shape[1], 512);
    ASSERT_TRUE(c.majority && c.majority->has_reference);
    EXPECT_EQ(c.majority->mismatched, 0u) << c.id;
  }
  o.paint_order = {1, 2, 3};  // tumour before cyst: SOURCE.md found 30 voxels differ in 00021
  const RunResult wrong = run_dataset(dataset_from_manifest(out / "kits.csv"), o);
  EXPECT_EQ(wrong.cases.at(0).majority->mismatched, 30u);
}

}  // namespace
}  // namespace maskeval
