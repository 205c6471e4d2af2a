// The compact case table: every field of every kind of case comes back as it went in.
#include <gtest/gtest.h>

#include "maskeval/run.h"

namespace maskeval {
namespace {

CaseSpec folder_case(const std::string& root, const std::string& id) {
  CaseSpec c;
  c.id = id;
  c.folder = root + "/" + id;
  c.out_folder = id;
  for (const char* r : {"a", "b", "c"}) c.raters[r][kWholeMap] = {c.folder + "/" + r + ".png"};
  c.reference[kWholeMap] = {c.folder + "/ref.png"};
  return c;
}

std::vector<CaseSpec> assorted() {
  std::vector<CaseSpec> out = {folder_case("/data", "case1"), folder_case("rel", "x/y/z"),
                               folder_case("/", "top")};
  CaseSpec m;  // a manifest's case: no folder, binary masks per label, files anywhere
  m.id = "m/1";
  m.raters["ann 1"][3] = {"/labels/a/m1_l3.nii.gz", "/labels/a/m1_l3b.nii.gz"};
  m.raters["ann 1"][0] = {"a.png"};
  m.raters["ann2"][70000] = {"/x.png"};
  m.predictions["unet"][kWholeMap] = {"/preds/m1.nii.gz"};
  m.problem = "cannot read this mask: broken link";
  m.problem_file = "/labels/b/m1.png";
  m.out_folder = "m_1~2";
  out.push_back(m);
  CaseSpec odd = folder_case("/d", "caf\xc3\xa9\xff");  // names need not be UTF-8
  odd.folder = "/elsewhere/other";                      // a folder not named after the id
  odd.raters["a"][kWholeMap] = {"/d/caf/../a.png", "", "/"};
  odd.out_folder = "";
  out.push_back(odd);
  out.push_back(CaseSpec{});  // every field empty
  return out;
}

TEST(CaseTable, GivesBackEveryFieldOfEveryCase) {
  const std::vector<CaseSpec> cases = assorted();
  CaseTable t;
  for (const CaseSpec& c : cases) t.push_back(c);
  ASSERT_EQ(t.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_TRUE(t[i] == cases[i]) << "case " << i << " (" << cases[i].id << ")";
    EXPECT_EQ(t.id(i), cases[i].id);
  }
  size_t k = 0;
  for (const CaseSpec& c : t) EXPECT_EQ(c.id, cases[k++].id);
  EXPECT_EQ(k, cases.size());
}

TEST(CaseTable, SortsAndFindsById) {
  CaseTable t = {folder_case("/r", "b"), folder_case("/r", "c"), folder_case("/r", "a"),
                 folder_case("/r", "a0")};
  t.sort_by_id();
  std::vector<std::string> ids;
  for (const CaseSpec& c : t) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "a0", "b", "c"}));
  EXPECT_EQ(t.find("b"), std::optional<size_t>(2));
  EXPECT_EQ(t[*t.find("c")].raters.at("a").at(kWholeMap)[0], "/r/c/a.png");
  EXPECT_FALSE(t.find("a1").has_value());
}

TEST(CaseTable, UniqueNamesPastTheSharedOnesStillComeBack) {
  CaseTable t;
  std::vector<CaseSpec> cases;
  for (int i = 0; i < 6000; ++i) {  // more distinct file names than the table shares
    CaseSpec c;
    c.id = "c" + std::to_string(i);
    c.raters["r" + std::to_string(i % 7)][kWholeMap] = {"/in/dir" + std::to_string(i) + "/m.png"};
    c.raters["s"][kWholeMap] = {"/in/img_" + std::to_string(i) + ".png"};
    cases.push_back(c);
    t.push_back(c);
  }
  for (size_t i = 0; i < cases.size(); i += 599) EXPECT_TRUE(t[i] == cases[i]) << i;
  EXPECT_TRUE(t[5999] == cases[5999]);
}

TEST(CaseTable, ACaseOfAFolderTakesAFewDozenBytes) {
  CaseTable t;
  for (int i = 0; i < 10000; ++i) t.push_back(folder_case("/data/set", "case" + std::to_string(i)));
  // 3 raters and a reference: the id, and a byte or two per name.
  EXPECT_LT(t.bytes(), 10000u * 32);
  EXPECT_TRUE(t[9999] == folder_case("/data/set", "case9999"));
}

// A manifest's case keeps its files in a folder of its own, rater folders give a case's files one
// name: each is stored once a case, every later file referring to the one before.
TEST(CaseTable, FilesSharingTheirFolderOrNameWithThePreviousAreStoredOnce) {
  CaseTable manifest, raters;
  std::vector<CaseSpec> m_cases, r_cases;
  for (int i = 0; i < 6000; ++i) {
    const std::string id = "case" + std::to_string(i);
    CaseSpec m;  // /data/run/caseN/{a,b,c}.png and ref.png, past the shared names
    m.id = id;
    const std::string dir = "/data/nightly-2026-12-01/site-a/" + id + "/";
    for (const char* r : {"a", "b", "c"}) m.raters[r][kWholeMap] = {dir + r + ".png"};
    m.raters["b"][kWholeMap].push_back("/elsewhere/" + id + "_b2.png");
    m.reference[kWholeMap] = {dir + "ref.png"};
    CaseSpec r;  // ann1/caseN.png, ann2/caseN.png, gold/caseN.png
    r.id = id;
    for (const char* a : {"ann1", "ann2"})
      r.raters[a][kWholeMap] = {std::string("/d/") + a + "/" + id + ".png"};
    r.reference[kWholeMap] = {"/d/gold/" + id + ".png"};
    r.problem = "reference file missing";
    r.problem_file = "/d/gold/" + id + ".png";
    manifest.push_back(m);
    raters.push_back(r);
    m_cases.push_back(m);
    r_cases.push_back(r);
  }
  for (size_t i = 0; i < m_cases.size(); i += 97) {
    EXPECT_TRUE(manifest[i] == m_cases[i]) << i;
    EXPECT_TRUE(raters[i] == r_cases[i]) << i;
  }
  // The folder (44 bytes) once a case and again after the file elsewhere; each name once.
  // (Stored in full, they take about 219 and 104 bytes a case, with the shared names.)
  EXPECT_LT(manifest.bytes(), 6000u * 190);
  EXPECT_LT(raters.bytes(), 6000u * 97);
}

TEST(CaseTable, OutFoldersAndErasedCasesLeaveTheOthersAsTheyWere) {
  const std::vector<CaseSpec> cases = assorted();
  CaseTable t;
  for (CaseSpec c : cases) {
    c.out_folder = "";
    t.push_back(c);
  }
  std::vector<CaseSpec> expected = cases;
  for (size_t i = 0; i < cases.size(); ++i) {
    // The id (in place), a made-up name (packed again), then "" back again (in place).
    const std::string folder = i % 3 == 0 ? cases[i].id : (i % 3 == 1 ? "f~" + cases[i].id : "");
    t.set_out_folder(i, folder);
    expected[i].out_folder = folder;
  }
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_TRUE(t[i] == expected[i]) << i;
  t.erase_if([](size_t i) { return i % 2 == 1; });
  ASSERT_EQ(t.size(), (cases.size() + 1) / 2);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_TRUE(t[i] == expected[2 * i]) << i;
}

}  // namespace
}  // namespace maskeval
