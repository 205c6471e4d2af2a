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
  EXPECT_FALSE(first.earlier_run());
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
  {
    const OutputLock lock(out);
    test::write_text(out + "/report.json", "{\"maskeval_version\": \"0\"}");
    test::write_text(out + "/cases/old/majority.png", "old");
    test::write_text(out + "/notes.txt", "the user's");
  }
  const OutputLock lock(out);
  EXPECT_TRUE(lock.earlier_run());
  set_aside_previous_outputs(out, lock);
  // A run killed now leaves no report beside its new masks.
  EXPECT_FALSE(fs::exists(out + "/report.json"));
  EXPECT_FALSE(fs::exists(out + "/cases"));
  EXPECT_TRUE(fs::exists(out + "/.maskeval-previous/cases/old/majority.png"));
  drop_previous_outputs(out);
  EXPECT_FALSE(fs::exists(out + "/.maskeval-previous"));
  EXPECT_TRUE(fs::exists(out + "/notes.txt"));
}

TEST(OutputDir, KilledRunsCasesAreRemovedForeignCasesKept) {
  test::TempDir d;
  const std::string out = d / "out";
  {
    const OutputLock lock(out);
    test::write_text(out + "/cases/half/agreement.png", "partial");
  }
  {
    const OutputLock lock(out);
    set_aside_previous_outputs(out, lock);  // no report: the earlier run never finished
    EXPECT_FALSE(fs::exists(out + "/cases"));
  }
  const std::string foreign = d / "foreign";
  test::write_text(foreign + "/cases/mine.txt", "not maskeval's");
  const OutputLock lock(foreign);
  EXPECT_THROW(set_aside_previous_outputs(foreign, lock), FatalError);
  EXPECT_TRUE(fs::exists(foreign + "/cases/mine.txt"));
}

}  // namespace
}  // namespace maskeval
