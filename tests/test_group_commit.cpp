// Group commit of the GPU batches, exercised with a CPU function: every submitter gets its own
// result, batches form from concurrent submitters, errors reach every item of their batch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/group_commit.h"

namespace maskeval {
namespace {

using Commit = GroupCommit<int, long>;

TEST(GroupCommit, EverySubmitterGetsItsOwnResult) {
  std::atomic<int> calls{0}, largest{0};
  Commit commit(
      [&](const std::vector<int>& items) {
        ++calls;
        largest = std::max<int>(largest, static_cast<int>(items.size()));
        std::vector<long> out;
        for (int v : items) out.push_back(3L * v + 1);
        return out;
      },
      64, std::chrono::seconds(1));
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) commit.add_worker();
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < kEach; ++k) {
        const int item = t * 1000 + k;
        if (commit.submit(item) != 3L * item + 1) ++wrong;
      }
      commit.remove_worker();
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(static_cast<size_t>(calls.load()), commit.batches());
  // The quorum is every worker: batches gather the concurrent submitters instead of waiting out
  // the linger, so there are far fewer batches than items.
  EXPECT_LE(calls.load(), kThreads * kEach / 2);
  EXPECT_GE(largest.load(), 2);
}

TEST(GroupCommit, OneWorkerDoesNotWait) {
  Commit commit([](const std::vector<int>& items) { return std::vector<long>(items.size(), 7); },
                64, std::chrono::seconds(10));
  commit.add_worker();
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < 5; ++k) EXPECT_EQ(commit.submit(k), 7);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(commit.batches(), 5u);
  commit.remove_worker();
}

TEST(GroupCommit, BatchesAreCappedAndLingerEnds) {
  std::atomic<int> largest{0};
  Commit commit(
      [&](const std::vector<int>& items) {
        largest = std::max<int>(largest, static_cast<int>(items.size()));
        return std::vector<long>(items.begin(), items.end());
      },
      3, std::chrono::milliseconds(5));
  // No worker registered: a lone submitter waits out the linger, then goes alone.
  EXPECT_EQ(commit.submit(4), 4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 7; ++t) threads.emplace_back([&, t] { EXPECT_EQ(commit.submit(t), t); });
  for (auto& th : threads) th.join();
  EXPECT_LE(largest.load(), 3);
}

TEST(GroupCommit, AnErrorReachesEveryItemOfItsBatch) {
  Commit commit(
      [](const std::vector<int>& items) -> std::vector<long> {
        for (int v : items)
          if (v < 0) throw std::runtime_error("device failed");
        return std::vector<long>(items.begin(), items.end());
      },
      64, std::chrono::milliseconds(1));
  commit.add_worker();
  EXPECT_THROW(commit.submit(-1), std::runtime_error);
  EXPECT_EQ(commit.submit(5), 5);  // the next batch is unaffected
  commit.remove_worker();
}

}  // namespace
}  // namespace maskeval
