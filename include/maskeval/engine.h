// The engine interface the CPU and CUDA engines both implement: count cases into tuple
// histograms, write per-voxel outputs through a table computed on the host, distance transforms.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "maskeval/counts.h"
#include "maskeval/distance.h"

namespace maskeval {

// The entries of a histogram, in the order every write table follows: its unanimous labels
// (entry i is unanimous_labels[i]), then its mixed rows (entry U + row).
size_t entry_count(const TupleHistogram& h);

// One per-voxel output of a write pass: each voxel gets the value of its histogram entry.
enum class WriteType { kU8, kU16, kF32 };
struct WriteColumn {
  WriteType type = WriteType::kU8;
  std::vector<uint16_t> labels;  // kU8 (each < 256) and kU16: one per entry
  std::vector<float> values;     // kF32: one per entry
  void* out = nullptr;           // the case's voxels, of `type`; null: not written
};
using WriteTable = std::vector<WriteColumn>;

class Engine {
 public:
  // A case the engine has counted and keeps for its write passes (the CUDA engine keeps its
  // masks on the device). The view's arrays must outlive it.
  class Counted {
   public:
    virtual ~Counted() = default;
    const TupleHistogram& histogram() const { return histogram_; }
    const CaseView& view() const { return view_; }

   protected:
    Counted(const CaseView& view, TupleHistogram h) : view_(view), histogram_(std::move(h)) {}

   private:
    CaseView view_;
    TupleHistogram histogram_;
  };

  virtual ~Engine() = default;
  // "cpu" or "cuda".
  virtual const char* name() const = 0;
  // Counts one case with up to `threads` host threads. Throws std::invalid_argument on a bad
  // view, CudaError (cuda_engine.h) when the device fails.
  virtual std::unique_ptr<Counted> count(const CaseView& view, int threads) = 0;
  // Counts many cases at once: one histogram each, in order.
  virtual std::vector<TupleHistogram> count_all(const std::vector<CaseView>& views,
                                                int threads) = 0;
  // The write pass: every column of `table` (entry_count(histogram) values each) written for
  // every voxel of the case, in one pass over its masks.
  virtual void write(Counted& counted, const WriteTable& table, int threads) = 0;
  // squared_edt (distance.h) read at the voxels `at`: out[k] is the value at voxel at[k].
  virtual void squared_edt_at(const uint8_t* feature, const Grid& grid,
                              const std::vector<int64_t>& at, double* out, int threads) = 0;
  // A worker thread of a run that will submit cases (the CUDA engine batches small cases of
  // all workers; a batch need not wait for a worker that has finished). No-op on the CPU.
  virtual void add_worker() {}
  virtual void remove_worker() {}
  // What the engine did otherwise than asked for the cases of the calling thread since its last
  // call, each said once (the CUDA engine: "counted on the CPU: <why>" when device memory was
  // short or an allocation failed); empty on the CPU engine. A run takes them after each case.
  virtual std::vector<std::string> take_notes() { return {}; }
  // Run-wide: why the engine stopped using its device for the rest of the run (a device error
  // after which every CUDA call fails); "" while it has not.
  virtual std::string run_note() const { return {}; }
};

namespace cpu {
// The CPU engine's write pass of a case whose histogram is `h`, with `threads` threads.
void write(const CaseView& view, const TupleHistogram& h, const WriteTable& table, int threads);
}  // namespace cpu

// The CPU engine.
std::unique_ptr<Engine> make_cpu_engine();
// The CUDA engine on the first device; throws CudaError when it is not built or no device is
// usable. `device_memory_limit` (bytes, --device-memory-limit; 0: none) caps the device memory
// it allocates on top of the 70% rule (cuda::memory_budget): cases that do not fit are counted
// in slabs, and those too large even for slabs are counted and written on the CPU.
std::unique_ptr<Engine> make_cuda_engine(int64_t device_memory_limit = 0);

// Boundary metrics of every pair of masks with the engine's distance transform (the rest of
// the work, surfaces and metrics, runs on the host): equal to boundary_matrix.
std::vector<BoundaryMetrics> boundary_matrix(Engine& engine,
                                             const std::vector<const uint8_t*>& masks,
                                             const Grid& grid, const DistanceOptions& options,
                                             int threads);

}  // namespace maskeval
