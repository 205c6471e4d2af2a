// Boundary metrics, maskeval against ITK 5's HausdorffDistanceImageFilter, on one pair of real
// 3D masks (KiTS23 kidney, two annotators, each the union of its instance files) in one run.
// maskeval computes HD95 + ASSD + NSD (monai convention) and, separately, ITK's own definition
// (itk convention: HD and the average Hausdorff distance over all voxels), which must agree.
// Each is timed `REPEATS` times (default 5), interleaved, and the fastest run is reported, which
// keeps the ratio steady on a noisy machine.
// SLICES, when given, resamples the slice axis (nearest neighbour, same extent) to that many
// slices, e.g. 100 for the 512 x 512 x 100 volume of the speed target.
// Usage: maskeval_itk_hausdorff [KITS_CASE_FOLDER] [THREADS] [REPEATS] [SLICES]
#include <itkHausdorffDistanceImageFilter.h>
#include <itkImage.h>
#include <itkMultiThreaderBase.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "maskeval/distance.h"
#include "maskeval/image.h"
#include "maskeval/labels.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "../shared/data/kits23/case_00021";
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
  const int slices = argc > 4 ? std::atoi(argv[4]) : 0;
  // Kidney instances of annotations 1 and 2.
  std::vector<std::vector<uint8_t>> masks(2);
  maskeval::Geometry geom;
  const std::regex name(R"(kidney_instance-\d+_annotation-([12])\.nii\.gz)");
  for (const auto& e : fs::directory_iterator(dir + "/instances")) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    if (!std::regex_match(file, m, name)) continue;
    const maskeval::LabelImage img = maskeval::to_labels(
        maskeval::read_image(e.path().string()), maskeval::ForegroundRule::parse("nonzero"));
    geom = img.geom;
    auto& u = masks[std::stoi(m[1]) - 1];
    u.resize(img.geom.voxels(), 0);
    for (size_t i = 0; i < u.size(); ++i) u[i] |= img.data[i];
  }
  if (masks[0].empty() || masks[1].empty()) {
    std::fprintf(stderr, "no kidney instance files for annotations 1 and 2 in %s\n", dir.c_str());
    return 1;
  }
  // KiTS23 stores the slice axis first (the fastest in memory).
  const int slice_axis = static_cast<int>(
      std::max_element(geom.spacing.begin(), geom.spacing.end()) - geom.spacing.begin());
  if (slices > 0 && slices != geom.shape[slice_axis]) {
    maskeval::Geometry to = geom;
    to.shape[slice_axis] = slices;
    to.spacing[slice_axis] = geom.spacing[slice_axis] * geom.shape[slice_axis] / slices;
    for (auto& m : masks) {
      std::vector<uint8_t> r(to.voxels());
      for (int64_t z = 0; z < to.shape[2]; ++z)
        for (int64_t y = 0; y < to.shape[1]; ++y)
          for (int64_t x = 0; x < to.shape[0]; ++x) {
            int64_t p[3] = {x, y, z};
            p[slice_axis] = (2 * p[slice_axis] + 1) * geom.shape[slice_axis] / (2 * slices);
            r[(z * to.shape[1] + y) * to.shape[0] + x] =
                m[(p[2] * geom.shape[1] + p[1]) * geom.shape[0] + p[0]];
          }
      m = std::move(r);
    }
    geom = to;
  }
  maskeval::Grid grid;
  grid.ndim = 3;
  grid.shape = geom.shape;
  grid.spacing = geom.spacing;

  using Image = itk::Image<unsigned char, 3>;
  Image::Pointer images[2];
  for (int k = 0; k < 2; ++k) {
    images[k] = Image::New();
    Image::SizeType size;
    for (int a = 0; a < 3; ++a) size[a] = geom.shape[a];
    images[k]->SetRegions(size);
    Image::SpacingType spacing;
    for (int a = 0; a < 3; ++a) spacing[a] = geom.spacing[a];
    images[k]->SetSpacing(spacing);
    images[k]->Allocate();
    std::copy(masks[k].begin(), masks[k].end(), images[k]->GetBufferPointer());
  }
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(threads);
  auto seconds = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  double itk_s = 1e30, monai_s = 1e30, itk_conv_s = 1e30;
  double itk_hd = 0, itk_avg = 0;
  maskeval::BoundaryMetrics monai, itk;
  for (int rep = 0; rep < repeats; ++rep) {
    auto filter = itk::HausdorffDistanceImageFilter<Image, Image>::New();
    filter->SetInput1(images[0]);
    filter->SetInput2(images[1]);
    filter->SetUseImageSpacing(true);
    const auto t0 = Clock::now();
    filter->Update();
    itk_s = std::min(itk_s, seconds(t0));
    itk_hd = filter->GetHausdorffDistance();
    itk_avg = filter->GetAverageHausdorffDistance();

    maskeval::DistanceOptions o;
    o.nsd_tolerance = 2.0;
    const auto t1 = Clock::now();
    monai = maskeval::boundary_metrics(masks[0].data(), masks[1].data(), grid, o, threads);
    monai_s = std::min(monai_s, seconds(t1));
    o.convention = maskeval::DistanceConvention::kItk;
    const auto t2 = Clock::now();
    itk = maskeval::boundary_metrics(masks[0].data(), masks[1].data(), grid, o, threads);
    itk_conv_s = std::min(itk_conv_s, seconds(t2));
  }

  std::printf("volume %lld x %lld x %lld, spacing %.3f x %.3f x %.3f, %d threads, best of %d\n",
              static_cast<long long>(geom.shape[0]), static_cast<long long>(geom.shape[1]),
              static_cast<long long>(geom.shape[2]), geom.spacing[0], geom.spacing[1],
              geom.spacing[2], threads, repeats);
  std::printf("ITK HausdorffDistanceImageFilter: %.3f s  HD %.9f  average HD %.9f\n", itk_s, itk_hd,
              itk_avg);
  std::printf("maskeval itk convention:          %.3f s  HD %.9f  average HD %.9f  (%.0fx)\n",
              itk_conv_s, itk.hd, itk.assd, itk_s / itk_conv_s);
  std::printf(
      "maskeval monai HD95+ASSD+NSD:     %.3f s  HD95 %.6f  ASSD %.6f  NSD@2mm %.6f  (%.0fx)\n",
      monai_s, monai.hd_percentile, monai.assd, monai.nsd, itk_s / monai_s);
  return 0;
}
