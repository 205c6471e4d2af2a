// Writes the seed inputs of the fuzz targets: small valid files of every format and variant the
// readers handle, one folder per target under the folder given (png tiff nii niigz mha nrrd).
#include <png.h>
#include <tiffio.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "maskeval/image.h"

namespace {

namespace fs = std::filesystem;

// A recognisable pattern of `n` bytes.
std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 37 + i / 7) % 251);
  return b;
}

void write_file(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::vector<uint8_t> with_text(const std::string& text, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b(text.begin(), text.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// zlib (gzip = false) or gzip stream of `b`.
std::vector<uint8_t> deflate_bytes(const std::vector<uint8_t>& b, bool gzip) {
  z_stream zs{};
  if (deflateInit2(&zs, 9, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(b.size())) + 32);
  zs.next_in = const_cast<Bytef*>(b.data());
  zs.avail_in = static_cast<uInt>(b.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// --- PNG ---

struct PngSeed {
  const char* name;
  uint32_t width, height;
  int depth, colour_type, interlace;
};

// No local objects with destructors: libpng may longjmp back here.
bool encode_png(FILE* f, const PngSeed& s, const std::vector<uint8_t>& pixels) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, s.width, s.height, s.depth, s.colour_type, s.interlace,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_color palette[16];
  for (int i = 0; i < 16; ++i) palette[i] = {png_byte(i * 16), png_byte(255 - i * 16), 128};
  if (s.colour_type == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, palette, 1 << s.depth);
  png_set_pHYs(png, info, 2000, 2000, PNG_RESOLUTION_METER);
  png_write_info(png, info);
  const size_t stride = png_get_rowbytes(png, info);
  const int passes = png_set_interlace_handling(png);
  for (int pass = 0; pass < passes; ++pass) {
    for (uint32_t y = 0; y < s.height; ++y) png_write_row(png, &pixels[y * stride]);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

void png_seeds(const fs::path& dir) {
  const PngSeed seeds[] = {
      {"grey1.png", 13, 5, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE},
      {"grey4.png", 7, 6, 4, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE},
      {"grey16_adam7.png", 9, 9, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7},
      {"palette4.png", 6, 4, 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE},
      {"grey_alpha.png", 4, 4, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE},
      {"rgb16.png", 3, 3, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE},
      {"rgba.png", 5, 2, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_ADAM7},
  };
  for (const PngSeed& s : seeds) {
    const std::vector<uint8_t> pixels = pattern(s.height * (s.width * 8 + 1));
    FILE* f = std::fopen((dir / s.name).c_str(), "wb");
    if (!f) throw std::runtime_error(std::string("cannot write ") + s.name);
    const bool ok = encode_png(f, s, pixels);
    std::fclose(f);
    if (!ok) throw std::runtime_error(std::string("cannot encode ") + s.name);
  }
  const std::vector<uint8_t> labels = {0, 1, 2, 0, 3, 3, 0, 0, 255, 1, 1, 2};
  maskeval::write_png_labels((dir / "labels.png").string(), labels.data(), 4, 3);
  maskeval::write_png_gray((dir / "grey8.png").string(), labels.data(), 3, 4, 8);
}

// --- TIFF ---

struct TiffSeed {
  const char* name;
  uint32_t width, height;
  uint16_t bits, spp, format, compression, photometric;
  uint32_t tile;  // 0: strips of 3 rows
};

void write_tiff(const fs::path& p, const TiffSeed& s) {
  if (!TIFFIsCODECConfigured(s.compression)) return;
  TIFF* t = TIFFOpen(p.c_str(), "w");
  if (!t) throw std::runtime_error("cannot write " + p.string());
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, s.width);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, s.height);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, s.bits);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, s.spp);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, s.format);
  TIFFSetField(t, TIFFTAG_COMPRESSION, s.compression);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, s.photometric);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_XRESOLUTION, 300.0f);
  TIFFSetField(t, TIFFTAG_YRESOLUTION, 300.0f);
  TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
  std::vector<uint16_t> map(size_t{1} << s.bits);
  for (size_t i = 0; i < map.size(); ++i) map[i] = static_cast<uint16_t>(i * 4099);
  if (s.photometric == PHOTOMETRIC_PALETTE) {
    TIFFSetField(t, TIFFTAG_COLORMAP, map.data(), map.data(), map.data());
  }
  if (s.tile) {
    TIFFSetField(t, TIFFTAG_TILEWIDTH, s.tile);
    TIFFSetField(t, TIFFTAG_TILELENGTH, s.tile);
    const std::vector<uint8_t> tile = pattern(static_cast<size_t>(TIFFTileSize(t)));
    for (uint32_t i = 0; i < TIFFNumberOfTiles(t); ++i) {
      TIFFWriteEncodedTile(t, i, const_cast<uint8_t*>(tile.data()), TIFFTileSize(t));
    }
  } else {
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3);
    const std::vector<uint8_t> strip = pattern(static_cast<size_t>(TIFFStripSize(t)));
    for (uint32_t i = 0; i < TIFFNumberOfStrips(t); ++i) {
      TIFFWriteEncodedStrip(t, i, const_cast<uint8_t*>(strip.data()), TIFFVStripSize(t, 3));
    }
  }
  TIFFClose(t);
}

void tiff_seeds(const fs::path& dir) {
  constexpr uint16_t kU = SAMPLEFORMAT_UINT, kI = SAMPLEFORMAT_INT, kF = SAMPLEFORMAT_IEEEFP;
  constexpr uint16_t kGrey = PHOTOMETRIC_MINISBLACK;
  const TiffSeed seeds[] = {
      {"u8.tif", 5, 7, 8, 1, kU, COMPRESSION_NONE, kGrey, 0},
      {"u16_deflate.tif", 6, 5, 16, 1, kU, COMPRESSION_ADOBE_DEFLATE, kGrey, 0},
      {"i16_lzw.tif", 6, 5, 16, 1, kI, COMPRESSION_LZW, kGrey, 0},
      {"u8_packbits.tif", 9, 4, 8, 1, kU, COMPRESSION_PACKBITS, kGrey, 0},
      {"f32.tif", 3, 4, 32, 1, kF, COMPRESSION_NONE, kGrey, 0},
      {"u1.tif", 11, 5, 1, 1, kU, COMPRESSION_NONE, PHOTOMETRIC_MINISWHITE, 0},
      {"u4_palette.tif", 5, 3, 4, 1, kU, COMPRESSION_NONE, PHOTOMETRIC_PALETTE, 0},
      {"rgb.tif", 4, 4, 8, 3, kU, COMPRESSION_DEFLATE, PHOTOMETRIC_RGB, 0},
      {"u8_tiled.tif", 20, 18, 8, 1, kU, COMPRESSION_NONE, kGrey, 16},
      {"u16_tiled_deflate.tif", 17, 16, 16, 1, kU, COMPRESSION_ADOBE_DEFLATE, kGrey, 16},
      {"u1_fax.tif", 16, 4, 1, 1, kU, COMPRESSION_CCITTFAX4, PHOTOMETRIC_MINISWHITE, 0},
  };
  for (const TiffSeed& s : seeds) write_tiff(dir / s.name, s);
}

// --- NIfTI ---

// Field writer in either byte order.
struct Fields {
  std::vector<uint8_t>& b;
  bool big;
  void put(size_t at, uint64_t v, int width) {
    for (int i = 0; i < width; ++i) b[at + (big ? width - 1 - i : i)] = uint8_t(v >> (8 * i));
  }
  void put_f32(size_t at, float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    put(at, u, 4);
  }
  void put_f64(size_t at, double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    put(at, u, 8);
  }
};

// A NIfTI-1 (348) or NIfTI-2 (540) int16 volume of 3 x 2 x 2 with one extension.
std::vector<uint8_t> nifti_file(int version, bool big) {
  const bool two = version == 2;
  const size_t header = two ? 540 : 348, ext = 16, offset = header + 4 + ext;
  std::vector<uint8_t> b(offset, 0);
  Fields f{b, big};
  f.put(0, header, 4);
  std::memcpy(&b[two ? 4 : 344], two ? "n+2\0\r\n\032\n" : "n+1\0", two ? 8 : 4);
  f.put(two ? 12 : 70, 4, 2);   // datatype int16
  f.put(two ? 14 : 72, 16, 2);  // bitpix
  const int64_t dims[8] = {3, 3, 2, 2, 1, 1, 1, 1};
  for (int i = 0; i < 8; ++i) f.put((two ? 16 : 40) + i * (two ? 8 : 2), dims[i], two ? 8 : 2);
  for (int i = 0; i < 8; ++i) {
    if (two) {
      f.put_f64(104 + 8 * i, 0.5 + i);
    } else {
      f.put_f32(76 + 4 * i, 0.5f + i);
    }
  }
  if (two) {
    f.put(168, offset, 8);
    f.put(500, 2, 4);  // xyzt_units: mm
  } else {
    f.put_f32(108, float(offset));
    f.put(123, 2, 1);
  }
  b[header] = 1;  // an extension follows: esize, ecode, data
  f.put(header + 4, ext, 4);
  f.put(header + 8, 6, 4);
  std::vector<uint8_t> data = pattern(24);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void nifti_seeds(const fs::path& plain, const fs::path& gz) {
  for (const auto& [name, version, big] : {std::tuple{"n1_le", 1, false},
                                           {"n1_be", 1, true},
                                           {"n2_le", 2, false},
                                           {"n2_be", 2, true}}) {
    const std::vector<uint8_t> b = nifti_file(version, big);
    write_file(plain / (std::string(name) + ".nii"), b);
    write_file(gz / (std::string(name) + ".nii.gz"), deflate_bytes(b, true));
  }
  maskeval::Geometry g;
  g.ndim = 3;
  g.shape = {4, 3, 2};
  g.spacing = {0.7, 0.8, 2.5};
  g.spacing_unit = "mm";
  const std::vector<uint8_t> pixels = pattern(4 * 3 * 2 * 4);
  for (const auto& [name, type] : {std::pair{"u8", maskeval::PixelType::kU8},
                                   {"u16", maskeval::PixelType::kU16},
                                   {"f32", maskeval::PixelType::kF32}}) {
    maskeval::write_nifti((plain / (std::string(name) + ".nii")).string(), g, type, pixels.data());
    maskeval::write_nifti((gz / (std::string(name) + ".nii.gz")).string(), g, type, pixels.data());
  }
}

// --- MetaImage and NRRD (headers as text) ---

void metaimage_seeds(const fs::path& dir) {
  const std::string base = "ObjectType = Image\nNDims = 3\nDimSize = 3 2 2\n";
  const std::vector<uint8_t> u8 = pattern(12), i16 = pattern(24);
  write_file(dir / "u8.mha",
             with_text(base + "ElementSpacing = 0.7 0.8 5\nElementType = MET_UCHAR\n"
                              "ElementDataFile = LOCAL\n",
                       u8));
  const std::vector<uint8_t> z = deflate_bytes(i16, false);
  write_file(dir / "i16_msb_zlib.mha",
             with_text(base +
                           "BinaryData = True\nBinaryDataByteOrderMSB = True\n"
                           "CompressedData = True\nCompressedDataSize = " +
                           std::to_string(z.size()) +
                           "\nElementType = MET_SHORT\nElementDataFile = LOCAL\n",
                       z));
  write_file(dir / "end.mha", with_text(base + "HeaderSize = -1\nElementType = MET_UCHAR\n"
                                               "ElementDataFile = LOCAL\n",
                                        pattern(40)));
  write_file(dir / "rgb_2d.mha", with_text("NDims = 2\nDimSize = 2 3\nElementNumberOfChannels = 3\n"
                                           "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
                                           pattern(18)));
  write_file(dir / "f64_4d.mha", with_text("NDims = 4\nDimSize = 2 2 1 1\nElementSize = 1 1 1 1\n"
                                           "ElementType = MET_DOUBLE\nElementDataFile = LOCAL\n",
                                           std::vector<uint8_t>(32, 0)));
  // The header names itself as its data file (the fuzz input is input.mha).
  write_file(dir / "self.mha", with_text(base + "HeaderSize = 200\nElementType = MET_UCHAR\n"
                                                "ElementDataFile = input.mha\n",
                                         std::vector<uint8_t>(200, 1)));
}

void nrrd_seeds(const fs::path& dir) {
  const std::string u8 = "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 3 2 2\n";
  write_file(dir / "raw.nrrd",
             with_text(u8 + "encoding: raw\nspace: left-posterior-superior\n"
                            "space directions: (0.7,0,0) (0,0.8,0) (0,0,5)\n"
                            "kinds: domain domain domain\nspace units: \"mm\" \"mm\" \"mm\"\n\n",
                       pattern(12)));
  write_file(dir / "gzip_short_be.nrrd",
             with_text("NRRD0005\ntype: short\ndimension: 2\nsizes: 3 4\nendian: big\n"
                       "encoding: gzip\nspacings: 0.5 0.5\nbyte skip: 2\n\n",
                       deflate_bytes(pattern(26), true)));
  write_file(dir / "text_float.nrrd", with_text("NRRD0004\ntype: float\ndimension: 2\nsizes: 3 2\n"
                                                "encoding: text\n\n0 1.5 2\n-3 4e2 5\n",
                                                {}));
  write_file(dir / "rgb.nrrd", with_text("NRRD0004\ntype: uchar\ndimension: 3\nsizes: 3 2 2\n"
                                         "kinds: RGB-color domain domain\nencoding: raw\n\n",
                                         pattern(12)));
  write_file(dir / "skip_end.nrrd",
             with_text(u8 + "encoding: raw\nbyte skip: -1\n\n", pattern(30)));
  write_file(dir / "lines.nrrd", with_text(u8 + "encoding: raw\nline skip: 1\nbyte skip: 1\n\n"
                                                "junk line\n#",
                                           pattern(12)));
  // The header names itself as its data file (the fuzz input is input.nrrd).
  write_file(dir / "self.nrrd",
             with_text(u8 + "encoding: raw\ndata file: input.nrrd\nline skip: 8\n\n", pattern(12)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER\n", argv[0]);
    return 1;
  }
  TIFFSetWarningHandler(nullptr);  // the legacy Deflate code of one seed is on purpose
  try {
    const fs::path out(argv[1]);
    for (const char* t : {"png", "tiff", "nii", "niigz", "mha", "nrrd"}) {
      fs::create_directories(out / t);
    }
    png_seeds(out / "png");
    tiff_seeds(out / "tiff");
    nifti_seeds(out / "nii", out / "niigz");
    metaimage_seeds(out / "mha");
    nrrd_seeds(out / "nrrd");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
