// MetaImage (.mha/.mhd) and NRRD (.nrrd/.nhdr) readers. Every fixture is written here, in a
// temporary directory: headers as text, pixel data as bytes, compressed with zlib.
#include <gtest/gtest.h>

#include <zlib.h>
#include "io_test_util.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "maskeval/image.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::encode;
using test::gzip_compress;
using test::input_error;
using test::values_of;
using test::write_bytes;
using test::zlib_compress;

// --- Helpers ---------------------------------------------------------------------------------

std::vector<uint8_t> concat(const std::string& text, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(text.begin(), text.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

class MedicalIoTest : public test::TempDirTest {
 protected:
  // Writes `header` + `data` to `name` and returns the InputError message of reading it.
  std::string error_for(const std::string& name, const std::string& header,
                        const std::vector<uint8_t>& data = {}) {
    write_bytes(path(name), concat(header, data));
    return input_error(path(name));
  }
};

const std::vector<uint8_t> kVolume12 = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};

// A 3x2x2 uint8 .mha header, anisotropic, with the orientation keys ITK writes.
std::string mha_u8_header(const std::string& extra = "") {
  return "ObjectType = Image\n"
         "NDims = 3\n"
         "BinaryData = True\n"
         "BinaryDataByteOrderMSB = False\n"
         "CompressedData = False\n"
         "TransformMatrix = 1 0 0 0 1 0 0 0 1\n"
         "Offset = -10.5 3 7\n"
         "CenterOfRotation = 0 0 0\n"
         "AnatomicalOrientation = RAI\n"
         "ElementSpacing = 0.7 0.8 5.0\n"
         "DimSize = 3 2 2\n"
         "ElementType = MET_UCHAR\n" +
         extra + "ElementDataFile = LOCAL\n";
}

// A 3x2x2 uint8 attached NRRD header.
std::string nrrd_u8_header(const std::string& extra = "") {
  return "NRRD0004\n"
         "type: uint8\n"
         "dimension: 3\n"
         "sizes: 3 2 2\n"
         "encoding: raw\n" +
         extra + "\n";
}

// --- MetaImage -------------------------------------------------------------------------------

TEST(IsMaskFileMedical, MetaImageAndNrrdExtensions) {
  for (const char* p : {"a.mha", "a.MHA", "d/a.mhd", "a.nrrd", "a.NRRD", "a.nhdr", "a.Nhdr"}) {
    EXPECT_TRUE(is_mask_file(p)) << p;
  }
  for (const char* p : {"a.raw", "a.zraw", "a.mha.bak", "nrrd", "a.nrrd.gz"}) {
    EXPECT_FALSE(is_mask_file(p)) << p;
  }
}

TEST_F(MedicalIoTest, MhaUncompressedUint8Volume) {
  write_bytes(path("vol.mha"), concat(mha_u8_header(), kVolume12));
  const RawImage img = read_image(path("vol.mha"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.ndim, 3);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 2}));
  EXPECT_DOUBLE_EQ(img.geom.spacing[0], 0.7);
  EXPECT_DOUBLE_EQ(img.geom.spacing[1], 0.8);
  EXPECT_DOUBLE_EQ(img.geom.spacing[2], 5.0);
  EXPECT_EQ(img.geom.spacing_unit, "mm");
  EXPECT_EQ(img.geom.format, "metaimage");
  EXPECT_TRUE(img.geom.nifti_header.empty());
  EXPECT_EQ(img.bytes, kVolume12);

  // The extension is matched ignoring case; CRLF header lines are accepted.
  std::string crlf;
  for (char c : mha_u8_header()) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  write_bytes(path("VOL2.MHA"), concat(crlf, kVolume12));
  EXPECT_EQ(read_image(path("VOL2.MHA")).bytes, kVolume12);
}

TEST_F(MedicalIoTest, MhaCompressedInt16) {
  const std::vector<int16_t> values = {-32768, -1, 0, 1, 300, 32767};
  const std::vector<uint8_t> z = zlib_compress(encode(values));
  const std::string header =
      "ObjectType = Image\nNDims = 2\nBinaryData = True\n"
      "BinaryDataByteOrderMSB = False\nCompressedData = True\n"
      "CompressedDataSize = " +
      std::to_string(z.size()) +
      "\nElementSpacing = 0.5 0.25\nDimSize = 3 2\n"
      "ElementType = MET_SHORT\nElementDataFile = LOCAL\n";
  write_bytes(path("c.mha"), concat(header, z));
  const RawImage img = read_image(path("c.mha"));
  EXPECT_EQ(img.type, PixelType::kI16);
  EXPECT_EQ(img.geom.ndim, 2);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 1}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{0.5, 0.25, 1.0}));
  EXPECT_EQ(values_of<int16_t>(img), values);

  // Without CompressedDataSize the stream runs to the end of the file.
  const std::string no_size =
      "NDims = 2\nDimSize = 3 2\nElementType = MET_SHORT\n"
      "CompressedData = True\nElementDataFile = LOCAL\n";
  write_bytes(path("c2.mha"), concat(no_size, z));
  EXPECT_EQ(values_of<int16_t>(read_image(path("c2.mha"))), values);
}

TEST_F(MedicalIoTest, MhaBigEndianInt16IsSwappedToNative) {
  const std::vector<int16_t> values = {-2, 258, 0, 12345};
  for (const char* key : {"BinaryDataByteOrderMSB", "ElementByteOrderMSB"}) {
    const std::string header = std::string("NDims = 2\nDimSize = 2 2\nElementType = MET_SHORT\n") +
                               key + " = True\nElementDataFile = LOCAL\n";
    write_bytes(path("be.mha"), concat(header, encode(values, true)));
    EXPECT_EQ(values_of<int16_t>(read_image(path("be.mha"))), values) << key;
  }
}

TEST_F(MedicalIoTest, MhdRawFloat32WithElementSize) {
  const std::vector<float> values = {0.0f, 1.5f, -2.25f, 3e10f, 1e-20f, -0.0f};
  write_bytes(path("img.raw"), encode(values));
  write_text(path("img.mhd"),
             "ObjectType = Image\nNDims = 2\nDimSize = 2 3\nElementSize = 0.7 0.8\n"
             "ElementType = MET_FLOAT\nElementDataFile = img.raw\n");
  const RawImage img = read_image(path("img.mhd"));
  EXPECT_EQ(img.type, PixelType::kF32);
  EXPECT_EQ(img.geom.ndim, 2);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{2, 3, 1}));
  EXPECT_DOUBLE_EQ(img.geom.spacing[0], 0.7);
  EXPECT_DOUBLE_EQ(img.geom.spacing[1], 0.8);
  EXPECT_EQ(img.geom.format, "metaimage");
  EXPECT_EQ(values_of<float>(img), values);

  // ElementSpacing wins over ElementSize.
  write_text(path("img2.mhd"),
             "NDims = 2\nDimSize = 2 3\nElementSize = 9 9\nElementSpacing = 0.3 0.4\n"
             "ElementType = MET_FLOAT\nElementDataFile = img.raw\n");
  EXPECT_EQ(read_image(path("img2.mhd")).geom.spacing, (std::array<double, 3>{0.3, 0.4, 1.0}));
}

TEST_F(MedicalIoTest, MhdZrawZlibOrGzipWithChannels) {
  // Two RGB pixels wide, two high; the data file is found next to the header, not in the cwd.
  const std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
  fs::create_directory(path("case1"));
  const std::string header =
      "ObjectType = Image\nNDims = 2\nDimSize = 2 2\n"
      "ElementNumberOfChannels = 3\nElementType = MET_UCHAR\n"
      "CompressedData = True\nElementDataFile = ";
  write_bytes(path("case1/img.zraw"), zlib_compress(rgb));
  write_text(path("case1/img.mhd"), header + "img.zraw\n");
  const RawImage img = read_image(path("case1/img.mhd"));
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{2, 2, 1}));
  EXPECT_EQ(img.bytes, rgb);

  write_bytes(path("case1/gz.zraw"), gzip_compress(rgb));
  write_text(path("case1/gz.mhd"), header + "gz.zraw\n");
  EXPECT_EQ(read_image(path("case1/gz.mhd")).bytes, rgb);
}

TEST_F(MedicalIoTest, MetDoubleZeroOneAnd4DWithOneTimePoint) {
  const std::vector<double> values = {0, 1, 1, 0, 0, 0, 1, 1};
  const std::string header =
      "ObjectType = Image\nNDims = 4\nDimSize = 2 2 2 1\n"
      "ElementSpacing = 1.5 1.5 3 1\nElementType = MET_DOUBLE\n"
      "ElementDataFile = LOCAL\n";
  write_bytes(path("d.mha"), concat(header, encode(values)));
  const RawImage img = read_image(path("d.mha"));
  EXPECT_EQ(img.type, PixelType::kF64);
  EXPECT_EQ(img.geom.ndim, 3);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{2, 2, 2}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{1.5, 1.5, 3.0}));
  EXPECT_EQ(values_of<double>(img), values);
}

TEST_F(MedicalIoTest, MetLongIs32Bit) {
  const std::vector<int32_t> values = {-7, 70000};
  write_bytes(path("l.mha"), concat("NDims = 2\nDimSize = 2 1\nElementType = MET_LONG\n"
                                    "ElementDataFile = LOCAL\n",
                                    encode(values)));
  const RawImage img = read_image(path("l.mha"));
  EXPECT_EQ(img.type, PixelType::kI32);
  EXPECT_EQ(values_of<int32_t>(img), values);

  write_bytes(path("ul.mha"), concat("NDims = 2\nDimSize = 2 1\nElementType = MET_ULONG\n"
                                     "ElementDataFile = LOCAL\n",
                                     encode(std::vector<uint32_t>{4000000000u, 3})));
  EXPECT_EQ(read_image(path("ul.mha")).type, PixelType::kU32);
}

TEST_F(MedicalIoTest, MhdHeaderSizeSkipsOrPutsDataAtTheEnd) {
  const std::vector<uint8_t> junk = {'J', 'U', 'N', 'K', '!', '!', '!'};
  std::vector<uint8_t> raw = junk;
  raw.insert(raw.end(), kVolume12.begin(), kVolume12.end());
  write_bytes(path("h.raw"), raw);
  const std::string header = "NDims = 3\nDimSize = 3 2 2\nElementType = MET_UCHAR\n";
  write_text(path("h7.mhd"), header + "HeaderSize = 7\nElementDataFile = h.raw\n");
  EXPECT_EQ(read_image(path("h7.mhd")).bytes, kVolume12);
  write_text(path("hend.mhd"), header + "HeaderSize = -1\nElementDataFile = h.raw\n");
  EXPECT_EQ(read_image(path("hend.mhd")).bytes, kVolume12);
}

TEST_F(MedicalIoTest, MetaImageBadInputs) {
  const std::string u8 = "NDims = 2\nDimSize = 3 2\nElementType = MET_UCHAR\n";
  EXPECT_TRUE(contains(error_for("trunc.mha", mha_u8_header(), {1, 2, 3, 4, 5}),
                       "truncated MetaImage data: expected 12 bytes, got 5"));

  write_text(path("nodata.mhd"), u8 + "ElementDataFile = missing.raw\n");
  const std::string missing = input_error(path("nodata.mhd"));
  EXPECT_TRUE(contains(missing, "missing.raw"));
  EXPECT_TRUE(contains(missing, "cannot open"));

  EXPECT_TRUE(contains(error_for("list.mhd", u8 + "ElementDataFile = LIST\n"), "LIST"));
  EXPECT_TRUE(
      contains(error_for("pat.mhd", u8 + "ElementDataFile = sl%03d.raw 1 3 1\n"), "not supported"));
  for (const char* nd : {"5", "1", "0", "-3", "abc", "3.5", ""}) {
    const std::string header = std::string("NDims = ") + nd +
                               "\nDimSize = 3 2\nElementType = MET_UCHAR\n"
                               "ElementDataFile = LOCAL\n";
    EXPECT_TRUE(contains(error_for("nd.mha", header, kVolume12), "NDims")) << nd;
  }
  EXPECT_TRUE(contains(error_for("nodim.mha",
                                 "NDims = 2\nElementType = MET_UCHAR\n"
                                 "ElementDataFile = LOCAL\n",
                                 kVolume12),
                       "DimSize"));
  for (const char* dims : {"3", "3 2 2", "3 0", "3 -2", "3 x", "99999999999999999999 2"}) {
    const std::string header = std::string("NDims = 2\nDimSize = ") + dims +
                               "\nElementType = MET_UCHAR\n"
                               "ElementDataFile = LOCAL\n";
    EXPECT_TRUE(contains(error_for("dims.mha", header, kVolume12), "DimSize")) << dims;
  }
  EXPECT_TRUE(contains(error_for("huge.mha",
                                 "NDims = 3\nDimSize = 100000 100000 1000000\n"
                                 "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
                                 kVolume12),
                       "(--max-voxels)"));
  EXPECT_TRUE(contains(error_for("type.mha",
                                 "NDims = 2\nDimSize = 3 2\nElementType = MET_STRING\n"
                                 "ElementDataFile = LOCAL\n",
                                 kVolume12),
                       "ElementType"));
  EXPECT_TRUE(contains(error_for("notype.mha",
                                 "NDims = 2\nDimSize = 3 2\n"
                                 "ElementDataFile = LOCAL\n",
                                 kVolume12),
                       "ElementType"));
  EXPECT_TRUE(contains(error_for("nofile.mha", u8, kVolume12), "ElementDataFile"));
  EXPECT_TRUE(contains(error_for("4d.mha",
                                 "NDims = 4\nDimSize = 3 2 1 2\nElementType = MET_UCHAR\n"
                                 "ElementDataFile = LOCAL\n",
                                 kVolume12),
                       "4D"));
  EXPECT_TRUE(contains(
      error_for("sp.mha", u8 + "ElementSpacing = 0.7 abc\nElementDataFile = LOCAL\n", kVolume12),
      "ElementSpacing"));
  EXPECT_TRUE(contains(
      error_for("sp0.mha", u8 + "ElementSpacing = 0.7 0\nElementDataFile = LOCAL\n", kVolume12),
      "ElementSpacing"));
  EXPECT_TRUE(contains(error_for("msb.mha",
                                 u8 + "ElementByteOrderMSB = maybe\n"
                                      "ElementDataFile = LOCAL\n",
                                 kVolume12),
                       "ElementByteOrderMSB"));
  EXPECT_TRUE(contains(
      error_for("ascii.mha", u8 + "BinaryData = False\nElementDataFile = LOCAL\n", kVolume12),
      "BinaryData"));
  EXPECT_TRUE(contains(
      error_for("obj.mha", "ObjectType = Tube\n" + u8 + "ElementDataFile = LOCAL\n", kVolume12),
      "ObjectType"));
  EXPECT_TRUE(contains(error_for("hs.mha",
                                 u8 + "CompressedData = True\nHeaderSize = -1\n"
                                      "ElementDataFile = LOCAL\n",
                                 zlib_compress({1, 2, 3, 4, 5, 6})),
                       "CompressedDataSize"));

  // Corrupt and truncated compressed data.
  std::vector<uint8_t> z = zlib_compress(kVolume12);
  std::vector<uint8_t> bad = z;
  bad[0] ^= 0xff;  // the zlib header
  const std::string zhead = u8 + "CompressedData = True\nElementDataFile = LOCAL\n";
  EXPECT_TRUE(contains(error_for("corrupt.mha", zhead, bad), "corrupt"));
  const std::vector<uint8_t> six = zlib_compress({1, 2, 3, 4, 5, 6});
  write_bytes(path("cut.zraw"), std::vector<uint8_t>(six.begin(), six.begin() + 4));
  write_text(path("cut.mhd"), u8 + "CompressedData = True\nElementDataFile = cut.zraw\n");
  EXPECT_TRUE(contains(input_error(path("cut.mhd")), "truncated"));
  write_bytes(path("short.zraw"), zlib_compress({1, 2, 3}));  // a whole stream, too little data
  write_text(path("short.mhd"), u8 + "CompressedData = True\nElementDataFile = short.zraw\n");
  EXPECT_TRUE(contains(input_error(path("short.mhd")),
                       "truncated MetaImage data: expected 6 bytes, got 3"));

  // Not a MetaImage header at all.
  EXPECT_TRUE(contains(error_for("text.mha", "hello world\nno keys here\n"), "not a MetaImage"));
  const std::vector<uint8_t> png_sig = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
  write_bytes(path("png.mha"), png_sig);
  EXPECT_TRUE(contains(input_error(path("png.mha")), "looks like PNG"));
  write_bytes(path("bin.mha"), std::vector<uint8_t>(300000, 'x'));  // no line end at all
  EXPECT_TRUE(contains(input_error(path("bin.mha")), "header"));
}

// --- NRRD ------------------------------------------------------------------------------------

TEST_F(MedicalIoTest, NrrdRawUint8VolumeWithObliqueDirections) {
  const std::string header =
      "NRRD0005\n"
      "# Complete NRRD file format specification at:\n"
      "# http://teem.sourceforge.net/nrrd/format.html\n"
      "type: unsigned char\n"
      "dimension: 3\n"
      "space: left-posterior-superior\n"
      "sizes: 3 2 2\n"
      "space directions: (0.42,0.56,0) (0, 0.8, 0) (0,0,5)\n"
      "kinds: domain domain domain\n"
      "endian: little\n"
      "encoding: raw\n"
      "space units: \"mm\" \"mm\" \"mm\"\n"
      "space origin: (-10.5,3,7)\n"
      "ITK_InputFilterName:=NrrdImageIO\n"
      "note:=a: b\n"
      "\n";
  write_bytes(path("v.nrrd"), concat(header, kVolume12));
  const RawImage img = read_image(path("v.nrrd"));
  EXPECT_EQ(img.type, PixelType::kU8);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.geom.ndim, 3);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 2}));
  EXPECT_NEAR(img.geom.spacing[0], 0.7, 1e-12);  // |(0.42, 0.56, 0)|
  EXPECT_DOUBLE_EQ(img.geom.spacing[1], 0.8);
  EXPECT_DOUBLE_EQ(img.geom.spacing[2], 5.0);
  EXPECT_EQ(img.geom.spacing_unit, "mm");
  EXPECT_EQ(img.geom.format, "nrrd");
  EXPECT_EQ(img.bytes, kVolume12);

  // Minimal header, upper-case extension: unit unknown, unit spacing.
  write_bytes(path("MIN.NRRD"), concat(nrrd_u8_header(), kVolume12));
  const RawImage min = read_image(path("MIN.NRRD"));
  EXPECT_EQ(min.bytes, kVolume12);
  EXPECT_EQ(min.geom.spacing, (std::array<double, 3>{1, 1, 1}));
  EXPECT_EQ(min.geom.spacing_unit, "");
}

TEST_F(MedicalIoTest, NrrdGzipUshortBigEndian) {
  const std::vector<uint16_t> values = {0, 1, 256, 1000, 65535, 4660};
  const std::string header =
      "NRRD0004\ntype: ushort\ndimension: 2\nsizes: 3 2\nendian: big\nencoding: gzip\n"
      "space dimension: 2\nspace directions: (0.5,0) (0,0.25)\n\n";
  write_bytes(path("g.nrrd"), concat(header, gzip_compress(encode(values, true))));
  const RawImage img = read_image(path("g.nrrd"));
  EXPECT_EQ(img.type, PixelType::kU16);
  EXPECT_EQ(img.geom.ndim, 2);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{3, 2, 1}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{0.5, 0.25, 1.0}));
  EXPECT_EQ(values_of<uint16_t>(img), values);

  // "gz", a zlib stream instead of gzip, and byte skip applied to the decompressed data.
  std::vector<uint8_t> skipped = {9, 9, 9};
  const std::vector<uint8_t> be = encode(values, true);
  skipped.insert(skipped.end(), be.begin(), be.end());
  const std::string header2 =
      "NRRD0004\ntype: uint16_t\ndimension: 2\nsizes: 3 2\nendian: big\nencoding: gz\n"
      "byte skip: 3\n\n";
  write_bytes(path("z.nrrd"), concat(header2, zlib_compress(skipped)));
  EXPECT_EQ(values_of<uint16_t>(read_image(path("z.nrrd"))), values);
}

TEST_F(MedicalIoTest, NhdrDetachedRawWithLineAndByteSkip) {
  const std::vector<int16_t> values = {-5, 4, -3, 2, -1, 0, 32767, -32768};
  std::vector<uint8_t> raw = {'j', 'u', 'n', 'k', '\n', 7, 7, 7};
  const std::vector<uint8_t> le = encode(values);
  raw.insert(raw.end(), le.begin(), le.end());
  write_bytes(path("img.raw"), raw);
  write_text(path("img.nhdr"),
             "NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nendian: little\n"
             "encoding: raw\nspacings: 0.7 0.8 5.0\ndata file: img.raw\nline skip: 1\n"
             "byte skip: 3\n");  // no blank line: nothing is attached to a detached header
  const RawImage img = read_image(path("img.nhdr"));
  EXPECT_EQ(img.type, PixelType::kI16);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{2, 2, 2}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{0.7, 0.8, 5.0}));
  EXPECT_EQ(values_of<int16_t>(img), values);

  // "datafile" spelling, byte skip -1: the data ends the file.
  write_text(path("end.nhdr"),
             "NRRD0004\ntype: int16\ndimension: 3\nsizes: 2 2 2\nendian: little\n"
             "encoding: raw\ndatafile: img.raw\nbyte skip: -1\n\n");
  EXPECT_EQ(values_of<int16_t>(read_image(path("end.nhdr"))), values);

  // Detached gzip data in a subfolder, relative to the header.
  fs::create_directory(path("sub"));
  write_bytes(path("sub/d.raw.gz"), gzip_compress(le));
  write_text(path("sub/d.nhdr"),
             "NRRD0004\ntype: int16\ndimension: 3\nsizes: 2 2 2\nendian: little\n"
             "encoding: gzip\ndata file: d.raw.gz\n");
  EXPECT_EQ(values_of<int16_t>(read_image(path("sub/d.nhdr"))), values);
}

TEST_F(MedicalIoTest, NrrdSpacingsAndUnits) {
  write_bytes(
      path("s.nrrd"),
      concat(nrrd_u8_header("spacings: 0.7 0.8 5.0\nunits: \"mm\" \"mm\" \"mm\"\n"), kVolume12));
  RawImage img = read_image(path("s.nrrd"));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{0.7, 0.8, 5.0}));
  EXPECT_EQ(img.geom.spacing_unit, "mm");

  // Negative spacings give their magnitude, NaN gives 1; units that differ are unknown.
  write_bytes(
      path("s2.nrrd"),
      concat(nrrd_u8_header("spacings: -2 NaN 0.5\nunits: \"mm\" \"um\" \"mm\"\n"), kVolume12));
  img = read_image(path("s2.nrrd"));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{2.0, 1.0, 0.5}));
  EXPECT_EQ(img.geom.spacing_unit, "");

  write_bytes(path("s3.nrrd"),
              concat(nrrd_u8_header("space dimension: 3\nspace directions: (0.01,0,0) "
                                    "(0,0.01,0) (0,0,0.02)\nspace units: \"microns\" "
                                    "\"microns\" \"microns\"\n"),
                     kVolume12));
  EXPECT_EQ(read_image(path("s3.nrrd")).geom.spacing_unit, "um");
}

TEST_F(MedicalIoTest, NrrdLeadingColourAxisIsChannels) {
  const std::vector<uint8_t> rgb = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
  const std::string header =
      "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 3 4 2\nkinds: RGB-color domain domain\n"
      "space dimension: 2\nspace directions: none (0.5,0) (0,0.5)\nencoding: raw\n\n";
  write_bytes(path("rgb.nrrd"), concat(header, rgb));
  const RawImage img = read_image(path("rgb.nrrd"));
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.geom.ndim, 2);
  EXPECT_EQ(img.geom.shape, (std::array<int64_t, 3>{4, 2, 1}));
  EXPECT_EQ(img.geom.spacing, (std::array<double, 3>{0.5, 0.5, 1.0}));
  EXPECT_EQ(img.bytes, rgb);

  // Without kinds, a "none" space direction on the first axis marks it too.
  const std::vector<float> vec = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::string header2 =
      "NRRD0004\ntype: float\ndimension: 4\nsizes: 2 2 2 1\nendian: little\nencoding: raw\n"
      "space directions: none (1,0,0) (0,1,0) (0,0,2)\n\n";
  write_bytes(path("vec.nrrd"), concat(header2, encode(vec)));
  const RawImage img2 = read_image(path("vec.nrrd"));
  EXPECT_EQ(img2.channels, 2);
  EXPECT_EQ(img2.geom.ndim, 3);
  EXPECT_EQ(img2.geom.shape, (std::array<int64_t, 3>{2, 2, 1}));
  EXPECT_EQ(img2.geom.spacing, (std::array<double, 3>{1.0, 1.0, 2.0}));
  EXPECT_EQ(values_of<float>(img2), vec);
}

TEST_F(MedicalIoTest, NrrdTextEncoding) {
  const std::string header = "NRRD0004\ntype: int\ndimension: 2\nsizes: 3 2\nencoding: ascii\n\n";
  write_text(path("t.nrrd"), header + "0 1 -2\n3, 4 2147483647\n");
  const RawImage img = read_image(path("t.nrrd"));
  EXPECT_EQ(img.type, PixelType::kI32);
  EXPECT_EQ(values_of<int32_t>(img), (std::vector<int32_t>{0, 1, -2, 3, 4, 2147483647}));

  write_text(path("tf.nrrd"),
             "NRRD0004\ntype: double\ndimension: 2\nsizes: 2 1\n"
             "encoding: text\n\n0.25 -1e3\n");
  EXPECT_EQ(values_of<double>(read_image(path("tf.nrrd"))), (std::vector<double>{0.25, -1e3}));

  write_text(path("tb.nrrd"),
             "NRRD0004\ntype: uchar\ndimension: 2\nsizes: 2 1\n"
             "encoding: txt\n\n1 256\n");
  EXPECT_TRUE(contains(input_error(path("tb.nrrd")), "invalid NRRD text value '256'"));
  write_text(path("ts.nrrd"),
             "NRRD0004\ntype: uchar\ndimension: 2\nsizes: 2 2\n"
             "encoding: txt\n\n1  2  3  \n");
  EXPECT_TRUE(contains(input_error(path("ts.nrrd")), "expected 4 values, got 3"));
  write_text(path("tbig.nrrd"),
             "NRRD0004\ntype: double\ndimension: 3\n"
             "sizes: 10000 10000 10\nencoding: text\n\n1 2 3\n");
  EXPECT_TRUE(contains(input_error(path("tbig.nrrd")), "truncated NRRD data"));
}

TEST_F(MedicalIoTest, NrrdTypeNames) {
  struct Case {
    const char* name;
    PixelType type;
  };
  const Case cases[] = {
      {"signed char", PixelType::kI8},
      {"int8", PixelType::kI8},
      {"int8_t", PixelType::kI8},
      {"uchar", PixelType::kU8},
      {"unsigned char", PixelType::kU8},
      {"uint8", PixelType::kU8},
      {"uint8_t", PixelType::kU8},
      {"short", PixelType::kI16},
      {"short int", PixelType::kI16},
      {"signed short", PixelType::kI16},
      {"signed short int", PixelType::kI16},
      {"int16", PixelType::kI16},
      {"int16_t", PixelType::kI16},
      {"ushort", PixelType::kU16},
      {"unsigned short", PixelType::kU16},
      {"unsigned short int", PixelType::kU16},
      {"uint16", PixelType::kU16},
      {"uint16_t", PixelType::kU16},
      {"int", PixelType::kI32},
      {"signed int", PixelType::kI32},
      {"int32", PixelType::kI32},
      {"int32_t", PixelType::kI32},
      {"uint", PixelType::kU32},
      {"unsigned int", PixelType::kU32},
      {"uint32", PixelType::kU32},
      {"uint32_t", PixelType::kU32},
      {"longlong", PixelType::kI64},
      {"long long", PixelType::kI64},
      {"long long int", PixelType::kI64},
      {"signed long long", PixelType::kI64},
      {"signed long long int", PixelType::kI64},
      {"int64", PixelType::kI64},
      {"int64_t", PixelType::kI64},
      {"ulonglong", PixelType::kU64},
      {"unsigned long long", PixelType::kU64},
      {"unsigned long long int", PixelType::kU64},
      {"uint64", PixelType::kU64},
      {"uint64_t", PixelType::kU64},
      {"float", PixelType::kF32},
      {"double", PixelType::kF64},
  };
  for (const Case& c : cases) {
    const int size = pixel_type_size(c.type);
    std::vector<uint8_t> data(2 * size, 0);
    data[size - 1] = 0x40;  // big-endian: the last byte of a value is its least significant
    const std::string header = std::string("NRRD0004\ntype: ") + c.name +
                               "\ndimension: 2\nsizes: 2 1\nendian: big\nencoding: raw\n\n";
    write_bytes(path("t.nrrd"), concat(header, data));
    const RawImage img = read_image(path("t.nrrd"));
    EXPECT_EQ(img.type, c.type) << c.name;
    ASSERT_EQ(img.bytes.size(), static_cast<size_t>(2 * size)) << c.name;
    // The value 0x40, in native order, then a zero.
    std::vector<uint8_t> expected(2 * size, 0);
    expected[!test::host_big_endian() ? 0 : size - 1] = 0x40;
    EXPECT_EQ(img.bytes, expected) << c.name;
  }
}

TEST_F(MedicalIoTest, NrrdBadInputs) {
  const std::string base = "NRRD0004\ntype: uint8\ndimension: 3\nencoding: raw\n";
  EXPECT_TRUE(contains(error_for("nosizes.nrrd", base + "\n", kVolume12), "'sizes'"));
  EXPECT_TRUE(contains(error_for("notype.nrrd",
                                 "NRRD0004\ndimension: 3\nsizes: 3 2 2\n"
                                 "encoding: raw\n\n",
                                 kVolume12),
                       "'type'"));
  EXPECT_TRUE(contains(error_for("noenc.nrrd",
                                 "NRRD0004\ntype: uint8\ndimension: 3\n"
                                 "sizes: 3 2 2\n\n",
                                 kVolume12),
                       "'encoding'"));
  EXPECT_TRUE(contains(error_for("nodim.nrrd",
                                 "NRRD0004\ntype: uint8\nsizes: 3 2 2\n"
                                 "encoding: raw\n\n",
                                 kVolume12),
                       "'dimension'"));
  EXPECT_TRUE(contains(error_for("bz.nrrd",
                                 "NRRD0004\ntype: uint8\ndimension: 3\n"
                                 "sizes: 3 2 2\nencoding: bzip2\n\n",
                                 kVolume12),
                       "bzip2-encoded NRRD is not supported"));
  EXPECT_TRUE(contains(error_for("hex.nrrd",
                                 "NRRD0004\ntype: uint8\ndimension: 3\n"
                                 "sizes: 3 2 2\nencoding: hex\n\n",
                                 kVolume12),
                       "hex"));

  // Corrupt and truncated gzip data.
  std::vector<uint8_t> gz = gzip_compress(kVolume12);
  std::vector<uint8_t> bad = gz;
  for (size_t i = 10; i < bad.size(); ++i) bad[i] ^= 0x5a;
  const std::string gz_header =
      "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 3 2 2\n"
      "encoding: gzip\n\n";
  EXPECT_TRUE(contains(error_for("corrupt.nrrd", gz_header, bad), "corrupt"));
  EXPECT_TRUE(contains(error_for("cut.nrrd", gz_header,
                                 std::vector<uint8_t>(gz.begin(), gz.begin() + gz.size() / 2)),
                       "truncated"));
  EXPECT_TRUE(contains(error_for("skip.nrrd",
                                 "NRRD0004\ntype: uint8\ndimension: 3\n"
                                 "sizes: 3 2 2\nencoding: gzip\nbyte skip: -1\n\n",
                                 gz),
                       "byte skip"));

  // Magic.
  EXPECT_TRUE(
      contains(error_for("magic.nrrd", "PNRD0004\ntype: uint8\n\n", kVolume12), "not a NRRD file"));
  EXPECT_TRUE(contains(error_for("ver.nrrd", "NRRD0009\ntype: uint8\n\n", kVolume12), "version"));
  EXPECT_TRUE(contains(error_for("empty.nrrd", "x"), "not a NRRD file"));
  const std::vector<uint8_t> png_sig = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
  write_bytes(path("png.nrrd"), png_sig);
  EXPECT_TRUE(contains(input_error(path("png.nrrd")), "looks like PNG"));

  // Data file problems.
  write_text(path("gone.nhdr"),
             "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 3 2 2\n"
             "encoding: raw\ndata file: gone.raw\n");
  EXPECT_TRUE(contains(input_error(path("gone.nhdr")), "gone.raw"));
  write_text(path("list.nhdr"),
             "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 3 2 2\n"
             "encoding: raw\ndata file: LIST\na.raw\nb.raw\n");
  EXPECT_TRUE(contains(input_error(path("list.nhdr")), "LIST"));
  write_text(path("pat.nhdr"),
             "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 3 2 2\n"
             "encoding: raw\ndata file: s%03d.raw 1 2 1\n");
  EXPECT_TRUE(contains(input_error(path("pat.nhdr")), "not supported"));
  write_text(path("none.nhdr"),
             "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 3 2 2\n"
             "encoding: raw\n");
  EXPECT_TRUE(contains(input_error(path("none.nhdr")), "data file"));
  EXPECT_TRUE(contains(error_for("trunc.nrrd", nrrd_u8_header(), {1, 2, 3, 4}),
                       "truncated NRRD data: expected 12 bytes, got 4"));
  EXPECT_TRUE(
      contains(error_for("ls.nrrd", nrrd_u8_header("line skip: 3\n"), {'a', '\n'}), "line skip"));

  // Malformed fields.
  const std::string u16 = "NRRD0004\ntype: ushort\ndimension: 3\nsizes: 3 2 2\nencoding: raw\n";
  EXPECT_TRUE(contains(error_for("endian.nrrd", u16 + "\n", kVolume12), "'endian'"));
  EXPECT_TRUE(contains(error_for("endian2.nrrd", u16 + "endian: middle\n\n", kVolume12), "endian"));
  EXPECT_TRUE(contains(error_for("type.nrrd",
                                 "NRRD0004\ntype: block\nblock size: 4\n"
                                 "dimension: 2\nsizes: 3 2\nencoding: raw\n\n",
                                 kVolume12),
                       "type"));
  for (const char* sizes : {"3 2", "3 2 2 2", "3 0 2", "3 x 2", "3 2 -2", ""}) {
    EXPECT_TRUE(
        contains(error_for("sizes.nrrd", base + "sizes: " + sizes + "\n\n", kVolume12), "sizes"))
        << sizes;
  }
  for (const char* dim : {"0", "17", "two", "-1"}) {
    EXPECT_TRUE(contains(error_for("dim.nrrd",
                                   std::string("NRRD0004\ntype: uint8\ndimension: ") + dim +
                                       "\nsizes: 3 2 2\nencoding: raw\n\n",
                                   kVolume12),
                         "dimension"))
        << dim;
  }
  EXPECT_TRUE(contains(error_for("1d.nrrd",
                                 "NRRD0004\ntype: uint8\ndimension: 1\nsizes: 12\n"
                                 "encoding: raw\n\n",
                                 kVolume12),
                       "spatial"));
  EXPECT_TRUE(
      contains(error_for("list.nrrd", nrrd_u8_header("kinds: domain list domain\n"), kVolume12),
               "not spatial"));
  for (const char* dirs :
       {"(1,0,0) (0,x,0) (0,0,1)", "(1,0,0) (0,1) (0,0,1)", "(1,0,0) (0,1,0)",
        "(1,0,0) (0,1,0) (0,0,1", "(1,0,0) (0,0,0) (0,0,1)", "(1,0,0) what (0,0,1)"}) {
    EXPECT_TRUE(contains(
        error_for("dirs.nrrd", nrrd_u8_header(std::string("space directions: ") + dirs + "\n"),
                  kVolume12),
        "space direction"))
        << dirs;
  }
  EXPECT_TRUE(
      contains(error_for("dup.nrrd", nrrd_u8_header("sizes: 3 2 2\n"), kVolume12), "duplicate"));
  EXPECT_TRUE(
      contains(error_for("line.nrrd", nrrd_u8_header("no colon here\n"), kVolume12), "malformed"));
  EXPECT_TRUE(contains(error_for("huge.nrrd",
                                 "NRRD0004\ntype: double\ndimension: 3\n"
                                 "sizes: 100000 100000 100000\nendian: little\n"
                                 "encoding: raw\n\n",
                                 kVolume12),
                       "(--max-voxels)"));
}

// Every prefix of a valid file, and every one-byte change of its header, is read or refused with
// an InputError; nothing else escapes and nothing crashes.
TEST_F(MedicalIoTest, DamagedHeadersGiveInputErrors) {
  const std::vector<uint8_t> mha = concat(mha_u8_header(), kVolume12);
  const std::string nrrd_header =
      "NRRD0004\ntype: short\ndimension: 3\nsizes: 3 2 1\nendian: big\nencoding: gzip\n"
      "space directions: (0.42,0.56,0) (0,0.8,0) (0,0,5)\nkinds: domain domain domain\n"
      "byte skip: 0\nline skip: 0\n\n";
  const std::vector<uint8_t> nrrd =
      concat(nrrd_header, gzip_compress(encode(std::vector<int16_t>{1, 2, 3, 4, 5, 6}, true)));
  for (const auto& [name, file, header_size] :
       {std::tuple{std::string("f.mha"), mha, mha_u8_header().size()},
        std::tuple{std::string("f.nrrd"), nrrd, nrrd_header.size()}}) {
    for (size_t n = 0; n < file.size(); ++n) {
      write_bytes(path(name), std::vector<uint8_t>(file.begin(), file.begin() + n));
      const std::string e = input_error(path(name));
      EXPECT_FALSE(contains(e, "<not an InputError")) << name << " cut at " << n << ": " << e;
      EXPECT_FALSE(contains(e, "<no error>")) << name << " cut at " << n;
    }
    for (size_t i = 0; i < header_size; ++i) {
      for (uint8_t c : {uint8_t{'0'}, uint8_t{'-'}, uint8_t{' '}, uint8_t{'\n'}, uint8_t{0}}) {
        std::vector<uint8_t> changed = file;
        changed[i] = c;
        write_bytes(path(name), changed);
        const std::string e = input_error(path(name));
        EXPECT_FALSE(contains(e, "<not an InputError")) << name << " byte " << i << ": " << e;
      }
    }
  }
}

}  // namespace
}  // namespace maskeval
