// The vote of a tuple (majority label, agreement, entropy) and the majority counts of a case.
#include <algorithm>
#include <map>

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

}  // namespace maskeval
