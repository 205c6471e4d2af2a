// Counting many cases in batches that fit the device, and a case larger than it in slabs.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_check.cuh"
#include "engine/tuple_keys.h"
#include "maskeval/cuda_engine.h"

namespace maskeval::cuda {

bool free_device_memory(size_t* bytes) {
  size_t total = 0;
  if (cudaMemGetInfo(bytes, &total) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return true;
}

namespace {

// The cases of one batch, counted together; each histogram added to its case's.
class Batch {
 public:
  explicit Batch(std::vector<TupleHistogram>& out) : out_(out) {}
  void add(const CaseView& v, size_t index, int64_t bytes) {
    views_.push_back(v);
    index_.push_back(index);
    bytes_ += bytes;
  }
  int64_t bytes() const { return bytes_; }
  void flush() {
    if (views_.empty()) return;
    DeviceCases dc(views_);
    std::vector<TupleHistogram> h = dc.count();
    for (size_t k = 0; k < views_.size(); ++k) {
      TupleHistogram& dst = out_[index_[k]];
      dst = dst.raters == 0 ? std::move(h[k]) : merge_histograms(dst, h[k]);
    }
    views_.clear();
    index_.clear();
    bytes_ = 0;
  }

 private:
  std::vector<TupleHistogram>& out_;
  std::vector<CaseView> views_;
  std::vector<size_t> index_;
  int64_t bytes_ = 0;
};

}  // namespace

std::vector<TupleHistogram> count_tuples(const std::vector<CaseView>& cases,
                                         const CountOptions& o) {
  detail::require_device();
  size_t free_bytes = 0, total_bytes = 0;
  MASKEVAL_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const int64_t budget = memory_budget(free_bytes, o.memory_cap);
  std::vector<TupleHistogram> out(cases.size());
  Batch batch(out);
  for (size_t i = 0; i < cases.size(); ++i) {
    const CaseView& v = cases[i];
    const auto path =
        maskeval::detail::key_path(v.rater_count(), maskeval::detail::label_bits(v.max_label));
    if (path == maskeval::detail::KeyPath::kWide) {  // on the host, with the caller's threads
      out[i] = cpu::count_tuples(v, o.cpu_threads);
      continue;
    }
    const int64_t bytes = device_footprint(v).count;
    if (bytes <= budget) {
      if (batch.bytes() + bytes > budget) batch.flush();
      batch.add(v, i, bytes);
      continue;
    }
    // Larger than the budget: slabs of whole 16-voxel groups, each counted on its own; a case
    // that does not fit even in slabs is counted on the host.
    batch.flush();
    const int64_t slab = slab_voxels(v, budget);
    if (slab == 0) {
      out[i] = cpu::count_tuples(v, o.cpu_threads);
      continue;
    }
    for (int64_t begin = 0; begin < v.voxels; begin += slab) {
      CaseView part = v;
      part.voxels = std::min(slab, v.voxels - begin);
      for (auto& p : part.raters) p = static_cast<const uint8_t*>(p) + begin * v.label_bytes;
      batch.add(part, i, 0);
      batch.flush();
    }
  }
  batch.flush();
  return out;
}

}  // namespace maskeval::cuda
