// The output folder: case folders that never leave OUT/cases, the lock, and re-runs that
// replace maskeval's own earlier outputs.
#include <gtest/gtest.h>

#include <filesystem>

#include "maskeval/run.h"
#include "pipeline/output_dir.h"
#include "test_util.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;

TEST(OutputDir, CaseFolderStaysUnderCases) {
  EXPECT_EQ(case_folder("case_001"), "case_001");
  EXPECT_EQ(case_folder("site/a/case 7"), "site/a/case 7");
  EXPECT_EQ(case_folder("../../../x"), "x");
  EXPECT_EQ(case_folder("/abs/dir"), "abs/dir");
  EXPECT_EQ(case_folder("a/./../b//c/"), "a/b/c");
  EXPECT_EQ(case_folder(".."), "_");
  EXPECT_EQ(case_folder(""), "_");
  EXPECT_EQ(case_folder("a\nb\x01\\c"), "a_b__c");
  EXPECT_EQ(case_folder(std::string(300, 'x')).size(), 200u);
  for (const std::string id : {"../../data/c/x", "/etc", "..", "a/../../..", "./.."}) {
    const fs::path p = fs::path("/out/cases") / case_folder(id);
    EXPECT_EQ(p.lexically_normal().string().rfind("/out/cases/", 0), 0u) << id;
  }
}

TEST(OutputDir, CollidingIdsAreToldApart) {
  EXPECT_EQ(case_folders({"x", "../x", "/x", "y"}),
            (std::vector<std::string>{"x", "x~2", "x~3", "y"}));
  EXPECT_EQ(case_folders({"a", "b"}), (std::vector<std::string>{"a", "b"}));
}

TEST(OutputDir, SecondLockOnTheFolderFails) {
  test::TempDir d;
  const OutputLock first(d / "out");
  try {
    const OutputLock second(d / "out");
    FAIL() << "a second lock was taken";
  } catch (const FatalError& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another maskeval run (pid "), std::string::npos)
        << e.what();
  }
}

TEST(OutputDir, EarlierOutputsMoveAsideThenGo) {
  test::TempDir d;
  const std::string out = d / "out";
  set_aside_previous_outputs(out, true);  // a first run: a fresh, marked cases/
  EXPECT_TRUE(fs::exists(out + "/cases/.maskeval-cases"));
  test::write_text(out + "/report.json", "{\"maskeval_version\": \"0\"}");
  test::write_text(out + "/cases/old/majority.png", "old");
  test::write_text(out + "/notes.txt", "the user's");
  set_aside_previous_outputs(out, true);
  // A run killed now leaves no report beside its new masks.
  EXPECT_FALSE(fs::exists(out + "/report.json"));
  EXPECT_FALSE(fs::exists(out + "/cases/old"));
  EXPECT_TRUE(fs::exists(out + "/.maskeval-previous/cases/old/majority.png"));
  drop_previous_outputs(out);
  EXPECT_FALSE(fs::exists(out + "/.maskeval-previous"));
  EXPECT_TRUE(fs::exists(out + "/notes.txt"));
}

TEST(OutputDir, RunThatCannotGoOnPutsTheEarlierOutputsBack) {
  test::TempDir d;
  const std::string out = d / "out";
  set_aside_previous_outputs(out, true);
  test::write_text(out + "/report.json", "{\"maskeval_version\": \"0\"}");
  test::write_text(out + "/cases/old/majority.png", "old");
  set_aside_previous_outputs(out, true);
  test::write_text(out + "/cases/new/majority.png", "new, half done");
  restore_previous_outputs(out);
  EXPECT_TRUE(fs::exists(out + "/report.json"));
  EXPECT_TRUE(fs::exists(out + "/cases/old/majority.png"));
  EXPECT_FALSE(fs::exists(out + "/cases/new"));
  EXPECT_FALSE(fs::exists(out + "/.maskeval-previous"));
}

TEST(OutputDir, KilledRunsCasesAreRemovedForeignOnesNeverTouched) {
  test::TempDir d;
  const std::string out = d / "out";
  set_aside_previous_outputs(out, true);
  test::write_text(out + "/cases/half/agreement.png", "partial");
  set_aside_previous_outputs(out, true);  // no report: the earlier run never finished
  EXPECT_FALSE(fs::exists(out + "/cases/half"));
  // A dataset folder named cases/ is refused however often the run is tried.
  const std::string foreign = d / "foreign";
  test::write_text(foreign + "/cases/mine.png", "not maskeval's");
  for (int attempt = 0; attempt < 2; ++attempt) {
    const OutputLock lock(foreign);
    EXPECT_THROW(set_aside_previous_outputs(foreign, true), FatalError);
  }
  EXPECT_TRUE(fs::exists(foreign + "/cases/mine.png"));
  // So is a report.json that maskeval did not write, unless the report goes elsewhere.
  const std::string theirs = d / "theirs";
  test::write_text(theirs + "/report.json", "{\"quarterly\": true}");
  EXPECT_THROW(set_aside_previous_outputs(theirs, true), FatalError);
  set_aside_previous_outputs(theirs, false);
  EXPECT_TRUE(fs::exists(theirs + "/report.json"));
}

// The tables beside the report are maskeval's only when their content says so; its own move
// aside with the report (also when the report goes elsewhere) and come back on a failed run.
TEST(OutputDir, TablesBesideTheReport) {
  test::TempDir d;
  const std::string out = d / "out";
  set_aside_previous_outputs(out, false);  // a --json run
  test::write_text(out + "/summary.csv", "label,label_name,rater\n1,1,a\n");
  test::write_text(out + "/report.html", "<!DOCTYPE html><title>maskeval agree: 1 case</title>");
  set_aside_previous_outputs(out, false);
  EXPECT_FALSE(fs::exists(out + "/summary.csv"));
  EXPECT_TRUE(fs::exists(out + "/.maskeval-previous/report.html"));
  test::write_text(out + "/summary.csv", "label,label_name,rater\nhalf done\n");
  restore_previous_outputs(out);
  EXPECT_EQ(test::read_text(out + "/summary.csv"), "label,label_name,rater\n1,1,a\n");
  EXPECT_TRUE(fs::exists(out + "/report.html"));
  // Someone else's summary.csv in the folder is never replaced.
  test::write_text(out + "/summary.csv", "quarter,revenue\n1,10\n");
  EXPECT_THROW(set_aside_previous_outputs(out, false), FatalError);
  EXPECT_EQ(test::read_text(out + "/summary.csv"), "quarter,revenue\n1,10\n");
}

TEST(OutputDir, OwnOutputsAreNoInput) {
  test::TempDir d;
  const std::string out = d / "out";
  test::write_text(out + "/cases/c/agreement.png", "x");
  auto one_case = [](const std::string& id, const std::vector<std::string>& files) {
    CaseSpec c;
    c.id = id;
    c.raters["a"][kWholeMap] = {files[0]};
    c.raters["b"][kWholeMap] = {files[1]};
    return c;
  };
  Dataset data;
  data.cases = {
      one_case("input", {d / "in/a.png", d / "in/b.png"}),
      one_case("out/cases/c", {out + "/cases/c/agreement.png", out + "/cases/c/./x.png"})};
  leave_out_own_outputs(data, out);
  ASSERT_EQ(data.cases.size(), 1u);
  EXPECT_EQ(data.cases[0].id, "input");
  data.cases = {one_case("mixed", {d / "in/a.png", out + "/../out/cases/c/agreement.png"})};
  EXPECT_THROW(leave_out_own_outputs(data, out), UsageError);
}

}  // namespace
}  // namespace maskeval
