// Private to the I/O layer: one reader per file format, and helpers the readers and writers share.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "maskeval/image.h"

namespace maskeval::detail {

// Per-format readers. Each opens the file itself and throws InputError with the reason.
RawImage read_png(const std::string& path);
RawImage read_tiff(const std::string& path);       // InputError when built without libtiff
RawImage read_nifti(const std::string& path);      // .nii, and gzip-compressed .nii.gz
RawImage read_opencv(const std::string& path);     // InputError when built without OpenCV
RawImage read_metaimage(const std::string& path);  // .mha (data attached), .mhd (+ .raw/.zraw)
RawImage read_nrrd(const std::string& path);       // .nrrd (data attached), .nhdr (detached)

// True when the build can read files through OpenCV (MASKEVAL_HAVE_OPENCV).
bool have_opencv();

// True when `path` ends with `suffix`, ignoring ASCII case.
bool ends_with_nocase(const std::string& path, const char* suffix);

// Little-endian host? (All the targets we build for are, but the readers do not assume it.)
bool host_is_little_endian();

// Reverses the bytes of each of `count` elements of `size` bytes (1, 2, 4 or 8), in place.
void swap_bytes(void* data, int64_t count, int size);

// Checked size of an image in bytes; throws InputError when a dimension is not positive or the
// total exceeds kMaxImageBytes.
constexpr int64_t kMaxImageBytes = int64_t{1} << 40;
int64_t image_bytes(const Geometry& g, int channels, PixelType type);

// std::strerror(errno) as a string.
std::string errno_text();

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
// expected N bytes, got M") or the compressed stream is corrupt.
std::vector<uint8_t> read_pixel_data(const DataLocation& loc, int64_t size, const char* what);

// A file written under `path + ".tmp"` and renamed to `path` by commit(). When the object is
// destroyed without a successful commit(), the temporary file is closed and removed.
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
