// Other image formats (.bmp, .pgm, .pnm, ...) through OpenCV, when the build has it. Pixels are
// loaded unchanged (IMREAD_UNCHANGED: no colour conversion, no depth scaling); colour images
// come in OpenCV's BGR(A) order, which does not matter for label values.
#include "io/formats.h"

#ifdef MASKEVAL_HAVE_OPENCV

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

#include <opencv2/imgcodecs.hpp>

namespace maskeval::detail {

bool have_opencv() {
  return true;
}

RawImage read_opencv(const std::string& path, const ReadLimits& limits) {
  // Read here (a regular file only, of a size within the limits), decoded from memory: OpenCV
  // never opens a path itself.
  FileDigest digest;
  const std::vector<uint8_t> bytes = read_whole_file(path, limits, &digest);
  cv::Mat m;
  try {
    m = cv::imdecode(cv::Mat(1, static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX)), CV_8U,
                             const_cast<uint8_t*>(bytes.data())),
                     cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw InputError(std::string("OpenCV could not decode the file: ") + e.what());
  }
  if (m.empty()) throw InputError("OpenCV could not decode the file");
  if (m.dims != 2)
    throw InputError("unsupported OpenCV image with " + std::to_string(m.dims) + " dimensions");

  RawImage out;
  switch (m.depth()) {
    case CV_8U:
      out.type = PixelType::kU8;
      break;
    case CV_8S:
      out.type = PixelType::kI8;
      break;
    case CV_16U:
      out.type = PixelType::kU16;
      break;
    case CV_16S:
      out.type = PixelType::kI16;
      break;
    case CV_32S:
      out.type = PixelType::kI32;
      break;
    case CV_32F:
      out.type = PixelType::kF32;
      break;
    case CV_64F:
      out.type = PixelType::kF64;
      break;
    default:
      throw InputError("unsupported OpenCV pixel depth " + std::to_string(m.depth()));
  }
  out.channels = m.channels();
  out.geom.ndim = 2;
  out.geom.shape = {m.cols, m.rows, 1};
  out.geom.format = "opencv";
  out.bytes.resize(static_cast<size_t>(image_bytes(out.geom, out.channels, out.type, limits)));
  const size_t row = out.bytes.size() / m.rows;
  for (int y = 0; y < m.rows; ++y) std::memcpy(out.bytes.data() + y * row, m.ptr(y), row);
  out.files[path] = std::move(digest);
  return out;
}

}  // namespace maskeval::detail

#else  // !MASKEVAL_HAVE_OPENCV

namespace maskeval::detail {

bool have_opencv() {
  return false;
}

RawImage read_opencv(const std::string&, const ReadLimits&) {
  throw InputError("unsupported file type (built without OpenCV)");
}

}  // namespace maskeval::detail

#endif
