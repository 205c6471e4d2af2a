// Thumbnails of the HTML report's worklist, drawn where the raters disagree (the 2D image, or a
// volume's axial slice of most disagreement): kept from the run, else from the files reloaded.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "maskeval/overlay.h"
#include "maskeval/report.h"
#include "pipeline/case.h"
#include "pipeline/load_case.h"
#include "report/html_text.h"
#include "util/parallel.h"

namespace maskeval {
namespace {

// The case's listing entry: from the dataset when there is one, else rebuilt from the files
// the run recorded (label maps only). Only the raters are kept: the picture is of them.
CaseSpec raters_spec(const CaseResult& c, const Dataset* data, bool& per_label) {
  CaseSpec spec;
  if (data) {
    if (const std::optional<size_t> i = data->cases.find(c.id)) spec = data->cases[*i];
    per_label = data->per_label;
  }
  if (spec.raters.empty()) {
    spec.id = c.id;
    for (const std::string& name : c.raters) {
      const auto files = c.files.find(name);
      if (files == c.files.end() || files->second.size() != 1)
        throw CaseFailure{"", "one binary file per label: a picture needs the dataset listing"};
      spec.raters[name][kWholeMap] = files->second;
    }
    per_label = false;
  }
  spec.predictions.clear();
  spec.reference.clear();
  return spec;
}

// The source image under the picture (--overlay-image), when there is one that fits; a note
// in the caption when it cannot be used.
std::optional<std::vector<uint8_t>> background(const CaseSpec& spec, const RunOptions& o,
                                               const Geometry& geom,
                                               const AgreementPicture& picture, std::string& note) {
  if (o.overlay_image.empty() || spec.folder.empty()) return std::nullopt;
  const std::string file = (std::filesystem::path(spec.folder) / o.overlay_image).string();
  try {
    const RawImage img = read_image(file, o.read);
    if (img.channels == 1 && img.geom.same_grid(geom)) return grey_window(img, picture);
    note = " (" + o.overlay_image + " not drawn under it: not a single-channel image of its size)";
  } catch (const std::exception& e) {
    note = " (" + o.overlay_image + " not drawn under it: " + e.what() + ")";
  }
  return std::nullopt;
}

// The thumbnail of a picture of the case: cropped to where the raters marked anything, then
// downscaled, over the case's --overlay-image when there is one.
Thumbnail thumbnail_of(AgreementPicture picture, const CaseSpec& spec, const RunOptions& o,
                       const Geometry& geom, const HtmlOptions& html) {
  picture.ignore = o.labels.ignore;
  Thumbnail t;
  std::string note;
  const auto grey = background(spec, o, geom, picture, note);
  const PixelBox box = content_box(picture);
  const std::vector<uint8_t> small =
      thumbnail_rgb(picture, grey ? &*grey : nullptr, box, html.thumbnail_side, t.width, t.height);
  t.png = encode_png_rgb(small.data(), t.width, t.height);
  t.caption = agreement_caption(picture) + note;
  if (box.width != picture.width || box.height != picture.height)
    t.caption += "; cropped to x " + std::to_string(box.x) + ".." +
                 std::to_string(box.x + box.width - 1) + ", y " + std::to_string(box.y) + ".." +
                 std::to_string(box.y + box.height - 1) + " of " + std::to_string(picture.width) +
                 "x" + std::to_string(picture.height);
  if (t.width != box.width)
    t.caption += "; scaled by " + html::number(static_cast<double>(t.width) / box.width, 2);
  t.legend = agreement_legend(picture, grey.has_value());
  return t;
}

// The thumbnail of a case drawn from its rater files, loaded again.
Thumbnail draw(const CaseResult& c, const Dataset* data, const RunOptions& o,
               const HtmlOptions& html, int threads) {
  bool per_label = false;
  const CaseSpec spec = raters_spec(c, data, per_label);
  const int raters = static_cast<int>(spec.raters.size());
  if (raters < 2) throw CaseFailure{"", "fewer than two raters"};
  CaseResult scratch;
  if (per_label) {
    const PerLabelCase loaded = load_per_label(spec, o, scratch);
    return per_label_thumbnail(spec, o, loaded.masks, raters, loaded.geom, html);
  }
  LabelMapCase loaded = load_label_maps(spec, o, std::min(raters, threads), scratch);
  const CaseView view = label_map_view(loaded, raters, false);
  return label_map_thumbnail(spec, o, view, raters, loaded.images[0].geom, html);
}

}  // namespace

Thumbnail label_map_thumbnail(const CaseSpec& spec, const RunOptions& o, const CaseView& view,
                              int raters, const Geometry& geom, const HtmlOptions& html) {
  return thumbnail_of(agreement_picture(view, raters, geom, o.labels.ignore), spec, o, geom, html);
}

Thumbnail per_label_thumbnail(const CaseSpec& spec, const RunOptions& o,
                              const std::map<Label, std::vector<std::vector<uint8_t>>>& masks,
                              int raters, const Geometry& geom, const HtmlOptions& html) {
  return thumbnail_of(agreement_picture(masks, raters, geom), spec, o, geom, html);
}

bool ThumbnailKeeper::would_keep(double mean_dice, const std::string& id) const {
  if (capacity_ == 0 || std::isnan(mean_dice)) return false;
  return kept_.size() < capacity_ || std::make_pair(mean_dice, id) < kept_.rbegin()->first;
}

void ThumbnailKeeper::offer(const std::string& id, double mean_dice,
                            const std::function<Thumbnail()>& draw) {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!would_keep(mean_dice, id)) return;
  }
  Thumbnail t;
  try {
    t = draw();
  } catch (const std::exception&) {
    return;  // the report tries again from the files, and says why it has none
  }
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!would_keep(mean_dice, id)) return;
  kept_[{mean_dice, id}] = std::move(t);
  if (kept_.size() > capacity_) kept_.erase(std::prev(kept_.end()));
}

std::optional<Thumbnail> ThumbnailKeeper::find(const std::string& id) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [key, t] : kept_)
    if (key.second == id) return t;
  return std::nullopt;
}

std::map<std::string, Thumbnail> worklist_thumbnails(const RunResult& result,
                                                     const Summary& summary, const RunOptions& o,
                                                     const Dataset* data, const HtmlOptions& html) {
  // The worklist's cases only (--adjudicate of them), held while their pictures are drawn.
  std::map<std::string, std::shared_ptr<const CaseResult>> by_id;
  for (const Adjudication& a : summary.adjudicate) by_id[a.id] = nullptr;
  for (auto c = result.cases.begin(); c != result.cases.end(); ++c) {
    const auto it = by_id.find(c->id);
    if (it != by_id.end()) it->second = result.cases.get(c.index());
  }
  std::map<std::string, Thumbnail> out;
  std::vector<std::pair<Thumbnail*, const CaseResult*>> todo;  // in the worklist's order
  for (const Adjudication& a : summary.adjudicate) {
    const auto [slot, fresh] = out.try_emplace(a.id);
    if (!fresh) continue;  // listed twice: one picture
    Thumbnail& t = slot->second;
    const CaseResult* c = by_id[a.id].get();
    if (todo.size() >= html.max_thumbnails) {
      t.missing = "only the first " + std::to_string(html.max_thumbnails) +
                  " cases of the worklist get a picture";
    } else if (c == nullptr) {
      t.missing = "the case is not among the results";
    } else {
      todo.emplace_back(&t, c);
    }
  }
  // Drawn as the run evaluates its cases: a case per worker (each keeping its buffers from one
  // case to the next), any threads left over loading a case's files.
  const int threads = o.threads > 0 ? o.threads : hardware_threads();
  const int n = static_cast<int>(todo.size());
  const int workers = std::max(1, std::min(threads, n));
  parallel_ranges(n, workers, [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Thumbnail& t = *todo[i].first;
      if (o.thumbnails)
        if (std::optional<Thumbnail> kept = o.thumbnails->find(todo[i].second->id)) {
          t = std::move(*kept);
          continue;
        }
      try {
        t = draw(*todo[i].second, data, o, html, std::max(1, threads / workers));
      } catch (const CaseFailure& f) {
        t.missing = (f.file.empty() ? "" : f.file + ": ") + f.reason;
      } catch (const std::exception& e) {
        t.missing = e.what();
      }
    }
  });
  size_t bytes = 0;
  for (auto& [t, c] : todo) {
    if (!t->png.empty() && bytes + t->png.size() > html.picture_bytes) {
      *t = Thumbnail{};
      t->missing = "the page's budget for pictures (" + std::to_string(html.picture_bytes >> 20) +
                   " MiB) is spent";
    }
    bytes += t->png.size();
  }
  return out;
}

}  // namespace maskeval
