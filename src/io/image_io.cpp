// Format-independent part of the I/O layer: pixel types, dispatch by extension and content,
// atomic writes.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "io/formats.h"

namespace maskeval {

const char* pixel_type_name(PixelType t) {
  switch (t) {
    case PixelType::kU8:
      return "uint8";
    case PixelType::kI8:
      return "int8";
    case PixelType::kU16:
      return "uint16";
    case PixelType::kI16:
      return "int16";
    case PixelType::kU32:
      return "uint32";
    case PixelType::kI32:
      return "int32";
    case PixelType::kU64:
      return "uint64";
    case PixelType::kI64:
      return "int64";
    case PixelType::kF32:
      return "float32";
    case PixelType::kF64:
      return "float64";
  }
  return "unknown";
}

int pixel_type_size(PixelType t) {
  switch (t) {
    case PixelType::kU8:
    case PixelType::kI8:
      return 1;
    case PixelType::kU16:
    case PixelType::kI16:
      return 2;
    case PixelType::kU32:
    case PixelType::kI32:
    case PixelType::kF32:
      return 4;
    case PixelType::kU64:
    case PixelType::kI64:
    case PixelType::kF64:
      return 8;
  }
  return 0;
}

namespace detail {

bool ends_with_nocase(const std::string& path, const char* suffix) {
  const size_t n = std::strlen(suffix);
  if (path.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = path[path.size() - n + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

void swap_bytes(void* data, int64_t count, int size) {
  auto* p = static_cast<uint8_t*>(data);
  for (int64_t i = 0; i < count; ++i, p += size) {
    for (int a = 0, b = size - 1; a < b; ++a, --b) std::swap(p[a], p[b]);
  }
}

int64_t image_bytes(const Geometry& g, int channels, PixelType type) {
  int64_t total = int64_t{channels} * pixel_type_size(type);
  for (int64_t d : g.shape) {
    if (d <= 0) throw InputError("invalid image dimension " + std::to_string(d));
    if (total > kMaxImageBytes / d) throw InputError("image too large (over 1 TiB of pixel data)");
    total *= d;
  }
  return total;
}

std::string errno_text() {
  return std::strerror(errno);
}

TempFile::TempFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {}

TempFile::~TempFile() {
  if (committed_) return;
  if (file_) std::fclose(file_);
  std::remove(tmp_.c_str());
}

FILE* TempFile::open() {
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_) fail("cannot create " + tmp_ + ": " + errno_text());
  return file_;
}

void TempFile::commit() {
  if (file_) {
    const bool bad = std::ferror(file_) != 0;
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (bad || rc != 0) fail("write failed: " + errno_text());
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("cannot rename " + tmp_ + ": " + errno_text());
  committed_ = true;
}

void TempFile::fail(const std::string& reason) const {
  throw std::runtime_error(path_ + ": " + reason);
}

}  // namespace detail

namespace {

enum class Content { kPng, kTiff, kNifti, kGzip, kUnknown };

Content sniff(const uint8_t* b, size_t n) {
  static const uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::memcmp(b, kPngSig, 8) == 0) return Content::kPng;
  if (n >= 4 && ((b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
                 (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43)))) {
    return Content::kTiff;  // classic TIFF (42) or BigTIFF (43)
  }
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return Content::kGzip;
  if (n >= 4) {
    const uint32_t le = b[0] | b[1] << 8 | b[2] << 16 | uint32_t{b[3]} << 24;
    const uint32_t be = b[3] | b[2] << 8 | b[1] << 16 | uint32_t{b[0]} << 24;
    if (le == 348 || le == 540 || be == 348 || be == 540) return Content::kNifti;
  }
  return Content::kUnknown;
}

const char* content_name(Content c) {
  switch (c) {
    case Content::kPng:
      return "PNG";
    case Content::kTiff:
      return "TIFF";
    case Content::kNifti:
      return "NIfTI";
    case Content::kGzip:
      return "gzip";
    case Content::kUnknown:
      break;
  }
  return "unknown";
}

[[noreturn]] void wrong_content(const char* expected, Content got) {
  std::string msg = std::string("not a ") + expected + " file";
  if (got != Content::kUnknown)
    msg += std::string(" (the content looks like ") + content_name(got) + ")";
  throw InputError(msg);
}

// Reads the first bytes of the file, to check that it exists and what it holds.
size_t read_head(const std::string& path, uint8_t* head, size_t size) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw InputError("cannot open: " + detail::errno_text());
  const size_t n = std::fread(head, 1, size, f.get());
  if (std::ferror(f.get())) throw InputError("cannot read: " + detail::errno_text());
  if (n == 0) throw InputError("empty file");
  return n;
}

// Formats read through OpenCV when it is built in. Only the lossless greyscale-capable ones
// (.bmp .pgm .pnm) count as mask files; .ppm/.pbm/.webp/.jpg/.jpeg are readable on request
// but are colour or lossy, so a directory scan does not pick them up as masks.
constexpr const char* kOpenCvMaskExts[] = {".bmp", ".pgm", ".pnm"};
constexpr const char* kOpenCvOtherExts[] = {".ppm", ".pbm", ".webp", ".jpg", ".jpeg"};

bool has_any_ext(const std::string& path, const char* const* begin, const char* const* end) {
  for (auto* e = begin; e != end; ++e) {
    if (detail::ends_with_nocase(path, *e)) return true;
  }
  return false;
}

RawImage dispatch(const std::string& path) {
  using detail::ends_with_nocase;
  uint8_t head[8];
  const Content c = sniff(head, read_head(path, head, sizeof head));
  if (ends_with_nocase(path, ".png")) {
    if (c != Content::kPng) wrong_content("PNG", c);
    return detail::read_png(path);
  }
  if (ends_with_nocase(path, ".tif") || ends_with_nocase(path, ".tiff")) {
    if (c != Content::kTiff) wrong_content("TIFF", c);
    return detail::read_tiff(path);
  }
  if (ends_with_nocase(path, ".nii.gz") || ends_with_nocase(path, ".nii")) {
    // Either name is accepted with either content: misnamed .nii/.nii.gz files are common.
    if (c != Content::kNifti && c != Content::kGzip) wrong_content("NIfTI", c);
    return detail::read_nifti(path);
  }
  if (has_any_ext(path, std::begin(kOpenCvMaskExts), std::end(kOpenCvMaskExts)) ||
      has_any_ext(path, std::begin(kOpenCvOtherExts), std::end(kOpenCvOtherExts))) {
    if (!detail::have_opencv()) throw InputError("unsupported file type (built without OpenCV)");
    return detail::read_opencv(path);
  }
  throw InputError("unsupported file type (expected .png, .tif, .tiff, .nii or .nii.gz)");
}

}  // namespace

bool is_mask_file(const std::string& path) {
  using detail::ends_with_nocase;
  for (const char* ext : {".png", ".tif", ".tiff", ".nii", ".nii.gz"}) {
    if (ends_with_nocase(path, ext)) return true;
  }
  return detail::have_opencv() &&
         has_any_ext(path, std::begin(kOpenCvMaskExts), std::end(kOpenCvMaskExts));
}

RawImage read_image(const std::string& path) {
  try {
    return dispatch(path);
  } catch (const std::bad_alloc&) {
    throw InputError("not enough memory to load the image");
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  detail::TempFile tmp(path);
  FILE* f = tmp.open();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    tmp.fail("write failed: " + detail::errno_text());
  }
  tmp.commit();
}

}  // namespace maskeval
