// Text helpers of the HTML report: escaping, numbers, colours, relative links, base64.
#pragma once

#include <string>

#include "maskeval/label_set.h"

namespace maskeval::html {

// Text for HTML content and attribute values: & < > " ' escaped, bytes that are not UTF-8
// replaced with U+FFFD, control characters but tab and newline dropped.
std::string escape(const std::string& text);
// `text` cut to at most `max` bytes (at a character boundary) with " ..." added when cut.
std::string shorten(const std::string& text, size_t max);
// A figure with `digits` decimals; "-" when undefined (NaN), "inf" when infinite.
std::string number(double v, int digits = 3);
// The colour of a Dice value in the heatmaps: red (0) through pale yellow (0.75) to green (1).
Rgb dice_colour(double v);
std::string hex(const Rgb& c);
// The path of `target` relative to the folder `from_dir`, as a URL path: each byte outside
// A-Z a-z 0-9 - . _ ~ / percent-encoded. Empty for an empty target.
std::string relative_url(const std::string& target, const std::string& from_dir);
// Standard base64 (RFC 4648, with padding).
std::string base64(const std::string& bytes);

}  // namespace maskeval::html
