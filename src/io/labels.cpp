// Label images from decoded pixels: foreground rules, label checks, widening, binary masks.
#include "maskeval/labels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "util/simd.h"

namespace maskeval {
namespace {

std::string number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
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

// Calls f(p) with the image's values as an array of their stored type.
template <class F>
void with_values(const RawImage& raw, F&& f) {
  const void* p = raw.bytes.data() + raw.offset;
  switch (raw.type) {
    case PixelType::kU8:
      return f(static_cast<const uint8_t*>(p));
    case PixelType::kI8:
      return f(static_cast<const int8_t*>(p));
    case PixelType::kU16:
      return f(static_cast<const uint16_t*>(p));
    case PixelType::kI16:
      return f(static_cast<const int16_t*>(p));
    case PixelType::kU32:
      return f(static_cast<const uint32_t*>(p));
    case PixelType::kI32:
      return f(static_cast<const int32_t*>(p));
    case PixelType::kU64:
      return f(static_cast<const uint64_t*>(p));
    case PixelType::kI64:
      return f(static_cast<const int64_t*>(p));
    case PixelType::kF32:
      return f(static_cast<const float*>(p));
    case PixelType::kF64:
      return f(static_cast<const double*>(p));
  }
}

// Whether v is a label 0..max_allowed: a whole number in range (compared exactly, no rounding).
template <class T>
bool is_label(T v, Label max_allowed) {
  if constexpr (std::is_floating_point<T>::value) {
    // In range, and a whole number: adding and taking away 2^(mantissa bits) leaves it as it is.
    const T round = T(1) / std::numeric_limits<T>::epsilon();
    return v >= 0 && v <= max_allowed && v == (v + round) - round;
  } else if constexpr (std::is_signed<T>::value) {
    return v >= 0 && static_cast<int64_t>(v) <= max_allowed;
  } else {
    return static_cast<uint64_t>(v) <= max_allowed;
  }
}

// Whether a value of p[0..n) is no label 0..top (a whole number in range), and in `wide`
// whether a label is over 255. Adding and taking away 2^(mantissa bits) rounds a value in range
// to a whole number; written with vector types, W bytes at a time (W the vector width the
// caller is compiled for).
template <int W, class T>
MASKEVAL_ALWAYS_INLINE bool any_non_label(const T* p, int64_t n, T top, bool& wide) {
  using I = std::conditional_t<sizeof(T) == 8, int64_t, int32_t>;
  typedef T VT __attribute__((vector_size(W)));
  typedef I VI __attribute__((vector_size(W)));
  constexpr int64_t kLanes = W / sizeof(T);
  const T round = T(1) / std::numeric_limits<T>::epsilon();
  const VT zero = {}, vtop = zero + top, vround = zero + round, v255 = zero + T(255);
  VI bad = {}, big = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    VT v;
    std::memcpy(&v, p + i, sizeof v);
    const VI in = (v >= zero) & (v <= vtop);                          // NaN is not
    const VT c = reinterpret_cast<VT>(reinterpret_cast<VI>(v) & in);  // out of range: 0
    bad |= v != (c + vround) - vround;
    big |= c > v255;
  }
  I any_bad = 0, any_big = 0;
  for (int64_t k = 0; k < kLanes; ++k) any_bad |= bad[k], any_big |= big[k];
  for (; i < n; ++i) {
    const bool ok = is_label(p[i], static_cast<Label>(top));
    any_bad |= !ok;
    any_big |= ok && p[i] > T(255);
  }
  wide = any_big != 0;
  return any_bad != 0;
}

// The index of the first integer that is no label, or -1, and `max` the largest label; a block
// at a time, each block's least and largest value checked once (the block is searched for the
// value only when it holds one).
// With `move_to` (at or below p, in the same buffer), each block checked is then moved there
// while in cache; the block holding the first value that is no label is left where it was.
template <class T>
int64_t first_non_label(const T* p, int64_t n, Label max_allowed, Label& max,
                        T* move_to = nullptr) {
  constexpr int64_t kBlock = 4096;
  max = 0;
  for (int64_t at = 0; at < n; at += kBlock) {
    const int64_t end = std::min(n, at + kBlock);
    T lo = p[at], hi = p[at];
    for (int64_t i = at; i < end; ++i) {  // written so that it vectorises
      lo = p[i] < lo ? p[i] : lo;
      hi = p[i] > hi ? p[i] : hi;
    }
    if (!is_label(lo, max_allowed) || !is_label(hi, max_allowed))
      for (int64_t i = at; i < end; ++i)
        if (!is_label(p[i], max_allowed)) return i;
    max = std::max(max, static_cast<Label>(hi));
    if (move_to) std::memmove(move_to + at, p + at, static_cast<size_t>(end - at) * sizeof(T));
  }
  return -1;
}

// out[i] = whether value p[i], read as a double, is foreground under keep, in a loop compilers
// vectorise (this file is built without trapping math: nothing here reads the floating-point
// exception flags); true when a value is NaN.
template <class T, class Keep>
MASKEVAL_ALWAYS_INLINE bool float_foreground(const T* p, int64_t n, Keep keep, uint8_t* out) {
  uint8_t nan = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(p[i]);
    nan |= v != v;
    out[i] = keep(v) ? 1 : 0;
  }
  return nan != 0;
}

// float_foreground under the rule, compiled for the vector width of its caller.
template <class T>
MASKEVAL_ALWAYS_INLINE bool float_foreground_by_rule(const T* p, int64_t n,
                                                     const ForegroundRule& rule, uint8_t* out) {
  const double t = rule.value;
  using K = ForegroundRule::Kind;
  switch (rule.kind) {
    case K::kNonzero:
      return float_foreground(
          p, n, [](double v) { return v != 0; }, out);
    case K::kEquals:
      return float_foreground(
          p, n, [t](double v) { return v == t; }, out);
    case K::kLess:
      return float_foreground(
          p, n, [t](double v) { return v < t; }, out);
    case K::kLessEqual:
      return float_foreground(
          p, n, [t](double v) { return v <= t; }, out);
    case K::kGreater:
      return float_foreground(
          p, n, [t](double v) { return v > t; }, out);
    case K::kGreaterEqual:
      return float_foreground(
          p, n, [t](double v) { return v >= t; }, out);
    case K::kLabels:
      break;
  }
  return float_foreground(
      p, n, [](double) { return false; }, out);
}

template <class T>
MASKEVAL_AVX2 bool float_foreground_avx2(const T* p, int64_t n, const ForegroundRule& rule,
                                         uint8_t* out) {
  return float_foreground_by_rule(p, n, rule, out);
}

template <class T>
bool float_foreground_baseline(const T* p, int64_t n, const ForegroundRule& rule, uint8_t* out) {
  return float_foreground_by_rule(p, n, rule, out);
}

// out[i] = whether p[i] is foreground under the rule, compared as a double (as the rule's
// threshold is); 8- and 16-bit integers through a table of every value's answer. Throws for a
// NaN value.
template <class T>
void foreground_of(const T* p, int64_t n, const ForegroundRule& rule, uint8_t* out) {
  if constexpr (std::is_integral<T>::value && sizeof(T) <= 2) {
    using U = typename std::make_unsigned<T>::type;
    std::vector<uint8_t> table(size_t{1} << (8 * sizeof(T)));
    for (size_t k = 0; k < table.size(); ++k)
      table[k] = foreground(rule, static_cast<double>(static_cast<T>(static_cast<U>(k))));
    for (int64_t i = 0; i < n; ++i) out[i] = table[static_cast<U>(p[i])];
  } else if (simd::wide_vectors() ? float_foreground_avx2(p, n, rule, out)
                                  : float_foreground_baseline(p, n, rule, out)) {
    throw InputError("NaN values in a mask");
  }
}

// The labels of p[0..n), known valid, stored 1 byte wide unless one is over 255.
template <class T>
void store_labels(const T* p, int64_t n, bool wide, LabelImage& out) {
  out.label_bytes = wide ? 2 : 1;
  if (!wide) {
    out.data.assign(p, p + n);  // each value converted as it is copied (no fill first)
    return;
  }
  out.data.resize(static_cast<size_t>(n) * 2);
  auto* w = reinterpret_cast<uint16_t*>(out.data.data());
  for (int64_t i = 0; i < n; ++i) w[i] = static_cast<uint16_t>(p[i]);
}

// The largest label stored.
template <class L>
Label largest(const LabelImage& img) {
  const L* p = reinterpret_cast<const L*>(img.data.data());
  L most = 0;
  for (size_t i = 0; i < img.data.size() / sizeof(L); ++i) most = p[i] > most ? p[i] : most;
  return most;
}

// Why the value v is no label.
InputError non_label(double v, Label max_allowed) {
  if (std::isnan(v)) return InputError("NaN values where labels were expected");
  if (v != std::floor(v))
    return InputError("value " + number(v) +
                      " is not a whole-number label; use --foreground to threshold");
  return InputError("label value " + number(v) + " out of range 0.." + std::to_string(max_allowed));
}

// Float values stored 1 byte wide when every one is a whole number 0..top (top at most 255):
// false otherwise (nothing written). Checked first, then converted by a loop compilers
// vectorise while the values are in cache.
template <int W, class T>
MASKEVAL_ALWAYS_INLINE bool narrow_small_labels(const T* p, int64_t n, T top, uint8_t* out) {
  bool wide = false;
  if (any_non_label<W>(p, n, top, wide)) return false;
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(p[i]);
  return true;
}

template <class T>
MASKEVAL_AVX2 bool narrow_small_labels_avx2(const T* p, int64_t n, T top, uint8_t* out) {
  return narrow_small_labels<32>(p, n, top, out);
}

template <class T>
bool narrow_small_labels_baseline(const T* p, int64_t n, T top, uint8_t* out) {
  return narrow_small_labels<16>(p, n, top, out);
}

// Float values that must be labels, a block at a time: checked, then stored while the block is
// still in cache (1 byte wide until a label over 255 turns up, then 2 bytes wide from there on).
template <class T>
void float_labels(const T* p, int64_t n, Label max_allowed, LabelImage& out) {
  constexpr int64_t kBlock = 4096;
  out.label_bytes = 1;
  out.data.resize(static_cast<size_t>(n));
  const T small_top = static_cast<T>(std::min<Label>(max_allowed, 255));
  const bool wide_vectors = simd::wide_vectors();
  for (int64_t at = 0; at < n; at += kBlock) {
    const int64_t end = std::min(n, at + kBlock);
    if (out.label_bytes == 1 &&
        (wide_vectors
             ? narrow_small_labels_avx2(p + at, end - at, small_top, out.data.data() + at)
             : narrow_small_labels_baseline(p + at, end - at, small_top, out.data.data() + at)))
      continue;  // the usual block: labels of one byte, stored
    bool big = false;
    if (any_non_label<16>(p + at, end - at, static_cast<T>(max_allowed), big))
      for (int64_t i = at; i < end; ++i)
        if (!is_label(p[i], max_allowed)) throw non_label(p[i], max_allowed);
    if (big && out.label_bytes == 1) {  // the labels so far, 2 bytes wide
      Bytes wide(static_cast<size_t>(n) * 2);
      auto* w = reinterpret_cast<uint16_t*>(wide.data());
      for (int64_t i = 0; i < at; ++i) w[i] = out.data[i];
      out.data.swap(wide);
      out.label_bytes = 2;
    }
    if (out.label_bytes == 1) {
      uint8_t* to = out.data.data();  // held here: a byte store could alias the vector's pointer
      for (int64_t i = at; i < end; ++i) to[i] = static_cast<uint8_t>(p[i]);
    } else {
      auto* w = reinterpret_cast<uint16_t*>(out.data.data());
      for (int64_t i = at; i < end; ++i) w[i] = static_cast<uint16_t>(p[i]);
    }
  }
  out.max_label = out.label_bytes == 1 ? largest<uint8_t>(out) : largest<uint16_t>(out);
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

namespace {

// The number of values; throws for an image of several channels or too few bytes.
int64_t single_channel_values(const RawImage& raw) {
  if (raw.channels != 1) {
    const char* what = raw.channels == 2 ? "grey+alpha" : (raw.channels == 3 ? "RGB" : "RGBA");
    throw InputError(std::string(what) + " image (" + std::to_string(raw.channels) +
                     " channels) where labels were expected; save masks as single-channel "
                     "label or greyscale images");
  }
  const int64_t n = raw.voxels();
  if (raw.offset > raw.bytes.size() ||
      static_cast<int64_t>(raw.bytes.size() - raw.offset) < n * pixel_type_size(raw.type))
    throw InputError("pixel buffer shorter than the image");
  return n;
}

}  // namespace

LabelImage to_labels(const RawImage& raw, const ForegroundRule& rule, Label max_allowed) {
  const int64_t n = single_channel_values(raw);
  LabelImage out;
  out.geom = raw.geom;
  with_values(raw, [&](const auto* p) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(p)>>;
    if (rule.binary()) {
      out.label_bytes = 1;
      out.max_label = 1;
      out.data.resize(static_cast<size_t>(n));
      foreground_of(p, n, rule, out.data.data());
      return;
    }
    if constexpr (std::is_floating_point<T>::value) {
      float_labels(p, n, max_allowed, out);
    } else {
      Label max = 0;
      const int64_t bad = first_non_label(p, n, max_allowed, max);
      if (bad >= 0) throw non_label(static_cast<double>(p[bad]), max_allowed);
      store_labels(p, n, max > 255, out);
      out.max_label = max;
    }
  });
  return out;
}

LabelImage to_labels(RawImage&& raw, const ForegroundRule& rule, Label max_allowed) {
  if (raw.type != PixelType::kU8 || rule.binary()) return to_labels(raw, rule, max_allowed);
  const int64_t n = single_channel_values(raw);
  // The decoded bytes become the labels, checked and moved down past a header in one pass.
  uint8_t* values = raw.bytes.data() + raw.offset;
  Label max = 0;
  const int64_t bad =
      first_non_label(values, n, max_allowed, max, raw.offset ? raw.bytes.data() : nullptr);
  if (bad >= 0) throw non_label(values[bad], max_allowed);
  raw.bytes.resize(static_cast<size_t>(n));
  raw.offset = 0;
  LabelImage out;
  out.geom = std::move(raw.geom);
  out.label_bytes = 1;
  out.max_label = max;
  out.data = std::move(raw.bytes);
  return out;
}

void widen_to_16(LabelImage& img) {
  if (img.label_bytes == 2) return;
  const size_t n = img.data.size();
  Bytes wide(n * 2);
  auto* w = reinterpret_cast<uint16_t*>(wide.data());
  for (size_t i = 0; i < n; ++i) w[i] = img.data[i];
  img.data.swap(wide);
  img.label_bytes = 2;
}

namespace {

template <class L>
void mask_of(const L* labels, int64_t n, Label label, uint8_t* into, bool unite) {
  if (label > std::numeric_limits<L>::max()) {
    if (!unite) std::fill(into, into + n, 0);
    return;
  }
  const L l = static_cast<L>(label);
  if (unite) {
    for (int64_t i = 0; i < n; ++i) into[i] |= labels[i] == l;
  } else {
    for (int64_t i = 0; i < n; ++i) into[i] = labels[i] == l;
  }
}

}  // namespace

void binary_mask_of(const LabelImage& img, Label label, std::vector<uint8_t>& into, bool unite) {
  const int64_t n = img.geom.voxels();
  if (!unite) into.resize(n);
  if (img.label_bytes == 1)
    mask_of(img.data.data(), n, label, into.data(), unite);
  else
    mask_of(reinterpret_cast<const uint16_t*>(img.data.data()), n, label, into.data(), unite);
}

}  // namespace maskeval
