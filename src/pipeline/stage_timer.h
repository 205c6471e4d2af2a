// Adding the wall time of a scope to one stage of a case's timings (--timings).
#pragma once

#include <chrono>

namespace maskeval {

// Adds the wall time of its scope to *stage; a null stage is not timed.
class StageTimer {
 public:
  explicit StageTimer(double* stage) : stage_(stage), start_(std::chrono::steady_clock::now()) {}
  explicit StageTimer(double& stage) : StageTimer(&stage) {}
  ~StageTimer() {
    if (stage_)
      *stage_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  double* stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace maskeval
