// From stored values to labels: the --foreground rules and the errors for values that are no
// labels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "maskeval/labels.h"
#include "util/simd.h"

namespace maskeval {
namespace {

template <class T>
RawImage raw_of(PixelType type, std::vector<T> values, int channels = 1) {
  RawImage r;
  r.type = type;
  r.channels = channels;
  r.geom.shape = {static_cast<int64_t>(values.size()) / channels, 1, 1};
  r.bytes.resize(values.size() * sizeof(T));
  std::memcpy(r.bytes.data(), values.data(), r.bytes.size());
  return r;
}

std::vector<Label> labels_of(const LabelImage& img) {
  std::vector<Label> out;
  for (int64_t i = 0; i < img.geom.voxels(); ++i) out.push_back(img.at(i));
  return out;
}

TEST(ForegroundRule, Parses) {
  EXPECT_EQ(ForegroundRule::parse("labels").kind, ForegroundRule::Kind::kLabels);
  EXPECT_EQ(ForegroundRule::parse("nonzero").kind, ForegroundRule::Kind::kNonzero);
  const ForegroundRule v = ForegroundRule::parse("value=35");
  EXPECT_EQ(v.kind, ForegroundRule::Kind::kEquals);
  EXPECT_EQ(v.value, 35);
  EXPECT_EQ(ForegroundRule::parse("<128").kind, ForegroundRule::Kind::kLess);
  EXPECT_EQ(ForegroundRule::parse("<=0.5").value, 0.5);
  EXPECT_EQ(ForegroundRule::parse(">=2").kind, ForegroundRule::Kind::kGreaterEqual);
  EXPECT_EQ(ForegroundRule::parse(">-1").value, -1);
  EXPECT_EQ(ForegroundRule::parse("<128").text(), "<128");
  for (const char* bad : {"", "foo", "<", "value=", "<12x", "=5"})
    EXPECT_THROW(ForegroundRule::parse(bad), std::invalid_argument) << bad;
}

TEST(ToLabels, ThresholdDarkForeground) {
  const RawImage raw = raw_of<uint8_t>(PixelType::kU8, {0, 127, 128, 255, 35});
  const LabelImage img = to_labels(raw, ForegroundRule::parse("<128"));
  EXPECT_EQ(labels_of(img), (std::vector<Label>{1, 1, 0, 0, 1}));
  EXPECT_EQ(img.max_label, 1);
  EXPECT_EQ(labels_of(to_labels(raw, ForegroundRule::parse("value=35"))),
            (std::vector<Label>{0, 0, 0, 0, 1}));
  EXPECT_EQ(labels_of(to_labels(raw, ForegroundRule::parse("nonzero"))),
            (std::vector<Label>{0, 1, 1, 1, 1}));
}

TEST(ToLabels, FloatZeroOneVolumesAreLabels) {
  // KiTS23 stores its instance masks as float64 0.0 / 1.0.
  const RawImage raw = raw_of<double>(PixelType::kF64, {0.0, 1.0, 1.0, 0.0});
  const LabelImage img = to_labels(raw, ForegroundRule{});
  EXPECT_EQ(labels_of(img), (std::vector<Label>{0, 1, 1, 0}));
  EXPECT_EQ(img.label_bytes, 1);
  EXPECT_EQ(labels_of(to_labels(raw, ForegroundRule::parse(">=0.5"))),
            (std::vector<Label>{0, 1, 1, 0}));
}

TEST(ToLabels, SixteenBitLabelsStayWide) {
  const RawImage raw = raw_of<uint16_t>(PixelType::kU16, {0, 300, 65535});
  const LabelImage img = to_labels(raw, ForegroundRule{});
  EXPECT_EQ(img.label_bytes, 2);
  EXPECT_EQ(img.max_label, 65535);
  EXPECT_EQ(labels_of(img), (std::vector<Label>{0, 300, 65535}));
  const LabelImage narrow = to_labels(raw_of<uint16_t>(PixelType::kU16, {0, 3}), ForegroundRule{});
  EXPECT_EQ(narrow.label_bytes, 1);
  LabelImage widened = narrow;
  widen_to_16(widened);
  EXPECT_EQ(labels_of(widened), labels_of(narrow));
}

void expect_input_error(const RawImage& raw, const ForegroundRule& rule, const std::string& part,
                        Label max = kMaxLabel) {
  try {
    to_labels(raw, rule, max);
    ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(ToLabels, ValuesThatAreNoLabels) {
  expect_input_error(raw_of<float>(PixelType::kF32, {0.0f, 0.5f}), ForegroundRule{},
                     "not a whole-number label");
  expect_input_error(raw_of<int16_t>(PixelType::kI16, {0, -1}), ForegroundRule{},
                     "label value -1 out of range");
  expect_input_error(raw_of<uint32_t>(PixelType::kU32, {70000}), ForegroundRule{},
                     "label value 70000 out of range 0..65535");
  expect_input_error(raw_of<uint8_t>(PixelType::kU8, {0, 255}), ForegroundRule{},
                     "label value 255 out of range 0..1", 1);
  expect_input_error(raw_of<float>(PixelType::kF32, {NAN}), ForegroundRule::parse("nonzero"),
                     "NaN");
}

// What a rule says of one value, as the docs define it (every value read as a double).
bool rule_says(const ForegroundRule& r, double v) {
  using K = ForegroundRule::Kind;
  switch (r.kind) {
    case K::kNonzero:
      return v != 0;
    case K::kEquals:
      return v == r.value;
    case K::kLess:
      return v < r.value;
    case K::kLessEqual:
      return v <= r.value;
    case K::kGreater:
      return v > r.value;
    case K::kGreaterEqual:
      return v >= r.value;
    case K::kLabels:
      break;
  }
  return false;
}

// Every stored type over more than one 4096-value block: each rule agrees with the definition
// value by value, labels keep their width, and the first value that is no label is named.
template <class T>
void expect_conversion_as_defined(PixelType type, double lowest) {
  std::vector<T> v(10000);
  const size_t m = std::numeric_limits<T>::max() < 251 ? 120 : 251;  // values 0..m-1
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>((i * 7919) % m);
  v[5000] = static_cast<T>(lowest);
  for (const char* text : {"nonzero", "value=3", "<17", "<=17", ">200", ">=-1", ">=0.5"}) {
    const ForegroundRule rule = ForegroundRule::parse(text);
    const LabelImage img = to_labels(raw_of<T>(type, v), rule);
    ASSERT_EQ(img.label_bytes, 1);
    for (size_t i = 0; i < v.size(); ++i)
      ASSERT_EQ(img.at(i), rule_says(rule, static_cast<double>(v[i])) ? 1 : 0) << text << i;
  }
  v[5000] = 0;
  const LabelImage narrow = to_labels(raw_of<T>(type, v), ForegroundRule{});
  EXPECT_EQ(narrow.label_bytes, 1);
  EXPECT_EQ(narrow.max_label, m - 1);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(narrow.at(i), static_cast<Label>(v[i])) << i;
  if (sizeof(T) > 1) {
    v[9000] = static_cast<T>(300);
    const LabelImage wide = to_labels(raw_of<T>(type, v), ForegroundRule{});
    EXPECT_EQ(wide.label_bytes, 2);
    EXPECT_EQ(wide.max_label, 300);
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(wide.at(i), static_cast<Label>(v[i])) << i;
  }
  // The first value out of range, in the second block, is the one named.
  v[8000] = static_cast<T>(lowest < 0 ? -1 : 251);
  v[9999] = static_cast<T>(lowest < 0 ? -2 : 252);
  expect_input_error(
      raw_of<T>(type, v), ForegroundRule{},
      lowest < 0 ? "label value -1 out of range" : "label value 251 out of range 0..250", 250);
}

TEST(ToLabels, EveryStoredTypeConvertsAsDefined) {
  expect_conversion_as_defined<uint8_t>(PixelType::kU8, 0);
  expect_conversion_as_defined<int8_t>(PixelType::kI8, -1);
  expect_conversion_as_defined<uint16_t>(PixelType::kU16, 0);
  expect_conversion_as_defined<int16_t>(PixelType::kI16, -1);
  expect_conversion_as_defined<uint32_t>(PixelType::kU32, 0);
  expect_conversion_as_defined<int32_t>(PixelType::kI32, -1);
  expect_conversion_as_defined<uint64_t>(PixelType::kU64, 0);
  expect_conversion_as_defined<int64_t>(PixelType::kI64, -1);
  expect_conversion_as_defined<float>(PixelType::kF32, -1);
  expect_conversion_as_defined<double>(PixelType::kF64, -1);
}

// Float values that are, and are not, labels, at every place the vectorised check treats apart
// (a vector's first and last lane, the tail, a block's start and end), with both vector widths:
// stored exactly when they are whole numbers in range, else named.
// Turns the AVX2 loops off for its lifetime (back on however the test ends).
struct BaselineVectors {
  explicit BaselineVectors(bool on) { simd::allow_wide_vectors(!on); }
  ~BaselineVectors() { simd::allow_wide_vectors(true); }
};

template <class T>
void expect_float_labels_as_defined(PixelType type) {
  const T inf = std::numeric_limits<T>::infinity();
  const std::vector<T> specials = {T(0),
                                   T(-0.0),
                                   T(1),
                                   T(200),
                                   T(201),
                                   T(255),
                                   T(256),
                                   T(65535),
                                   T(65536),
                                   T(0.5),
                                   T(-1),
                                   T(254.5),
                                   T(1e-30),
                                   T(2147483648.0),
                                   T(4294967297.0),
                                   inf,
                                   -inf,
                                   std::numeric_limits<T>::quiet_NaN()};
  const int64_t n = 4096 + 13;
  for (bool wide : {true, false}) {
    const BaselineVectors baseline(!wide);
    for (Label max : {Label{kMaxLabel}, Label{200}})
      for (T x : specials)
        for (int64_t at : {int64_t{0}, int64_t{7}, int64_t{15}, int64_t{16}, int64_t{4095},
                           int64_t{4096}, int64_t{4100}, n - 1}) {
          SCOPED_TRACE(testing::Message() << "value " << x << " at " << at << ", max " << max
                                          << (wide ? "" : ", baseline vectors"));
          std::vector<T> v(n, T(1));
          v[5] = T(3);
          v[at] = x;
          const RawImage raw = raw_of<T>(type, v);
          const bool label = x >= 0 && x <= T(max) && x == std::floor(x);
          if (!label) {
            const std::string why = std::isnan(x)        ? "NaN values where labels"
                                    : x != std::floor(x) ? "is not a whole-number label"
                                                         : "out of range 0..";
            expect_input_error(raw, ForegroundRule{}, why, max);
            // A threshold rule takes every value but NaN.
            if (std::isnan(x)) {
              expect_input_error(raw, ForegroundRule::parse(">0.5"), "NaN values in a mask");
            } else {
              const LabelImage fg = to_labels(raw, ForegroundRule::parse(">0.5"));
              for (int64_t i = 0; i < n; ++i) ASSERT_EQ(fg.at(i), v[i] > 0.5 ? 1 : 0) << i;
            }
            continue;
          }
          const LabelImage img = to_labels(raw, ForegroundRule{}, max);
          EXPECT_EQ(img.label_bytes, x > 255 ? 2 : 1);
          EXPECT_EQ(img.max_label, std::max<Label>(3, static_cast<Label>(x)));
          for (int64_t i = 0; i < n; ++i) ASSERT_EQ(img.at(i), static_cast<Label>(v[i])) << i;
        }
  }
}

TEST(ToLabels, FloatLabelsAsDefinedWithBothVectorWidths) {
  expect_float_labels_as_defined<float>(PixelType::kF32);
  expect_float_labels_as_defined<double>(PixelType::kF64);
}

// The first value that is no label is the one named, wherever the block holding it begins.
TEST(ToLabels, FirstValueThatIsNoLabelIsNamed) {
  std::vector<int32_t> v(9000, 2);
  v[4100] = 70000;
  v[7000] = -5;
  expect_input_error(raw_of<int32_t>(PixelType::kI32, v), ForegroundRule{},
                     "label value 70000 out of range");
  v[4095] = -3;
  expect_input_error(raw_of<int32_t>(PixelType::kI32, v), ForegroundRule{},
                     "label value -3 out of range");
  std::vector<double> f(9000, 1.0);
  f[6000] = 2.5;
  f[6001] = NAN;
  expect_input_error(raw_of<double>(PixelType::kF64, f), ForegroundRule{}, "value 2.5 is not");
  std::vector<uint64_t> big(5000, 1);
  big[4999] = uint64_t{1} << 40;
  expect_input_error(raw_of<uint64_t>(PixelType::kU64, big), ForegroundRule{},
                     "label value 1099511627776 out of range");
}

TEST(ToLabels, RgbWhereLabelsWereExpected) {
  expect_input_error(raw_of<uint8_t>(PixelType::kU8, {1, 2, 3, 4, 5, 6}, 3), ForegroundRule{},
                     "RGB image (3 channels) where labels were expected");
}

TEST(BinaryMask, UnionOfInstances) {
  const LabelImage a = to_labels(raw_of<uint8_t>(PixelType::kU8, {1, 0, 0, 2}), ForegroundRule{});
  const LabelImage b = to_labels(raw_of<uint8_t>(PixelType::kU8, {0, 0, 1, 1}), ForegroundRule{});
  std::vector<uint8_t> mask;
  binary_mask_of(a, 1, mask, false);
  binary_mask_of(b, 1, mask, true);
  EXPECT_EQ(mask, (std::vector<uint8_t>{1, 0, 1, 1}));
}

}  // namespace
}  // namespace maskeval
