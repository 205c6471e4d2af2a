// Label images from decoded pixels: foreground rules, label checks, widening, binary masks.
#include "maskeval/labels.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace maskeval {
namespace {

std::string number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

template <class T>
const T* typed(const RawImage& raw) {
  return reinterpret_cast<const T*>(raw.bytes.data());
}

// Calls f(i, value as double) for every voxel, whatever the stored type.
template <class F>
void for_each_value(const RawImage& raw, F&& f) {
  const int64_t n = raw.voxels();
  switch (raw.type) {
    case PixelType::kU8: {
      auto p = typed<uint8_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
    case PixelType::kI8: {
      auto p = typed<int8_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
    case PixelType::kU16: {
      auto p = typed<uint16_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
    case PixelType::kI16: {
      auto p = typed<int16_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
    case PixelType::kU32: {
      auto p = typed<uint32_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
    case PixelType::kI32: {
      auto p = typed<int32_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
    case PixelType::kU64: {
      auto p = typed<uint64_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, static_cast<double>(p[i]));
      break;
    }
    case PixelType::kI64: {
      auto p = typed<int64_t>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, static_cast<double>(p[i]));
      break;
    }
    case PixelType::kF32: {
      auto p = typed<float>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
    case PixelType::kF64: {
      auto p = typed<double>(raw);
      for (int64_t i = 0; i < n; ++i) f(i, p[i]);
      break;
    }
  }
}

bool foreground(const ForegroundRule& r, double v) {
  switch (r.kind) {
    case ForegroundRule::Kind::kNonzero:
      return v != 0;
    case ForegroundRule::Kind::kEquals:
      return v == r.value;
    case ForegroundRule::Kind::kLess:
      return v < r.value;
    case ForegroundRule::Kind::kLessEqual:
      return v <= r.value;
    case ForegroundRule::Kind::kGreater:
      return v > r.value;
    case ForegroundRule::Kind::kGreaterEqual:
      return v >= r.value;
    case ForegroundRule::Kind::kLabels:
      break;
  }
  return false;
}

}  // namespace

ForegroundRule ForegroundRule::parse(const std::string& text) {
  ForegroundRule r;
  auto parse_number = [&](const std::string& s) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size())
      throw std::invalid_argument("bad --foreground '" + text +
                                  "': expected labels, nonzero, value=V, <T, <=T, >T or >=T");
    return v;
  };
  if (text == "labels") {
    r.kind = Kind::kLabels;
  } else if (text == "nonzero") {
    r.kind = Kind::kNonzero;
  } else if (text.rfind("value=", 0) == 0) {
    r.kind = Kind::kEquals;
    r.value = parse_number(text.substr(6));
  } else if (text.rfind("<=", 0) == 0) {
    r.kind = Kind::kLessEqual;
    r.value = parse_number(text.substr(2));
  } else if (text.rfind(">=", 0) == 0) {
    r.kind = Kind::kGreaterEqual;
    r.value = parse_number(text.substr(2));
  } else if (text.rfind("<", 0) == 0) {
    r.kind = Kind::kLess;
    r.value = parse_number(text.substr(1));
  } else if (text.rfind(">", 0) == 0) {
    r.kind = Kind::kGreater;
    r.value = parse_number(text.substr(1));
  } else {
    parse_number("");  // throws with the hint
  }
  return r;
}

std::string ForegroundRule::text() const {
  switch (kind) {
    case Kind::kLabels:
      return "labels";
    case Kind::kNonzero:
      return "nonzero";
    case Kind::kEquals:
      return "value=" + number(value);
    case Kind::kLess:
      return "<" + number(value);
    case Kind::kLessEqual:
      return "<=" + number(value);
    case Kind::kGreater:
      return ">" + number(value);
    case Kind::kGreaterEqual:
      return ">=" + number(value);
  }
  return "labels";
}

LabelImage to_labels(const RawImage& raw, const ForegroundRule& rule, Label max_allowed) {
  if (raw.channels != 1) {
    const char* what = raw.channels == 2 ? "grey+alpha" : (raw.channels == 3 ? "RGB" : "RGBA");
    throw InputError(std::string(what) + " image (" + std::to_string(raw.channels) +
                     " channels) where labels were expected; save masks as single-channel "
                     "label or greyscale images");
  }
  const int64_t n = raw.voxels();
  if (static_cast<int64_t>(raw.bytes.size()) < n * pixel_type_size(raw.type))
    throw InputError("pixel buffer shorter than the image");
  LabelImage out;
  out.geom = raw.geom;
  if (rule.binary()) {
    out.label_bytes = 1;
    out.data.assign(n, 0);
    bool nan = false;
    for_each_value(raw, [&](int64_t i, double v) {
      nan = nan || std::isnan(v);
      out.data[i] = foreground(rule, v) ? 1 : 0;
    });
    if (nan) throw InputError("NaN values in a mask");
    out.max_label = 1;
    return out;
  }
  // Values are labels: check each is a whole number in range, then store 1 or 2 bytes wide.
  std::vector<uint16_t> wide(n);
  double bad = 0;
  bool ok = true;
  uint16_t max = 0;
  for_each_value(raw, [&](int64_t i, double v) {
    if (!(v >= 0 && v <= max_allowed && v == std::floor(v))) {
      if (ok) bad = v;
      ok = false;
      return;
    }
    wide[i] = static_cast<uint16_t>(v);
    if (wide[i] > max) max = wide[i];
  });
  if (!ok) {
    if (std::isnan(bad)) throw InputError("NaN values where labels were expected");
    if (bad != std::floor(bad))
      throw InputError("value " + number(bad) +
                       " is not a whole-number label; use --foreground to threshold");
    throw InputError("label value " + number(bad) + " out of range 0.." +
                     std::to_string(max_allowed));
  }
  out.max_label = max;
  if (max < 256) {
    out.label_bytes = 1;
    out.data.assign(wide.begin(), wide.end());
  } else {
    out.label_bytes = 2;
    out.data.resize(n * 2);
    std::memcpy(out.data.data(), wide.data(), n * 2);
  }
  return out;
}

void widen_to_16(LabelImage& img) {
  if (img.label_bytes == 2) return;
  const size_t n = img.data.size();
  std::vector<uint8_t> wide(n * 2);
  auto* w = reinterpret_cast<uint16_t*>(wide.data());
  for (size_t i = 0; i < n; ++i) w[i] = img.data[i];
  img.data.swap(wide);
  img.label_bytes = 2;
}

void binary_mask_of(const LabelImage& img, Label label, std::vector<uint8_t>& into, bool unite) {
  const int64_t n = img.geom.voxels();
  if (!unite) into.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) into[i] = static_cast<uint8_t>(into[i] | (img.at(i) == label));
}

}  // namespace maskeval
