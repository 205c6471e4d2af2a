// NIfTI-1 and NIfTI-2 single-file volumes (.nii, .nii.gz), either byte order.
//
// Labels are read exactly as stored: scl_slope/scl_inter are never applied. A file that asks for
// scaling (scl_slope finite, nonzero and not 1, or scl_inter nonzero while scl_slope is nonzero;
// by the standard a zero slope means "no scaling") is rejected, because scaled values cannot be
// label codes.
#include <zlib.h>
#ifdef MASKEVAL_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/formats.h"

namespace maskeval::detail {
namespace {

// Offsets of the header fields this layer uses. Real-valued fields are float in NIfTI-1 and
// double in NIfTI-2; integer fields grow too.
struct Layout {
  int size;        // 348 or 540
  int dim, dim_w;  // dim[8]
  int datatype, bitpix;
  int pixdim, real_w;  // pixdim[8]; width of every real field
  int vox_offset;      // float in NIfTI-1, int64 in NIfTI-2
  int scl_slope, scl_inter, cal_max, cal_min;
  int qform_code, code_w;
  int xyzt_units, units_w;
  int magic;
  const char* magic_text;  // with its terminating NUL(s), 4 or 8 bytes
  int magic_len;
};

// clang-format off
constexpr Layout kNifti1{348, 40, 2, 70, 72, 76, 4, 108, 112, 116, 124, 128, 252, 2, 123, 1,
                         344, "n+1\0", 4};
constexpr Layout kNifti2{540, 16, 8, 12, 14, 104, 8, 168, 176, 184, 192, 200, 344, 4, 500, 4,
                         4, "n+2\0\r\n\032\n", 8};
// clang-format on

// A header in its own byte order, with typed access to its fields.
struct Header {
  uint8_t* bytes;
  const Layout* layout;
  bool swap;

  int64_t get_int(int off, int width) const {
    uint8_t b[8];
    std::memcpy(b, bytes + off, width);
    if (swap) std::reverse(b, b + width);
    switch (width) {
      case 1:
        return static_cast<int8_t>(b[0]);
      case 2:
        return load<int16_t>(b);
      case 4:
        return load<int32_t>(b);
      default:
        return load<int64_t>(b);
    }
  }
  double get_real(int off) const {
    uint8_t b[8];
    std::memcpy(b, bytes + off, layout->real_w);
    if (swap) std::reverse(b, b + layout->real_w);
    return layout->real_w == 4 ? load<float>(b) : load<double>(b);
  }
  void set_int(int off, int width, int64_t v) {
    uint8_t b[8];
    switch (width) {
      case 1:
        b[0] = static_cast<uint8_t>(v);
        break;
      case 2:
        store(b, static_cast<int16_t>(v));
        break;
      case 4:
        store(b, static_cast<int32_t>(v));
        break;
      default:
        store(b, v);
        break;
    }
    put(off, b, width);
  }
  void set_real(int off, double v) {
    uint8_t b[8];
    if (layout->real_w == 4) {
      store(b, static_cast<float>(v));
    } else {
      store(b, v);
    }
    put(off, b, layout->real_w);
  }
  int64_t dim(int i) const { return get_int(layout->dim + i * layout->dim_w, layout->dim_w); }
  void set_dim(int i, int64_t v) { set_int(layout->dim + i * layout->dim_w, layout->dim_w, v); }
  double pixdim(int i) const { return get_real(layout->pixdim + i * layout->real_w); }
  void set_pixdim(int i, double v) { set_real(layout->pixdim + i * layout->real_w, v); }

 private:
  template <typename T>
  static T load(const uint8_t* b) {
    T v;
    std::memcpy(&v, b, sizeof v);
    return v;
  }
  template <typename T>
  static void store(uint8_t* b, T v) {
    std::memcpy(b, &v, sizeof v);
  }
  void put(int off, uint8_t* b, int width) {
    if (swap) std::reverse(b, b + width);
    std::memcpy(bytes + off, b, width);
  }
};

// Version and byte order from sizeof_hdr (the first 4 bytes), or null when it is neither.
const Layout* detect(const uint8_t* first4, bool* swap) {
  int32_t v;
  std::memcpy(&v, first4, 4);
  for (const Layout* l : {&kNifti1, &kNifti2}) {
    int32_t swapped = v;
    swap_bytes(&swapped, 1, 4);
    if (v == l->size || swapped == l->size) {
      *swap = v != l->size;
      return l;
    }
  }
  return nullptr;
}

struct DataType {
  int code;
  PixelType type;
};
constexpr DataType kDataTypes[] = {
    {2, PixelType::kU8},     {4, PixelType::kI16},   {8, PixelType::kI32},   {16, PixelType::kF32},
    {64, PixelType::kF64},   {256, PixelType::kI8},  {512, PixelType::kU16}, {768, PixelType::kU32},
    {1024, PixelType::kI64}, {1280, PixelType::kU64}};

std::string datatype_name(int64_t code) {
  switch (code) {
    case 1:
      return "binary";
    case 32:
      return "complex64";
    case 128:
      return "RGB";
    case 1536:
      return "float128";
    case 1792:
      return "complex128";
    case 2048:
      return "complex256";
    case 2304:
      return "RGBA";
    default:
      return "unknown";
  }
}

PixelType pixel_type_of(int64_t code) {
  for (const DataType& d : kDataTypes) {
    if (d.code == code) return d.type;
  }
  throw InputError("unsupported NIfTI datatype " + std::to_string(code) + " (" +
                   datatype_name(code) + ")");
}

// A .nii or .nii.gz file read front to back once: gzip content (several members too) is
// inflated, other content passed through unchanged, as zlib's gzread does; every byte taken from
// the file is hashed on the way, so that the digest is the file's own (what `sha256sum` gives).
class Source {
 public:
  explicit Source(FilePtr f) : f_(std::move(f)), in_(1 << 18) {
    fill();
    direct_ = !(zs_.avail_in >= 2 && in_[0] == 0x1f && in_[1] == 0x8b);
    if (!direct_ && inflateInit2(&zs_, 15 + 16) != Z_OK) throw InputError("cannot initialise zlib");
  }
  ~Source() {
    if (!direct_) inflateEnd(&zs_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  bool compressed() const { return !direct_; }
  // Reads up to n bytes (fewer only at the end of the stream or on an error).
  int64_t read(void* dst, int64_t n) {
    return direct_ ? copy(static_cast<uint8_t*>(dst), n)
                   : inflate_to(static_cast<uint8_t*>(dst), n);
  }
  // Throws the reason a stream ended with a read error.
  void throw_if_error(const std::string& what) const {
    if (error_ == Z_DATA_ERROR) throw InputError("corrupt gzip stream (" + message_ + ")");
    if (error_ == Z_ERRNO) throw InputError("cannot read: " + message_);
    if (error_ == Z_MEM_ERROR) throw InputError("not enough memory to decompress");
    if (error_ == Z_BUF_ERROR) throw InputError("truncated gzip stream (" + what + ")");
  }
  // Hashes the rest of the file and gives its size and digest.
  FileDigest finish() {
    hash_rest(f_.get(), hash_);
    FileDigest d;
    d.bytes = static_cast<int64_t>(hash_.size());
    d.sha256 = hash_.finish_hex();
    return d;
  }

 private:
  // Takes the next piece of the file into the input buffer, after the bytes still unused.
  void fill() {
    const size_t keep = zs_.avail_in;
    if (keep > 0) std::memmove(in_.data(), zs_.next_in, keep);
    const size_t want = in_.size() - keep;
    const size_t n = eof_ ? 0 : std::fread(in_.data() + keep, 1, want, f_.get());
    if (n == 0 && std::ferror(f_.get())) {
      error_ = Z_ERRNO;
      message_ = errno_text();
    }
    if (n < want) eof_ = true;
    hash_.update(in_.data() + keep, n);
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(keep + n);
  }
  int64_t copy(uint8_t* dst, int64_t n) {
    int64_t got = 0;
    while (got < n && error_ == Z_OK) {
      if (zs_.avail_in == 0) {
        if (eof_) break;
        fill();
      }
      const int64_t take = std::min<int64_t>(n - got, zs_.avail_in);
      std::memcpy(dst + got, zs_.next_in, static_cast<size_t>(take));
      zs_.next_in += take;
      zs_.avail_in -= static_cast<uInt>(take);
      got += take;
    }
    return got;
  }
  int64_t inflate_to(uint8_t* dst, int64_t n);

  FilePtr f_;
  std::vector<uint8_t> in_;
  z_stream zs_{};
  Sha256 hash_;
  bool direct_ = true, eof_ = false, member_ended_ = false;
  int error_ = Z_OK;
  std::string message_;
};

int64_t Source::inflate_to(uint8_t* dst, int64_t n) {
  int64_t got = 0;
  while (got < n && error_ == Z_OK) {
    if (zs_.avail_in == 0 && !eof_) fill();
    if (member_ended_) {
      if (zs_.avail_in < 2 && !eof_) fill();  // a member's magic split between two reads
      // Another member follows, or the stream is over (anything else after it is ignored).
      if (zs_.avail_in < 2 || zs_.next_in[0] != 0x1f || zs_.next_in[1] != 0x8b) break;
      inflateReset(&zs_);
      member_ended_ = false;
    }
    zs_.next_out = dst + got;
    zs_.avail_out = static_cast<uInt>(std::min<int64_t>(n - got, 1 << 30));
    const uInt room = zs_.avail_out;
    const int rc = inflate(&zs_, Z_NO_FLUSH);
    got += room - zs_.avail_out;
    if (rc == Z_STREAM_END) {
      member_ended_ = true;
    } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      error_ = Z_DATA_ERROR;
      message_ = zs_.msg ? zs_.msg : "invalid stream";
    } else if (rc == Z_MEM_ERROR) {
      error_ = Z_MEM_ERROR;
    } else if (zs_.avail_in == 0 && eof_ && (rc == Z_BUF_ERROR || zs_.avail_out > 0)) {
      error_ = Z_BUF_ERROR;  // the file ended inside the stream
    }
  }
  return got;
}

// Reads n bytes of `what`, of which `before` bytes were read already (for the message).
void read_exact(Source& f, void* dst, int64_t n, const char* what, int64_t before = 0) {
  const int64_t got = f.read(dst, n);
  if (got == n) return;
  const std::string detail = std::string(what) + ": expected " + std::to_string(before + n) +
                             " bytes, got " + std::to_string(before + got);
  f.throw_if_error(detail);
  throw InputError("truncated " + detail);
}

// Reads and discards n bytes of `what` (extensions before the data), a chunk at a time.
void skip_exact(Source& f, int64_t n, const char* what) {
  uint8_t chunk[16384];
  for (int64_t done = 0; done < n;) {
    const int64_t want = std::min<int64_t>(n - done, static_cast<int64_t>(sizeof chunk));
    const int64_t got = f.read(chunk, want);
    done += got;
    if (got == want) continue;
    const std::string detail = std::string(what) + ": expected " + std::to_string(n) +
                               " bytes, got " + std::to_string(done);
    f.throw_if_error(detail);
    throw InputError("truncated " + detail);
  }
}

// Fills out.geom and out.type from the header; returns the offset of the pixel data.
int64_t parse_header(const Header& h, RawImage& out) {
  const Layout& l = *h.layout;
  const char* magic = reinterpret_cast<const char*>(h.bytes + l.magic);
  if (std::memcmp(magic, l.magic_text, 4) != 0) {
    if (magic[0] == 'n' && magic[1] == 'i' && magic[3] == 0) {
      throw InputError("NIfTI header/image pairs (.hdr/.img) are not supported");
    }
    throw InputError("not a NIfTI file (bad magic)");
  }
  out.type = pixel_type_of(h.get_int(l.datatype, 2));

  const int64_t nd = h.dim(0);
  if (nd < 2 || nd > 7) {
    throw InputError("unsupported NIfTI dimensionality dim[0]=" + std::to_string(nd));
  }
  for (int i = 1; i <= nd; ++i) {
    if (h.dim(i) < 1) {
      throw InputError("invalid NIfTI dimension dim[" + std::to_string(i) +
                       "]=" + std::to_string(h.dim(i)));
    }
  }
  for (int i = 4; i <= nd; ++i) {
    if (h.dim(i) == 1) continue;
    if (i == 4) throw InputError("4D volumes with more than one time point are not supported");
    throw InputError("NIfTI volumes with more than 4 dimensions are not supported");
  }
  Geometry& g = out.geom;
  g.ndim = nd >= 3 ? 3 : 2;
  g.shape = {h.dim(1), h.dim(2), g.ndim == 3 ? h.dim(3) : 1};
  for (int a = 0; a < g.ndim; ++a) {
    const double s = std::fabs(h.pixdim(a + 1));
    g.spacing[a] = std::isfinite(s) && s > 0 ? s : 1.0;
  }
  switch (h.get_int(l.xyzt_units, l.units_w) & 7) {
    case 1:
      g.spacing_unit = "m";
      break;
    case 2:
      g.spacing_unit = "mm";
      break;
    case 3:
      g.spacing_unit = "um";
      break;
    default:
      g.spacing_unit.clear();
      break;
  }
  g.format = "nifti";

  const double slope = h.get_real(l.scl_slope), inter = h.get_real(l.scl_inter);
  if (std::isfinite(slope) && slope != 0 && (slope != 1 || (std::isfinite(inter) && inter != 0))) {
    throw InputError("scaled NIfTI data (scl_slope/scl_inter) cannot hold labels");
  }

  int64_t offset;
  if (l.real_w == 4) {
    const double v = h.get_real(l.vox_offset);
    if (!(v >= 0 && v < static_cast<double>(kMaxImageBytes))) {
      throw InputError("invalid NIfTI vox_offset");
    }
    offset = static_cast<int64_t>(v);
  } else {
    offset = h.get_int(l.vox_offset, 8);
  }
  if (offset == 0) offset = l.size + 4;  // some writers leave it unset
  if (offset < l.size || offset > kMaxImageBytes) {
    throw InputError("invalid NIfTI vox_offset " + std::to_string(offset));
  }
  return offset;
}

int datatype_code(PixelType t) {
  for (const DataType& d : kDataTypes) {
    if (d.type == t) return d.code;
  }
  return 0;
}

// A new header for `like` (NIfTI-2 only when a dimension does not fit NIfTI-1's int16).
std::vector<uint8_t> fresh_header(const Geometry& like, const Layout** layout) {
  const bool big = *std::max_element(like.shape.begin(), like.shape.end()) > 32767;
  *layout = big ? &kNifti2 : &kNifti1;
  std::vector<uint8_t> bytes((*layout)->size, 0);
  Header h{bytes.data(), *layout, false};
  h.set_int(0, 4, h.layout->size);
  h.set_dim(0, like.ndim == 3 ? 3 : 2);
  for (int i = 1; i < 8; ++i) h.set_dim(i, i <= 3 ? like.shape[i - 1] : 1);
  h.set_pixdim(0, 1.0);  // qfac
  for (int i = 1; i < 8; ++i) h.set_pixdim(i, i <= 3 ? like.spacing[i - 1] : 1.0);
  // Unknown units are written as mm, the usual unit of medical images.
  const int units = like.spacing_unit == "m" ? 1 : like.spacing_unit == "um" ? 3 : 2;
  h.set_int(h.layout->xyzt_units, h.layout->units_w, units);
  // qform_code 1 (scanner) with the identity rotation and zero offset, so that viewers place
  // the volume using pixdim; no sform.
  h.set_int(h.layout->qform_code, h.layout->code_w, 1);
  return bytes;
}

// The CRC-32 of gzip, continued over n more bytes (libdeflate's, several times zlib's speed,
// where built).
uint32_t crc32_of(uint32_t crc, const void* p, size_t n) {
  if (n == 0) return crc;  // both libraries answer 0 for a null buffer, whatever crc was
#ifdef MASKEVAL_HAVE_LIBDEFLATE
  return libdeflate_crc32(crc, p, n);
#else
  const auto* b = static_cast<const Bytef*>(p);
  for (size_t done = 0; done < n;) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n - done, 1u << 30));
    crc = static_cast<uint32_t>(crc32(crc, b + done, chunk));
    done += chunk;
  }
  return crc;
#endif
}

// A gzip member's 10-byte header (no name, no time, Unix) and its 8-byte trailer.
std::vector<uint8_t> gzip_header(int level) {
  const uint8_t xfl = level >= 9 ? 2 : (level == 1 ? 4 : 0);
  return {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3};
}
std::array<uint8_t, 8> gzip_trailer(uint32_t crc, uint64_t bytes) {
  const uint32_t size = static_cast<uint32_t>(bytes);  // ISIZE: the length modulo 2^32
  return {static_cast<uint8_t>(crc),        static_cast<uint8_t>(crc >> 8),
          static_cast<uint8_t>(crc >> 16),  static_cast<uint8_t>(crc >> 24),
          static_cast<uint8_t>(size),       static_cast<uint8_t>(size >> 8),
          static_cast<uint8_t>(size >> 16), static_cast<uint8_t>(size >> 24)};
}

// Either a plain or a gzip-compressed output file (one member, zlib's raw deflate stream between
// our own header and trailer), written under the temporary name.
class Output {
 public:
  Output(TempFile& tmp, bool gz, int level) : tmp_(tmp), file_(tmp.open()), gz_(gz) {
    if (!gz_) return;
    if (deflateInit2(&zs_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      tmp.fail("cannot initialise zlib");
    open_ = true;
    out_.resize(1 << 18);
    try {
      put(gzip_header(level).data(), 10);
    } catch (...) {
      deflateEnd(&zs_);  // the destructor does not run for a constructor that throws
      throw;
    }
  }
  ~Output() {
    if (open_) deflateEnd(&zs_);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  void write(const void* p, int64_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    if (!gz_) {
      if (n > 0 && std::fwrite(b, 1, static_cast<size_t>(n), file_) != static_cast<size_t>(n))
        tmp_.fail("write failed: " + errno_text());
      return;
    }
    crc_ = crc32_of(crc_, b, static_cast<size_t>(n));
    bytes_ += static_cast<uint64_t>(n);
    while (n > 0) {
      const uInt chunk = static_cast<uInt>(std::min<int64_t>(n, 1 << 30));
      zs_.next_in = const_cast<uint8_t*>(b);
      zs_.avail_in = chunk;
      deflate_all(Z_NO_FLUSH);
      b += chunk;
      n -= chunk;
    }
  }
  // Ends the stream (the stdio file is closed by TempFile::commit).
  void close() {
    if (!gz_ || !open_) return;
    deflate_all(Z_FINISH);
    deflateEnd(&zs_);
    open_ = false;
    const std::array<uint8_t, 8> tail = gzip_trailer(crc_, bytes_);
    put(tail.data(), tail.size());
  }

 private:
  void put(const uint8_t* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, file_) != n) tmp_.fail("write failed: " + errno_text());
  }
  // Deflates what is in zs_ (to the end of the stream with Z_FINISH), writing as it goes.
  void deflate_all(int flush) {
    int rc = Z_OK;
    do {
      zs_.next_out = out_.data();
      zs_.avail_out = static_cast<uInt>(out_.size());
      rc = deflate(&zs_, flush);
      if (rc == Z_STREAM_ERROR) tmp_.fail("compression failed");
      put(out_.data(), out_.size() - zs_.avail_out);
    } while (zs_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }

  TempFile& tmp_;
  FILE* file_;
  bool gz_;
  bool open_ = false;
  z_stream zs_{};
  std::vector<uint8_t> out_;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
};

#ifdef MASKEVAL_HAVE_LIBDEFLATE
constexpr int64_t kWholeGzipMax = int64_t{64} << 20;  // compressed bytes held whole at most
constexpr int64_t kWholeSlack = int64_t{1} << 20;     // bytes after the voxels inflated at most

// The first n bytes inflated from a gzip file held whole (fewer when it holds fewer).
size_t inflate_head(const std::vector<uint8_t>& gz, uint8_t* out, size_t n) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return 0;
  zs.next_in = const_cast<uint8_t*>(gz.data());
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = out;
  zs.avail_out = static_cast<uInt>(n);
  while (zs.avail_out > 0 && inflate(&zs, Z_NO_FLUSH) == Z_OK) {
  }
  const size_t got = n - zs.avail_out;
  inflateEnd(&zs);
  return got;
}

// The file, hashed as it is read, when it is a gzip file small enough to hold whole.
bool read_small_gzip(FilePtr f, std::vector<uint8_t>& gz, FileDigest& digest) {
  const int64_t n = file_size(fileno(f.get()));
  if (n < 18 || n > kWholeGzipMax) return false;
  uint8_t magic[2];
  if (std::fread(magic, 1, 2, f.get()) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) return false;
  gz.resize(static_cast<size_t>(n));
  gz[0] = magic[0];
  gz[1] = magic[1];
  if (std::fread(gz.data() + 2, 1, gz.size() - 2, f.get()) != gz.size() - 2 ||
      std::fgetc(f.get()) != EOF)
    return false;  // it changed while being read: the stream reader says how
  Sha256 hash;
  hash.update(gz.data(), gz.size());
  digest.bytes = n;
  digest.sha256 = hash.finish_hex();
  return true;
}

// A .nii.gz of one gzip member, held whole and inflated by libdeflate (2-3x zlib's streaming
// inflate) straight into the image's buffer, the values left behind the header (img.offset). False,
// with `out` untouched, where the stream reader is to read it: no gzip, a member followed by
// anything, a size over the limits, or a stream libdeflate refuses (the stream reader then gives
// zlib's reason).
bool read_nifti_whole(const std::string& path, const ReadLimits& limits, RawImage& out) {
  std::vector<uint8_t> gz;
  FileDigest digest;
  if (!read_small_gzip(open_regular(path, ""), gz, digest)) return false;
  // The header first (zlib inflates its few hundred bytes), so that nothing is allocated for
  // an image the header or the limits refuse, nor for more than the image and a little slack.
  uint8_t head[540];
  const size_t got = inflate_head(gz, head, sizeof head);
  bool swap = false;
  const Layout* layout = got >= 4 ? detect(head, &swap) : nullptr;
  if (!layout || got < static_cast<size_t>(layout->size)) return false;
  std::vector<uint8_t> hdr(head, head + layout->size);
  RawImage img;
  const int64_t offset = parse_header(Header{hdr.data(), layout, swap}, img);
  const int64_t size = image_bytes(img.geom, 1, img.type, limits);
  const int64_t need = checked_add(offset, size, "NIfTI vox_offset");
  const uint8_t* t = gz.data() + gz.size() - 4;  // ISIZE: the length, modulo 2^32
  const int64_t isize =
      int64_t{t[0]} | int64_t{t[1]} << 8 | int64_t{t[2]} << 16 | int64_t{t[3]} << 24;
  if (isize < need || isize - need > kWholeSlack) return false;  // the stream reader says why
  static thread_local std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)>
      inflater(libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  if (!inflater) return false;
  Bytes all(static_cast<size_t>(isize));
  size_t used = 0, made = 0;
  if (libdeflate_gzip_decompress_ex(inflater.get(), gz.data(), gz.size(), all.data(), all.size(),
                                    &used, &made) != LIBDEFLATE_SUCCESS ||
      used != gz.size() || made != all.size() ||
      std::memcmp(all.data(), hdr.data(), hdr.size()) != 0)
    return false;
  all.resize(static_cast<size_t>(need));  // the values stay behind the header: img.offset
  if (swap) swap_bytes(all.data() + offset, img.voxels(), pixel_type_size(img.type));
  img.bytes = std::move(all);
  img.offset = static_cast<size_t>(offset);
  // Values are read in place only where they are aligned for their type (vox_offset may be any
  // number from 348 up); the others are moved down to the buffer's start.
  if (img.offset % static_cast<size_t>(pixel_type_size(img.type)) != 0) drop_offset(img);
  img.geom.nifti_header = std::move(hdr);
  img.files[path] = digest;
  out = std::move(img);
  return true;
}

// The .nii.gz of `head` then `n` bytes of `body` as one gzip member, deflated by libdeflate
// from the buffers as they are: `head` as a stored block, then the body compressed whole (a
// stored block ends on a byte, so the body's own stream follows it; RFC 1951). Only the pages
// of the output buffer that the compressed stream fills become resident.
void write_gzip_whole(TempFile& tmp, const std::vector<uint8_t>& head, const void* body, int64_t n,
                      int level) {
  if (head.size() > 65535) tmp.fail("NIfTI header too long for a stored block");
  std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> deflater(
      libdeflate_alloc_compressor(level), libdeflate_free_compressor);
  if (!deflater) tmp.fail("cannot allocate a compressor");
  const size_t bound = libdeflate_deflate_compress_bound(deflater.get(), static_cast<size_t>(n));
  std::unique_ptr<uint8_t[]> packed(new uint8_t[bound]);  // not zero-filled
  const size_t packed_bytes = libdeflate_deflate_compress(
      deflater.get(), body, static_cast<size_t>(n), packed.get(), bound);
  if (packed_bytes == 0) tmp.fail("compression failed");
  const uint16_t len = static_cast<uint16_t>(head.size());
  std::vector<uint8_t> front = gzip_header(level);
  const uint8_t stored[5] = {0,  // a stored block, not the last
                             static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8),
                             static_cast<uint8_t>(~len), static_cast<uint8_t>(~len >> 8)};
  front.insert(front.end(), stored, stored + 5);
  front.insert(front.end(), head.begin(), head.end());
  const uint32_t crc =
      crc32_of(crc32_of(0, head.data(), head.size()), body, static_cast<size_t>(n));
  const std::array<uint8_t, 8> tail = gzip_trailer(crc, static_cast<uint64_t>(n) + head.size());
  FILE* f = tmp.open();
  if (std::fwrite(front.data(), 1, front.size(), f) != front.size() ||
      std::fwrite(packed.get(), 1, packed_bytes, f) != packed_bytes ||
      std::fwrite(tail.data(), 1, tail.size(), f) != tail.size())
    tmp.fail("write failed: " + errno_text());
}
#endif

}  // namespace

RawImage read_nifti(const std::string& path, const ReadLimits& limits) {
#ifdef MASKEVAL_HAVE_LIBDEFLATE
  {
    RawImage whole;
    if (read_nifti_whole(path, limits, whole)) return whole;
  }
#endif
  FilePtr file = open_regular(path, "");
  const int64_t file_bytes = file_size(fileno(file.get()));
  Source f(std::move(file));

  std::vector<uint8_t> hdr(4);
  read_exact(f, hdr.data(), 4, "NIfTI header");
  bool swap = false;
  const Layout* layout = detect(hdr.data(), &swap);
  if (!layout) throw InputError("not a NIfTI file (sizeof_hdr is neither 348 nor 540)");
  hdr.resize(layout->size);
  read_exact(f, hdr.data() + 4, layout->size - 4, "NIfTI header", 4);

  RawImage out;
  const Header h{hdr.data(), layout, swap};
  const int64_t offset = parse_header(h, out);
  const int64_t size = image_bytes(out.geom, 1, out.type, limits);

  // Refuse to allocate for data the file cannot hold.
  const int64_t end = checked_add(offset, size, "NIfTI vox_offset");
  const bool compressed = f.compressed();
  if (compressed ? !could_inflate_to(file_bytes, end) : end > file_bytes) {
    const std::string expected = "truncated NIfTI data: expected " + std::to_string(size);
    if (compressed) throw InputError(expected + " bytes, more than the compressed file can hold");
    throw InputError(expected + " bytes, got " +
                     std::to_string(std::max<int64_t>(0, file_bytes - offset)));
  }

  skip_exact(f, offset - layout->size, "NIfTI extensions");
  out.bytes.resize(static_cast<size_t>(size));
  read_exact(f, out.bytes.data(), size, "NIfTI data");
  if (compressed) {  // reach the end of the stream, so that its checksum and length are checked
    uint8_t extra[4096];
    while (f.read(extra, sizeof extra) > 0) {
    }
    f.throw_if_error("the end of the stream is missing");
  }
  out.files[path] = f.finish();
  if (swap) swap_bytes(out.bytes.data(), out.voxels(), pixel_type_size(out.type));
  out.geom.nifti_header = std::move(hdr);
  return out;
}

}  // namespace maskeval::detail

namespace maskeval {

void write_nifti(const std::string& path, const Geometry& like, PixelType type, const void* pixels,
                 int level) {
  using namespace detail;
  TempFile tmp(path);
  if (type != PixelType::kU8 && type != PixelType::kU16 && type != PixelType::kF32) {
    tmp.fail(std::string("NIfTI output must be uint8, uint16 or float32, not ") +
             pixel_type_name(type));
  }
  if (like.voxels() <= 0) tmp.fail("empty image");

  std::vector<uint8_t> bytes;
  const Layout* layout = nullptr;
  bool swap = false;
  if (!like.nifti_header.empty()) {
    bytes = like.nifti_header;
    if (bytes.size() < 4 || !(layout = detect(bytes.data(), &swap)) ||
        bytes.size() != static_cast<size_t>(layout->size)) {
      tmp.fail("invalid NIfTI header in the source geometry");
    }
    const Header h{bytes.data(), layout, swap};
    if (h.dim(1) != like.shape[0] || h.dim(2) != like.shape[1] ||
        (h.dim(0) >= 3 ? h.dim(3) : 1) != like.shape[2]) {
      tmp.fail("the source NIfTI header does not match the image shape");
    }
  } else {
    bytes = fresh_header(like, &layout);
  }
  Header h{bytes.data(), layout, swap};
  std::memcpy(bytes.data() + layout->magic, layout->magic_text, layout->magic_len);
  h.set_int(layout->datatype, 2, datatype_code(type));
  h.set_int(layout->bitpix, 2, 8 * pixel_type_size(type));
  if (layout->real_w == 4) {
    h.set_real(layout->vox_offset, layout->size + 4);
  } else {
    h.set_int(layout->vox_offset, 8, layout->size + 4);
  }
  h.set_real(layout->scl_slope, 0.0);  // no scaling
  h.set_real(layout->scl_inter, 0.0);
  h.set_real(layout->cal_max, 0.0);
  h.set_real(layout->cal_min, 0.0);
  bytes.resize(bytes.size() + 4, 0);  // extension flag: no extensions

  if (level < 1 || level > 9) tmp.fail("compression level must be 1..9");
  const bool gz = ends_with_nocase(path, ".gz");
  const int elem = pixel_type_size(type);
  const int64_t total = like.voxels() * elem;
#ifdef MASKEVAL_HAVE_LIBDEFLATE
  // Above zlib's fastest level, libdeflate compresses the buffer whole, about twice as fast as
  // zlib at the same level for files as small; at level 1 zlib was as fast or faster on label
  // maps (bench/RESULTS.md).
  if (gz && (!swap || elem == 1) && level >= 2) {
    write_gzip_whole(tmp, bytes, pixels, total, level);
    tmp.commit();
    return;
  }
#endif
  Output out(tmp, gz, level);
  out.write(bytes.data(), static_cast<int64_t>(bytes.size()));
  if (!swap || elem == 1) {
    out.write(pixels, total);
  } else {
    std::vector<uint8_t> chunk(1 << 20);
    for (int64_t done = 0; done < total;) {
      const int64_t n = std::min<int64_t>(total - done, static_cast<int64_t>(chunk.size()));
      std::memcpy(chunk.data(), static_cast<const uint8_t*>(pixels) + done, n);
      swap_bytes(chunk.data(), n / elem, elem);
      out.write(chunk.data(), n);
      done += n;
    }
  }
  out.close();
  tmp.commit();
}

}  // namespace maskeval
