// Other image formats (.bmp, .pgm, .pnm, ...) through OpenCV, when the build has it: its codecs
// module is loaded on the first such file, so that runs without one never pay for loading
// OpenCV's imgcodecs and its libraries. Pixels are loaded unchanged (IMREAD_UNCHANGED: no
// colour conversion, no depth scaling); colour images come in OpenCV's BGR(A) order, which does
// not matter for label values.
#include "io/formats.h"

#ifdef MASKEVAL_HAVE_OPENCV

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include <opencv2/core/hal/interface.h>

#include "io/opencv_codecs.h"

namespace maskeval::detail {
namespace {

// The module's entry points, or why it could not be loaded.
struct Codecs {
  MaskevalCvDecode decode = nullptr;
  MaskevalCvRelease release = nullptr;
  std::string error;
};

// Where the module may be: beside the running program, where an installed program has it
// (lib/maskeval, whatever the prefix), where the build installs it, then, for a program in the
// build tree (the tests' programs run from a folder below it), there.
std::vector<std::string> module_candidates() {
  std::vector<std::string> out;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((self.parent_path() / kCvModule).string());
    out.push_back((self.parent_path() / MASKEVAL_CODECS_RELATIVE_DIR / kCvModule).string());
  }
  out.push_back(std::string(MASKEVAL_CODECS_INSTALL_DIR) + "/" + kCvModule);
  // The build tree only for a program inside it: an installed one never loads a module from
  // wherever it was built.
  std::error_code ignored;
  const std::string build =
      std::filesystem::weakly_canonical(MASKEVAL_CODECS_BUILD_DIR, ignored).string();
  if (!ec && !build.empty() && self.string().compare(0, build.size() + 1, build + "/") == 0)
    out.push_back(build + "/" + kCvModule);
  return out;
}

Codecs load_codecs() {
  Codecs c;
  for (const std::string& path : module_candidates()) {
    if (::access(path.c_str(), R_OK) != 0) continue;
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = ::dlerror();
      c.error = path + ": " + (why ? why : "cannot be loaded");
      continue;
    }
    c.decode = reinterpret_cast<MaskevalCvDecode>(::dlsym(lib, kCvDecodeSymbol));
    c.release = reinterpret_cast<MaskevalCvRelease>(::dlsym(lib, kCvReleaseSymbol));
    if (c.decode && c.release) return c;
    c.error = path + ": not maskeval's OpenCV codecs module";
    c.decode = nullptr;
    ::dlclose(lib);
  }
  if (c.error.empty()) c.error = std::string(kCvModule) + " not found beside maskeval";
  return c;
}

const Codecs& codecs() {
  static const Codecs c = load_codecs();
  return c;
}

PixelType pixel_type(int depth) {
  switch (depth) {
    case CV_8U:
      return PixelType::kU8;
    case CV_8S:
      return PixelType::kI8;
    case CV_16U:
      return PixelType::kU16;
    case CV_16S:
      return PixelType::kI16;
    case CV_32S:
      return PixelType::kI32;
    case CV_32F:
      return PixelType::kF32;
    case CV_64F:
      return PixelType::kF64;
    default:
      throw InputError("unsupported OpenCV pixel depth " + std::to_string(depth));
  }
}

// Releases the module's image however the copy ends.
struct Held {
  const Codecs& c;
  MaskevalCvImage img;
  ~Held() {
    if (img.handle) c.release(&img);
  }
};

}  // namespace

bool have_opencv() {
  return true;
}

RawImage read_opencv(const std::string& path, const ReadLimits& limits) {
  const Codecs& c = codecs();
  if (!c.decode) throw InputError("OpenCV's codecs are not available (" + c.error + ")");
  // Read here (a regular file only, of a size within the limits), decoded from memory: OpenCV
  // never opens a path itself.
  FileDigest digest;
  const std::vector<uint8_t> bytes = read_whole_file(path, limits, &digest);
  Held held{c, {}};
  if (c.decode(bytes.data(), bytes.size(), &held.img) != 0) throw InputError(held.img.error);
  const MaskevalCvImage& m = held.img;
  if (m.dims != 2)
    throw InputError("unsupported OpenCV image with " + std::to_string(m.dims) + " dimensions");
  RawImage out;
  out.type = pixel_type(m.depth);
  out.channels = m.channels;
  out.geom.ndim = 2;
  out.geom.shape = {m.cols, m.rows, 1};
  out.geom.format = "opencv";
  out.bytes.resize(static_cast<size_t>(image_bytes(out.geom, out.channels, out.type, limits)));
  const size_t row = out.bytes.size() / m.rows;
  for (int y = 0; y < m.rows; ++y)
    std::memcpy(out.bytes.data() + y * row, m.data + y * m.step, row);
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
