// Datasets, runs and their outputs, on small synthetic cases written to a temporary folder.
#include <gtest/gtest.h>

#include <cmath>

#include "maskeval/device.h"
#include "maskeval/run.h"
#include "report/json_report.h"
#include "test_util.h"

namespace maskeval {
namespace {

using test::TempDir;
using test::write_gray;

RunOptions options(const TempDir& dir, Command command = Command::kAgree) {
  RunOptions o;
  o.command = command;
  o.out_dir = dir / "out";
  o.threads = 2;
  o.backend = Backend::kCpu;
  return o;
}

const FailedCase* failure_of(const RunResult& r, const std::string& id) {
  for (const FailedCase& f : r.failed)
    if (f.id == id) return &f;
  return nullptr;
}

TEST(Dataset, CaseFoldersAtAnyDepth) {
  TempDir d;
  const std::vector<uint8_t> px(4, 0);
  write_gray(d / "data/a/r2.png", 2, 2, px);
  write_gray(d / "data/a/r1.png", 2, 2, px);
  write_gray(d / "data/a/gold.png", 2, 2, px);
  write_gray(d / "data/group/b/experts/x.png", 2, 2, px);
  write_gray(d / "data/group/b/experts/y.png", 2, 2, px);
  test::write_text(d / "data/group/notes.txt", "not a mask");

  // Default: any folder holding mask files directly is a case.
  const Dataset flat = dataset_from_case_folders(d / "data", "", "gold.png");
  ASSERT_EQ(flat.cases.size(), 2u);
  EXPECT_EQ(flat.cases[1].id, "group/b/experts");
  EXPECT_EQ(flat.cases[1].problem, "reference file missing");
  EXPECT_EQ(flat.cases[0].id, "a");
  EXPECT_EQ(flat.cases[0].raters.size(), 2u);  // gold.png is the reference, not a rater
  EXPECT_EQ(flat.cases[0].raters.begin()->first, "r1");
  EXPECT_EQ(flat.cases[0].reference.at(kWholeMap).size(), 1u);

  const Dataset nested = dataset_from_case_folders(d / "data", "experts/*.png", "");
  ASSERT_EQ(nested.cases.size(), 1u);
  EXPECT_EQ(nested.cases[0].id, "group/b");
  EXPECT_EQ(nested.cases[0].raters.begin()->first, "experts/x");

  EXPECT_THROW(dataset_from_case_folders(d / "data", "*.tif", ""), UsageError);
  EXPECT_THROW(dataset_from_case_folders(d / "missing", "", ""), UsageError);
}

TEST(Dataset, RaterFoldersMatchFilesByName) {
  TempDir d;
  const std::vector<uint8_t> px(4, 1);
  write_gray(d / "ann1/s1.png", 2, 2, px);
  write_gray(d / "ann2/s1.png", 2, 2, px);
  write_gray(d / "ann1/sub/s2.png", 2, 2, px);
  write_gray(d / "ann2/sub/s2.png", 2, 2, px);
  write_gray(d / "ann1/s3.png", 2, 2, px);  // ann2 has no s3
  const Dataset data = dataset_from_rater_folders({d / "ann1", "second=" + (d / "ann2")}, "");
  ASSERT_EQ(data.cases.size(), 3u);
  EXPECT_EQ(data.cases[0].id, "s1");
  EXPECT_EQ(data.cases[1].id, "s3");
  EXPECT_EQ(data.cases[2].id, "sub/s2");
  EXPECT_EQ(data.cases[0].raters.count("second"), 1u);
  EXPECT_NE(data.cases[1].problem.find("missing annotator"), std::string::npos);
  EXPECT_THROW(dataset_from_rater_folders({d / "ann1"}, ""), UsageError);

  const RunResult r = run_dataset(data, options(d));
  EXPECT_EQ(r.cases.size(), 2u);
  ASSERT_NE(failure_of(r, "s3"), nullptr);
  EXPECT_NE(failure_of(r, "s3")->reason.find("rater 'second' has no file"), std::string::npos);
}

TEST(Dataset, ManifestWithLabelsAndRoles) {
  TempDir d;
  test::write_text(d / "m.csv",
                   "case,rater,path,label,role\n"
                   "c1,a,a1.png,1,rater\n"
                   "c1,a,a2.png,1,rater\n"
                   "c1,b,\"b 1.png\",2,\n"
                   "c1,gold,g.png,,reference\n");
  const Dataset data = dataset_from_manifest(d / "m.csv");
  ASSERT_TRUE(data.per_label);
  ASSERT_EQ(data.cases.size(), 1u);
  const CaseSpec& c = data.cases[0];
  EXPECT_EQ(c.raters.at("a").at(1).size(), 2u);
  EXPECT_EQ(c.raters.at("b").at(2).at(0), d / "b 1.png");
  EXPECT_EQ(c.reference.at(kWholeMap).size(), 1u);

  test::write_text(d / "mixed.csv", "case,rater,path,label\nc,a,x.png,1\nc,b,y.png,\n");
  EXPECT_THROW(dataset_from_manifest(d / "mixed.csv"), UsageError);
  test::write_text(d / "nohdr.csv", "c,a,x.png\n");
  EXPECT_THROW(dataset_from_manifest(d / "nohdr.csv"), UsageError);
  test::write_text(d / "role.csv", "case,rater,path,role\nc,a,x.png,judge\n");
  EXPECT_THROW(dataset_from_manifest(d / "role.csv"), UsageError);
  test::write_text(d / "label.csv", "case,rater,path,label\nc,a,x.png,one\n");
  EXPECT_THROW(dataset_from_manifest(d / "label.csv"), UsageError);
}

TEST(Run, HandWorkedCaseAndMaps) {
  TempDir d;
  // 2x2 images, labels 0..2; three raters.
  write_gray(d / "data/c/r1.png", 2, 2, {1, 1, 2, 0});
  write_gray(d / "data/c/r2.png", 2, 2, {1, 2, 2, 0});
  write_gray(d / "data/c/r3.png", 2, 2, {1, 0, 2, 2});
  RunOptions o = options(d, Command::kFuse);
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(r.cases.size(), 1u);
  const CaseResult& c = r.cases[0];
  EXPECT_EQ(c.raters, (std::vector<std::string>{"r1", "r2", "r3"}));
  ASSERT_EQ(c.labels.size(), 2u);  // background not reported by default
  const LabelResult& one = c.labels[0];
  EXPECT_EQ(one.counts.label, 1);
  EXPECT_EQ(one.counts.volume, (std::vector<uint64_t>{2, 1, 1}));
  EXPECT_DOUBLE_EQ(one.dice[0 * 3 + 1], 2.0 * 1 / 3);
  const LabelResult& two = c.labels[1];
  EXPECT_EQ(two.counts.volume, (std::vector<uint64_t>{1, 2, 2}));
  EXPECT_EQ(two.counts.votes, (std::vector<uint64_t>{1, 2, 0, 1}));
  // Voxel 1 is a three-way tie (1, 2, 0): undecided = max label + 1 = 3.
  ASSERT_TRUE(c.majority.has_value());
  EXPECT_EQ(c.majority->undecided, 3);
  EXPECT_EQ(c.majority->counts,
            (std::vector<std::pair<Label, uint64_t>>{{0, 1}, {1, 1}, {2, 1}, {3, 1}}));
  const RawImage mask = read_image(c.majority->mask);
  EXPECT_EQ(mask.bytes, (Bytes{1, 3, 2, 0}));
  const RawImage agreement = read_image(c.agreement_map);
  EXPECT_EQ(agreement.bytes, (Bytes{255, 85, 255, 170}));
  for (const std::string& f : test::files_under(d.path()))
    EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;

  o.tie = TiePolicy::kLowest;
  const RunResult low = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  EXPECT_EQ(read_image(low.cases[0].majority->mask).bytes, (Bytes{1, 0, 2, 0}));
}

TEST(Run, EmptyPolicy) {
  TempDir d;
  write_gray(d / "data/c/a.png", 2, 1, {1, 0});
  write_gray(d / "data/c/b.png", 2, 1, {0, 0});
  write_gray(d / "data/c/e.png", 2, 1, {0, 0});
  RunOptions o = options(d);
  o.include_background = true;
  for (EmptyPolicy p : {EmptyPolicy::kOne, EmptyPolicy::kNaN, EmptyPolicy::kZero}) {
    o.empty = p;
    const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
    const LabelResult& one = r.cases.at(0).labels.at(1);
    ASSERT_EQ(one.counts.label, 1);
    EXPECT_EQ(one.dice[0 * 3 + 1], 0.0);  // one mask empty: 0 whatever the policy
    const double both_empty = one.dice[1 * 3 + 2];
    if (p == EmptyPolicy::kNaN) {
      EXPECT_TRUE(std::isnan(both_empty));
    } else {
      EXPECT_EQ(both_empty, p == EmptyPolicy::kOne ? 1.0 : 0.0);
    }
  }
}

TEST(Run, BadInputsAreListedNotFatal) {
  TempDir d;
  const std::vector<uint8_t> px(6, 0);
  write_gray(d / "data/good/a.png", 3, 2, {0, 1, 1, 0, 0, 1});
  write_gray(d / "data/good/b.png", 3, 2, {0, 1, 0, 0, 0, 1});
  write_gray(d / "data/corrupt/a.png", 3, 2, px);
  test::write_text(d / "data/corrupt/b.png", "this is not a png");
  write_gray(d / "data/size/a.png", 3, 2, px);
  write_gray(d / "data/size/b.png", 2, 3, px);
  write_gray(d / "data/single/a.png", 3, 2, px);
  write_gray(d / "data/rgb/a.png", 3, 2, px);
  test::write_rgb(d / "data/rgb/b.png", 3, 2);
  write_gray(d / "data/range/a.png", 3, 2, px);
  write_gray(d / "data/range/b.png", 3, 2, {0, 0, 0, 0, 0, 255});
  RunOptions o = options(d);
  o.max_label = 1;
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(r.cases.size(), 1u);
  EXPECT_EQ(r.cases[0].id, "good");
  ASSERT_EQ(r.failed.size(), 5u);
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"corrupt", {"corrupt/b.png", "PNG"}},
      {"size", {"size/b.png", "size mismatch: 2x3 here, 3x2 in"}},
      {"single", {"single/a.png", "fewer than 2 raters (1)"}},
      {"rgb", {"rgb/b.png", "RGB image (3 channels) where labels were expected"}},
      {"range", {"range/b.png", "label value 255 out of range 0..1"}},
  };
  for (const auto& [id, what] : expected) {
    const FailedCase* f = failure_of(r, id);
    ASSERT_NE(f, nullptr) << id;
    EXPECT_NE(f->file.find(what.first), std::string::npos) << id << ": " << f->file;
    EXPECT_NE(f->reason.find(what.second), std::string::npos) << id << ": " << f->reason;
  }
  EXPECT_FALSE(r.aborted);

  o.strict = true;
  o.threads = 1;
  const RunResult strict = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  EXPECT_TRUE(strict.aborted);
  EXPECT_EQ(strict.failed.size(), 1u);
  EXPECT_EQ(strict.failed[0].id, "corrupt");  // cases run in id order; the first bad one stops
  EXPECT_TRUE(strict.cases.empty());
}

TEST(Run, MissingReferenceFails) {
  TempDir d;
  write_gray(d / "data/c/a.png", 1, 1, {1});
  write_gray(d / "data/c/b.png", 1, 1, {1});
  for (const char* f : {"a", "b", "gold"})
    write_gray(d / ("data/d/" + std::string(f) + ".png"), 1, 1, {1});
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", "gold.png"),
                                  options(d, Command::kFuse));
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].id, "c");
  EXPECT_EQ(r.failed[0].reason, "reference file missing");
  EXPECT_EQ(r.cases.size(), 1u);
}

TEST(Run, PerLabelManifestPaintsInOrder) {
  TempDir d;
  // Label 1 (outer) contains label 2 (inner) in every rater: they overlap.
  for (const char* r : {"a", "b", "c"}) {
    write_gray(d / (std::string("d/outer_") + r + ".png"), 4, 1, {1, 1, 1, 0});
    write_gray(d / (std::string("d/inner_") + r + ".png"), 4, 1, {0, 1, 0, 0});
  }
  write_gray(d / "d/inner_extra_a.png", 4, 1, {0, 0, 0, 1});  // a second instance, rater a only
  write_gray(d / "d/ref.png", 4, 1, {1, 2, 1, 0});
  test::write_text(d / "d/m.csv",
                   "case,rater,path,label,role\n"
                   "k,a,outer_a.png,1,\nk,b,outer_b.png,1,\nk,c,outer_c.png,1,\n"
                   "k,a,inner_a.png,2,\nk,b,inner_b.png,2,\nk,c,inner_c.png,2,\n"
                   "k,a,inner_extra_a.png,2,\nk,ref,ref.png,,reference\n");
  const Dataset data = dataset_from_manifest(d / "d/m.csv");
  RunOptions o = options(d, Command::kFuse);
  const RunResult overlap = run_dataset(data, o);
  ASSERT_EQ(overlap.failed.size(), 1u);
  EXPECT_NE(overlap.failed[0].reason.find("labels 1 and 2 overlap in 1 voxels"), std::string::npos)
      << overlap.failed[0].reason;

  o.paint_order = {1, 2};
  const RunResult r = run_dataset(data, o);
  ASSERT_EQ(r.cases.size(), 1u);
  const CaseResult& c = r.cases[0];
  ASSERT_EQ(c.labels.size(), 2u);
  EXPECT_EQ(c.labels[1].counts.volume, (std::vector<uint64_t>{2, 1, 1}));  // a: union of 2 files
  EXPECT_EQ(read_image(c.majority->mask).bytes, (Bytes{1, 2, 1, 0}));
  ASSERT_TRUE(c.majority->has_reference);
  EXPECT_EQ(c.majority->mismatched, 0u);
  EXPECT_FALSE(c.fleiss_kappa_all.has_value());  // overlapping labels: no single category

  o.paint_order = {2, 1};  // painting the outer label last hides the inner one
  const RunResult reversed = run_dataset(data, o);
  EXPECT_EQ(read_image(reversed.cases[0].majority->mask).bytes, (Bytes{1, 1, 1, 0}));
  EXPECT_EQ(reversed.cases[0].majority->mismatched, 1u);
}

// A per-label case gives the same counts with any number of threads, and the file named for a
// failure is the first bad one in file order (raters by name, labels, files as listed).
TEST(Run, PerLabelFailureNamesTheFirstBadFileInOrder) {
  TempDir d;
  for (const char* r : {"a", "b", "c"})
    for (const char* part : {"x1", "x2", "y1", "y2"})
      write_gray(d / (std::string("d/") + part + "_" + r + ".png"), 4, 1,
                 {1, static_cast<uint8_t>(r[0] == 'b'), static_cast<uint8_t>(part[1] == '2'), 0});
  std::string rows = "case,rater,path,label,role\n";
  for (const char* r : {"a", "b", "c"})
    for (const char* part : {"x1", "x2", "y1", "y2"})
      rows += std::string("k,") + r + "," + part + "_" + r + ".png," +
              (part[0] == 'x' ? "1" : "2") + ",\n";
  test::write_text(d / "d/m.csv", rows);
  RunOptions o = options(d);
  std::vector<RunResult> runs;
  for (int threads : {1, 4}) {
    o.threads = threads;
    runs.push_back(run_dataset(dataset_from_manifest(d / "d/m.csv"), o));
    ASSERT_EQ(runs.back().cases.size(), 1u) << threads;
  }
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(runs[0].cases[0].labels[l].counts.volume, runs[1].cases[0].labels[l].counts.volume);
    EXPECT_EQ(runs[0].cases[0].labels[l].counts.intersection,
              runs[1].cases[0].labels[l].counts.intersection);
  }
  EXPECT_EQ(runs[0].cases[0].labels[0].counts.volume, (std::vector<uint64_t>{2, 3, 2}));
  // b's second label 2 file corrupt, c's first label 1 file of another size: b's is named.
  test::write_text(d / "d/y2_b.png", "not a png");
  write_gray(d / "d/x1_c.png", 3, 1, {1, 0, 0});
  for (int threads : {1, 4}) {
    o.threads = threads;
    const RunResult r = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
    ASSERT_EQ(r.failed.size(), 1u) << threads;
    EXPECT_NE(r.failed[0].file.find("y2_b.png"), std::string::npos) << r.failed[0].file;
  }
  // a's second label 1 file of another size, before b's corrupt one: the size is named.
  write_gray(d / "d/x2_a.png", 2, 2, {1, 0, 0, 1});
  for (int threads : {1, 4}) {
    o.threads = threads;
    const RunResult r = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
    ASSERT_EQ(r.failed.size(), 1u) << threads;
    EXPECT_NE(r.failed[0].file.find("x2_a.png"), std::string::npos) << r.failed[0].file;
    EXPECT_NE(r.failed[0].reason.find("size mismatch: 2x2 here, 4x1 in"), std::string::npos)
        << r.failed[0].reason;
  }
}

TEST(Run, NiftiOutputsKeepTheGeometry) {
  TempDir d;
  Geometry g;
  g.ndim = 3;
  g.shape = {3, 2, 2};
  g.spacing = {0.7, 0.8, 5.0};
  g.spacing_unit = "mm";
  const std::vector<uint8_t> a = {0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0};
  const std::vector<uint8_t> b = {0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1};
  std::filesystem::create_directories(d / "data/v");
  write_nifti(d / "data/v/a.nii.gz", g, PixelType::kU8, a.data());
  write_nifti(d / "data/v/b.nii", g, PixelType::kU8, b.data());
  const RunResult r =
      run_dataset(dataset_from_case_folders(d / "data", "", ""), options(d, Command::kFuse));
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  const CaseResult& c = r.cases[0];
  EXPECT_EQ(c.geom.spacing[2], 5.0);
  const RawImage mask = read_image(c.majority->mask);
  EXPECT_EQ(mask.geom.format, "nifti");
  EXPECT_EQ(mask.geom.shape, g.shape);
  EXPECT_NEAR(mask.geom.spacing[0], 0.7, 1e-6);
  EXPECT_NEAR(mask.geom.spacing[2], 5.0, 1e-6);
  const RawImage agreement = read_image(c.agreement_map);
  EXPECT_EQ(agreement.type, PixelType::kF32);
  // Header bytes other than the data type, scaling and offset are those of the first rater.
  const RawImage first = read_image(d / "data/v/a.nii.gz");
  ASSERT_EQ(mask.geom.nifti_header.size(), first.geom.nifti_header.size());
  EXPECT_TRUE(std::equal(first.geom.nifti_header.begin() + 252,
                         first.geom.nifti_header.begin() + 344,
                         mask.geom.nifti_header.begin() + 252));  // qform/sform block
}

TEST(Summary, AggregatesPairsAndRaters) {
  TempDir d;
  write_gray(d / "data/c1/a.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/c1/b.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/c2/a.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/c2/b.png", 4, 1, {1, 0, 0, 0});
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), options(d));
  const Summary s = summarize(r, 1);
  ASSERT_EQ(s.labels.size(), 1u);
  EXPECT_EQ(s.labels[0].pairs, 2u);
  EXPECT_DOUBLE_EQ(s.labels[0].mean_dice, (1.0 + 2.0 / 3) / 2);
  EXPECT_DOUBLE_EQ(s.labels[0].min_dice, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.labels[0].rater_mean_dice.at("a"), (1.0 + 2.0 / 3) / 2);
  ASSERT_EQ(s.adjudicate.size(), 1u);
  EXPECT_EQ(s.adjudicate[0].id, "c2");
  const auto j = report_json(r, s, options(d));
  EXPECT_EQ(j["cases"][1]["labels"]["1"]["intersection"][0][1], 1);
  EXPECT_EQ(j["summary"]["adjudicate"][0]["id"], "c2");
}

TEST(Run, BackendChoice) {
  TempDir d;
  write_gray(d / "data/c/a.png", 1, 1, {1});
  write_gray(d / "data/c/b.png", 1, 1, {1});
  RunOptions o = options(d);
  o.backend = Backend::kAuto;
  const DeviceStatus s = cuda_device_status();
  const bool gpu = s.built && s.devices > 0;
  EXPECT_EQ(run_dataset(dataset_from_case_folders(d / "data", "", ""), o).backend,
            gpu ? "cuda" : "cpu");
  o.backend = Backend::kCuda;
  if (gpu) {
    EXPECT_EQ(run_dataset(dataset_from_case_folders(d / "data", "", ""), o).backend, "cuda");
    return;
  }
  try {  // no device or no CUDA in the build: a clear error, never a silent switch
    run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
    ADD_FAILURE() << "expected an error";
  } catch (const FatalError& e) {
    EXPECT_NE(std::string(e.what()).find("--backend cuda"), std::string::npos);
  }
}

}  // namespace
}  // namespace maskeval

namespace maskeval {
namespace {

TEST(StapleRun, FuseWritesPosteriorAndMask) {
  TempDir d;
  write_gray(d / "data/c/a.png", 4, 1, {1, 1, 1, 0});
  write_gray(d / "data/c/b.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/c/c.png", 4, 1, {1, 0, 0, 0});
  write_gray(d / "data/c/gold.png", 4, 1, {1, 1, 0, 0});
  RunOptions o = options(d, Command::kFuse);
  o.method = FuseMethod::kStaple;
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", "gold.png"), o);
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  const CaseResult& c = r.cases[0];
  ASSERT_EQ(c.staple.size(), 1u);
  const StapleLabel& s = c.staple[0];
  // The same as STAPLE run directly on the raters' masks.
  const std::vector<uint8_t> a = {1, 1, 1, 0}, b = {1, 1, 0, 0}, cc = {1, 0, 0, 0};
  const StapleResult direct = staple_per_voxel({a.data(), b.data(), cc.data()}, 4, {});
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(s.result.sensitivity[i], direct.sensitivity[i], 1e-12);
  EXPECT_EQ(s.result.iterations, direct.iterations);
  const RawImage posterior = read_image(s.posterior);
  ASSERT_EQ(posterior.type, PixelType::kU16);  // 2D: 16-bit PNG, 65535 = 1.0
  const auto* w = reinterpret_cast<const uint16_t*>(posterior.bytes.data());
  for (int x = 0; x < 4; ++x) EXPECT_NEAR(w[x] / 65535.0, direct.posterior[x], 1.0 / 65535);
  const RawImage mask = read_image(s.mask);
  for (int x = 0; x < 4; ++x) EXPECT_EQ(mask.bytes[x], direct.posterior[x] >= 0.5 ? 1 : 0);
  // Measured against gold.png: rater c misses voxel 1, so its sensitivity is 1/2.
  ASSERT_EQ(s.measured.size(), 3u);
  EXPECT_DOUBLE_EQ(s.measured[2].sensitivity, 0.5);
  EXPECT_DOUBLE_EQ(s.measured[0].precision, 2.0 / 3);
  ASSERT_TRUE(s.dice_vs_reference.has_value());
}

TEST(StapleRun, MultiLabelMaskMatchesTheAlgorithm) {
  TempDir d;
  write_gray(d / "data/c/a.png", 3, 2, {0, 1, 2, 2, 1, 0});
  write_gray(d / "data/c/b.png", 3, 2, {0, 1, 2, 1, 1, 0});
  write_gray(d / "data/c/c.png", 3, 2, {0, 2, 2, 2, 1, 1});
  RunOptions o = options(d, Command::kFuse);
  o.method = FuseMethod::kMlStaple;
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(r.cases.size(), 1u);
  const MlStapleCase& m = *r.cases[0].mlstaple;
  EXPECT_EQ(m.result.labels, 3);
  EXPECT_EQ(m.result.undecided, 3);
  const std::vector<Label> a = {0, 1, 2, 2, 1, 0}, b = {0, 1, 2, 1, 1, 0}, c = {0, 2, 2, 2, 1, 1};
  const MlStapleResult direct = mlstaple_per_voxel({a.data(), b.data(), c.data()}, 6, {});
  const RawImage mask = read_image(m.mask);
  for (int x = 0; x < 6; ++x) {
    const Label t[3] = {a[x], b[x], c[x]};
    EXPECT_EQ(mask.bytes[x], mlstaple_label(direct, t)) << x;
  }
}

TEST(Score, AgainstTheReferenceFile) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 5, 1, {1, 1, 1, 0, 0});
  write_gray(d / "data/c/r2.png", 5, 1, {0, 1, 1, 1, 0});
  write_gray(d / "data/c/model.png", 5, 1, {0, 0, 0, 0, 0});
  write_gray(d / "data/c/gold.png", 5, 1, {1, 1, 0, 0, 0});
  RunOptions o = options(d, Command::kScore);
  const RunResult r =
      run_dataset(dataset_from_case_folders(d / "data", "r*.png", "gold.png", "model.png"), o);
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  const CaseResult& c = r.cases[0];
  EXPECT_EQ(c.raters, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(c.predictions, (std::vector<std::string>{"model"}));
  EXPECT_EQ(c.scored_against, "reference");
  const Score& s1 = c.scores.at("r1").at(1);
  EXPECT_EQ(s1.tp, 2u);
  EXPECT_EQ(s1.fp, 1u);
  EXPECT_EQ(s1.fn, 0u);
  EXPECT_EQ(s1.tn, 2u);
  EXPECT_DOUBLE_EQ(s1.dice, 0.8);
  EXPECT_DOUBLE_EQ(s1.sensitivity, 1.0);
  EXPECT_DOUBLE_EQ(s1.specificity, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s1.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s1.volume_similarity, 2.0 * (3 - 2) / 5);
  const Score& s2 = c.scores.at("r2").at(1);
  EXPECT_EQ(s2.tp, 1u);
  EXPECT_EQ(s2.fp, 2u);
  const Score& m = c.scores.at("model").at(1);
  EXPECT_EQ(m.tp, 0u);
  EXPECT_DOUBLE_EQ(m.dice, 0.0);
  EXPECT_TRUE(std::isnan(m.precision));  // nothing predicted, something to find
  const Summary s = summarize(r, 5);
  ASSERT_EQ(s.leaderboard.size(), 3u);
  EXPECT_EQ(s.leaderboard[0].name, "r1");
  EXPECT_EQ(s.leaderboard[2].name, "model");
  EXPECT_TRUE(s.leaderboard[2].prediction);

  // One prediction alone is enough to score against a reference.
  const RunResult alone =
      run_dataset(dataset_from_case_folders(d / "data", "model.png", "gold.png"), o);
  EXPECT_EQ(alone.cases.size(), 1u);
  // Without a reference: the case fails, naming the reason.
  const RunResult none = run_dataset(dataset_from_case_folders(d / "data", "r*.png", ""), o);
  ASSERT_EQ(none.failed.size(), 1u);
  EXPECT_NE(none.failed[0].reason.find("no reference"), std::string::npos);
}

TEST(Score, AgainstTheRatersConsensus) {
  TempDir d;
  write_gray(d / "data/c/r1.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "data/c/r2.png", 4, 1, {1, 1, 1, 0});
  write_gray(d / "data/c/r3.png", 4, 1, {1, 0, 0, 0});
  RunOptions o = options(d, Command::kScore);
  o.against = ScoreAgainst::kMajority;  // majority: {1, 1, 0, 0}
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(r.cases.size(), 1u);
  EXPECT_EQ(r.cases[0].scored_against, "majority");
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("r1").at(1).dice, 1.0);
  EXPECT_EQ(r.cases[0].scores.at("r2").at(1).fp, 1u);
  EXPECT_EQ(r.cases[0].scores.at("r3").at(1).fn, 1u);
  o.against = ScoreAgainst::kStaple;
  const RunResult st = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(st.cases.size(), 1u);
  EXPECT_EQ(st.cases[0].scored_against, "staple");
  EXPECT_EQ(st.cases[0].scores.at("r1").size(), 1u);
}

TEST(Score, PerLabelManifest) {
  TempDir d;
  for (const char* r : {"a", "b"})
    write_gray(d / (std::string("d/") + r + ".png"), 3, 1, {1, 1, 0});
  write_gray(d / "d/p.png", 3, 1, {0, 1, 1});
  write_gray(d / "d/ref.png", 3, 1, {1, 1, 0});
  test::write_text(d / "d/m.csv",
                   "case,rater,path,label,role\nk,a,a.png,1,\nk,b,b.png,1,\n"
                   "k,net,p.png,1,prediction\nk,gold,ref.png,1,reference\n");
  RunOptions o = options(d, Command::kScore);
  const RunResult r = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("a").at(1).dice, 1.0);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.at("net").at(1).dice, 0.5);
  o.command = Command::kFuse;
  o.method = FuseMethod::kMlStaple;
  const RunResult ml = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(ml.failed.size(), 1u);
  EXPECT_NE(ml.failed[0].reason.find("needs label maps"), std::string::npos);
}

// Per-label files: each label's boundary agreement uses that label's NSD tolerance.
TEST(Distances, PerLabelToleranceOfEachLabel) {
  TempDir d;
  write_gray(d / "d/a1.png", 8, 1, {0, 1, 1, 0, 0, 0, 0, 0});
  write_gray(d / "d/b1.png", 8, 1, {0, 0, 1, 1, 0, 0, 0, 0});
  write_gray(d / "d/a2.png", 8, 1, {0, 0, 0, 0, 1, 1, 0, 0});
  write_gray(d / "d/b2.png", 8, 1, {0, 0, 0, 0, 0, 1, 1, 0});
  test::write_text(d / "d/m.csv",
                   "case,rater,path,label,role\nk,a,a1.png,1,\nk,b,b1.png,1,\n"
                   "k,a,a2.png,2,\nk,b,b2.png,2,\n");
  RunOptions o = options(d, Command::kAgree);
  o.distances = true;
  o.nsd_tolerance_by_label[2] = 0.5;  // label 1 keeps the default, 1
  const RunResult r = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  const std::vector<LabelResult>& labels = r.cases[0].labels;
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_DOUBLE_EQ(labels[0].boundary[1].nsd, 1.0);  // shifted by one pixel: within 1
  EXPECT_EQ(labels[1].nsd_tolerance, 0.5);
  EXPECT_LT(labels[1].boundary[1].nsd, 1.0);  // the same shift, beyond 0.5
}

// A per-label reference whose files are all for a label no rater has paints nothing: an empty
// reference, as before; without any reference row the case fails, saying how to give one.
TEST(Score, PerLabelReferenceOfAnotherLabelIsEmpty) {
  TempDir d;
  write_gray(d / "d/a1.png", 4, 1, {1, 1, 0, 0});
  write_gray(d / "d/b1.png", 4, 1, {1, 0, 0, 0});
  write_gray(d / "d/ref7.png", 4, 1, {0, 0, 1, 1});
  test::write_text(d / "d/m.csv",
                   "case,rater,path,label,role\nk,a,a1.png,1,\nk,b,b1.png,1,\n"
                   "k,gold,ref7.png,7,reference\n");
  RunOptions o = options(d, Command::kScore);
  const RunResult r = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  const Score& a = r.cases[0].scores.at("a").at(1);
  EXPECT_EQ(a.tp, 0u);
  EXPECT_EQ(a.fp, 2u);
  EXPECT_EQ(a.tn, 2u);
  o.command = Command::kFuse;
  const RunResult f = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(f.cases.size(), 1u) << (f.failed.empty() ? "" : f.failed[0].reason);
  EXPECT_EQ(f.cases[0].majority->mismatched, 2u);  // consensus {1, 2, 0, 0}, reference empty

  test::write_text(d / "d/n.csv", "case,rater,path,label,role\nk,a,a1.png,1,\nk,b,b1.png,1,\n");
  o.command = Command::kScore;
  const RunResult n = run_dataset(dataset_from_manifest(d / "d/n.csv"), o);
  ASSERT_EQ(n.failed.size(), 1u);
  EXPECT_NE(n.failed[0].reason.find("role=reference"), std::string::npos) << n.failed[0].reason;
}

// Per-label files: the reference painted from its own per-label files, each label's raters,
// predictions and reference counted as one view; figures worked by hand.
TEST(Score, PerLabelFilesAgainstAPaintedReference) {
  TempDir d;
  write_gray(d / "d/a1.png", 6, 1, {1, 1, 0, 0, 0, 0});
  write_gray(d / "d/b1.png", 6, 1, {1, 0, 0, 0, 0, 0});
  write_gray(d / "d/a2.png", 6, 1, {0, 0, 1, 1, 0, 0});
  write_gray(d / "d/b2.png", 6, 1, {0, 0, 1, 0, 0, 0});
  write_gray(d / "d/ref1.png", 6, 1, {1, 1, 1, 0, 0, 0});
  write_gray(d / "d/ref2.png", 6, 1, {0, 0, 1, 1, 0, 0});  // painted over label 1
  write_gray(d / "d/whole.png", 6, 1, {1, 1, 2, 2, 0, 3});
  test::write_text(d / "d/m.csv",
                   "case,rater,path,label,role\nk,a,a1.png,1,\nk,b,b1.png,1,\n"
                   "k,a,a2.png,2,\nk,b,b2.png,2,\nk,gold,ref1.png,1,reference\n"
                   "k,gold,ref2.png,2,reference\n");
  RunOptions o = options(d, Command::kScore);
  const RunResult r = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  const auto& sc = r.cases[0].scores;
  EXPECT_EQ(sc.at("a").at(1).tp, 2u);  // reference 1 = {1, 1, 0, 0, 0, 0} once painted
  EXPECT_EQ(sc.at("a").at(1).fn, 0u);
  EXPECT_EQ(sc.at("b").at(1).fn, 1u);
  EXPECT_DOUBLE_EQ(sc.at("b").at(1).dice, 2.0 / 3);
  EXPECT_DOUBLE_EQ(sc.at("a").at(2).dice, 1.0);
  EXPECT_EQ(sc.at("b").at(2).tn, 4u);
  EXPECT_EQ(sc.at("a").size(), 2u);

  // The consensus painted and compared with the painted reference, from counts.
  o.command = Command::kFuse;
  const RunResult f = run_dataset(dataset_from_manifest(d / "d/m.csv"), o);
  ASSERT_EQ(f.cases.size(), 1u) << (f.failed.empty() ? "" : f.failed[0].reason);
  const MajorityResult& m = *f.cases[0].majority;
  EXPECT_EQ(m.undecided, 3);  // painted: {1, 3, 2, 3, 0, 0}
  EXPECT_EQ(m.counts, (std::vector<std::pair<Label, uint64_t>>{{0, 2}, {1, 1}, {2, 1}, {3, 2}}));
  EXPECT_EQ(m.mismatched, 2u);
  EXPECT_DOUBLE_EQ(m.dice_vs_reference.at(1), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.dice_vs_reference.at(2), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.dice_vs_reference.at(3), 0.0);

  // A label only the reference map holds is scored too (nothing found of it).
  test::write_text(d / "d/w.csv",
                   "case,rater,path,label,role\nk,a,a1.png,1,\nk,b,b1.png,1,\n"
                   "k,gold,whole.png,,reference\n");
  o.command = Command::kScore;
  const RunResult w = run_dataset(dataset_from_manifest(d / "d/w.csv"), o);
  ASSERT_EQ(w.cases.size(), 1u) << (w.failed.empty() ? "" : w.failed[0].reason);
  const Score& s3 = w.cases[0].scores.at("a").at(3);
  EXPECT_EQ(s3.fn, 1u);
  EXPECT_EQ(s3.tn, 5u);
  EXPECT_DOUBLE_EQ(s3.dice, 0.0);
  EXPECT_EQ(w.cases[0].scores.at("a").at(2).fn, 2u);
}

}  // namespace
}  // namespace maskeval

namespace maskeval {
namespace {

TEST(Distances, AgreeAndScoreInPhysicalUnits) {
  TempDir d;
  Geometry g;
  g.ndim = 3;
  g.shape = {6, 5, 4};
  g.spacing = {0.5, 0.8, 3.0};
  std::vector<uint8_t> a(120, 0), b(120, 0), e(120, 0);
  for (int z = 1; z < 3; ++z)
    for (int y = 1; y < 4; ++y)
      for (int x = 1; x < 4; ++x) {
        a[(z * 5 + y) * 6 + x] = 1;
        b[(z * 5 + y) * 6 + x + 1] = 1;
      }
  std::filesystem::create_directories(d / "data/v");
  write_nifti(d / "data/v/a.nii.gz", g, PixelType::kU8, a.data());
  write_nifti(d / "data/v/b.nii.gz", g, PixelType::kU8, b.data());
  write_nifti(d / "data/v/e.nii.gz", g, PixelType::kU8, e.data());
  write_nifti(d / "data/v/gold.nii.gz", g, PixelType::kU8, a.data());
  RunOptions o = options(d);
  o.distances = true;
  o.distance.convention = DistanceConvention::kItk;
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", "gold.nii.gz"), o);
  ASSERT_EQ(r.cases.size(), 1u) << (r.failed.empty() ? "" : r.failed[0].reason);
  const LabelResult& one = r.cases[0].labels.at(0);
  ASSERT_EQ(one.boundary.size(), 9u);
  Grid grid;
  grid.ndim = 3;
  grid.shape = g.shape;
  grid.spacing = g.spacing;
  DistanceOptions dopt;
  dopt.convention = DistanceConvention::kItk;
  const BoundaryMetrics direct = boundary_metrics(a.data(), b.data(), grid, dopt, 1);
  EXPECT_DOUBLE_EQ(one.boundary[0 * 3 + 1].hd, direct.hd);
  EXPECT_DOUBLE_EQ(one.boundary[0 * 3 + 1].hd, 0.5);  // one voxel along x
  EXPECT_DOUBLE_EQ(one.boundary[0 * 3 + 1].assd, direct.assd);
  EXPECT_TRUE(std::isinf(one.boundary[0 * 3 + 2].hd));  // against the empty rater
  // --spacing overrides the files': the shift along x now measures 2.
  o.spacing = {2.0, 1.0, 1.0};
  const RunResult s = run_dataset(dataset_from_case_folders(d / "data", "", "gold.nii.gz"), o);
  EXPECT_DOUBLE_EQ(s.cases.at(0).labels.at(0).boundary[1].hd, 2.0);
  // score: each rater against gold.nii.gz (= a), with its boundary metrics.
  o.spacing = {0, 0, 0};
  o.command = Command::kScore;
  const RunResult sc = run_dataset(dataset_from_case_folders(d / "data", "", "gold.nii.gz"), o);
  ASSERT_EQ(sc.cases.size(), 1u);
  ASSERT_TRUE(sc.cases[0].scores.at("a").at(1).boundary.has_value());
  EXPECT_EQ(sc.cases[0].scores.at("a").at(1).boundary->hd, 0.0);
  EXPECT_DOUBLE_EQ(sc.cases[0].scores.at("b").at(1).boundary->hd, 0.5);
  const auto j = report_json(sc, summarize(sc, 1), o);
  EXPECT_EQ(j["options"]["distance_convention"], "itk");
  EXPECT_EQ(j["cases"][0]["scores"]["by"]["e"]["1"]["hd"], "inf");
}

}  // namespace
}  // namespace maskeval

namespace maskeval {
namespace {

TEST(Run, SixteenBitLabelMaps) {
  TempDir d;
  std::filesystem::create_directories(d / "data/c");
  const std::vector<uint16_t> a = {0, 300, 65535, 65535}, b = {0, 300, 300, 65535};
  write_png_gray(d / "data/c/a.png", a.data(), 4, 1, 16);
  write_png_gray(d / "data/c/b.png", b.data(), 4, 1, 16);
  RunOptions o = options(d, Command::kFuse);
  // Label 65535 is in use, so "max label + 1" cannot be the undecided label: a clear failure.
  const RunResult r = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_NE(r.failed[0].reason.find("--undecided-label"), std::string::npos);
  o.undecided_label = 7;
  const RunResult ok = run_dataset(dataset_from_case_folders(d / "data", "", ""), o);
  ASSERT_EQ(ok.cases.size(), 1u);
  const CaseResult& c = ok.cases[0];
  ASSERT_EQ(c.labels.size(), 2u);
  EXPECT_EQ(c.labels[0].counts.label, 300);
  EXPECT_EQ(c.labels[1].counts.label, 65535);
  EXPECT_DOUBLE_EQ(c.labels[1].dice[1], 2.0 / 3);
  const RawImage mask = read_image(c.majority->mask);
  ASSERT_EQ(mask.type, PixelType::kU16);  // labels above 255: a 16-bit PNG
  const auto* m = reinterpret_cast<const uint16_t*>(mask.bytes.data());
  EXPECT_EQ(std::vector<uint16_t>(m, m + 4), (std::vector<uint16_t>{0, 300, 7, 65535}));
}

}  // namespace
}  // namespace maskeval
