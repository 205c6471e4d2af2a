// Boundary metrics on the CPU: exact Euclidean distance transforms (Felzenszwalb-Huttenlocher)
// on the bounding box of the masks, and the conventions of the reference tools.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "cpu/parallel.h"
#include "maskeval/distance.h"

namespace maskeval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Lower envelope of parabolas along one line of n samples `step` apart (physical units):
// d[q] = min_i (x_q - x_i)^2 + f[i]. v and z are work arrays of n and n+1 elements.
void edt_line(const double* f, double* d, int64_t n, double step, int64_t* v, double* z) {
  int64_t k = -1;
  for (int64_t q = 0; q < n; ++q) {
    if (f[q] == kInf) continue;
    const double xq = q * step;
    while (k >= 0) {
      const double xp = v[k] * step;
      const double s = ((f[q] + xq * xq) - (f[v[k]] + xp * xp)) / (2.0 * (xq - xp));
      if (s <= z[k]) {
        --k;
      } else {
        ++k;
        v[k] = q;
        z[k] = s;
        z[k + 1] = kInf;
        break;
      }
    }
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -kInf;
      z[1] = kInf;
    }
  }
  if (k < 0) {
    std::fill(d, d + n, kInf);
    return;
  }
  k = 0;
  for (int64_t q = 0; q < n; ++q) {
    const double xq = q * step;
    while (z[k + 1] < xq) ++k;
    const double dx = xq - v[k] * step;
    d[q] = dx * dx + f[v[k]];
  }
}

struct Box {
  std::array<int64_t, 3> lo{0, 0, 0}, hi{0, 0, 0};  // [lo, hi)
  bool empty = true;
};

// Bounding box of every nonzero voxel of the masks, grown by `grow` voxels within the grid.
Box bounding_box(const std::vector<const uint8_t*>& masks, const Grid& g, int64_t grow) {
  Box b;
  b.lo = {g.shape[0], g.shape[1], g.shape[2]};
  for (const uint8_t* m : masks) {
    for (int64_t z = 0; z < g.shape[2]; ++z)
      for (int64_t y = 0; y < g.shape[1]; ++y) {
        const uint8_t* row = m + (z * g.shape[1] + y) * g.shape[0];
        for (int64_t x = 0; x < g.shape[0]; ++x) {
          if (!row[x]) continue;
          b.empty = false;
          b.lo = {std::min(b.lo[0], x), std::min(b.lo[1], y), std::min(b.lo[2], z)};
          b.hi = {std::max(b.hi[0], x + 1), std::max(b.hi[1], y + 1), std::max(b.hi[2], z + 1)};
        }
      }
  }
  if (b.empty) return b;
  for (int a = 0; a < 3; ++a) {
    b.lo[a] = std::max<int64_t>(0, b.lo[a] - grow);
    b.hi[a] = std::min<int64_t>(g.shape[a], b.hi[a] + grow);
  }
  return b;
}

std::vector<uint8_t> crop(const uint8_t* m, const Grid& g, const Box& b, Grid& out) {
  out = g;
  for (int a = 0; a < 3; ++a) out.shape[a] = b.hi[a] - b.lo[a];
  std::vector<uint8_t> c(out.voxels());
  for (int64_t z = 0; z < out.shape[2]; ++z)
    for (int64_t y = 0; y < out.shape[1]; ++y)
      for (int64_t x = 0; x < out.shape[0]; ++x)
        c[(z * out.shape[1] + y) * out.shape[0] + x] =
            m[((z + b.lo[2]) * g.shape[1] + (y + b.lo[1])) * g.shape[0] + x + b.lo[0]] ? 1 : 0;
  return c;
}

// The points a mask is measured from, as indices into the work grid, and their weights (the
// surfel areas under deepmind; empty otherwise, every point counting once).
struct PointSet {
  std::vector<int64_t> index;
  std::vector<double> weight;
};

// DeepMind's corner grid over the box: corner c along an axis joins voxels lo + c - 1 and
// lo + c, so the grid is one larger than the box on each of the image's axes. Marks the surface
// corners (neither all inside nor all outside) in `feature` and lists them with their areas.
PointSet corner_surface(const uint8_t* m, const Grid& g, const Box& b, const Grid& corners,
                        const std::vector<double>& area, std::vector<uint8_t>& feature) {
  std::vector<uint8_t> code(corners.voxels(), 0);
  const int64_t cx = corners.shape[0], cxy = corners.shape[0] * corners.shape[1];
  const int dz_max = g.ndim == 3 ? 1 : 0;
  for (int64_t z = b.lo[2]; z < b.hi[2]; ++z)
    for (int64_t y = b.lo[1]; y < b.hi[1]; ++y) {
      const uint8_t* row = m + (z * g.shape[1] + y) * g.shape[0];
      for (int64_t x = b.lo[0]; x < b.hi[0]; ++x) {
        if (!row[x]) continue;
        // The voxel sits at offset d of corner v + 1 - d (crop coordinates v).
        const int64_t vx = x - b.lo[0], vy = y - b.lo[1], vz = z - b.lo[2];
        for (int dz = 0; dz <= dz_max; ++dz)
          for (int dy = 0; dy <= 1; ++dy)
            for (int dx = 0; dx <= 1; ++dx) {
              const int64_t c = (vz + dz_max - dz) * cxy + (vy + 1 - dy) * cx + (vx + 1 - dx);
              code[c] |= static_cast<uint8_t>(1 << (dx | dy << 1 | dz << 2));
            }
      }
    }
  const int full = (1 << (1 << g.ndim)) - 1;
  PointSet out;
  feature.assign(corners.voxels(), 0);
  for (int64_t c = 0; c < corners.voxels(); ++c) {
    if (code[c] == 0 || code[c] == full) continue;
    feature[c] = 1;
    out.index.push_back(c);
    out.weight.push_back(area[code[c]]);
  }
  return out;
}

// Squared distances at the points, as distances.
std::vector<double> distances_at(const PointSet& points, const std::vector<double>& d2) {
  std::vector<double> out(points.index.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::sqrt(d2[points.index[i]]);
  return out;
}

// The figures of one pair from the distances of each one's points to the other.
void unweighted_metrics(const std::vector<double>& ab, const std::vector<double>& ba,
                        const DistanceOptions& o, BoundaryMetrics& m) {
  double sum_ab = 0, sum_ba = 0;
  size_t near = 0;
  for (double d : ab) {
    sum_ab += d;
    near += d <= o.nsd_tolerance;
  }
  for (double d : ba) {
    sum_ba += d;
    near += d <= o.nsd_tolerance;
  }
  const double n_ab = static_cast<double>(ab.size()), n_ba = static_cast<double>(ba.size());
  m.nsd = static_cast<double>(near) / (n_ab + n_ba);
  if (o.convention == DistanceConvention::kItk) {
    m.assd = (sum_ab / n_ab + sum_ba / n_ba) / 2.0;
  } else {
    m.assd = (sum_ab + sum_ba) / (n_ab + n_ba);
  }
  if (o.convention == DistanceConvention::kMedpy) {
    std::vector<double> both = ab;
    both.insert(both.end(), ba.begin(), ba.end());
    m.hd_percentile = percentile_linear(std::move(both), o.percentile);
  } else {
    m.hd_percentile =
        std::max(percentile_linear(ab, o.percentile), percentile_linear(ba, o.percentile));
  }
}

void weighted_metrics(const std::vector<double>& ab, const std::vector<double>& wa,
                      const std::vector<double>& ba, const std::vector<double>& wb,
                      const DistanceOptions& o, BoundaryMetrics& m) {
  double area = 0, weighted = 0, near = 0;
  for (size_t i = 0; i < ab.size(); ++i) {
    area += wa[i];
    weighted += ab[i] * wa[i];
    if (ab[i] <= o.nsd_tolerance) near += wa[i];
  }
  for (size_t i = 0; i < ba.size(); ++i) {
    area += wb[i];
    weighted += ba[i] * wb[i];
    if (ba[i] <= o.nsd_tolerance) near += wb[i];
  }
  m.assd = weighted / area;
  m.nsd = near / area;
  m.hd_percentile = std::max(percentile_weighted(ab, wa, o.percentile),
                             percentile_weighted(ba, wb, o.percentile));
}

}  // namespace

const char* convention_name(DistanceConvention c) {
  switch (c) {
    case DistanceConvention::kMonai:
      return "monai";
    case DistanceConvention::kMedpy:
      return "medpy";
    case DistanceConvention::kItk:
      return "itk";
    case DistanceConvention::kDeepmind:
      return "deepmind";
  }
  return "monai";
}

DistanceConvention parse_convention(const std::string& name) {
  if (name == "monai") return DistanceConvention::kMonai;
  if (name == "medpy") return DistanceConvention::kMedpy;
  if (name == "itk") return DistanceConvention::kItk;
  if (name == "deepmind") return DistanceConvention::kDeepmind;
  throw std::invalid_argument("unknown distance convention '" + name +
                              "' (monai, medpy, itk or deepmind)");
}

void squared_edt(const uint8_t* feature, const Grid& g, double* d2, int threads,
                 const uint8_t* needed) {
  const int64_t n = g.voxels();
  for (int64_t i = 0; i < n; ++i) d2[i] = feature[i] ? 0.0 : kInf;
  const int64_t stride[3] = {1, g.shape[0], g.shape[0] * g.shape[1]};
  // Which lines the last two passes must compute, when only the `needed` voxels matter: the
  // last axis's lines through a needed voxel, and the previous axis's lines that cross one of
  // those (the same position along axis 0). The first axis's lines all cross them.
  const int last = g.ndim - 1;
  std::vector<uint8_t> last_lines, before_lines;
  if (needed != nullptr && last > 0) {
    last_lines.assign(stride[last], 0);
    for (int64_t i = 0; i < n; ++i)
      if (needed[i]) last_lines[i % stride[last]] = 1;
    if (last == 2) {
      before_lines.assign(g.shape[0], 0);
      for (int64_t line = 0; line < stride[2]; ++line)
        if (last_lines[line]) before_lines[line % g.shape[0]] = 1;
    }
  }
  // Whether a line (numbered `below` within its run) of `axis` must be computed.
  auto wanted = [&](int axis, int64_t below) {
    if (axis == last && !last_lines.empty()) return last_lines[below] != 0;
    if (axis == 1 && last == 2 && !before_lines.empty()) return before_lines[below] != 0;
    return true;
  };
  // Lines along an axis are taken `kGroup` at a time, neighbours in memory, so that gathering
  // and scattering a strided axis reads and writes whole cache lines.
  constexpr int64_t kGroup = 16;
  for (int axis = 0; axis < g.ndim; ++axis) {
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
      std::vector<double> f(len * group), d(len), z(len + 1);
      std::vector<int64_t> v(len);
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
          edt_line(f.data() + t * len, d.data(), len, g.spacing[axis], v.data(), z.data());
          std::copy(d.begin(), d.end(), f.begin() + t * len);
        }
        for (int64_t i = 0; i < len; ++i)
          for (int64_t t = 0; t < count; ++t) d2[start + t + i * stride[axis]] = f[t * len + i];
      }
    });
  }
}

std::vector<uint8_t> measured_points(const uint8_t* m, const Grid& g, DistanceConvention c) {
  const int64_t n = g.voxels();
  std::vector<uint8_t> out(n);
  if (c == DistanceConvention::kItk) {
    for (int64_t i = 0; i < n; ++i) out[i] = m[i] ? 1 : 0;
    return out;
  }
  // Surface: inside voxels with a face neighbour outside the mask or outside the image.
  for (int64_t z = 0; z < g.shape[2]; ++z)
    for (int64_t y = 0; y < g.shape[1]; ++y)
      for (int64_t x = 0; x < g.shape[0]; ++x) {
        const int64_t i = (z * g.shape[1] + y) * g.shape[0] + x;
        if (!m[i]) continue;
        const int64_t pos[3] = {x, y, z};
        const int64_t stride[3] = {1, g.shape[0], g.shape[0] * g.shape[1]};
        bool surface = false;
        for (int a = 0; a < g.ndim && !surface; ++a) {
          surface =
              pos[a] == 0 || pos[a] == g.shape[a] - 1 || !m[i - stride[a]] || !m[i + stride[a]];
        }
        out[i] = surface ? 1 : 0;
      }
  return out;
}

double percentile_linear(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  const double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + lo, v.end());
  const double a = v[lo];
  const double b = hi == lo ? a : *std::min_element(v.begin() + lo + 1, v.end());
  return a + (b - a) * (pos - static_cast<double>(lo));
}

double percentile_weighted(std::vector<double> v, std::vector<double> w, double p) {
  if (v.empty()) return NAN;
  // Ascending by distance, then by weight, as surface-distance sorts its (distance, area) pairs.
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return v[a] < v[b] || (v[a] == v[b] && w[a] < w[b]); });
  double total = 0;
  for (size_t i : order) total += w[i];
  const double target = p / 100.0;
  double cumulative = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    cumulative += w[order[k]];
    if (cumulative / total >= target) return v[order[k]];
  }
  return v[order.back()];
}

std::vector<BoundaryMetrics> boundary_matrix(const std::vector<const uint8_t*>& masks,
                                             const Grid& grid, const DistanceOptions& o,
                                             int threads) {
  const size_t r = masks.size();
  std::vector<BoundaryMetrics> out(r * r);
  for (size_t i = 0; i < r; ++i) out[i * r + i].nsd = 1.0;
  const bool deepmind = o.convention == DistanceConvention::kDeepmind;
  const Box box = bounding_box(masks, grid, deepmind ? 0 : 1);
  // Per mask: the points it is measured from (which are also what the others measure to) and
  // their squared distance transform, on the work grid: the box (grown by one voxel) or, under
  // deepmind, the corner grid over the box.
  Grid g = grid;
  std::vector<PointSet> points(r);
  std::vector<std::vector<double>> d2(r);
  if (!box.empty) {
    std::vector<std::vector<uint8_t>> pts(r);
    std::vector<double> area;
    if (deepmind) {
      for (int a = 0; a < 3; ++a) g.shape[a] = box.hi[a] - box.lo[a] + (a < grid.ndim ? 1 : 0);
      area = surfel_area_table(grid.ndim, grid.spacing);
    }
    for (size_t i = 0; i < r; ++i) {
      if (deepmind) {
        points[i] = corner_surface(masks[i], grid, box, g, area, pts[i]);
        continue;
      }
      const std::vector<uint8_t> c = crop(masks[i], grid, box, g);
      pts[i] = measured_points(c.data(), g, o.convention);
      for (int64_t v = 0; v < g.voxels(); ++v)
        if (pts[i][v]) points[i].index.push_back(v);
    }
    // Each transform is read only at the other masks' points.
    for (size_t i = 0; i < r; ++i) {
      std::vector<uint8_t> needed(g.voxels(), 0);
      for (size_t j = 0; j < r; ++j)
        if (j != i)
          for (int64_t v : points[j].index) needed[v] = 1;
      d2[i].resize(g.voxels());
      squared_edt(pts[i].data(), g, d2[i].data(), threads, needed.data());
    }
  }
  for (size_t i = 0; i < r; ++i) {
    for (size_t j = i + 1; j < r; ++j) {
      BoundaryMetrics m;
      const bool ei = points[i].index.empty(), ej = points[j].index.empty();
      if (ei || ej) {
        const double d = ei && ej ? NAN : o.one_empty;
        m.hd = m.hd_percentile = m.assd = m.hd_ab = m.hd_ba = d;
        m.nsd = ei && ej ? empty_value(o.empty) : 0.0;
      } else {
        const std::vector<double> ab = distances_at(points[i], d2[j]);
        const std::vector<double> ba = distances_at(points[j], d2[i]);
        m.hd_ab = *std::max_element(ab.begin(), ab.end());
        m.hd_ba = *std::max_element(ba.begin(), ba.end());
        m.hd = std::max(m.hd_ab, m.hd_ba);
        if (deepmind) {
          weighted_metrics(ab, points[i].weight, ba, points[j].weight, o, m);
        } else {
          unweighted_metrics(ab, ba, o, m);
        }
      }
      out[i * r + j] = m;
      std::swap(m.hd_ab, m.hd_ba);
      out[j * r + i] = m;
    }
  }
  return out;
}

BoundaryMetrics boundary_metrics(const uint8_t* a, const uint8_t* b, const Grid& grid,
                                 const DistanceOptions& o, int threads) {
  return boundary_matrix({a, b}, grid, o, threads)[1];
}

}  // namespace maskeval
