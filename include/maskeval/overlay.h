// Pictures for people: where the annotators disagree, in colour, over the source image.
#pragma once

#include <string>
#include <vector>

#include "maskeval/image.h"

namespace maskeval {

// True when this build can draw overlays (it needs OpenCV).
bool overlay_supported();

// Writes a colour PNG of one 2D case: the source image in grey (or black) where every rater
// agrees, and a heat colour where they do not (yellow for a narrow split, red where agreement is
// lowest). `background`, when given, is a single-channel image of the same size, windowed to its
// 1st..99th percentile. Written under a temporary name and renamed. Throws std::runtime_error.
void write_agreement_overlay(const std::string& path, const std::vector<float>& agreement,
                             int64_t width, int64_t height, int raters, const RawImage* background);

}  // namespace maskeval
