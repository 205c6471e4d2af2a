// Synthetic masks for the distance benchmarks: three raters' balls in a cube of `side` voxels
// (spacing 0.8 x 0.8 x 1), of radius about 0.3 side, each rater's centre and radius a little off
// and each voxel within 1.5 voxels of the boundary jittered on its own (a noisy shell, harder
// than a real rater's smooth outline).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "maskeval/distance.h"

namespace maskeval {

struct RaterBalls {
  Grid grid;
  std::vector<std::vector<uint8_t>> masks;
  std::vector<const uint8_t*> pointers() const {
    std::vector<const uint8_t*> p;
    for (const auto& m : masks) p.push_back(m.data());
    return p;
  }
};

inline RaterBalls rater_balls(int64_t side) {
  RaterBalls b;
  b.grid.ndim = 3;
  b.grid.shape = {side, side, side};
  b.grid.spacing = {0.8, 0.8, 1.0};
  const double s = static_cast<double>(side) / 512, c = static_cast<double>(side) / 2;
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> jitter(-1.5, 1.5);
  for (int r = 0; r < 3; ++r) {
    std::vector<uint8_t> m(b.grid.voxels());
    const double cx = c + 4 * r * s, cy = c - (6 + 3 * r) * s, cz = c + (4 + 2 * r) * s;
    const double radius = (150 + 5 * r) * s;
    for (int64_t z = 0; z < side; ++z)
      for (int64_t y = 0; y < side; ++y)
        for (int64_t x = 0; x < side; ++x) {
          const double d =
              std::sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy) + (z - cz) * (z - cz));
          // Only voxels near the boundary draw their jitter.
          const bool near = d > radius - 2 && d < radius + 1.5;
          m[(z * side + y) * side + x] = d < radius + (near ? jitter(rng) : 0);
        }
    b.masks.push_back(std::move(m));
  }
  return b;
}

}  // namespace maskeval
