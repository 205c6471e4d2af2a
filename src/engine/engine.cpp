// What the engine interface adds on the host: boundary metrics with an engine's transform.
#include "maskeval/engine.h"

namespace maskeval {

std::vector<BoundaryMetrics> boundary_matrix(Engine& engine,
                                             const std::vector<const uint8_t*>& masks,
                                             const Grid& grid, const DistanceOptions& options,
                                             int threads) {
  return boundary_matrix(
      masks, grid, options, threads,
      [&engine](const uint8_t* feature, const Grid& g, const std::vector<int64_t>& at, double* out,
                int t) { engine.squared_edt_at(feature, g, at, out, t); });
}

}  // namespace maskeval
