// Decoding against its floor: plain libpng, zlib and libdeflate on the same files as maskeval's
// loaders (read_image_values, then to_labels), for 2D label PNGs, binary .nii.gz volumes and
// KiTS23.
//
//   maskeval_bench_io --write-inputs DIR   writes the synthetic inputs (fixed bytes) and exits
//   maskeval_bench_io --write-floor DIR    the time (ms, best of 3) plain zlib (gzwrite) and
//                                          libpng take to write the .nii.gz and PNG files under
//                                          DIR again at level 1, from their decoded bytes
//   MASKEVAL_IO_INPUTS=DIR maskeval_bench_io [--benchmark_...]   runs on them
// Without MASKEVAL_IO_INPUTS the inputs are written to a temporary folder first. The layout of
// DIR (png/caseK/rR.png, nii/caseK/rR.nii.gz) is what bench/io_floor.sh runs maskeval over.
#include <benchmark/benchmark.h>
#include <png.h>
#include <zlib.h>
#ifdef MASKEVAL_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "maskeval/image.h"
#include "maskeval/labels.h"

namespace fs = std::filesystem;

namespace {

constexpr int kPngCases = 8, kPngRaters = 4, kPngWidth = 1024, kPngHeight = 2048;
constexpr int kNiiCases = 2, kNiiRaters = 4, kNiiX = 512, kNiiY = 512, kNiiZ = 128;

// A 19-label scene: blocks whose borders each rater draws a few pixels apart.
void write_label_png(const std::string& path, int rater) {
  FILE* f = std::fopen(path.c_str(), "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (!f || !png || !info || setjmp(png_jmpbuf(png)))
    throw std::runtime_error("cannot write " + path);
  png_init_io(png, f);
  png_set_IHDR(png, info, kPngWidth, kPngHeight, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<uint8_t> row(kPngWidth);
  for (int y = 0; y < kPngHeight; ++y) {
    for (int x = 0; x < kPngWidth; ++x)
      row[x] = static_cast<uint8_t>(((x + rater * 3) / 61 + (y + (x % 7) * rater) / 47 * 3) % 19);
    png_write_row(png, row.data());
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

void put16(uint8_t* h, int at, int v) {
  std::memcpy(h + at, &v, 2);
}
void put32f(uint8_t* h, int at, float v) {
  std::memcpy(h + at, &v, 4);
}

// A binary uint8 NIfTI-1 volume, gzip level 6: an ellipsoid each rater draws a little apart.
void write_binary_nii_gz(const std::string& path, int rater) {
  uint8_t h[352] = {};
  const int size = 348;
  std::memcpy(h, &size, 4);
  const int dims[8] = {3, kNiiX, kNiiY, kNiiZ, 1, 1, 1, 1};
  for (int i = 0; i < 8; ++i) put16(h, 40 + 2 * i, dims[i]);
  put16(h, 70, 2);  // uint8
  put16(h, 72, 8);
  for (int i = 0; i < 8; ++i) put32f(h, 76 + 4 * i, i == 0 ? 1.0f : 0.8f);
  put32f(h, 108, 352.0f);
  h[123] = 2;  // mm
  std::memcpy(h + 344, "n+1\0", 4);
  gzFile gz = gzopen(path.c_str(), "wb6");
  if (!gz || gzwrite(gz, h, sizeof h) != static_cast<int>(sizeof h))
    throw std::runtime_error("cannot write " + path);
  std::vector<uint8_t> slice(static_cast<size_t>(kNiiX) * kNiiY);
  for (int z = 0; z < kNiiZ; ++z) {
    for (int y = 0; y < kNiiY; ++y)
      for (int x = 0; x < kNiiX; ++x) {
        const double dx = (x - 256.0 - rater) / 150, dy = (y - 240.0) / 120, dz = (z - 64.0) / 40;
        slice[static_cast<size_t>(y) * kNiiX + x] = dx * dx + dy * dy + dz * dz < 1 ? 1 : 0;
      }
    if (gzwrite(gz, slice.data(), static_cast<unsigned>(slice.size())) !=
        static_cast<int>(slice.size()))
      throw std::runtime_error("cannot write " + path);
  }
  gzclose(gz);
}

void write_inputs(const fs::path& dir) {
  for (int c = 0; c < kPngCases; ++c)
    for (int r = 0; r < kPngRaters; ++r) {
      const fs::path p =
          dir / "png" / ("case" + std::to_string(c)) / ("r" + std::to_string(r) + ".png");
      fs::create_directories(p.parent_path());
      write_label_png(p.string(), r + c);
    }
  for (int c = 0; c < kNiiCases; ++c)
    for (int r = 0; r < kNiiRaters; ++r) {
      const fs::path p =
          dir / "nii" / ("case" + std::to_string(c)) / ("r" + std::to_string(r) + ".nii.gz");
      fs::create_directories(p.parent_path());
      write_binary_nii_gz(p.string(), r + 2 * c);
    }
}

fs::path inputs_dir() {
  static fs::path dir;
  if (!dir.empty()) return dir;
  if (const char* env = std::getenv("MASKEVAL_IO_INPUTS")) return dir = env;
  dir = fs::temp_directory_path() / ("maskeval-bench-io-" + std::to_string(getpid()));
  write_inputs(dir);
  std::atexit([] { fs::remove_all(dir); });
  return dir;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The image files under root, sorted.
std::vector<std::string> files_under(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string p = e.path().string();
    if (e.is_regular_file() && (ends_with(p, ".png") || ends_with(p, ".nii.gz"))) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> files_of(const std::string& set) {
  return files_under(set == "kits23" ? fs::path(MASKEVAL_SOURCE_DIR) / "data/kits23"
                                     : inputs_dir() / set);
}

void read_file(const std::string& path, std::vector<uint8_t>& into) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::fseek(f, 0, SEEK_END);
  into.resize(static_cast<size_t>(std::ftell(f)));
  std::fseek(f, 0, SEEK_SET);
  if (std::fread(into.data(), 1, into.size(), f) != into.size()) throw std::runtime_error(path);
  std::fclose(f);
}

// The gzip trailer's size of the uncompressed data (one member, under 4 GiB).
size_t gzip_size(const std::vector<uint8_t>& gz) {
  uint32_t n = 0;
  std::memcpy(&n, gz.data() + gz.size() - 4, 4);
  return n;
}

struct PngMemory {
  const uint8_t* data;
  size_t pos, size;
};

// A PNG as libpng decodes it, with what writing it again needs.
struct DecodedPng {
  png_uint_32 width = 0, height = 0;
  int depth = 0, colour = 0;
  std::vector<png_color> palette;
  std::vector<uint8_t> pixels;
};

// The file read whole into `file`, then decoded by libpng row by row into d.pixels (reused):
// what a plain program does.
void decode_png(const std::string& path, std::vector<uint8_t>& file, DecodedPng& d) {
  read_file(path, file);
  PngMemory in{file.data(), 0, file.size()};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) throw std::runtime_error("libpng: " + path);
  png_set_read_fn(png, &in, [](png_structp p, png_bytep out, size_t n) {
    auto* m = static_cast<PngMemory*>(png_get_io_ptr(p));
    if (n > m->size - m->pos) png_error(p, "truncated");
    std::memcpy(out, m->data + m->pos, n);
    m->pos += n;
  });
  png_read_info(png, info);
  png_get_IHDR(png, info, &d.width, &d.height, &d.depth, &d.colour, nullptr, nullptr, nullptr);
  png_colorp colours = nullptr;
  int n = 0;
  if (png_get_PLTE(png, info, &colours, &n)) d.palette.assign(colours, colours + n);
  const size_t stride = png_get_rowbytes(png, info);
  d.pixels.resize(stride * d.height);
  for (size_t y = 0; y < d.height; ++y) png_read_row(png, d.pixels.data() + y * stride, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
}

size_t libpng_decode(const std::string& path, std::vector<uint8_t>& file,
                     std::vector<uint8_t>& pixels) {
  DecodedPng d;
  d.pixels.swap(pixels);
  decode_png(path, file, d);
  pixels.swap(d.pixels);
  return pixels.size();
}

size_t zlib_decode(const std::string& path, std::vector<uint8_t>&, std::vector<uint8_t>& out) {
  std::vector<uint8_t> trailer(4);  // the size, from the file's last 4 bytes
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f || std::fseek(f, -4, SEEK_END) != 0 || std::fread(trailer.data(), 1, 4, f) != 4)
    throw std::runtime_error("cannot read " + path);
  std::fclose(f);
  out.resize(gzip_size(trailer));
  gzFile gz = gzopen(path.c_str(), "rb");
  gzbuffer(gz, 1 << 18);
  const int n = gzread(gz, out.data(), static_cast<unsigned>(out.size()));
  gzclose(gz);
  if (n != static_cast<int>(out.size())) throw std::runtime_error("gzread: " + path);
  return out.size();
}

#ifdef MASKEVAL_HAVE_LIBDEFLATE
size_t libdeflate_decode(const std::string& path, std::vector<uint8_t>& file,
                         std::vector<uint8_t>& out) {
  read_file(path, file);
  out.resize(gzip_size(file));
  static thread_local libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  size_t n = 0;
  if (libdeflate_gzip_decompress(d, file.data(), file.size(), out.data(), out.size(), &n) !=
      LIBDEFLATE_SUCCESS)
    throw std::runtime_error("libdeflate: " + path);
  return n;
}
#endif

size_t maskeval_load(const std::string& path, std::vector<uint8_t>&, std::vector<uint8_t>&) {
  maskeval::RawImage raw = maskeval::read_image_values(path, maskeval::ReadLimits{});
  const size_t bytes = raw.bytes.size();
  const maskeval::LabelImage img = maskeval::to_labels(std::move(raw), maskeval::ForegroundRule{});
  benchmark::DoNotOptimize(img.data.data());
  return bytes;
}

using Decoder = size_t (*)(const std::string&, std::vector<uint8_t>&, std::vector<uint8_t>&);

// Every file of the set once per iteration; bytes are the decoded bytes.
void decode_set(benchmark::State& state, Decoder decode, const std::string& set) {
  const std::vector<std::string> files = files_of(set);
  std::vector<uint8_t> file, out;
  size_t bytes = 0;
  for (auto _ : state)
    for (const std::string& f : files) bytes += decode(f, file, out);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["files"] = static_cast<double>(files.size());
}

// Writes the PNG as maskeval does at level 1: deflate level 1, rows unfiltered.
void write_png_plain(const std::string& path, const DecodedPng& d) {
  FILE* f = std::fopen(path.c_str(), "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (!f || setjmp(png_jmpbuf(png))) throw std::runtime_error("libpng: " + path);
  png_init_io(png, f);
  png_set_compression_level(png, 1);
  png_set_filter(png, 0, PNG_FILTER_NONE);
  png_set_IHDR(png, info, d.width, d.height, d.depth, d.colour, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!d.palette.empty())
    png_set_PLTE(png, info, d.palette.data(), static_cast<int>(d.palette.size()));
  png_write_info(png, info);
  const size_t stride = d.pixels.size() / d.height;
  for (size_t y = 0; y < d.height; ++y)
    png_write_row(png, const_cast<uint8_t*>(d.pixels.data() + y * stride));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

// The --write-floor figure: every file under `dir` decoded first, then written by the plain
// libraries into a temporary folder; the best of 3 passes, in milliseconds.
int write_floor(const fs::path& dir) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> volumes;
  std::vector<DecodedPng> pictures;
  for (const std::string& f : files_under(dir)) {
    if (ends_with(f, ".png")) {
      std::vector<uint8_t> file;
      pictures.emplace_back();
      decode_png(f, file, pictures.back());
    } else {
      std::vector<uint8_t> file, out;
      zlib_decode(f, file, out);
      volumes.emplace_back(f, std::move(out));
    }
  }
  const fs::path tmp =
      fs::temp_directory_path() / ("maskeval-write-floor-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    int k = 0;
    for (const auto& [name, bytes] : volumes) {
      gzFile gz = gzopen((tmp / (std::to_string(k++) + ".nii.gz")).c_str(), "wb1");
      gzbuffer(gz, 1 << 18);
      for (size_t done = 0; done < bytes.size();) {
        const unsigned n = static_cast<unsigned>(std::min<size_t>(bytes.size() - done, 1u << 30));
        gzwrite(gz, bytes.data() + done, n);
        done += n;
      }
      gzclose(gz);
    }
    for (const DecodedPng& d : pictures) write_png_plain(tmp / (std::to_string(k++) + ".png"), d);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    best = pass == 0 ? ms : std::min(best, ms);
  }
  fs::remove_all(tmp);
  std::printf("%.1f\n", best);
  return 0;
}

}  // namespace

BENCHMARK_CAPTURE(decode_set, floor_libpng_png, &libpng_decode, std::string("png"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_set, maskeval_png, &maskeval_load, std::string("png"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_set, floor_zlib_nii, &zlib_decode, std::string("nii"))
    ->Unit(benchmark::kMillisecond);
#ifdef MASKEVAL_HAVE_LIBDEFLATE
BENCHMARK_CAPTURE(decode_set, floor_libdeflate_nii, &libdeflate_decode, std::string("nii"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_set, floor_libdeflate_kits23, &libdeflate_decode, std::string("kits23"))
    ->Unit(benchmark::kMillisecond);
#endif
BENCHMARK_CAPTURE(decode_set, maskeval_nii, &maskeval_load, std::string("nii"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_set, floor_zlib_kits23, &zlib_decode, std::string("kits23"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_set, maskeval_kits23, &maskeval_load, std::string("kits23"))
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-inputs") {
    write_inputs(argv[2]);
    return 0;
  }
  if (argc == 3 && std::string(argv[1]) == "--write-floor") return write_floor(argv[2]);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
