// maskeval diff: classification, hand-computed figures, outputs, exit codes, KiTS23 versions.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>

#include "cli_test_util.h"
#include "maskeval/diff.h"
#include "test_util.h"

namespace maskeval {
namespace {

using test::contains;
using test::TempDir;
namespace fs = std::filesystem;

constexpr int kW = 8, kH = 8;

// An 8x8 label map: rows 0-1 label 1, rows 2-3 label 2, the rest background.
std::vector<uint8_t> base_map() {
  std::vector<uint8_t> px(kW * kH, 0);
  for (int i = 0; i < 16; ++i) px[i] = 1;
  for (int i = 16; i < 32; ++i) px[i] = 2;
  return px;
}

// The base map with its last `k` label-1 voxels moved to label 2.
std::vector<uint8_t> moved_map(int k) {
  std::vector<uint8_t> px = base_map();
  for (int i = 16 - k; i < 16; ++i) px[i] = 2;
  return px;
}

RunOptions quiet_options(const TempDir& dir) {
  RunOptions o;
  o.out_dir = dir / "out";
  o.backend = Backend::kCpu;
  o.threads = 2;
  o.distances = true;
  return o;
}

const DiffEntry& entry(const DiffResult& r, const std::string& id) {
  for (const DiffEntry& e : r.entries)
    if (e.id == id) return e;
  throw std::runtime_error("no entry " + id);
}

const DiffLabel& label_of(const DiffEntry& e, LabelId l) {
  for (const DiffLabel& d : e.labels)
    if (d.label == l) return d;
  throw std::runtime_error("no label " + std::to_string(l));
}

TEST(Diff, LabelMapMoveOfKVoxelsGivesExactCountsAndDice) {
  TempDir dir;
  const int k = 4;
  test::write_gray(dir / "old/case.png", kW, kH, base_map());
  test::write_gray(dir / "new/case.png", kW, kH, moved_map(k));
  const DiffResult r = diff_versions(dir / "old", dir / "new", quiet_options(dir));
  ASSERT_EQ(r.entries.size(), 1u);
  const DiffEntry& e = r.entries[0];
  ASSERT_EQ(e.status, DiffStatus::kChanged) << e.reason;
  // Each moved voxel changes its label once, though it leaves label 1 and joins label 2.
  EXPECT_EQ(e.voxels_changed, static_cast<uint64_t>(k));
  EXPECT_TRUE(e.exact_voxels);
  const DiffLabel& one = label_of(e, 1);
  EXPECT_EQ(one.old_voxels, 16u);
  EXPECT_EQ(one.new_voxels, 16u - k);
  EXPECT_EQ(one.voxels_changed, static_cast<uint64_t>(k));
  EXPECT_DOUBLE_EQ(one.dice, 2.0 * (16 - k) / (16 + 16 - k));
  const DiffLabel& two = label_of(e, 2);
  EXPECT_EQ(two.new_voxels, 16u + k);
  EXPECT_EQ(two.voxels_changed, static_cast<uint64_t>(k));
  EXPECT_DOUBLE_EQ(two.dice, 2.0 * 16 / (16 + 16 + k));
  EXPECT_TRUE(std::isfinite(one.hd95));
  EXPECT_DOUBLE_EQ(e.min_dice, one.dice);
  EXPECT_EQ(e.worst_label, 1);
  EXPECT_EQ(e.rank, 1u);
}

TEST(Diff, ChangedVoxelsCountLabelChangesAndForegroundChangesOnce) {
  TempDir dir;
  std::vector<uint8_t> next = moved_map(3);
  next[40] = 1;  // background to 1
  next[0] = 0;   // 1 to background
  test::write_gray(dir / "old/c.png", kW, kH, base_map());
  test::write_gray(dir / "new/c.png", kW, kH, next);
  const DiffResult r = diff_versions(dir / "old", dir / "new", quiet_options(dir));
  EXPECT_EQ(entry(r, "c").voxels_changed, 5u);
}

TEST(Diff, ClassifiesAddedRemovedUnchangedAndNeverDecodesUnchangedFiles) {
  TempDir dir;
  for (const char* v : {"old", "new"}) {
    test::write_gray(dir / (std::string(v) + "/same.png"), kW, kH, base_map());
    // Not an image at all, but the same bytes in both versions: unchanged, never decoded.
    test::write_text(dir / (std::string(v) + "/sub/corrupt.png"), "not a png");
  }
  test::write_gray(dir / "old/gone.png", kW, kH, base_map());
  test::write_gray(dir / "new/added.png", kW, kH, base_map());
  test::write_gray(dir / "old/moved.png", kW, kH, base_map());
  test::write_gray(dir / "new/moved.png", kW, kH, moved_map(2));
  const DiffResult r = diff_versions(dir / "old", dir / "new", quiet_options(dir));
  EXPECT_EQ(entry(r, "same").status, DiffStatus::kUnchanged);
  EXPECT_EQ(entry(r, "sub/corrupt").status, DiffStatus::kUnchanged);
  EXPECT_EQ(entry(r, "gone").status, DiffStatus::kRemoved);
  EXPECT_EQ(entry(r, "added").status, DiffStatus::kAdded);
  EXPECT_EQ(entry(r, "moved").status, DiffStatus::kChanged);
  EXPECT_EQ(r.counts.failed, 0u);
  EXPECT_EQ(r.counts.unchanged, 2u);
  EXPECT_EQ(diff_exit_code(r, false), 0);
  EXPECT_EQ(diff_exit_code(r, true), kExitChanged);
}

TEST(Diff, MatchesFilesByPathWithoutTheirExtension) {
  TempDir dir;
  const std::vector<uint8_t> px = base_map();
  test::write_gray(dir / "old/a/b.png", kW, kH, px);
  Geometry g;
  g.shape = {kW, kH, 1};
  fs::create_directories(dir / "new/a");
  write_nifti(dir / "new/a/b.nii.gz", g, PixelType::kU8, px.data());
  const DiffResult r = diff_versions(dir / "old", dir / "new", quiet_options(dir));
  ASSERT_EQ(r.entries.size(), 1u);
  const DiffEntry& e = r.entries[0];
  EXPECT_EQ(e.id, "a/b");
  ASSERT_EQ(e.status, DiffStatus::kChanged) << e.reason;  // other bytes, same labels
  EXPECT_EQ(e.voxels_changed, 0u);
  EXPECT_DOUBLE_EQ(e.min_dice, 1.0);
}

TEST(Diff, FailedDecodeIsListedWithItsFile) {
  TempDir dir;
  test::write_gray(dir / "old/x.png", kW, kH, base_map());
  test::write_text(dir / "new/x.png", "broken");
  const DiffResult r = diff_versions(dir / "old", dir / "new", quiet_options(dir));
  const DiffEntry& e = entry(r, "x");
  EXPECT_EQ(e.status, DiffStatus::kFailed);
  EXPECT_EQ(e.file, dir / "new/x.png");
  EXPECT_FALSE(e.reason.empty());
  EXPECT_EQ(diff_exit_code(r, false), 3);
  EXPECT_EQ(diff_exit_code(r, true), 3);  // nothing seen to change: the failure decides
}

TEST(Diff, UnreadableFileInTheListingFailsItsEntry) {
  TempDir dir;
  test::write_gray(dir / "old/x.png", kW, kH, base_map());
  test::write_gray(dir / "new/y.png", kW, kH, base_map());
  test::write_gray(dir / "old/y.png", kW, kH, base_map());
  std::filesystem::create_directories(dir / "new");
  ASSERT_EQ(mkfifo((dir / "new/x.png").c_str(), 0600), 0);  // found, but not a regular file
  const DiffResult r = diff_versions(dir / "old", dir / "new", quiet_options(dir));
  const DiffEntry& e = entry(r, "x");
  EXPECT_EQ(e.status, DiffStatus::kFailed);  // not "removed"
  EXPECT_EQ(e.file, dir / "new/x.png");
  EXPECT_EQ(entry(r, "y").status, DiffStatus::kUnchanged);
  EXPECT_EQ(diff_exit_code(r, true), 3);
}

TEST(Diff, DetachedHeaderWhoseDataFileChangedIsChanged) {
  TempDir dir;
  const std::string header =
      "ObjectType = Image\nNDims = 2\nDimSize = 2 2\nElementType = MET_UCHAR\n"
      "ElementDataFile = m.raw\n";
  for (const char* v : {"old", "new"}) test::write_text(dir / (std::string(v) + "/m.mhd"), header);
  test::write_text(dir / "old/m.raw", std::string("\x01\x01\x00\x00", 4));
  test::write_text(dir / "new/m.raw", std::string("\x01\x00\x00\x00", 4));
  const DiffResult r = diff_versions(dir / "old", dir / "new", quiet_options(dir));
  const DiffEntry& e = entry(r, "m");
  ASSERT_EQ(e.status, DiffStatus::kChanged) << e.reason;
  EXPECT_EQ(e.voxels_changed, 1u);
  ASSERT_EQ(e.old_side->hashed.at(0).data_files.size(), 1u);
}

// Per-label manifests: label 1 contains label 2 (KiTS23's kidney and tumour), each unioned.
void write_per_label(const TempDir& dir, const std::string& v, int extra) {
  std::vector<uint8_t> kidney(kW * kH, 0), tumour(kW * kH, 0);
  for (int i = 0; i < 32 + extra; ++i) kidney[i] = 255;
  for (int i = 8; i < 16; ++i) tumour[i] = 255;
  test::write_gray(dir / (v + "/k.png"), kW, kH, kidney);
  test::write_gray(dir / (v + "/t.png"), kW, kH, tumour);
  test::write_text(dir / (v + ".csv"),
                   "case,rater,path,label\nc1,gt," + v + "/k.png,1\nc1,gt," + v + "/t.png,2\n");
}

TEST(Diff, PerLabelManifestsCompareEachLabelsUnion) {
  TempDir dir;
  write_per_label(dir, "v1", 0);
  write_per_label(dir, "v2", 8);
  const DiffResult r = diff_versions(dir / "v1.csv", dir / "v2.csv", quiet_options(dir));
  ASSERT_EQ(r.entries.size(), 1u);
  const DiffEntry& e = r.entries[0];
  EXPECT_EQ(e.id, "c1");  // one rater per case: entries are the cases
  ASSERT_EQ(e.status, DiffStatus::kChanged) << e.reason;
  EXPECT_TRUE(e.per_label);
  const DiffLabel& kidney = label_of(e, 1);
  EXPECT_EQ(kidney.old_voxels, 32u);  // the tumour's voxels stay in the kidney's mask
  EXPECT_EQ(kidney.new_voxels, 40u);
  EXPECT_DOUBLE_EQ(kidney.dice, 2.0 * 32 / 72);
  EXPECT_DOUBLE_EQ(label_of(e, 2).dice, 1.0);
  EXPECT_EQ(e.voxels_changed, 8u);
}

TEST(Diff, SeveralRatersPerCaseMakeCaseSlashRaterEntries) {
  TempDir dir;
  test::write_gray(dir / "m1.png", kW, kH, base_map());
  test::write_gray(dir / "m2.png", kW, kH, moved_map(1));
  test::write_text(dir / "v1.csv", "case,rater,path\nc,ann1,m1.png\nc,ann2,m1.png\n");
  test::write_text(dir / "v2.csv", "case,rater,path\nc,ann1,m1.png\nc,ann2,m2.png\n");
  const DiffResult r = diff_versions(dir / "v1.csv", dir / "v2.csv", quiet_options(dir));
  EXPECT_EQ(entry(r, "c/ann1").status, DiffStatus::kUnchanged);
  EXPECT_EQ(entry(r, "c/ann2").status, DiffStatus::kChanged);
}

TEST(Diff, HtmlPageBoundsItsTables) {
  TempDir dir;
  for (const char* id : {"p", "q", "r"}) {
    test::write_gray(dir / ("old/" + std::string(id) + ".png"), kW, kH, base_map());
    test::write_gray(dir / ("new/" + std::string(id) + ".png"), kW, kH, moved_map(id[0] - 'o'));
  }
  const RunOptions o = quiet_options(dir);
  const DiffResult r = diff_versions(dir / "old", dir / "new", o);
  ASSERT_EQ(r.counts.changed, 3u);
  EXPECT_EQ(r.entries[r.ranked[0]].id, "r");  // most voxels moved: the lowest Dice
  const std::string html = diff_html_text(r, o, 2);
  EXPECT_TRUE(contains(html, "Changes between versions"));
  EXPECT_TRUE(contains(html, "1 more changed entries not shown (3 in all")) << html;
  EXPECT_FALSE(contains(html, "<td>p</td>"));
}

TEST(DiffCli, ExitCodesAndOutputs) {
  TempDir dir;
  test::write_gray(dir / "old/a.png", kW, kH, base_map());
  test::write_gray(dir / "new/a.png", kW, kH, base_map());
  const std::string args = "diff " + (dir / "old") + " " + (dir / "new") + " -o " + (dir / "out");
  test::Output out = test::run(args);
  EXPECT_EQ(out.code, 0) << out.text;
  EXPECT_TRUE(contains(out.text, "1 unchanged")) << out.text;
  EXPECT_EQ(test::run(args + " --fail-on-change -q").code, 0);
  test::write_gray(dir / "new/a.png", kW, kH, moved_map(3));
  out = test::run(args + " --fail-on-change");
  EXPECT_EQ(out.code, 5) << out.text;
  EXPECT_TRUE(contains(out.text, "most changed")) << out.text;
  out = test::run(args + " -q");
  EXPECT_EQ(out.code, 0) << out.text;
  EXPECT_EQ(out.text, "") << "-q prints nothing when nothing failed";
  // A failed entry: 3, or 5 with --fail-on-change when another entry changed.
  test::write_text(dir / "new/b.png", "broken");
  test::write_gray(dir / "old/b.png", kW, kH, base_map());
  out = test::run(args + " -q");
  EXPECT_EQ(out.code, 3) << out.text;
  EXPECT_TRUE(contains(out.text, dir / "new/b.png")) << out.text;
  EXPECT_EQ(test::run(args + " -q --fail-on-change").code, 5);

  const std::string csv = test::read_text(dir / "out/diff.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "entry,status,label,label_name,old_voxels,new_voxels,voxels_changed,dice,hd95,"
            "old_files,new_files");
  EXPECT_TRUE(contains(csv, "\na,changed,,,,,3,,,")) << csv;
  EXPECT_TRUE(contains(csv, "\na,changed,1,1,16,13,3,0.896551724137931,")) << csv;
  EXPECT_TRUE(contains(csv, "\nb,failed,")) << csv;
  const test::Json j = test::read_json(dir / "out/diff.json");
  EXPECT_EQ(j["command"], "diff");
  EXPECT_EQ(j["counts"]["changed"], 1);
  EXPECT_EQ(j["counts"]["failed"], 1);
  EXPECT_EQ(j["ranked"][0]["id"], "a");
  EXPECT_EQ(j["entries"][0]["labels"]["1"]["voxels_changed"], 3);
  EXPECT_EQ(j["entries"][0]["old"]["files"][0]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(j["entries"][1]["file"], dir / "new/b.png");
  const std::string html = test::read_text(dir / "out/diff.html");
  EXPECT_TRUE(contains(html, "Changes between versions"));
  EXPECT_TRUE(contains(html, "<title>maskeval diff"));
}

TEST(DiffCli, ForeignOutputAndBadVersionsAreRefused) {
  TempDir dir;
  test::write_gray(dir / "old/a.png", kW, kH, base_map());
  test::write_gray(dir / "new/a.png", kW, kH, base_map());
  test::write_text(dir / "out/diff.csv", "my own table\n");
  const std::string args = "diff " + (dir / "old") + " " + (dir / "new") + " -o " + (dir / "out");
  EXPECT_EQ(test::run(args).code, 2);
  EXPECT_EQ(test::read_text(dir / "out/diff.csv"), "my own table\n");
  EXPECT_EQ(test::run(args + " --labels " + (dir / "nothing.csv")).code, 1);
  EXPECT_EQ(
      test::run("diff " + (dir / "old") + " " + (dir / "nothing") + " -o " + (dir / "o2")).code, 1);
  EXPECT_FALSE(fs::exists(dir / "o2"));
  EXPECT_EQ(test::run("diff " + (dir / "old")).code, 1);
}

// KiTS23 case_00061: annotation 1 and annotation 2 as two versions of the rater "gt".
TEST(DiffRealData, Kits23AnnotatorsAsTwoVersions) {
  const std::string root = test::kData + "/kits23/case_00061/instances/";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not present";
  TempDir dir;
  for (const char* a : {"1", "2"}) {
    std::string csv = "case,rater,path,label\n";
    for (const char* k : {"kidney_instance-1", "kidney_instance-2"})
      csv += "case_00061,gt," + root + k + "_annotation-" + a + ".nii.gz,1\n";
    csv += "case_00061,gt," + root + "tumor_instance-1_annotation-" + a + ".nii.gz,2\n";
    test::write_text(dir / (std::string("v") + a + ".csv"), csv);
  }
  const test::Output out =
      test::run("diff " + (dir / "v1.csv") + " " + (dir / "v2.csv") + " --labels " + test::kData +
                "/kits23/labels.json -o " + (dir / "out"));
  EXPECT_EQ(out.code, 0) << out.text;
  const test::Json j = test::read_json(dir / "out/diff.json");
  ASSERT_EQ(j["entries"].size(), 1u);
  const test::Json& e = j["entries"][0];
  EXPECT_EQ(e["id"], "case_00061");
  EXPECT_EQ(e["status"], "changed");
  const double dice = e["labels"]["1"]["dice"];
  EXPECT_GT(dice, 0.9);
  EXPECT_LT(dice, 1.0);
  ASSERT_TRUE(e["labels"]["1"]["hd95"].is_number());
  EXPECT_TRUE(std::isfinite(e["labels"]["1"]["hd95"].get<double>()));
  EXPECT_EQ(e["distance_unit"], "mm");
  EXPECT_TRUE(e["labels"].contains("kidney_and_masses"));
}

}  // namespace
}  // namespace maskeval
