// --baseline: the two-sample KS statistic, and tonight against last night through the CLI.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "maskeval/baseline.h"
#include "report/report_cases.h"
#include "test_util.h"
#include "util/csv.h"
#include "util/sha256.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using namespace test;

// The cases of a baseline report are found by following strings and nesting: braces, brackets
// and escaped quotes inside strings, and "cases" keys deeper down, do not confuse it.
TEST(ReportCases, FindsTheTopLevelCasesThroughStringsAndNesting) {
  TempDir dir;
  const std::string path = dir / "report.json";
  const std::string text =
      "{\"summary\": {\"cases\": 2, \"note\": \"{[\\\"cases\\\": [\"},\n"
      " \"cases\": [{\"id\": \"b\\\"}{\", \"v\": [1, {\"a\": \"]\"}]},\n  {\"id\": \"a\"}],\n"
      " \"tail\": {\"cases\": [{\"id\": \"no\"}]}}";
  write_text(path, text);
  std::string sha;
  ReportCases cases(path);
  cases.index(sha);
  EXPECT_EQ(sha, sha256_hex(text.data(), text.size()));
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases.find("a"), std::optional<size_t>(1));
  EXPECT_EQ(cases.without_cases().dump(),
            "{\"summary\":{\"cases\":2,\"note\":\"{[\\\"cases\\\": "
            "[\"},\"tail\":{\"cases\":[{\"id\":\"no\"}]}}");
  EXPECT_EQ(cases.find("b\"}{"), std::optional<size_t>(0));
  EXPECT_FALSE(cases.find("no").has_value());
  EXPECT_FALSE(cases.find("").has_value());
  for (const std::string bad : {"{\"cases\": [1, 2]}", "{\"cases\": 3}", "{\"cases\": [\"x\"]}",
                                "{\"cases\": [{\"name\": \"no id\"}]}", "[]"}) {
    write_text(path, bad);
    EXPECT_THROW(ReportCases(path).index(sha), std::invalid_argument) << bad;
  }
  // A case given twice: the last one counts.
  write_text(path, "{\"cases\": [{\"id\": \"x\"}, {\"id\": \"y\"}, {\"id\": \"x\"}]}");
  ReportCases twice(path);
  twice.index(sha);
  EXPECT_EQ(twice.find("x"), std::optional<size_t>(2));
  EXPECT_EQ(twice.find("y"), std::optional<size_t>(1));
  // Held open: the cases are still read once the file is moved away and another put there.
  fs::rename(path, dir / "moved.json");
  write_text(path, "{}");
  EXPECT_EQ(twice.without_cases().dump(), "{}");
}

TEST(KolmogorovSmirnov, ExactForSmallSamples) {
  // Disjoint samples of 3: D = 1, and 2 of the C(6,3) = 20 merge orders reach it.
  auto [d, p] = ks_two_sample({1, 2, 3}, {4, 5, 6});
  EXPECT_DOUBLE_EQ(d, 1.0);
  EXPECT_NEAR(p, 0.1, 1e-12);
  // The first value already makes |F_a - F_b| = 1/2, so D >= 1/2 always: p = 1.
  std::tie(d, p) = ks_two_sample({1, 3}, {2, 4});
  EXPECT_DOUBLE_EQ(d, 0.5);
  EXPECT_NEAR(p, 1.0, 1e-12);
  // Identical samples (ties step together): D = 0.
  std::tie(d, p) = ks_two_sample({5, 5, 7}, {5, 5, 7});
  EXPECT_DOUBLE_EQ(d, 0.0);
  EXPECT_DOUBLE_EQ(p, 1.0);
  EXPECT_TRUE(std::isnan(ks_two_sample({}, {1}).first));
}

TEST(KolmogorovSmirnov, AsymptoticForLargeSamples) {
  std::vector<double> a, b;
  for (int i = 0; i < 200; ++i) {
    a.push_back(i);
    b.push_back(i + 100);
  }
  const auto [d, p] = ks_two_sample(a, b);
  EXPECT_DOUBLE_EQ(d, 0.5);
  EXPECT_LT(p, 1e-10);
  const auto same = ks_two_sample(a, a);
  EXPECT_DOUBLE_EQ(same.second, 1.0);
}

std::string camvid(const std::string& prediction, const std::string& out) {
  return "score --prediction model=" + prediction + " --reference " + kData +
         "/camvid/reference --labels " + kData + "/camvid/labels.csv --ignore-label 11 -q -o " +
         out;
}

// The nightly habit: the output folder's own last report as the baseline (set aside when the
// run starts, before the comparison reads its cases).
TEST(Baseline, TheOutputFoldersOwnLastReport) {
  TempDir dir;
  const std::string out = (dir.path() / "nightly").string();
  ASSERT_EQ(run(camvid(kData + "/camvid/prediction", out)).code, 0);
  for (const std::string resume : {"", " --resume"}) {
    Output o = run(camvid(kData + "/camvid/prediction", out) + " --baseline " + out +
                   "/report.json" + resume);
    ASSERT_EQ(o.code, 0) << o.text;
    const Json j = read_json(out + "/report.json");
    EXPECT_EQ(j["baseline"]["cases_added"].size(), 0u) << resume;
    EXPECT_EQ(j["baseline"]["cases_removed"].size(), 0u) << resume;
    EXPECT_GT(j["baseline"]["cases_before"].get<size_t>(), 0u) << resume;
  }
}

TEST(Baseline, SameDataNoChangeAlteredCaseFlagged) {
  TempDir dir;
  const std::string base = (dir.path() / "n1").string();
  ASSERT_EQ(run(camvid(kData + "/camvid/prediction", base)).code, 0);
  const std::string again = (dir.path() / "n2").string();
  Output o = run(camvid(kData + "/camvid/prediction", again) + " --baseline " + base +
                 "/report.json --fail-if 'rater=*: delta(mean_dice) != 0'");
  EXPECT_EQ(o.code, 0) << o.text;
  const Json j = read_json(again + "/report.json");
  EXPECT_EQ(j["baseline"]["cases_added"].size(), 0u);
  for (const Json& c : j["baseline"]["changes"]) {
    if (!c["delta"].is_null()) {
      EXPECT_EQ(c["delta"].get<double>(), 0.0) << c.dump();
    }
  }
  // One prediction replaced by another case's: that case moves most, the gate fails.
  const fs::path pred = dir.path() / "pred";
  fs::copy(kData + "/camvid/prediction", pred);
  fs::copy_file(pred / "0001TP_008550.png", pred / "0001TP_009750.png",
                fs::copy_options::overwrite_existing);
  const std::string bad = (dir.path() / "n3").string();
  o = run(camvid(pred.string(), bad) + " --baseline " + base +
          "/report.json --fail-if 'any case: delta(mean_dice) < -0.05'");
  EXPECT_EQ(o.code, 4) << o.text;
  const Json k = read_json(bad + "/report.json");
  EXPECT_EQ(k["baseline"]["moved"][0]["id"], "0001TP_009750");
  EXPECT_LT(k["baseline"]["moved"][0]["delta"].get<double>(), -0.05);
  EXPECT_EQ(k["gates"][0]["failing"][0], "0001TP_009750");
  EXPECT_TRUE(fs::exists(bad + "/baseline.csv"));
  // The drift of reference volumes: the same references, so D = 0 for every label.
  for (const auto& [key, d] : k["baseline"]["drift"].items()) EXPECT_EQ(d["ks_d"], 0.0) << key;
}

// Rater folders a/ and b/ of `n` 4x4 cases, b's case i with (i * step) % 11 of its 16 pixels
// flipped from a's (so many cases tie), case `skip` left out.
void two_raters(const fs::path& dir, int n, int step, int skip) {
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  for (int i = 0; i < n; ++i) {
    if (i == skip) continue;
    std::vector<uint8_t> a(16, 0), b(16, 0);
    for (int k = 0; k < 8; ++k) a[k] = b[k] = 1;
    for (int k = 0; k < (i * step) % 11; ++k) b[k] = b[k] ? 0 : 1;
    char id[16];
    std::snprintf(id, sizeof id, "c%04d.png", i);
    write_gray((dir / "a" / id).string(), 4, 4, a);
    write_gray((dir / "b" / id).string(), 4, 4, b);
  }
}

// Past the cases held for the report, baseline.csv still lists every case's change, in the
// order of the report's "moved": defined first, the largest |delta| first, ties by case id.
TEST(Baseline, BaselineCsvListsEveryCaseInOrderThoughTheReportHoldsTheMost) {
  TempDir tmp;
  const fs::path dir = tmp.path();
  const int n = static_cast<int>(BaselineComparison::kMovedHeld) + 150;
  two_raters(dir / "before", n, 1, 7);
  two_raters(dir / "now", n + 1, 3, 9);
  auto args = [&](const std::string& in, const std::string& out) {
    return "agree --rater " + (dir / in / "a").string() + " --rater " + (dir / in / "b").string() +
           " -q --no-maps --threads 2 -o " + (dir / out).string();
  };
  ASSERT_EQ(run(args("before", "n1")).code, 0);
  const Output o = run(args("now", "n2") + " --baseline " + (dir / "n1/report.json").string());
  ASSERT_EQ(o.code, 0) << o.text;
  std::istringstream csv(read_text((dir / "n2/baseline.csv").string()));
  std::string line;
  std::vector<std::string> ids;
  std::vector<double> sizes;
  while (std::getline(csv, line)) {
    const std::vector<std::string> cells = split_csv_line(line);
    ASSERT_EQ(cells.size(), 8u) << line;
    if (cells[0] != "case" || cells[4] == "added" || cells[4] == "removed") continue;
    ids.push_back(cells[1]);
    sizes.push_back(cells[7].empty() ? NAN : std::fabs(std::stod(cells[7])));
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(n - 2));  // in both runs: all but c0007 and c0009
  for (size_t k = 1; k < ids.size(); ++k) {
    if (std::isnan(sizes[k - 1])) {
      ASSERT_TRUE(std::isnan(sizes[k])) << k;
    }
    if (std::isnan(sizes[k])) continue;
    ASSERT_GE(sizes[k - 1], sizes[k]) << k;
    if (sizes[k - 1] == sizes[k]) {
      ASSERT_LT(ids[k - 1], ids[k]) << k;
    }
  }
  const Json j = read_json((dir / "n2/report.json").string());
  const Json& moved = j["baseline"]["moved"];
  ASSERT_EQ(moved.size(), 100u);
  for (size_t k = 0; k < moved.size(); ++k) EXPECT_EQ(moved[k]["id"], ids[k]) << k;
  EXPECT_GT(sizes.front(), 0.0);
  EXPECT_EQ(j["baseline"]["cases_added"],
            Json::array({"c0007", std::string("c") + std::to_string(n)}));
  EXPECT_EQ(j["baseline"]["cases_removed"], Json::array({"c0009"}));
}

TEST(Baseline, DifferentConventionsAreRefused) {
  TempDir dir;
  const std::string base = (dir.path() / "n1").string();
  ASSERT_EQ(run(camvid(kData + "/camvid/prediction", base)).code, 0);
  const std::string no_ignore = "score --prediction model=" + kData +
                                "/camvid/prediction --reference " + kData +
                                "/camvid/reference --labels " + kData +
                                "/camvid/labels.csv -q -o " + (dir.path() / "n2").string();
  Output o = run(no_ignore + " --baseline " + base + "/report.json");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.text, "ignore_label")) << o.text;
  EXPECT_FALSE(fs::exists(dir.path() / "n2"));  // refused before anything was written
  o = run("agree --cases " + kData + "/bu-bil --raters 'experts/*.png' --foreground '<128' -q -o " +
          (dir.path() / "n3").string() + " --baseline " + base + "/report.json");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.text, "'score' run")) << o.text;
  o = run(camvid(kData + "/camvid/prediction", (dir.path() / "n4").string()) + " --baseline " +
          kData + "/camvid/labels.csv");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.text, "not a maskeval report")) << o.text;
}

}  // namespace
}  // namespace maskeval
