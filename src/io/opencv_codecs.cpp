// The OpenCV codecs module: decodes image files through OpenCV's imgcodecs, which pulls in
// about 140 shared libraries and is therefore loaded only when a file needs it.
#include "io/opencv_codecs.h"

#include <climits>
#include <cstdio>
#include <new>

#include <opencv2/imgcodecs.hpp>

namespace {

void set_error(MaskevalCvImage* out, const char* what) {
  std::snprintf(out->error, sizeof out->error, "%s", what);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int maskeval_cv_decode(const unsigned char* bytes,
                                                                         size_t size,
                                                                         MaskevalCvImage* out) {
  if (size > INT_MAX) {
    set_error(out, "the file is too large for OpenCV");
    return 1;
  }
  try {
    cv::Mat m =
        cv::imdecode(cv::Mat(1, static_cast<int>(size), CV_8U, const_cast<unsigned char*>(bytes)),
                     cv::IMREAD_UNCHANGED);
    if (m.empty()) {
      set_error(out, "OpenCV could not decode the file");
      return 1;
    }
    auto* held = new cv::Mat(std::move(m));
    out->handle = held;
    out->rows = held->rows;
    out->cols = held->cols;
    out->dims = held->dims;
    out->depth = held->depth();
    out->channels = held->channels();
    out->data = held->data;
    out->step = held->dims == 2 ? held->step[0] : 0;
    return 0;
  } catch (const cv::Exception& e) {
    std::snprintf(out->error, sizeof out->error, "OpenCV could not decode the file: %s", e.what());
  } catch (const std::bad_alloc&) {
    set_error(out, "out of memory while OpenCV decoded the file");
  } catch (...) {
    set_error(out, "OpenCV could not decode the file");
  }
  return 1;
}

extern "C" __attribute__((visibility("default"))) void maskeval_cv_release(MaskevalCvImage* image) {
  delete static_cast<cv::Mat*>(image->handle);
  image->handle = nullptr;
  image->data = nullptr;
}
