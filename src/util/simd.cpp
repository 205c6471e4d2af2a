// Which vector width the hot loops run at, decided once from the CPU.
#include "util/simd.h"

#include <atomic>

namespace maskeval::simd {
namespace {

bool cpu_has_avx2() {
#ifdef MASKEVAL_HAVE_AVX2_CLONES
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

std::atomic<bool> allowed{true};

}  // namespace

bool wide_vectors() {
  static const bool has = cpu_has_avx2();
  return has && allowed.load(std::memory_order_relaxed);
}

void allow_wide_vectors(bool allow) {
  allowed.store(allow, std::memory_order_relaxed);
}

}  // namespace maskeval::simd
