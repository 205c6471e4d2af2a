// The fork-join helper: contiguous ranges of work on threads, exceptions rethrown.
#include "util/parallel.h"

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace maskeval {

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void parallel_ranges(int64_t n, int parts, const std::function<void(int, int64_t, int64_t)>& fn) {
  if (parts < 1) parts = 1;
  if (parts == 1) {
    fn(0, 0, n);
    return;
  }
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](int part) {
    const int64_t begin = n * part / parts;
    const int64_t end = n * (part + 1) / parts;
    try {
      fn(part, begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(parts - 1);
  for (int p = 1; p < parts; ++p) pool.emplace_back(run, p);
  run(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace maskeval
