// Consumer of an installed maskeval: counts two 4x4 rater masks and prints their Dice.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "maskeval/core/metrics.h"
#include "maskeval/counts.h"

int main() {
  // Rater a marks 6 voxels, rater b 10, 4 of them in common: Dice = 2*4 / (6+10) = 0.5.
  const std::vector<uint8_t> a = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<uint8_t> b = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
  maskeval::CaseView view;
  view.voxels = static_cast<int64_t>(a.size());
  view.label_bytes = 1;
  view.max_label = 1;
  view.raters = {a.data(), b.data()};
  const maskeval::TupleHistogram h = maskeval::cpu::count_tuples(view, 1);
  for (const maskeval::LabelCounts& l : maskeval::label_counts(h)) {
    if (l.label != 1) continue;
    const double d =
        maskeval::dice(l.inter(0, 1), l.volume[0], l.volume[1], maskeval::EmptyPolicy::kNaN);
    std::printf("label 1: volumes %llu %llu, intersection %llu, dice %.17g\n",
                static_cast<unsigned long long>(l.volume[0]),
                static_cast<unsigned long long>(l.volume[1]),
                static_cast<unsigned long long>(l.inter(0, 1)), d);
    return 0;
  }
  std::printf("label 1 not counted\n");
  return 1;
}
