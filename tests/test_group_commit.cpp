// Group commit of the GPU batches, exercised with a CPU function: every submitter gets its own
// result, batches form from concurrent submitters, errors reach every item of their batch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
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

// Runs fn on its own thread; a test that has not ended after `limit` has hung (a submitter
// waiting for a batch that never ends): the process stops with a message instead of hanging.
template <class Fn>
void within(std::chrono::seconds limit, Fn fn) {
  std::packaged_task<void()> task(fn);
  std::future<void> done = task.get_future();
  std::thread runner(std::move(task));
  if (done.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "group commit: submitters still waiting after %lld s\n",
                 static_cast<long long>(limit.count()));
    std::abort();
  }
  runner.join();
  done.get();
}

// A batch function that throws for some batches: every submitter of those batches gets the
// exception, the others their results, and nobody is left waiting (busy_ is reset).
TEST(GroupCommit, AThrowingBatchLeavesNoSubmitterWaiting) {
  within(std::chrono::seconds(60), [] {
    std::atomic<int> calls{0};
    Commit commit(
        [&](const std::vector<int>& items) -> std::vector<long> {
          ++calls;
          for (int v : items)
            if (v % 7 == 0) throw std::runtime_error("device failed");
          return std::vector<long>(items.begin(), items.end());
        },
        4, std::chrono::milliseconds(2));
    constexpr int kThreads = 8, kEach = 30;
    std::atomic<int> ok{0}, failed{0}, wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) commit.add_worker();
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int k = 0; k < kEach; ++k) {
          const int item = t * 100 + k;
          try {
            if (commit.submit(item) != item) ++wrong;
            ++ok;
          } catch (const std::runtime_error&) {
            ++failed;
          }
        }
        commit.remove_worker();
      });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(ok + failed, kThreads * kEach);
    EXPECT_GT(failed.load(), 0);
    EXPECT_GE(failed.load(), kThreads * kEach / 7 - kThreads);  // at least the items % 7 == 0
    EXPECT_EQ(static_cast<size_t>(calls.load()), commit.batches());
    EXPECT_EQ(commit.submit(8), 8);  // and the commit still works
  });
}

// An item whose copy throws (std::bad_alloc, as an allocation failure would) while its batch
// is being gathered: the batch fails, the next one goes on.
struct Fragile {
  int value = 0;
  bool throw_on_copy = false;
  Fragile() = default;
  Fragile(int v, bool t) : value(v), throw_on_copy(t) {}
  Fragile(const Fragile& o) : value(o.value), throw_on_copy(o.throw_on_copy) {
    if (throw_on_copy) throw std::bad_alloc();
  }
  Fragile(Fragile&&) noexcept = default;
  Fragile& operator=(const Fragile&) = default;
  Fragile& operator=(Fragile&&) noexcept = default;
};

TEST(GroupCommit, AnItemThatCannotBeCopiedFailsOnlyItsBatch) {
  within(std::chrono::seconds(60), [] {
    GroupCommit<Fragile, int> commit(
        [](const std::vector<Fragile>& items) {
          std::vector<int> out;
          for (const Fragile& f : items) out.push_back(f.value);
          return out;
        },
        64, std::chrono::milliseconds(1));
    commit.add_worker();
    EXPECT_THROW(commit.submit(Fragile(1, true)), std::bad_alloc);
    EXPECT_EQ(commit.submit(Fragile(2, false)), 2);
    // Several threads, one of which submits a fragile item: the others all finish.
    std::vector<std::thread> threads;
    std::atomic<int> ok{0}, failed{0};
    for (int t = 0; t < 4; ++t) commit.add_worker();
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int k = 0; k < 20; ++k) {
          try {
            if (commit.submit(Fragile(k, t == 0 && k == 5)) == k) ++ok;
          } catch (const std::bad_alloc&) {
            ++failed;
          }
        }
        commit.remove_worker();
      });
    for (auto& th : threads) th.join();
    EXPECT_GE(failed.load(), 1);
    EXPECT_EQ(ok + failed, 80);
    commit.remove_worker();
  });
}

// A batch function that returns the wrong number of results fails its batch, not the commit.
TEST(GroupCommit, AWrongResultCountFailsTheBatch) {
  within(std::chrono::seconds(60), [] {
    bool short_once = true;
    Commit commit(
        [&](const std::vector<int>& items) {
          std::vector<long> out(items.begin(), items.end());
          if (short_once) out.pop_back();
          short_once = false;
          return out;
        },
        64, std::chrono::milliseconds(1));
    EXPECT_THROW(commit.submit(3), std::logic_error);
    EXPECT_EQ(commit.submit(4), 4);
  });
}

}  // namespace
}  // namespace maskeval
