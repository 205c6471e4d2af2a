// The vote of a voxel (majority label, agreement, entropy) and the CPU write pass.
#include <algorithm>
#include <map>
#include <stdexcept>

#include "engine/tuple_keys.h"
#include "util/parallel.h"
#include "maskeval/counts.h"

namespace maskeval {

Vote vote_of(const Label* tuple, int raters, const VoteRule& rule) {
  // Sort a copy of the tuple: runs of equal labels are the vote counts, ascending by label.
  Label sorted[kMaxRaters];
  std::copy(tuple, tuple + raters, sorted);
  std::sort(sorted, sorted + raters);
  int counts[kMaxRaters];
  int n_counts = 0, best = 0, winners = 0;
  Label winner = 0;
  for (int i = 0; i < raters;) {
    int j = i;
    while (j < raters && sorted[j] == sorted[i]) ++j;
    const int c = j - i;
    counts[n_counts++] = c;
    if (c > best) {
      best = c;
      winner = sorted[i];  // ascending: the first label to reach `best` is the lowest
      winners = 1;
    } else if (c == best) {
      ++winners;
    }
    i = j;
  }
  Vote v;
  v.top_votes = best;
  v.majority = (winners > 1 && rule.tie == TiePolicy::kUndecided) ? rule.undecided : winner;
  v.agreement = static_cast<double>(best) / raters;
  v.entropy = vote_entropy(counts, n_counts, raters, rule.categories);
  return v;
}

std::vector<std::pair<Label, uint64_t>> majority_counts(const TupleHistogram& h,
                                                        const VoteRule& rule) {
  std::map<Label, uint64_t> counts;
  for (size_t i = 0; i < h.unanimous_labels.size(); ++i)
    counts[h.unanimous_labels[i]] += h.unanimous_counts[i];
  for (size_t row = 0; row < h.rows(); ++row)
    counts[vote_of(h.tuple(row), h.raters, rule).majority] += h.counts[row];
  return {counts.begin(), counts.end()};
}

namespace {

// Each voxel's packed key (rater r's label in bits [r*bits, (r+1)*bits)), a block at a time.
template <class T>
void keys_of(const CaseView& v, int bits, int64_t start, int64_t n, uint32_t* __restrict keys) {
  for (int64_t i = 0; i < n; ++i) keys[i] = 0;
  for (int r = 0; r < v.rater_count(); ++r) {
    const T* __restrict x = static_cast<const T*>(v.raters[r]) + start;
    const int shift = r * bits;
    for (int64_t i = 0; i < n; ++i) keys[i] |= static_cast<uint32_t>(x[i]) << shift;
  }
}

// The write pass through a table over every key, for cases whose keys fit 16 bits: the same
// values as vote_of per voxel, computed once per key.
void vote_maps_by_table(const CaseView& v, int bits, const VoteRule& rule, const VoteMaps& out,
                        int parts) {
  const int raters = v.rater_count();
  const size_t size = size_t{1} << (raters * bits);
  std::vector<Label> major(size);
  std::vector<float> agree(size), entropy(size);
  std::vector<Label> tuple(raters);
  const uint32_t mask = (1u << bits) - 1;
  for (size_t k = 0; k < size; ++k) {
    for (int r = 0; r < raters; ++r) tuple[r] = static_cast<Label>((k >> (r * bits)) & mask);
    bool same = true;
    for (int r = 1; r < raters; ++r) same = same && tuple[r] == tuple[0];
    if (same) {  // as the voxel path writes unanimous voxels
      major[k] = tuple[0];
      agree[k] = 1.0f;
      entropy[k] = 0.0f;
      continue;
    }
    const Vote vote = vote_of(tuple.data(), raters, rule);
    major[k] = vote.majority;
    agree[k] = static_cast<float>(vote.agreement);
    entropy[k] = static_cast<float>(vote.entropy);
  }
  parallel_ranges(v.voxels, parts, [&](int, int64_t begin, int64_t end) {
    constexpr int64_t kBlock = 1024;
    uint32_t keys[kBlock];
    for (int64_t start = begin; start < end; start += kBlock) {
      const int64_t n = std::min(kBlock, end - start);
      if (v.label_bytes == 1) {
        keys_of<uint8_t>(v, bits, start, n, keys);
      } else {
        keys_of<uint16_t>(v, bits, start, n, keys);
      }
      if (out.majority)
        for (int64_t i = 0; i < n; ++i) out.majority[start + i] = major[keys[i]];
      if (out.agreement)
        for (int64_t i = 0; i < n; ++i) out.agreement[start + i] = agree[keys[i]];
      if (out.entropy)
        for (int64_t i = 0; i < n; ++i) out.entropy[start + i] = entropy[keys[i]];
    }
  });
}

}  // namespace

namespace cpu {

void vote_maps(const CaseView& v, const VoteRule& rule, const VoteMaps& out, int threads) {
  const int raters = v.rater_count();
  if (raters < 1 || raters > kMaxRaters) throw std::invalid_argument("bad rater count");
  const int parts = std::max(1, std::min<int>(threads, static_cast<int>(v.voxels >> 16)));
  const int bits = detail::label_bits(v.max_label);
  if (detail::key_path(raters, bits) == detail::KeyPath::kDense &&
      v.voxels >= (int64_t{4} << (raters * bits))) {
    vote_maps_by_table(v, bits, rule, out, parts);
    return;
  }
  const float unanimous_entropy = 0.0f;
  parallel_ranges(v.voxels, parts, [&](int, int64_t begin, int64_t end) {
    Label tuple[kMaxRaters];
    for (int64_t i = begin; i < end; ++i) {
      bool same = true;
      for (int r = 0; r < raters; ++r) {
        tuple[r] = v.at(r, i);
        same = same && tuple[r] == tuple[0];
      }
      if (same) {
        if (out.majority) out.majority[i] = tuple[0];
        if (out.agreement) out.agreement[i] = 1.0f;
        if (out.entropy) out.entropy[i] = unanimous_entropy;
        continue;
      }
      const Vote vote = vote_of(tuple, raters, rule);
      if (out.majority) out.majority[i] = vote.majority;
      if (out.agreement) out.agreement[i] = static_cast<float>(vote.agreement);
      if (out.entropy) out.entropy[i] = static_cast<float>(vote.entropy);
    }
  });
}

}  // namespace cpu
}  // namespace maskeval
