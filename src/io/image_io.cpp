// Format-independent part of the I/O layer: pixel types, checked sizes and limits, opening only
// regular files, data files named by headers, pixel data reading, dispatch by extension and
// content, atomic writes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
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

void throw_overflow(const char* field, int64_t a, const char* op, int64_t b) {
  throw InputError(std::string("invalid ") + field + " (" + std::to_string(a) + " " + op + " " +
                   std::to_string(b) + " overflows)");
}

int64_t checked_cast(uint64_t v, const char* field) {
  if (v > static_cast<uint64_t>(INT64_MAX)) {
    throw InputError(std::string("invalid ") + field + " (" + std::to_string(v) +
                     " is out of range)");
  }
  return static_cast<int64_t>(v);
}

int64_t image_bytes(const Geometry& g, int channels, PixelType type, const ReadLimits& limits) {
  if (channels < 1) throw InputError("invalid number of channels " + std::to_string(channels));
  int64_t voxels = 1;
  bool overflow = false;
  for (int64_t d : g.shape) {
    if (d <= 0) throw InputError("invalid image dimension " + std::to_string(d));
    overflow = __builtin_mul_overflow(voxels, d, &voxels) || overflow;
  }
  int64_t values = 0;
  const bool too_many = __builtin_mul_overflow(voxels, int64_t{channels}, &values) || overflow;
  if (too_many || values > limits.max_voxels) {
    std::string what = overflow ? std::to_string(g.shape[0]) + " x " + std::to_string(g.shape[1]) +
                                      " x " + std::to_string(g.shape[2])
                                : std::to_string(voxels);
    what += " voxels";
    if (channels > 1) what += " x " + std::to_string(channels) + " channels";
    throw InputError("image of " + what + " is over the limit of " +
                     std::to_string(limits.max_voxels) + " (--max-voxels)");
  }
  int64_t total = 0;
  if (__builtin_mul_overflow(values, int64_t{pixel_type_size(type)}, &total) ||
      total > kMaxImageBytes) {
    throw InputError("image too large (over 1 TiB of pixel data)");
  }
  return total;
}

bool could_inflate_to(int64_t in_bytes, int64_t out_bytes, int64_t ratio) {
  return out_bytes / ratio <= in_bytes + 1024;
}

std::string errno_text() {
  return std::strerror(errno);
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

[[noreturn]] void throw_cannot_open(const std::string& what, const std::string& reason) {
  throw InputError("cannot open" + (what.empty() ? std::string() : " " + what) + ": " + reason);
}

// Refuses anything but a regular file, naming what it is.
void require_regular(const struct stat& st, const std::string& what) {
  if (S_ISREG(st.st_mode)) return;
  const char* kind = S_ISFIFO(st.st_mode)                         ? "a FIFO"
                     : S_ISDIR(st.st_mode)                        ? "a folder"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                     : S_ISSOCK(st.st_mode)                       ? "a socket"
                                                                  : "not a file";
  throw_cannot_open(what, std::string("not a regular file (") + kind + ")");
}

}  // namespace

UniqueFd open_regular_fd(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_cannot_open(what, errno_text());
  require_regular(st, what);
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_cannot_open(what, errno_text());
  UniqueFd owned(fd);
  if (::fstat(fd, &st) != 0) throw_cannot_open(what, errno_text());
  require_regular(st, what);  // replaced between stat() and open()
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    throw_cannot_open(what, errno_text());
  }
  return owned;
}

FilePtr open_regular(const std::string& path, const std::string& what) {
  UniqueFd fd = open_regular_fd(path, what);
  FilePtr f(::fdopen(fd.get(), "rb"), &std::fclose);
  if (!f) throw_cannot_open(what, errno_text());
  fd.release();  // owned by the FILE now
  return f;
}

std::vector<uint8_t> read_whole_file(const std::string& path, const ReadLimits& limits,
                                     FileDigest* digest) {
  const int64_t most =
      checked_add(checked_mul(limits.max_voxels, 9, "file size"), int64_t{64} << 20, "file size");
  return read_regular_file(path, most, "larger than an image within --max-voxels can be", digest);
}

void hash_rest(FILE* f, Sha256& hash) {
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) hash.update(buf, n);
  if (std::ferror(f)) throw InputError("cannot read: " + errno_text());
}

FileDigest digest_file(const std::string& path) {
  const FilePtr f = open_regular(path, path);
  Sha256 hash;
  hash_rest(f.get(), hash);
  FileDigest d;
  d.bytes = static_cast<int64_t>(hash.size());
  d.sha256 = hash.finish_hex();
  return d;
}

int64_t file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw InputError("cannot read: " + errno_text());
  return static_cast<int64_t>(st.st_size);
}

std::string resolve_data_file(const std::string& header_path, const std::string& name,
                              const ReadLimits& limits) {
  namespace fs = std::filesystem;
  if (name.find('\0') != std::string::npos) throw InputError("invalid data file name (a NUL byte)");
  const fs::path file(name);
  fs::path folder = fs::path(header_path).parent_path();
  if (folder.empty()) folder = ".";
  const fs::path joined = file.is_absolute() ? file : folder / file;
  if (limits.allow_external_data) return joined.string();
  const auto outside = [&] {
    throw InputError("data file " + name +
                     " lies outside the header's folder; pass --allow-external-data to read it");
  };
  if (file.is_absolute() || file.has_root_name()) outside();
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::absolute(folder, ec), ec);
  if (ec) throw InputError("cannot resolve the header's folder: " + ec.message());
  // The data file must exist: canonical() resolves every link on the way, where
  // weakly_canonical() would take "missing/../link" for a name inside the folder.
  const fs::path target = fs::canonical(fs::absolute(joined, ec), ec);
  if (ec) throw InputError("cannot open data file " + name + ": " + ec.message());
  const fs::path rel = target.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") outside();
  return target.string();
}

// The temporary name is unique to this process and object, so that two writers of one path (two
// runs, or two cases whose outputs meet) never write into the same temporary file.
TempFile::TempFile(std::string path) : path_(std::move(path)) {
  static std::atomic<uint64_t> serial{0};
  tmp_ = path_ + "." + std::to_string(::getpid()) + "." + std::to_string(serial++) + ".tmp";
}

TempFile::~TempFile() {
  if (committed_) return;
  if (file_) std::fclose(file_);
  std::remove(tmp_.c_str());
}

FILE* TempFile::open() {
  // Created anew: a file or link already at the name is never written through.
  const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create " + tmp_ + ": " + errno_text());
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    ::close(fd);
    fail("cannot create " + tmp_ + ": " + errno_text());
  }
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

bool read_header_line(FILE* f, std::string& line, size_t max_len) {
  line.clear();
  bool any = false;
  for (int c; (c = std::getc(f)) != EOF;) {
    any = true;
    if (c == '\n') break;
    if (line.size() >= max_len) throw InputError("header line too long (not a text header?)");
    line.push_back(static_cast<char>(c));
  }
  if (std::ferror(f)) throw InputError("cannot read: " + errno_text());
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return any;
}

namespace {

[[noreturn]] void throw_truncated(const char* what, int64_t expected, int64_t got) {
  throw InputError(std::string("truncated ") + what + " data: expected " +
                   std::to_string(expected) + " bytes, got " +
                   std::to_string(std::max<int64_t>(0, got)));
}

// Inflates a zlib or gzip stream (concatenated gzip members too) of at most `in_size` bytes
// from the current position of `f`; discards `skip` bytes, then fills `out`, then reads on to
// the end of the stream so that its checksum is verified.
// Every compressed byte read is given to `hash` when there is one.
void inflate_data(FILE* f, int64_t in_size, int64_t skip, Bytes& out, const char* what,
                  Sha256* hash) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) throw InputError("cannot initialise zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);
  std::vector<uint8_t> in(1 << 18), scratch(1 << 16);
  const int64_t total = checked_add(skip, static_cast<int64_t>(out.size()), "byte skip");
  int64_t produced = 0;  // decompressed bytes so far, skipped ones included
  bool ended = false;    // at the end of a stream
  for (;;) {
    if (zs.avail_in == 0 && in_size > 0) {
      const size_t n = std::fread(in.data(), 1, std::min<int64_t>(in_size, in.size()), f);
      if (n == 0 && std::ferror(f)) throw InputError("cannot read: " + errno_text());
      if (hash) hash->update(in.data(), n);
      in_size = n == 0 ? 0 : in_size - static_cast<int64_t>(n);
      zs.next_in = in.data();
      zs.avail_in = static_cast<uInt>(n);
    }
    if (ended) {
      if (produced >= total || zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      ended = false;
    }
    uint8_t* dst = scratch.data();
    int64_t room = static_cast<int64_t>(scratch.size());
    if (produced < skip) {
      room = std::min(room, skip - produced);
    } else if (produced < total) {
      dst = out.data() + (produced - skip);
      room = std::min<int64_t>(total - produced, 1 << 30);
    }
    zs.next_out = dst;
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END) {
      ended = true;
    } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      throw InputError(std::string("corrupt compressed ") + what +
                       " data (zlib: " + (zs.msg ? zs.msg : "invalid stream") + ")");
    } else if (rc == Z_MEM_ERROR) {
      throw InputError("not enough memory to decompress");
    } else if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_size == 0) {
      break;  // the input ended inside the stream
    }
  }
  if (produced < total) throw_truncated(what, static_cast<int64_t>(out.size()), produced - skip);
  if (!ended) {
    throw InputError(std::string("truncated compressed ") + what +
                     " data: the end of the stream is missing");
  }
}

// Moves `f` to `start`: with `hash`, by reading (and hashing) the bytes before it.
void seek_to(FILE* f, int64_t start, Sha256* hash) {
  if (!hash) {
    if (fseeko(f, start, SEEK_SET) != 0) throw InputError("cannot read: " + errno_text());
    return;
  }
  uint8_t buf[65536];
  for (int64_t left = start; left > 0;) {
    const size_t n =
        std::fread(buf, 1, static_cast<size_t>(std::min<int64_t>(left, sizeof buf)), f);
    if (n == 0) throw InputError("cannot read: " + errno_text());
    hash->update(buf, n);
    left -= static_cast<int64_t>(n);
  }
}

Bytes read_data_at(FILE* f, const DataLocation& loc, int64_t start, int64_t avail, int64_t size,
                   const char* what, Sha256* hash) {
  seek_to(f, start, hash);
  Bytes out(static_cast<size_t>(size));
  if (loc.compressed) {
    inflate_data(f, avail, loc.skip, out, what, hash);
  } else {
    const size_t got = std::fread(out.data(), 1, out.size(), f);
    if (std::ferror(f)) throw InputError("cannot read: " + errno_text());
    if (got != out.size()) throw_truncated(what, size, static_cast<int64_t>(got));
    if (hash) hash->update(out.data(), got);
  }
  if (hash) hash_rest(f, *hash);
  return out;
}

}  // namespace

Bytes read_pixel_data(const DataLocation& loc, int64_t size, const char* what, FileDigest* digest) {
  FilePtr f = open_regular(loc.path, std::string(what) + " data file " + loc.path);
  const int64_t file_size = detail::file_size(fileno(f.get()));
  const std::string offset_field = std::string(what) + " data offset";
  const std::string skip_field = std::string(what) + " byte skip";

  int64_t start = loc.offset;
  if (loc.at_end) {
    start =
        checked_sub(file_size, loc.compressed ? loc.compressed_size : size, offset_field.c_str());
    if (start < loc.offset) {
      if (!loc.compressed) throw_truncated(what, size, file_size - loc.offset);
      throw InputError(std::string("truncated compressed ") + what + " data: expected " +
                       std::to_string(loc.compressed_size) + " compressed bytes, got " +
                       std::to_string(std::max<int64_t>(0, file_size - loc.offset)));
    }
  }
  if (start < 0 || start > file_size) {
    throw_truncated(what, loc.compressed ? loc.compressed_size : size,
                    start < 0 ? 0 : file_size - start);
  }
  int64_t avail = file_size - start;
  if (loc.compressed && loc.compressed_size >= 0) avail = std::min(avail, loc.compressed_size);
  // Refuse to allocate for data the file cannot hold.
  if (!loc.compressed && avail < size) throw_truncated(what, size, avail);
  if (loc.compressed && !could_inflate_to(avail, checked_add(size, loc.skip, skip_field.c_str()))) {
    throw InputError(std::string("truncated ") + what + " data: expected " + std::to_string(size) +
                     " bytes, more than " + std::to_string(avail) + " compressed bytes can hold");
  }
  Sha256 hash;
  Bytes out = read_data_at(f.get(), loc, start, avail, size, what, digest ? &hash : nullptr);
  if (digest) {
    digest->bytes = static_cast<int64_t>(hash.size());
    digest->sha256 = hash.finish_hex();
  }
  return out;
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
  const detail::FilePtr f = detail::open_regular(path, "");
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

RawImage dispatch(const std::string& path, const ReadLimits& limits) {
  using detail::ends_with_nocase;
  uint8_t head[8];
  const Content c = sniff(head, read_head(path, head, sizeof head));
  if (ends_with_nocase(path, ".png")) {
    if (c != Content::kPng) wrong_content("PNG", c);
    return detail::read_png(path, limits);
  }
  if (ends_with_nocase(path, ".tif") || ends_with_nocase(path, ".tiff")) {
    if (c != Content::kTiff) wrong_content("TIFF", c);
    return detail::read_tiff(path, limits);
  }
  if (ends_with_nocase(path, ".nii.gz") || ends_with_nocase(path, ".nii")) {
    // Either name is accepted with either content: misnamed .nii/.nii.gz files are common.
    if (c != Content::kNifti && c != Content::kGzip) wrong_content("NIfTI", c);
    return detail::read_nifti(path, limits);
  }
  if (ends_with_nocase(path, ".mha") || ends_with_nocase(path, ".mhd")) {
    if (c != Content::kUnknown) wrong_content("MetaImage", c);
    return detail::read_metaimage(path, limits);
  }
  if (ends_with_nocase(path, ".nrrd") || ends_with_nocase(path, ".nhdr")) {
    if (c != Content::kUnknown) wrong_content("NRRD", c);
    return detail::read_nrrd(path, limits);
  }
  if (has_any_ext(path, std::begin(kOpenCvMaskExts), std::end(kOpenCvMaskExts)) ||
      has_any_ext(path, std::begin(kOpenCvOtherExts), std::end(kOpenCvOtherExts))) {
    if (!detail::have_opencv()) throw InputError("unsupported file type (built without OpenCV)");
    return detail::read_opencv(path, limits);
  }
  throw InputError(
      "unsupported file type (expected .png, .tif, .tiff, .nii, .nii.gz, .mha, .mhd, .nrrd or "
      ".nhdr)");
}

}  // namespace

std::vector<std::string> mask_extensions() {
  std::vector<std::string> out = {".png", ".tif", ".tiff", ".nii", ".nii.gz",
                                  ".mha", ".mhd", ".nrrd", ".nhdr"};
  if (detail::have_opencv())
    out.insert(out.end(), std::begin(kOpenCvMaskExts), std::end(kOpenCvMaskExts));
  return out;
}

bool is_mask_file(const std::string& path) {
  static const std::vector<std::string> extensions = mask_extensions();
  for (const std::string& ext : extensions)
    if (detail::ends_with_nocase(path, ext.c_str())) return true;
  return false;
}

std::vector<uint8_t> read_regular_file(const std::string& path, int64_t max_bytes,
                                       const std::string& too_large, FileDigest* digest) {
  const detail::FilePtr f = detail::open_regular(path, "");
  const int64_t size = detail::file_size(fileno(f.get()));
  if (size > max_bytes)
    throw InputError("file of " + std::to_string(size) + " bytes is " + too_large);
  std::vector<uint8_t> data;
  data.reserve(static_cast<size_t>(size));
  Sha256 hash;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    if (static_cast<int64_t>(data.size() + n) > max_bytes)  // it grew meanwhile
      throw InputError("file of more than " + std::to_string(max_bytes) + " bytes is " + too_large);
    data.insert(data.end(), buf, buf + n);
    if (digest) hash.update(buf, n);
  }
  if (std::ferror(f.get())) throw InputError("cannot read: " + detail::errno_text());
  if (digest) {
    digest->bytes = static_cast<int64_t>(data.size());
    digest->sha256 = hash.finish_hex();
  }
  return data;
}

namespace detail {

void drop_offset(RawImage& img) {
  if (img.offset == 0) return;
  const size_t n = img.bytes.size() - img.offset;
  std::memmove(img.bytes.data(), img.bytes.data() + img.offset, n);
  img.bytes.resize(n);
  img.offset = 0;
}

}  // namespace detail

RawImage read_image_values(const std::string& path, const ReadLimits& limits) {
  try {
    RawImage out = dispatch(path, limits);
    // Readers that hash as they read have recorded the file; the others (TIFF, a detached
    // header) are hashed here in a pass of their own.
    if (!out.files.count(path)) out.files[path] = detail::digest_file(path);
    return out;
  } catch (const std::bad_alloc&) {
    throw InputError("not enough memory to load the image");
  }
}

RawImage read_image(const std::string& path, const ReadLimits& limits) {
  RawImage out = read_image_values(path, limits);
  detail::drop_offset(out);
  return out;
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
