// The external sort: runs spilled to a nameless file come back in exactly the in-memory order.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "maskeval/run.h"
#include "test_util.h"
#include "util/external_sort.h"

namespace maskeval {
namespace {

using test::TempDir;

struct Pair {
  int key;
  std::string payload;
};

std::vector<Pair> sorted_by(const std::string& dir, size_t memory, const std::vector<Pair>& in) {
  ExternalSort<int, std::less<int>> s(dir, memory);
  for (const Pair& p : in) s.push(p.key, p.payload);
  EXPECT_EQ(s.size(), in.size());
  std::vector<Pair> out;
  s.for_each([&](const int& k, const std::string& p) { out.push_back({k, p}); });
  return out;
}

std::vector<Pair> random_items(size_t n) {
  std::mt19937 rng(7);
  std::vector<Pair> in;
  for (size_t i = 0; i < n; ++i)  // few keys: many ties, which keep the order they came in
    in.push_back(
        {static_cast<int>(rng() % 50) - 25, std::to_string(i) + std::string(rng() % 40, 'x')});
  return in;
}

TEST(ExternalSort, SpilledRunsMergeBackInTheStableOrder) {
  TempDir d;
  const std::vector<Pair> in = random_items(30000);
  std::vector<Pair> expected = in;
  std::stable_sort(expected.begin(), expected.end(),
                   [](const Pair& a, const Pair& b) { return a.key < b.key; });
  for (const size_t memory : {size_t{1}, size_t{4096}, size_t{1} << 30}) {
    const std::vector<Pair> got = sorted_by(d.path().string(), memory, in);
    ASSERT_EQ(got.size(), expected.size()) << memory;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].key, expected[i].key) << "item " << i << ", memory " << memory;
      ASSERT_EQ(got[i].payload, expected[i].payload) << "item " << i << ", memory " << memory;
    }
  }
  // The scratch file has no name: nothing is left in the folder.
  EXPECT_TRUE(std::filesystem::is_empty(d.path()));
}

TEST(ExternalSort, WithoutAFolderEverythingStaysInMemory) {
  const std::vector<Pair> in = random_items(2000);
  const std::vector<Pair> a = sorted_by("", 1, in), b = sorted_by("", size_t{1} << 30, in);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].payload, b[i].payload);
}

TEST(ExternalSort, AFolderThatCannotHoldTheRunsIsAFatalErrorNamingIt) {
  TempDir d;
  ExternalSort<int, std::less<int>> s(d / "gone", 1);
  try {
    s.push(1, "x");
    FAIL() << "no error";
  } catch (const FatalError& e) {
    EXPECT_NE(std::string(e.what()).find(d / "gone"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace maskeval
