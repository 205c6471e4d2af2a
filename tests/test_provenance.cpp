// SHA-256 against the FIPS 180-4 test vectors, and the size and hash of every input a report
// records, checked against the files themselves.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "maskeval/image.h"
#include "test_util.h"
#include "util/sha256.h"

namespace maskeval {
namespace {

using test::Json;
using test::kData;
using test::TempDir;

std::string hex_of(const std::string& s) {
  return sha256_hex(s.data(), s.size());
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),  // 448 bits
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecesOfAnySizeGiveTheSameDigest) {
  const std::string a(1000000, 'a');
  for (const size_t piece : {1, 3, 55, 56, 63, 64, 65, 1000, 65536}) {
    Sha256 h;
    for (size_t at = 0; at < a.size(); at += piece)
      h.update(a.data() + at, std::min(piece, a.size() - at));
    EXPECT_EQ(h.size(), a.size());
    EXPECT_EQ(h.finish_hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        << piece;
  }
  // Messages whose padding ends exactly at, or spills over, a block boundary.
  for (const size_t n : {55, 56, 57, 63, 64, 119, 120}) {
    Sha256 h;
    const std::string m(n, 'x');
    h.update(m.data(), n);
    EXPECT_EQ(h.finish_hex(), hex_of(m)) << n;
  }
}

// Each reader hashes what it reads: the digest equals the file's own.
TEST(Provenance, ReadersRecordTheFileTheyRead) {
  for (const std::string rel :
       {"/bu-bil/000092/experts/Expert1.png",
        "/kits23/case_00061/instances/kidney_instance-1_annotation-2.nii.gz"}) {
    const std::string path = kData + rel;
    const RawImage img = read_image(path);
    ASSERT_EQ(img.files.count(path), 1u) << path;
    const std::string bytes = file_bytes(path);
    EXPECT_EQ(img.files.at(path).bytes, static_cast<int64_t>(bytes.size()));
    EXPECT_EQ(img.files.at(path).sha256, hex_of(bytes)) << path;
  }
}

// Plain and gzip'd NIfTI with bytes after the data or the stream: the whole file is hashed.
TEST(Provenance, NiftiTrailingBytesAreHashedToo) {
  TempDir d;
  Geometry g;
  g.ndim = 3;
  g.shape = {7, 5, 3};
  Bytes pixels(g.voxels());
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i % 3);
  for (const std::string name : {"v.nii", "v.nii.gz"}) {
    const std::string path = d / name;
    write_nifti(path, g, PixelType::kU8, pixels.data());
    std::ofstream(path, std::ios::binary | std::ios::app) << "trailing";
    const RawImage back = read_image(path);
    EXPECT_EQ(back.bytes, pixels) << name;
    const std::string bytes = file_bytes(path);
    EXPECT_EQ(back.files.at(path).bytes, static_cast<int64_t>(bytes.size())) << name;
    EXPECT_EQ(back.files.at(path).sha256, hex_of(bytes)) << name;
  }
}

// report.json lists every file of a case with its size and hash, as `sha256sum` gives them.
TEST(Provenance, ReportRecordsEveryInputOfACase) {
  TempDir d;
  std::filesystem::create_directories(d / "cases");
  std::filesystem::copy(kData + "/bu-bil/000092", d / "cases/000092",
                        std::filesystem::copy_options::recursive);
  const std::string out = d / "png";
  const auto r = test::run("agree --cases " + d / "cases" + " --raters 'experts/*.png' " +
                           "--reference gold.png --foreground '<128' --no-maps -o " + out);
  ASSERT_EQ(r.code, 0) << r.text;
  const Json report = test::read_json(out + "/report.json");
  const Json& c = report.at("cases").at(0);
  std::map<std::string, Json> by_path;
  for (const Json& f : c.at("inputs")) by_path[f.at("path").get<std::string>()] = f;
  EXPECT_EQ(by_path.size(), 4u);  // three experts and the reference
  for (const auto& [path, f] : by_path) {
    const std::string bytes = file_bytes(path);
    EXPECT_EQ(f.at("bytes").get<int64_t>(), static_cast<int64_t>(bytes.size())) << path;
    EXPECT_EQ(f.at("sha256"), hex_of(bytes)) << path;
  }
  // sha256sum data/bu-bil/000092/experts/Expert1.png (copied above)
  EXPECT_EQ(by_path.at(d / "cases/000092/experts/Expert1.png").at("sha256"),
            "a896f40efa766bf2affa73bd4359ca673b933fe387045b862ee22d792d144edc");
}

TEST(Provenance, ReportRecordsPerLabelNiftiInputs) {
  TempDir d;
  const std::string out = d / "kits";
  const auto r =
      test::run("agree --manifest " + kData + "/kits23/manifest.csv --no-maps -o " + out);
  ASSERT_EQ(r.code, 0) << r.text;
  const Json report = test::read_json(out + "/report.json");
  const Json& c = report.at("cases").at(0);
  size_t files = 0;
  for (const auto& [rater, list] : c.at("files").items()) files += list.size();
  ASSERT_GE(c.at("inputs").size(), files);
  bool seen = false;
  for (const Json& f : c.at("inputs")) {
    const std::string path = f.at("path");
    EXPECT_EQ(f.at("sha256"), hex_of(file_bytes(path))) << path;
    const std::string tail = "instances/kidney_instance-1_annotation-2.nii.gz";
    if (path.size() >= tail.size() &&
        path.compare(path.size() - tail.size(), tail.size(), tail) == 0) {
      // sha256sum data/kits23/case_00061/instances/kidney_instance-1_annotation-2.nii.gz
      EXPECT_EQ(f.at("sha256"), "d9a1562ae07e2c03a652c5bd89a408ab8bfe0f5f229e842f065bd8fe4f628b4d");
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace maskeval
