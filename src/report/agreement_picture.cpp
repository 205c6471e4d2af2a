// Pictures of agreement without OpenCV: pixel states of a 2D case or of a volume's most disputed
// axial slice, the colour scheme, legends, windowing of a source image and downscaling.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iterator>
#include <stdexcept>

#include "maskeval/overlay.h"

namespace maskeval {
namespace {

// Voxel strides of the three axes, and the offset of voxel (u, v) of slice `s` of a picture.
struct Strides {
  std::array<int64_t, 3> of;
  explicit Strides(const Geometry& g) : of{1, g.shape[0], g.shape[0] * g.shape[1]} {}
  int64_t at(const SliceAxes& a, int64_t s, int64_t u, int64_t v) const {
    return s * of[a.normal] + u * of[a.across] + v * of[a.down];
  }
};

// The slice to show: the most split voxels (the lowest slice on a tie), else the most
// unanimous foreground, else 0. `count(at, n, split, fg)` adds to *split and *fg how many of the n
// voxels from `at` on are split and unanimous foreground; `flags(at, n, split, fg)` sets them
// per voxel (0 or 1). A slice across the first axis is a plane of voxels in memory, counted in
// one call; the first axis's slices are each voxel of a row, flagged a plane at a time.
template <class CountFn, class FlagFn>
int64_t pick_slice(const Geometry& geom, const SliceAxes& axes, const CountFn& count,
                   const FlagFn& flags) {
  const int64_t n = geom.shape[axes.normal];
  const int64_t nx = geom.shape[0], ny = geom.shape[1], nz = geom.shape[2];
  std::vector<int64_t> split(n), fg(n);
  std::vector<uint8_t> split_flags(axes.normal == 0 ? nx * ny : 0), fg_flags(split_flags.size());
  for (int64_t z = 0; z < nz; ++z) {
    const int64_t plane = z * ny * nx;
    if (axes.normal == 2) {
      count(plane, nx * ny, &split[z], &fg[z]);
    } else if (axes.normal == 1) {
      for (int64_t y = 0; y < ny; ++y) count(plane + y * nx, nx, &split[y], &fg[y]);
    } else {
      flags(plane, nx * ny, split_flags.data(), fg_flags.data());
      for (int64_t y = 0; y < ny; ++y)
        for (int64_t x = 0; x < nx; ++x) {
          split[x] += split_flags[y * nx + x];
          fg[x] += fg_flags[y * nx + x];
        }
    }
  }
  int64_t best = 0;
  for (int64_t s = 1; s < n; ++s)
    if (split[s] > split[best] || (split[best] == 0 && split[s] == 0 && fg[s] > fg[best])) best = s;
  return best;
}

// The picture of the chosen slice, a row at a time: `fill(at, step, n, state, majority)`
// paints the n voxels at, at + step, ... and returns how many are split; `count` and `flags` as
// in pick_slice.
template <class FillFn, class CountFn, class FlagFn>
AgreementPicture build_picture(const Geometry& geom, int raters, const FillFn& fill,
                               const CountFn& count, const FlagFn& flags) {
  if (raters < 1) throw std::invalid_argument("a picture of agreement needs a rater");
  AgreementPicture p;
  p.axes = geom.ndim == 3 ? axial_axes(geom) : SliceAxes{};
  p.width = geom.shape[p.axes.across];
  p.height = geom.shape[p.axes.down];
  p.raters = raters;
  p.ndim = geom.ndim;
  p.slices = geom.shape[p.axes.normal];
  if (p.slices > 1) p.slice = pick_slice(geom, p.axes, count, flags);
  const Strides strides(geom);
  p.state.assign(p.width * p.height, PixelState::kBackground);
  p.majority.assign(p.width * p.height, 0);
  const int64_t step = strides.of[p.axes.across];
  for (int64_t y = 0; y < p.height; ++y)
    p.split_pixels += fill(strides.at(p.axes, p.slice, 0, y), step, p.width, &p.state[y * p.width],
                           &p.majority[y * p.width]);
  return p;
}

// Reads a value of the NIfTI header in its byte order.
template <class T>
T header_value(const std::vector<uint8_t>& h, size_t offset, bool swap) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, h.data() + offset, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// The direction in patient space (RAS) of each voxel axis, columns [axis][x, y, z], from the
// NIfTI header's sform (else qform); false when the header gives neither.
bool nifti_directions(const std::vector<uint8_t>& h, double dir[3][3]) {
  if (h.size() < 348) return false;
  const bool swap =
      header_value<int32_t>(h, 0, false) != 348 && header_value<int32_t>(h, 0, false) != 540;
  const bool two = header_value<int32_t>(h, 0, swap) == 540 && h.size() >= 540;
  const auto real = [&](size_t o1, size_t o2) {
    return two ? header_value<double>(h, o2, swap) : header_value<float>(h, o1, swap);
  };
  const int qform = two ? header_value<int32_t>(h, 344, swap) : header_value<int16_t>(h, 252, swap);
  const int sform = two ? header_value<int32_t>(h, 348, swap) : header_value<int16_t>(h, 254, swap);
  if (sform > 0) {
    for (int row = 0; row < 3; ++row)
      for (int axis = 0; axis < 3; ++axis)
        dir[axis][row] = real(280 + 16 * row + 4 * axis, 400 + 32 * row + 8 * axis);
    return true;
  }
  if (qform <= 0) return false;
  const double b = real(256, 352), c = real(260, 360), d = real(264, 368);
  const double a = std::sqrt(std::max(0.0, 1.0 - b * b - c * c - d * d));
  const double r[3][3] = {
      {a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)},
      {2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)},
      {2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b}};
  for (int row = 0; row < 3; ++row)
    for (int axis = 0; axis < 3; ++axis) dir[axis][row] = r[row][axis];
  return true;
}

double value_at(const RawImage& img, int64_t i) {
  const uint8_t* b = img.bytes.data();
  auto get = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, b + i * sizeof v, sizeof v);
    return static_cast<double>(v);
  };
  switch (img.type) {
    case PixelType::kU8:
      return b[i];
    case PixelType::kI8:
      return get(int8_t{});
    case PixelType::kU16:
      return get(uint16_t{});
    case PixelType::kI16:
      return get(int16_t{});
    case PixelType::kU32:
      return get(uint32_t{});
    case PixelType::kI32:
      return get(int32_t{});
    case PixelType::kU64:
      return get(uint64_t{});
    case PixelType::kI64:
      return get(int64_t{});
    case PixelType::kF32:
      return get(float{});
    case PixelType::kF64:
      return get(double{});
  }
  return 0;
}

}  // namespace

SliceAxes axial_axes(const Geometry& geom) {
  double dir[3][3];
  if (geom.ndim != 3 || !nifti_directions(geom.nifti_header, dir)) return {};
  // The share of each axis's direction along patient z (normal), then along x (across).
  const auto share = [&](int axis, int component) {
    const double n = std::sqrt(dir[axis][0] * dir[axis][0] + dir[axis][1] * dir[axis][1] +
                               dir[axis][2] * dir[axis][2]);
    return n > 0 ? std::abs(dir[axis][component]) / n : 0.0;
  };
  SliceAxes a;
  a.normal = 2;
  for (int axis = 0; axis < 2; ++axis)
    if (share(axis, 2) > share(a.normal, 2)) a.normal = axis;
  const int first = a.normal == 0 ? 1 : 0, second = a.normal == 2 ? 1 : 2;
  const bool swap = share(second, 0) > share(first, 0);
  a.across = swap ? second : first;
  a.down = swap ? first : second;
  return a;
}

namespace {

// How many of a row's n voxels are split (the raters do not all agree) and how many are
// unanimous foreground, 16 bytes at a time (GCC vector extensions: SSE2 on x86-64, NEON on
// ARM), the counts kept per lane and summed at the end of the row or every 255 blocks.
template <class L>
void count_row(const L* const* maps, int raters, int64_t at, int64_t n, int64_t& split,
               int64_t& fg) {
  typedef L Vec __attribute__((vector_size(16)));
  constexpr int64_t kLanes = 16 / sizeof(L);
  const L* first = maps[0] + at;
  Vec s = {}, f = {};
  int blocks = 0;
  auto flush = [&] {
    for (int64_t k = 0; k < kLanes; ++k) split += s[k], fg += f[k];
    s = Vec{};
    f = Vec{};
    blocks = 0;
  };
  int64_t x = 0;
  for (; x + kLanes <= n; x += kLanes) {
    Vec v, d = {};
    std::memcpy(&v, first + x, sizeof v);
    for (int r = 1; r < raters; ++r) {
      Vec m;
      std::memcpy(&m, maps[r] + at + x, sizeof m);
      d |= m ^ v;
    }
    s -= reinterpret_cast<Vec>(d != 0);  // a lane of all ones where true: one more
    f -= reinterpret_cast<Vec>((d == 0) & (v != 0));
    if (++blocks == 255) flush();
  }
  flush();
  for (; x < n; ++x) {
    L d = 0;
    for (int r = 1; r < raters; ++r) d |= maps[r][at + x] ^ first[x];
    split += d != 0;
    fg += d == 0 && first[x] != 0;
  }
}

// The picture of a case whose labels are of type L (the votes read straight from the maps).
template <class L>
AgreementPicture picture_of(const CaseView& view, int raters, const Geometry& geom,
                            std::optional<Label> ignore) {
  std::vector<const L*> maps(std::max(raters, 1));
  for (int r = 0; r < raters; ++r) maps[r] = static_cast<const L*>(view.raters[r]);
  const bool ignoring = ignore.has_value();
  const Label ignored_label = ignore.value_or(0);
  // How many raters vote the most voted label at voxel i: pairwise for a few raters, else sorted.
  std::vector<Label> labels(std::max(raters, 1));
  auto majority_at = [&](int64_t i) {
    int most = 1;
    if (raters <= 16) {
      for (int a = 0; a < raters; ++a) {
        int k = 1;
        for (int b = a + 1; b < raters; ++b) k += maps[b][i] == maps[a][i];
        most = std::max(most, k);
      }
      return most;
    }
    for (int r = 0; r < raters; ++r) labels[r] = maps[r][i];
    std::sort(labels.begin(), labels.begin() + raters);
    for (int a = 0, b = 0; a < raters; a = b) {
      while (b < raters && labels[b] == labels[a]) ++b;
      most = std::max(most, b - a);
    }
    return most;
  };
  // Counted through count_row; flagged rater by rater, each loop simple enough to vectorise.
  auto count = [&](int64_t at, int64_t n, int64_t* split, int64_t* fg) {
    count_row(maps.data(), raters, at, n, *split, *fg);
  };
  std::vector<L> differs;
  auto flags = [&](int64_t at, int64_t n, uint8_t* split, uint8_t* fg) {
    differs.assign(n, 0);
    const L* first = maps[0] + at;
    for (int r = 1; r < raters; ++r) {
      const L* m = maps[r] + at;
      for (int64_t x = 0; x < n; ++x) differs[x] |= m[x] ^ first[x];
    }
    for (int64_t x = 0; x < n; ++x) {
      split[x] = differs[x] != 0;
      fg[x] = differs[x] == 0 && first[x] != 0;
    }
  };
  // row_most[x]: how many raters vote the most voted label at voxel at + x, for up to 16.
  std::vector<uint8_t> row_most, row_votes;
  auto row_majority = [&](int64_t at, int64_t n) {
    row_most.assign(n, 1);
    row_votes.resize(n);
    for (int a = 0; a + 1 < raters; ++a) {
      std::fill(row_votes.begin(), row_votes.end(), 1);
      const L* va = maps[a] + at;
      for (int b = a + 1; b < raters; ++b) {
        const L* vb = maps[b] + at;
        for (int64_t x = 0; x < n; ++x) row_votes[x] += vb[x] == va[x];
      }
      for (int64_t x = 0; x < n; ++x) row_most[x] = std::max(row_most[x], row_votes[x]);
    }
  };
  // A picture row: the votes compared rater by rater, the majority counted only where split.
  std::vector<L> row_differs;
  std::vector<uint8_t> row_ignored;
  auto fill = [&](int64_t at, int64_t step, int64_t n, PixelState* state, uint8_t* majority) {
    row_differs.assign(n, 0);
    row_ignored.assign(n, 0);
    const L* first = maps[0] + at;
    for (int r = 0; r < raters; ++r) {
      const L* m = maps[r] + at;
      if (step == 1) {  // the usual case, kept apart so that it vectorises
        for (int64_t x = 0; x < n; ++x) row_differs[x] |= m[x] ^ first[x];
        if (ignoring)
          for (int64_t x = 0; x < n; ++x) row_ignored[x] |= m[x] == ignored_label;
        continue;
      }
      for (int64_t x = 0; x < n; ++x) {
        row_differs[x] |= m[x * step] ^ first[x * step];
        row_ignored[x] |= ignoring && m[x * step] == ignored_label;
      }
    }
    int64_t differing = 0;
    for (int64_t x = 0; x < n; ++x) differing += row_differs[x] != 0;
    // A contiguous row split in more than an eighth of its voxels: every voxel's majority
    // counted pairwise a rater pair at a time (loops that vectorise), as majority_at counts it.
    const bool whole_row = step == 1 && raters <= 16 && differing * 8 > n;
    if (whole_row) row_majority(at, n);
    int64_t split = 0;
    for (int64_t x = 0; x < n; ++x) {
      if (row_ignored[x]) {
        state[x] = PixelState::kIgnored;
      } else if (row_differs[x]) {
        state[x] = PixelState::kSplit;
        const int most = whole_row ? row_most[x] : majority_at(at + x * step);
        majority[x] = static_cast<uint8_t>(std::clamp(most, 1, 255));
        ++split;
      } else if (first[x * step] != 0) {
        state[x] = PixelState::kForeground;
      }
    }
    return split;
  };
  return build_picture(geom, raters, fill, count, flags);
}

}  // namespace

AgreementPicture agreement_picture(const CaseView& view, int raters, const Geometry& geom,
                                   std::optional<Label> ignore) {
  if (raters < 1) throw std::invalid_argument("a picture of agreement needs a rater");
  return view.label_bytes == 1 ? picture_of<uint8_t>(view, raters, geom, ignore)
                               : picture_of<uint16_t>(view, raters, geom, ignore);
}

AgreementPicture agreement_picture(const std::map<Label, std::vector<std::vector<uint8_t>>>& masks,
                                   int raters, const Geometry& geom) {
  // Over a row of n voxels (voxel x at at + x * step): split[x] when some label is marked by
  // some raters but not all, whole[x] when some label is marked by every rater, and where split,
  // most[x]: the fewest raters voting the majority of a split label (marked or not).
  std::vector<uint16_t> marked, most;
  std::vector<uint8_t> split, whole;
  auto votes = [&](int64_t at, int64_t step, int64_t n) {
    split.assign(n, 0);
    whole.assign(n, 0);
    most.assign(n, static_cast<uint16_t>(std::min(raters, 65535)));
    for (const auto& [label, per_rater] : masks) {
      marked.assign(n, 0);
      for (int r = 0; r < raters && r < static_cast<int>(per_rater.size()); ++r) {
        const uint8_t* m = per_rater[r].data() + at;
        if (step == 1) {
          for (int64_t x = 0; x < n; ++x) marked[x] += m[x] != 0;
        } else {
          for (int64_t x = 0; x < n; ++x) marked[x] += m[x * step] != 0;
        }
      }
      for (int64_t x = 0; x < n; ++x) {
        const int k = marked[x];
        const bool s = k > 0 && k < raters;
        split[x] |= s;
        whole[x] |= k == raters;
        if (s) most[x] = static_cast<uint16_t>(std::min<int>(most[x], std::max(k, raters - k)));
      }
    }
  };
  // Split and unanimous foreground flags of n voxels in a row of memory, label by label.
  std::vector<uint16_t> marks;
  auto flags = [&](int64_t at, int64_t n, uint8_t* split_out, uint8_t* fg) {
    std::fill(split_out, split_out + n, 0);
    std::fill(fg, fg + n, 0);
    for (const auto& [label, per_rater] : masks) {
      marks.assign(n, 0);
      for (int r = 0; r < raters && r < static_cast<int>(per_rater.size()); ++r) {
        const uint8_t* m = per_rater[r].data() + at;
        for (int64_t x = 0; x < n; ++x) marks[x] = static_cast<uint16_t>(marks[x] + (m[x] != 0));
      }
      for (int64_t x = 0; x < n; ++x) {
        split_out[x] |= marks[x] > 0 && marks[x] < raters;
        fg[x] |= marks[x] == raters;
      }
    }
    for (int64_t x = 0; x < n; ++x) fg[x] &= !split_out[x];
  };
  std::vector<uint8_t> row_split, row_fg;
  auto count = [&](int64_t at, int64_t n, int64_t* split_out, int64_t* fg) {
    row_split.resize(n);
    row_fg.resize(n);
    flags(at, n, row_split.data(), row_fg.data());
    int64_t s = 0, f = 0;
    for (int64_t x = 0; x < n; ++x) s += row_split[x], f += row_fg[x];
    *split_out += s;
    *fg += f;
  };
  auto fill = [&](int64_t at, int64_t step, int64_t n, PixelState* state, uint8_t* majority) {
    votes(at, step, n);
    int64_t split_voxels = 0;
    for (int64_t x = 0; x < n; ++x) {
      if (split[x]) {
        state[x] = PixelState::kSplit;
        majority[x] = static_cast<uint8_t>(std::clamp<int>(most[x], 1, 255));
        ++split_voxels;
      } else if (whole[x]) {
        state[x] = PixelState::kForeground;
      }
    }
    return split_voxels;
  };
  return build_picture(geom, raters, fill, count, flags);
}

Rgb agreement_colour(PixelState state, int majority_votes, int raters) {
  switch (state) {
    case PixelState::kBackground:
      return {0, 0, 0};
    case PixelState::kForeground:
      return {50, 136, 220};
    case PixelState::kIgnored:
      return {150, 100, 200};
    case PixelState::kSplit:
      break;
  }
  // 0 for a unanimous vote .. 1 for the lowest share R raters can have (1/R).
  const double share = raters > 0 ? static_cast<double>(majority_votes) / raters : 0.0;
  const double lowest = raters > 1 ? 1.0 / raters : 0.0;
  const double t = std::clamp((1.0 - share) / (1.0 - lowest), 0.0, 1.0);
  return {255, static_cast<uint8_t>(std::lround(255.0 * (1.0 - t))), 0};
}

std::vector<LegendEntry> agreement_legend(const AgreementPicture& p, bool over_image) {
  std::vector<LegendEntry> legend{
      over_image ? LegendEntry{{128, 128, 128}, "every rater: background (the image, in grey)"}
                 : LegendEntry{agreement_colour(PixelState::kBackground, 0, p.raters),
                               "every rater: background"},
      {agreement_colour(PixelState::kForeground, 0, p.raters), "every rater: the same label"}};
  // The majorities of split pixels: 1..255 where split, 0 elsewhere.
  std::array<uint8_t, 256> seen{};
  for (const uint8_t m : p.majority) seen[m] = 1;
  const bool ignored =
      std::find(p.state.begin(), p.state.end(), PixelState::kIgnored) != p.state.end();
  std::vector<int> present;  // from the largest
  for (int v = 255; v >= 1; --v)
    if (seen[v]) present.push_back(v);
  const size_t shown = std::min<size_t>(present.size(), 8);
  for (size_t k = 0; k < shown; ++k) {
    const int v = present[shown < 2 ? k : k * (present.size() - 1) / (shown - 1)];
    legend.push_back({agreement_colour(PixelState::kSplit, v, p.raters),
                      "split: " + std::to_string(v) + " of " + std::to_string(p.raters) +
                          " raters vote the majority"});
  }
  if (ignored)
    legend.push_back({agreement_colour(PixelState::kIgnored, 0, p.raters),
                      "ignore label " + (p.ignore ? std::to_string(*p.ignore) : std::string()) +
                          " (left out of the counts)"});
  return legend;
}

std::string agreement_caption(const AgreementPicture& p) {
  const std::string n = std::to_string(p.split_pixels);
  const char* s = p.split_pixels == 1 ? "" : "s";
  if (p.slices <= 1)
    return p.split_pixels == 0 ? "2D image: the raters agree on every pixel"
                               : "2D image, " + n + " pixel" + s + " where the raters disagree";
  const std::string where = "axial slice " + std::to_string(p.slice) + " of 0.." +
                            std::to_string(p.slices - 1) + " (file axis " +
                            std::to_string(p.axes.normal) + ")";
  if (p.split_pixels == 0)
    return where + ": the raters agree on every voxel (the slice with the most foreground)";
  return where + ", the one of most disagreement: " + n + " voxel" + s;
}

namespace {

// Colours pixels of a picture, over a grey image or not, as agreement_rgb describes.
class Painter {
 public:
  Painter(const AgreementPicture& p, const std::vector<uint8_t>* grey) : p_(p), grey_(grey) {
    for (int v = 0; v < 256; ++v) split_[v] = agreement_colour(PixelState::kSplit, v, p.raters);
    foreground_ = agreement_colour(PixelState::kForeground, 0, p.raters);
    ignored_ = agreement_colour(PixelState::kIgnored, 0, p.raters);
  }
  void paint(size_t i, uint8_t* out) const {
    const int g = grey_ ? (*grey_)[i] : 0;
    const PixelState st = p_.state[i];
    if (st == PixelState::kBackground) {
      out[0] = out[1] = out[2] = static_cast<uint8_t>(g);
      return;
    }
    const Rgb& c = st == PixelState::kSplit        ? split_[p_.majority[i]]
                   : st == PixelState::kForeground ? foreground_
                                                   : ignored_;
    for (int k = 0; k < 3; ++k)
      out[k] = static_cast<uint8_t>(grey_ ? (g * 3 + c[k] * 7) / 10 : c[k]);
  }

 private:
  const AgreementPicture& p_;
  const std::vector<uint8_t>* grey_;
  std::array<Rgb, 256> split_;  // by majority
  Rgb foreground_, ignored_;
};

// The source pixel (of `size`) that pixel `i` of `out` samples: the one under its centre.
int64_t sample_of(int64_t i, int64_t out, int64_t size) {
  return std::min(size - 1, (2 * i + 1) * size / (2 * out));
}

}  // namespace

std::vector<uint8_t> agreement_rgb(const AgreementPicture& p, const std::vector<uint8_t>* grey) {
  std::vector<uint8_t> rgb(p.state.size() * 3);
  const Painter painter(p, grey);
  for (size_t i = 0; i < p.state.size(); ++i) painter.paint(i, &rgb[3 * i]);
  return rgb;
}

std::vector<uint8_t> thumbnail_rgb(const AgreementPicture& p, const std::vector<uint8_t>* grey,
                                   const PixelBox& box, int64_t max_side, int64_t& ow,
                                   int64_t& oh) {
  const int64_t side = std::max(box.width, box.height);
  ow = side <= max_side ? box.width : std::max<int64_t>(1, box.width * max_side / side);
  oh = side <= max_side ? box.height : std::max<int64_t>(1, box.height * max_side / side);
  std::vector<uint8_t> out(ow * oh * 3);
  const Painter painter(p, grey);
  for (int64_t y = 0; y < oh; ++y) {
    const int64_t row = (box.y + sample_of(y, oh, box.height)) * p.width + box.x;
    for (int64_t x = 0; x < ow; ++x)
      painter.paint(row + sample_of(x, ow, box.width), &out[(y * ow + x) * 3]);
  }
  return out;
}

std::vector<uint8_t> grey_window(const RawImage& img, const AgreementPicture& p) {
  if (img.channels != 1) throw std::runtime_error("background image: not a single-channel image");
  const int64_t n = p.width * p.height;
  const Strides strides(img.geom);
  std::vector<double> values(n);
  for (int64_t y = 0; y < p.height; ++y)
    for (int64_t x = 0; x < p.width; ++x)
      values[y * p.width + x] = value_at(img, strides.at(p.axes, p.slice, x, y));
  std::vector<double> sorted = values;
  std::nth_element(sorted.begin(), sorted.begin() + n / 100, sorted.end());
  const double low = sorted[n / 100];
  std::nth_element(sorted.begin(), sorted.begin() + (n * 99) / 100, sorted.end());
  const double high = std::max(low + 1e-9, sorted[(n * 99) / 100]);
  std::vector<uint8_t> grey(n);
  for (int64_t i = 0; i < n; ++i) {
    const double v = std::isfinite(values[i]) ? (values[i] - low) / (high - low) * 255.0 : 0.0;
    grey[i] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
  }
  return grey;
}

namespace {

// [lo, hi) widened to at least `side` and by a quarter on each side, kept inside [0, size).
void widen(int64_t& lo, int64_t& hi, int64_t size, int64_t side) {
  const int64_t margin = (hi - lo) / 4;
  lo -= margin;
  hi += margin;
  const int64_t missing = side - (hi - lo);
  if (missing > 0) {
    lo -= missing / 2;
    hi += missing - missing / 2;
  }
  if (lo < 0) hi -= lo, lo = 0;
  if (hi > size) lo -= hi - size, hi = size;
  lo = std::max<int64_t>(lo, 0);
}

}  // namespace

PixelBox content_box(const AgreementPicture& p, int64_t min_side) {
  int64_t x0 = p.width, y0 = p.height, x1 = 0, y1 = 0;
  const auto marked = [](PixelState s) { return s != PixelState::kBackground; };
  for (int64_t y = 0; y < p.height; ++y) {  // each row from both ends: the box's inside unread
    const auto row = p.state.begin() + y * p.width;
    const auto first = std::find_if(row, row + p.width, marked);
    if (first == row + p.width) continue;
    const auto last = std::find_if(std::make_reverse_iterator(row + p.width),
                                   std::make_reverse_iterator(first), marked);
    x0 = std::min<int64_t>(x0, first - row);
    x1 = std::max<int64_t>(x1, last.base() - row);
    y0 = std::min(y0, y);
    y1 = y + 1;
  }
  if (x1 == 0) return {0, 0, p.width, p.height};
  widen(x0, x1, p.width, min_side);
  widen(y0, y1, p.height, min_side);
  return {x0, y0, x1 - x0, y1 - y0};
}

}  // namespace maskeval
