// CPU counting pass: the tuple histogram of a case.
//
// Each voxel's tuple of R labels is packed into a key (rater r in bits [r*b, (r+1)*b), b the
// bit width of the largest label). Three paths, chosen from R*b:
//   <= 16 bits: a dense histogram indexed by the key (binary masks with up to 16 raters);
//   <= 64 bits: unanimous voxels counted per label, the rest in an open-addressing hash table;
//   wider:      unanimous voxels per label, the rest in a hash map keyed by the tuple bytes.
// Voxels are taken in blocks; a block whose keys are all equal is counted in one addition.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "engine/tuple_keys.h"
#include "maskeval/counts.h"
#include "util/parallel.h"
#include "util/simd.h"

namespace maskeval {
namespace {

constexpr int64_t kBlock = 256;

// Open addressing, linear probing; key 0 marks an empty slot (the all-zero tuple is unanimous
// and never stored here).
class KeyCounter {
 public:
  KeyCounter() { resize(1024); }
  void add(uint64_t key, uint64_t count) {
    if ((used_ + 1) * 2 > keys_.size()) resize(keys_.size() * 2);
    size_t i = slot(key);
    while (keys_[i] != 0 && keys_[i] != key) i = (i + 1) & mask_;
    if (keys_[i] == 0) {
      keys_[i] = key;
      ++used_;
    }
    counts_[i] += count;
  }
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] != 0) f(keys_[i], counts_[i]);
  }

 private:
  size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void resize(size_t capacity) {
    std::vector<uint64_t> old_keys(capacity, 0), old_counts(capacity, 0);
    old_keys.swap(keys_);
    old_counts.swap(counts_);
    mask_ = capacity - 1;
    shift_ = 64;
    for (size_t c = capacity; c > 1; c >>= 1) --shift_;
    used_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != 0) add(old_keys[i], old_counts[i]);
  }
  std::vector<uint64_t> keys_, counts_;
  size_t mask_ = 0, used_ = 0;
  int shift_ = 64;
};

// Everything one thread counted.
struct Partial {
  std::vector<uint64_t> dense;      // dense path: count per key
  std::vector<uint64_t> unanimous;  // other paths: count per label
  KeyCounter packed;
  std::unordered_map<std::string, uint64_t> wide;
};

// Adds `n` to the histogram for each run of equal keys.
template <class Key>
void add_runs(const Key* keys, int64_t n, std::vector<uint64_t>& hist) {
  Key run_key = keys[0];
  uint64_t run = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (keys[i] != run_key) {
      hist[run_key] += run;
      run_key = keys[i];
      run = 0;
    }
    ++run;
  }
  hist[run_key] += run;
}

// Dense path for uint16 labels (rare: a 16-bit case whose labels all fit the key).
void count_dense_u16(const CaseView& v, int bits, int64_t begin, int64_t end, Partial& out) {
  const int raters = v.rater_count();
  uint16_t keys[kBlock];
  for (int64_t start = begin; start < end; start += kBlock) {
    const int64_t n = std::min(kBlock, end - start);
    for (int64_t i = 0; i < n; ++i) keys[i] = 0;
    for (int r = 0; r < raters; ++r) {
      const uint16_t* x = static_cast<const uint16_t*>(v.raters[r]) + start;
      for (int64_t i = 0; i < n; ++i)
        keys[i] = static_cast<uint16_t>(keys[i] | (x[i] << (r * bits)));
    }
    add_runs(keys, n, out.dense);
  }
}

// Where rater r's field goes in the dense path for uint8 labels: bits [r*bits, (r+1)*bits) of
// the key may fall in the low byte, the high byte, or straddle both; the masks keep each voxel's
// bits inside its own lane.
struct Lanes {
  int lo_shift = 0, hi_shift = 0, hi_down = 0;
  uint64_t lo_mask = 0, hi_mask = 0;
};
constexpr uint64_t kEveryByte = 0x0101010101010101ull;

std::vector<Lanes> lanes_of(int raters, int bits) {
  std::vector<Lanes> lanes(raters);
  for (int r = 0; r < raters; ++r) {
    const int first = r * bits, last = first + bits;  // key bits [first, last)
    Lanes& l = lanes[r];
    if (first < 8) {
      l.lo_shift = first;
      l.lo_mask = ((0xffu << first) & 0xffu) * kEveryByte;
    }
    if (last > 8) {
      // Key bit 8 + k holds field bit (8 + k - first).
      if (first >= 8) {
        l.hi_shift = first - 8;
      } else {
        l.hi_down = 8 - first;
      }
      l.hi_mask = (((1u << (last - 8)) - 1) & ~((1u << std::max(0, first - 8)) - 1)) * kEveryByte;
    }
  }
  return lanes;
}

// Counts a block of words that are not all one key: runs of equal keys, 8 voxels at a time
// where a word is uniform (along a boundary most words still are).
void count_runs(const uint64_t* lo, const uint64_t* hi, int words, std::vector<uint64_t>& dense) {
  uint32_t run_key = static_cast<uint32_t>((lo[0] & 0xff) | ((hi[0] & 0xff) << 8));
  uint64_t run = 0;
  auto add = [&](uint32_t key, uint64_t n) {
    if (key != run_key) {
      dense[run_key] += run;
      run_key = key;
      run = 0;
    }
    run += n;
  };
  for (int w = 0; w < words; ++w) {
    const uint64_t l = lo[w], h = hi[w];
    if (l == (l & 0xff) * kEveryByte && h == (h & 0xff) * kEveryByte) {
      add(static_cast<uint32_t>((l & 0xff) | ((h & 0xff) << 8)), 8);
      continue;
    }
    for (int b = 0; b < 8; ++b)
      add(static_cast<uint32_t>(((l >> (8 * b)) & 0xff) | (((h >> (8 * b)) & 0xff) << 8)), 1);
  }
  dense[run_key] += run;
}

// Dense path for uint8 labels, 32 voxels per vector of four 64-bit words: each voxel's key is
// built in two byte lanes, `lo` (key bits 0..7) and `hi` (8..15, only when the key is wider than
// a byte); every label is below 2^bits, so after masking no bit carries into the next voxel's
// lane. The loop is written once and compiled for AVX2 and for the build's baseline.
typedef uint64_t Words __attribute__((vector_size(32)));
constexpr int kWords = kBlock / 8, kVecs = kBlock / 32;

// The keys of the block at `start` into lo and hi; true when all of its voxels have one key.
template <bool kHigh>
MASKEVAL_ALWAYS_INLINE bool block_keys(const CaseView& v, const Lanes* lanes, int64_t start,
                                       Words* lo, Words* hi) {
  for (int w = 0; w < kVecs; ++w) lo[w] = Words{};
  if (kHigh)
    for (int w = 0; w < kVecs; ++w) hi[w] = Words{};
  for (int r = 0; r < v.rater_count(); ++r) {
    const uint8_t* x = static_cast<const uint8_t*>(v.raters[r]) + start;
    const Lanes& l = lanes[r];
    for (int w = 0; w < kVecs; ++w) {
      Words word;
      std::memcpy(&word, x + 32 * w, sizeof word);
      lo[w] |= (word << l.lo_shift) & l.lo_mask;
      if (kHigh) hi[w] |= (word << l.hi_shift >> l.hi_down) & l.hi_mask;
    }
  }
  const uint64_t lo_first = (lo[0][0] & 0xff) * kEveryByte;
  const uint64_t hi_first = kHigh ? (hi[0][0] & 0xff) * kEveryByte : 0;
  Words differ = {};
  for (int w = 0; w < kVecs; ++w) {
    differ |= lo[w] ^ lo_first;
    if (kHigh) differ |= hi[w] ^ hi_first;
  }
  return (differ[0] | differ[1] | differ[2] | differ[3]) == 0;
}

// The whole blocks of [begin, end); returns where the last partial block starts.
template <bool kHigh>
MASKEVAL_ALWAYS_INLINE int64_t dense_u8_blocks(const CaseView& v, const Lanes* lanes, int64_t begin,
                                               int64_t end, Partial& out) {
  Words lo[kVecs], hi[kVecs] = {};  // hi stays 0 without kHigh (the keys' high byte)
  int64_t start = begin;
  for (; start + kBlock <= end; start += kBlock) {
    if (block_keys<kHigh>(v, lanes, start, lo, hi)) {
      out.dense[(lo[0][0] & 0xff) | ((hi[0][0] & 0xff) << 8)] += kBlock;
    } else {
      count_runs(reinterpret_cast<const uint64_t*>(lo), reinterpret_cast<const uint64_t*>(hi),
                 kWords, out.dense);
    }
  }
  return start;
}

MASKEVAL_AVX2 int64_t dense_u8_blocks_avx2(bool high, const CaseView& v, const Lanes* lanes,
                                           int64_t begin, int64_t end, Partial& out) {
  return high ? dense_u8_blocks<true>(v, lanes, begin, end, out)
              : dense_u8_blocks<false>(v, lanes, begin, end, out);
}

int64_t dense_u8_blocks_baseline(bool high, const CaseView& v, const Lanes* lanes, int64_t begin,
                                 int64_t end, Partial& out) {
  return high ? dense_u8_blocks<true>(v, lanes, begin, end, out)
              : dense_u8_blocks<false>(v, lanes, begin, end, out);
}

void count_dense_u8(const CaseView& v, int bits, int64_t begin, int64_t end, Partial& out) {
  const int raters = v.rater_count();
  const std::vector<Lanes> lanes = lanes_of(raters, bits);
  const bool high = raters * bits > 8;
  const int64_t start = simd::wide_vectors()
                            ? dense_u8_blocks_avx2(high, v, lanes.data(), begin, end, out)
                            : dense_u8_blocks_baseline(high, v, lanes.data(), begin, end, out);
  // The last partial block, voxel by voxel.
  for (int64_t i = start; i < end; ++i) {
    uint32_t key = 0;
    for (int r = 0; r < raters; ++r)
      key |= static_cast<uint32_t>(static_cast<const uint8_t*>(v.raters[r])[i]) << (r * bits);
    ++out.dense[key];
  }
}

template <class T>
void count_packed(const CaseView& v, int bits, int64_t begin, int64_t end, Partial& out) {
  const int raters = v.rater_count();
  uint64_t keys[kBlock];
  T differ[kBlock];
  for (int64_t start = begin; start < end; start += kBlock) {
    const int64_t n = std::min(kBlock, end - start);
    const T* first = static_cast<const T*>(v.raters[0]) + start;
    // Where every rater agrees with rater 0: most blocks of real masks, which then need no keys.
    for (int64_t i = 0; i < n; ++i) differ[i] = 0;
    for (int r = 1; r < raters; ++r) {
      const T* x = static_cast<const T*>(v.raters[r]) + start;
      for (int64_t i = 0; i < n; ++i) differ[i] = static_cast<T>(differ[i] | (x[i] ^ first[i]));
    }
    T any = 0;
    for (int64_t i = 0; i < n; ++i) any = static_cast<T>(any | differ[i]);
    if (any != 0) {
      for (int64_t i = 0; i < n; ++i) keys[i] = first[i];
      for (int r = 1; r < raters; ++r) {
        const T* x = static_cast<const T*>(v.raters[r]) + start;
        const int shift = r * bits;
        for (int64_t i = 0; i < n; ++i) keys[i] |= static_cast<uint64_t>(x[i]) << shift;
      }
    }
    // Runs of one unanimous label, or of one mixed key, are added at once.
    int64_t i = 0;
    while (i < n) {
      int64_t j = i + 1;
      if (differ[i] == 0) {
        while (j < n && differ[j] == 0 && first[j] == first[i]) ++j;
        out.unanimous[first[i]] += static_cast<uint64_t>(j - i);
      } else {
        while (j < n && differ[j] != 0 && keys[j] == keys[i]) ++j;
        out.packed.add(keys[i], static_cast<uint64_t>(j - i));
      }
      i = j;
    }
  }
}

template <class T>
void count_wide(const CaseView& v, int64_t begin, int64_t end, Partial& out) {
  const int raters = v.rater_count();
  std::string key(static_cast<size_t>(raters) * sizeof(Label), '\0');
  for (int64_t i = begin; i < end; ++i) {
    const T first = static_cast<const T*>(v.raters[0])[i];
    bool same = true;
    for (int r = 0; r < raters; ++r) {
      const Label l = static_cast<const T*>(v.raters[r])[i];
      same = same && l == first;
      std::memcpy(&key[r * sizeof(Label)], &l, sizeof(Label));
    }
    if (same) {
      ++out.unanimous[first];
    } else {
      ++out.wide[key];
    }
  }
}

}  // namespace

namespace cpu {

TupleHistogram count_tuples(const CaseView& v, int threads) {
  detail::validate_view(v);
  const int raters = v.rater_count();
  const int bits = detail::label_bits(v.max_label);
  const int key_bits = raters * bits;
  const bool dense = detail::key_path(raters, bits) == detail::KeyPath::kDense;
  const bool packed = detail::key_path(raters, bits) == detail::KeyPath::kPacked;
  const int64_t min_per_thread = 1 << 16;
  int parts = std::max(1, std::min<int>(threads, static_cast<int>(v.voxels / min_per_thread)));

  std::vector<Partial> partials(parts);
  // Threads take chunks in turn, so that a thread that meets more mixed voxels does not hold
  // up the others. Chunk boundaries are multiples of the block size.
  const int64_t chunk = int64_t{1} << 18;
  std::atomic<int64_t> next{0};
  parallel_ranges(parts, parts, [&](int part, int64_t, int64_t) {
    Partial& p = partials[part];
    if (dense) {
      p.dense.assign(size_t{1} << key_bits, 0);
    } else {
      p.unanimous.assign(static_cast<size_t>(v.max_label) + 1, 0);
    }
    for (int64_t begin = next.fetch_add(chunk); begin < v.voxels; begin = next.fetch_add(chunk)) {
      const int64_t end = std::min(v.voxels, begin + chunk);
      if (dense) {
        if (v.label_bytes == 1)
          count_dense_u8(v, bits, begin, end, p);
        else
          count_dense_u16(v, bits, begin, end, p);
      } else if (packed) {
        if (v.label_bytes == 1)
          count_packed<uint8_t>(v, bits, begin, end, p);
        else
          count_packed<uint16_t>(v, bits, begin, end, p);
      } else {
        if (v.label_bytes == 1)
          count_wide<uint8_t>(v, begin, end, p);
        else
          count_wide<uint16_t>(v, begin, end, p);
      }
    }
  });

  // Merge the partials.
  detail::HistogramBuilder out(raters, v.voxels, bits, v.max_label);
  if (dense) {
    for (size_t key = 0; key < partials[0].dense.size(); ++key) {
      uint64_t c = 0;
      for (const Partial& p : partials) c += p.dense[key];
      if (c != 0) out.add_key(key, c);
    }
  } else {
    for (const Partial& p : partials)
      for (size_t l = 0; l < p.unanimous.size(); ++l)
        if (p.unanimous[l] != 0) out.add_unanimous(static_cast<Label>(l), p.unanimous[l]);
    if (packed) {
      for (const Partial& p : partials)
        p.packed.for_each([&](uint64_t k, uint64_t c) { out.add_key(k, c); });
    } else {
      std::vector<Label> t(raters);
      for (const Partial& p : partials) {
        for (const auto& kv : p.wide) {
          std::memcpy(t.data(), kv.first.data(), raters * sizeof(Label));
          out.add_tuple(t.data(), kv.second);
        }
      }
    }
  }
  return out.finish();
}

}  // namespace cpu
}  // namespace maskeval
