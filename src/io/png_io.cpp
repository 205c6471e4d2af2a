// PNG through libpng: values exactly as stored (sub-8-bit grey unpacked but not scaled, palette
// images as indices, 16-bit in native byte order); greyscale and palette (label) PNG writers.
//
// libpng reports errors by longjmp. The functions that call setjmp below hold no local objects
// with destructors, so a longjmp skips nothing that needs cleaning up; everything they allocate
// lives in their callers (RAII owners), and the error text travels in a plain char buffer.
#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/formats.h"

namespace maskeval::detail {
namespace {

constexpr size_t kErrorSize = 200;

void on_error(png_structp png, png_const_charp msg) {
  auto* text = static_cast<char*>(png_get_error_ptr(png));
  std::snprintf(text, kErrorSize, "%s", msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // benign issues (bad iCCP, ...) stay silent

struct MemoryInput {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

void read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* in = static_cast<MemoryInput*>(png_get_io_ptr(png));
  if (n > in->size - in->pos) png_error(png, "truncated PNG data");
  std::memcpy(out, in->data + in->pos, n);
  in->pos += n;
}

struct ReadStruct {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~ReadStruct() { png_destroy_read_struct(&png, &info, nullptr); }
};

struct WriteStruct {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~WriteStruct() { png_destroy_write_struct(&png, &info); }
};

uint32_t load_be32(const uint8_t* b) {
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

// Bytes of compressed image data in the file: the lengths of its IDAT chunks, as far as the file
// holds them.
int64_t idat_bytes(const std::vector<uint8_t>& data) {
  int64_t total = 0;
  for (size_t pos = 8; pos <= data.size() && data.size() - pos >= 8;) {
    const uint64_t length = load_be32(&data[pos]);
    const size_t left = data.size() - pos - 8;
    if (std::memcmp(&data[pos + 4], "IDAT", 4) == 0) total += std::min<uint64_t>(length, left);
    if (length + 4 > left) break;
    pos += 8 + length + 4;
  }
  return total;
}

// Refuses an image that the file cannot hold, before it is allocated: the IDAT stream inflates
// to every row's packed samples (and a filter byte per row when not interlaced).
void check_data_size(png_structp png, png_infop info, int64_t idat) {
  const int64_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  const int64_t row_bits = width * png_get_channels(png, info) * png_get_bit_depth(png, info);
  int64_t needed = checked_mul(row_bits, height, "PNG image size") / 8;
  if (png_get_interlace_type(png, info) == PNG_INTERLACE_NONE) needed += height;
  if (!could_inflate_to(idat, needed)) {
    throw InputError("truncated PNG data: " + std::to_string(width) + "x" + std::to_string(height) +
                     " pixels need " + std::to_string(needed) + " bytes, more than the " +
                     std::to_string(idat) + " bytes of compressed image data (IDAT) can hold");
  }
}

// Decodes into `out`; false on a libpng error (the reason is then in the error buffer). Throws
// InputError for an image over the limits, or one the file cannot hold.
bool decode(png_structp png, png_infop info, RawImage& out, const ReadLimits& limits,
            int64_t idat) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  const int depth = png_get_bit_depth(png, info);
  out.type = depth == 16 ? PixelType::kU16 : PixelType::kU8;
  out.channels = png_get_channels(png, info);
  out.geom.ndim = 2;
  out.geom.shape = {png_get_image_width(png, info), png_get_image_height(png, info), 1};
  out.geom.format = "png";
  const int64_t bytes = image_bytes(out.geom, out.channels, out.type, limits);
  check_data_size(png, info, idat);

  if (depth < 8) png_set_packing(png);  // one byte per sample, values kept (no scaling)
  if (depth == 16 && host_is_little_endian()) png_set_swap(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);  // no palette/tRNS expansion: indices stay indices
  png_uint_32 res_x = 0, res_y = 0;
  int unit = PNG_RESOLUTION_UNKNOWN;
  if (png_get_pHYs(png, info, &res_x, &res_y, &unit) && unit == PNG_RESOLUTION_METER && res_x > 0 &&
      res_y > 0) {
    out.geom.spacing = {1000.0 / res_x, 1000.0 / res_y, 1.0};  // pixels per metre -> mm
    out.geom.spacing_unit = "mm";
  }
  out.bytes.resize(static_cast<size_t>(bytes));
  const size_t stride = out.bytes.size() / out.geom.shape[1];
  if (png_get_rowbytes(png, info) != stride) png_error(png, "unexpected PNG row size");
  for (int pass = 0; pass < passes; ++pass) {
    for (int64_t y = 0; y < out.geom.shape[1]; ++y) {
      png_read_row(png, out.bytes.data() + y * stride, nullptr);
    }
  }
  return true;
}

// The deflate level, and no row filters where they cost more than they save (on labels and maps
// at fast levels; always on palette images).
void set_level(png_structp png, int level, bool palette) {
  png_set_compression_level(png, level);
  if (palette || level < 6) png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
}

// Writes one 8- or 16-bit image, grey, or palette with the given colours.
bool encode(png_structp png, png_infop info, FILE* f, const uint8_t* pixels, int64_t width,
            int64_t height, int bit_depth, const png_color* palette, int level) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_init_io(png, f);
  set_level(png, level, palette != nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
               bit_depth, palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) png_set_PLTE(png, info, palette, 256);
  png_write_info(png, info);
  if (bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
  const size_t stride = static_cast<size_t>(width) * (bit_depth / 8);
  for (int64_t y = 0; y < height; ++y) png_write_row(png, pixels + y * stride);
  png_write_end(png, info);
  return true;
}

// Appends what libpng writes to a std::string (the PNG in memory).
void write_to_string(png_structp png, png_bytep data, size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

void flush_nothing(png_structp) {}

// Writes one 8-bit RGB image into `out`.
bool encode_rgb(png_structp png, png_infop info, std::string* out, const uint8_t* rgb,
                int64_t width, int64_t height, int level) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, write_to_string, flush_nothing);
  if (level > 0) set_level(png, level, false);  // 0: libpng's defaults
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(width) * 3;
  for (int64_t y = 0; y < height; ++y) png_write_row(png, rgb + y * stride);
  png_write_end(png, info);
  return true;
}

// The colours of label PNGs: 0 black, then bright colours whose hues step around the colour wheel
// by the golden ratio (each new label far from the ones before it), at three levels of
// saturation and brightness so that labels 85 apart still differ.
std::array<png_color, 256> label_palette() {
  std::array<png_color, 256> p{};
  const double kStep = 0.6180339887498949;  // 1 / golden ratio
  for (int i = 1; i < 256; ++i) {
    const double h = std::fmod((i - 1) * kStep, 1.0) * 6.0;
    const double s = 1.0 - 0.25 * ((i - 1) / 85), v = 1.0 - 0.1 * ((i - 1) / 85);
    const int sector = static_cast<int>(h);
    const double f = h - sector;
    const double lo = v * (1 - s), down = v * (1 - s * f), up = v * (1 - s * (1 - f));
    const double rgb[6][3] = {{v, up, lo},   {down, v, lo}, {lo, v, up},
                              {lo, down, v}, {up, lo, v},   {v, lo, down}};
    const auto byte = [](double x) { return static_cast<png_byte>(std::lround(x * 255.0)); };
    p[i] = {byte(rgb[sector][0]), byte(rgb[sector][1]), byte(rgb[sector][2])};
  }
  return p;
}

// Writes `pixels` as a PNG under a temporary name and renames it over `path`.
void write_png(const std::string& path, const void* pixels, int64_t width, int64_t height,
               int bit_depth, const png_color* palette, int level) {
  TempFile tmp(path);
  if (bit_depth != 8 && bit_depth != 16) tmp.fail("PNG bit depth must be 8 or 16");
  if (level < 1 || level > 9) tmp.fail("compression level must be 1..9");
  if (width <= 0 || height <= 0 || width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX) {
    tmp.fail("invalid PNG size " + std::to_string(width) + "x" + std::to_string(height));
  }
  char error[kErrorSize] = "";
  WriteStruct ws;
  ws.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, on_error, on_warning);
  if (!ws.png || !(ws.info = png_create_info_struct(ws.png))) tmp.fail("cannot initialise libpng");
  FILE* f = tmp.open();
  if (!encode(ws.png, ws.info, f, static_cast<const uint8_t*>(pixels), width, height, bit_depth,
              palette, level)) {
    tmp.fail(std::string("PNG write failed: ") + error);
  }
  tmp.commit();
}

}  // namespace

RawImage read_png(const std::string& path, const ReadLimits& limits) {
  FileDigest digest;
  const std::vector<uint8_t> data = read_whole_file(path, limits, &digest);
  MemoryInput input{data.data(), data.size(), 0};
  char error[kErrorSize] = "";
  ReadStruct rs;
  rs.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, error, on_error, on_warning);
  if (!rs.png || !(rs.info = png_create_info_struct(rs.png))) {
    throw InputError("cannot initialise libpng");
  }
  png_set_read_fn(rs.png, &input, read_from_memory);
  RawImage out;
  if (!decode(rs.png, rs.info, out, limits, idat_bytes(data))) {
    if (std::strcmp(error, "Not a PNG file") == 0) throw InputError("not a PNG file");
    if (std::strncmp(error, "truncated", 9) == 0) throw InputError(error);
    throw InputError(std::string("corrupt PNG: ") + error);
  }
  out.files[path] = std::move(digest);
  return out;
}

}  // namespace maskeval::detail

namespace maskeval {

void write_png_gray(const std::string& path, const void* pixels, int64_t width, int64_t height,
                    int bit_depth, int level) {
  detail::write_png(path, pixels, width, height, bit_depth, nullptr, level);
}

void write_png_labels(const std::string& path, const uint8_t* labels, int64_t width, int64_t height,
                      const std::map<uint8_t, std::array<uint8_t, 3>>& colours, int level) {
  static const std::array<png_color, 256> standard = detail::label_palette();
  std::array<png_color, 256> palette = standard;
  for (const auto& [label, c] : colours) palette[label] = {c[0], c[1], c[2]};
  detail::write_png(path, labels, width, height, 8, palette.data(), level);
}

std::string encode_png_rgb(const uint8_t* rgb, int64_t width, int64_t height, int level) {
  if (width <= 0 || height <= 0 || width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX)
    throw std::runtime_error("invalid PNG size " + std::to_string(width) + "x" +
                             std::to_string(height));
  char error[detail::kErrorSize] = "";
  detail::WriteStruct ws;
  ws.png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, error, detail::on_error, detail::on_warning);
  if (!ws.png || !(ws.info = png_create_info_struct(ws.png)))
    throw std::runtime_error("cannot initialise libpng");
  std::string out;
  if (level < 0 || level > 9) throw std::runtime_error("compression level must be 0..9");
  if (!detail::encode_rgb(ws.png, ws.info, &out, rgb, width, height, level))
    throw std::runtime_error(std::string("PNG encoding failed: ") + error);
  return out;
}

}  // namespace maskeval
