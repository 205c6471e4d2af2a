// The files a case writes: masks, maps and the overlay, in the case's output folder.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "maskeval/run.h"

namespace maskeval {

// Where a case's output files go, and in which format (NIfTI inputs give NIfTI outputs). A
// write that fails stops the run (FatalError); a folder name the file system refuses fails the
// case (CaseFailure).
struct OutputFiles {
  std::filesystem::path dir;
  bool nifti = false;
  const Geometry* geom = nullptr;
  double* seconds = nullptr;                        // when set, receives the time spent writing
  const std::map<LabelId, Rgb>* colours = nullptr;  // --labels: palette colours of label PNGs
  int level = kDefaultCompressionLevel;             // --compression-level

  std::string path(const std::string& name) const;
  void prepare() const;
  // Labels: uint8 when they fit (a palette PNG in 2D, so that viewers show them), else uint16.
  std::string write_labels(const std::string& name, const std::vector<Label>& labels) const;
  // Probabilities in [0, 1]: float32 NIfTI, or 16-bit PNG scaled to 0..65535.
  std::string write_probability(const std::string& name, const std::vector<float>& map) const;
  // Fractions in [0, 1]: float32 NIfTI, or 8-bit PNG scaled to 0..255.
  std::string write_fraction(const std::string& name, const std::vector<float>& map) const;

 private:
  // Values in [0, 1]: float32 NIfTI, or a PNG of `png` (kU8 or kU16) scaled to its range.
  std::string write_unit(const std::string& name, const std::vector<float>& map,
                         PixelType png) const;
  void write_any(const std::string& p, const void* data, PixelType type) const;
};

// The agreement overlay of a case, agreement_overlay.png, with its legend (over --overlay-image
// when given; a volume shows its axial slice of most disagreement, and says which); returns its
// path. From the label maps of the first `raters` columns of `view`:
std::string write_overlay(const CaseSpec& spec, const RunOptions& o, const OutputFiles& out,
                          const CaseView& view, int raters, const Geometry& geom);
// From binary masks per label ([label][entity], raters first: PerLabelCase::masks):
std::string write_overlay(const CaseSpec& spec, const RunOptions& o, const OutputFiles& out,
                          const std::map<Label, std::vector<std::vector<uint8_t>>>& masks,
                          int raters, const Geometry& geom);

}  // namespace maskeval
