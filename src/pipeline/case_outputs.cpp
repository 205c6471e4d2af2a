// The files a case writes: masks, maps and the overlay, in the case's output folder.
#include "pipeline/case_outputs.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "maskeval/overlay.h"
#include "pipeline/case.h"
#include "pipeline/stage_timer.h"

namespace maskeval {
namespace fs = std::filesystem;
std::string OutputFiles::path(const std::string& name) const {
  return (dir / (name + (nifti ? ".nii.gz" : ".png"))).string();
}

void OutputFiles::prepare() const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  // A name the case id gave that the file system refuses fails that case; anything else
  // (no space, no permission) stops the run.
  const auto e = static_cast<std::errc>(ec.value());
  if (ec && (e == std::errc::filename_too_long || e == std::errc::not_a_directory ||
             e == std::errc::file_exists))
    throw CaseFailure{"", "cannot create its output folder " + dir.string() + ": " + ec.message()};
  if (ec) throw FatalError("cannot create output folder " + dir.string() + ": " + ec.message());
}

std::string OutputFiles::write_labels(const std::string& name,
                                      const std::vector<Label>& labels) const {
  const StageTimer clock(seconds);
  prepare();
  const std::string p = path(name);
  const bool narrow = *std::max_element(labels.begin(), labels.end()) < 256;
  if (!narrow) {
    write_any(p, labels.data(), PixelType::kU16);
    return p;
  }
  const std::vector<uint8_t> bytes(labels.begin(), labels.end());
  if (nifti) {
    write_any(p, bytes.data(), PixelType::kU8);
    return p;
  }
  try {
    std::map<uint8_t, Rgb> palette;
    for (const auto& [id, rgb] : colours ? *colours : std::map<LabelId, Rgb>{})
      if (id >= 0 && id < 256) palette[static_cast<uint8_t>(id)] = rgb;
    write_png_labels(p, bytes.data(), geom->shape[0], geom->shape[1] * geom->shape[2], palette,
                     level);
  } catch (const std::exception& e) {
    throw FatalError(std::string("cannot write ") + p + ": " + e.what());
  }
  return p;
}

namespace {

// A map of values in [0, 1] scaled to 0..top and rounded half away from zero, as unsigned
// integers of type T (NaN gives 0). The product is a float, as lround(v * top) rounds it; in
// double, adding 1/2 to it is exact and truncating rounds it as lround does, in a loop that
// vectorises.
template <class T>
std::vector<T> scaled(const std::vector<float>& map, float top) {
  std::vector<T> out(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    const float v = map[i] > 0.0f ? std::min(map[i], 1.0f) : 0.0f;
    out[i] = static_cast<T>(static_cast<int32_t>(static_cast<double>(v * top) + 0.5));
  }
  return out;
}

}  // namespace

std::string OutputFiles::write_probability(const std::string& name,
                                           const std::vector<float>& map) const {
  return write_unit(name, map, PixelType::kU16);
}

std::string OutputFiles::write_fraction(const std::string& name,
                                        const std::vector<float>& map) const {
  return write_unit(name, map, PixelType::kU8);
}

std::string OutputFiles::write_unit(const std::string& name, const std::vector<float>& map,
                                    PixelType png) const {
  const StageTimer clock(seconds);
  prepare();
  const std::string p = path(name);
  if (nifti) {
    write_any(p, map.data(), PixelType::kF32);
  } else if (png == PixelType::kU16) {
    write_any(p, scaled<uint16_t>(map, 65535.0f).data(), png);
  } else {
    write_any(p, scaled<uint8_t>(map, 255.0f).data(), png);
  }
  return p;
}

void OutputFiles::write_any(const std::string& p, const void* data, PixelType type) const {
  try {
    if (nifti) {
      write_nifti(p, *geom, type, data, level);
    } else {
      write_png_gray(p, data, geom->shape[0], geom->shape[1] * geom->shape[2],
                     type == PixelType::kU8 ? 8 : 16, level);
    }
  } catch (const std::exception& e) {
    throw FatalError(std::string("cannot write ") + p + ": " + e.what());
  }
}

namespace {

// The overlay of one picture over the slice it shows of --overlay-image (when given).
std::string write_picture(const CaseSpec& spec, const RunOptions& o, const OutputFiles& out,
                          AgreementPicture picture, const Geometry& geom) {
  const StageTimer clock(out.seconds);
  picture.ignore = o.labels.ignore;
  std::optional<std::vector<uint8_t>> grey;
  if (!o.overlay_image.empty() && !spec.folder.empty()) {
    const std::string file = (fs::path(spec.folder) / o.overlay_image).string();
    RawImage background;
    try {
      background = read_image(file, o.read);
    } catch (const InputError& e) {
      throw CaseFailure{file, std::string("overlay image: ") + e.what()};
    }
    if (background.channels != 1 || !background.geom.same_grid(geom))
      throw CaseFailure{file, "overlay image: not a single-channel image of the case's size"};
    grey = grey_window(background, picture);
  }
  out.prepare();
  const std::string path = (out.dir / "agreement_overlay.png").string();
  try {
    write_agreement_overlay(path, picture, grey ? &*grey : nullptr, out.level);
  } catch (const std::exception& e) {
    throw FatalError("cannot write " + path + ": " + e.what());
  }
  return path;
}

}  // namespace

std::string write_overlay(const CaseSpec& spec, const RunOptions& o, const OutputFiles& out,
                          const CaseView& view, int raters, const Geometry& geom) {
  return write_picture(spec, o, out, agreement_picture(view, raters, geom, o.labels.ignore), geom);
}

std::string write_overlay(const CaseSpec& spec, const RunOptions& o, const OutputFiles& out,
                          const std::map<Label, std::vector<std::vector<uint8_t>>>& masks,
                          int raters, const Geometry& geom) {
  return write_picture(spec, o, out, agreement_picture(masks, raters, geom), geom);
}

}  // namespace maskeval
