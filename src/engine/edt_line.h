// The one-dimensional exact distance transform shared by the CPU engine and the CUDA kernels, so
// that both compute the same operations in the same order (bit-identical results; the CUDA code
// is compiled without fused multiply-add).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "maskeval/distance.h"

#if defined(__CUDACC__)
#define MASKEVAL_HOST_DEVICE __host__ __device__
#else
#define MASKEVAL_HOST_DEVICE
#endif

namespace maskeval::detail {

// Lower envelope of parabolas along one line of n samples `step` apart (physical units):
// d[q] = min_i (x_q - x_i)^2 + f[i] (Felzenszwalb and Huttenlocher), element q of f at f[q * fs]
// and of d at d[q * ds]; d may be f (the envelope keeps what it needs). The envelope's k-th
// parabola is centred at xv[k], has the value fv[k] there (hv[k] = fv[k] + xv[k]^2), and wins
// from its left boundary num[k] / den[k] on (den > 0). Boundaries are kept as fractions and
// compared by cross-multiplication, so that building the envelope divides nothing. `work`
// holds five arrays of n elements, element k of array j at work[(j * n + k) * ws].
MASKEVAL_HOST_DEVICE inline void edt_line(const double* f, int64_t fs, double* d, int64_t ds,
                                          int64_t n, double step, double* work, int64_t ws) {
  const double inf = static_cast<double>(INFINITY);
  double* xv = work;
  double* fv = work + n * ws;
  double* hv = work + 2 * n * ws;
  double* num = work + 3 * n * ws;
  double* den = work + 4 * n * ws;
  int64_t q = 0;
  while (q < n && f[q * fs] == inf) ++q;
  if (q == n) {
    for (int64_t i = 0; i < n; ++i) d[i * ds] = inf;
    return;
  }
  int64_t k = 0;  // the first parabola wins from -infinity
  xv[0] = static_cast<double>(q) * step;
  fv[0] = f[q * fs];
  hv[0] = fv[0] + xv[0] * xv[0];
  for (++q; q < n; ++q) {
    const double fq = f[q * fs];
    if (fq == inf) continue;
    const double xq = static_cast<double>(q) * step;
    const double hq = fq + xq * xq;
    // Where parabola q overtakes parabola k: s = (hq - hv[k]) / (2 (xq - xv[k])). Parabola k
    // is hidden when that is at or before k's own left boundary.
    double s_num = hq - hv[k * ws], s_den = 2.0 * (xq - xv[k * ws]);
    while (k > 0 && s_num * den[k * ws] <= num[k * ws] * s_den) {
      --k;
      s_num = hq - hv[k * ws];
      s_den = 2.0 * (xq - xv[k * ws]);
    }
    ++k;
    xv[k * ws] = xq;
    fv[k * ws] = fq;
    hv[k * ws] = hq;
    num[k * ws] = s_num;
    den[k * ws] = s_den;
  }
  const int64_t last = k;
  k = 0;
  for (q = 0; q < n; ++q) {
    const double xq = static_cast<double>(q) * step;
    while (k < last && num[(k + 1) * ws] < xq * den[(k + 1) * ws]) ++k;
    const double dx = xq - xv[k * ws];
    d[q * ds] = dx * dx + fv[k * ws];
  }
}

// The first axis of a binary feature map, one row of `len` samples: d[q] = the squared distance
// to the row's nearest feature, +infinity on a row without one. A forward sweep keeps the last
// feature's index in d (as a double), a backward sweep picks the nearer of it and the next one.
MASKEVAL_HOST_DEVICE inline void first_axis_row(const uint8_t* f, double* d, int64_t len,
                                                double step) {
  int64_t last = -1;
  for (int64_t q = 0; q < len; ++q) {
    if (f[q]) last = q;
    d[q] = static_cast<double>(last);
  }
  if (last < 0) {
    for (int64_t q = 0; q < len; ++q) d[q] = static_cast<double>(INFINITY);
    return;
  }
  int64_t next = -1;
  for (int64_t q = len - 1; q >= 0; --q) {
    if (f[q]) next = q;
    int64_t p = static_cast<int64_t>(d[q]);
    if (next >= 0 && (p < 0 || next - q < q - p)) p = next;
    const double dx = static_cast<double>(q) * step - static_cast<double>(p) * step;
    d[q] = dx * dx;
  }
}

// The lines along `axis` (1 or 2) that squared_edt computes: all of them, or with `needed` those
// whose results can reach a needed voxel. Each as the index of its first voxel.
std::vector<int64_t> needed_lines(const Grid& g, int axis, const uint8_t* needed);
// The same for the voxels listed in `at`.
std::vector<int64_t> needed_lines(const Grid& g, int axis, const std::vector<int64_t>& at);

}  // namespace maskeval::detail
