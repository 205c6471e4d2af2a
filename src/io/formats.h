// Private to the I/O layer: one reader per file format, and helpers the readers and writers share.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "maskeval/image.h"
#include "util/sha256.h"

namespace maskeval::detail {

// Per-format readers. Each opens the file itself (through open_regular) and throws InputError with
// the reason; `limits` bounds what a header may ask for (see image_bytes and resolve_data_file).
// read_tiff and read_opencv throw InputError when the build has no libtiff or OpenCV.
RawImage read_png(const std::string& path, const ReadLimits& limits);
RawImage read_tiff(const std::string& path, const ReadLimits& limits);
RawImage read_nifti(const std::string& path, const ReadLimits& limits);  // .nii and .nii.gz
RawImage read_opencv(const std::string& path, const ReadLimits& limits);
RawImage read_metaimage(const std::string& path, const ReadLimits& limits);  // .mha, .mhd
RawImage read_nrrd(const std::string& path, const ReadLimits& limits);       // .nrrd, .nhdr

// Moves an image's values to the start of its bytes (offset 0), dropping what was in front.
void drop_offset(RawImage& img);

// True when the build can read files through OpenCV (MASKEVAL_HAVE_OPENCV).
bool have_opencv();

// True when `path` ends with `suffix`, ignoring ASCII case.
bool ends_with_nocase(const std::string& path, const char* suffix);

// Little-endian host? (All the targets we build for are, but the readers do not assume it.)
bool host_is_little_endian();

// Reverses the bytes of each of `count` elements of `size` bytes (1, 2, 4 or 8), in place.
void swap_bytes(void* data, int64_t count, int size);

// --- Checked arithmetic on the sizes, offsets and counts that headers give ---
// Each returns the exact result, or throws InputError("invalid <field> (<a> + <b> overflows)")
// when it does not fit in int64_t. `field` names the header field the operands come from.
[[noreturn]] void throw_overflow(const char* field, int64_t a, const char* op, int64_t b);
inline int64_t checked_add(int64_t a, int64_t b, const char* field) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw_overflow(field, a, "+", b);
  return r;
}
inline int64_t checked_sub(int64_t a, int64_t b, const char* field) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) throw_overflow(field, a, "-", b);
  return r;
}
inline int64_t checked_mul(int64_t a, int64_t b, const char* field) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw_overflow(field, a, "*", b);
  return r;
}
// An unsigned header value as int64_t; values above INT64_MAX are refused as out of range.
int64_t checked_cast(uint64_t v, const char* field);

// Checked size of an image in bytes, before anything is allocated. Throws InputError when a
// dimension is not positive, the image has more values (voxels times channels) than
// limits.max_voxels ("image of N voxels is over the limit of M (--max-voxels)") or the total
// exceeds kMaxImageBytes.
constexpr int64_t kMaxImageBytes = int64_t{1} << 40;
int64_t image_bytes(const Geometry& g, int channels, PixelType type, const ReadLimits& limits);

// Deflate (zlib, gzip, PNG, TIFF Deflate) expands at most about 1032:1, so a stream of n bytes
// cannot hold more than about 1032 * n bytes: true when `out_bytes` could come from `in_bytes`.
constexpr int64_t kMaxDeflateRatio = 1032;
bool could_inflate_to(int64_t in_bytes, int64_t out_bytes, int64_t ratio = kMaxDeflateRatio);

// std::strerror(errno) as a string.
std::string errno_text();

// --- Opening inputs: only regular files ---

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Opens `path` for reading when it is a regular file: stat() first, so that a FIFO or device is
// refused before open() could block on it or act on the device, then open(O_NONBLOCK) and fstat()
// the descriptor again, so that a file swapped in between is refused too. `what` names the file in
// messages ("" for the input itself): "cannot open[ <what>]: not a regular file (a FIFO)", or the
// system's reason. Every input the I/O layer reads goes through one of these two.
UniqueFd open_regular_fd(const std::string& path, const std::string& what);
FilePtr open_regular(const std::string& path, const std::string& what);
// The whole of an image file (read_regular_file), refused unread when it is larger than any
// image within the limits can be (every value at 8 bytes, stored uncompressed, and 64 MiB of
// metadata). With `digest`, the file's size and SHA-256 are stored there as it is read.
std::vector<uint8_t> read_whole_file(const std::string& path, const ReadLimits& limits,
                                     FileDigest* digest = nullptr);

// Size in bytes of an open regular file.
int64_t file_size(int fd);

// The path to open for a data file that a header names (NRRD `data file`, MetaImage
// `ElementDataFile`), relative to the header's folder. Unless limits.allow_external_data, the
// file must lie in that folder or below it once symbolic links are resolved: an absolute name,
// a `..` that leaves the folder or a link that points out of it is refused ("data file X lies
// outside the header's folder; pass --allow-external-data to read it").
std::string resolve_data_file(const std::string& header_path, const std::string& name,
                              const ReadLimits& limits);

// --- Shared by the text-header readers (MetaImage, NRRD) ---

// Reads one '\n'-terminated line (a trailing '\r' is dropped) into `line`. False at the end of
// the file when nothing was read. Throws InputError when the line is longer than max_len.
bool read_header_line(FILE* f, std::string& line, size_t max_len = size_t{1} << 20);

// Where the pixel data of a MetaImage or NRRD file lies.
struct DataLocation {
  std::string path;              // the file that holds the data
  int64_t offset = 0;            // where the data (or the compressed stream) starts
  bool at_end = false;           // the data (or the stream) ends the file; `offset` is then the
                                 // least start allowed (the end of an attached header)
  bool compressed = false;       // a zlib or gzip stream (told apart by its header)
  int64_t compressed_size = -1;  // length of the stream, -1: up to the end of the file
  int64_t skip = 0;              // decompressed bytes to discard before the data
};

// Reads `size` bytes of pixel data, as stored. `what` names the format in messages. Throws
// InputError when the file cannot be opened or read, the data is short ("truncated <what> data:
// expected N bytes, got M"), more than the file can hold, or the compressed stream is corrupt.
// `loc.path` is opened as given: a reader resolves a header's data file name with
// resolve_data_file first.
// With `digest`, the whole data file is hashed in the same sequential pass: the bytes before the
// data (an attached header, read again), the data or compressed stream, and the rest of the file.
Bytes read_pixel_data(const DataLocation& loc, int64_t size, const char* what,
                      FileDigest* digest = nullptr);

// Hashes what is left of `f` from its current position into `hash` (the bytes a reader did not
// need, so that the digest covers the whole file). Throws InputError on a read error.
void hash_rest(FILE* f, Sha256& hash);
// The size and SHA-256 of a whole file, read in one pass of its own: for readers whose library
// reads the file by random access (libtiff) and for text headers read a character at a time.
FileDigest digest_file(const std::string& path);

// A file written under a temporary name (`path` + ".<pid>.<n>.tmp", unique to the process and
// the object) and renamed to `path` by commit(). When the object is destroyed without a
// successful commit(), the temporary file is closed and removed.
class TempFile {
 public:
  explicit TempFile(std::string path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& tmp_path() const { return tmp_; }
  // Opens the temporary file with stdio ("wb"); for writers that do not open it themselves.
  FILE* open();
  // Closes the stdio file (when open() was used) and renames the temporary over `path`.
  void commit();
  // Throws std::runtime_error("<path>: <reason>").
  [[noreturn]] void fail(const std::string& reason) const;

 private:
  std::string path_;
  std::string tmp_;
  FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace maskeval::detail
