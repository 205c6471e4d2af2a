// SHA-256 (FIPS 180-4) over bytes fed in pieces, for the content hashes of the input files.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace maskeval {

// Incremental SHA-256: update() any number of times, then finish() once.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // The digest of everything given to update(); the object is spent afterwards.
  std::array<uint8_t, 32> finish();
  // finish() as 64 lowercase hexadecimal digits (what `sha256sum` prints).
  std::string finish_hex();
  // Bytes given to update() so far.
  uint64_t size() const { return total_; }

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> block_{};
  size_t used_ = 0;  // bytes waiting in block_
  uint64_t total_ = 0;
};

// The hex digest of a buffer in one call.
std::string sha256_hex(const void* data, size_t size);

}  // namespace maskeval
