// The CPU engine behind the engine interface: host threads over the case's voxels.
#include "maskeval/engine.h"

namespace maskeval {
namespace {

class CpuCounted : public Engine::Counted {
 public:
  CpuCounted(const CaseView& view, TupleHistogram h) : Counted(view, std::move(h)) {}
};

class CpuEngine : public Engine {
 public:
  const char* name() const override { return "cpu"; }
  std::unique_ptr<Counted> count(const CaseView& view, int threads) override {
    return std::make_unique<CpuCounted>(view, cpu::count_tuples(view, threads));
  }
  std::vector<TupleHistogram> count_all(const std::vector<CaseView>& views, int threads) override {
    std::vector<TupleHistogram> out;
    for (const CaseView& v : views) out.push_back(cpu::count_tuples(v, threads));
    return out;
  }
  void write(Counted& c, const WriteTable& table, int threads) override {
    cpu::write(c.view(), c.histogram(), table, threads);
  }
  void squared_edt_at(const uint8_t* feature, const Grid& grid, const std::vector<int64_t>& at,
                      double* out, int threads) override {
    maskeval::squared_edt_at(feature, grid, at, out, threads);
  }
};

}  // namespace

std::unique_ptr<Engine> make_cpu_engine() {
  return std::make_unique<CpuEngine>();
}

}  // namespace maskeval
