// Sorting more items than memory should hold: sorted runs spilled to a nameless file in a
// folder, merged back in order.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <queue>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace maskeval {

// A file with no name in `dir` (gone when closed), for what does not fit in memory.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& dir);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  uint64_t append(const std::string& bytes);  // returns where the bytes begin
  void read(uint64_t at, char* out, size_t n) const;

 private:
  std::string dir_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Items (a key and a string) given one by one, handed back sorted by `Less` on the key, items
// that compare equal in the order they were given. Past `memory` bytes a sorted run is written
// to a scratch file in `dir` ("" keeps everything in memory), so that memory stays bounded
// whatever the number of items; the order handed back is the same either way.
template <class Key, class Less>
class ExternalSort {
  static_assert(std::is_trivially_copyable<Key>::value, "keys are written as bytes");

 public:
  ExternalSort(std::string dir, size_t memory, Less less = Less())
      : dir_(std::move(dir)), memory_(memory), less_(less) {}

  void push(const Key& key, std::string payload = std::string()) {
    bytes_ += sizeof(Item) + payload.size();
    buffer_.push_back({key, count_++, std::move(payload)});
    if (!dir_.empty() && bytes_ > memory_) spill();
  }
  uint64_t size() const { return count_; }

  // Calls f(key, payload) for every item in order.
  void for_each(const std::function<void(const Key&, const std::string&)>& f) {
    sort_buffer();
    std::vector<Cursor> cursors;
    cursors.reserve(runs_.size());
    for (const Run& r : runs_) cursors.emplace_back(*file_, r);
    auto later = [&](size_t a, size_t b) { return before(cursors[b].item, cursors[a].item); };
    std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heads(later);
    for (size_t k = 0; k < cursors.size(); ++k)
      if (cursors[k].next()) heads.push(k);
    size_t i = 0;
    while (!heads.empty() || i < buffer_.size()) {
      if (i < buffer_.size() && (heads.empty() || before(buffer_[i], cursors[heads.top()].item))) {
        f(buffer_[i].key, buffer_[i].payload);
        ++i;
        continue;
      }
      const size_t k = heads.top();
      heads.pop();
      f(cursors[k].item.key, cursors[k].item.payload);
      if (cursors[k].next()) heads.push(k);
    }
  }

 private:
  struct Item {
    Key key;
    uint64_t seq;
    std::string payload;
  };
  struct Run {
    uint64_t at = 0, bytes = 0, items = 0;
  };
  // Reads one run back through a small buffer.
  class Cursor {
   public:
    Cursor(const ScratchFile& f, const Run& r)
        : file_(&f), at_(r.at), end_(r.at + r.bytes), left_(r.items) {}
    bool next() {
      if (left_ == 0) return false;
      --left_;
      uint32_t n = 0;
      take(reinterpret_cast<char*>(&item.key), sizeof(Key));
      take(reinterpret_cast<char*>(&item.seq), sizeof item.seq);
      take(reinterpret_cast<char*>(&n), sizeof n);
      item.payload.resize(n);
      take(&item.payload[0], n);
      return true;
    }
    Item item{};

   private:
    void take(char* out, size_t n) {
      while (n > 0) {
        if (pos_ == buf_.size()) {
          buf_.resize(static_cast<size_t>(std::min<uint64_t>(kChunk, end_ - at_)));
          if (buf_.empty()) throw std::length_error("a sort run ends early");
          file_->read(at_, buf_.data(), buf_.size());
          at_ += buf_.size();
          pos_ = 0;
        }
        const size_t k = std::min(n, buf_.size() - pos_);
        std::memcpy(out, buf_.data() + pos_, k);
        pos_ += k;
        out += k;
        n -= k;
      }
    }
    static constexpr uint64_t kChunk = 16384;
    const ScratchFile* file_;
    uint64_t at_, end_, left_;
    std::vector<char> buf_;
    size_t pos_ = 0;
  };

  bool before(const Item& a, const Item& b) const {
    if (less_(a.key, b.key)) return true;
    if (less_(b.key, a.key)) return false;
    return a.seq < b.seq;
  }
  void sort_buffer() {
    std::sort(buffer_.begin(), buffer_.end(),
              [this](const Item& a, const Item& b) { return before(a, b); });
  }
  void spill() {
    sort_buffer();
    if (!file_) file_ = std::make_unique<ScratchFile>(dir_);
    // Written a piece at a time: the run is never held a second time, as one string.
    std::string bytes;
    Run run{file_->append(""), 0, buffer_.size()};
    for (size_t i = 0; i < buffer_.size(); ++i) {
      const Item& it = buffer_[i];
      const auto n = static_cast<uint32_t>(it.payload.size());
      bytes.append(reinterpret_cast<const char*>(&it.key), sizeof(Key));
      bytes.append(reinterpret_cast<const char*>(&it.seq), sizeof it.seq);
      bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
      bytes += it.payload;
      if (bytes.size() >= kPiece || i + 1 == buffer_.size()) {
        file_->append(bytes);
        run.bytes += bytes.size();
        bytes.clear();
      }
    }
    runs_.push_back(run);
    buffer_.clear();
    bytes_ = 0;
  }

  static constexpr size_t kPiece = 65536;  // bytes written to the scratch file at a time
  std::string dir_;
  size_t memory_;
  Less less_;
  std::vector<Item> buffer_;
  size_t bytes_ = 0;
  uint64_t count_ = 0;
  std::unique_ptr<ScratchFile> file_;
  std::vector<Run> runs_;
};

}  // namespace maskeval
