// Shared by the CPU and CUDA engines: how a case's tuples are keyed, and the assembly of
// counted keys into a TupleHistogram in canonical order (so both engines produce identical ones).
#pragma once

#include <vector>

#include "maskeval/counts.h"

namespace maskeval::detail {

// Throws std::invalid_argument when a view cannot be counted (rater count, label width, null
// arrays), with the same message on both engines.
void validate_view(const CaseView& v);

// Bits per label in a packed key: the bit width of the largest label (at least 1).
int label_bits(Label max_label);

// How a case is counted: a dense histogram over keys of up to 16 bits, a table of packed 64-bit
// keys, or (wider tuples) a table keyed by the tuple itself.
enum class KeyPath { kDense, kPacked, kWide };
KeyPath key_path(int raters, int bits);

class HistogramBuilder {
 public:
  HistogramBuilder(int raters, int64_t voxels, int bits, Label max_label);
  void add_unanimous(Label label, uint64_t count);
  // A packed key (rater r in bits [r*bits, (r+1)*bits)); unanimous keys are recognised.
  void add_key(uint64_t key, uint64_t count);
  void add_tuple(const Label* tuple, uint64_t count);
  // Sorts the rows, merges rows with equal tuples, drops zero counts.
  TupleHistogram finish();

 private:
  int raters_, bits_;
  int64_t voxels_;
  std::vector<uint64_t> unanimous_;
  std::vector<Label> tuples_;
  std::vector<uint64_t> counts_;
  std::vector<Label> scratch_;
};

}  // namespace maskeval::detail
