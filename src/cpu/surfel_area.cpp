// Surface element areas of the DeepMind surface-distance convention, derived from geometry:
// marching squares / marching cubes with the crossing points at edge midpoints. On a face with
// two diagonal corners inside (ambiguous), the segments cut off the minority corners (the
// inside ones when at most half the corners are inside). Each closed polygon is triangulated
// as the fan of largest area at unit spacing; the table then holds the summed triangle areas at
// the given spacing. This reproduces the surface-distance package's table for all 256 codes.
#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "maskeval/distance.h"

namespace maskeval {
namespace {

using Vec = std::array<double, 3>;

Vec corner_position(int corner) {
  return {static_cast<double>(corner & 1), static_cast<double>((corner >> 1) & 1),
          static_cast<double>((corner >> 2) & 1)};
}

Vec midpoint(int a, int b) {
  const Vec p = corner_position(a), q = corner_position(b);
  return {(p[0] + q[0]) / 2, (p[1] + q[1]) / 2, (p[2] + q[2]) / 2};
}

Vec cross(const Vec& u, const Vec& v) {
  return {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
}

// Area of triangle (a, b, c) after scaling axis k by s[k]: half the length of the unit-grid
// cross product with component k scaled by the product of the other two spacings.
double triangle_area(const Vec& a, const Vec& b, const Vec& c, const Vec& s) {
  const Vec n =
      cross({b[0] - a[0], b[1] - a[1], b[2] - a[2]}, {c[0] - a[0], c[1] - a[1], c[2] - a[2]});
  const double x = n[0] / 2 * s[1] * s[2], y = n[1] / 2 * s[0] * s[2], z = n[2] / 2 * s[0] * s[1];
  return std::sqrt(x * x + y * y + z * z);
}

double fan_area(const std::vector<Vec>& poly, size_t start, const Vec& s) {
  const size_t n = poly.size();
  double area = 0;
  for (size_t i = 1; i + 1 < n; ++i)
    area += triangle_area(poly[start], poly[(start + i) % n], poly[(start + i + 1) % n], s);
  return area;
}

double segment_length(const Vec& a, const Vec& b, const Vec& s) {
  const double x = (b[0] - a[0]) * s[0], y = (b[1] - a[1]) * s[1];
  return std::sqrt(x * x + y * y);
}

// The faces of the unit square (2D: one) or cube (3D: six), each as its corners in cyclic order.
std::vector<std::array<int, 4>> faces(int ndim) {
  if (ndim == 2) return {{0, 1, 3, 2}};
  std::vector<std::array<int, 4>> out;
  for (int axis = 0; axis < 3; ++axis) {
    const int u = 1 << ((axis + 1) % 3), v = 1 << ((axis + 2) % 3);
    for (int side = 0; side < 2; ++side) {
      const int base = side << axis;
      out.push_back({base, base | u, base | u | v, base | v});
    }
  }
  return out;
}

// The closed polygons (2D: open segments) of the isocontour of one code, as crossing edges.
using Edge = std::pair<int, int>;  // corner indices, first < second

std::vector<std::pair<Edge, Edge>> segments(int code, int ndim) {
  const int corners = 1 << ndim;
  const bool inside_minority = __builtin_popcount(static_cast<unsigned>(code)) * 2 <= corners;
  auto inside = [&](int c) { return ((code >> c) & 1) != 0; };
  auto edge = [](int a, int b) { return a < b ? Edge{a, b} : Edge{b, a}; };
  std::vector<std::pair<Edge, Edge>> out;
  for (const auto& f : faces(ndim)) {
    std::vector<Edge> crossing;
    for (int i = 0; i < 4; ++i)
      if (inside(f[i]) != inside(f[(i + 1) % 4])) crossing.push_back(edge(f[i], f[(i + 1) % 4]));
    if (crossing.size() == 2) {
      out.push_back({crossing[0], crossing[1]});
    } else if (crossing.size() == 4) {
      // Ambiguous face: cut off each corner of the minority side.
      for (int i = 0; i < 4; ++i)
        if (inside(f[i]) == inside_minority)
          out.push_back({edge(f[(i + 3) % 4], f[i]), edge(f[i], f[(i + 1) % 4])});
    }
  }
  return out;
}

// Chains segments that share crossing edges into closed polygons of midpoints.
std::vector<std::vector<Vec>> polygons(const std::vector<std::pair<Edge, Edge>>& segs) {
  std::vector<bool> used(segs.size(), false);
  std::vector<std::vector<Vec>> out;
  for (size_t s = 0; s < segs.size(); ++s) {
    if (used[s]) continue;
    used[s] = true;
    std::vector<Edge> chain{segs[s].first, segs[s].second};
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t t = 0; t < segs.size(); ++t) {
        if (used[t]) continue;
        const Edge& tail = chain.back();
        if (segs[t].first != tail && segs[t].second != tail) continue;
        used[t] = true;
        const Edge next = segs[t].first == tail ? segs[t].second : segs[t].first;
        if (next != chain.front()) chain.push_back(next);
        grew = true;
        break;
      }
    }
    std::vector<Vec> poly;
    for (const Edge& e : chain) poly.push_back(midpoint(e.first, e.second));
    out.push_back(std::move(poly));
  }
  return out;
}

}  // namespace

std::vector<double> surfel_area_table(int ndim, const std::array<double, 3>& spacing) {
  if (ndim != 2 && ndim != 3) throw std::invalid_argument("surfel areas need 2 or 3 dimensions");
  const Vec s{spacing[0], spacing[1], spacing[2]};
  const Vec unit{1, 1, 1};
  std::vector<double> table(size_t{1} << (1 << ndim), 0.0);
  for (size_t code = 1; code + 1 < table.size(); ++code) {
    const auto segs = segments(static_cast<int>(code), ndim);
    double area = 0;
    if (ndim == 2) {
      for (const auto& [a, b] : segs)
        area += segment_length(midpoint(a.first, a.second), midpoint(b.first, b.second), s);
    } else {
      for (const auto& poly : polygons(segs)) {
        size_t best = 0;
        double best_area = -1;
        for (size_t start = 0; start < poly.size(); ++start) {
          const double a = fan_area(poly, start, unit);
          if (a > best_area + 1e-12) best_area = a, best = start;
        }
        area += fan_area(poly, best, s);
      }
    }
    table[code] = area;
  }
  return table;
}

}  // namespace maskeval
