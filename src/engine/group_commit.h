// Group commit: worker threads submit items one at a time and a batch of them is processed in
// one call (on the GPU: many small cases counted in one launch). A submitter waits until a batch
// holding its item is done. The batch is processed by one of its own submitters, as soon as it
// holds `max_batch` items or an item from every registered worker (the others have nothing to
// add), or when its oldest item has waited `linger`.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace maskeval {

template <class Item, class Result>
class GroupCommit {
 public:
  // Processes a batch; returns one result per item, in order.
  using Work = std::function<std::vector<Result>(const std::vector<Item>&)>;

  GroupCommit(Work work, size_t max_batch, std::chrono::microseconds linger)
      : work_(std::move(work)), max_batch_(std::max<size_t>(1, max_batch)), linger_(linger) {}

  // Workers that may submit; the quorum for an early batch.
  void add_worker() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++workers_;
  }
  void remove_worker() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (workers_ > 0) --workers_;
    wake_.notify_all();
  }

  // Blocks until the item's batch is processed; rethrows the batch's exception. Whatever the
  // batch function throws (or copying the items), the batch's submitters all return and later
  // batches go on.
  Result submit(Item item) {
    Slot slot(std::move(item));
    std::unique_lock<std::mutex> lock(mutex_);
    pending_.push_back(&slot);
    const auto deadline = std::chrono::steady_clock::now() + linger_;
    wake_.notify_all();
    while (!slot.done) {
      const size_t quorum = std::min(max_batch_, std::max<size_t>(1, workers_));
      const bool ready = pending_.size() >= quorum || std::chrono::steady_clock::now() >= deadline;
      if (busy_) {
        wake_.wait(lock);
      } else if (!ready) {
        wake_.wait_until(lock, deadline);
      } else {
        lead(lock);
      }
    }
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(slot.result);
  }

  // Batches processed so far.
  size_t batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  struct Slot {
    explicit Slot(Item i) : item(std::move(i)) {}
    Item item;
    Result result{};
    bool done = false;
    std::exception_ptr error;
  };

  // Takes up to max_batch pending items, oldest first, and processes them without the lock
  // (held on entry and on return). Never throws: an error reaches every item of the batch.
  void lead(std::unique_lock<std::mutex>& lock) {
    const size_t take = std::min(max_batch_, pending_.size());
    std::vector<Slot*> batch;
    try {
      batch.assign(pending_.begin(), pending_.begin() + take);
    } catch (...) {  // not even the list of the batch: its items fail, nothing is left waiting
      for (size_t i = 0; i < take; ++i) finish(*pending_[i], std::current_exception());
      pending_.erase(pending_.begin(), pending_.begin() + take);
      wake_.notify_all();
      return;
    }
    pending_.erase(pending_.begin(), pending_.begin() + take);
    busy_ = true;
    lock.unlock();
    std::exception_ptr error;
    std::vector<Result> results;
    try {
      std::vector<Item> items;
      items.reserve(batch.size());
      for (Slot* s : batch) items.push_back(s->item);
      results = work_(items);
      if (results.size() != items.size()) throw std::logic_error("group commit: result count");
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!error) {
        try {
          batch[i]->result = std::move(results[i]);
        } catch (...) {
          finish(*batch[i], std::current_exception());
          continue;
        }
      }
      finish(*batch[i], error);
    }
    ++batches_;
    busy_ = false;
    wake_.notify_all();
  }
  static void finish(Slot& s, std::exception_ptr error) {
    s.error = std::move(error);
    s.done = true;
  }

  Work work_;
  size_t max_batch_;
  std::chrono::microseconds linger_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Slot*> pending_;
  size_t workers_ = 0, batches_ = 0;
  bool busy_ = false;
};

}  // namespace maskeval
