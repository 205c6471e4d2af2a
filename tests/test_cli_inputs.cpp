// The maskeval executable on hostile and messy datasets: outputs that stay in -o, one run per
// folder, limits stated as usage errors, hints for forgotten options, logs a person can read.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_test_util.h"
#include "maskeval/overlay.h"
#include "maskeval/run.h"
#include "pipeline/output_dir.h"
#include "test_util.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::Json;
using test::kData;
using test::Output;
using test::read_json;
using test::run;

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Two raters of one 2x1 case in DIR/NAME.
void two_raters(const std::string& dir, std::vector<uint8_t> a = {0, 1},
                std::vector<uint8_t> b = {1, 1}) {
  test::write_gray(dir + "/a.png", 2, 1, a);
  test::write_gray(dir + "/b.png", 2, 1, b);
}

TEST(CliInputs, ManifestIdsCannotWriteOutsideTheOutputFolder) {
  test::TempDir d;
  two_raters(d / "data/m");
  test::write_text(d / "data/manifest.csv",
                   "case,rater,path\n"
                   "../../../escaped,a,m/a.png\n../../../escaped,b,m/b.png\n"
                   "/abs/dir,a,m/a.png\n/abs/dir,b,m/b.png\n"
                   "escaped,a,m/a.png\nescaped,b,m/b.png\n");
  const Output o = run("agree -q --manifest " + d / "data/manifest.csv" + " -o " + d / "w/out");
  ASSERT_EQ(o.code, 0) << o.text;
  for (const std::string& f : test::files_under(d.path())) {
    const bool inside = f.rfind(d / "w/out/", 0) == 0 || f.rfind(d / "data/", 0) == 0;
    EXPECT_TRUE(inside) << f;
    EXPECT_FALSE(f.rfind(d / "data/", 0) == 0 && contains(f, "agreement")) << f;
  }
  EXPECT_FALSE(fs::exists("/abs/dir/agreement.png"));
  const Json j = read_json(d / "w/out/report.json");
  std::set<std::string> ids, maps;
  for (const Json& c : j["cases"]) {
    ids.insert(c["id"].get<std::string>());
    maps.insert(c["agreement_map"].get<std::string>());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"../../../escaped", "/abs/dir", "escaped"}));
  EXPECT_EQ(maps.size(), 3u);  // colliding folders told apart
  for (const std::string& m : maps) EXPECT_EQ(m.rfind(d / "w/out/cases/", 0), 0u) << m;
}

TEST(CliInputs, SecondRunOnTheSameFolderExitsTwo) {
  test::TempDir d;
  two_raters(d / "data/c");
  const OutputLock held(d / "out");
  const Output o = run("agree -q --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(o.code, 2);
  EXPECT_TRUE(contains(o.text, "in use by another maskeval run (pid ")) << o.text;
  EXPECT_FALSE(fs::exists(d / "out/report.json"));
}

TEST(CliInputs, RerunReplacesTheEarlierRunsOutputs) {
  test::TempDir d;
  two_raters(d / "data/one");
  two_raters(d / "data/two");
  ASSERT_EQ(run("agree -q --cases " + d / "data" + " -o " + d / "out").code, 0);
  ASSERT_TRUE(fs::exists(d / "out/cases/two/agreement.png"));
  fs::remove_all(d / "data/two");
  ASSERT_EQ(run("agree -q --cases " + d / "data" + " -o " + d / "out").code, 0);
  EXPECT_FALSE(fs::exists(d / "out/cases/two"));
  EXPECT_TRUE(fs::exists(d / "out/cases/one/agreement.png"));
  EXPECT_FALSE(fs::exists(d / "out/.maskeval-previous"));
  EXPECT_EQ(read_json(d / "out/report.json")["cases"].size(), 1u);
}

TEST(CliInputs, UnreadablePathsAreNeverSilent) {
  test::TempDir d;
  two_raters(d / "data/c");
  two_raters(d / "data/ok");
  fs::create_symlink(d / "nowhere.png", d / "data/c/lost.png");  // a broken rater link
  const Output o = run("agree -q --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(o.code, 3) << o.text;
  EXPECT_TRUE(contains(o.text, "case c skipped: " + d / "data/c/lost.png")) << o.text;
  Json j = read_json(d / "out/report.json");
  EXPECT_EQ(j["cases"].size(), 1u);
  ASSERT_EQ(j["failed_cases"].size(), 1u);
  // In a rater folder, a file that cannot be read is a warning, and exit 3.
  two_raters(d / "r1/x");
  fs::create_directories(d / "r2/x");
  test::write_gray(d / "r2/x/a.png", 2, 1, {0, 1});
  test::write_gray(d / "r2/x/b.png", 2, 1, {0, 1});
  fs::create_symlink(d / "nowhere.png", d / "r2/x/lost.png");
  const Output w =
      run("agree -q --rater " + d / "r1" + " --rater " + d / "r2" + " -o " + d / "out");
  EXPECT_EQ(w.code, 3) << w.text;
  EXPECT_TRUE(contains(w.text, "warning: " + d / "r2/x/lost.png")) << w.text;
  j = read_json(d / "out/report.json");
  ASSERT_EQ(j["warnings"].size(), 1u);
  EXPECT_TRUE(contains(j["warnings"][0].get<std::string>(), "lost.png"));
}

TEST(CliInputs, ADatasetFolderNamedCasesIsNeverReplaced) {
  test::TempDir d;
  two_raters(d / "proj/cases/c1");
  for (int attempt = 0; attempt < 2; ++attempt) {
    const Output o = run("agree -q --cases " + d / "proj/cases" + " -o " + d / "proj");
    EXPECT_EQ(o.code, 2) << o.text;
    EXPECT_TRUE(contains(o.text, "was not written by maskeval")) << o.text;
  }
  EXPECT_TRUE(fs::exists(d / "proj/cases/c1/a.png"));
}

TEST(CliInputs, OutputsInsideTheDatasetAreNotReadBack) {
  test::TempDir d;
  two_raters(d / "data/c");
  const std::string args = "fuse -q --cases " + d / "data" + " -o " + d / "data/out";
  ASSERT_EQ(run(args).code, 0);
  const Output again = run(args);
  EXPECT_EQ(again.code, 0) << again.text;
  const Json j = read_json(d / "data/out/report.json");
  ASSERT_EQ(j["cases"].size(), 1u);
  EXPECT_EQ(j["cases"][0]["id"], "c");
  // Scoring the earlier run's own masks in the same folder would replace them while read.
  test::write_text(d / "m.csv",
                   "case,rater,path\nc,a,data/c/a.png\nc,b,data/out/cases/c/majority.png\n");
  const Output mixed = run("agree -q --manifest " + d / "m.csv" + " -o " + d / "data/out");
  EXPECT_EQ(mixed.code, 1) << mixed.text;
  EXPECT_TRUE(fs::exists(d / "data/out/cases/c/majority.png"));
}

TEST(CliInputs, TooManyRatersIsAUsageError) {
  test::TempDir d;
  for (int i = 0; i < kMaxMasksPerCase + 1; ++i)
    test::write_gray(d / ("data/c/r" + std::to_string(i) + ".png"), 1, 1, {1});
  const Output o = run("agree -q --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(o.code, 1) << o.text;
  EXPECT_TRUE(contains(o.text, "at most 254")) << o.text;
}

TEST(CliInputs, ZeroAnd255MasksSuggestForeground) {
  test::TempDir d;
  test::write_gray(d / "data/c/a.png", 4, 1, {0, 255, 255, 255});
  test::write_gray(d / "data/c/b.png", 4, 1, {255, 0, 255, 255});
  const Output o = run("agree -q --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(occurrences(o.text, "--foreground nonzero"), 1u) << o.text;
  EXPECT_TRUE(contains(o.text, "'<128'")) << o.text;  // 255 covers most of the images
  const Output ok =
      run("agree -q --foreground nonzero --cases " + d / "data" + " -o " + d / "out2");
  EXPECT_FALSE(contains(ok.text, "warning")) << ok.text;
  test::write_gray(d / "data/c/b.png", 4, 1, {0, 1, 1, 0});  // not every file is 0/255
  EXPECT_FALSE(contains(run("agree -q --cases " + d / "data" + " -o " + d / "out").text, "255"));
}

TEST(CliInputs, StrictKeepsTheFirstFailureOnly) {
  test::TempDir d;
  for (const char* c : {"bad1", "bad2", "bad3", "bad4"}) {
    test::write_gray(d / (std::string("data/") + c + "/a.png"), 2, 1, {0, 1});
    test::write_text(d / (std::string("data/") + c + "/b.png"), "\x89PNG truncated");
  }
  const Output o = run("agree --strict --threads 2 --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(o.code, 3);
  const Json j = read_json(d / "out/report.json");
  EXPECT_EQ(j["failed_cases"].size(), 1u) << o.text;
  EXPECT_EQ(j["summary"]["aborted"], true);
}

TEST(CliInputs, FailuresArePrintedOnce) {
  test::TempDir d;
  two_raters(d / "data/ok");
  test::write_gray(d / "data/bad/a.png", 2, 1, {0, 1});
  test::write_text(d / "data/bad/b.png", "\x89PNG truncated");
  const std::string reason = d / "data/bad/b.png";
  const Output loud = run("agree --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(loud.code, 3);
  EXPECT_EQ(occurrences(loud.text, reason), 1u) << loud.text;
  const Output quiet = run("agree -q --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(occurrences(quiet.text, reason), 1u) << quiet.text;
}

TEST(CliInputs, QuietIsQuietAndLogsGetProgressLines) {
  test::TempDir d;
  two_raters(d / "data/c");
  const Output quiet = run("agree -q --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(quiet.code, 0);
  EXPECT_EQ(quiet.text, "") << quiet.text;
  // stderr is a pipe here, as in a nightly log: plain lines, no bar.
  const Output log = run("agree --cases " + d / "data" + " -o " + d / "out");
  EXPECT_TRUE(contains(log.text, "maskeval: 1/1 cases done, 0 failed")) << log.text;
  EXPECT_FALSE(contains(log.text, "\r")) << log.text;
}

TEST(CliInputs, MistypedCommandsAndOptionsGetSuggestions) {
  const Output command = run("evaluate --cases x");
  EXPECT_EQ(command.code, 1);
  EXPECT_TRUE(contains(command.text, "'evaluate' is not a command (agree, fuse, score, diff)"))
      << command.text;
  EXPECT_TRUE(contains(run("agre --cases x").text, "did you mean 'agree'?"));
  const Output option = run("agree --cases " + kData + "/lidc --foregroud nonzero");
  EXPECT_EQ(option.code, 1);
  EXPECT_TRUE(contains(option.text, "unknown option '--foregroud'; did you mean '--foreground'?"))
      << option.text;
  // score writes no maps, so it has no --no-maps to ignore.
  const Output maps = run("score --cases " + kData + "/bu-bil --no-maps");
  EXPECT_EQ(maps.code, 1);
  EXPECT_TRUE(contains(maps.text, "unknown option '--no-maps'")) << maps.text;
}

TEST(CliInputs, LabelMasksArePalettePngs) {
  test::TempDir d;
  two_raters(d / "data/c", {0, 2}, {1, 2});
  ASSERT_EQ(run("fuse -q --tie lowest --cases " + d / "data" + " -o " + d / "out").code, 0);
  const std::string mask = d / "out/cases/c/majority.png";
  std::ifstream in(mask, std::ios::binary);
  std::vector<char> head(26);
  in.read(head.data(), 26);
  EXPECT_EQ(head[24], 8);                                           // bit depth
  EXPECT_EQ(head[25], 3);                                           // colour type: palette
  EXPECT_EQ(read_image(mask).bytes, (Bytes{0, 2}));  // the labels, unchanged
}

TEST(CliInputs, OverlayOnVolumesShowsASlice) {
  if (!overlay_supported()) GTEST_SKIP() << "built without OpenCV";
  test::TempDir d;
  const Output o =
      run("agree -q --overlay --manifest " + kData + "/kits23/manifest.csv -o " + d / "out");
  EXPECT_EQ(o.code, 0) << o.text;
  EXPECT_FALSE(contains(o.text, "got no overlay")) << o.text;
  const Json j = read_json(d / "out/report.json");
  ASSERT_EQ(j["cases"].size(), 1u);
  const RawImage picture = read_image(j["cases"][0]["overlay"]);
  EXPECT_EQ(picture.channels, 3);
  EXPECT_EQ(picture.geom.ndim, 2);
  // The kidneys' rims, where the annotators differ, are drawn in heat colours (red > blue).
  int64_t heat = 0;
  for (int64_t i = 0; i < picture.voxels(); ++i)
    heat += picture.bytes[3 * i] > 200 && picture.bytes[3 * i + 2] < 60;
  EXPECT_GT(heat, 20);
}

TEST(CliInputs, PredictionFoldersAreScoredAgainstAReferenceFolder) {
  test::TempDir d;
  test::write_gray(d / "ref/c1.png", 2, 2, {0, 1, 1, 0});
  test::write_gray(d / "ref/sub/c2.png", 2, 2, {1, 1, 0, 0});
  test::write_gray(d / "pred/c1.png", 2, 2, {0, 1, 1, 0});      // exact
  test::write_gray(d / "pred/sub/c2.png", 2, 2, {1, 0, 0, 0});  // Dice 2/3
  test::write_gray(d / "other/c1.png", 2, 2, {0, 0, 0, 0});
  test::write_gray(d / "other/sub/c2.png", 2, 2, {1, 1, 0, 0});
  const std::string args = " --reference " + d / "ref" + " -o " + d / "out";
  Output o = run("score -q --prediction " + d / "pred" + args);
  ASSERT_EQ(o.code, 0) << o.text;
  Json j = read_json(d / "out/report.json");
  ASSERT_EQ(j["cases"].size(), 2u);
  EXPECT_EQ(j["cases"][0]["id"], "c1");
  EXPECT_EQ(j["cases"][1]["id"], "sub/c2");
  EXPECT_EQ(j["cases"][0]["predictions"], Json::array({"pred"}));
  EXPECT_EQ(j["cases"][0]["scores"]["by"]["pred"]["1"]["dice"], 1.0);
  EXPECT_NEAR(j["cases"][1]["scores"]["by"]["pred"]["1"]["dice"].get<double>(), 2.0 / 3, 1e-12);

  // Several models, named, and a file ending.
  o = run("score -q --file-ending .png --prediction unet=" + d / "pred" +
          " --prediction empty=" + d / "other" + args);
  ASSERT_EQ(o.code, 0) << o.text;
  j = read_json(d / "out/report.json");
  ASSERT_EQ(j["summary"]["leaderboard"].size(), 2u);
  EXPECT_EQ(j["summary"]["leaderboard"][0]["name"], "unet");
  EXPECT_EQ(j["cases"][1]["scores"]["by"]["empty"]["1"]["dice"], 1.0);

  // A reference without its prediction, and a prediction without its reference: each case
  // fails naming the file it lacks, the others are scored, and the exit code is 3.
  test::write_gray(d / "ref/c3.png", 2, 2, {0, 1, 1, 0});
  test::write_gray(d / "pred/c4.png", 2, 2, {0, 1, 1, 0});
  o = run("score -q --prediction " + d / "pred" + args);
  EXPECT_EQ(o.code, 3) << o.text;
  EXPECT_TRUE(contains(o.text, "case c3 skipped: " + d / "pred/c3.*" +
                                   ": prediction 'pred' file "
                                   "missing: " +
                                   d / "pred" + " has no file of this case's name"))
      << o.text;
  EXPECT_TRUE(contains(o.text, "case c4 skipped: " + d / "ref/c4.*" + ": reference file missing"))
      << o.text;
  j = read_json(d / "out/report.json");
  EXPECT_EQ(j["cases"].size(), 2u);
  EXPECT_EQ(j["failed_cases"].size(), 2u);
}

TEST(CliInputs, PredictionFolderUsageErrorsGiveHints) {
  test::TempDir d;
  test::write_gray(d / "ref/c1.png", 2, 1, {0, 1});
  test::write_gray(d / "pred/c1.png", 2, 1, {0, 1});
  two_raters(d / "data/c");
  test::write_gray(d / "data/c/model/p.png", 2, 1, {1, 1});
  const std::string pred = " --prediction " + d / "pred";
  const std::string ref = " --reference " + d / "ref";
  const std::string out = " -o " + d / "out";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {pred + out, "--prediction DIR needs --reference DIR"},
      {pred + ref + " --against majority" + out, "--against majority needs raters"},
      {pred + ref + " --file-ending .nii.gz" + out, "no files ending in '.nii.gz'"},
      {pred + ref + " --file-ending nii" + out, "--file-ending 'nii': no mask file type"},
      {pred + " --rater " + d / "ref" + " --rater " + d / "pred" + out, "not with --rater"},
      {" --cases " + d / "data" + " --prediction 'model/*.png' --prediction x" + out,
       "with --cases, give one --prediction GLOB"},
      {" --cases " + d / "data" + " --file-ending .png" + out, "--file-ending applies to"},
      {" --cases " + d / "data" + " --rater " + d / "ref" + out, "give one dataset"},
  };
  for (const auto& [args, hint] : bad) {
    const Output o = run("score -q" + args);
    EXPECT_EQ(o.code, 1) << args << "\n" << o.text;
    EXPECT_TRUE(contains(o.text, hint)) << args << "\n" << o.text;
    EXPECT_TRUE(contains(o.text, "maskeval score --help")) << o.text;
  }
  // --prediction GLOB with --cases is as before.
  const Output o = run("score -q --cases " + d / "data" + " --prediction 'model/*.png' --raters " +
                       "'*.png' --reference a.png" + out);
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_EQ(read_json(d / "out/report.json")["cases"][0]["predictions"], Json::array({"model/p"}));
}

// data/camvid: the synthetic prediction against the reference maps, Sky (0) scored, void (11)
// ignored; shifted large classes keep a high Dice, eroded thin ones lose most of it.
TEST(CliInputs, CamVidPredictionFolderAgainstItsReferences) {
  test::TempDir d;
  const Output o = run("score -q --prediction " + kData + "/camvid/prediction --reference " +
                       kData + "/camvid/reference --labels " + kData +
                       "/camvid/labels.csv --ignore-label 11 --include-background -o " + d / "out");
  ASSERT_EQ(o.code, 0) << o.text;
  const Json j = read_json(d / "out/report.json");
  ASSERT_EQ(j["cases"].size(), 6u);
  for (const Json& c : j["cases"]) {
    EXPECT_TRUE(c["scores"]["by"]["prediction"].contains("0")) << c["id"];
    EXPECT_FALSE(c["scores"]["by"]["prediction"].contains("11")) << c["id"];
  }
  const Json& labels = j["summary"]["leaderboard"][0]["labels"];
  for (const char* large : {"0", "1", "3"}) EXPECT_GT(labels[large]["mean_dice"], 0.9) << large;
  EXPECT_LT(labels["2"]["mean_dice"], 0.5);  // Pole
}

}  // namespace
}  // namespace maskeval
