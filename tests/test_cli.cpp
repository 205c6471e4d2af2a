// The maskeval executable end to end on the sample data in data/: exit codes, messages, and the
// JSON report's figures against values computed here, independently, from the mask files.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "maskeval/device.h"
#include "maskeval/labels.h"
#include "maskeval/overlay.h"
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

// Foreground of a sample mask by the rule, decoded here rather than through the pipeline.
std::vector<uint8_t> mask_of(const std::string& path, const std::string& rule) {
  const LabelImage img = to_labels(read_image(path), ForegroundRule::parse(rule));
  std::vector<uint8_t> m(img.geom.voxels());
  for (size_t i = 0; i < m.size(); ++i) m[i] = img.at(static_cast<int64_t>(i)) != 0;
  return m;
}

double brute_dice(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  uint64_t both = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    both += a[i] & b[i];
    na += a[i];
    nb += b[i];
  }
  return na + nb == 0 ? NAN : 2.0 * both / (na + nb);
}

TEST(Cli, HelpAndUsageErrors) {
  const Output help = run("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.text, "agree"));
  EXPECT_TRUE(contains(help.text, "Exit codes"));
  const Output fuse_help = run("fuse --help");
  EXPECT_EQ(fuse_help.code, 0);
  EXPECT_TRUE(contains(fuse_help.text, "--tie"));
  EXPECT_TRUE(contains(fuse_help.text, "--foreground"));

  EXPECT_EQ(run("").code, 1);
  const Output unknown = run("agree --cases " + kData + "/bu-bil --frobnicate");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(contains(unknown.text, "--help"));
  EXPECT_EQ(run("agree").code, 1);  // no dataset
  EXPECT_EQ(run("agree --cases " + kData + "/bu-bil --manifest x.csv").code, 1);
  const Output rule = run("agree --cases " + kData + "/bu-bil --foreground 'dark'");
  EXPECT_EQ(rule.code, 1);
  EXPECT_TRUE(contains(rule.text, "bad --foreground 'dark'"));
  EXPECT_EQ(run("agree --cases /nonexistent/folder").code, 1);
  EXPECT_EQ(run("fuse --cases " + kData + "/bu-bil --tie coin").code, 1);
  const Output spacing =
      run("score --manifest " + kData + "/kits23/manifest.csv --spacing 0,1,1 -q");
  EXPECT_EQ(spacing.code, 1);
  EXPECT_TRUE(contains(spacing.text, "every value must be positive")) << spacing.text;
  EXPECT_TRUE(contains(spacing.text, "maskeval score --help")) << spacing.text;
}

TEST(Cli, FuseBuBilSample) {
  test::TempDir out;
  const Output o = run(
      "fuse --cases " + kData +
      "/bu-bil --raters 'experts/*.png' --reference gold.png --foreground '<128' -o " + out / "r");
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_TRUE(contains(o.text, "mean Dice"));  // the summary table
  const Json j = read_json(out / "r/report.json");
  const DeviceStatus device = cuda_device_status();
  EXPECT_EQ(j["backend"], device.built && device.devices > 0 ? "cuda" : "cpu");
  EXPECT_EQ(j["options"]["empty"], "1");
  EXPECT_TRUE(j["failed_cases"].empty());
  ASSERT_EQ(j["cases"].size(), 8u);
  for (const Json& c : j["cases"]) {
    const std::string dir = kData + "/bu-bil/" + c["id"].get<std::string>();
    ASSERT_EQ(c["raters"], Json({"experts/Expert1", "experts/Expert2", "experts/Expert3"}));
    EXPECT_EQ(c["shape"], Json({1300, 1030}));
    std::vector<std::vector<uint8_t>> m;
    for (int r = 1; r <= 3; ++r)
      m.push_back(mask_of(dir + "/experts/Expert" + std::to_string(r) + ".png", "<128"));
    const Json& l = c["labels"]["1"];
    for (int a = 0; a < 3; ++a) {
      uint64_t volume = 0;
      for (uint8_t v : m[a]) volume += v;
      EXPECT_EQ(l["volume"][a].get<uint64_t>(), volume);
      for (int b = 0; b < 3; ++b)
        EXPECT_DOUBLE_EQ(l["dice"][a][b].get<double>(), brute_dice(m[a], m[b]));
    }
    EXPECT_EQ(c["majority"]["tie"], "undecided");
    EXPECT_EQ(c["majority"]["undecided_label"], 2);
    EXPECT_EQ(c["majority"]["vs_reference"]["mismatched_voxels"], 0);
    // The written mask is the reference, pixel for pixel.
    const std::vector<uint8_t> written = mask_of(c["majority"]["mask"], "labels");
    EXPECT_EQ(written, mask_of(dir + "/gold.png", "<128"));
    EXPECT_TRUE(fs::exists(c["agreement_map"].get<std::string>()));
  }
  EXPECT_EQ(j["summary"]["labels"]["1"]["pairs"], 24);
  EXPECT_EQ(j["summary"]["adjudicate"].size(), 8u);
}

TEST(Cli, AgreeLidcSampleWithEmptyMasks) {
  test::TempDir out;
  const Output o =
      run("agree --cases " + kData +
          "/lidc --raters 'reader*.png' --foreground nonzero --empty nan -q -o " + out / "r");
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_TRUE(o.text.empty()) << o.text;  // --quiet
  const Json j = read_json(out / "r/report.json");
  EXPECT_EQ(j["options"]["empty"], "nan");
  ASSERT_EQ(j["cases"].size(), 5u);
  int null_pairs = 0;
  for (const Json& c : j["cases"]) {
    EXPECT_EQ(c["id"].get<std::string>().rfind("LIDC-IDRI-0004/slice", 0), 0u);
    const Json& l = c["labels"]["1"];
    for (int a = 0; a < 4; ++a) {
      for (int b = 0; b < 4; ++b) {
        const bool both_empty = l["volume"][a] == 0 && l["volume"][b] == 0;
        EXPECT_EQ(l["dice"][a][b].is_null(), both_empty);
        null_pairs += both_empty && a < b;
      }
    }
  }
  EXPECT_GT(null_pairs, 0);  // the sample has slices that some readers left empty
}

TEST(Cli, OverlayOnTheSourceImage) {
  test::TempDir out;
  const std::string args =
      "agree --cases " + kData +
      "/lidc --raters 'reader*.png' --foreground nonzero -q --overlay-image image.png -o " +
      out / "r";
  const Output o = run(args);
  if (!overlay_supported()) {
    EXPECT_EQ(o.code, 1);
    EXPECT_TRUE(contains(o.text, "needs OpenCV")) << o.text;
    return;
  }
  ASSERT_EQ(o.code, 0) << o.text;
  const Json j = read_json(out / "r/report.json");
  for (const Json& c : j["cases"]) {
    const RawImage picture = read_image(c["overlay"]);
    EXPECT_EQ(picture.channels, 3);
    EXPECT_EQ(picture.geom.shape[0], 512);
    // Where the readers agree: the image in grey, or (a nodule they all mark) tinted blue;
    // where they do not: a heat colour, red above blue.
    const RawImage agreement = read_image(c["agreement_map"]);
    int heat = 0, disagree = 0;
    for (int64_t i = 0; i < agreement.voxels(); ++i) {
      const uint8_t* p = &picture.bytes[3 * i];
      const bool grey = p[0] == p[1] && p[1] == p[2];
      if (agreement.bytes[i] == 255) {
        ASSERT_TRUE(grey || p[2] > p[0]) << c["id"] << " voxel " << i;
      } else {
        ++disagree;
        heat += p[0] > p[2];
      }
    }
    EXPECT_EQ(heat, disagree) << c["id"];
  }
}

TEST(Cli, FuseKitsManifest) {
  test::TempDir out;
  const std::string manifest = kData + "/kits23/manifest.csv";
  const Output overlap = run("fuse --manifest " + manifest + " -q --no-maps -o " + out / "a");
  EXPECT_EQ(overlap.code, 3);
  EXPECT_TRUE(contains(overlap.text, "overlap")) << overlap.text;
  const Json failed = read_json(out / "a/report.json");
  ASSERT_EQ(failed["failed_cases"].size(), 1u);
  EXPECT_TRUE(contains(failed["failed_cases"][0]["reason"], "--paint-order"));

  const Output o = run("fuse --manifest " + manifest + " --paint-order 1,3,2 -q -o " + out / "b");
  ASSERT_EQ(o.code, 0) << o.text;
  const Json j = read_json(out / "b/report.json");
  const Json& c = j["cases"][0];
  EXPECT_EQ(c["raters"], Json({"annotation-1", "annotation-2", "annotation-3"}));
  EXPECT_EQ(c["spacing_unit"], "");  // KiTS23 leaves the NIfTI units field unset
  EXPECT_EQ(c["spacing"][0], 5.0);
  EXPECT_EQ(c["majority"]["vs_reference"]["mismatched_voxels"], 0);
  EXPECT_GT(c["labels"]["1"]["dice"][0][1].get<double>(), 0.9);
  EXPECT_TRUE(fs::exists(c["labels"]["2"]["agreement_map"].get<std::string>()));
  EXPECT_EQ(read_image(c["majority"]["mask"]).geom.format, "nifti");
}

// --compression-level: smaller files at 9 than at the default 1, with the same content, the
// same report; a level out of 1..9 is a usage error.
TEST(Cli, CompressionLevelChangesSizesNotContent) {
  test::TempDir out;
  const std::string args = "fuse --cases " + kData + "/bu-bil --raters 'experts/*.png' " +
                           "--foreground '<128' -q --threads 1 -o ";
  ASSERT_EQ(run(args + out / "fast").code, 0);
  ASSERT_EQ(run(args + out / "small --compression-level 9").code, 0);
  const Json fast = read_json(out / "fast/report.json"),
             small = read_json(out / "small/report.json");
  EXPECT_EQ(fast["summary"], small["summary"]);
  EXPECT_EQ(fast["cases"].size(), small["cases"].size());
  uintmax_t fast_bytes = 0, small_bytes = 0;
  for (size_t i = 0; i < fast["cases"].size(); ++i)
    for (const char* key : {"agreement_map", "entropy_map"}) {
      const std::string a = fast["cases"][i][key], b = small["cases"][i][key];
      EXPECT_EQ(read_image(a).bytes, read_image(b).bytes) << a;
      fast_bytes += fs::file_size(a);
      small_bytes += fs::file_size(b);
    }
  EXPECT_LT(small_bytes, fast_bytes);
  const Output bad = run(args + out / "bad --compression-level 0");
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.text, "--compression-level")) << bad.text;
}

// --timings: each stage's wall time in the report and on stderr; absent without it.
TEST(Cli, TimingsPerStage) {
  test::TempDir out;
  const std::string args = "score --manifest " + kData + "/kits23/manifest.csv -q -o ";
  const Output o = run(args + out / "t" + " --timings");
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_TRUE(contains(o.text, "timings (s, summed over cases): decode ")) << o.text;
  const Json t = read_json(out / "t/report.json")["timings"];
  double sum = 0;
  for (const char* stage : {"decode_s", "count_s", "derive_s", "distances_s", "write_s"}) {
    ASSERT_TRUE(t.contains(stage)) << stage;
    EXPECT_GE(t[stage].get<double>(), 0.0) << stage;
    sum += t[stage].get<double>();
  }
  EXPECT_TRUE(t.contains("report_s"));
  EXPECT_GT(t["decode_s"].get<double>(), 0.0);     // three NIfTI volumes and a label map
  EXPECT_GT(t["distances_s"].get<double>(), 0.0);  // score measures boundaries by default
  EXPECT_LT(sum, 600.0);
  ASSERT_EQ(run(args + out / "n").code, 0);
  EXPECT_FALSE(read_json(out / "n/report.json").contains("timings"));
}

TEST(Cli, FuseStapleAndScore) {
  test::TempDir out;
  const std::string bubil = "--cases " + kData +
                            "/bu-bil --raters 'experts/*.png' --reference gold.png "
                            "--foreground '<128' -q";
  const Output st = run("fuse --method staple --no-maps " + bubil + " -o " + out / "st");
  ASSERT_EQ(st.code, 0) << st.text;
  const Json j = read_json(out / "st/report.json");
  EXPECT_EQ(j["options"]["method"], "staple");
  EXPECT_EQ(j["options"]["threshold"], 0.5);
  for (const Json& c : j["cases"]) {
    const Json& s = c["staple"]["1"];
    ASSERT_EQ(s["sensitivity"].size(), 3u);
    EXPECT_GT(s["prior"].get<double>(), 0.0);
    EXPECT_TRUE(s["converged"].get<bool>());
    EXPECT_GE(s["dice_vs_reference"].get<double>(), 0.99);
    EXPECT_EQ(read_image(s["posterior"]).type, PixelType::kU16);
    EXPECT_EQ(s["measured_vs_reference"]["sensitivity"].size(), 3u);
  }
  EXPECT_TRUE(j["summary"]["staple_raters"]["1"].contains("experts/Expert1"));

  const Output sc = run("score " + bubil + " -o " + out / "sc");
  ASSERT_EQ(sc.code, 0) << sc.text;
  const Json k = read_json(out / "sc/report.json");
  EXPECT_EQ(k["command"], "score");
  const Json& first = k["cases"][0];
  EXPECT_EQ(first["scores"]["against"], "reference");
  const Json& e1 = first["scores"]["by"]["experts/Expert1"]["1"];
  // Against gold.png, decoded here.
  const std::string dir = kData + "/bu-bil/" + first["id"].get<std::string>();
  const auto gold = mask_of(dir + "/gold.png", "<128");
  const auto mine = mask_of(dir + "/experts/Expert1.png", "<128");
  EXPECT_DOUBLE_EQ(e1["dice"].get<double>(), brute_dice(mine, gold));
  uint64_t tp = 0;
  for (size_t i = 0; i < gold.size(); ++i) tp += mine[i] & gold[i];
  EXPECT_EQ(e1["tp"].get<uint64_t>(), tp);
  ASSERT_EQ(k["summary"]["leaderboard"].size(), 3u);
  EXPECT_GE(k["summary"]["leaderboard"][0]["mean_dice"].get<double>(),
            k["summary"]["leaderboard"][2]["mean_dice"].get<double>());

  const Output ml = run("fuse --method mlstaple --manifest " + kData +
                        "/kits23/manifest.csv -q -o " + out / "ml");
  EXPECT_EQ(ml.code, 1);
  EXPECT_TRUE(contains(ml.text, "needs label maps")) << ml.text;
}

TEST(Cli, SummaryNamesThePercentile) {
  test::TempDir out;
  const Output o =
      run("score --percentile 99.5 --manifest " + kData + "/kits23/manifest.csv -o " + out / "r");
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_TRUE(contains(o.text, "HD99.5")) << o.text;
  EXPECT_TRUE(contains(o.text, "1 case, 0 failed")) << o.text;
}

TEST(Cli, AgreeWithDeepmindDistances) {
  test::TempDir out;
  const Output o =
      run("agree --distances --distance-convention deepmind --cases " + kData +
          "/lidc --raters 'reader*.png' --foreground nonzero --no-maps -q -o " + out / "r");
  ASSERT_EQ(o.code, 0) << o.text;
  const Json j = read_json(out / "r/report.json");
  EXPECT_EQ(j["options"]["distance_convention"], "deepmind");
  int finite = 0;
  for (const Json& c : j["cases"]) {
    const Json& l = c["labels"]["1"];
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) {
        if (a == b || !l["hd"][a][b].is_number()) continue;
        const double hd = l["hd"][a][b], p = l["hd_percentile"][a][b], assd = l["assd"][a][b];
        EXPECT_LE(p, hd);
        EXPECT_LE(assd, hd);
        EXPECT_GE(l["nsd"][a][b].get<double>(), 0.0);
        EXPECT_LE(l["nsd"][a][b].get<double>(), 1.0);
        ++finite;
      }
  }
  EXPECT_GT(finite, 0);
}

TEST(Cli, AgreeWithDistances) {
  test::TempDir out;
  const Output o =
      run("agree --distances --distance-convention itk --nsd-tolerance 1,1:2.5 "
          "--cases " +
          kData +
          "/lidc --raters 'reader*.png' --foreground nonzero "
          "--no-maps -q -o " +
          out / "r");
  ASSERT_EQ(o.code, 0) << o.text;
  const Json j = read_json(out / "r/report.json");
  EXPECT_EQ(j["options"]["distance_convention"], "itk");
  EXPECT_EQ(j["options"]["nsd_tolerance_by_label"]["1"], 2.5);
  int inf = 0, finite = 0;
  for (const Json& c : j["cases"]) {
    const Json& l = c["labels"]["1"];
    EXPECT_EQ(l["nsd_tolerance"], 2.5);
    EXPECT_EQ(l["percentile"], 95.0);
    for (int a = 0; a < 4; ++a) {
      for (int b = 0; b < 4; ++b) {
        const bool va = l["volume"][a] > 0, vb = l["volume"][b] > 0;
        const Json& hd = l["hd"][a][b];
        if (a == b) {
          EXPECT_EQ(hd, 0.0);
        } else if (va != vb) {
          EXPECT_EQ(hd, "inf");  // one reader marked nothing
          ++inf;
        } else if (va && vb) {
          EXPECT_GE(hd.get<double>(), 0.0);
          EXPECT_EQ(hd, l["hd"][b][a]);
          EXPECT_EQ(
              std::max(l["hd_directed"][a][b].get<double>(), l["hd_directed"][b][a].get<double>()),
              hd.get<double>());
          ++finite;
        }
      }
    }
  }
  EXPECT_GT(inf, 0);
  EXPECT_GT(finite, 0);
  EXPECT_EQ(run("agree --distances --spacing 1 --cases " + kData + "/lidc").code, 1);
  EXPECT_EQ(run("agree --distances --nsd-tolerance x --cases " + kData + "/lidc").code, 1);
}

TEST(Cli, BadCasesGiveExitCodeThree) {
  test::TempDir d;
  test::write_gray(d / "data/ok/a.png", 2, 1, {0, 1});
  test::write_gray(d / "data/ok/b.png", 2, 1, {1, 1});
  test::write_gray(d / "data/bad/a.png", 2, 1, {0, 1});
  test::write_text(d / "data/bad/b.png", "\x89PNG truncated");
  const Output o = run("agree -q --cases " + d / "data" + " -o " + d / "out");
  EXPECT_EQ(o.code, 3);
  EXPECT_TRUE(contains(o.text, "case bad skipped: " + d / "data/bad/b.png")) << o.text;
  const Json j = read_json(d / "out/report.json");
  ASSERT_EQ(j["failed_cases"].size(), 1u);
  EXPECT_EQ(j["failed_cases"][0]["id"], "bad");
  EXPECT_EQ(j["failed_cases"][0]["file"], d / "data/bad/b.png");
  ASSERT_EQ(j["cases"].size(), 1u);
  EXPECT_EQ(j["cases"][0]["labels"]["1"]["dice"][0][1], 2.0 / 3);

  const Output strict = run("agree --strict -q --cases " + d / "data" + " -o " + d / "out2");
  EXPECT_EQ(strict.code, 3);
  EXPECT_EQ(read_json(d / "out2/report.json")["summary"]["aborted"], true);
}

TEST(Cli, FatalErrorsGiveExitCodeTwo) {
  test::TempDir d;
  test::write_gray(d / "data/c/a.png", 1, 1, {1});
  test::write_gray(d / "data/c/b.png", 1, 1, {1});
  const DeviceStatus device = cuda_device_status();
  if (!device.built || device.devices == 0) {
    const Output cuda = run("agree --backend cuda --cases " + d / "data" + " -o " + d / "out");
    EXPECT_EQ(cuda.code, 2);
    EXPECT_TRUE(contains(cuda.text, "--backend cuda")) << cuda.text;
  }
  const Output unwritable = run("agree -q --cases " + d / "data" + " -o " + d / "out" +
                                " --json /proc/maskeval/report.json");
  EXPECT_EQ(unwritable.code, 2);
  EXPECT_TRUE(contains(unwritable.text, "cannot write the report")) << unwritable.text;
}

}  // namespace
}  // namespace maskeval
