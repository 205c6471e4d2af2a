// Pictures for people: where the annotators agree and disagree, in one colour scheme shared by
// the --overlay pictures and the HTML report's thumbnails.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "maskeval/counts.h"
#include "maskeval/image.h"
#include "maskeval/label_set.h"

namespace maskeval {

// True when this build can draw overlays (it needs OpenCV).
bool overlay_supported();

// What a picture of agreement shows at a pixel.
enum class PixelState : uint8_t {
  kBackground,  // every rater gives the background (label 0)
  kForeground,  // every rater gives the same label, not the background
  kSplit,       // the raters do not all agree
  kIgnored,     // a rater gives the ignore label (--ignore-label)
};

// The voxel axes (0 = x, fastest in memory) of a slice picture: the slices' normal, and the axes
// drawn across and down.
struct SliceAxes {
  int normal = 2, across = 0, down = 1;
};
// A volume's axial slices: from a NIfTI header's sform (else qform), the voxel axis that points
// most along the patient's z (inferior-superior) is the normal, and of the other two the one
// most along the patient's x is drawn across; without that information (2D images, other
// formats) the slices are across axis 2 (z).
SliceAxes axial_axes(const Geometry& geom);

// One 2D image, or the axial slice of a volume in which the raters disagree most.
struct AgreementPicture {
  SliceAxes axes;
  int64_t width = 0, height = 0;
  int raters = 0;
  int ndim = 2;
  int64_t slice = 0;         // volumes: the axial slice shown (index along axes.normal)
  int64_t slices = 1;        // volumes: how many axial slices there are
  int64_t split_pixels = 0;  // pixels of the picture where the raters do not all agree
  std::vector<PixelState> state;
  // Where the state is kSplit: how many raters vote the majority there (1 .. raters - 1).
  std::vector<uint8_t> majority;
  std::optional<Label> ignore;
};

// The picture of a case whose files are label maps: the first `raters` columns of `view`, on
// `geom`'s grid. For a volume, the axial slice (axial_axes) with the most voxels where the raters
// do not all agree (the lowest such slice on a tie; with no disagreement, the slice with the most
// unanimous foreground).
AgreementPicture agreement_picture(const CaseView& view, int raters, const Geometry& geom,
                                   std::optional<Label> ignore = std::nullopt);
// The same for binary masks per label ([label][rater], one byte a voxel, raters first; later
// entries are ignored): a pixel is split when the raters differ on any label, and its majority is
// the smallest majority over the labels.
AgreementPicture agreement_picture(const std::map<Label, std::vector<std::vector<uint8_t>>>& masks,
                                   int raters, const Geometry& geom);

// The colour scheme. Unanimous background: the source image in grey, or black; unanimous
// foreground: a calm blue; a split: a heat colour by the share of raters voting the majority
// there, orange-yellow for a narrow split to red where that share is lowest (1 / raters);
// ignored: violet.
Rgb agreement_colour(PixelState state, int majority_votes, int raters);

struct LegendEntry {
  Rgb colour;
  std::string text;
};
// What each colour of `picture` means: the two unanimous states, then every majority share
// present (most agreement first; at most 8, evenly picked, when there are more), then the
// ignored pixels when there are any.
// `over_image`: the picture is drawn over the source image (unanimous background shows it).
std::vector<LegendEntry> agreement_legend(const AgreementPicture& picture, bool over_image = false);
// Where the picture comes from: "2D image, 312 pixels where the raters disagree" or "axial
// slice 41 of 0..89 (most disagreement: 312 voxels)".
std::string agreement_caption(const AgreementPicture& picture);

// The picture as 8-bit RGB (3 bytes a pixel). `grey`, when given, is one byte a pixel of the
// source image: unanimous background shows it, the other colours are blended over it (70%).
std::vector<uint8_t> agreement_rgb(const AgreementPicture& picture,
                                   const std::vector<uint8_t>* grey = nullptr);
// The slice `picture` shows of a single-channel image on the case's grid as 8-bit grey, one byte
// a pixel of the picture, windowed to its 1st..99th percentile. Throws std::runtime_error for a
// multi-channel image.
std::vector<uint8_t> grey_window(const RawImage& image, const AgreementPicture& picture);
// A rectangle of a picture, in pixels.
struct PixelBox {
  int64_t x = 0, y = 0, width = 0, height = 0;
};
// The box around every pixel that is not unanimous background, widened by a quarter of its size
// on each side (at least `min_side` pixels wide and high where the picture allows) and kept
// inside the picture; the whole picture when all of it is background.
PixelBox content_box(const AgreementPicture& picture, int64_t min_side = 32);
// The box of a picture as 8-bit RGB (coloured as agreement_rgb colours it), downscaled to the
// nearest pixel so that neither side exceeds `max_side` (aspect kept; a box that fits keeps its
// size). Sets the new size.
std::vector<uint8_t> thumbnail_rgb(const AgreementPicture& picture,
                                   const std::vector<uint8_t>* grey, const PixelBox& box,
                                   int64_t max_side, int64_t& out_width, int64_t& out_height);

// Writes a colour PNG of one picture with its legend and caption drawn below it (at least 360
// pixels wide, so that the legend is readable; the picture keeps its size and sits at the top
// left), at deflate `level` (--compression-level). Written under a temporary name and renamed.
// Throws std::runtime_error (also in a build without OpenCV).
void write_agreement_overlay(const std::string& path, const AgreementPicture& picture,
                             const std::vector<uint8_t>* grey, int level);

}  // namespace maskeval
