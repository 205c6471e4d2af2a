// TIFF through libtiff: the first directory (page) only, strips or tiles, interleaved samples.
// Values are returned as stored: palette images give indices, and 1/2/4-bit samples are unpacked
// to one byte each without scaling or inversion (in a 1-bit MINISWHITE image a stored 1 is
// black, and it is reported as 1 all the same).
#include "io/formats.h"

#ifdef MASKEVAL_HAVE_TIFF

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace maskeval::detail {
namespace {

// libtiff reports through process-wide handlers; ours keep the last error of each thread for
// the exception message and print nothing.
thread_local char g_last_error[256];

void on_error(const char*, const char* fmt, va_list ap) {
  std::vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
}
void on_warning(const char*, const char*, va_list) {}

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(on_error);
    TIFFSetWarningHandler(on_warning);
  });
}

[[noreturn]] void fail(const char* what) {
  std::string msg = what;
  if (g_last_error[0]) msg += std::string(": ") + g_last_error;
  throw InputError(msg);
}

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};

PixelType sample_type(int bits, int format) {
  if (format == SAMPLEFORMAT_VOID) format = SAMPLEFORMAT_UINT;
  if (format == SAMPLEFORMAT_UINT) {
    switch (bits) {
      case 1:
      case 2:
      case 4:
      case 8:
        return PixelType::kU8;
      case 16:
        return PixelType::kU16;
      case 32:
        return PixelType::kU32;
      case 64:
        return PixelType::kU64;
    }
  } else if (format == SAMPLEFORMAT_INT) {
    switch (bits) {
      case 8:
        return PixelType::kI8;
      case 16:
        return PixelType::kI16;
      case 32:
        return PixelType::kI32;
      case 64:
        return PixelType::kI64;
    }
  } else if (format == SAMPLEFORMAT_IEEEFP) {
    if (bits == 32) return PixelType::kF32;
    if (bits == 64) return PixelType::kF64;
  }
  throw InputError("unsupported TIFF samples: " + std::to_string(bits) + "-bit, SampleFormat " +
                   std::to_string(format));
}

// Decodes the image into rows of `scanline` packed bytes.
void read_packed(TIFF* tif, uint32_t width, uint32_t height, int64_t scanline, int bits_per_pixel,
                 uint8_t* dst) {
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    const tmsize_t tile_size = TIFFTileSize(tif), tile_row = TIFFTileRowSize(tif);
    if (tw == 0 || th == 0 || tile_size <= 0 || tile_row <= 0) fail("invalid TIFF tiles");
    std::vector<uint8_t> tile(static_cast<size_t>(tile_size));
    for (uint32_t y0 = 0; y0 < height; y0 += th) {
      for (uint32_t x0 = 0; x0 < width; x0 += tw) {
        const ttile_t index = TIFFComputeTile(tif, x0, y0, 0, 0);
        if (TIFFReadEncodedTile(tif, index, tile.data(), tile_size) != tile_size) {
          fail("corrupt TIFF tile");
        }
        // Tile widths are multiples of 16, so tiles start on byte boundaries.
        const int64_t x_byte = int64_t{x0} * bits_per_pixel / 8;
        const int64_t n = std::min<int64_t>(tile_row, scanline - x_byte);
        const uint32_t rows = std::min(th, height - y0);
        for (uint32_t r = 0; r < rows; ++r) {
          std::memcpy(dst + (y0 + r) * scanline + x_byte, tile.data() + r * tile_row, n);
        }
      }
    }
    return;
  }
  uint32_t rows_per_strip = height;
  TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
  rows_per_strip = std::clamp<uint32_t>(rows_per_strip, 1, height);
  for (uint32_t y0 = 0, strip = 0; y0 < height; y0 += rows_per_strip, ++strip) {
    const tmsize_t want = std::min(rows_per_strip, height - y0) * scanline;
    if (TIFFReadEncodedStrip(tif, strip, dst + y0 * scanline, want) != want) {
      fail("corrupt or truncated TIFF strip");
    }
  }
}

// Spreads `count` packed samples of `bits` bits (most significant first) to one byte each.
void unpack(const uint8_t* src, uint8_t* dst, int64_t count, int bits) {
  const int mask = (1 << bits) - 1;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t bit = i * bits;
    dst[i] = static_cast<uint8_t>((src[bit >> 3] >> (8 - bits - (bit & 7))) & mask);
  }
}

// How many times its stored size a strip or tile of this compression can decode to, at most.
int64_t max_expansion(uint16_t compression) {
  switch (compression) {
    case COMPRESSION_NONE:
      return 1;
    case COMPRESSION_PACKBITS:
      return 64;  // a 2-byte run gives at most 128 bytes
    case COMPRESSION_LZW:
      return 4096;  // a 9..12-bit code gives at most a 4096-byte string
    case COMPRESSION_DEFLATE:
    case COMPRESSION_ADOBE_DEFLATE:
      return kMaxDeflateRatio;
    case COMPRESSION_JPEG:
    case COMPRESSION_OJPEG:
      return 1024;  // at least one bit per 8x8 block of 64 samples of up to 16 bits
    default:
      return int64_t{1} << 16;  // CCITT, LZMA, ZSTD, WebP...: generous, but finite
  }
}

// Refuses an image whose strips or tiles cannot hold the `decoded` bytes it declares, before they
// are allocated: the stored bytes (the sum of the strip or tile byte counts, at most the file's
// size) must hold them exactly when uncompressed, within the codec's expansion bound otherwise.
void check_stored_size(TIFF* t, int64_t decoded, int64_t file_bytes) {
  const bool tiled = TIFFIsTiled(t);
  const int64_t pieces = tiled ? TIFFNumberOfTiles(t) : TIFFNumberOfStrips(t);
  const char* field = tiled ? "TIFF TileByteCounts" : "TIFF StripByteCounts";
  // Every strip or tile takes at least a byte of the file.
  if (pieces < 1 || pieces > file_bytes) {
    throw InputError("truncated TIFF data: " + std::to_string(pieces) +
                     (tiled ? " tiles" : " strips") + " cannot lie in a file of " +
                     std::to_string(file_bytes) + " bytes");
  }
  int64_t stored = 0;  // bytes of the strips or tiles that lie in the file
  for (int64_t i = 0; i < pieces && stored < file_bytes; ++i) {
    const uint64_t offset = TIFFGetStrileOffset(t, static_cast<uint32_t>(i));
    const uint64_t count = TIFFGetStrileByteCount(t, static_cast<uint32_t>(i));
    const uint64_t left = offset < uint64_t(file_bytes) ? file_bytes - offset : 0;
    stored = checked_add(stored, checked_cast(std::min(count, left), field), field);
  }
  stored = std::min(stored, file_bytes);
  uint16_t compression = COMPRESSION_NONE;
  TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &compression);
  if (!TIFFIsCODECConfigured(compression))  // refused here, not after the pixels are allocated
    throw InputError("unsupported TIFF compression " + std::to_string(compression));
  const bool fits = compression == COMPRESSION_NONE
                        ? decoded <= stored
                        : could_inflate_to(stored, decoded, max_expansion(compression));
  if (!fits) {
    throw InputError("truncated TIFF data: expected " + std::to_string(decoded) +
                     " bytes, more than the " + std::to_string(stored) + " stored bytes" +
                     (compression == COMPRESSION_NONE
                          ? std::string()
                          : " (Compression " + std::to_string(compression) + ")") +
                     " can hold");
  }
}

// Checks the bytes the strips or tiles decode to against the limits and the file's size.
void check_decoded_size(TIFF* t, int64_t scanline, uint32_t height, const ReadLimits& limits,
                        int64_t file_bytes) {
  int64_t decoded = checked_mul(scanline, height, "TIFF image size");
  if (TIFFIsTiled(t)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
    if (tw == 0 || th == 0) fail("invalid TIFF tiles");
    if (int64_t{tw} * th > limits.max_voxels) {
      throw InputError("TIFF tile of " + std::to_string(tw) + "x" + std::to_string(th) +
                       " pixels is over the limit of " + std::to_string(limits.max_voxels) +
                       " (--max-voxels)");
    }
    const int64_t tile = TIFFTileSize64(t);
    if (tile <= 0) fail("invalid TIFF tiles");
    if (tile > checked_mul(limits.max_voxels, 8, "TIFF tile size"))  // 8 bytes a value at most
      throw InputError("TIFF tile of " + std::to_string(tile) + " bytes is over the limit of " +
                       std::to_string(limits.max_voxels) + " values (--max-voxels)");
    decoded =
        checked_mul(checked_cast(TIFFNumberOfTiles(t), "TIFF tile count"), tile, "TIFF tile size");
  }
  check_stored_size(t, decoded, file_bytes);
}

// Pixel spacing from the resolution tags, in mm, when they give one.
void read_resolution(TIFF* t, Geometry& g) {
  float res_x = 0, res_y = 0;
  uint16_t unit = RESUNIT_INCH;
  if (TIFFGetField(t, TIFFTAG_XRESOLUTION, &res_x) && res_x > 0) {
    if (!TIFFGetField(t, TIFFTAG_YRESOLUTION, &res_y) || !(res_y > 0)) res_y = res_x;
    TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    const double mm = unit == RESUNIT_INCH ? 25.4 : unit == RESUNIT_CENTIMETER ? 10.0 : 0.0;
    if (mm > 0) {
      g.spacing = {mm / res_x, mm / res_y, 1.0};
      g.spacing_unit = "mm";
    }
  }
}

}  // namespace

RawImage read_tiff(const std::string& path, const ReadLimits& limits) {
  install_handlers();
  g_last_error[0] = '\0';
  UniqueFd fd = open_regular_fd(path, "");
  const int64_t file_bytes = file_size(fd.get());
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFFdOpen(fd.get(), path.c_str(), "r"));
  if (!tif) fail("cannot read TIFF");  // the descriptor is still ours, and closed by `fd`
  fd.release();                        // TIFFClose closes it now
  TIFF* t = tif.get();

  uint32_t width = 0, height = 0, depth = 1;
  uint16_t bits = 1, spp = 1, format = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &width) ||
      !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &height)) {
    fail("TIFF without image size");
  }
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photometric);
  TIFFGetField(t, TIFFTAG_IMAGEDEPTH, &depth);
  if (spp > 1 && planar != PLANARCONFIG_CONTIG) {
    throw InputError("TIFF with separate sample planes (PlanarConfiguration 2) is not supported");
  }
  if (photometric == PHOTOMETRIC_YCBCR) throw InputError("YCbCr TIFF is not supported");
  if (depth > 1) throw InputError("3D TIFF (ImageDepth > 1) is not supported");

  RawImage out;
  out.type = sample_type(bits, format);
  out.channels = spp;
  out.geom.ndim = 2;
  out.geom.shape = {width, height, 1};
  out.geom.format = "tiff";
  read_resolution(t, out.geom);

  const int64_t bytes = image_bytes(out.geom, out.channels, out.type, limits);
  const int64_t scanline = TIFFScanlineSize64(t);
  if (scanline != (int64_t{width} * spp * bits + 7) / 8) fail("unexpected TIFF row size");
  check_decoded_size(t, scanline, height, limits, file_bytes);
  out.bytes.resize(static_cast<size_t>(bytes));
  if (bits >= 8) {
    read_packed(t, width, height, scanline, spp * bits, out.bytes.data());
    return out;
  }
  std::vector<uint8_t> packed(static_cast<size_t>(scanline * height));
  read_packed(t, width, height, scanline, spp * bits, packed.data());
  const int64_t row_samples = int64_t{width} * spp;
  for (uint32_t y = 0; y < height; ++y) {
    unpack(packed.data() + y * scanline, out.bytes.data() + y * row_samples, row_samples, bits);
  }
  return out;
}

}  // namespace maskeval::detail

#else  // !MASKEVAL_HAVE_TIFF

namespace maskeval::detail {

RawImage read_tiff(const std::string&, const ReadLimits&) {
  throw InputError("TIFF support not built (libtiff missing at build time)");
}

}  // namespace maskeval::detail

#endif
