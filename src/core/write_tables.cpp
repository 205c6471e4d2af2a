// The write tables of majority, STAPLE and multi-label STAPLE, from the histogram's entries.
#include "maskeval/write_tables.h"

#include <stdexcept>
#include <string>
#include <unordered_map>

namespace maskeval {
namespace {

int raters_of(const TupleHistogram& h, int raters) {
  return raters < 0 ? h.raters : raters;
}

bool all_same(const Label* t, int n) {
  for (int r = 1; r < n; ++r)
    if (t[r] != t[0]) return false;
  return true;
}

WriteColumn column(WriteType type, void* out, size_t entries) {
  WriteColumn c;
  c.type = type;
  c.out = out;
  if (type == WriteType::kF32) {
    c.values.resize(entries);
  } else {
    c.labels.resize(entries);
  }
  return c;
}

}  // namespace

WriteTable vote_table(const TupleHistogram& h, const VoteRule& rule, const VoteMaps& out,
                      int raters) {
  const int r = raters_of(h, raters);
  const size_t n = entry_count(h);
  WriteColumn major = column(WriteType::kU16, out.majority, n);
  WriteColumn agree = column(WriteType::kF32, out.agreement, n);
  WriteColumn entropy = column(WriteType::kF32, out.entropy, n);
  for_each_entry(h, [&](size_t e, const Label* t) {
    if (all_same(t, r)) {  // every rater agrees
      major.labels[e] = t[0];
      agree.values[e] = 1.0f;
      entropy.values[e] = 0.0f;
      return;
    }
    const Vote v = vote_of(t, r, rule);
    major.labels[e] = v.majority;
    agree.values[e] = static_cast<float>(v.agreement);
    entropy.values[e] = static_cast<float>(v.entropy);
  });
  WriteTable table;
  table.push_back(std::move(major));
  table.push_back(std::move(agree));
  table.push_back(std::move(entropy));
  return table;
}

WriteTable staple_table(const TupleHistogram& h, Label label, const BinaryPatterns& patterns,
                        const StapleResult& result, double threshold, float* posterior,
                        uint8_t* mask, int raters) {
  const int r = raters_of(h, raters);
  if (patterns.raters != r) throw std::invalid_argument("STAPLE patterns of other raters");
  std::unordered_map<std::string, double> by_pattern;
  for (size_t row = 0; row < patterns.rows(); ++row)
    by_pattern.emplace(std::string(reinterpret_cast<const char*>(patterns.pattern(row)), r),
                       result.posterior.at(row));
  const size_t n = entry_count(h);
  WriteColumn w = column(WriteType::kF32, posterior, n);
  WriteColumn in = column(WriteType::kU8, mask, n);
  std::string key(r, '\0');
  for_each_entry(h, [&](size_t e, const Label* t) {
    for (int k = 0; k < r; ++k) key[k] = t[k] == label ? 1 : 0;
    const auto it = by_pattern.find(key);
    const double p = it == by_pattern.end() ? 0.0 : it->second;  // a pattern no voxel carries
    w.values[e] = static_cast<float>(p);
    in.labels[e] = p >= threshold ? 1 : 0;
  });
  WriteTable table;
  table.push_back(std::move(w));
  table.push_back(std::move(in));
  return table;
}

WriteTable mlstaple_table(const TupleHistogram& h, const MlStapleResult& result, Label* out,
                          int raters) {
  const int r = raters_of(h, raters);
  if (result.raters != r) throw std::invalid_argument("ML-STAPLE result of other raters");
  WriteColumn c = column(WriteType::kU16, out, entry_count(h));
  for_each_entry(h, [&](size_t e, const Label* t) { c.labels[e] = mlstaple_label(result, t); });
  WriteTable table;
  table.push_back(std::move(c));
  return table;
}

WriteColumn mask_column(const TupleHistogram& h, int column_index, Label label, uint8_t* out) {
  WriteColumn c = column(WriteType::kU8, out, entry_count(h));
  for_each_entry(h, [&](size_t e, const Label* t) {
    c.labels[e] = t[column_index] == label && entry_voxels(h, e) > 0;
  });
  return c;
}

}  // namespace maskeval
