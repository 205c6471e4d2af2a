// From stored pixel values to labels: the --foreground rule, and label images.
#pragma once

#include <string>
#include <vector>

#include "maskeval/counts.h"
#include "maskeval/image.h"

namespace maskeval {

// How pixel values map to labels.
//   labels   values are labels (integers 0..65535; float types must hold integers)
//   nonzero  label 1 where the value is not 0
//   value=V  label 1 where the value equals V
//   <T <=T >T >=T   label 1 where the value compares so with T (e.g. "<128": dark foreground)
struct ForegroundRule {
  enum class Kind { kLabels, kNonzero, kEquals, kLess, kLessEqual, kGreater, kGreaterEqual };
  Kind kind = Kind::kLabels;
  double value = 0;

  // Throws std::invalid_argument with a hint on a malformed rule.
  static ForegroundRule parse(const std::string& text);
  std::string text() const;
  bool binary() const { return kind != Kind::kLabels; }
};

// One rater's labels on the case grid: uint8 when every label fits, else uint16.
struct LabelImage {
  Geometry geom;
  int label_bytes = 1;
  Label max_label = 0;
  Bytes data;  // voxels * label_bytes, native order

  Label at(int64_t i) const {
    return label_bytes == 1 ? data[i] : reinterpret_cast<const uint16_t*>(data.data())[i];
  }
};

// Applies the rule. Throws InputError for a multi-channel image, a value that is no label
// (fractional, negative, NaN, above 65535 or above max_allowed), naming the value.
LabelImage to_labels(const RawImage& raw, const ForegroundRule& rule,
                     Label max_allowed = kMaxLabel);
// The same, taking the decoded bytes over where they are the labels already (8-bit values read
// as labels): no copy. `raw` is left without its bytes and geometry.
LabelImage to_labels(RawImage&& raw, const ForegroundRule& rule, Label max_allowed = kMaxLabel);

// The same labels stored 2 bytes wide (for cases that mix 8- and 16-bit raters).
void widen_to_16(LabelImage& img);

// A binary mask (label 1 where `img` has `label`, else 0), 1 byte per voxel; `into` is ORed
// when `unite` is true (several files for the same rater and label are unioned).
void binary_mask_of(const LabelImage& img, Label label, std::vector<uint8_t>& into, bool unite);

}  // namespace maskeval
