// Helpers shared by the I/O tests: a temporary folder per test, files of bytes, zlib and gzip
// streams, and the message of the InputError a file gives.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "maskeval/image.h"

namespace maskeval {

// Decoded bytes against the bytes a test expects (found by argument-dependent lookup).
inline bool operator==(const Bytes& a, const std::vector<uint8_t>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace maskeval

namespace maskeval::test {

namespace fs = std::filesystem;

inline bool host_big_endian() {
  const uint16_t one = 1;
  uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 0;
}

// Reverses the bytes of every element of `size` bytes.
inline std::vector<uint8_t> swapped(std::vector<uint8_t> b, int size) {
  for (size_t i = 0; i + size <= b.size(); i += size) std::reverse(&b[i], &b[i] + size);
  return b;
}

// Values as bytes in the host's order.
template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Values as little-endian (or big-endian) bytes, whatever the host's order.
template <typename T>
std::vector<uint8_t> encode(const std::vector<T>& values, bool big_endian = false) {
  const std::vector<uint8_t> b = bytes_of(values);
  return big_endian == host_big_endian() ? b : swapped(b, sizeof(T));
}

template <typename T>
std::vector<T> values_of(const RawImage& img) {
  std::vector<T> v(img.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), img.bytes.data(), v.size() * sizeof(T));
  return v;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  ASSERT_TRUE(f.good()) << path;
}

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// zlib format (deflate with the zlib header), as ITK writes .zraw and CompressedData.
inline std::vector<uint8_t> zlib_compress(const std::vector<uint8_t>& b) {
  uLongf size = compressBound(static_cast<uLong>(b.size()));
  std::vector<uint8_t> out(size);
  EXPECT_EQ(compress2(out.data(), &size, b.data(), static_cast<uLong>(b.size()), 6), Z_OK);
  out.resize(size);
  return out;
}

// gzip format, as NRRD's "encoding: gzip" and .nii.gz.
inline std::vector<uint8_t> gzip_compress(const std::vector<uint8_t>& b) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(b.size())) + 32);
  zs.next_in = const_cast<Bytef*>(b.data());
  zs.avail_in = static_cast<uInt>(b.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// The message of the InputError that read_image throws for `path`.
inline std::string input_error(const std::string& path, const ReadLimits& limits = {}) {
  try {
    read_image(path, limits);
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not an InputError: ") + e.what() + ">";
  }
  return "<no error>";
}

// A fixture with a fresh temporary folder per test.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "maskeval_test_io_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

}  // namespace maskeval::test
