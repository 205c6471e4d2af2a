// The packed folder listing and the compact set of folder ids, against plain std containers.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "pipeline/folder_listing.h"

namespace maskeval {
namespace {

TEST(FolderSet, AgreesWithStdSetAcrossManyMerges) {
  std::mt19937_64 rng(7);
  std::set<FolderId> want;
  FolderSet got;
  for (int i = 0; i < 200000; ++i) {
    const FolderId id{rng() % 3, rng() % 60000};  // many repeats, some across merges
    ASSERT_EQ(got.insert(id), want.insert(id).second) << i;
  }
  EXPECT_GT(want.size(), 100000u);
}

TEST(Listing, SortsByNameAndUnpacksEveryField) {
  Listing listing;
  std::vector<Entry> added;
  for (int i = 0; i < 50000; ++i) {  // well over one 64 KiB block
    Entry e;
    e.kind = static_cast<Entry::Kind>(i % 4);
    e.name = "entry-" + std::to_string((i * 7919) % 50000) + std::string(i % 40, 'x');
    if (e.kind == Entry::kFolder) e.id = {static_cast<dev_t>(i), static_cast<ino_t>(i) << 40};
    if (e.kind == Entry::kOther || e.kind == Entry::kBroken) e.reason = "why " + e.name;
    ASSERT_TRUE(listing.add(e));
    added.push_back(e);
  }
  Entry huge;
  huge.kind = Entry::kBroken;
  huge.name = std::string(70000, 'z');  // larger than a block: one of its own
  huge.reason = "long";
  ASSERT_TRUE(listing.add(huge));
  added.push_back(huge);
  listing.sort_by_name();
  std::sort(added.begin(), added.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  ASSERT_EQ(listing.size(), added.size());
  for (size_t i = 0; i < added.size(); ++i) {
    const Entry e = listing[i];
    ASSERT_EQ(e.name, added[i].name) << i;
    ASSERT_EQ(e.kind, added[i].kind) << i;
    ASSERT_EQ(listing.kind(i), added[i].kind) << i;
    ASSERT_EQ(listing.name(i), added[i].name) << i;
    ASSERT_EQ(e.reason, added[i].reason) << i;
    ASSERT_EQ(e.id, added[i].id) << i;
  }
}

}  // namespace
}  // namespace maskeval
