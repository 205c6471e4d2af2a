// Binary STAPLE, maskeval against ITK 5's STAPLEImageFilter, on the same synthetic masks, both
// single-threaded, in one run: the two workloads of the speed target (13 raters on a 1426 x 907
// image; 3 raters on a 160^3 volume). maskeval's time covers the whole job: counting, EM, and
// the posterior and consensus maps. Prints a table and checks that the estimates agree.
#include <itkImage.h>
#include <itkImportImageFilter.h>
#include <itkMultiThreaderBase.h>
#include <itkSTAPLEImageFilter.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "maskeval/staple.h"

namespace {

using Clock = std::chrono::steady_clock;

// Raters outlining the same blobs, each with its own boundary jitter.
std::vector<std::vector<uint8_t>> draw(int raters, int nx, int ny, int nz, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1), jitter(-2.5, 2.5);
  struct Blob {
    double x, y, z, r;
  };
  std::vector<Blob> blobs;
  for (int b = 0; b < 6; ++b)
    blobs.push_back({unit(rng) * nx, unit(rng) * ny, unit(rng) * nz,
                     (0.08 + 0.1 * unit(rng)) * std::min(nx, ny)});
  std::vector<std::vector<uint8_t>> out(raters, std::vector<uint8_t>(size_t(nx) * ny * nz, 0));
  for (int k = 0; k < raters; ++k)
    for (const Blob& b : blobs) {
      const double r = b.r + jitter(rng), cx = b.x + jitter(rng), cy = b.y + jitter(rng);
      for (int z = 0; z < nz; ++z)
        for (int y = 0; y < ny; ++y)
          for (int x = 0; x < nx; ++x) {
            const double dz = nz > 1 ? z - b.z : 0;
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) + dz * dz < r * r)
              out[k][(size_t(z) * ny + y) * nx + x] = 1;
          }
    }
  return out;
}

template <unsigned D>
void compare(const char* name, int raters, int nx, int ny, int nz) {
  using In = itk::Image<unsigned char, D>;
  using Out = itk::Image<double, D>;
  const auto masks = draw(raters, nx, ny, nz, 11);
  const int64_t n = int64_t(nx) * ny * nz;

  auto filter = itk::STAPLEImageFilter<In, Out>::New();
  std::vector<typename In::Pointer> images;
  for (int k = 0; k < raters; ++k) {
    auto img = In::New();
    typename In::SizeType size;
    size[0] = nx;
    size[1] = ny;
    if (D == 3) size[D - 1] = nz;
    img->SetRegions(size);
    img->Allocate();
    std::copy(masks[k].begin(), masks[k].end(), img->GetBufferPointer());
    images.push_back(img);
    filter->SetInput(k, img);
  }
  filter->SetForegroundValue(1);
  filter->SetNumberOfWorkUnits(1);
  const auto t0 = Clock::now();
  filter->Update();
  const double itk_s = std::chrono::duration<double>(Clock::now() - t0).count();

  maskeval::CaseView view;
  view.voxels = n;
  view.max_label = 1;
  for (const auto& m : masks) view.raters.push_back(m.data());
  std::vector<float> posterior(n);
  std::vector<uint8_t> consensus(n);
  const auto t1 = Clock::now();
  const maskeval::TupleHistogram h = maskeval::cpu::count_tuples(view, 1);
  const auto t2 = Clock::now();
  const maskeval::BinaryPatterns p = maskeval::binary_patterns(h, 1);
  const maskeval::StapleResult r = maskeval::staple(p, {});
  const auto t3 = Clock::now();
  maskeval::cpu::staple_maps(view, 1, p, r, 0.5, posterior.data(), consensus.data(), 1);
  const auto t4 = Clock::now();
  const double ours_s = std::chrono::duration<double>(t4 - t1).count();
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };

  double worst = 0, worst_w = 0;
  for (int k = 0; k < raters; ++k) {
    worst = std::max(worst, std::abs(r.sensitivity[k] - filter->GetSensitivity(k)));
    worst = std::max(worst, std::abs(r.specificity[k] - filter->GetSpecificity(k)));
  }
  const double* w = filter->GetOutput()->GetBufferPointer();
  for (int64_t i = 0; i < n; ++i)
    worst_w = std::max(worst_w, std::abs(double(posterior[i]) - w[i]));
  std::printf("%-28s %9.3f %11.4f %8.0fx %6u / %-3d %12.1e %12.1e   %.1f / %.2f / %.1f\n", name,
              itk_s, ours_s, itk_s / ours_s, filter->GetElapsedIterations(), r.iterations, worst,
              worst_w, ms(t1, t2), ms(t2, t3), ms(t3, t4));
}

}  // namespace

int main() {
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(1);
  std::printf("%-28s %9s %11s %9s %12s %12s %12s   %s\n", "workload", "ITK s", "maskeval s",
              "ratio", "iterations", "max |dp,dq|", "max |dW|", "count / EM / maps ms");
  compare<2>("13 raters, 1426 x 907", 13, 1426, 907, 1);
  compare<3>("3 raters, 160 x 160 x 160", 3, 160, 160, 160);
  return 0;
}
