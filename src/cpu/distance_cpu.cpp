// Boundary metrics: the points each convention measures from, the boxes the distance transforms
// (edt.cpp, or the CUDA engine's) run on, one per piece of foreground when they can be, and the
// figures of each convention.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "maskeval/distance.h"
#include "util/parallel.h"

namespace maskeval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Box {
  std::array<int64_t, 3> lo{0, 0, 0}, hi{0, 0, 0};  // [lo, hi)
};

// Index of the first nonzero byte of p[0, n), or n; eight bytes at a time.
int64_t first_nonzero(const uint8_t* p, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    if (word != 0) break;
  }
  for (; i < n; ++i)
    if (p[i]) return i;
  return n;
}

// Index of the last nonzero byte of p[0, n), or -1; eight bytes at a time.
int64_t last_nonzero(const uint8_t* p, int64_t n) {
  int64_t i = n;
  for (; i >= 8; i -= 8) {
    uint64_t word;
    std::memcpy(&word, p + i - 8, 8);
    if (word != 0) break;
  }
  for (; i > 0; --i)
    if (p[i - 1]) return i - 1;
  return -1;
}

// Appends the index of every nonzero byte of p[0, n), plus `base`; skips zero words.
void append_nonzero(const uint8_t* p, int64_t n, int64_t base, std::vector<int64_t>& out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    if (word == 0) continue;
    for (int64_t k = i; k < i + 8; ++k)
      if (p[k]) out.push_back(base + k);
  }
  for (; i < n; ++i)
    if (p[i]) out.push_back(base + i);
}

// The points of mask m (on grid g) that lie in box b, one byte per voxel of the box: every
// foreground voxel (itk) or the surface voxels, inside with a face neighbour outside the mask
// or outside the image. Rows on the image's border along y or z are all surface; within the
// others, eight voxels at a time on 0/1 masks (byte-wise AND and NOT of the six neighbours).
// Slabs of z go to `threads` threads.
std::vector<uint8_t> points_in_box(const uint8_t* m, const Grid& g, const Box& b,
                                   DistanceConvention c, int threads) {
  const int64_t bx = b.hi[0] - b.lo[0], by = b.hi[1] - b.lo[1], bz = b.hi[2] - b.lo[2];
  std::vector<uint8_t> out(bx * by * bz, 0);
  const int64_t nx = g.shape[0], sy = nx, sz = nx * g.shape[1];
  auto word = [](const uint8_t* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  constexpr uint64_t kHigh = 0xFEFEFEFEFEFEFEFEull;  // bits that a 0/1 byte never sets
  auto slab = [&](int, int64_t z_begin, int64_t z_end) {
    for (int64_t z = b.lo[2] + z_begin; z < b.lo[2] + z_end; ++z)
      for (int64_t y = b.lo[1]; y < b.hi[1]; ++y) {
        const int64_t row = z * sz + y * sy;                                    // in the image
        uint8_t* dst = out.data() + ((z - b.lo[2]) * by + (y - b.lo[1])) * bx;  // at b.lo[0]
        if (first_nonzero(m + row + b.lo[0], bx) == bx) continue;
        const bool border_row = c == DistanceConvention::kItk ||
                                (g.ndim >= 2 && (y == 0 || y == g.shape[1] - 1)) ||
                                (g.ndim == 3 && (z == 0 || z == g.shape[2] - 1));
        if (border_row) {
          for (int64_t x = b.lo[0]; x < b.hi[0]; ++x) dst[x - b.lo[0]] = m[row + x] != 0;
          continue;
        }
        auto voxel = [&](int64_t x) {
          const int64_t i = row + x;
          if (!m[i]) return;
          bool surface = x == 0 || x == nx - 1 || !m[i - 1] || !m[i + 1];
          if (!surface && g.ndim >= 2) surface = !m[i - sy] || !m[i + sy];
          if (!surface && g.ndim == 3) surface = !m[i - sz] || !m[i + sz];
          dst[x - b.lo[0]] = surface ? 1 : 0;
        };
        // One voxel at a time where a word would reach past the image's row, eight between.
        int64_t x = b.lo[0];
        for (; x < b.hi[0] && x < 1; ++x) voxel(x);
        for (; x + 8 <= b.hi[0] && x + 9 <= nx; x += 8) {
          const int64_t i = row + x;
          const uint64_t w = word(m + i);
          if (w == 0) continue;
          const uint64_t left = word(m + i - 1), right = word(m + i + 1);
          uint64_t all = left & right, any = w | left | right;
          if (g.ndim >= 2) {
            const uint64_t up = word(m + i - sy), down = word(m + i + sy);
            all &= up & down;
            any |= up | down;
          }
          if (g.ndim == 3) {
            const uint64_t front = word(m + i - sz), back = word(m + i + sz);
            all &= front & back;
            any |= front | back;
          }
          if (any & kHigh) {  // not a 0/1 mask here
            for (int64_t k = x; k < x + 8; ++k) voxel(k);
            continue;
          }
          const uint64_t surface = w & ~all;
          std::memcpy(dst + (x - b.lo[0]), &surface, 8);
        }
        for (; x < b.hi[0]; ++x) voxel(x);
      }
  };
  parallel_ranges(bz, std::max(1, std::min<int>(threads, static_cast<int>(bz / 4 + 1))), slab);
  return out;
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

// Distances measured within one box of the image.
struct BoxDistances {
  Grid work;  // the grid the points index: the box grown by one, or its corners
  std::array<double, 3> origin{0, 0, 0};  // voxel coordinates of the work grid's index 0
  std::array<double, 3> reach_lo{0, 0, 0}, reach_hi{0, 0, 0};  // where its points can lie
  std::vector<PointSet> points;                                // per mask
  std::vector<std::vector<std::vector<double>>> to;  // to[i][j]: from i's points to mask j
};

// The points of every mask within the tight box `b` and their distances to each other mask's
// points within it: each mask's squared distance transform in turn, read at the other masks'
// points. `area`: the surfel areas (deepmind only).
BoxDistances measure_box(const std::vector<const uint8_t*>& masks, const Grid& grid, const Box& b,
                         const EdtAt& edt, const DistanceOptions& o,
                         const std::vector<double>& area, int threads) {
  const size_t r = masks.size();
  const bool deepmind = o.convention == DistanceConvention::kDeepmind;
  BoxDistances out;
  out.points.resize(r);
  out.to.assign(r, std::vector<std::vector<double>>(r));
  Grid& g = out.work;
  g = grid;
  std::vector<std::vector<uint8_t>> pts(r);
  if (deepmind) {
    // The corner grid: corner c joins voxels lo + c - 1 and lo + c along each image axis.
    for (int a = 0; a < 3; ++a) {
      const bool image_axis = a < grid.ndim;
      g.shape[a] = b.hi[a] - b.lo[a] + (image_axis ? 1 : 0);
      out.origin[a] = static_cast<double>(b.lo[a]) - (image_axis ? 0.5 : 0.0);
      out.reach_lo[a] = out.origin[a];
      out.reach_hi[a] = out.origin[a] + static_cast<double>(g.shape[a] - 1);
    }
    parallel_ranges(static_cast<int64_t>(r),
                    std::max(1, std::min<int>(threads, static_cast<int>(r))),
                    [&](int, int64_t begin, int64_t end) {
                      for (int64_t i = begin; i < end; ++i)
                        out.points[i] = corner_surface(masks[i], grid, b, g, area, pts[i]);
                    });
  } else {
    Box grown = b;
    for (int a = 0; a < 3; ++a) {
      grown.lo[a] = std::max<int64_t>(0, b.lo[a] - 1);
      grown.hi[a] = std::min<int64_t>(grid.shape[a], b.hi[a] + 1);
      out.origin[a] = static_cast<double>(grown.lo[a]);
      out.reach_lo[a] = static_cast<double>(b.lo[a]);
      out.reach_hi[a] = static_cast<double>(b.hi[a] - 1);
    }
    for (int a = 0; a < 3; ++a) g.shape[a] = grown.hi[a] - grown.lo[a];
    // Each mask's points: the masks spread over the threads, and slabs of each over the rest.
    const int outer = std::max(1, std::min<int>(threads, static_cast<int>(r)));
    const int inner = std::max(1, threads / outer);
    parallel_ranges(static_cast<int64_t>(r), outer, [&](int, int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        pts[i] = points_in_box(masks[i], grid, grown, o.convention, inner);
        append_nonzero(pts[i].data(), g.voxels(), 0, out.points[i].index);
      }
    });
  }
  // Each mask's transform is read at the other masks' points, all at once.
  std::vector<int64_t> at;
  std::vector<double> d2;
  for (size_t i = 0; i < r; ++i) {
    if (out.points[i].index.empty()) {
      // No points of mask i here: the others' distances to it are unknown within this box.
      for (size_t j = 0; j < r; ++j)
        if (j != i) out.to[j][i].assign(out.points[j].index.size(), kInf);
      continue;
    }
    at.clear();
    for (size_t j = 0; j < r; ++j)
      if (j != i) at.insert(at.end(), out.points[j].index.begin(), out.points[j].index.end());
    d2.resize(at.size());
    edt(pts[i].data(), g, at, d2.data(), threads);
    size_t k = 0;
    for (size_t j = 0; j < r; ++j) {
      if (j == i) continue;
      std::vector<double>& dist = out.to[j][i];
      dist.resize(out.points[j].index.size());
      for (double& d : dist) d = std::sqrt(d2[k++]);
    }
    pts[i] = {};
  }
  return out;
}

// Whether each slab of the box along each axis holds a foreground voxel of any mask. Slabs of
// z go to the threads, each with its own flags along x and y, merged at the end.
std::array<std::vector<uint8_t>, 3> occupancy(const std::vector<const uint8_t*>& masks,
                                              const Grid& g, const Box& b, int threads) {
  const int64_t width = b.hi[0] - b.lo[0], height = b.hi[1] - b.lo[1], depth = b.hi[2] - b.lo[2];
  const int parts = std::max(1, std::min<int>(threads, static_cast<int>(depth / 8 + 1)));
  std::vector<std::vector<uint8_t>> along_x(parts, std::vector<uint8_t>(width, 0)),
      along_y(parts, std::vector<uint8_t>(height, 0));
  std::array<std::vector<uint8_t>, 3> occ;
  occ[2].assign(depth, 0);
  parallel_ranges(depth, parts, [&](int part, int64_t begin, int64_t end) {
    uint8_t* ox = along_x[part].data();
    uint8_t* oy = along_y[part].data();
    for (const uint8_t* m : masks)
      for (int64_t z = b.lo[2] + begin; z < b.lo[2] + end; ++z)
        for (int64_t y = b.lo[1]; y < b.hi[1]; ++y) {
          const uint8_t* row = m + (z * g.shape[1] + y) * g.shape[0] + b.lo[0];
          const int64_t first = first_nonzero(row, width);
          if (first == width) continue;
          oy[y - b.lo[1]] = 1;
          occ[2][z - b.lo[2]] = 1;
          const int64_t end = last_nonzero(row, width) + 1;
          for (int64_t x = first; x < end; ++x) ox[x] |= row[x];  // nonzero where any is
        }
  });
  occ[0].assign(width, 0);
  occ[1].assign(height, 0);
  for (int p = 0; p < parts; ++p) {
    for (int64_t x = 0; x < width; ++x) occ[0][x] |= along_x[p][x] != 0;
    for (int64_t y = 0; y < height; ++y) occ[1][y] |= along_y[p][y];
  }
  return occ;
}

// Cuts the foreground in box `b` into pieces separated by slabs (along any axis, recursively)
// where no mask has a voxel; appends each piece's tight box. At most kMaxPieces pieces.
constexpr size_t kMaxPieces = 32;

void split_foreground(const std::vector<const uint8_t*>& masks, const Grid& g, Box b,
                      std::vector<Box>& pieces, int threads) {
  const auto occ = occupancy(masks, g, b, threads);
  std::array<std::vector<std::pair<int64_t, int64_t>>, 3> runs;  // occupied [begin, end)
  for (int a = 0; a < 3; ++a)
    for (int64_t k = 0; k < static_cast<int64_t>(occ[a].size()); ++k) {
      if (!occ[a][k]) continue;
      if (!runs[a].empty() && runs[a].back().second == b.lo[a] + k) {
        ++runs[a].back().second;
      } else {
        runs[a].push_back({b.lo[a] + k, b.lo[a] + k + 1});
      }
    }
  if (runs[0].empty()) return;
  for (int a = 0; a < 3; ++a) b.lo[a] = runs[a].front().first, b.hi[a] = runs[a].back().second;
  for (int a = 0; a < g.ndim; ++a) {
    if (runs[a].size() < 2 || pieces.size() + runs[a].size() > kMaxPieces) continue;
    for (const auto& [begin, end] : runs[a]) {
      Box piece = b;
      piece.lo[a] = begin;
      piece.hi[a] = end;
      split_foreground(masks, g, piece, pieces, threads);
    }
    return;
  }
  pieces.push_back(b);
}

// Physical distance from a point (voxel coordinates) to the region [lo, hi] (the same units).
double distance_to_region(const std::array<double, 3>& p, const std::array<double, 3>& lo,
                          const std::array<double, 3>& hi, const Grid& g) {
  double sum = 0;
  for (int a = 0; a < g.ndim; ++a) {
    const double d = std::max({0.0, lo[a] - p[a], p[a] - hi[a]}) * g.spacing[a];
    sum += d * d;
  }
  return std::sqrt(sum);
}

// Physical distance between two regions [lo, hi] (voxel coordinates).
double distance_between(const BoxDistances& a, const BoxDistances& b, const Grid& g) {
  double sum = 0;
  for (int k = 0; k < g.ndim; ++k) {
    const double d = std::max({0.0, a.reach_lo[k] - b.reach_hi[k], b.reach_lo[k] - a.reach_hi[k]}) *
                     g.spacing[k];
    sum += d * d;
  }
  return std::sqrt(sum);
}

// Whether every distance found within a piece is the true one: no point of another piece can
// be nearer than it (with a margin for rounding). Checked against the distance between the
// pieces first, and against the point's own distance to the other piece where that fails.
bool nearest_within_pieces(const std::vector<BoxDistances>& parts, const Grid& grid) {
  const size_t r = parts.front().points.size(), n = parts.size();
  constexpr double kMargin = 1 - 1e-12;
  std::vector<double> apart(n * n);
  for (size_t l = 0; l < n; ++l)
    for (size_t m = 0; m < n; ++m) apart[l * n + m] = distance_between(parts[l], parts[m], grid);
  for (size_t l = 0; l < n; ++l) {
    const BoxDistances& part = parts[l];
    const Grid& w = part.work;
    for (size_t j = 0; j < r; ++j) {
      // The nearest other piece holding points of mask j.
      double nearest_piece = kInf;
      for (size_t m = 0; m < n; ++m)
        if (m != l && !parts[m].points[j].index.empty())
          nearest_piece = std::min(nearest_piece, apart[l * n + m]);
      if (nearest_piece == kInf) continue;  // mask j lies in this piece alone
      for (size_t i = 0; i < r; ++i) {
        if (i == j) continue;
        const std::vector<int64_t>& index = part.points[i].index;
        const std::vector<double>& to_j = part.to[i][j];
        for (size_t k = 0; k < index.size(); ++k) {
          const double d = to_j[k];
          if (d < nearest_piece * kMargin) continue;
          const int64_t v = index[k];
          const std::array<double, 3> p{
              part.origin[0] + static_cast<double>(v % w.shape[0]),
              part.origin[1] + static_cast<double>((v / w.shape[0]) % w.shape[1]),
              part.origin[2] + static_cast<double>(v / (w.shape[0] * w.shape[1]))};
          for (size_t m = 0; m < n; ++m) {
            if (m == l || parts[m].points[j].index.empty()) continue;
            if (!(d < distance_to_region(p, parts[m].reach_lo, parts[m].reach_hi, grid) * kMargin))
              return false;
          }
        }
      }
    }
  }
  return true;
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

std::vector<uint8_t> measured_points(const uint8_t* m, const Grid& g, DistanceConvention c) {
  Box whole;
  whole.hi = g.shape;
  return points_in_box(m, g, whole, c, 1);
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

double percentile_weighted(const std::vector<double>& v, const std::vector<double>& w, double p) {
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
  return boundary_matrix(masks, grid, o, threads, squared_edt_at);
}

std::vector<BoundaryMetrics> boundary_matrix(const std::vector<const uint8_t*>& masks,
                                             const Grid& grid, const DistanceOptions& o,
                                             int threads, const EdtAt& edt) {
  const size_t r = masks.size();
  std::vector<BoundaryMetrics> out(r * r);
  for (size_t i = 0; i < r; ++i) out[i * r + i].nsd = 1.0;
  const bool deepmind = o.convention == DistanceConvention::kDeepmind;
  // Distances within each piece of the foreground (separated from the others by empty slabs),
  // kept when no point can be nearer to another piece than the distance found in its own;
  // otherwise within the one box around everything.
  std::vector<BoxDistances> parts;
  const std::vector<double> area =
      deepmind ? surfel_area_table(grid.ndim, grid.spacing) : std::vector<double>{};
  Box whole;
  whole.hi = grid.shape;
  std::vector<Box> pieces;
  split_foreground(masks, grid, whole, pieces, threads);
  Box tight;  // around every piece
  if (!pieces.empty()) {
    tight = pieces.front();
    for (const Box& b : pieces)
      for (int a = 0; a < 3; ++a) {
        tight.lo[a] = std::min(tight.lo[a], b.lo[a]);
        tight.hi[a] = std::max(tight.hi[a], b.hi[a]);
      }
  }
  // Pieces are worth it when their boxes together are clearly smaller than the one box.
  auto volume = [](const Box& b) {
    return (b.hi[0] - b.lo[0]) * (b.hi[1] - b.lo[1]) * (b.hi[2] - b.lo[2]);
  };
  int64_t in_pieces = 0;
  for (const Box& b : pieces) in_pieces += volume(b);
  if (pieces.size() > 1 && in_pieces * 10 < volume(tight) * 8) {
    for (const Box& b : pieces) parts.push_back(measure_box(masks, grid, b, edt, o, area, threads));
    if (!nearest_within_pieces(parts, grid)) parts.clear();
  }
  if (parts.empty() && !pieces.empty())
    parts.push_back(measure_box(masks, grid, tight, edt, o, area, threads));
  // Per mask: its points' distances to each other mask and the points' weights, over all parts.
  std::vector<size_t> count(r, 0);
  std::vector<std::vector<double>> weight(r);
  std::vector<std::vector<std::vector<double>>> to(r, std::vector<std::vector<double>>(r));
  for (const BoxDistances& part : parts)
    for (size_t i = 0; i < r; ++i) {
      count[i] += part.points[i].index.size();
      weight[i].insert(weight[i].end(), part.points[i].weight.begin(), part.points[i].weight.end());
      for (size_t j = 0; j < r; ++j)
        to[i][j].insert(to[i][j].end(), part.to[i][j].begin(), part.to[i][j].end());
    }
  for (size_t i = 0; i < r; ++i) {
    for (size_t j = i + 1; j < r; ++j) {
      BoundaryMetrics m;
      const bool ei = count[i] == 0, ej = count[j] == 0;
      if (ei || ej) {
        const double d = ei && ej ? NAN : o.one_empty;
        m.hd = m.hd_percentile = m.assd = m.hd_ab = m.hd_ba = d;
        m.nsd = ei && ej ? empty_value(o.empty) : 0.0;
      } else {
        const std::vector<double>& ab = to[i][j];
        const std::vector<double>& ba = to[j][i];
        m.hd_ab = *std::max_element(ab.begin(), ab.end());
        m.hd_ba = *std::max_element(ba.begin(), ba.end());
        m.hd = std::max(m.hd_ab, m.hd_ba);
        if (deepmind) {
          weighted_metrics(ab, weight[i], ba, weight[j], o, m);
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
