// The agreement overlay: a colour picture of where raters disagree, drawn with OpenCV.
#include "maskeval/overlay.h"

#include <stdexcept>

#ifdef MASKEVAL_HAVE_OPENCV

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace maskeval {
namespace {

// The background as 8-bit grey, windowed to its 1st..99th percentile.
cv::Mat grey_background(const RawImage& img) {
  const int64_t n = img.voxels();
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i) {
    switch (img.type) {
      case PixelType::kU8:
        values[i] = img.bytes[i];
        break;
      case PixelType::kU16:
        values[i] = reinterpret_cast<const uint16_t*>(img.bytes.data())[i];
        break;
      case PixelType::kI16:
        values[i] = reinterpret_cast<const int16_t*>(img.bytes.data())[i];
        break;
      case PixelType::kF32:
        values[i] = reinterpret_cast<const float*>(img.bytes.data())[i];
        break;
      default:
        throw std::runtime_error("background image: unsupported pixel type");
    }
  }
  std::vector<double> sorted = values;
  std::nth_element(sorted.begin(), sorted.begin() + n / 100, sorted.end());
  const double low = sorted[n / 100];
  std::nth_element(sorted.begin(), sorted.begin() + (n * 99) / 100, sorted.end());
  const double high = std::max(low + 1e-9, sorted[(n * 99) / 100]);
  cv::Mat grey(static_cast<int>(img.geom.shape[1]), static_cast<int>(img.geom.shape[0]), CV_8UC1);
  for (int64_t i = 0; i < n; ++i)
    grey.data[i] = cv::saturate_cast<uint8_t>((values[i] - low) / (high - low) * 255.0);
  return grey;
}

}  // namespace

bool overlay_supported() {
  return true;
}

void write_agreement_overlay(const std::string& path, const std::vector<float>& agreement,
                             int64_t width, int64_t height, int raters,
                             const RawImage* background) {
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  cv::Mat grey = background ? grey_background(*background) : cv::Mat::zeros(h, w, CV_8UC1);
  cv::Mat picture;
  cv::cvtColor(grey, picture, cv::COLOR_GRAY2BGR);
  // Disagreement 0 (unanimous) .. 1 (the lowest agreement R raters can have, 1/R).
  cv::Mat heat(h, w, CV_8UC1);
  const double lowest = raters > 0 ? 1.0 / raters : 0.0;
  for (int64_t i = 0; i < width * height; ++i)
    heat.data[i] = cv::saturate_cast<uint8_t>((1.0 - agreement[i]) / (1.0 - lowest) * 255.0);
  cv::Mat colours;
  cv::applyColorMap(255 - heat, colours, cv::COLORMAP_AUTUMN);  // red (low) .. yellow (high)
  for (int64_t i = 0; i < width * height; ++i) {
    if (agreement[i] >= 1.0f) continue;
    cv::Vec3b& p = picture.at<cv::Vec3b>(static_cast<int>(i / w), static_cast<int>(i % w));
    const cv::Vec3b c = colours.at<cv::Vec3b>(static_cast<int>(i / w), static_cast<int>(i % w));
    for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>((p[k] * 3 + c[k] * 7) / 10);
  }
  const std::string tmp = path + ".tmp.png";
  bool ok = false;
  try {
    ok = cv::imwrite(tmp, picture);
  } catch (const cv::Exception& e) {
    std::remove(tmp.c_str());
    throw std::runtime_error(e.what());
  }
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error("could not write the overlay");
  }
}

}  // namespace maskeval

#else

namespace maskeval {

bool overlay_supported() {
  return false;
}

void write_agreement_overlay(const std::string&, const std::vector<float>&, int64_t, int64_t, int,
                             const RawImage*) {
  throw std::runtime_error("overlays need OpenCV; this maskeval was built without it");
}

}  // namespace maskeval

#endif
