// From stored values to labels: the --foreground rules and the errors for values that are no
// labels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "maskeval/labels.h"

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
