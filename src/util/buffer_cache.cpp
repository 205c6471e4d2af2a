// The large buffers of decoded images and label maps, kept per thread for the next case.
#include <cstddef>
#include <new>

#include "maskeval/image.h"

namespace maskeval::detail {
namespace {

constexpr size_t kCachedFrom = size_t{1} << 20;  // smaller blocks are the allocator's business
constexpr int kCachedBlocks = 8;

// A thread's freed large blocks. A block is reused only for a request of exactly its size (the
// next case of a dataset has the same grid), and a request of any other size frees them all
// first, so that what the cache holds never adds to a new peak. Trivially destructible, so that
// a block freed after the thread's cache is closed (at its exit) is simply freed.
struct BlockCache {
  struct Block {
    void* p;
    size_t bytes;
  };
  Block blocks[kCachedBlocks];
  int count;
  bool closed;

  void clear() {
    while (count > 0) ::operator delete(blocks[--count].p);
  }
  void* take(size_t bytes) {
    for (int i = 0; i < count; ++i)
      if (blocks[i].bytes == bytes) {
        void* p = blocks[i].p;
        blocks[i] = blocks[--count];
        return p;
      }
    clear();
    return nullptr;
  }
  void give(void* p, size_t bytes) {
    if (count == kCachedBlocks) ::operator delete(blocks[--count].p);
    blocks[count++] = {p, bytes};
  }
};

thread_local BlockCache cache;  // zero-initialised

// Frees the thread's cached blocks when it ends: armed on the thread's first large block.
struct CacheCloser {
  ~CacheCloser() {
    cache.clear();
    cache.closed = true;
  }
};
void arm_closer() {
  thread_local CacheCloser closer;
}

}  // namespace

void* take_block(size_t bytes) {
  if (bytes >= kCachedFrom && !cache.closed) {
    arm_closer();
    if (void* p = cache.take(bytes)) return p;
  }
  return ::operator new(bytes);
}

void give_block(void* p, size_t bytes) noexcept {
  if (bytes < kCachedFrom || cache.closed) return ::operator delete(p);
  arm_closer();
  cache.give(p, bytes);
}

}  // namespace maskeval::detail
