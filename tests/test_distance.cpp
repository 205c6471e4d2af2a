// Distance transforms and boundary metrics against hand-worked values and brute-force
// nearest-neighbour oracles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "engine/edt_line.h"
#include "maskeval/distance.h"

namespace maskeval {
namespace {

Grid grid2(int64_t nx, int64_t ny, double sx = 1, double sy = 1) {
  Grid g;
  g.ndim = 2;
  g.shape = {nx, ny, 1};
  g.spacing = {sx, sy, 1};
  return g;
}

Grid grid3(int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz) {
  Grid g;
  g.ndim = 3;
  g.shape = {nx, ny, nz};
  g.spacing = {sx, sy, sz};
  return g;
}

std::array<double, 3> position(const Grid& g, int64_t i) {
  const int64_t x = i % g.shape[0], y = (i / g.shape[0]) % g.shape[1],
                z = i / (g.shape[0] * g.shape[1]);
  return {x * g.spacing[0], y * g.spacing[1], z * g.spacing[2]};
}

double brute_min_distance(const Grid& g, int64_t from, const std::vector<int64_t>& to) {
  double best = INFINITY;
  const auto p = position(g, from);
  for (int64_t t : to) {
    const auto q = position(g, t);
    best = std::min(best, std::sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) +
                                    (p[2] - q[2]) * (p[2] - q[2])));
  }
  return best;
}

// Surface voxels found the plain way: inside, with a face neighbour outside or off the grid.
std::vector<int64_t> brute_points(const std::vector<uint8_t>& m, const Grid& g, bool surface) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < g.voxels(); ++i) {
    if (!m[i]) continue;
    if (!surface) {
      out.push_back(i);
      continue;
    }
    const int64_t c[3] = {i % g.shape[0], (i / g.shape[0]) % g.shape[1],
                          i / (g.shape[0] * g.shape[1])};
    bool edge = false;
    for (int a = 0; a < g.ndim; ++a) {
      for (int s : {-1, 1}) {
        int64_t n[3] = {c[0], c[1], c[2]};
        n[a] += s;
        if (n[a] < 0 || n[a] >= g.shape[a] || !m[(n[2] * g.shape[1] + n[1]) * g.shape[0] + n[0]])
          edge = true;
      }
    }
    if (edge) out.push_back(i);
  }
  return out;
}

double sorted_percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

BoundaryMetrics brute_metrics(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                              const Grid& g, const DistanceOptions& o) {
  const bool surface = o.convention != DistanceConvention::kItk;
  const auto pa = brute_points(a, g, surface), pb = brute_points(b, g, surface);
  std::vector<double> ab, ba;
  for (int64_t p : pa) ab.push_back(brute_min_distance(g, p, pb));
  for (int64_t p : pb) ba.push_back(brute_min_distance(g, p, pa));
  BoundaryMetrics m;
  m.hd_ab = *std::max_element(ab.begin(), ab.end());
  m.hd_ba = *std::max_element(ba.begin(), ba.end());
  m.hd = std::max(m.hd_ab, m.hd_ba);
  double sab = 0, sba = 0;
  size_t near = 0;
  for (double d : ab) sab += d, near += d <= o.nsd_tolerance;
  for (double d : ba) sba += d, near += d <= o.nsd_tolerance;
  m.nsd = double(near) / (ab.size() + ba.size());
  if (o.convention == DistanceConvention::kItk) {
    m.assd = (sab / ab.size() + sba / ba.size()) / 2;
  } else {
    m.assd = (sab + sba) / (ab.size() + ba.size());
  }
  if (o.convention == DistanceConvention::kMedpy) {
    std::vector<double> both = ab;
    both.insert(both.end(), ba.begin(), ba.end());
    m.hd_percentile = sorted_percentile(both, o.percentile);
  } else {
    m.hd_percentile =
        std::max(sorted_percentile(ab, o.percentile), sorted_percentile(ba, o.percentile));
  }
  return m;
}

void expect_metrics_near(const BoundaryMetrics& got, const BoundaryMetrics& want,
                         double nsd_tolerance = 1e-9) {
  EXPECT_NEAR(got.hd, want.hd, 1e-9);
  EXPECT_NEAR(got.hd_ab, want.hd_ab, 1e-9);
  EXPECT_NEAR(got.hd_ba, want.hd_ba, 1e-9);
  EXPECT_NEAR(got.hd_percentile, want.hd_percentile, 1e-9);
  EXPECT_NEAR(got.assd, want.assd, 1e-9);
  EXPECT_NEAR(got.nsd, want.nsd, nsd_tolerance);
}

std::vector<uint8_t> random_blob(std::mt19937& rng, const Grid& g, double fill) {
  // A random ball plus noise, so that surfaces are irregular.
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint8_t> m(g.voxels());
  const double cx = u(rng) * g.shape[0], cy = u(rng) * g.shape[1], cz = u(rng) * g.shape[2];
  const double r = 2 + u(rng) * std::max<int64_t>(2, g.shape[0] / 2);
  for (int64_t i = 0; i < g.voxels(); ++i) {
    const int64_t x = i % g.shape[0], y = (i / g.shape[0]) % g.shape[1],
                  z = i / (g.shape[0] * g.shape[1]);
    const double d = std::hypot(x - cx, y - cy, z - cz);
    m[i] = d < r || u(rng) < fill;
  }
  return m;
}

TEST(SquaredEdt, MatchesBruteForceWithSpacing) {
  std::mt19937 rng(1);
  for (const Grid& g : {grid2(17, 13, 0.7, 1.9), grid2(1, 9), grid3(9, 8, 7, 0.8, 1.1, 3.0),
                        grid3(5, 1, 6, 1.0, 2.0, 0.5)}) {
    std::vector<uint8_t> f(g.voxels());
    std::bernoulli_distribution on(0.05);
    for (auto& v : f) v = on(rng);
    f[g.voxels() / 2] = 1;
    std::vector<int64_t> features;
    for (int64_t i = 0; i < g.voxels(); ++i)
      if (f[i]) features.push_back(i);
    std::vector<double> d2(g.voxels());
    squared_edt(f.data(), g, d2.data(), nullptr, 3);
    for (int64_t i = 0; i < g.voxels(); ++i) {
      const double expected = brute_min_distance(g, i, features);
      ASSERT_NEAR(std::sqrt(d2[i]), expected, 1e-12 * (1 + expected)) << i;
    }
  }
  // No feature at all: infinity everywhere.
  const Grid g = grid2(4, 3);
  std::vector<uint8_t> none(12, 0);
  std::vector<double> d2(12);
  squared_edt(none.data(), g, d2.data(), nullptr, 1);
  for (double v : d2) EXPECT_TRUE(std::isinf(v));
}

TEST(SquaredEdt, ReadAtListedVoxels) {
  std::mt19937 rng(19);
  std::bernoulli_distribution feature(0.03), pick(0.05);
  for (const Grid& g : {grid2(40, 30, 0.6, 1.7), grid3(13, 17, 11, 2.0, 0.7, 1.3)}) {
    std::vector<uint8_t> f(g.voxels());
    for (auto& v : f) v = feature(rng);
    std::vector<int64_t> at;
    for (int64_t i = 0; i < g.voxels(); ++i)
      if (pick(rng)) at.push_back(i);
    std::vector<double> full(g.voxels()), got(at.size());
    squared_edt(f.data(), g, full.data(), nullptr, 2);
    squared_edt_at(f.data(), g, at, got.data(), 2);
    for (size_t k = 0; k < at.size(); ++k) ASSERT_EQ(got[k], full[at[k]]) << at[k];
  }
}

TEST(SquaredEdt, NeededVoxelsAreExact) {
  std::mt19937 rng(12);
  std::bernoulli_distribution feature(0.03), need(0.01);
  for (const Grid& g : {grid2(40, 30, 0.6, 1.7), grid3(13, 17, 11, 2.0, 0.7, 1.3)}) {
    std::vector<uint8_t> f(g.voxels()), wanted(g.voxels());
    for (auto& v : f) v = feature(rng);
    for (auto& v : wanted) v = need(rng);
    std::vector<double> full(g.voxels()), part(g.voxels());
    squared_edt(f.data(), g, full.data(), nullptr, 2);
    squared_edt(f.data(), g, part.data(), wanted.data(), 2);
    for (int64_t i = 0; i < g.voxels(); ++i)
      if (wanted[i]) {
        ASSERT_EQ(part[i], full[i]) << i;
      }
  }
}

// The CUDA kernels' schedule run on the host: rows of axis 0 one by one, then for each later
// axis the listed lines in place with strided access and work arrays interleaved across lines
// (element stride = the number of lines), exactly as kernels/distance.cu calls the shared line
// transforms. It must equal squared_edt bit for bit at every voxel that is promised.
TEST(SquaredEdt, DeviceScheduleOnTheHostEqualsTheCpu) {
  std::mt19937 rng(41);
  for (const Grid& g : {grid2(37, 29, 0.7, 1.9), grid2(1, 40), grid3(23, 17, 11, 0.8, 1.1, 3.0),
                        grid3(5, 1, 19, 1.0, 2.0, 0.5), grid3(31, 9, 1, 0.5, 0.5, 1)}) {
    for (double density : {0.0, 0.01, 0.3}) {
      std::bernoulli_distribution on(density), need(0.02);
      std::vector<uint8_t> f(g.voxels()), needed(g.voxels());
      for (auto& v : f) v = on(rng);
      for (auto& v : needed) v = need(rng);
      const uint8_t* choices[2] = {nullptr, needed.data()};
      for (const uint8_t* wanted : choices) {
        std::vector<double> cpu(g.voxels()), dev(g.voxels(), -7.0);
        squared_edt(f.data(), g, cpu.data(), wanted, 2);
        for (int64_t r = 0; r < g.voxels() / g.shape[0]; ++r)
          detail::first_axis_row(f.data() + r * g.shape[0], dev.data() + r * g.shape[0], g.shape[0],
                                 g.spacing[0]);
        const int64_t stride[3] = {1, g.shape[0], g.shape[0] * g.shape[1]};
        for (int axis = 1; axis < g.ndim; ++axis) {
          const int64_t len = g.shape[axis];
          if (len < 2) continue;
          const std::vector<int64_t> lines = detail::needed_lines(g, axis, wanted);
          if (wanted) {  // the same lines from the list of needed voxels
            std::vector<int64_t> at;
            for (int64_t i = 0; i < g.voxels(); ++i)
              if (wanted[i]) at.push_back(i);
            EXPECT_EQ(detail::needed_lines(g, axis, at), lines);
          }
          const int64_t count = static_cast<int64_t>(lines.size());
          std::vector<double> work(5 * len * std::max<int64_t>(count, 1), -3.0);
          for (int64_t t = 0; t < count; ++t)
            detail::edt_line(dev.data() + lines[t], stride[axis], dev.data() + lines[t],
                             stride[axis], len, g.spacing[axis], work.data() + t, count);
        }
        for (int64_t i = 0; i < g.voxels(); ++i) {
          if (wanted && !wanted[i]) continue;
          ASSERT_EQ(std::memcmp(&cpu[i], &dev[i], sizeof(double)), 0)
              << i << ": " << cpu[i] << " vs " << dev[i];
        }
      }
    }
  }
}

TEST(MeasuredPoints, SurfacesOfAnyNonzeroValues) {
  // Masks of 0/1 bytes take the eight-at-a-time path; other nonzero values the voxel path.
  std::mt19937 rng(8);
  for (const Grid& g : {grid2(45, 31), grid3(37, 21, 13, 1, 1, 1), grid3(9, 1, 30, 1, 1, 1)}) {
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<uint8_t> m = random_blob(rng, g, 0.05);
      if (variant > 0) {
        std::uniform_int_distribution<int> value(1, 255);
        for (auto& v : m)
          if (v && (variant == 2 || value(rng) % 7 == 0)) v = static_cast<uint8_t>(value(rng));
      }
      const std::vector<uint8_t> got = measured_points(m.data(), g, DistanceConvention::kMonai);
      std::vector<uint8_t> want(g.voxels(), 0);
      for (int64_t i : brute_points(m, g, true)) want[i] = 1;
      ASSERT_EQ(got, want) << "variant " << variant;
    }
  }
}

TEST(BoundaryMetrics, HandWorkedSquares) {
  // Two 3x3 squares on a 10x10 grid, the second moved 2 voxels along x; spacing 0.5 x 2.
  const Grid g = grid2(10, 10, 0.5, 2.0);
  std::vector<uint8_t> a(100, 0), b(100, 0);
  for (int y = 3; y < 6; ++y)
    for (int x = 2; x < 5; ++x) {
      a[y * 10 + x] = 1;
      b[y * 10 + x + 2] = 1;
    }
  DistanceOptions o;
  o.convention = DistanceConvention::kItk;
  // ITK, all voxels: a's columns x=2,3 are 1 voxel (0.5 mm)... x=2 is 2 voxels from b's first
  // column (x=4): 1.0 mm; x=3: 0.5 mm; x=4 inside b: 0. Directed HD = 1.0, mean = 0.5.
  const BoundaryMetrics itk = boundary_metrics(a.data(), b.data(), g, o, 1);
  EXPECT_DOUBLE_EQ(itk.hd, 1.0);
  EXPECT_DOUBLE_EQ(itk.hd_ab, 1.0);
  EXPECT_DOUBLE_EQ(itk.assd, 0.5);
  // Surfaces: a 3x3 square's surface is its 8 border voxels. From a's surface to b's: x=2
  // column -> b's x=4 column: 1.0; a's x=3 (top/bottom) -> b's x=4 top/bottom: 0.5; a's x=4
  // voxels are on b's surface: 0. Each direction: 3 x 1.0, 2 x 0.5, 3 x 0 -> mean 0.5.
  o.convention = DistanceConvention::kMonai;
  o.nsd_tolerance = 0.5;
  const BoundaryMetrics monai = boundary_metrics(a.data(), b.data(), g, o, 1);
  EXPECT_DOUBLE_EQ(monai.hd, 1.0);
  EXPECT_DOUBLE_EQ(monai.assd, 0.5);
  EXPECT_DOUBLE_EQ(monai.nsd, 10.0 / 16);  // 5 of 8 in each direction within 0.5 mm
  // 95th percentile of {0,0,0,0.5,0.5,1,1,1}: position 6.65 -> 1.0.
  EXPECT_DOUBLE_EQ(monai.hd_percentile, 1.0);
  o.percentile = 50;  // position 3.5 between 0.5 and 0.5
  EXPECT_DOUBLE_EQ(boundary_metrics(a.data(), b.data(), g, o, 1).hd_percentile, 0.5);
}

TEST(BoundaryMetrics, HandWorkedCubes3D) {
  // Two 2x2x2 cubes on an 8x8x8 grid, the second 2 voxels higher along z; spacing 0.5 x 1 x 2.
  // Every voxel of a 2x2x2 cube is on its surface. Each of a's top voxels is 1 voxel (2 mm)
  // below b's bottom one, each bottom voxel 2 voxels (4 mm): per direction 4 x 2 mm, 4 x 4 mm.
  Grid g;
  g.ndim = 3;
  g.shape = {8, 8, 8};
  g.spacing = {0.5, 1.0, 2.0};
  std::vector<uint8_t> a(512, 0), b(512, 0);
  for (int z = 2; z < 4; ++z)
    for (int y = 3; y < 5; ++y)
      for (int x = 1; x < 3; ++x) {
        a[(z * 8 + y) * 8 + x] = 1;
        b[((z + 2) * 8 + y) * 8 + x] = 1;
      }
  for (auto c :
       {DistanceConvention::kMonai, DistanceConvention::kMedpy, DistanceConvention::kItk}) {
    DistanceOptions o;
    o.convention = c;
    o.nsd_tolerance = 2.0;
    SCOPED_TRACE(convention_name(c));
    const BoundaryMetrics m = boundary_metrics(a.data(), b.data(), g, o, 1);
    EXPECT_DOUBLE_EQ(m.hd, 4.0);
    EXPECT_DOUBLE_EQ(m.hd_ab, 4.0);
    EXPECT_DOUBLE_EQ(m.hd_ba, 4.0);
    EXPECT_DOUBLE_EQ(m.assd, 3.0);           // pooled, or the mean of two means of 3
    EXPECT_DOUBLE_EQ(m.hd_percentile, 4.0);  // position 6.65 (or 14.25 pooled) of 2,2,2,2,4,...
    EXPECT_DOUBLE_EQ(m.nsd, 0.5);            // the 2 mm half of each
    o.percentile = 50;                       // position 3.5 (7.5 pooled): halfway from 2 to 4
    EXPECT_DOUBLE_EQ(boundary_metrics(a.data(), b.data(), g, o, 1).hd_percentile, 3.0);
  }
  // DeepMind, one voxel each, b two voxels above a: each has 8 corner surfels of equal area;
  // a's upper four are 1 voxel (2 mm) from b's lower four, a's lower four 2 voxels (4 mm).
  std::vector<uint8_t> p(512, 0), q(512, 0);
  p[(2 * 8 + 3) * 8 + 1] = 1;
  q[(4 * 8 + 3) * 8 + 1] = 1;
  DistanceOptions o;
  o.convention = DistanceConvention::kDeepmind;
  o.nsd_tolerance = 2.0;
  const BoundaryMetrics m = boundary_metrics(p.data(), q.data(), g, o, 1);
  EXPECT_DOUBLE_EQ(m.hd, 4.0);
  EXPECT_DOUBLE_EQ(m.hd_percentile, 4.0);
  EXPECT_DOUBLE_EQ(m.assd, 3.0);
  EXPECT_DOUBLE_EQ(m.nsd, 0.5);
  o.percentile = 50;  // the cumulative area reaches exactly half at 2 mm
  EXPECT_DOUBLE_EQ(boundary_metrics(p.data(), q.data(), g, o, 1).hd_percentile, 2.0);
}

TEST(BoundaryMetrics, EveryConventionMatchesBruteForce) {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 12; ++trial) {
    const Grid g =
        trial % 2 ? grid3(9 + trial % 3, 8, 6, 0.9, 1.3, 2.5) : grid2(20 + trial, 15, 1.2, 0.6);
    const auto a = random_blob(rng, g, 0.02), b = random_blob(rng, g, 0.02);
    for (auto c :
         {DistanceConvention::kMonai, DistanceConvention::kMedpy, DistanceConvention::kItk}) {
      DistanceOptions o;
      o.convention = c;
      o.percentile = 90 + trial % 10;
      o.nsd_tolerance = 1.5;
      SCOPED_TRACE(testing::Message() << "trial " << trial << ", " << convention_name(c));
      expect_metrics_near(boundary_metrics(a.data(), b.data(), g, o, 2), brute_metrics(a, b, g, o),
                          1e-12);
    }
  }
}

TEST(BoundaryMetrics, MatrixIsSymmetricWithDirectedParts) {
  std::mt19937 rng(9);
  const Grid g = grid2(30, 20, 1.0, 1.0);
  std::vector<std::vector<uint8_t>> m;
  for (int i = 0; i < 3; ++i) m.push_back(random_blob(rng, g, 0.0));
  const auto mat = boundary_matrix({m[0].data(), m[1].data(), m[2].data()}, g, {}, 2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(mat[i * 3 + i].hd, 0.0);
    EXPECT_EQ(mat[i * 3 + i].nsd, 1.0);
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(mat[i * 3 + j].hd, mat[j * 3 + i].hd);
      EXPECT_EQ(mat[i * 3 + j].hd_ab, mat[j * 3 + i].hd_ba);
    }
  }
  const BoundaryMetrics pair = boundary_metrics(m[0].data(), m[2].data(), g, {}, 1);
  EXPECT_EQ(pair.hd_percentile, mat[0 * 3 + 2].hd_percentile);
}

TEST(BoundaryMetrics, EmptyAndOneVoxelMasks) {
  const Grid g = grid2(5, 5);
  std::vector<uint8_t> empty(25, 0), dot(25, 0), other(25, 0);
  dot[12] = 1;
  other[14] = 1;
  for (auto c :
       {DistanceConvention::kMonai, DistanceConvention::kMedpy, DistanceConvention::kItk}) {
    DistanceOptions o;
    o.convention = c;
    const BoundaryMetrics both = boundary_metrics(empty.data(), empty.data(), g, o, 1);
    EXPECT_TRUE(std::isnan(both.hd));
    EXPECT_EQ(both.nsd, 1.0);  // --empty 1
    const BoundaryMetrics one = boundary_metrics(dot.data(), empty.data(), g, o, 1);
    EXPECT_TRUE(std::isinf(one.hd));
    EXPECT_EQ(one.nsd, 0.0);
    o.one_empty = NAN;
    EXPECT_TRUE(std::isnan(boundary_metrics(dot.data(), empty.data(), g, o, 1).assd));
    // One voxel each, 2 apart: every figure is 2; the voxel is its own surface.
    const BoundaryMetrics dots = boundary_metrics(dot.data(), other.data(), g, o, 1);
    EXPECT_DOUBLE_EQ(dots.hd, 2.0);
    EXPECT_DOUBLE_EQ(dots.hd_percentile, 2.0);
    EXPECT_DOUBLE_EQ(dots.assd, 2.0);
    EXPECT_EQ(dots.nsd, 0.0);
  }
}

// DeepMind's surface the plain way: every corner of the grid one larger than the image, its
// code from the 2^ndim voxels around it, its position half a voxel off the voxel centres.
struct Surfels {
  std::vector<std::array<double, 3>> at;
  std::vector<double> area;
};

Surfels brute_surfels(const std::vector<uint8_t>& m, const Grid& g) {
  const auto table = surfel_area_table(g.ndim, g.spacing);
  const int64_t nz = g.ndim == 3 ? g.shape[2] + 1 : 1;
  const int full = (1 << (1 << g.ndim)) - 1;
  Surfels s;
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y <= g.shape[1]; ++y)
      for (int64_t x = 0; x <= g.shape[0]; ++x) {
        int code = 0;
        for (int d = 0; d < (1 << g.ndim); ++d) {
          const int64_t vx = x - 1 + (d & 1), vy = y - 1 + ((d >> 1) & 1),
                        vz = g.ndim == 3 ? z - 1 + ((d >> 2) & 1) : 0;
          if (vx < 0 || vy < 0 || vz < 0 || vx >= g.shape[0] || vy >= g.shape[1] ||
              vz >= g.shape[2])
            continue;
          if (m[(vz * g.shape[1] + vy) * g.shape[0] + vx]) code |= 1 << d;
        }
        if (code == 0 || code == full) continue;
        s.at.push_back({x * g.spacing[0], y * g.spacing[1], z * g.spacing[2]});
        s.area.push_back(table[code]);
      }
  return s;
}

// Per direction: every surfel's distance to the other surface, by exhaustive search.
std::vector<double> brute_surfel_distances(const Surfels& from, const Surfels& to) {
  std::vector<double> out;
  for (const auto& p : from.at) {
    double best = INFINITY;
    for (const auto& q : to.at)
      best = std::min(best, std::hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]));
    out.push_back(best);
  }
  return out;
}

// surface-distance's robust Hausdorff for one direction, written out with a full sort.
double brute_weighted_percentile(const std::vector<double>& d, const std::vector<double>& w,
                                 double p) {
  std::vector<std::pair<double, double>> pairs;
  for (size_t i = 0; i < d.size(); ++i) pairs.emplace_back(d[i], w[i]);
  std::sort(pairs.begin(), pairs.end());
  double total = 0, cum = 0;
  for (const auto& [dist, area] : pairs) total += area;
  for (const auto& [dist, area] : pairs) {
    cum += area;
    if (cum / total >= p / 100) return dist;
  }
  return pairs.back().first;
}

TEST(SurfelAreas, HandWorkedBlocks) {
  const double sx = 0.7, sy = 1.3, sz = 2.9;
  const auto t3 = surfel_area_table(3, {sx, sy, sz});
  ASSERT_EQ(t3.size(), 256u);
  EXPECT_EQ(t3[0], 0.0);
  EXPECT_EQ(t3[255], 0.0);
  // One corner: the triangle through the midpoints of its three edges.
  const double corner =
      0.5 * std::sqrt(std::pow(sy * sz, 2) + std::pow(sx * sz, 2) + std::pow(sx * sy, 2)) / 4;
  for (int bit = 0; bit < 8; ++bit) {
    EXPECT_NEAR(t3[1 << bit], corner, 1e-12) << bit;
    EXPECT_NEAR(t3[255 ^ (1 << bit)], corner, 1e-12) << bit;
  }
  // Two corners along x: a rectangle sx long, across the y-z diagonal half.
  EXPECT_NEAR(t3[0b11], sx * std::hypot(sy / 2, sz / 2), 1e-12);
  // A whole face (z = 0 corners): the square halfway up, sx by sy.
  EXPECT_NEAR(t3[0b1111], sx * sy, 1e-12);
  EXPECT_NEAR(t3[0b11110000], sx * sy, 1e-12);
  // Unit spacing, one corner: an equilateral triangle of side sqrt(1/2).
  EXPECT_NEAR(surfel_area_table(3, {1, 1, 1})[1], std::sqrt(3.0) / 8, 1e-15);

  const auto t2 = surfel_area_table(2, {sx, sy, 1});
  ASSERT_EQ(t2.size(), 16u);
  const double diag = 0.5 * std::hypot(sx, sy);
  EXPECT_NEAR(t2[0b0001], diag, 1e-15);
  EXPECT_NEAR(t2[0b1110], diag, 1e-15);
  EXPECT_NEAR(t2[0b0011], sx, 1e-15);  // the row y = 0 inside: a segment along x
  EXPECT_NEAR(t2[0b0101], sy, 1e-15);
  EXPECT_NEAR(t2[0b0110], 2 * diag, 1e-15);
}

TEST(SurfelAreas, BallAndDiskApproximateTheirSurface) {
  // Marching cubes through edge midpoints on a binary mask overestimates a smooth surface
  // (about 9% for a ball, 5% for a disk), but never underestimates it by more than noise.
  const double r = 20;
  const Grid g3 = grid3(48, 48, 48, 1, 1, 1);
  std::vector<uint8_t> ball(g3.voxels());
  for (int64_t i = 0; i < g3.voxels(); ++i) {
    const auto p = position(g3, i);
    ball[i] = std::hypot(p[0] - 23.5, p[1] - 23.5, p[2] - 23.5) < r;
  }
  double area = 0;
  for (double a : brute_surfels(ball, g3).area) area += a;
  EXPECT_GT(area / (4 * M_PI * r * r), 1.0);
  EXPECT_LT(area / (4 * M_PI * r * r), 1.12);

  const Grid g2 = grid2(64, 64, 0.5, 0.5);  // a disk of radius 10 physical units
  std::vector<uint8_t> disk(g2.voxels());
  for (int64_t i = 0; i < g2.voxels(); ++i) {
    const auto p = position(g2, i);
    disk[i] = std::hypot(p[0] - 16, p[1] - 16) < 10;
  }
  double length = 0;
  for (double a : brute_surfels(disk, g2).area) length += a;
  EXPECT_GT(length / (2 * M_PI * 10), 1.0);
  EXPECT_LT(length / (2 * M_PI * 10), 1.08);
}

BoundaryMetrics brute_deepmind(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                               const Grid& g, const DistanceOptions& o) {
  const Surfels sa = brute_surfels(a, g), sb = brute_surfels(b, g);
  const auto ab = brute_surfel_distances(sa, sb), ba = brute_surfel_distances(sb, sa);
  double area = 0, weighted = 0, near = 0;
  for (size_t i = 0; i < ab.size(); ++i) {
    area += sa.area[i];
    weighted += ab[i] * sa.area[i];
    near += ab[i] <= o.nsd_tolerance ? sa.area[i] : 0;
  }
  for (size_t i = 0; i < ba.size(); ++i) {
    area += sb.area[i];
    weighted += ba[i] * sb.area[i];
    near += ba[i] <= o.nsd_tolerance ? sb.area[i] : 0;
  }
  BoundaryMetrics m;
  m.hd_ab = *std::max_element(ab.begin(), ab.end());
  m.hd_ba = *std::max_element(ba.begin(), ba.end());
  m.hd = std::max(m.hd_ab, m.hd_ba);
  m.hd_percentile = std::max(brute_weighted_percentile(ab, sa.area, o.percentile),
                             brute_weighted_percentile(ba, sb.area, o.percentile));
  m.assd = weighted / area;
  m.nsd = near / area;
  return m;
}

TEST(BoundaryMetrics, DeepmindMatchesBruteForce) {
  std::mt19937 rng(21);
  for (int trial = 0; trial < 10; ++trial) {
    const Grid g =
        trial % 2 ? grid3(9 + trial % 3, 8, 6, 0.9, 1.3, 2.5) : grid2(20 + trial, 15, 1.2, 0.6);
    const auto a = random_blob(rng, g, 0.02), b = random_blob(rng, g, 0.02);
    DistanceOptions o;
    o.convention = DistanceConvention::kDeepmind;
    o.percentile = 90 + trial % 10;
    o.nsd_tolerance = 1.5;
    SCOPED_TRACE(testing::Message() << "trial " << trial);
    expect_metrics_near(boundary_metrics(a.data(), b.data(), g, o, 2), brute_deepmind(a, b, g, o));
  }
}

// Masks made of small boxes in separate slabs along x (and y), so that the foreground falls
// into pieces with empty slabs between them: some raters miss a piece, some pieces nearly touch
// across a one-voxel gap, so that a point's nearest neighbour can lie in the next piece.
std::vector<uint8_t> pieces_mask(std::mt19937& rng, const Grid& g, bool miss_some) {
  std::uniform_int_distribution<int> jitter(0, 1), coin(0, 3);
  std::vector<uint8_t> m(g.voxels(), 0);
  const int64_t slab = 7;  // pieces at x in [7k + 1, 7k + 6) at most: gaps of at least 1 voxel
  for (int64_t k = 0; (k + 1) * slab <= g.shape[0]; ++k) {
    if (miss_some && coin(rng) == 0) continue;
    const int64_t x0 = k * slab + 1 + jitter(rng), x1 = (k + 1) * slab - jitter(rng);
    const int64_t y0 = jitter(rng) + (k % 2) * 3, y1 = g.shape[1] - jitter(rng) - (k % 2 ? 0 : 3);
    const int64_t z0 = g.ndim == 3 ? jitter(rng) : 0;
    const int64_t z1 = g.ndim == 3 ? g.shape[2] - jitter(rng) : 1;
    for (int64_t z = z0; z < z1; ++z)
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) m[(z * g.shape[1] + y) * g.shape[0] + x] = 1;
  }
  return m;
}

TEST(BoundaryMetrics, PiecesApartMatchBruteForce) {
  std::mt19937 rng(33);
  for (int trial = 0; trial < 16; ++trial) {
    const Grid g = trial % 2 ? grid3(28, 9, 5, 0.8, 1.1, 2.0) : grid2(35, 12, 1.3, 0.7);
    const auto a = pieces_mask(rng, g, trial % 4 >= 2), b = pieces_mask(rng, g, trial % 3 == 0);
    for (auto c : {DistanceConvention::kMonai, DistanceConvention::kMedpy, DistanceConvention::kItk,
                   DistanceConvention::kDeepmind}) {
      DistanceOptions o;
      o.convention = c;
      o.nsd_tolerance = 1.0;
      SCOPED_TRACE(testing::Message() << "trial " << trial << ", " << convention_name(c));
      const bool empty =
          std::count(a.begin(), a.end(), 1) == 0 || std::count(b.begin(), b.end(), 1) == 0;
      if (empty) continue;
      const BoundaryMetrics want = c == DistanceConvention::kDeepmind ? brute_deepmind(a, b, g, o)
                                                                      : brute_metrics(a, b, g, o);
      expect_metrics_near(boundary_metrics(a.data(), b.data(), g, o, 2), want);
    }
  }
}

TEST(BoundaryMetrics, DeepmindOneVoxelAndEmpty) {
  // One voxel each, two apart along x, unit spacing: each has four corner surfels of length
  // sqrt(2)/2; two of a's are 1 from b's nearest corners, two are 2.
  const Grid g = grid2(5, 5);
  std::vector<uint8_t> empty(25, 0), dot(25, 0), other(25, 0);
  dot[12] = 1;
  other[14] = 1;
  DistanceOptions o;
  o.convention = DistanceConvention::kDeepmind;
  const BoundaryMetrics m = boundary_metrics(dot.data(), other.data(), g, o, 1);
  EXPECT_DOUBLE_EQ(m.hd, 2.0);
  EXPECT_DOUBLE_EQ(m.hd_percentile, 2.0);
  EXPECT_DOUBLE_EQ(m.assd, 1.5);
  EXPECT_DOUBLE_EQ(m.nsd, 0.5);  // tolerance 1: the near half of each
  o.percentile = 50;             // the cumulative length reaches exactly half at distance 1
  EXPECT_DOUBLE_EQ(boundary_metrics(dot.data(), other.data(), g, o, 1).hd_percentile, 1.0);
  const BoundaryMetrics one = boundary_metrics(dot.data(), empty.data(), g, o, 1);
  EXPECT_TRUE(std::isinf(one.hd));
  EXPECT_EQ(one.nsd, 0.0);
  EXPECT_TRUE(std::isnan(boundary_metrics(empty.data(), empty.data(), g, o, 1).hd));
  // A voxel on the image border: the corner grid reaches past the image.
  std::vector<uint8_t> edge(25, 0);
  edge[0] = 1;
  EXPECT_DOUBLE_EQ(boundary_metrics(edge.data(), edge.data(), g, o, 1).hd, 0.0);
}

TEST(Percentile, Weighted) {
  // Cumulative shares 0.1, 0.3, 0.6, 1.0 over distances 1..4.
  EXPECT_EQ(percentile_weighted({4, 2, 1, 3}, {4, 2, 1, 3}, 95), 4.0);
  EXPECT_EQ(percentile_weighted({4, 2, 1, 3}, {4, 2, 1, 3}, 60), 3.0);
  EXPECT_EQ(percentile_weighted({4, 2, 1, 3}, {4, 2, 1, 3}, 61), 4.0);
  EXPECT_EQ(percentile_weighted({4, 2, 1, 3}, {4, 2, 1, 3}, 5), 1.0);
  EXPECT_TRUE(std::isnan(percentile_weighted({}, {}, 95)));
}

TEST(Percentile, LinearInterpolation) {
  EXPECT_DOUBLE_EQ(percentile_linear({1, 2, 3, 4}, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile_linear({4, 1, 3, 2}, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile_linear({7}, 95), 7.0);
  EXPECT_DOUBLE_EQ(percentile_linear({0, 10}, 95), 9.5);
}

}  // namespace
}  // namespace maskeval
