// Image readers and writers. Every fixture is generated here, in a temporary directory: PNG and
// TIFF files through libpng and libtiff directly, NIfTI files byte by byte.
#include <gtest/gtest.h>

#include <png.h>
#include <zlib.h>
#include "io_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#ifdef MASKEVAL_HAVE_TIFF
#include <tiffio.h>
#endif

#include "maskeval/image.h"
#include "maskeval/labels.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::bytes_of;
using test::contains;
using test::host_big_endian;
using test::input_error;
using test::swapped;
using test::values_of;
using test::write_bytes;

// --- Small helpers ---------------------------------------------------------------------------

std::vector<uint8_t> be16(const std::vector<uint16_t>& v) {
  std::vector<uint8_t> b;
  for (uint16_t x : v) {
    b.push_back(static_cast<uint8_t>(x >> 8));
    b.push_back(static_cast<uint8_t>(x & 0xff));
  }
  return b;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Writes `b` gzip-compressed, split over `members` concatenated gzip members.
void write_gz(const std::string& path, const std::vector<uint8_t>& b, int members = 1) {
  const size_t part = (b.size() + members - 1) / members;
  for (int m = 0; m < members; ++m) {
    gzFile f = gzopen(path.c_str(), m == 0 ? "wb" : "ab");
    ASSERT_NE(f, nullptr);
    const size_t begin = std::min(b.size(), m * part), end = std::min(b.size(), begin + part);
    if (end > begin) {
      ASSERT_EQ(gzwrite(f, b.data() + begin, static_cast<unsigned>(end - begin)),
                static_cast<int>(end - begin));
    }
    ASSERT_EQ(gzclose(f), Z_OK);
  }
}

std::vector<uint8_t> gunzip(const std::string& path) {
  std::vector<uint8_t> out;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return out;
  uint8_t buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

class IoTest : public test::TempDirTest {
 protected:
  bool has_tmp_files() const {
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".tmp") return true;
    }
    return false;
  }
};

// --- PNG fixtures ----------------------------------------------------------------------------

struct PngSpec {
  int width = 1, height = 1, depth = 8, color = PNG_COLOR_TYPE_GRAY;
  std::vector<uint8_t> data;  // rows as libpng takes them: packed, 16-bit big-endian
  std::vector<png_color> palette;
  std::vector<uint8_t> trns;
  bool interlace = false;
  uint32_t ppm = 0;  // pHYs pixels per metre; 0 writes no pHYs
};

// No local objects with destructors: libpng may longjmp back here.
bool encode_png(FILE* f, const PngSpec& s) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, s.width, s.height, s.depth, s.color,
               s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) {
    png_set_PLTE(png, info, s.palette.data(), static_cast<int>(s.palette.size()));
  }
  if (!s.trns.empty()) {
    png_set_tRNS(png, info, s.trns.data(), static_cast<int>(s.trns.size()), nullptr);
  }
  if (s.ppm) png_set_pHYs(png, info, s.ppm, s.ppm, PNG_RESOLUTION_METER);
  png_write_info(png, info);
  const int channels = s.color == PNG_COLOR_TYPE_RGB          ? 3
                       : s.color == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                       : s.color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                              : 1;
  const size_t stride = (static_cast<size_t>(s.width) * channels * s.depth + 7) / 8;
  const int passes = png_set_interlace_handling(png);
  for (int p = 0; p < passes; ++p) {
    for (int y = 0; y < s.height; ++y) png_write_row(png, s.data.data() + y * stride);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

void write_test_png(const std::string& path, const PngSpec& s) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  const bool ok = encode_png(f, s);
  std::fclose(f);
  ASSERT_TRUE(ok) << path;
}

// A 64x64 8-bit grey PNG of noise, large enough that truncating it cuts into the pixel data.
PngSpec noise_png() {
  PngSpec s;
  s.width = s.height = 64;
  uint32_t x = 12345;
  for (int i = 0; i < 64 * 64; ++i) {
    x = x * 1103515245u + 12345u;
    s.data.push_back(static_cast<uint8_t>(x >> 16));
  }
  return s;
}

// --- Basics ----------------------------------------------------------------------------------

TEST(PixelType, NamesAndSizes) {
  EXPECT_STREQ(pixel_type_name(PixelType::kU8), "uint8");
  EXPECT_STREQ(pixel_type_name(PixelType::kI16), "int16");
  EXPECT_STREQ(pixel_type_name(PixelType::kF64), "float64");
  const std::map<PixelType, int> sizes = {
      {PixelType::kU8, 1},  {PixelType::kI8, 1},  {PixelType::kU16, 2}, {PixelType::kI16, 2},
      {PixelType::kU32, 4}, {PixelType::kI32, 4}, {PixelType::kF32, 4}, {PixelType::kU64, 8},
      {PixelType::kI64, 8}, {PixelType::kF64, 8}};
  for (const auto& [type, size] : sizes)
    EXPECT_EQ(pixel_type_size(type), size) << pixel_type_name(type);
}

TEST(IsMaskFile, ByExtensionIgnoringCase) {
  for (const char* p : {"a.png", "dir/A.PNG", "x.tif", "x.TIFF", "v.nii", "v.nii.gz", "v.NII.GZ"}) {
    EXPECT_TRUE(is_mask_file(p)) << p;
  }
  for (const char* p :
       {"a.gz", "a.txt", "a.jpg", "a.jpeg", "a.webp", "a.ppm", "png", "a.png.bak"}) {
    EXPECT_FALSE(is_mask_file(p)) << p;
  }
#ifdef MASKEVAL_HAVE_OPENCV
  EXPECT_TRUE(is_mask_file("a.bmp"));
  EXPECT_TRUE(is_mask_file("a.PGM"));
  EXPECT_TRUE(is_mask_file("a.pnm"));
#else
  EXPECT_FALSE(is_mask_file("a.bmp"));
  EXPECT_FALSE(is_mask_file("a.pgm"));
#endif
}

// --- PNG -------------------------------------------------------------------------------------

TEST_F(IoTest, Png8BitGreyWithPhys) {
  PngSpec s;
  s.width = 3;
  s.height = 2;
  s.data = {0, 1, 2, 255, 128, 7};
  s.ppm = 2000;  // 0.5 mm pixels
  write_test_png(path("a.png"), s);
  const RawImage img = read_image(path("a.png"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.ndim, 2);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 1}));
  EXPECT_DOUBLE_EQ(img.geom.spacing[0], 0.5);
  EXPECT_DOUBLE_EQ(img.geom.spacing[1], 0.5);
  EXPECT_DOUBLE_EQ(img.geom.spacing[2], 1.0);
  EXPECT_EQ(img.geom.spacing_unit, "mm");
  EXPECT_EQ(img.geom.format, "png");
  EXPECT_TRUE(img.geom.nifti_header.empty());
  EXPECT_EQ(img.bytes, s.data);
}

TEST_F(IoTest, Png16BitGreyIsNativeUint16) {
  PngSpec s;
  s.width = 2;
  s.height = 2;
  s.depth = 16;
  s.data = be16({0, 1000, 65535, 256});
  write_test_png(path("a16.png"), s);
  const RawImage img = read_image(path("a16.png"));
  EXPECT_EQ(img.type, PixelType::kU16);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(values_of<uint16_t>(img), (std::vector<uint16_t>{0, 1000, 65535, 256}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{1, 1, 1}));
  EXPECT_EQ(img.geom.spacing_unit, "");
}

TEST_F(IoTest, PngSubByteGreyIsUnpackedNotScaled) {
  PngSpec s;
  s.width = 10;
  s.height = 2;
  s.depth = 1;
  s.data = {0b10110000, 0b01000000, 0b00000001, 0b11000000};  // 2 bytes per row
  write_test_png(path("b1.png"), s);
  const RawImage img = read_image(path("b1.png"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{10, 2, 1}));
  EXPECT_EQ(img.bytes, (std::vector<uint8_t>{1, 0, 1, 1, 0, 0, 0, 0, 0, 1,  //
                                             0, 0, 0, 0, 0, 0, 0, 1, 1, 1}));

  s.width = 3;
  s.height = 1;
  s.depth = 4;
  s.data = {0x0f, 0x70};
  write_test_png(path("b4.png"), s);
  EXPECT_EQ(read_image(path("b4.png")).bytes, (std::vector<uint8_t>{0, 15, 7}));
}

TEST_F(IoTest, PngPaletteGivesIndicesNotColours) {
  PngSpec s;
  s.width = 3;
  s.height = 2;
  s.color = PNG_COLOR_TYPE_PALETTE;
  s.palette = {{200, 10, 10}, {10, 200, 10}, {10, 10, 200}, {255, 255, 255}};
  s.trns = {0, 255, 128};  // must not turn into an alpha channel
  s.data = {0, 1, 2, 3, 1, 0};
  write_test_png(path("p8.png"), s);
  const RawImage img = read_image(path("p8.png"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.bytes, s.data);

  s.depth = 2;  // 3 indices of 2 bits in one byte per row
  s.data = {0b00011000, 0b11010000};
  write_test_png(path("p2.png"), s);
  const RawImage img2 = read_image(path("p2.png"));
  EXPECT_EQ(img2.channels, 1);
  EXPECT_EQ(img2.bytes, (std::vector<uint8_t>{0, 1, 2, 3, 1, 0}));
}

TEST_F(IoTest, PngColourAndAlphaReportChannels) {
  PngSpec s;
  s.width = 2;
  s.height = 1;
  s.color = PNG_COLOR_TYPE_RGB;
  s.data = {1, 2, 3, 4, 5, 6};
  write_test_png(path("rgb.png"), s);
  RawImage img = read_image(path("rgb.png"));
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.bytes, s.data);

  s.color = PNG_COLOR_TYPE_RGB_ALPHA;
  s.data = {1, 2, 3, 4, 5, 6, 7, 8};
  write_test_png(path("rgba.png"), s);
  img = read_image(path("rgba.png"));
  EXPECT_EQ(img.channels, 4);
  EXPECT_EQ(img.bytes, s.data);

  s.color = PNG_COLOR_TYPE_GRAY_ALPHA;
  s.depth = 16;
  s.data = be16({1000, 65535, 2, 0});
  write_test_png(path("ga16.png"), s);
  img = read_image(path("ga16.png"));
  EXPECT_EQ(img.channels, 2);
  EXPECT_EQ(img.type, PixelType::kU16);
  EXPECT_EQ(values_of<uint16_t>(img), (std::vector<uint16_t>{1000, 65535, 2, 0}));
}

TEST_F(IoTest, PngInterlaced) {
  PngSpec s;
  s.width = 9;
  s.height = 7;
  s.interlace = true;
  for (int i = 0; i < 63; ++i) s.data.push_back(static_cast<uint8_t>(i * 3));
  write_test_png(path("i.png"), s);
  EXPECT_EQ(read_image(path("i.png")).bytes, s.data);
}

TEST_F(IoTest, PngErrors) {
  EXPECT_TRUE(contains(input_error(path("missing.png")), "cannot open: No such file"));

  write_bytes(path("empty.png"), {});
  EXPECT_TRUE(contains(input_error(path("empty.png")), "empty file"));

  write_bytes(path("garbage.png"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  EXPECT_TRUE(contains(input_error(path("garbage.png")), "not a PNG file"));

  write_test_png(path("whole.png"), noise_png());
  std::vector<uint8_t> b = read_bytes(path("whole.png"));
  ASSERT_GT(b.size(), 2000u);
  write_bytes(path("cut.png"), std::vector<uint8_t>(b.begin(), b.begin() + b.size() / 2));
  EXPECT_TRUE(contains(input_error(path("cut.png")), "truncated PNG data"));

  b[b.size() / 2] ^= 0x55;  // inside IDAT: the chunk CRC no longer matches
  write_bytes(path("crc.png"), b);
  EXPECT_TRUE(contains(input_error(path("crc.png")), "corrupt PNG"));

  // PNG content under another name, and an unknown extension.
  write_test_png(path("png.nii"), noise_png());
  EXPECT_TRUE(
      contains(input_error(path("png.nii")), "not a NIfTI file (the content looks like PNG)"));
  write_test_png(path("a.txt"), noise_png());
  EXPECT_TRUE(contains(input_error(path("a.txt")), "unsupported file type"));
  fs::create_directory(path("dir.png"));
  EXPECT_TRUE(contains(input_error(path("dir.png")), "cannot"));
}

TEST_F(IoTest, WritePngGrayRoundTrips) {
  const std::vector<uint8_t> p8 = {0, 1, 2, 3, 254, 255};
  write_png_gray(path("w8.png"), p8.data(), 3, 2, 8);
  RawImage img = read_image(path("w8.png"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 1}));
  EXPECT_EQ(img.bytes, p8);

  const std::vector<uint16_t> p16 = {0, 1000, 65535, 256, 1, 40000};
  write_png_gray(path("w16.png"), p16.data(), 2, 3, 16);
  img = read_image(path("w16.png"));
  EXPECT_EQ(img.type, PixelType::kU16);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{2, 3, 1}));
  EXPECT_EQ(values_of<uint16_t>(img), p16);

  write_png_gray(path("w8.png"), p16.data(), 2, 3, 16);  // overwrites
  EXPECT_EQ(read_image(path("w8.png")).type, PixelType::kU16);
  EXPECT_FALSE(has_tmp_files());
}

TEST_F(IoTest, WritePngGrayFailuresLeaveNothing) {
  const std::vector<uint8_t> p = {1, 2, 3, 4};
  EXPECT_THROW(write_png_gray(path("bad.png"), p.data(), 2, 2, 4), std::runtime_error);
  try {
    write_png_gray(path("no/such/dir/x.png"), p.data(), 2, 2, 8);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "no/such/dir/x.png"));
  }
  EXPECT_FALSE(fs::exists(path("bad.png")));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(IoTest, WriteFileAtomic) {
  write_file_atomic(path("r.json"), "{\"a\": 1}\n");
  write_file_atomic(path("r.json"), "{}\n");
  const std::vector<uint8_t> b = read_bytes(path("r.json"));
  EXPECT_EQ(std::string(b.begin(), b.end()), "{}\n");
  EXPECT_THROW(write_file_atomic(path("none/r.json"), "x"), std::runtime_error);
  EXPECT_FALSE(has_tmp_files());
}

// --- TIFF ------------------------------------------------------------------------------------

#ifdef MASKEVAL_HAVE_TIFF

struct TiffSpec {
  uint32_t width = 1, height = 1;
  uint16_t bits = 8, spp = 1, format = SAMPLEFORMAT_UINT, photometric = PHOTOMETRIC_MINISBLACK;
  uint16_t planar = PLANARCONFIG_CONTIG;
  std::vector<uint8_t> data;       // packed rows in native byte order (for separate planes: planes)
  uint32_t tile = 0;               // tile width and height; 0 writes strips of one row
  std::vector<uint16_t> colormap;  // red, green, blue tables of 2^bits entries each
  float resolution = 0;
  uint16_t res_unit = RESUNIT_INCH;
  uint16_t compression = COMPRESSION_NONE;
};

void write_test_tiff(const std::string& path, const TiffSpec& s) {
  TIFF* t = TIFFOpen(path.c_str(), "w");
  ASSERT_NE(t, nullptr);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, s.width);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, s.height);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, s.bits);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, s.spp);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, s.format);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, s.photometric);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, s.planar);
  TIFFSetField(t, TIFFTAG_COMPRESSION, s.compression);
  if (!s.colormap.empty()) {
    const size_t n = s.colormap.size() / 3;
    TIFFSetField(t, TIFFTAG_COLORMAP, s.colormap.data(), s.colormap.data() + n,
                 s.colormap.data() + 2 * n);
  }
  if (s.resolution > 0) {
    TIFFSetField(t, TIFFTAG_XRESOLUTION, s.resolution);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, s.resolution);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, s.res_unit);
  }
  const bool separate = s.planar == PLANARCONFIG_SEPARATE;
  const uint32_t samples_per_row = s.width * (separate ? 1 : s.spp);
  const size_t row_bytes = (static_cast<size_t>(samples_per_row) * s.bits + 7) / 8;
  if (s.tile) {  // whole-byte samples only
    TIFFSetField(t, TIFFTAG_TILEWIDTH, s.tile);
    TIFFSetField(t, TIFFTAG_TILELENGTH, s.tile);
    const size_t pixel = s.spp * s.bits / 8;
    std::vector<uint8_t> tile(static_cast<size_t>(TIFFTileSize(t)));
    for (uint32_t y0 = 0; y0 < s.height; y0 += s.tile) {
      for (uint32_t x0 = 0; x0 < s.width; x0 += s.tile) {
        std::fill(tile.begin(), tile.end(), 0xee);
        for (uint32_t y = y0; y < std::min(s.height, y0 + s.tile); ++y) {
          for (uint32_t x = x0; x < std::min(s.width, x0 + s.tile); ++x) {
            std::memcpy(&tile[((y - y0) * s.tile + (x - x0)) * pixel],
                        &s.data[y * row_bytes + x * pixel], pixel);
          }
        }
        ASSERT_GE(TIFFWriteTile(t, tile.data(), x0, y0, 0, 0), 0);
      }
    }
  } else {
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 1);
    std::vector<uint8_t> row(row_bytes);
    for (uint16_t plane = 0; plane < (separate ? s.spp : 1); ++plane) {
      for (uint32_t y = 0; y < s.height; ++y) {
        std::memcpy(row.data(), &s.data[(plane * s.height + y) * row_bytes], row_bytes);
        ASSERT_EQ(TIFFWriteScanline(t, row.data(), y, plane), 1);
      }
    }
  }
  TIFFClose(t);
}

TEST_F(IoTest, Tiff8BitStripsWithResolution) {
  TiffSpec s;
  s.width = 3;
  s.height = 4;
  s.data = {0, 1, 2, 3, 4, 5, 6, 7, 8, 250, 251, 255};
  s.resolution = 254;  // dpi -> 0.1 mm
  write_test_tiff(path("a.tif"), s);
  const RawImage img = read_image(path("a.tif"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.ndim, 2);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 4, 1}));
  EXPECT_NEAR(img.geom.spacing[0], 0.1, 1e-9);
  EXPECT_NEAR(img.geom.spacing[1], 0.1, 1e-9);
  EXPECT_EQ(img.geom.spacing_unit, "mm");
  EXPECT_EQ(img.geom.format, "tiff");
  EXPECT_EQ(img.bytes, s.data);
}

TEST_F(IoTest, Tiff16BitAndSignedAndFloat) {
  TiffSpec s;
  s.width = 2;
  s.height = 2;
  s.bits = 16;
  s.data = bytes_of(std::vector<uint16_t>{0, 1000, 65535, 7});
  s.resolution = 100;  // per cm -> 0.1 mm
  s.res_unit = RESUNIT_CENTIMETER;
  s.compression = COMPRESSION_LZW;
  write_test_tiff(path("u16.tiff"), s);
  RawImage img = read_image(path("u16.tiff"));
  EXPECT_EQ(img.type, PixelType::kU16);
  EXPECT_EQ(values_of<uint16_t>(img), (std::vector<uint16_t>{0, 1000, 65535, 7}));
  EXPECT_NEAR(img.geom.spacing[0], 0.1, 1e-9);

  s.format = SAMPLEFORMAT_INT;
  s.data = bytes_of(std::vector<int16_t>{-5, 0, 300, -32768});
  s.resolution = 0;
  write_test_tiff(path("i16.tif"), s);
  img = read_image(path("i16.tif"));
  EXPECT_EQ(img.type, PixelType::kI16);
  EXPECT_EQ(values_of<int16_t>(img), (std::vector<int16_t>{-5, 0, 300, -32768}));
  EXPECT_EQ(img.geom.spacing_unit, "");

  s.bits = 32;
  s.format = SAMPLEFORMAT_IEEEFP;
  s.data = bytes_of(std::vector<float>{0.5f, 1.0f, -2.0f, 0.0f});
  write_test_tiff(path("f32.tif"), s);
  img = read_image(path("f32.tif"));
  EXPECT_EQ(img.type, PixelType::kF32);
  EXPECT_EQ(values_of<float>(img), (std::vector<float>{0.5f, 1.0f, -2.0f, 0.0f}));
}

TEST_F(IoTest, TiffPaletteGivesIndices) {
  TiffSpec s;
  s.width = 4;
  s.height = 1;
  s.photometric = PHOTOMETRIC_PALETTE;
  s.colormap.assign(3 * 256, 0);
  for (int i = 0; i < 256; ++i) s.colormap[i] = static_cast<uint16_t>(65535 - i * 200);
  s.data = {0, 3, 2, 200};
  write_test_tiff(path("pal.tif"), s);
  const RawImage img = read_image(path("pal.tif"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.bytes, s.data);
}

TEST_F(IoTest, Tiff1BitValuesAsStored) {
  TiffSpec s;
  s.width = 10;
  s.height = 2;
  s.bits = 1;
  s.photometric = PHOTOMETRIC_MINISWHITE;
  s.data = {0b10110000, 0b01000000, 0b00000001, 0b11000000};
  write_test_tiff(path("b1.tif"), s);
  const RawImage img = read_image(path("b1.tif"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.bytes, (std::vector<uint8_t>{1, 0, 1, 1, 0, 0, 0, 0, 0, 1,  //
                                             0, 0, 0, 0, 0, 0, 0, 1, 1, 1}));
}

TEST_F(IoTest, TiffTiledAndRgb) {
  TiffSpec s;
  s.width = 40;
  s.height = 20;
  s.tile = 16;  // partial tiles on the right and bottom edges
  for (uint32_t i = 0; i < s.width * s.height; ++i) s.data.push_back(static_cast<uint8_t>(i * 7));
  write_test_tiff(path("tiled.tif"), s);
  RawImage img = read_image(path("tiled.tif"));
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{40, 20, 1}));
  EXPECT_EQ(img.bytes, s.data);

  s.spp = 3;
  s.photometric = PHOTOMETRIC_RGB;
  s.data.clear();
  for (uint32_t i = 0; i < 3 * s.width * s.height; ++i) s.data.push_back(static_cast<uint8_t>(i));
  write_test_tiff(path("rgb_tiled.tif"), s);
  img = read_image(path("rgb_tiled.tif"));
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.bytes, s.data);
}

TEST_F(IoTest, TiffErrors) {
  TiffSpec s;
  s.width = 2;
  s.height = 1;
  s.spp = 3;
  s.photometric = PHOTOMETRIC_RGB;
  s.planar = PLANARCONFIG_SEPARATE;
  s.data = {1, 2, 3, 4, 5, 6};
  write_test_tiff(path("planes.tif"), s);
  EXPECT_TRUE(contains(input_error(path("planes.tif")), "separate sample planes"));

  write_bytes(path("garbage.tif"), {'I', 'I', 'x', 'y', 1, 2, 3});
  EXPECT_TRUE(contains(input_error(path("garbage.tif")), "not a TIFF file"));

  TiffSpec big;
  big.width = big.height = 64;
  big.data.assign(64 * 64, 9);
  write_test_tiff(path("big.tif"), big);
  const std::vector<uint8_t> b = read_bytes(path("big.tif"));
  write_bytes(path("cut.tif"), std::vector<uint8_t>(b.begin(), b.begin() + b.size() / 2));
  EXPECT_TRUE(contains(input_error(path("cut.tif")), "TIFF"));
}

#else  // !MASKEVAL_HAVE_TIFF

TEST_F(IoTest, TiffNotBuilt) {
  write_bytes(path("a.tif"), {'I', 'I', 42, 0, 8, 0, 0, 0});
  EXPECT_TRUE(contains(input_error(path("a.tif")), "TIFF support not built"));
}

#endif

// --- OpenCV formats --------------------------------------------------------------------------

TEST_F(IoTest, PgmThroughOpenCv) {
  std::vector<uint8_t> pgm = {'P', '5', '\n', '3', ' ', '2', '\n', '2', '5', '5', '\n'};
  for (uint8_t v : {0, 1, 2, 255, 3, 0}) pgm.push_back(v);
  write_bytes(path("a.pgm"), pgm);
#ifdef MASKEVAL_HAVE_OPENCV
  const RawImage img = read_image(path("a.pgm"));
  EXPECT_EQ(img.geom.format, "opencv");
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 1}));
  EXPECT_EQ(img.bytes, (std::vector<uint8_t>{0, 1, 2, 255, 3, 0}));

  std::vector<uint8_t> pgm16 = {'P', '5', ' ', '2', ' ', '1', ' ', '6', '5', '5', '3', '5', '\n'};
  for (uint8_t v : be16({1000, 65535})) pgm16.push_back(v);
  write_bytes(path("b.pgm"), pgm16);
  const RawImage img16 = read_image(path("b.pgm"));
  EXPECT_EQ(img16.type, PixelType::kU16);
  EXPECT_EQ(values_of<uint16_t>(img16), (std::vector<uint16_t>{1000, 65535}));
#else
  EXPECT_TRUE(contains(input_error(path("a.pgm")), "built without OpenCV"));
#endif
}

// --- NIfTI fixtures --------------------------------------------------------------------------

struct NiftiSpec {
  int version = 1;
  bool big_endian = false;
  std::vector<int64_t> dim{3, 4, 3, 2};  // dim[0], dim[1], ...
  int datatype = 2, bitpix = 8;
  std::vector<double> pixdim{1.0, 0.7, 0.7, 5.0};
  int xyzt_units = 2;  // mm
  double scl_slope = 0, scl_inter = 0;
  int64_t vox_offset = 0;  // 0: directly after the header and the extension flag
  std::string magic;       // empty: "n+1" / "n+2"
  int qform_code = 0, sform_code = 0;
  std::vector<double> quatern;  // b, c, d, qoffset x, y, z
  std::vector<double> srow;     // 12 values
  std::vector<uint8_t> extension;
};

// Field writer in the chosen byte order.
struct Fields {
  std::vector<uint8_t>& b;
  bool big_endian;
  template <typename T>
  void put(size_t off, T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    if (big_endian != host_big_endian()) std::reverse(tmp, tmp + sizeof(T));
    std::memcpy(&b[off], tmp, sizeof(T));
  }
  template <typename T>
  void put_all(size_t off, const std::vector<double>& v) {
    for (size_t i = 0; i < v.size(); ++i) put<T>(off + i * sizeof(T), static_cast<T>(v[i]));
  }
};

// A whole .nii file: header, extension flag (and extension), data in the header's byte order.
std::vector<uint8_t> nifti_file(const NiftiSpec& s, const std::vector<uint8_t>& native_data,
                                int elem_size) {
  const bool v1 = s.version == 1;
  const size_t hdr = v1 ? 348 : 540;
  const int64_t offset = s.vox_offset ? s.vox_offset : hdr + 4 + s.extension.size();
  std::vector<uint8_t> b(static_cast<size_t>(offset), 0);
  Fields f{b, s.big_endian};
  f.put<int32_t>(0, static_cast<int32_t>(hdr));
  std::vector<double> dims(s.dim.begin(), s.dim.end());
  dims.resize(8, 1.0);
  std::vector<double> pixdim = s.pixdim;
  pixdim.resize(8, 1.0);
  const char* descrip = "maskeval test";
  if (v1) {
    f.put_all<int16_t>(40, dims);
    f.put<int16_t>(70, static_cast<int16_t>(s.datatype));
    f.put<int16_t>(72, static_cast<int16_t>(s.bitpix));
    f.put_all<float>(76, pixdim);
    f.put<float>(108, static_cast<float>(offset));
    f.put<float>(112, static_cast<float>(s.scl_slope));
    f.put<float>(116, static_cast<float>(s.scl_inter));
    b[123] = static_cast<uint8_t>(s.xyzt_units);
    std::memcpy(&b[148], descrip, std::strlen(descrip));
    f.put<int16_t>(252, static_cast<int16_t>(s.qform_code));
    f.put<int16_t>(254, static_cast<int16_t>(s.sform_code));
    f.put_all<float>(256, s.quatern);
    f.put_all<float>(280, s.srow);
    std::memcpy(&b[344], s.magic.empty() ? "n+1\0" : s.magic.c_str(), 4);
  } else {
    std::memcpy(&b[4], s.magic.empty() ? "n+2\0\r\n\032\n" : s.magic.c_str(), 8);
    f.put<int16_t>(12, static_cast<int16_t>(s.datatype));
    f.put<int16_t>(14, static_cast<int16_t>(s.bitpix));
    f.put_all<int64_t>(16, dims);
    f.put_all<double>(104, pixdim);
    f.put<int64_t>(168, offset);
    f.put<double>(176, s.scl_slope);
    f.put<double>(184, s.scl_inter);
    std::memcpy(&b[240], descrip, std::strlen(descrip));
    f.put<int32_t>(344, s.qform_code);
    f.put<int32_t>(348, s.sform_code);
    f.put_all<double>(352, s.quatern);
    f.put_all<double>(400, s.srow);
    f.put<int32_t>(500, s.xyzt_units);
  }
  if (!s.extension.empty()) {
    b[hdr] = 1;
    std::copy(s.extension.begin(), s.extension.end(), b.begin() + hdr + 4);
  }
  const std::vector<uint8_t> data =
      s.big_endian != host_big_endian() ? swapped(native_data, elem_size) : native_data;
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

template <typename T>
void write_nifti_fixture(const std::string& path, const NiftiSpec& s, const std::vector<T>& v,
                         int members = 1) {
  const std::vector<uint8_t> file = nifti_file(s, bytes_of(v), sizeof(T));
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    write_gz(path, file, members);
  } else {
    write_bytes(path, file);
  }
}

std::vector<uint8_t> iota_bytes(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 5 + 1);
  return v;
}

// --- NIfTI reading ---------------------------------------------------------------------------

TEST_F(IoTest, NiftiUint8Volume) {
  const std::vector<uint8_t> v = iota_bytes(24);
  write_nifti_fixture(path("u8.nii"), NiftiSpec{}, v);
  const RawImage img = read_image(path("u8.nii"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.ndim, 3);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{4, 3, 2}));
  EXPECT_DOUBLE_EQ(img.geom.spacing[0], double{0.7f});
  EXPECT_DOUBLE_EQ(img.geom.spacing[1], double{0.7f});
  EXPECT_DOUBLE_EQ(img.geom.spacing[2], 5.0);
  EXPECT_EQ(img.geom.spacing_unit, "mm");
  EXPECT_EQ(img.geom.format, "nifti");
  EXPECT_EQ(img.bytes, v);
  const std::vector<uint8_t> file = read_bytes(path("u8.nii"));
  EXPECT_EQ(img.geom.nifti_header, std::vector<uint8_t>(file.begin(), file.begin() + 348));
}

TEST_F(IoTest, NiftiInt16Gzipped) {
  NiftiSpec s;
  s.datatype = 4;
  s.bitpix = 16;
  const std::vector<int16_t> v = {-1024, 0, 1, 2, 3000, -5, 7, 8, 9, 10, 11, 32767,
                                  0,     0, 0, 0, 1,    1,  1, 1, 2, 2,  2,  -32768};
  write_nifti_fixture(path("i16.nii.gz"), s, v);
  const RawImage img = read_image(path("i16.nii.gz"));
  EXPECT_EQ(img.type, PixelType::kI16);
  EXPECT_EQ(values_of<int16_t>(img), v);
  EXPECT_EQ(img.geom.nifti_header.size(), 348u);
}

TEST_F(IoTest, NiftiFloat64ZeroOneLikeKits) {
  NiftiSpec s;
  s.datatype = 64;
  s.bitpix = 64;
  s.dim = {3, 5, 4, 3};
  s.pixdim = {1.0, 5.0, 0.822265625, 0.822265625};
  s.xyzt_units = 0;
  s.scl_slope = 1.0;  // identity scaling is accepted
  s.sform_code = 2;
  s.srow = {-5, 0, 0, 10, 0, 0.82, 0, -20, 0, 0, 0.82, 30};
  std::vector<double> v(60, 0.0);
  for (int i : {7, 8, 9, 30, 31, 59}) v[i] = 1.0;
  write_nifti_fixture(path("kits.nii.gz"), s, v);
  const RawImage img = read_image(path("kits.nii.gz"));
  EXPECT_EQ(img.type, PixelType::kF64);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{5, 4, 3}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{5.0, 0.822265625, 0.822265625}));
  EXPECT_EQ(img.geom.spacing_unit, "");
  EXPECT_EQ(values_of<double>(img), v);
}

// read_image_values may leave a .nii.gz's values behind its header; to_labels reads them there
// to the same labels, and read_image never leaves an offset. `n` values per file (small ones,
// and large ones whose buffers come from the block cache).
void expect_values_in_place(const fs::path& dir, int64_t n) {
  auto path = [&](const char* name) { return (dir / name).string(); };
  NiftiSpec be;
  be.big_endian = true;
  be.datatype = 4;
  be.bitpix = 16;
  be.dim =
      n >= 1024 ? std::vector<int64_t>{3, 1024, n / 1024, 1} : std::vector<int64_t>{3, n, 1, 1};
  std::vector<int16_t> i16(n);
  for (int64_t i = 0; i < n; ++i) i16[i] = static_cast<int16_t>(i % 5 == 0 ? 300 + i % 24 : i % 3);
  write_nifti_fixture(path("be.nii.gz"), be, i16);
  NiftiSpec f64;
  f64.datatype = 64;
  f64.bitpix = 64;
  f64.dim = be.dim;
  std::vector<double> d(n, 0.0);
  for (int64_t i = 1; i < n; i += 4) d[i] = 2.0;
  write_nifti_fixture(path("f64.nii.gz"), f64, d);
  NiftiSpec u8;
  u8.extension = {16, 0, 0, 0, 6, 0, 0, 0, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
  u8.vox_offset = 352 + 16 + 16;  // a longer offset, with padding
  u8.dim = be.dim;
  std::vector<uint8_t> b(n);
  for (int64_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i % 4);
  write_nifti_fixture(path("u8.nii.gz"), u8, b);
  NiftiSpec odd = f64;  // values 3 bytes past a multiple of 8: never read misaligned
  odd.vox_offset = 355;
  write_nifti_fixture(path("odd.nii.gz"), odd, d);
  for (const char* name : {"be.nii.gz", "f64.nii.gz", "u8.nii.gz", "odd.nii.gz"}) {
    SCOPED_TRACE(testing::Message() << name << ", " << n << " values");
    const RawImage whole = read_image(path(name));
    EXPECT_EQ(whole.offset, 0u);
    RawImage values = read_image_values(path(name));
    EXPECT_EQ(values.bytes.size() - values.offset, whole.bytes.size());
    EXPECT_TRUE(std::equal(whole.bytes.begin(), whole.bytes.end(),
                           values.bytes.begin() + static_cast<int64_t>(values.offset),
                           values.bytes.end()));
#ifdef MASKEVAL_HAVE_LIBDEFLATE
    const std::string f = name;
    const size_t expected = f == "u8.nii.gz" ? 384u : (f == "odd.nii.gz" ? 0u : 352u);
    EXPECT_EQ(values.offset, expected);
#endif
    const LabelImage a = to_labels(whole, ForegroundRule{});
    const LabelImage c = to_labels(values, ForegroundRule{});  // read in place
    const LabelImage m = to_labels(std::move(values), ForegroundRule{});
    for (const LabelImage* l : {&c, &m}) {
      EXPECT_EQ(l->label_bytes, a.label_bytes);
      EXPECT_EQ(l->max_label, a.max_label);
      EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), l->data.begin(), l->data.end()));
    }
  }
}

TEST_F(IoTest, NiftiValuesInPlaceGiveTheSameLabels) {
  expect_values_in_place(dir_, int64_t{1} << 21);
  expect_values_in_place(dir_, 24);  // the files the checks below read
  EXPECT_EQ(to_labels(read_image(path("be.nii.gz")), ForegroundRule{}).max_label, 320);
  // A value over --max-label found while the values are moved down: named as it was read.
  for (int pass = 0; pass < 2; ++pass) {
    RawImage raw = pass ? read_image(path("u8.nii.gz")) : read_image_values(path("u8.nii.gz"));
    try {
      to_labels(std::move(raw), ForegroundRule{}, 2);
      ADD_FAILURE() << "label 3 over the limit 2 accepted";
    } catch (const InputError& e) {
      EXPECT_TRUE(contains(e.what(), "label value 3 out of range 0..2")) << e.what();
    }
  }
}

TEST_F(IoTest, NiftiFloat32Image2D) {
  NiftiSpec s;
  s.datatype = 16;
  s.bitpix = 32;
  s.dim = {2, 3, 2};
  s.pixdim = {1.0, -0.5, 0.0, 9.0};  // negative -> absolute, zero -> 1
  s.xyzt_units = 3 | 8;              // micrometres, seconds
  const std::vector<float> v = {0.f, 0.25f, 1.f, -3.5f, 1e6f, 2.f};
  write_nifti_fixture(path("f32.nii"), s, v);
  const RawImage img = read_image(path("f32.nii"));
  EXPECT_EQ(img.type, PixelType::kF32);
  EXPECT_EQ(img.geom.ndim, 2);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 1}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{0.5, 1.0, 1.0}));
  EXPECT_EQ(img.geom.spacing_unit, "um");
  EXPECT_EQ(values_of<float>(img), v);
}

TEST_F(IoTest, NiftiBigEndian) {
  NiftiSpec s;
  s.big_endian = true;
  s.datatype = 4;
  s.bitpix = 16;
  s.dim = {3, 2, 2, 1};
  const std::vector<int16_t> v = {1, -2, 300, -32768};
  write_nifti_fixture(path("be.nii"), s, v);
  const RawImage img = read_image(path("be.nii"));
  EXPECT_EQ(img.type, PixelType::kI16);
  EXPECT_EQ(values_of<int16_t>(img), v);
  EXPECT_DOUBLE_EQ(img.geom.spacing[2], 5.0);
  ASSERT_EQ(img.geom.nifti_header.size(), 348u);
  EXPECT_EQ(img.geom.nifti_header[3], 0x5c);  // sizeof_hdr kept big-endian: 00 00 01 5c
}

TEST_F(IoTest, Nifti2BothByteOrders) {
  for (bool be : {false, true}) {
    NiftiSpec s;
    s.version = 2;
    s.big_endian = be;
    s.datatype = 8;
    s.bitpix = 32;
    s.dim = {3, 2, 3, 2};
    const std::vector<int32_t> v = {0, 1, 2, 3, -4, 100000, 6, 7, 8, 9, 10, -2000000000};
    const std::string p = path(be ? "be2.nii.gz" : "le2.nii");
    write_nifti_fixture(p, s, v);
    const RawImage img = read_image(p);
    EXPECT_EQ(img.type, PixelType::kI32);
    EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{2, 3, 2}));
    EXPECT_DOUBLE_EQ(img.geom.spacing[0], 0.7);  // double precision in NIfTI-2
    EXPECT_EQ(img.geom.spacing_unit, "mm");
    EXPECT_EQ(values_of<int32_t>(img), v);
    EXPECT_EQ(img.geom.nifti_header.size(), 540u);
  }
}

TEST_F(IoTest, NiftiAllIntegerTypes) {
  struct Case {
    int code, bits;
    PixelType type;
  };
  for (const Case& c : {Case{256, 8, PixelType::kI8}, Case{512, 16, PixelType::kU16},
                        Case{768, 32, PixelType::kU32}, Case{1024, 64, PixelType::kI64},
                        Case{1280, 64, PixelType::kU64}}) {
    NiftiSpec s;
    s.datatype = c.code;
    s.bitpix = c.bits;
    s.big_endian = true;
    s.dim = {3, 2, 1, 2};
    const int size = c.bits / 8;
    const std::vector<uint8_t> v = iota_bytes(4 * size);
    const std::string p = path("t" + std::to_string(c.code) + ".nii");
    write_bytes(p, nifti_file(s, v, size));
    const RawImage img = read_image(p);
    EXPECT_EQ(img.type, c.type) << c.code;
    EXPECT_EQ(img.bytes, v) << c.code;
  }
}

TEST_F(IoTest, NiftiSingleTimePointExtensionsAndMultiMemberGzip) {
  NiftiSpec s;
  s.dim = {4, 2, 2, 2, 1};
  s.extension = {16, 0, 0, 0, 6, 0, 0, 0, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
  s.vox_offset = 352 + 16 + 16;  // 16 bytes of padding after the extension
  const std::vector<uint8_t> v = iota_bytes(8);
  write_nifti_fixture(path("ext.nii.gz"), s, v, 3);
  const RawImage img = read_image(path("ext.nii.gz"));
  EXPECT_EQ(img.geom.ndim, 3);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{2, 2, 2}));
  EXPECT_EQ(img.bytes, v);

  // Misnamed: gzip content in a .nii file, plain content in a .nii.gz file.
  write_nifti_fixture(path("gz_content.nii.gz"), s, v);
  fs::rename(path("gz_content.nii.gz"), path("gz_content.nii"));
  EXPECT_EQ(read_image(path("gz_content.nii")).bytes, v);
  write_nifti_fixture(path("plain.nii"), s, v);
  fs::rename(path("plain.nii"), path("plain.nii.gz"));
  EXPECT_EQ(read_image(path("plain.nii.gz")).bytes, v);
}

TEST_F(IoTest, NiftiErrors) {
  const std::vector<uint8_t> v = iota_bytes(24);
  NiftiSpec s;

  s.datatype = 128;
  s.bitpix = 24;
  write_bytes(path("rgb.nii"), nifti_file(s, iota_bytes(72), 1));
  EXPECT_TRUE(contains(input_error(path("rgb.nii")), "unsupported NIfTI datatype 128 (RGB)"));

  s = NiftiSpec{};
  s.dim = {4, 2, 2, 3, 2};
  write_nifti_fixture(path("4d.nii"), s, v);
  EXPECT_TRUE(contains(input_error(path("4d.nii")),
                       "4D volumes with more than one time point are not supported"));

  s = NiftiSpec{};
  s.scl_slope = 2.0;
  write_nifti_fixture(path("scaled.nii"), s, v);
  EXPECT_TRUE(contains(input_error(path("scaled.nii")), "scl_slope"));
  s.scl_slope = 1.0;
  s.scl_inter = -1024;
  write_nifti_fixture(path("offset.nii"), s, v);
  EXPECT_TRUE(contains(input_error(path("offset.nii")), "scl_inter"));

  s = NiftiSpec{};
  s.magic = "ni1";
  write_nifti_fixture(path("pair.nii"), s, v);
  EXPECT_TRUE(contains(input_error(path("pair.nii")), ".hdr/.img"));
  s.magic = "xyz";
  write_nifti_fixture(path("magic.nii"), s, v);
  EXPECT_TRUE(contains(input_error(path("magic.nii")), "bad magic"));

  s = NiftiSpec{};
  s.dim = {3, 4, -3, 2};
  write_nifti_fixture(path("neg.nii"), s, v);
  EXPECT_TRUE(contains(input_error(path("neg.nii")), "invalid NIfTI dimension dim[2]=-3"));
  s.dim = {1, 24};
  write_nifti_fixture(path("1d.nii"), s, v);
  EXPECT_TRUE(contains(input_error(path("1d.nii")), "dim[0]=1"));

  s = NiftiSpec{};
  s.version = 2;
  s.dim = {3, 1 << 20, 1 << 20, 1 << 20};
  write_nifti_fixture(path("huge.nii"), s, v);
  EXPECT_TRUE(
      contains(input_error(path("huge.nii")), "is over the limit of 1073741824 (--max-voxels)"));
  s.dim = {3, 2000, 2000, 100};  // 400 MB claimed by a file of a few hundred bytes
  write_nifti_fixture(path("claims.nii.gz"), s, v);
  EXPECT_TRUE(contains(input_error(path("claims.nii.gz")), "truncated NIfTI data"));

  // Truncated: plain data, plain header, compressed stream; and a bad gzip checksum.
  std::vector<uint8_t> file = nifti_file(NiftiSpec{}, v, 1);
  write_bytes(path("short.nii"), std::vector<uint8_t>(file.begin(), file.end() - 14));
  EXPECT_TRUE(
      contains(input_error(path("short.nii")), "truncated NIfTI data: expected 24 bytes, got 10"));
  write_bytes(path("hdr.nii"), std::vector<uint8_t>(file.begin(), file.begin() + 100));
  EXPECT_TRUE(contains(input_error(path("hdr.nii")), "truncated NIfTI header"));

  std::vector<double> big(20000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i % 977);
  NiftiSpec f64;
  f64.datatype = 64;
  f64.bitpix = 64;
  f64.dim = {3, 100, 100, 2};
  write_nifti_fixture(path("whole.nii.gz"), f64, big);
  file = read_bytes(path("whole.nii.gz"));
  write_bytes(path("cut.nii.gz"),
              std::vector<uint8_t>(file.begin(), file.begin() + file.size() / 2));
  EXPECT_TRUE(contains(input_error(path("cut.nii.gz")), "truncated gzip stream"));
  file[file.size() - 6] ^= 0xff;  // CRC-32 in the gzip trailer
  write_bytes(path("crc.nii.gz"), file);
  EXPECT_TRUE(contains(input_error(path("crc.nii.gz")), "corrupt gzip stream"));

  write_bytes(path("junk.nii.gz"), {'j', 'u', 'n', 'k', 0, 0, 0, 0});
  EXPECT_TRUE(contains(input_error(path("junk.nii.gz")), "not a NIfTI file"));
  EXPECT_TRUE(contains(input_error(path("missing.nii.gz")), "cannot open"));
}

// --- NIfTI writing ---------------------------------------------------------------------------

TEST_F(IoTest, WriteNiftiFreshHeader) {
  Geometry g;
  g.ndim = 3;
  g.shape = {4, 3, 2};
  g.spacing = {0.5, 0.75, 2.0};
  g.spacing_unit = "mm";
  const std::vector<uint8_t> v = iota_bytes(24);
  write_nifti(path("fresh.nii"), g, PixelType::kU8, v.data());
  const RawImage img = read_image(path("fresh.nii"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.geom.ndim, 3);
  EXPECT_EQ(img.geom.shape, g.shape);
  EXPECT_EQ(img.geom.spacing, g.spacing);
  EXPECT_EQ(img.geom.spacing_unit, "mm");
  EXPECT_EQ(img.bytes, v);
  const std::vector<uint8_t>& h = img.geom.nifti_header;
  ASSERT_EQ(h.size(), 348u);
  int16_t qform = 0, sform = 0;
  std::memcpy(&qform, &h[252], 2);
  std::memcpy(&sform, &h[254], 2);
  EXPECT_EQ(qform, 1);
  EXPECT_EQ(sform, 0);
  EXPECT_EQ(std::memcmp(&h[344], "n+1\0", 4), 0);
  EXPECT_EQ(read_bytes(path("fresh.nii")).size(), 352u + 24u);

  Geometry g2;
  g2.shape = {3, 2, 1};
  g2.spacing_unit = "um";
  const std::vector<float> f = {0.f, 0.5f, 1.f, 0.25f, 0.75f, 1e-3f};
  write_nifti(path("fresh2d.nii.gz"), g2, PixelType::kF32, f.data());
  const RawImage img2 = read_image(path("fresh2d.nii.gz"));
  EXPECT_EQ(img2.type, PixelType::kF32);
  EXPECT_EQ(img2.geom.ndim, 2);
  EXPECT_EQ(img2.geom.spacing_unit, "um");
  EXPECT_EQ(values_of<float>(img2), f);
  EXPECT_EQ(gunzip(path("fresh2d.nii.gz")).size(), 352u + 24u);

  const std::vector<uint16_t> u = {0, 1, 1000, 65535, 2, 3};
  write_nifti(path("u16.nii"), g2, PixelType::kU16, u.data());
  EXPECT_EQ(values_of<uint16_t>(read_image(path("u16.nii"))), u);
  EXPECT_FALSE(has_tmp_files());
}

// The members of a gzip file that zlib inflates one after another, and whether it ends clean.
int gzip_members(const std::vector<uint8_t>& file, bool& clean) {
  int members = 0;
  size_t at = 0;
  clean = true;
  std::vector<uint8_t> sink(1 << 16);
  while (at < file.size()) {
    z_stream z{};
    inflateInit2(&z, 15 + 16);
    z.next_in = const_cast<uint8_t*>(file.data() + at);
    z.avail_in = static_cast<uInt>(file.size() - at);
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = sink.data();
      z.avail_out = static_cast<uInt>(sink.size());
      rc = inflate(&z, Z_NO_FLUSH);
    }
    at += z.total_in;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) return clean = false, members;
    ++members;
  }
  return members;
}

// At every level: one gzip member (zlib at the fastest, libdeflate above it, where built), the
// same bytes back through zlib and through maskeval's reader, and smaller files at higher levels.
TEST_F(IoTest, WriteNiftiGzipAtEachLevel) {
  Geometry g;
  g.ndim = 3;
  g.shape = {64, 48, 20};
  std::vector<uint8_t> labels(64 * 48 * 20);
  std::vector<float> map(labels.size());
  uint32_t x = 12345;
  for (size_t i = 0; i < labels.size(); ++i) {
    x = x * 1103515245u + 12345u;
    labels[i] = (i / 700) % 3 == 0 ? static_cast<uint8_t>((x >> 16) % 4) : 0;
    map[i] = labels[i] * 0.25f;
  }
  std::vector<size_t> sizes;
  for (int level : {1, 2, 6, 9}) {
    SCOPED_TRACE("level " + std::to_string(level));
    write_nifti(path("l.nii.gz"), g, PixelType::kU8, labels.data(), level);
    write_nifti(path("m.nii.gz"), g, PixelType::kF32, map.data(), level);
    for (const char* name : {"l.nii.gz", "m.nii.gz"}) {
      bool clean = false;
      EXPECT_EQ(gzip_members(read_bytes(path(name)), clean), 1) << name;
      EXPECT_TRUE(clean) << name;
      EXPECT_EQ(gunzip(path(name)).size(), 352 + labels.size() * (name[0] == 'l' ? 1 : 4));
    }
    EXPECT_EQ(values_of<uint8_t>(read_image(path("l.nii.gz"))), labels);
    EXPECT_EQ(values_of<float>(read_image(path("m.nii.gz"))), map);
    const std::vector<uint8_t> head = gunzip(path("l.nii.gz"));
    EXPECT_TRUE(std::equal(labels.begin(), labels.end(), head.begin() + 352));
    sizes.push_back(read_bytes(path("m.nii.gz")).size());
  }
  EXPECT_LT(sizes.back(), sizes.front());
  EXPECT_FALSE(has_tmp_files());
}

// Header bytes that write_nifti may change: datatype, bitpix, vox_offset, scl_slope/inter,
// cal_max/min.
std::vector<uint8_t> stable_header_bytes(std::vector<uint8_t> h) {
  if (h.size() == 348) {
    for (auto [from, to] : {std::pair{70, 74}, {108, 120}, {124, 132}}) {
      std::fill(h.begin() + from, h.begin() + to, 0);
    }
  } else {
    for (auto [from, to] : {std::pair{12, 16}, {168, 208}})
      std::fill(h.begin() + from, h.begin() + to, 0);
  }
  return h;
}

TEST_F(IoTest, WriteNiftiKeepsSourceHeader) {
  for (int version : {1, 2}) {
    for (bool be : {false, true}) {
      SCOPED_TRACE("NIfTI-" + std::to_string(version) + (be ? " big-endian" : " little-endian"));
      NiftiSpec s;
      s.version = version;
      s.big_endian = be;
      s.datatype = 4;
      s.bitpix = 16;
      s.scl_slope = 1.0;
      s.qform_code = 1;
      s.quatern = {0.0, 0.0, 1.0, 12.5, -30.25, 7.0};
      s.sform_code = 2;
      s.srow = {-0.7, 0, 0, 12.5, 0, -0.7, 0, -30.25, 0, 0, 5.0, 7.0};
      s.extension = {16, 0, 0, 0, 6, 0, 0, 0, 'd', 'r', 'o', 'p', 'm', 'e', 0, 0};
      const std::vector<int16_t> src(24, 3);
      const std::string in = path("src.nii.gz");
      write_nifti_fixture(in, s, src);
      const RawImage source = read_image(in);

      const std::vector<uint16_t> v = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                       12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 65535};
      for (const auto& [name, level] :
           {std::pair{"out.nii", 1}, {"out.nii.gz", 1}, {"out.nii.gz", 6}}) {
        write_nifti(path(name), source.geom, PixelType::kU16, v.data(), level);
        const RawImage out = read_image(path(name));
        EXPECT_EQ(out.type, PixelType::kU16);
        EXPECT_EQ(values_of<uint16_t>(out), v);
        EXPECT_EQ(out.geom.shape, source.geom.shape);
        EXPECT_EQ(out.geom.spacing, source.geom.spacing);
        EXPECT_EQ(out.geom.spacing_unit, "mm");
        ASSERT_EQ(out.geom.nifti_header.size(), source.geom.nifti_header.size());
        EXPECT_EQ(stable_header_bytes(out.geom.nifti_header),
                  stable_header_bytes(source.geom.nifti_header));
        EXPECT_EQ(out.geom.nifti_header[be ? 3 : 0], version == 1 ? 0x5c : 0x1c);  // byte order
      }
      const size_t plain = read_bytes(path("out.nii")).size();
      EXPECT_EQ(plain, (version == 1 ? 352u : 544u) + 48u);  // extension dropped
    }
  }
  EXPECT_FALSE(has_tmp_files());
}

TEST_F(IoTest, WriteNiftiRejectsBadInput) {
  Geometry g;
  g.shape = {2, 2, 1};
  const std::vector<double> d(4, 1.0);
  EXPECT_THROW(write_nifti(path("f64.nii"), g, PixelType::kF64, d.data()), std::runtime_error);

  write_nifti_fixture(path("src.nii"), NiftiSpec{}, iota_bytes(24));
  Geometry other = read_image(path("src.nii")).geom;
  other.shape = {2, 2, 1};
  EXPECT_THROW(write_nifti(path("mismatch.nii"), other, PixelType::kU8, d.data()),
               std::runtime_error);
  EXPECT_THROW(write_nifti(path("no/dir/x.nii.gz"), g, PixelType::kU8, d.data()),
               std::runtime_error);
  EXPECT_FALSE(fs::exists(path("f64.nii")));
  EXPECT_FALSE(fs::exists(path("mismatch.nii")));
  EXPECT_FALSE(has_tmp_files());
}

// --- Real data (skipped when ../shared/data is absent) ---------------------------------------

const std::string kShared = MASKEVAL_SHARED_DATA;

TEST(RealData, KitsInstanceFloat64) {
  const std::string p =
      kShared + "/kits23/case_00021/instances/kidney_instance-1_annotation-1.nii.gz";
  if (!fs::exists(p)) GTEST_SKIP() << p << " not present";
  const RawImage img = read_image(p);
  EXPECT_EQ(img.type, PixelType::kF64);
  EXPECT_EQ(img.geom.ndim, 3);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{38, 512, 512}));  // slices first
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{5.0, 0.822265625, 0.822265625}));
  EXPECT_EQ(img.geom.spacing_unit, "");  // xyzt_units is 0 in these files
  EXPECT_EQ(img.geom.nifti_header.size(), 348u);
  int64_t ones = 0, others = 0;
  for (double x : values_of<double>(img)) {
    if (x == 1.0) {
      ++ones;
    } else if (x != 0.0) {
      ++others;
    }
  }
  EXPECT_EQ(ones, 48060);
  EXPECT_EQ(others, 0);
}

TEST(RealData, BuBilExpertPng) {
  const std::string p = kShared + "/bu-bil/dataset4/000092/experts/Expert1.png";
  if (!fs::exists(p)) GTEST_SKIP() << p << " not present";
  const RawImage img = read_image(p);
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{1300, 1030, 1}));
  EXPECT_EQ(std::count(img.bytes.begin(), img.bytes.end(), 0), 678);
  EXPECT_EQ(std::count(img.bytes.begin(), img.bytes.end(), 255), 1300 * 1030 - 678);
}

}  // namespace
}  // namespace maskeval
