// "Did you mean": the known word nearest to a mistyped one.
#pragma once

#include <string>
#include <vector>

namespace maskeval {

// The candidate nearest to `word` by edit distance, when it is near enough to be a typo (at
// most a third of the word's length, and at least 1, edits); "" otherwise.
std::string nearest_word(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace maskeval
