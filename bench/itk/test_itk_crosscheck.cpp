// Cross-checks against ITK 5 itself (built only with -DMASKEVAL_ITK_CHECKS=ON; ctest label
// crosscheck): the itk distance convention against HausdorffDistanceImageFilter, binary STAPLE
// against STAPLEImageFilter, multi-label STAPLE against MultiLabelSTAPLEImageFilter, on random
// masks. Values must agree to 1e-6 relative.
#include <gtest/gtest.h>
#include <itkHausdorffDistanceImageFilter.h>
#include <itkImage.h>
#include <itkMultiLabelSTAPLEImageFilter.h>
#include <itkSTAPLEImageFilter.h>

#include <cmath>
#include <random>

#include "maskeval/distance.h"
#include "maskeval/staple.h"

namespace {

using Image3 = itk::Image<unsigned char, 3>;

Image3::Pointer to_itk(const std::vector<uint8_t>& m, const maskeval::Grid& g) {
  auto img = Image3::New();
  Image3::SizeType size;
  Image3::SpacingType spacing;
  for (int a = 0; a < 3; ++a) {
    size[a] = g.shape[a];
    spacing[a] = g.spacing[a];
  }
  img->SetRegions(size);
  img->SetSpacing(spacing);
  img->Allocate();
  std::copy(m.begin(), m.end(), img->GetBufferPointer());
  return img;
}

std::vector<uint8_t> blob(std::mt19937& rng, const maskeval::Grid& g, double noise) {
  std::uniform_real_distribution<double> u(0, 1);
  const double cx = u(rng) * g.shape[0], cy = u(rng) * g.shape[1], cz = u(rng) * g.shape[2];
  const double r = 2 + u(rng) * 5;
  std::vector<uint8_t> m(g.voxels());
  for (int64_t i = 0; i < g.voxels(); ++i) {
    const int64_t x = i % g.shape[0], y = (i / g.shape[0]) % g.shape[1],
                  z = i / (g.shape[0] * g.shape[1]);
    m[i] = std::hypot(x - cx, y - cy, z - cz) < r || u(rng) < noise;
  }
  return m;
}

void expect_close(double a, double b) {
  EXPECT_NEAR(a, b, 1e-6 * std::max(1.0, std::abs(b)));
}

TEST(ItkCrossCheck, HausdorffDistanceImageFilter) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 10; ++trial) {
    maskeval::Grid g;
    g.ndim = 3;
    g.shape = {12 + trial, 10, 7};
    g.spacing = {0.7, 1.1 + 0.1 * trial, 2.5};
    const auto a = blob(rng, g, 0.01), b = blob(rng, g, 0.01);
    auto f = itk::HausdorffDistanceImageFilter<Image3, Image3>::New();
    f->SetInput1(to_itk(a, g));
    f->SetInput2(to_itk(b, g));
    f->SetUseImageSpacing(true);
    f->Update();
    maskeval::DistanceOptions o;
    o.convention = maskeval::DistanceConvention::kItk;
    const auto m = maskeval::boundary_metrics(a.data(), b.data(), g, o, 2);
    expect_close(m.hd, f->GetHausdorffDistance());
    expect_close(m.assd, f->GetAverageHausdorffDistance());
  }
}

TEST(ItkCrossCheck, StapleImageFilter) {
  std::mt19937 rng(2);
  maskeval::Grid g;
  g.ndim = 3;
  g.shape = {20, 18, 9};
  for (int raters : {2, 3, 7}) {
    std::vector<std::vector<uint8_t>> masks;
    for (int k = 0; k < raters; ++k) masks.push_back(blob(rng, g, 0.02));
    auto f = itk::STAPLEImageFilter<Image3, itk::Image<double, 3>>::New();
    for (int k = 0; k < raters; ++k) f->SetInput(k, to_itk(masks[k], g));
    f->SetForegroundValue(1);
    f->Update();
    std::vector<const uint8_t*> ptrs;
    for (const auto& m : masks) ptrs.push_back(m.data());
    maskeval::CaseView v;
    v.voxels = g.voxels();
    v.max_label = 1;
    v.raters.assign(ptrs.begin(), ptrs.end());
    const auto p = maskeval::binary_patterns(maskeval::cpu::count_tuples(v, 1), 1);
    const auto r = maskeval::staple(p, {});
    EXPECT_EQ(static_cast<unsigned>(r.iterations), f->GetElapsedIterations() + 1);
    for (int k = 0; k < raters; ++k) {
      expect_close(r.sensitivity[k], f->GetSensitivity(k));
      expect_close(r.specificity[k], f->GetSpecificity(k));
    }
    std::vector<float> w(v.voxels);
    maskeval::cpu::staple_maps(v, 1, p, r, 0.5, w.data(), nullptr, 1);
    const double* itk_w = f->GetOutput()->GetBufferPointer();
    for (int64_t i = 0; i < v.voxels; ++i) ASSERT_NEAR(w[i], itk_w[i], 1e-6) << i;
  }
}

TEST(ItkCrossCheck, MultiLabelStapleImageFilter) {
  // Three raters, three labels; ITK computes in double here (TWeights = double). Its
  // initialisation also counts undecided voxels out of bounds, so the cases are drawn without
  // ties: every voxel has a label at least two raters agree on.
  std::mt19937 rng(3);
  maskeval::Grid g;
  g.ndim = 3;
  g.shape = {16, 12, 6};
  std::uniform_int_distribution<int> label(0, 2), who(0, 2);
  std::vector<std::vector<uint8_t>> maps(3, std::vector<uint8_t>(g.voxels()));
  for (int64_t i = 0; i < g.voxels(); ++i) {
    const int truth = static_cast<int>((i / 40) % 3);
    for (auto& m : maps) m[i] = static_cast<uint8_t>(truth);
    maps[who(rng)][i] = static_cast<uint8_t>(label(rng));  // one rater may differ
  }
  using Filter = itk::MultiLabelSTAPLEImageFilter<Image3, Image3, double>;
  auto f = Filter::New();
  for (int k = 0; k < 3; ++k) f->SetInput(k, to_itk(maps[k], g));
  f->Update();
  maskeval::CaseView v;
  v.voxels = g.voxels();
  v.max_label = 2;
  for (const auto& m : maps) v.raters.push_back(m.data());
  const auto r = maskeval::mlstaple(maskeval::cpu::count_tuples(v, 1), {});
  EXPECT_EQ(static_cast<unsigned>(r.iterations), f->GetElapsedNumberOfIterations() + 1);
  for (int k = 0; k < 3; ++k) {
    const auto& theta = f->GetConfusionMatrix(k);
    for (int j = 0; j <= 3; ++j)
      for (int c = 0; c < 3; ++c) expect_close(r.theta(k, j, c), theta[j][c]);
  }
  std::vector<maskeval::Label> out(v.voxels);
  maskeval::cpu::mlstaple_map(v, r, out.data(), 1);
  const unsigned char* itk_out = f->GetOutput()->GetBufferPointer();
  for (int64_t i = 0; i < v.voxels; ++i) ASSERT_EQ(out[i], itk_out[i]) << i;
}

}  // namespace
