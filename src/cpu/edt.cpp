// Exact squared Euclidean distance transforms with spacing on the CPU: the first axis from the
// features in two sweeps, then Felzenszwalb and Huttenlocher's lower envelope along each later
// axis (engine/edt_line.h, shared with the CUDA kernels), skipping the lines that cannot reach a
// needed voxel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "engine/edt_line.h"
#include "maskeval/distance.h"
#include "util/parallel.h"

namespace maskeval {
namespace {

// Which lines the last two passes of squared_edt must compute, when only the `needed` voxels
// matter: the last axis's lines through a needed voxel, and the previous axis's lines that
// cross one of those (the same position along axis 0). The first axis's lines all cross them.
class LineFilter {
 public:
  // Needed: the voxels marked in `needed` (all of them when it is null).
  LineFilter(const Grid& g, const uint8_t* needed) : last_(g.ndim - 1) {
    if (needed == nullptr || last_ == 0) return;
    start(g);
    const int64_t n = g.voxels();
    for (int64_t i = 0; i < n; ++i)
      if (needed[i]) last_lines_[i % stride_last_] = 1;
    finish(g);
  }
  // Needed: the voxels listed.
  LineFilter(const Grid& g, const std::vector<int64_t>& at) : last_(g.ndim - 1) {
    if (last_ == 0) return;
    start(g);
    for (int64_t i : at) last_lines_[i % stride_last_] = 1;
    finish(g);
  }
  // Whether a line of `axis` (numbered `below` among its run of neighbouring lines) is needed.
  bool wanted(int axis, int64_t below) const {
    if (axis == last_ && !last_lines_.empty()) return last_lines_[below] != 0;
    if (axis == 1 && last_ == 2 && !before_lines_.empty()) return before_lines_[below] != 0;
    return true;
  }

 private:
  void start(const Grid& g) {
    stride_last_ = last_ == 1 ? g.shape[0] : g.shape[0] * g.shape[1];
    last_lines_.assign(stride_last_, 0);
  }
  void finish(const Grid& g) {
    if (last_ != 2) return;
    before_lines_.assign(g.shape[0], 0);
    for (int64_t line = 0; line < stride_last_; ++line)
      if (last_lines_[line]) before_lines_[line % g.shape[0]] = 1;
  }
  int last_;
  int64_t stride_last_ = 0;
  std::vector<uint8_t> last_lines_, before_lines_;
};

// squared_edt on the lines the filter keeps.
void transform(const uint8_t* feature, const Grid& g, double* d2, int threads,
               const LineFilter& filter) {
  const int64_t n = g.voxels();
  // Axis 0 straight from the features: along each row, the squared distance to the row's
  // nearest feature (two sweeps), +infinity on rows without one.
  const int64_t len0 = g.shape[0], rows = n / len0;
  const double step0 = g.spacing[0];
  const int row_parts = std::max(1, std::min<int>(threads, static_cast<int>(rows / 64 + 1)));
  parallel_ranges(rows, row_parts, [&](int, int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      detail::first_axis_row(feature + r * len0, d2 + r * len0, len0, step0);
  });
  const int64_t stride[3] = {1, g.shape[0], g.shape[0] * g.shape[1]};
  auto wanted = [&](int axis, int64_t below) { return filter.wanted(axis, below); };
  // Lines along an axis are taken `kGroup` at a time, neighbours in memory, so that gathering
  // and scattering a strided axis reads and writes whole cache lines.
  constexpr int64_t kGroup = 16;
  for (int axis = 1; axis < g.ndim; ++axis) {
    const int64_t len = g.shape[axis];
    if (len < 2) continue;  // a line of one sample is its own transform
    // Lines along the axis: `runs` runs of `stride[axis]` neighbouring lines; each run is cut
    // into groups of up to kGroup.
    const int64_t runs = n / (len * stride[axis]);
    const int64_t group = std::min(kGroup, stride[axis]);
    const int64_t per_run = (stride[axis] + group - 1) / group;
    const int64_t groups = runs * per_run;
    const int parts = std::max(1, std::min<int>(threads, static_cast<int>(groups / 8 + 1)));
    parallel_ranges(groups, parts, [&](int, int64_t begin, int64_t end) {
      std::vector<double> f(len * group), work(5 * len);
      for (int64_t gi = begin; gi < end; ++gi) {
        const int64_t run = gi / per_run, below = (gi % per_run) * group;
        const int64_t count = std::min(group, stride[axis] - below);
        bool any = false;
        for (int64_t t = 0; t < count && !any; ++t) any = wanted(axis, below + t);
        if (!any) continue;
        const int64_t start = run * stride[axis] * len + below;
        for (int64_t i = 0; i < len; ++i)
          for (int64_t t = 0; t < count; ++t) f[t * len + i] = d2[start + t + i * stride[axis]];
        for (int64_t t = 0; t < count; ++t) {
          double* line = f.data() + t * len;
          detail::edt_line(line, 1, line, 1, len, g.spacing[axis], work.data(), 1);
        }
        for (int64_t i = 0; i < len; ++i)
          for (int64_t t = 0; t < count; ++t) d2[start + t + i * stride[axis]] = f[t * len + i];
      }
    });
  }
}

}  // namespace

void squared_edt(const uint8_t* feature, const Grid& g, double* d2, const uint8_t* needed,
                 int threads) {
  transform(feature, g, d2, threads, LineFilter(g, needed));
}

void squared_edt_at(const uint8_t* feature, const Grid& g, const std::vector<int64_t>& at,
                    double* out, int threads) {
  std::unique_ptr<double[]> buffer(new double[g.voxels()]);  // every element is written
  transform(feature, g, buffer.get(), threads, LineFilter(g, at));
  for (size_t k = 0; k < at.size(); ++k) out[k] = buffer[at[k]];
}

namespace {

std::vector<int64_t> lines_of(const Grid& g, int axis, const LineFilter& filter) {
  const int64_t len = g.shape[axis];
  const int64_t stride = axis == 1 ? g.shape[0] : g.shape[0] * g.shape[1];
  const int64_t runs = g.voxels() / (len * stride);
  std::vector<int64_t> out;
  for (int64_t run = 0; run < runs; ++run)
    for (int64_t below = 0; below < stride; ++below)
      if (filter.wanted(axis, below)) out.push_back(run * stride * len + below);
  return out;
}

}  // namespace

namespace detail {

std::vector<int64_t> needed_lines(const Grid& g, int axis, const uint8_t* needed) {
  return lines_of(g, axis, LineFilter(g, needed));
}

std::vector<int64_t> needed_lines(const Grid& g, int axis, const std::vector<int64_t>& at) {
  return lines_of(g, axis, LineFilter(g, at));
}

}  // namespace detail

}  // namespace maskeval
