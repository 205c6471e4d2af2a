// Decoded images and their geometry, as the loaders return them and the writers take them.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace maskeval {

namespace detail {
// Blocks of 1 MiB and more come from, and go back to, a per-thread cache of freed blocks, so that
// the next case's buffers of the same size are the pages already mapped (a fresh 33.5 MB block is
// 8k page faults on zero-filled pages, half the decoding time of a volume).
void* take_block(size_t bytes);
void give_block(void* p, size_t bytes) noexcept;
}  // namespace detail

// An allocator whose resize() leaves new elements uninitialised (the bytes a decoder is about to
// overwrite are not zero-filled first) and whose large blocks are reused from case to case.
template <class T>
struct NoFillAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = NoFillAllocator<U>;
  };
  NoFillAllocator() = default;
  template <class U>
  NoFillAllocator(const NoFillAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(detail::take_block(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { detail::give_block(p, n * sizeof(T)); }
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
// Decoded pixel bytes: a vector that is not zero-filled when it grows.
using Bytes = std::vector<uint8_t, NoFillAllocator<uint8_t>>;

// Thrown for any problem with one input file: unreadable, corrupt, unsupported, wrong content.
// The message names the reason; the caller adds the case and the file.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class PixelType { kU8, kI8, kU16, kI16, kU32, kI32, kU64, kI64, kF32, kF64 };

const char* pixel_type_name(PixelType t);
int pixel_type_size(PixelType t);

// Where the pixels sit in space. Axis 0 (x) is the fastest-varying one in memory.
struct Geometry {
  int ndim = 2;                                  // 2 or 3
  std::array<int64_t, 3> shape{1, 1, 1};         // x, y, z; unused axes are 1
  std::array<double, 3> spacing{1.0, 1.0, 1.0};  // physical size of a pixel per axis
  std::string spacing_unit;                      // "mm", "um", "m" or "" when unknown
  std::string format;                            // "png", "tiff", "nifti", "opencv"
  // For NIfTI inputs: the raw header (348 bytes NIfTI-1 or 540 bytes NIfTI-2, in the file's
  // byte order), copied into every volume written for this case so that it keeps the
  // qform/sform, pixdim and units of the source.
  std::vector<uint8_t> nifti_header;

  int64_t voxels() const { return shape[0] * shape[1] * shape[2]; }
  bool same_grid(const Geometry& o) const { return shape == o.shape; }
};

// What one input file held when it was read: its size and the SHA-256 of its bytes (hashed as
// the reader read them), so that a report names exactly the file version it measured.
struct FileDigest {
  int64_t bytes = 0;
  std::string sha256;  // 64 lowercase hex digits, as `sha256sum` prints it
};

// Pixel values exactly as stored in the file (palette images give palette indices),
// native byte order, channels interleaved, x fastest.
struct RawImage {
  Geometry geom;
  PixelType type = PixelType::kU8;
  int channels = 1;
  Bytes bytes;
  // Where the values start in `bytes`: 0 from read_image; read_image_values may leave what
  // its reader decoded in front of them (a .nii.gz's header) instead of moving them down.
  size_t offset = 0;
  // Every file read for this image, by the path it was opened as: the image file, and a
  // header's separate data file.
  std::map<std::string, FileDigest> files;

  int64_t voxels() const { return geom.voxels(); }
};

// What a reader may do on a header's word. Sizes are checked against these before anything is
// allocated; a data file named by a header (NRRD `data file`, MetaImage `ElementDataFile`) must
// lie in the header's folder or below it unless external data is allowed.
constexpr int64_t kDefaultMaxVoxels = int64_t{1} << 30;  // 1024^3
struct ReadLimits {
  // Per image (--max-voxels); a voxel of C channels counts C times, so that the limit bounds the
  // memory an image takes (at most 8 bytes a value).
  int64_t max_voxels = kDefaultMaxVoxels;
  bool allow_external_data = false;  // --allow-external-data
};

// True when the path names a file the loaders can read (by extension).
bool is_mask_file(const std::string& path);
// The extensions is_mask_file accepts (".png", ".nii.gz", ...), for messages.
std::vector<std::string> mask_extensions();

// The whole of a regular file, for inputs read whole (a manifest, a PNG): a FIFO, device or
// folder is refused before anything could block on it, and a file over `max_bytes` is refused
// unread with "file of N bytes is <too_large>". Throws InputError with the reason. With
// `digest`, the size and SHA-256 of the bytes read are stored there.
std::vector<uint8_t> read_regular_file(const std::string& path, int64_t max_bytes,
                                       const std::string& too_large, FileDigest* digest = nullptr);

// Reads PNG (8/16-bit, grey, palette as indices, RGB/RGBA), TIFF (when built with libtiff),
// NIfTI-1/-2 (.nii, .nii.gz, any integer or float type), MetaImage, NRRD and, when built with
// OpenCV, the other formats OpenCV reads unchanged. Throws InputError with the reason: also for
// an image over limits.max_voxels, one whose header declares more data than the file can hold,
// and a header's data file outside the header's folder (unless limits.allow_external_data).
// Only regular files are opened (a FIFO or device is refused before it can block). The result's
// `files` gives the size and SHA-256 of every file read, hashed as it was read (TIFF, through
// libtiff's random access, and text headers or text data are hashed in a pass of their own).
RawImage read_image(const std::string& path, const ReadLimits& limits = {});
// As read_image, but the values may start `offset` bytes into `bytes` (to_labels reads them
// there), which spares moving a large image down past its header.
RawImage read_image_values(const std::string& path, const ReadLimits& limits = {});

// Writers. Each writes to a temporary name beside `path` (created anew, unique to the process)
// and renames, so a file that exists is whole. `level` is the deflate level of PNG and .nii.gz
// files: 1 (fastest, the default: masks and maps compress well at any level) to 9 (smallest).
constexpr int kDefaultCompressionLevel = 1;
// 2D label or map image as greyscale PNG, 8- or 16-bit.
void write_png_gray(const std::string& path, const void* pixels, int64_t width, int64_t height,
                    int bit_depth, int level = kDefaultCompressionLevel);
// 2D label image as an 8-bit palette PNG: the pixel values are the palette indices, unchanged
// (read_image gives them back as they are), and the palette shows 0 as black and every other
// label in a distinct bright colour, so that viewers show the labels; `colours` (a labels
// file's) replace the palette's colour of their labels.
void write_png_labels(const std::string& path, const uint8_t* labels, int64_t width, int64_t height,
                      const std::map<uint8_t, std::array<uint8_t, 3>>& colours = {},
                      int level = kDefaultCompressionLevel);
// An 8-bit RGB image (3 bytes a pixel, rows top to bottom) as PNG file bytes, in memory (the
// pictures of the HTML report and the overlays). `level` 0: libpng's default level and row
// filters (small files); 1..9: that deflate level, rows unfiltered below 6 (as the masks are
// written). Throws std::runtime_error.
std::string encode_png_rgb(const uint8_t* rgb, int64_t width, int64_t height, int level = 0);
// A volume with the geometry of `like` (its NIfTI header when present, else its shape and
// spacing) and the given pixel type (kU8, kU16 or kF32).
void write_nifti(const std::string& path, const Geometry& like, PixelType type, const void* pixels,
                 int level = kDefaultCompressionLevel);

// Writes bytes to path atomically (temporary name, then rename). Throws std::runtime_error.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace maskeval
