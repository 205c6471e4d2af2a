// The CPU engine's write pass: each voxel's outputs looked up by its histogram entry.
#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "engine/tuple_keys.h"
#include "maskeval/engine.h"
#include "maskeval/staple.h"
#include "maskeval/write_tables.h"
#include "util/parallel.h"

namespace maskeval {
namespace {

constexpr int64_t kBlock = 1024;

// One output column with its values indexed by lookup index (a key on the dense path, an entry
// on the others).
struct Output {
  WriteType type;
  std::vector<uint8_t> u8;
  std::vector<uint16_t> u16;
  std::vector<float> f32;
  void* out;
};

// Output columns re-indexed through `index_entry` (lookup index -> entry).
std::vector<Output> outputs(const WriteTable& table, const std::vector<int32_t>& index_entry) {
  std::vector<Output> outs;
  for (const WriteColumn& c : table) {
    if (!c.out) continue;
    Output o{c.type, {}, {}, {}, c.out};
    for (const int32_t e : index_entry) {
      if (c.type == WriteType::kF32) {
        o.f32.push_back(c.values.at(e));
      } else if (c.type == WriteType::kU16) {
        o.u16.push_back(c.labels.at(e));
      } else {
        o.u8.push_back(static_cast<uint8_t>(c.labels.at(e)));
      }
    }
    outs.push_back(std::move(o));
  }
  return outs;
}

// A block whose voxels all share one index (inside or outside every mask: most of a volume):
// each column filled with its value.
bool write_uniform(const std::vector<Output>& outs, const uint32_t* index, int64_t start,
                   int64_t n) {
  uint32_t differ = 0;
  for (int64_t i = 1; i < n; ++i) differ |= index[i] ^ index[0];
  if (differ != 0) return false;
  for (const Output& o : outs) {
    if (o.type == WriteType::kF32) {
      std::fill_n(static_cast<float*>(o.out) + start, n, o.f32[index[0]]);
    } else if (o.type == WriteType::kU16) {
      std::fill_n(static_cast<uint16_t*>(o.out) + start, n, o.u16[index[0]]);
    } else {
      std::fill_n(static_cast<uint8_t*>(o.out) + start, n, o.u8[index[0]]);
    }
  }
  return true;
}

void write_block(const std::vector<Output>& outs, const uint32_t* index, int64_t start, int64_t n) {
  if (write_uniform(outs, index, start, n)) return;
  for (const Output& o : outs) {
    if (o.type == WriteType::kF32) {
      float* dst = static_cast<float*>(o.out) + start;
      for (int64_t i = 0; i < n; ++i) dst[i] = o.f32[index[i]];
    } else if (o.type == WriteType::kU16) {
      uint16_t* dst = static_cast<uint16_t*>(o.out) + start;
      for (int64_t i = 0; i < n; ++i) dst[i] = o.u16[index[i]];
    } else {
      uint8_t* dst = static_cast<uint8_t*>(o.out) + start;
      for (int64_t i = 0; i < n; ++i) dst[i] = o.u8[index[i]];
    }
  }
}

// Dense keys of a block (rater r's label in bits [r*bits, (r+1)*bits)).
template <class T>
void dense_keys(const CaseView& v, int bits, int64_t start, int64_t n, uint32_t* __restrict keys) {
  for (int64_t i = 0; i < n; ++i) keys[i] = 0;
  for (int r = 0; r < v.rater_count(); ++r) {
    const T* __restrict x = static_cast<const T*>(v.raters[r]) + start;
    const int shift = r * bits;
    for (int64_t i = 0; i < n; ++i) keys[i] |= static_cast<uint32_t>(x[i]) << shift;
  }
}

uint64_t key_of(const Label* t, int raters, int bits) {
  uint64_t k = 0;
  for (int r = 0; r < raters; ++r) k |= static_cast<uint64_t>(t[r]) << (r * bits);
  return k;
}

// Dense path: the columns indexed by key directly.
void write_dense(const CaseView& v, const TupleHistogram& h, const WriteTable& table, int bits,
                 int parts) {
  std::vector<int32_t> key_entry(size_t{1} << (v.rater_count() * bits), 0);
  for_each_entry(h, [&](size_t e, const Label* t) {
    key_entry[key_of(t, v.rater_count(), bits)] = static_cast<int32_t>(e);
  });
  const std::vector<Output> outs = outputs(table, key_entry);
  parallel_ranges(v.voxels, parts, [&](int, int64_t begin, int64_t end) {
    uint32_t keys[kBlock];
    for (int64_t start = begin; start < end; start += kBlock) {
      const int64_t n = std::min(kBlock, end - start);
      if (v.label_bytes == 1) {
        dense_keys<uint8_t>(v, bits, start, n, keys);
      } else {
        dense_keys<uint16_t>(v, bits, start, n, keys);
      }
      write_block(outs, keys, start, n);
    }
  });
}

// The entry of a voxel's tuple: unanimous labels by label, mixed tuples by key (packed) or by
// binary search of the histogram's sorted rows (wide).
class EntryFinder {
 public:
  EntryFinder(const TupleHistogram& h, int bits) : h_(h), bits_(bits) {
    unanimous_.assign(size_t{kMaxLabel} + 1, 0);
    for (size_t e = 0; e < h.unanimous_labels.size(); ++e)
      unanimous_[h.unanimous_labels[e]] = static_cast<uint32_t>(e);
    packed_ = detail::key_path(h.raters, bits) == detail::KeyPath::kPacked;
    if (packed_)
      for (size_t row = 0; row < h.rows(); ++row)
        by_key_[key_of(h.tuple(row), h.raters, bits)] = static_cast<uint32_t>(offset() + row);
  }
  uint32_t find(const Label* t) const {
    bool same = true;
    for (int r = 1; r < h_.raters; ++r) same = same && t[r] == t[0];
    if (same) return unanimous_[t[0]];
    if (packed_) {
      const auto it = by_key_.find(key_of(t, h_.raters, bits_));
      return it == by_key_.end() ? 0 : it->second;
    }
    size_t lo = 0, hi = h_.rows();
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (std::lexicographical_compare(h_.tuple(mid), h_.tuple(mid) + h_.raters, t, t + h_.raters))
        lo = mid + 1;
      else
        hi = mid;
    }
    return static_cast<uint32_t>(offset() + std::min(lo, h_.rows() - 1));
  }

 private:
  size_t offset() const { return h_.unanimous_labels.size(); }
  const TupleHistogram& h_;
  int bits_;
  bool packed_ = false;
  std::vector<uint32_t> unanimous_;
  std::unordered_map<uint64_t, uint32_t> by_key_;
};

void write_by_entry(const CaseView& v, const TupleHistogram& h, const WriteTable& table, int bits,
                    int parts) {
  std::vector<int32_t> identity(entry_count(h));
  for (size_t e = 0; e < identity.size(); ++e) identity[e] = static_cast<int32_t>(e);
  const std::vector<Output> outs = outputs(table, identity);
  const EntryFinder finder(h, bits);
  parallel_ranges(v.voxels, parts, [&](int, int64_t begin, int64_t end) {
    uint32_t entries[kBlock];
    Label t[kMaxRaters];
    for (int64_t start = begin; start < end; start += kBlock) {
      const int64_t n = std::min(kBlock, end - start);
      for (int64_t i = 0; i < n; ++i) {
        for (int r = 0; r < v.rater_count(); ++r) t[r] = v.at(r, start + i);
        entries[i] = finder.find(t);
      }
      write_block(outs, entries, start, n);
    }
  });
}

}  // namespace

namespace cpu {

void write(const CaseView& v, const TupleHistogram& h, const WriteTable& table, int threads) {
  const int raters = v.rater_count();
  if (raters < 1 || raters > kMaxRaters || h.raters != raters || h.voxels != v.voxels)
    throw std::invalid_argument("write pass: the histogram is not the case's");
  if (table.empty() || v.voxels == 0) return;
  for (const WriteColumn& c : table)
    if ((c.type == WriteType::kF32 ? c.values.size() : c.labels.size()) != entry_count(h))
      throw std::invalid_argument("write pass: a column's table is not one value per entry");
  const int parts = std::max(1, std::min<int>(threads, static_cast<int>(v.voxels >> 16)));
  const int bits = detail::label_bits(v.max_label);
  if (detail::key_path(raters, bits) == detail::KeyPath::kDense) {
    write_dense(v, h, table, bits, parts);
  } else {
    write_by_entry(v, h, table, bits, parts);
  }
}

void vote_maps(const CaseView& view, const VoteRule& rule, const VoteMaps& out, int threads) {
  const TupleHistogram h = count_tuples(view, threads);
  write(view, h, vote_table(h, rule, out), threads);
}

void staple_maps(const CaseView& view, Label label, const BinaryPatterns& patterns,
                 const StapleResult& result, double threshold, float* posterior, uint8_t* mask,
                 int threads) {
  const TupleHistogram h = count_tuples(view, threads);
  write(view, h, staple_table(h, label, patterns, result, threshold, posterior, mask), threads);
}

void mlstaple_map(const CaseView& view, const MlStapleResult& result, Label* out, int threads) {
  const TupleHistogram h = count_tuples(view, threads);
  write(view, h, mlstaple_table(h, result, out), threads);
}

}  // namespace cpu
}  // namespace maskeval
