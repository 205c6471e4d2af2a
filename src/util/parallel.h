// A minimal fork-join helper for the CPU engine.
#pragma once

#include <cstdint>
#include <functional>

namespace maskeval {

// Number of hardware threads, at least 1.
int hardware_threads();

// Splits [0, n) into `parts` contiguous ranges and runs fn(part, begin, end) for each, on
// `parts` threads (the calling thread takes part 0). Exceptions are rethrown in the caller.
void parallel_ranges(int64_t n, int parts,
                     const std::function<void(int part, int64_t begin, int64_t end)>& fn);

}  // namespace maskeval
