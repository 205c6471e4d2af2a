// Readers against hostile files: sizes and offsets that overflow, data files outside the header's
// folder, FIFOs and devices, headers that declare more pixels than the file holds, and the voxel
// limit; also the palette writer for label PNGs. Every fixture is a few bytes built here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io_test_util.h"
#include "maskeval/image.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::gzip_compress;
using test::input_error;
using test::write_bytes;
using test::zlib_compress;

constexpr const char* kOutside = "lies outside the header's folder; pass --allow-external-data";

std::vector<uint8_t> bytes_of(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// Appends `more` to `b` (by copy: GCC 12 sees false bounds errors in vector::insert here).
void append(std::vector<uint8_t>& b, const std::vector<uint8_t>& more) {
  const size_t n = b.size();
  b.resize(n + more.size());
  if (!more.empty()) std::memcpy(b.data() + n, more.data(), more.size());
}

std::vector<uint8_t> concat(const std::string& text, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = bytes_of(text);
  append(out, data);
  return out;
}

void put_le(std::vector<uint8_t>& b, size_t at, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

void append_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}

// --- Hand-made files ---------------------------------------------------------------------------

// One PNG chunk: length, type, data, CRC.
void append_png_chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& d) {
  append_be32(png, static_cast<uint32_t>(d.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), d.begin(), d.end());
  png.insert(png.end(), body.begin(), body.end());
  append_be32(png, static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
}

// Rows of `row_bytes` bytes each, each after its filter byte (0: none).
std::vector<uint8_t> png_rows(const std::vector<uint8_t>& pixels, size_t row_bytes) {
  std::vector<uint8_t> rows;
  for (size_t i = 0; i < pixels.size(); i += row_bytes) {
    rows.push_back(0);
    rows.insert(rows.end(), pixels.begin() + i, pixels.begin() + i + row_bytes);
  }
  return rows;
}

// A PNG of the given header whose IDAT holds `rows` (filter bytes included), zlib-compressed.
std::vector<uint8_t> png_file(uint32_t width, uint32_t height, uint8_t colour_type,
                              const std::vector<uint8_t>& rows) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  append_be32(ihdr, width);
  append_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, colour_type, 0, 0, 0});
  append_png_chunk(png, "IHDR", ihdr);
  append_png_chunk(png, "IDAT", zlib_compress(rows));
  append_png_chunk(png, "IEND", {});
  return png;
}

// A little-endian TIFF, one strip of 8-bit grey samples: 9 tags, then the strip's bytes.
std::vector<uint8_t> tiff_file(uint32_t width, uint32_t height, uint16_t compression,
                               const std::vector<uint8_t>& strip) {
  const uint32_t kEntries = 9, kData = 8 + 2 + kEntries * 12 + 4;
  std::vector<uint8_t> b(kData, 0);
  b[0] = b[1] = 'I';
  put_le(b, 2, 42, 2);
  put_le(b, 4, 8, 4);
  put_le(b, 8, kEntries, 2);
  const std::array<std::array<uint32_t, 3>, kEntries> tags = {{{256, 4, width},
                                                               {257, 4, height},
                                                               {258, 3, 8},
                                                               {259, 3, compression},
                                                               {262, 3, 1},
                                                               {273, 4, kData},
                                                               {277, 3, 1},
                                                               {278, 4, height},
                                                               {279, 4, uint32_t(strip.size())}}};
  for (uint32_t i = 0; i < kEntries; ++i) {
    const size_t at = 10 + i * 12;
    put_le(b, at, tags[i][0], 2);
    put_le(b, at + 2, tags[i][1], 2);  // 3 SHORT, 4 LONG
    put_le(b, at + 4, 1, 4);
    put_le(b, at + 8, tags[i][2], tags[i][1] == 3 ? 2 : 4);
  }
  append(b, strip);
  return b;
}

// A NIfTI-1 uint8 file: header, empty extension flag, then `data`.
std::vector<uint8_t> nifti1_file(std::array<int16_t, 4> dim, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b(352, 0);
  put_le(b, 0, 348, 4);
  for (int i = 0; i < 8; ++i) put_le(b, 40 + 2 * i, i < 4 ? dim[i] : 1, 2);
  put_le(b, 70, 2, 2);  // datatype uint8
  put_le(b, 72, 8, 2);  // bitpix
  const float one = 1.0f, offset = 352.0f;
  for (int i = 0; i < 8; ++i) std::memcpy(&b[76 + 4 * i], &one, 4);
  std::memcpy(&b[108], &offset, 4);
  std::memcpy(&b[344], "n+1\0", 4);
  append(b, data);
  return b;
}

const std::vector<uint8_t> kVolume12 = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};

std::string nrrd_header(const std::string& fields) {
  return "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 3 2 2\n" + fields + "\n";
}

std::string mhd_header(const std::string& fields) {
  return "ObjectType = Image\nNDims = 3\nDimSize = 3 2 2\nElementType = MET_UCHAR\n" + fields;
}

class HostileIoTest : public test::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::vector<uint8_t>& b) {
    const std::string p = path(name);
    fs::create_directories(fs::path(p).parent_path());
    write_bytes(p, b);
    return p;
  }
  std::string write(const std::string& name, const std::string& text) {
    return write(name, bytes_of(text));
  }
};

// --- Checked arithmetic on header values --------------------------------------------------------

TEST_F(HostileIoTest, NrrdByteSkipNearInt64MaxIsRefusedForEveryEncoding) {
  const std::vector<uint8_t> ones(12, 1);
  // gzip: skip + size wrapped around, and the data loaded as all zeros without an error.
  for (const char* skip : {"9223372036854775800", "9223372036854775807"}) {
    const std::string gz = write(
        "gz.nrrd", concat(nrrd_header("encoding: gzip\nbyte skip: " + std::string(skip) + "\n"),
                          gzip_compress(ones)));
    EXPECT_TRUE(contains(input_error(gz), "invalid NRRD byte skip")) << skip;
  }
  const std::string raw = write(
      "raw.nrrd", concat(nrrd_header("encoding: raw\nbyte skip: 9223372036854775807\n"), ones));
  EXPECT_TRUE(contains(input_error(raw), "invalid NRRD byte skip"));
  const std::string text =
      write("text.nrrd", nrrd_header("encoding: text\nbyte skip: 9223372036854775807\n") +
                             "1 1 1 1 1 1 1 1 1 1 1 1\n");
  EXPECT_TRUE(contains(input_error(text), "invalid NRRD byte skip"));
  // A skip that fits is still read as the format defines it.
  std::vector<uint8_t> skipped(5, 9);
  append(skipped, ones);
  const RawImage img = read_image(write(
      "ok.nrrd", concat(nrrd_header("encoding: gzip\nbyte skip: 5\n"), gzip_compress(skipped))));
  EXPECT_EQ(img.bytes, ones);
}

TEST_F(HostileIoTest, SizesWhoseProductOverflowsAreOverTheLimit) {
  const std::string huge = "4294967296 4294967296 4294967296";
  const std::string nrrd =
      write("huge.nrrd",
            concat("NRRD0004\ntype: uint8\ndimension: 3\nsizes: " + huge + "\nencoding: raw\n\n",
                   kVolume12));
  EXPECT_TRUE(contains(input_error(nrrd),
                       "image of 4294967296 x 4294967296 x 4294967296 voxels is over the limit of "
                       "1073741824 (--max-voxels)"));
  const std::string mha = write("huge.mha", concat("NDims = 3\nDimSize = " + huge +
                                                       "\nElementType = MET_UCHAR\n"
                                                       "ElementDataFile = LOCAL\n",
                                                   kVolume12));
  EXPECT_TRUE(contains(input_error(mha), "voxels is over the limit"));
  const std::string channels =
      write("channels.mha", concat(mhd_header("ElementNumberOfChannels = 65536\n"
                                              "ElementDataFile = LOCAL\n"),
                                   kVolume12));
  EXPECT_TRUE(contains(input_error(channels, ReadLimits{100000, false}),
                       "image of 12 voxels x 65536 channels is over the limit of 100000"));
}

// --- Data files named by a header ----------------------------------------------------------------

TEST_F(HostileIoTest, DataFilesOutsideTheHeadersFolderAreRefused) {
  write("outside.raw", kVolume12);
  write("sub/inside.raw", kVolume12);
  write("sub/deeper/inside.raw", kVolume12);
  fs::create_symlink("../outside.raw", path("sub/out_link.raw"));
  fs::create_symlink("deeper/inside.raw", path("sub/in_link.raw"));
  const std::string absolute = path("outside.raw");
  const ReadLimits allow{kDefaultMaxVoxels, true};
  for (const std::string& name :
       {absolute, std::string("../outside.raw"), std::string("deeper/../../outside.raw"),
        std::string("out_link.raw")}) {
    for (const bool nrrd : {true, false}) {
      const std::string header =
          nrrd ? write("sub/h.nhdr", nrrd_header("encoding: raw\ndata file: " + name + "\n"))
               : write("sub/h.mhd", mhd_header("ElementDataFile = " + name + "\n"));
      const std::string e = input_error(header);
      EXPECT_TRUE(contains(e, "data file " + name + " " + kOutside)) << header << ": " << e;
      EXPECT_EQ(read_image(header, allow).bytes, kVolume12) << header << " with " << name;
    }
  }
  // A missing folder before ".." hides nothing: the link after it is still resolved.
  const std::string hidden = "missing/../out_link.raw";
  for (const std::string& header :
       {write("sub/h.nhdr", nrrd_header("encoding: raw\ndata file: " + hidden + "\n")),
        write("sub/h.mhd", mhd_header("ElementDataFile = " + hidden + "\n"))}) {
    const std::string e = input_error(header);
    EXPECT_TRUE(contains(e, "data file " + hidden)) << e;
    EXPECT_FALSE(contains(e, "truncated")) << e;
  }
  for (const char* name : {"inside.raw", "deeper/inside.raw", "deeper/../inside.raw", "in_link.raw",
                           "./deeper/inside.raw"}) {
    const std::string nhdr =
        write("sub/h.nhdr", nrrd_header(std::string("encoding: raw\ndata file: ") + name + "\n"));
    EXPECT_EQ(read_image(nhdr).bytes, kVolume12) << name;
    const std::string mhd =
        write("sub/h.mhd", mhd_header(std::string("ElementDataFile = ") + name + "\n"));
    EXPECT_EQ(read_image(mhd).bytes, kVolume12) << name;
  }
  // A NUL byte would cut the name where the system opens it.
  std::string with_nul = "encoding: raw\ndata file: inside.raw";
  with_nul += '\0';
  with_nul += "/../../outside.raw\n";
  const std::string nul = write("sub/nul.nhdr", nrrd_header(with_nul));
  EXPECT_TRUE(contains(input_error(nul), "invalid data file name (a NUL byte)"));
  // The folder itself is no data file.
  const std::string dot = write("sub/dot.nhdr", nrrd_header("encoding: raw\ndata file: .\n"));
  EXPECT_TRUE(contains(input_error(dot), "not a regular file (a folder)"));
}

TEST_F(HostileIoTest, DataFileCheckAppliesToLineSkipAndTextData) {
  write("outside.txt", "skipped line\n0 1 2 3 4 5 6 7 8 9 10 11\n");
  const std::string nhdr =
      write("sub/t.nhdr", nrrd_header("encoding: text\nline skip: 1\ndata file: ../outside.txt\n"));
  EXPECT_TRUE(contains(input_error(nhdr), kOutside));
  const RawImage img = read_image(nhdr, ReadLimits{kDefaultMaxVoxels, true});
  EXPECT_EQ(img.bytes, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
}

// --- Only regular files are opened ---------------------------------------------------------------

// The InputError of reading `file`, which opens the FIFO `fifo`. A reader that blocks opening the
// FIFO is released (the FIFO opened for writing and closed, over and over) so that the test
// fails instead of hanging.
std::string error_releasing(const std::string& file, const std::string& fifo) {
  std::future<std::string> result =
      std::async(std::launch::async, [file] { return input_error(file); });
  bool blocked = false;
  while (result.wait_for(std::chrono::seconds(blocked ? 0 : 5)) != std::future_status::ready) {
    blocked = true;
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(blocked) << file << " blocked opening the FIFO " << fifo;
  return result.get();
}

TEST_F(HostileIoTest, FifoAsInputIsRefusedWithoutBlocking) {
  for (const char* name :
       {"f.png", "f.tif", "f.tiff", "f.nii", "f.nii.gz", "f.mha", "f.mhd", "f.nrrd", "f.nhdr"}) {
    ASSERT_EQ(::mkfifo(path(name).c_str(), 0600), 0) << name;
    EXPECT_TRUE(contains(error_releasing(path(name), path(name)), "not a regular file (a FIFO)"))
        << name;
  }
}

TEST_F(HostileIoTest, FifoAsDataFileIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path("data.raw").c_str(), 0600), 0);
  const std::string nhdr = write("h.nhdr", nrrd_header("encoding: raw\ndata file: data.raw\n"));
  EXPECT_TRUE(
      contains(error_releasing(nhdr, path("data.raw")),
               "cannot open NRRD data file " + path("data.raw") + ": not a regular file (a FIFO)"));
  const std::string lines =
      write("l.nhdr", nrrd_header("encoding: raw\nline skip: 2\ndata file: data.raw\n"));
  EXPECT_TRUE(contains(error_releasing(lines, path("data.raw")), "not a regular file (a FIFO)"));
  const std::string text = write("t.nhdr", nrrd_header("encoding: text\ndata file: data.raw\n"));
  EXPECT_TRUE(contains(error_releasing(text, path("data.raw")), "not a regular file (a FIFO)"));
  const std::string mhd = write("h.mhd", mhd_header("ElementDataFile = data.raw\n"));
  EXPECT_TRUE(contains(error_releasing(mhd, path("data.raw")), "not a regular file (a FIFO)"));
}

TEST_F(HostileIoTest, FoldersAndDevicesAreRefused) {
  fs::create_directories(path("folder.png"));
  EXPECT_TRUE(contains(input_error(path("folder.png")), "not a regular file (a folder)"));
  fs::create_symlink("/dev/null", path("null.nii"));
  EXPECT_TRUE(contains(input_error(path("null.nii")), "not a regular file (a device)"));
  fs::create_symlink("/dev/zero", path("zero.raw"));
  const std::string mhd = write("z.mhd", mhd_header("ElementDataFile = zero.raw\n"));
  EXPECT_TRUE(contains(input_error(mhd, ReadLimits{kDefaultMaxVoxels, true}),
                       "not a regular file (a device)"));
  EXPECT_TRUE(contains(input_error(path("missing.png")), "cannot open: No such file"));
}

// --- Headers that declare more than the file holds
// ------------------------------------------------

TEST_F(HostileIoTest, PngDeclaringMorePixelsThanItsDataCanHoldIsRefusedBeforeAllocating) {
  // 100000 x 100000 (10 GB) in 74 bytes: over the default limit.
  const std::vector<uint8_t> big = png_file(100000, 100000, 0, std::vector<uint8_t>(8, 0));
  EXPECT_LT(big.size(), 80u);
  EXPECT_TRUE(contains(input_error(write("big.png", big)),
                       "image of 10000000000 voxels is over the limit of 1073741824 "
                       "(--max-voxels)"));
  // 30000 x 30000 (900 MB) under the limit, but a few bytes of IDAT cannot inflate to that.
  const std::string p = write("wide.png", png_file(30000, 30000, 0, std::vector<uint8_t>(8, 0)));
  EXPECT_TRUE(contains(input_error(p), "bytes of compressed image data (IDAT) can hold"));
  // A highly compressible image the IDAT does hold is read.
  const std::vector<uint8_t> rows(2000 * (1 + 2000), 0);
  const RawImage img = read_image(write("zeros.png", png_file(2000, 2000, 0, rows)));
  EXPECT_EQ(img.bytes, std::vector<uint8_t>(2000 * 2000, 0));
}

TEST_F(HostileIoTest, PngLargerThanAnyImageWithinTheLimitIsNotRead) {
  const std::string png = path("sparse.png");
  const uint8_t pixels[2] = {0, 1};
  write_png_gray(png, pixels, 2, 1, 8);
  fs::resize_file(png, uint64_t{1} << 40);  // sparse: a terabyte that takes no disk
  const ReadLimits small{1 << 20, false};
  EXPECT_TRUE(contains(input_error(png, small), "larger than an image within --max-voxels"));
}

TEST_F(HostileIoTest, TiffDeclaringMorePixelsThanItsStripsCanHoldIsRefusedBeforeAllocating) {
#ifndef MASKEVAL_HAVE_TIFF
  GTEST_SKIP() << "built without libtiff";
#endif
  const std::vector<uint8_t> big = tiff_file(100000, 100000, 1, std::vector<uint8_t>(16, 0));
  EXPECT_EQ(big.size(), 138u);
  EXPECT_TRUE(contains(input_error(write("big.tif", big)),
                       "image of 10000000000 voxels is over the limit of 1073741824"));
  // Uncompressed: the strips must hold every byte. (libtiff cuts a big single strip into one
  // per row: 30000 strips cannot lie in 138 bytes.)
  const std::string raw = write("raw.tif", tiff_file(30000, 30000, 1, std::vector<uint8_t>(16)));
  EXPECT_TRUE(contains(input_error(raw), "truncated TIFF data: 30000 strips cannot lie in a file"));
  const std::string cut = write("cut.tif", tiff_file(60, 60, 1, std::vector<uint8_t>(16)));
  EXPECT_TRUE(contains(input_error(cut),
                       "truncated TIFF data: expected 3600 bytes, more than the 16 stored bytes "
                       "can hold"));
  const std::vector<uint8_t> small = zlib_compress(std::vector<uint8_t>(1000, 0));
  const std::string deflate = write("deflate.tif", tiff_file(30000, 30000, 8, small));
  EXPECT_TRUE(contains(input_error(deflate), "stored bytes (Compression 8) can hold"));
  // A codec libtiff has not, or one with no tight bound, is refused before the pixels are
  // allocated: 30000 x 30000 from a 1-byte strip.
  EXPECT_TRUE(contains(input_error(write("unknown.tif", tiff_file(30000, 30000, 1234, {0}))),
                       "unsupported TIFF compression 1234"));
  EXPECT_TRUE(contains(input_error(write("jpeg.tif", tiff_file(30000, 30000, 7, {0}))),
                       "stored bytes (Compression 7) can hold"));
  // The same strips, when they hold the image, are read.
  const RawImage raw_ok = read_image(write("ok.tif", tiff_file(4, 3, 1, kVolume12)));
  EXPECT_EQ(raw_ok.bytes, kVolume12);
  const std::vector<uint8_t> zeros(300 * 200, 0);
  const RawImage deflate_ok =
      read_image(write("ok8.tif", tiff_file(300, 200, 8, zlib_compress(zeros))));
  EXPECT_EQ(deflate_ok.bytes, zeros);
}

// A small .nii.gz whose stream goes on far past its voxels: the image is read, and no more than
// it is allocated for (the whole-file path leaves such a file to the stream reader).
TEST_F(HostileIoTest, NiftiStreamLongerThanItsImageAllocatesForTheImageOnly) {
  std::vector<uint8_t> content = nifti1_file({3, 3, 2, 2}, kVolume12);
  content.resize(content.size() + (size_t{32} << 20), 0);  // 32 MiB after the voxels
  const std::vector<uint8_t> gz = gzip_compress(content);
  ASSERT_LT(gz.size(), size_t{1} << 20);
  const RawImage img = read_image(write("long.nii.gz", gz));
  EXPECT_EQ(img.bytes, kVolume12);
  EXPECT_LT(img.bytes.capacity(), size_t{1} << 20);
}

// --- The voxel limit, in every reader
// -------------------------------------------------------------

TEST_F(HostileIoTest, EveryReaderRefusesImagesOverTheVoxelLimit) {
  std::vector<std::string> files = {
      write("v.nii", nifti1_file({3, 3, 2, 2}, kVolume12)),
      write("v.nii.gz", gzip_compress(nifti1_file({3, 3, 2, 2}, kVolume12))),
      write("v.mha", concat(mhd_header("ElementDataFile = LOCAL\n"), kVolume12)),
      write("v.nrrd", concat(nrrd_header("encoding: raw\n"), kVolume12)),
      write("v.png", png_file(4, 3, 0, png_rows(kVolume12, 4))),
  };
#ifdef MASKEVAL_HAVE_TIFF
  files.push_back(write("v.tif", tiff_file(4, 3, 1, kVolume12)));
#endif
  for (const std::string& f : files) {
    EXPECT_TRUE(contains(input_error(f, ReadLimits{11, false}),
                         "image of 12 voxels is over the limit of 11 (--max-voxels)"))
        << f;
    EXPECT_EQ(read_image(f, ReadLimits{12, false}).bytes, kVolume12) << f;
  }
  // Channels count: 2 x 2 RGB is 12 values.
  const std::string rgb =
      write("rgb.png", png_file(2, 2, 2, png_rows(std::vector<uint8_t>(12, 7), 6)));
  EXPECT_TRUE(contains(input_error(rgb, ReadLimits{11, false}),
                       "image of 4 voxels x 3 channels is over the limit of 11"));
  EXPECT_EQ(read_image(rgb, ReadLimits{12, false}).channels, 3);
}

// --- Label PNGs ----------------------------------------------------------------------------------

// The bytes of the first chunk of `type` in a PNG file, or nothing.
std::vector<uint8_t> png_chunk_data(const std::vector<uint8_t>& png, const char* type) {
  for (size_t pos = 8; pos + 8 <= png.size();) {
    const uint32_t n =
        uint32_t{png[pos]} << 24 | png[pos + 1] << 16 | png[pos + 2] << 8 | png[pos + 3];
    if (std::memcmp(&png[pos + 4], type, 4) == 0) {
      return std::vector<uint8_t>(png.begin() + pos + 8, png.begin() + pos + 8 + n);
    }
    pos += 12 + n;
  }
  return {};
}

TEST_F(HostileIoTest, LabelPngIsAPaletteImageThatReadsBackUnchanged) {
  const int64_t w = 37, h = 9;
  std::vector<uint8_t> labels(w * h);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>((i * 7) % 256);
  labels[0] = 0;
  labels[1] = 1;
  labels[2] = 2;
  write_png_labels(path("labels.png"), labels.data(), w, h);
  const RawImage img = read_image(path("labels.png"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{w, h, 1}));
  EXPECT_EQ(img.bytes, labels);

  std::ifstream in(path("labels.png"), std::ios::binary);
  const std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  const std::vector<uint8_t> ihdr = png_chunk_data(file, "IHDR");
  ASSERT_EQ(ihdr.size(), 13u);
  EXPECT_EQ(ihdr[8], 8);  // bit depth
  EXPECT_EQ(ihdr[9], 3);  // colour type: palette
  const std::vector<uint8_t> plte = png_chunk_data(file, "PLTE");
  ASSERT_EQ(plte.size(), 256u * 3);
  EXPECT_EQ(plte[0] | plte[1] | plte[2], 0);  // background black
  std::set<std::array<uint8_t, 3>> colours;
  for (int i = 0; i < 256; ++i) {
    const std::array<uint8_t, 3> c = {plte[3 * i], plte[3 * i + 1], plte[3 * i + 2]};
    colours.insert(c);
    if (i > 0) {
      EXPECT_GE(std::max({c[0], c[1], c[2]}), 200) << "label " << i << " is dim";
    }
  }
  EXPECT_EQ(colours.size(), 256u);  // every label its own colour
  for (const auto& e : fs::directory_iterator(fs::path(path("labels.png")).parent_path()))
    EXPECT_NE(e.path().extension(), ".tmp") << e.path();  // the temporary was renamed
  EXPECT_THROW(write_png_labels(path("bad.png"), labels.data(), 0, h), std::runtime_error);
}

}  // namespace
}  // namespace maskeval
