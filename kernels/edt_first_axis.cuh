// Per-lane logic of the EDT's first axis by warps (host and device, so a host test can run it).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define MASKEVAL_EDT_HD __host__ __device__
#else
#define MASKEVAL_EDT_HD
#endif

namespace maskeval::cuda::detail {

// One warp per row of the first axis: lane l takes element c0 + l of each chunk of kWarp
// elements, so that a warp reads kWarp neighbouring features and writes kWarp neighbouring
// distances. The chunk's features are the bits of a ballot (bit l: element c0 + l); with the
// sweep's carry (the last feature before the chunk, or the first after it) each lane finds the
// `last` and `next` features of first_axis_row (engine/edt_line.h) for its element, and the
// same arithmetic gives the same values bit for bit.
constexpr int kWarp = 32;
constexpr unsigned kFullWarp = 0xffffffffu;

// The index of the highest and of the lowest set bit of x (x != 0).
MASKEVAL_EDT_HD inline int highest_bit(unsigned x) {
#if defined(__CUDA_ARCH__)
  return 31 - __clz(x);
#else
  return 31 - __builtin_clz(x);
#endif
}
MASKEVAL_EDT_HD inline int lowest_bit(unsigned x) {
#if defined(__CUDA_ARCH__)
  return __ffs(x) - 1;
#else
  return __builtin_ctz(x);
#endif
}

// The last feature at or before element c0 + lane of the chunk; `before` when it has none there.
MASKEVAL_EDT_HD inline int64_t last_feature_upto(unsigned ballot, int lane, int64_t c0,
                                                 int64_t before) {
  const unsigned upto = ballot & (kFullWarp >> (kWarp - 1 - lane));
  return upto != 0 ? c0 + highest_bit(upto) : before;
}

// The first feature at or after element c0 + lane of the chunk; `after` when it has none there.
MASKEVAL_EDT_HD inline int64_t first_feature_from(unsigned ballot, int lane, int64_t c0,
                                                  int64_t after) {
  const unsigned from = ballot & (kFullWarp << lane);
  return from != 0 ? c0 + lowest_bit(from) : after;
}

// first_axis_row's backward sweep at element q of a row with a feature: p the last feature at
// or before q (-1: none), next the first at or after q (-1: none); the squared distance to the
// nearer, with the same operations in the same order.
MASKEVAL_EDT_HD inline double first_axis_value(int64_t q, int64_t p, int64_t next, double step) {
  if (next >= 0 && (p < 0 || next - q < q - p)) p = next;
  const double dx = static_cast<double>(q) * step - static_cast<double>(p) * step;
  return dx * dx;
}

}  // namespace maskeval::cuda::detail
