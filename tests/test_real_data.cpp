// Relations that the published datasets are known to satisfy (see each SOURCE.md), checked
// on the full shared copies where present; skipped cleanly where they are absent.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "maskeval/labels.h"
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

namespace maskeval {
namespace {

std::vector<uint8_t> foreground_of(const std::string& path, const ForegroundRule& rule) {
  const LabelImage img = to_labels(read_image(path), rule);
  std::vector<uint8_t> m(img.geom.voxels());
  for (size_t i = 0; i < m.size(); ++i) m[i] = img.at(static_cast<int64_t>(i)) != 0;
  return m;
}

// BU-BIL dataset 4: STAPLE over the tuple histogram equals the voxel-by-voxel EM on the real
// masks, and its consensus is all but the gold standard (which is the experts' majority).
TEST(BuBilStaple, HistogramEmEqualsVoxelEmAndNearsGold) {
  const std::string root = kShared + "/bu-bil/dataset4";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not present";
  test::TempDir out;
  RunOptions o = fuse_options(out);
  o.method = FuseMethod::kStaple;
  o.foreground = ForegroundRule::parse("<128");
  const RunResult r = run_dataset(dataset_from_case_folders(root, "experts/*.png", "gold.png"), o);
  ASSERT_TRUE(r.failed.empty());
  for (size_t k = 0; k < r.cases.size(); ++k) {
    const CaseResult& c = r.cases[k];
    ASSERT_EQ(c.staple.size(), 1u);
    EXPECT_GE(*c.staple[0].dice_vs_reference, 0.99) << c.id;
    if (k >= 3) continue;
    std::vector<std::vector<uint8_t>> masks;
    std::vector<const uint8_t*> ptrs;
    for (const std::string& name : c.raters)
      masks.push_back(foreground_of(c.files.at(name).at(0), o.foreground));
    for (const auto& m : masks) ptrs.push_back(m.data());
    const StapleResult v = staple_per_voxel(ptrs, c.geom.voxels(), {});
    EXPECT_EQ(c.staple[0].result.iterations, v.iterations) << c.id;
    for (size_t i = 0; i < ptrs.size(); ++i) {
      EXPECT_NEAR(c.staple[0].result.sensitivity[i], v.sensitivity[i], 1e-12) << c.id;
      EXPECT_NEAR(c.staple[0].result.specificity[i], v.specificity[i], 1e-12) << c.id;
    }
  }
}

// KiTS23 per class: binary STAPLE on each class's union of instance files, through a manifest;
// the kidney class against the voxel-by-voxel EM.
TEST(Kits23Staple, PerClassThroughAManifest) {
  const std::string dir = kShared + "/kits23/case_00021";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " not present";
  test::TempDir out;
  std::string csv = "case,rater,path,label\n";
  std::map<int, std::vector<std::string>> kidney;  // annotation -> files
  const std::regex name(R"((kidney|tumor|cyst)_instance-\d+_annotation-(\d)\.nii\.gz)");
  const std::map<std::string, int> label = {{"kidney", 1}, {"tumor", 2}, {"cyst", 3}};
  for (const auto& e : fs::directory_iterator(dir + "/instances")) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    ASSERT_TRUE(std::regex_match(file, m, name));
    csv +=
        "k,a" + m[2].str() + "," + e.path().string() + "," + std::to_string(label.at(m[1])) + "\n";
    if (m[1] == "kidney") kidney[std::stoi(m[2])].push_back(e.path().string());
  }
  test::write_text(out / "k.csv", csv);
  RunOptions o = fuse_options(out);
  o.method = FuseMethod::kStaple;
  const RunResult r = run_dataset(dataset_from_manifest(out / "k.csv"), o);
  ASSERT_TRUE(r.failed.empty()) << r.failed[0].reason;
  const CaseResult& c = r.cases.at(0);
  ASSERT_EQ(c.staple.size(), 3u);
  for (const StapleLabel& s : c.staple) {
    EXPECT_TRUE(s.result.converged);
    for (double p : s.result.sensitivity) EXPECT_GT(p, 0.85);
    for (double q : s.result.specificity) EXPECT_GT(q, 0.999);
  }
  std::vector<std::vector<uint8_t>> masks;
  for (const auto& [a, files] : kidney) {
    std::vector<uint8_t> u;
    for (const std::string& f : files) {
      const std::vector<uint8_t> m = foreground_of(f, ForegroundRule::parse("nonzero"));
      if (u.empty()) u = m;
      for (size_t i = 0; i < u.size(); ++i) u[i] |= m[i];
    }
    masks.push_back(std::move(u));
  }
  std::vector<const uint8_t*> ptrs;
  for (const auto& m : masks) ptrs.push_back(m.data());
  const StapleResult v = staple_per_voxel(ptrs, static_cast<int64_t>(masks[0].size()), {});
  for (size_t i = 0; i < ptrs.size(); ++i)
    EXPECT_NEAR(c.staple[0].result.sensitivity[i], v.sensitivity[i], 1e-12);
}

// LIDC: multi-label STAPLE over readers who often mark nothing; every case runs, and where all
// readers agree the consensus is theirs.
TEST(LidcMlStaple, RunsOnEveryCase) {
  const std::string root = kShared + "/lidc-readers";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not present";
  test::TempDir out;
  RunOptions o = fuse_options(out);
  o.method = FuseMethod::kMlStaple;
  o.foreground = ForegroundRule::parse("nonzero");
  const RunResult r = run_dataset(dataset_from_case_folders(root, "reader*.png", ""), o);
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(r.cases.size(), 40u);
  for (const CaseResult& c : r.cases) {
    ASSERT_TRUE(c.mlstaple.has_value());
    EXPECT_TRUE(c.mlstaple->result.converged) << c.id;
    EXPECT_EQ(c.mlstaple->result.labels, 2) << c.id;
  }
}

}  // namespace
}  // namespace maskeval
