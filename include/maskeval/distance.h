// Boundary metrics in physical units: Hausdorff distance, its percentile, average symmetric
// surface distance and normalised surface Dice, each under the convention of a reference tool.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "maskeval/core/metrics.h"

namespace maskeval {

// Which tool's definitions to reproduce (docs/distances.md).
//   monai: surfaces = mask XOR erosion (cross element; the image border counts as surface),
//          distances from each surface voxel to the other surface; HD percentile per direction
//          (linear interpolation), the larger of the two; ASSD pools both directions.
//   medpy: the same surfaces; the HD percentile over both directions pooled; ASSD pooled.
//   itk:   every foreground voxel (no surfaces), distance to the other mask's nearest voxel;
//          HD the larger directed maximum; ASSD = ITK's average Hausdorff distance, the mean of
//          the two directed means.
//   deepmind: surface elements on the corner grid (each 2x2(x2) block of voxels that is neither
//          all inside nor all outside), each weighted by its length (2D) or area (3D); HD
//          percentile per direction weighted by area without interpolation, the larger of the
//          two; ASSD and NSD pool both directions weighted by area.
enum class DistanceConvention { kMonai, kMedpy, kItk, kDeepmind };

const char* convention_name(DistanceConvention c);
// Throws std::invalid_argument naming the accepted values.
DistanceConvention parse_convention(const std::string& name);

// A voxel grid: shape (x fastest) and the physical size of a voxel per axis.
struct Grid {
  int ndim = 2;
  std::array<int64_t, 3> shape{1, 1, 1};
  std::array<double, 3> spacing{1.0, 1.0, 1.0};
  int64_t voxels() const { return shape[0] * shape[1] * shape[2]; }
};

// A squared distance transform read at some voxels: out[k] = squared_edt's value at voxel
// at[k]. squared_edt_at (below) is the CPU engine's; the CUDA engine's gives identical results
// (engine.h).
using EdtAt = std::function<void(const uint8_t* feature, const Grid& grid,
                                 const std::vector<int64_t>& at, double* out, int threads)>;

struct DistanceOptions {
  DistanceConvention convention = DistanceConvention::kMonai;
  double percentile = 95.0;               // 0..100
  double nsd_tolerance = 1.0;             // physical units; distances <= tolerance count
  EmptyPolicy empty = EmptyPolicy::kOne;  // NSD when both masks are empty
  double one_empty = INFINITY;            // HD, HD percentile, ASSD when exactly one mask is empty
};

struct BoundaryMetrics {
  double hd = 0, hd_percentile = 0, assd = 0, nsd = 0;
  double hd_ab = 0, hd_ba = 0;  // directed: from a's points to b, from b's points to a
};

// Exact squared Euclidean distance transform with spacing (Felzenszwalb-Huttenlocher, one
// axis at a time): d2[x] = min over voxels f with feature[f] of |x - f|^2 in physical units;
// +infinity everywhere when there is no feature. With `needed`, only the voxels it marks are
// guaranteed exact (the others may hold partial results): passes skip the lines that cannot
// reach a needed voxel.
void squared_edt(const uint8_t* feature, const Grid& grid, double* d2, const uint8_t* needed,
                 int threads);

// Length (2D) or area (3D) of the surface inside one 2x2(x2) block of voxels, by the block's
// code: bit dx | dy << 1 | dz << 2 set when the voxel at that offset is inside. Marching
// squares / cubes through the edge midpoints, as DeepMind's surface-distance defines it.
std::vector<double> surfel_area_table(int ndim, const std::array<double, 3>& spacing);

// Area-weighted percentile of DeepMind surface-distance: the smallest distance whose cumulative
// area (in ascending order of distance) reaches `percentile` % of the total; no interpolation.
double percentile_weighted(const std::vector<double>& values, const std::vector<double>& weights,
                           double percentile);

// squared_edt read at the voxels `at` (an EdtAt).
// Only the lines that can reach a listed voxel are computed.
void squared_edt_at(const uint8_t* feature, const Grid& grid, const std::vector<int64_t>& at,
                    double* out, int threads);

// The points each convention measures from: surface voxels (monai, medpy) or every foreground
// voxel (itk). One byte per voxel. Not for deepmind, whose points lie on the corner grid.
std::vector<uint8_t> measured_points(const uint8_t* mask, const Grid& grid, DistanceConvention c);

// Boundary metrics of two binary masks (one byte per voxel, nonzero = inside) on one grid.
BoundaryMetrics boundary_metrics(const uint8_t* a, const uint8_t* b, const Grid& grid,
                                 const DistanceOptions& options, int threads);

// All pairs of R masks at once (each distance transform computed once, on the bounding box of
// all masks): element [i*R+j] is mask i against mask j; the diagonal is zero distance.
std::vector<BoundaryMetrics> boundary_matrix(const std::vector<const uint8_t*>& masks,
                                             const Grid& grid, const DistanceOptions& options,
                                             int threads);
// The same with another distance transform (the CUDA engine's; a stand-in in benchmarks).
std::vector<BoundaryMetrics> boundary_matrix(const std::vector<const uint8_t*>& masks,
                                             const Grid& grid, const DistanceOptions& options,
                                             int threads, const EdtAt& edt);

// Linear-interpolated percentile (numpy's and torch's default) of unsorted values.
double percentile_linear(std::vector<double> values, double percentile);

}  // namespace maskeval
