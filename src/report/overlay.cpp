// The agreement overlay: a picture of agreement with its legend and caption, drawn with OpenCV
// (core and imgproc) and written as PNG by maskeval's own encoder.
#include "maskeval/overlay.h"

#include <stdexcept>

#ifdef MASKEVAL_HAVE_OPENCV

#include <algorithm>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "maskeval/image.h"

namespace maskeval {
namespace {

constexpr int kMinWidth = 360;  // the legend's text needs about this much
constexpr int kLine = 20;       // pixels per legend line
constexpr int kPad = 8;
constexpr double kFontScale = 0.45;
const int kFont = cv::FONT_HERSHEY_SIMPLEX;

// `text` broken into lines no wider than `width` pixels (at word boundaries where it can).
std::vector<std::string> wrap(const std::string& text, int width) {
  std::vector<std::string> lines;
  std::string line, word;
  auto fits = [&](const std::string& s) {
    int base = 0;
    return cv::getTextSize(s, kFont, kFontScale, 1, &base).width <= width;
  };
  auto push_word = [&] {
    if (word.empty()) return;
    const std::string joined = line.empty() ? word : line + " " + word;
    if (line.empty() || fits(joined)) {
      line = joined;
    } else {
      lines.push_back(line);
      line = word;
    }
    word.clear();
  };
  for (const char ch : text) {
    if (ch == ' ') {
      push_word();
    } else {
      word += ch;
    }
  }
  push_word();
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// The legend strip: the caption, then a colour key, dark text on white.
cv::Mat legend_strip(const AgreementPicture& p, int width, bool over_image) {
  const std::vector<std::string> caption = wrap(agreement_caption(p), width - 2 * kPad);
  const std::vector<LegendEntry> legend = agreement_legend(p, over_image);
  std::vector<std::vector<std::string>> entries;
  size_t lines = caption.size();
  for (const LegendEntry& e : legend) {
    entries.push_back(wrap(e.text, width - 3 * kPad - 14));
    lines += entries.back().size();
  }
  cv::Mat strip(static_cast<int>(lines) * kLine + 2 * kPad, width, CV_8UC3,
                cv::Scalar(255, 255, 255));
  const cv::Scalar ink(30, 30, 30);
  int y = kPad + 14;
  for (const std::string& line : caption) {
    cv::putText(strip, line, {kPad, y}, kFont, kFontScale, ink, 1, cv::LINE_AA);
    y += kLine;
  }
  for (size_t k = 0; k < legend.size(); ++k) {
    const Rgb& c = legend[k].colour;
    cv::rectangle(strip, cv::Rect(kPad, y - 12, 14, 14), cv::Scalar(c[2], c[1], c[0]), cv::FILLED);
    cv::rectangle(strip, cv::Rect(kPad, y - 12, 14, 14), ink, 1);
    for (const std::string& line : entries[k]) {
      cv::putText(strip, line, {2 * kPad + 14, y}, kFont, kFontScale, ink, 1, cv::LINE_AA);
      y += kLine;
    }
  }
  return strip;
}

}  // namespace

bool overlay_supported() {
  return true;
}

void write_agreement_overlay(const std::string& path, const AgreementPicture& p,
                             const std::vector<uint8_t>* grey, int level) {
  const int w = static_cast<int>(p.width), h = static_cast<int>(p.height);
  const std::vector<uint8_t> rgb = agreement_rgb(p, grey);
  const int width = std::max(w, kMinWidth);
  const cv::Mat strip = legend_strip(p, width, grey != nullptr);
  cv::Mat canvas(h + strip.rows, width, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t* c = &rgb[(static_cast<size_t>(y) * w + x) * 3];
      canvas.at<cv::Vec3b>(y, x) = cv::Vec3b(c[2], c[1], c[0]);
    }
  }
  strip.copyTo(canvas(cv::Rect(0, h, width, strip.rows)));
  cv::Mat out;  // continuous, RGB
  cv::cvtColor(canvas, out, cv::COLOR_BGR2RGB);
  write_file_atomic(path, encode_png_rgb(out.data, out.cols, out.rows, level));
}

}  // namespace maskeval

#else

namespace maskeval {

bool overlay_supported() {
  return false;
}

void write_agreement_overlay(const std::string&, const AgreementPicture&,
                             const std::vector<uint8_t>*, int) {
  throw std::runtime_error("overlays need OpenCV; this maskeval was built without it");
}

}  // namespace maskeval

#endif
