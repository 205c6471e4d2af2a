// The C interface of the OpenCV codecs module (maskeval_opencv_codecs.so), loaded on first use.
#pragma once

#include <cstddef>

extern "C" {

// One decoded image, held by the module until released.
struct MaskevalCvImage {
  int rows = 0, cols = 0, dims = 0;
  int depth = 0;  // OpenCV's numbering (CV_8U .. CV_64F)
  int channels = 0;
  const unsigned char* data = nullptr;  // row y at data + y * step
  size_t step = 0;
  void* handle = nullptr;  // the module's own image
  char error[256] = "";
};

// Decodes `size` bytes of an image file (IMREAD_UNCHANGED); 0 on success, else the reason is in
// out->error. Every call that filled out->handle is to be paired with one release.
using MaskevalCvDecode = int (*)(const unsigned char* bytes, size_t size, MaskevalCvImage* out);
using MaskevalCvRelease = void (*)(MaskevalCvImage* image);
}

namespace maskeval::detail {
inline constexpr const char* kCvModule = "maskeval_opencv_codecs.so";
inline constexpr const char* kCvDecodeSymbol = "maskeval_cv_decode";
inline constexpr const char* kCvReleaseSymbol = "maskeval_cv_release";
}  // namespace maskeval::detail
