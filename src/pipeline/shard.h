// --shard I/N: a deterministic share of a dataset's cases, balanced by the bytes of their files.
#pragma once

#include <string>

#include "maskeval/run.h"

namespace maskeval {

struct Shard {
  int index = 0, count = 0;  // 0 <= index < count; count 0: the whole dataset
};

// "I/N" (0 <= I < N <= 100000). Throws UsageError with the reason.
Shard parse_shard(const std::string& text);

// Sets every case's out_folder from the whole listing (case_folders), before any is left out.
void assign_case_folders(Dataset& data);

// Keeps the cases of shard `s`. Each case goes, largest first (bytes of its files; ties by id),
// to the shard holding the fewest bytes so far (ties: the lowest index), so the shares depend on
// the set of cases and their sizes only, never on the order of the listing.
void take_shard(Dataset& data, const Shard& s);

}  // namespace maskeval
