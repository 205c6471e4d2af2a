// One case: load its masks, count, derive every figure, write its outputs.
#include "pipeline/case.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "util/parallel.h"
#include "maskeval/cuda_engine.h"
#include "maskeval/overlay.h"
#include "engine/group_commit.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

// Counting and the write pass of one case, on the CPU or the GPU. GPU work of the worker threads
// is serialised: one batch on the device at a time, while the other workers decode.
std::mutex gpu_mutex;

// A case counted on the device: the batch it went up with (kept there for its write pass),
// its place in the batch and its histogram.
struct DeviceCount {
  std::shared_ptr<cuda::DeviceCases> device;
  size_t index = 0;
  TupleHistogram histogram;
};

// Small cases from all workers go up and are counted together, up to kBatchCases at a time;
// larger ones one by one.
constexpr size_t kBatchCases = 64;
constexpr int64_t kBatchCaseBytes = int64_t{16} << 20;

GroupCommit<CaseView, DeviceCount>& device_batches() {
  static GroupCommit<CaseView, DeviceCount> batches(
      [](const std::vector<CaseView>& views) {
        std::lock_guard<std::mutex> lock(gpu_mutex);
        std::vector<DeviceCount> out(views.size());
        int64_t need = 0;
        for (const CaseView& v : views) need += cuda::DeviceCases::device_bytes(v);
        size_t free_bytes = 0;
        if (!cuda::free_device_memory(&free_bytes) ||
            need > static_cast<int64_t>(free_bytes / 10 * 7)) {
          // Short of device memory (other batches still held for their write passes): count
          // without keeping the cases there; their write passes run on the CPU.
          std::vector<TupleHistogram> h = cuda::count_tuples(views);
          for (size_t i = 0; i < views.size(); ++i) out[i] = {nullptr, i, std::move(h[i])};
          return out;
        }
        auto device = std::make_shared<cuda::DeviceCases>(views);
        std::vector<TupleHistogram> h = device->count();
        for (size_t i = 0; i < views.size(); ++i) out[i] = {device, i, std::move(h[i])};
        return out;
      },
      kBatchCases, std::chrono::milliseconds(20));
  return batches;
}

class CaseEngine {
 public:
  CaseEngine(const CaseView& view, bool gpu, int threads)
      : view_(view), gpu_(gpu), threads_(threads) {}

  TupleHistogram count() {
    if (!gpu_) return cpu::count_tuples(view_, threads_);
    if (cuda::DeviceCases::device_bytes(view_) <= kBatchCaseBytes) {
      DeviceCount c = device_batches().submit(view_);
      device_ = std::move(c.device);
      index_ = c.index;
      return std::move(c.histogram);
    }
    std::lock_guard<std::mutex> lock(gpu_mutex);
    if (!fits()) return cuda::count_tuples({view_})[0];  // in slabs
    device_ = std::make_shared<cuda::DeviceCases>(std::vector<CaseView>{view_});
    index_ = 0;
    return device_->count()[0];
  }
  void vote_maps(const TupleHistogram& h, const VoteRule& rule, const VoteMaps& out) {
    if (!device_) return cpu::vote_maps(view_, rule, out, threads_);
    std::lock_guard<std::mutex> lock(gpu_mutex);
    device_->vote_maps(index_, h, rule, out);
  }
  void staple_maps(Label label, const BinaryPatterns& p, const StapleResult& r, double threshold,
                   float* posterior, uint8_t* mask) {
    if (device_) {
      std::vector<Label> bits(view_.voxels);
      bool done = false;
      {
        std::lock_guard<std::mutex> lock(gpu_mutex);
        done = device_->staple_maps(index_, label, p, r, threshold, posterior, bits.data());
      }
      if (done) {
        for (size_t i = 0; i < bits.size(); ++i) mask[i] = static_cast<uint8_t>(bits[i]);
        return;
      }
    }
    cpu::staple_maps(view_, label, p, r, threshold, posterior, mask, threads_);
  }
  const CaseView& view() const { return view_; }

 private:
  bool fits() const {
    size_t free_bytes = 0;
    return cuda::free_device_memory(&free_bytes) &&
           cuda::DeviceCases::device_bytes(view_) <= static_cast<int64_t>(free_bytes / 10 * 7);
  }
  CaseView view_;
  bool gpu_;
  int threads_;
  std::shared_ptr<cuda::DeviceCases> device_;
  size_t index_ = 0;
};

// The distance transforms on the device, one at a time like the rest of the GPU work.
void squared_edt_on_gpu(const uint8_t* feature, const Grid& grid, const std::vector<int64_t>& at,
                        double* out, int threads) {
  std::lock_guard<std::mutex> lock(gpu_mutex);
  cuda::squared_edt_at(feature, grid, at, out, threads);
}

LabelImage load_labels(const std::string& path, const ForegroundRule& rule, const RunOptions& o) {
  try {
    return to_labels(read_image(path, o.read), rule, o.max_label);
  } catch (const InputError& e) {
    throw CaseFailure{path, e.what()};
  } catch (const std::bad_alloc&) {
    throw CaseFailure{path, "out of memory while decoding"};
  }
}

void require_same_grid(const LabelImage& img, const std::string& file, const LabelImage& first,
                       const std::string& first_file) {
  if (img.geom.same_grid(first.geom)) return;
  auto shape = [](const Geometry& g) {
    std::string s = std::to_string(g.shape[0]) + "x" + std::to_string(g.shape[1]);
    if (g.ndim == 3) s += "x" + std::to_string(g.shape[2]);
    return s;
  };
  throw CaseFailure{file, "size mismatch: " + shape(img.geom) + " here, " + shape(first.geom) +
                              " in " + first_file};
}

// Where a case's output files go, and in which format (NIfTI inputs give NIfTI outputs).
struct OutputFiles {
  fs::path dir;
  bool nifti = false;
  const Geometry* geom = nullptr;

  std::string path(const std::string& name) const {
    return (dir / (name + (nifti ? ".nii.gz" : ".png"))).string();
  }
  void prepare() const {
    std::error_code ec;
    fs::create_directories(dir, ec);
    // A name the case id gave that the file system refuses fails that case; anything else
    // (no space, no permission) stops the run.
    const auto e = static_cast<std::errc>(ec.value());
    if (ec && (e == std::errc::filename_too_long || e == std::errc::not_a_directory ||
               e == std::errc::file_exists))
      throw CaseFailure{"",
                        "cannot create its output folder " + dir.string() + ": " + ec.message()};
    if (ec) throw FatalError("cannot create output folder " + dir.string() + ": " + ec.message());
  }
  // Labels: uint8 when they fit (a palette PNG in 2D, so that viewers show them), else uint16.
  std::string write_labels(const std::string& name, const std::vector<Label>& labels) const {
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
      write_png_labels(p, bytes.data(), geom->shape[0], geom->shape[1] * geom->shape[2]);
    } catch (const std::exception& e) {
      throw FatalError(std::string("cannot write ") + p + ": " + e.what());
    }
    return p;
  }
  // Probabilities in [0, 1]: float32 NIfTI, or 16-bit PNG scaled to 0..65535.
  std::string write_probability(const std::string& name, const std::vector<float>& map) const {
    prepare();
    const std::string p = path(name);
    if (nifti) {
      write_any(p, map.data(), PixelType::kF32);
    } else {
      std::vector<uint16_t> words(map.size());
      for (size_t i = 0; i < map.size(); ++i)
        words[i] = static_cast<uint16_t>(std::lround(std::clamp(map[i], 0.0f, 1.0f) * 65535.0f));
      write_any(p, words.data(), PixelType::kU16);
    }
    return p;
  }
  // Fractions in [0, 1]: float32 NIfTI, or 8-bit PNG scaled to 0..255.
  std::string write_fraction(const std::string& name, const std::vector<float>& map) const {
    prepare();
    const std::string p = path(name);
    if (nifti) {
      write_any(p, map.data(), PixelType::kF32);
    } else {
      std::vector<uint8_t> bytes(map.size());
      for (size_t i = 0; i < map.size(); ++i)
        bytes[i] = static_cast<uint8_t>(std::lround(std::clamp(map[i], 0.0f, 1.0f) * 255.0f));
      write_any(p, bytes.data(), PixelType::kU8);
    }
    return p;
  }

 private:
  void write_any(const std::string& p, const void* data, PixelType type) const {
    try {
      if (nifti) {
        write_nifti(p, *geom, type, data);
      } else {
        write_png_gray(p, data, geom->shape[0], geom->shape[1] * geom->shape[2],
                       type == PixelType::kU8 ? 8 : 16);
      }
    } catch (const std::exception& e) {
      throw FatalError(std::string("cannot write ") + p + ": " + e.what());
    }
  }
};

LabelResult label_result(LabelCounts counts, int64_t voxels, EmptyPolicy empty) {
  LabelResult r;
  const int n = static_cast<int>(counts.volume.size());
  r.dice.resize(n * n);
  r.iou.resize(n * n);
  r.cohen_kappa.resize(n * n);
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      const uint64_t i = counts.inter(a, b), va = counts.volume[a], vb = counts.volume[b];
      r.dice[a * n + b] = dice(i, va, vb, empty);
      r.iou[a * n + b] = iou(i, va, vb, empty);
      r.cohen_kappa[a * n + b] = cohen_kappa_binary(i, va, vb, voxels, empty);
    }
  }
  r.fleiss_kappa = fleiss_kappa_binary(counts.votes.data(), n, empty);
  r.counts = std::move(counts);
  return r;
}

LabelCounts empty_counts(Label label, int raters, int64_t voxels) {
  LabelCounts c;
  c.label = label;
  c.volume.assign(raters, 0);
  c.intersection.assign(static_cast<size_t>(raters) * raters, 0);
  c.votes.assign(raters + 1, 0);
  c.votes[0] = static_cast<uint64_t>(voxels);
  return c;
}

double mean_pairwise_dice(const CaseResult& c) {
  const int n = static_cast<int>(c.raters.size());
  double sum = 0;
  int count = 0;
  for (const LabelResult& l : c.labels)
    for (int a = 0; a < n; ++a)
      for (int b = a + 1; b < n; ++b)
        if (!std::isnan(l.dice[a * n + b])) {
          sum += l.dice[a * n + b];
          ++count;
        }
  return count == 0 ? NAN : sum / count;
}

// Which rater files hold only 0 and 255 (a 0/255 mask read as labels).
ValueHint value_hint(const std::vector<LabelCounts>& counts, int raters, int64_t voxels) {
  ValueHint h;
  for (int i = 0; i < raters; ++i) {
    int values = 0;
    uint64_t at_255 = 0;
    Label top = 0;
    for (const LabelCounts& c : counts) {
      if (c.volume[i] == 0) continue;
      ++values;
      top = std::max(top, c.label);
      if (c.label == 255) at_255 = c.volume[i];
    }
    ++h.files;
    const bool only_0_255 = top == 255 ? values <= 2 : top == 0;  // an empty mask fits too
    if (only_0_255) ++h.zero_or_255;
    if (values == 2 && top == 255) {
      ++h.two_valued_255;
      h.mostly_255 += at_255 * 2 > static_cast<uint64_t>(voxels);
    }
  }
  return h;
}

Label undecided_label(const RunOptions& o, Label max_label) {
  if (o.undecided_label >= 0) return static_cast<Label>(o.undecided_label);
  if (max_label >= kMaxLabel)
    throw CaseFailure{"",
                      "label 65535 is used, so max label + 1 cannot be the undecided label; "
                      "pass --undecided-label"};
  return static_cast<Label>(max_label + 1);
}

void compare_with_reference(const std::vector<Label>& majority, const LabelImage& ref,
                            bool include_background, MajorityResult& m) {
  std::map<Label, std::array<uint64_t, 3>> counts;  // label -> (majority, reference, both)
  m.has_reference = true;
  m.mismatched = 0;
  for (size_t i = 0; i < majority.size(); ++i) {
    const Label a = majority[i], b = ref.at(static_cast<int64_t>(i));
    ++counts[a][0];
    ++counts[b][1];
    if (a == b) {
      ++counts[a][2];
    } else {
      ++m.mismatched;
    }
  }
  for (const auto& [label, c] : counts)
    if (label != 0 || include_background)
      m.dice_vs_reference[label] = dice(c[2], c[0], c[1], EmptyPolicy::kNaN);
}

std::string write_overlay(const CaseSpec& spec, const RunOptions& o, const OutputFiles& out,
                          const std::vector<float>& agreement, int raters, const Geometry& geom) {
  std::optional<RawImage> background;
  if (!o.overlay_image.empty() && !spec.folder.empty()) {
    const std::string file = (fs::path(spec.folder) / o.overlay_image).string();
    try {
      background = read_image(file, o.read);
    } catch (const InputError& e) {
      throw CaseFailure{file, std::string("overlay image: ") + e.what()};
    }
    if (background->channels != 1 || !background->geom.same_grid(geom))
      throw CaseFailure{file, "overlay image: not a single-channel image of the case's size"};
  }
  out.prepare();
  const std::string path = (out.dir / "agreement_overlay.png").string();
  try {
    write_agreement_overlay(path, agreement, geom.shape[0], geom.shape[1], raters,
                            background ? &*background : nullptr);
  } catch (const std::exception& e) {
    throw FatalError("cannot write " + path + ": " + e.what());
  }
  return path;
}

// The grid boundary metrics are measured on: the case's shape, with the file's spacing or
// --spacing.
Grid distance_grid(const Geometry& geom, const RunOptions& o) {
  Grid g;
  g.ndim = geom.ndim;
  g.shape = geom.shape;
  for (int a = 0; a < 3; ++a) g.spacing[a] = o.spacing[a] > 0 ? o.spacing[a] : geom.spacing[a];
  return g;
}

DistanceOptions distance_options(const RunOptions& o, Label label) {
  DistanceOptions d = o.distance;
  d.empty = o.empty;
  const auto it = o.nsd_tolerance_by_label.find(label);
  if (it != o.nsd_tolerance_by_label.end()) d.nsd_tolerance = it->second;
  return d;
}

// Boundary metrics of every pair of columns of `v` for `label` (binary masks built here).
std::vector<BoundaryMetrics> boundary_of(const CaseView& v, Label label, const Grid& g,
                                         const RunOptions& o, int threads,
                                         const std::vector<uint8_t>* extra = nullptr) {
  std::vector<std::vector<uint8_t>> masks(v.rater_count(), std::vector<uint8_t>(v.voxels));
  for (int i = 0; i < v.rater_count(); ++i)
    for (int64_t x = 0; x < v.voxels; ++x) masks[i][x] = v.at(i, x) == label;
  std::vector<const uint8_t*> ptrs;
  for (const auto& m : masks) ptrs.push_back(m.data());
  if (extra) ptrs.push_back(extra->data());
  return boundary_matrix(ptrs, g, distance_options(o, label), threads);
}

Score score_from(uint64_t tp, uint64_t vol_s, uint64_t vol_t, uint64_t n, EmptyPolicy p) {
  Score s;
  s.tp = tp;
  s.fp = vol_s - tp;
  s.fn = vol_t - tp;
  s.tn = n - s.tp - s.fp - s.fn;
  s.dice = dice(tp, vol_s, vol_t, p);
  s.iou = iou(tp, vol_s, vol_t, p);
  s.sensitivity = sensitivity(s.tp, s.fp, s.fn, p);
  s.specificity = specificity(s.fp, s.tn);
  s.precision = precision(s.tp, s.fp, s.fn, p);
  s.volume_similarity = volume_similarity(vol_s, vol_t);
  return s;
}

// Each column's mask of `label` scored against a binary reference: counted as one more column.
std::vector<Score> score_binary(const CaseView& v, Label label, const std::vector<uint8_t>& ref,
                                int threads, EmptyPolicy p, const Grid* grid = nullptr,
                                const RunOptions* o = nullptr, int reported_label = -1) {
  const int e = v.rater_count();
  std::vector<std::vector<uint8_t>> masks(e, std::vector<uint8_t>(v.voxels));
  for (int i = 0; i < e; ++i)
    for (int64_t x = 0; x < v.voxels; ++x) masks[i][x] = v.at(i, x) == label;
  CaseView bv;
  bv.voxels = v.voxels;
  bv.max_label = 1;
  for (const auto& m : masks) bv.raters.push_back(m.data());
  bv.raters.push_back(ref.data());
  LabelCounts one = empty_counts(1, e + 1, v.voxels);
  for (LabelCounts& c : label_counts(cpu::count_tuples(bv, threads)))
    if (c.label == 1) one = std::move(c);
  std::vector<Score> out;
  for (int i = 0; i < e; ++i)
    out.push_back(score_from(one.inter(i, e), one.volume[i], one.volume[e], v.voxels, p));
  if (grid && o) {
    std::vector<const uint8_t*> ptrs;
    for (const auto& m : masks) ptrs.push_back(m.data());
    ptrs.push_back(ref.data());
    const std::vector<BoundaryMetrics> b = boundary_matrix(
        ptrs, *grid, distance_options(*o, reported_label >= 0 ? reported_label : label), threads);
    for (int i = 0; i < e; ++i) out[i].boundary = b[static_cast<size_t>(i) * (e + 1) + e];
  }
  return out;
}

std::vector<uint8_t> binary_of(const std::vector<Label>& map, Label label) {
  std::vector<uint8_t> b(map.size());
  for (size_t i = 0; i < map.size(); ++i) b[i] = map[i] == label;
  return b;
}

std::vector<Label> labels_of(const LabelImage& img) {
  std::vector<Label> out(img.geom.voxels());
  for (size_t i = 0; i < out.size(); ++i) out[i] = img.at(static_cast<int64_t>(i));
  return out;
}

// Binary STAPLE of `label` (as the view's label `in_view`), its maps, and, with a reference,
// each rater measured against it.
StapleLabel staple_label(CaseEngine& engine, const TupleHistogram& h, Label in_view, Label label,
                         const RunOptions& o, const OutputFiles& out, int threads,
                         const std::vector<uint8_t>* reference,
                         std::vector<uint8_t>* mask_out = nullptr) {
  const CaseView& v = engine.view();
  StapleLabel s;
  s.label = label;
  const BinaryPatterns patterns = binary_patterns(h, in_view);
  s.result = staple(patterns, o.staple);
  std::vector<float> posterior(v.voxels);
  std::vector<uint8_t> mask(v.voxels);
  engine.staple_maps(in_view, patterns, s.result, o.threshold, posterior.data(), mask.data());
  s.result.posterior.clear();
  const std::string suffix = "_label" + std::to_string(label);
  s.posterior = out.write_probability("staple_posterior" + suffix, posterior);
  s.mask = out.write_labels("staple" + suffix, std::vector<Label>(mask.begin(), mask.end()));
  if (reference) {
    s.measured = score_binary(v, in_view, *reference, threads, o.empty);
    uint64_t both = 0, a = 0, b = 0;
    for (int64_t x = 0; x < v.voxels; ++x) {
      both += mask[x] & (*reference)[x];
      a += mask[x];
      b += (*reference)[x];
    }
    s.dice_vs_reference = dice(both, a, b, o.empty);
  }
  if (mask_out) mask_out->swap(mask);
  return s;
}

// The binary reference of `label` for scoring: the reference file, or a consensus of raters.
struct ScoreReference {
  const std::vector<Label>* map = nullptr;  // reference file or majority map
  std::map<Label, std::vector<uint8_t>> staple_masks;
  std::vector<uint8_t> binary(Label label) const {
    if (map) return binary_of(*map, label);
    const auto it = staple_masks.find(label);
    return it == staple_masks.end() ? std::vector<uint8_t>() : it->second;
  }
};

const char* against_name(ScoreAgainst a) {
  return a == ScoreAgainst::kReference ? "reference"
                                       : (a == ScoreAgainst::kMajority ? "majority" : "staple");
}

// --- One case whose files are label maps -------------------------------------------------
void process_label_maps(const CaseSpec& spec, const RunOptions& o, const fs::path& out_dir,
                        int threads, bool gpu, CaseResult& res) {
  // Raters first, then predictions (scored only); each group sorted by name.
  std::vector<std::string> files;
  auto collect = [&](const std::map<std::string, LabelFiles>& group,
                     std::vector<std::string>& names) {
    for (const auto& [name, by_label] : group) {
      const auto it = by_label.find(kWholeMap);
      if (it == by_label.end() || it->second.size() != 1)
        throw CaseFailure{"", "'" + name + "' has " +
                                  std::to_string(it == by_label.end() ? 0 : it->second.size()) +
                                  " label maps in this case; expected one"};
      names.push_back(name);
      res.files[name] = it->second;
      files.push_back(it->second[0]);
    }
  };
  collect(spec.raters, res.raters);
  collect(spec.predictions, res.predictions);
  const int r = static_cast<int>(res.raters.size());
  const int entities = static_cast<int>(files.size());
  std::vector<LabelImage> images(entities);
  std::vector<CaseFailure> failures(entities);
  std::vector<char> failed(entities, 0);
  parallel_ranges(entities, std::min(threads, entities), [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        images[i] = load_labels(files[i], o.foreground, o);
      } catch (const CaseFailure& f) {
        failures[i] = f;
        failed[i] = 1;
      }
    }
  });
  for (int i = 0; i < entities; ++i)
    if (failed[i]) throw failures[i];
  for (int i = 1; i < entities; ++i) require_same_grid(images[i], files[i], images[0], files[0]);
  res.geom = images[0].geom;

  // The reference file, when the case has one.
  std::optional<std::vector<Label>> reference;
  const auto ref_files = spec.reference.find(kWholeMap);
  if (ref_files != spec.reference.end()) {
    res.reference_file = ref_files->second.at(0);
    const LabelImage img = load_labels(res.reference_file, o.foreground, o);
    require_same_grid(img, res.reference_file, images[0], files[0]);
    reference = labels_of(img);
  }

  CaseView all;  // raters and predictions
  all.voxels = res.geom.voxels();
  for (const LabelImage& img : images) all.max_label = std::max(all.max_label, img.max_label);
  for (const LabelImage& img : images) all.label_bytes = std::max(all.label_bytes, img.label_bytes);
  for (LabelImage& img : images) {
    if (all.label_bytes == 2) widen_to_16(img);
    all.raters.push_back(img.data.data());
  }
  if (all.max_label == 0) all.max_label = 1;
  CaseView view = all;  // raters only
  view.raters.resize(r);

  // With no rater (predictions scored against a reference), there is no agreement to measure.
  CaseView counted = view;
  if (r == 0) counted.raters = {all.raters[0]};
  CaseEngine engine(counted, gpu, threads);
  const TupleHistogram hist = engine.count();
  const std::vector<LabelCounts> counts = label_counts(hist);
  const Grid grid = distance_grid(res.geom, o);
  res.distance_spacing = grid.spacing;
  if (r > 0) res.values = value_hint(counts, r, view.voxels);
  if (r > 0) {
    res.fleiss_kappa_all = fleiss_kappa_all(counts, r, view.voxels, o.empty);
    for (const LabelCounts& c : counts) {
      if (c.label == 0 && !o.include_background) continue;
      res.labels.push_back(label_result(c, view.voxels, o.empty));
      if (o.distances && o.command != Command::kScore) {
        res.labels.back().boundary = boundary_of(view, c.label, grid, o, threads);
        res.labels.back().nsd_tolerance = distance_options(o, c.label).nsd_tolerance;
        res.labels.back().percentile = o.distance.percentile;
      }
    }
  }

  const bool fuse = o.command == Command::kFuse;
  const bool score = o.command == Command::kScore;
  const bool majority_wanted = (fuse && o.method == FuseMethod::kMajority) ||
                               (score && o.against == ScoreAgainst::kMajority);
  const bool overlay = o.overlay && res.geom.ndim == 2 && !score;
  const bool maps = o.write_maps && !score;
  const bool want_agreement = maps || overlay;
  const OutputFiles out{out_dir, res.geom.format == "nifti", &res.geom};
  VoteRule rule;
  rule.tie = o.tie;
  rule.categories = static_cast<int>(counts.size());
  rule.undecided = majority_wanted ? undecided_label(o, view.max_label) : 0;
  std::vector<Label> majority(majority_wanted ? view.voxels : 0);
  if (majority_wanted || want_agreement) {
    std::vector<float> agreement(want_agreement ? view.voxels : 0);
    std::vector<float> entropy(maps ? view.voxels : 0);
    engine.vote_maps(
        hist, rule,
        {majority_wanted ? majority.data() : nullptr, want_agreement ? agreement.data() : nullptr,
         maps ? entropy.data() : nullptr});
    if (maps) {
      res.agreement_map = out.write_fraction("agreement", agreement);
      res.entropy_map = out.write_fraction("entropy", entropy);
    }
    if (overlay) res.overlay = write_overlay(spec, o, out, agreement, r, res.geom);
  }
  if (fuse && o.method == FuseMethod::kMajority) {
    MajorityResult m;
    m.undecided = rule.undecided;
    m.counts = majority_counts(hist, rule);
    m.mask = out.write_labels("majority", majority);
    if (reference) {
      LabelImage ref;
      ref.geom = res.geom;
      ref.label_bytes = 2;
      ref.data.resize(reference->size() * 2);
      std::memcpy(ref.data.data(), reference->data(), ref.data.size());
      compare_with_reference(majority, ref, o.include_background, m);
    }
    res.majority = std::move(m);
  }
  std::map<Label, std::vector<uint8_t>> staple_masks;
  if ((fuse && o.method == FuseMethod::kStaple) || (score && o.against == ScoreAgainst::kStaple)) {
    for (const LabelResult& lr : res.labels) {
      const Label l = lr.counts.label;
      std::vector<uint8_t> ref_bin, mask;
      if (reference && fuse) ref_bin = binary_of(*reference, l);
      StapleLabel sl = staple_label(engine, hist, l, l, o, out, threads,
                                    reference && fuse ? &ref_bin : nullptr, &mask);
      if (score) staple_masks[l] = std::move(mask);
      if (fuse) res.staple.push_back(std::move(sl));
    }
  }
  if (fuse && o.method == FuseMethod::kMlStaple) {
    MlStapleOptions mo = o.mlstaple;
    mo.undecided_label = o.undecided_label;
    MlStapleCase m;
    try {
      m.result = mlstaple(hist, mo);
    } catch (const std::invalid_argument& e) {
      throw CaseFailure{"", e.what()};
    }
    std::vector<Label> map(view.voxels);
    cpu::mlstaple_map(view, m.result, map.data(), threads);
    m.mask = out.write_labels("mlstaple", map);
    if (reference) {
      uint64_t differ = 0;
      for (size_t x = 0; x < map.size(); ++x) differ += map[x] != (*reference)[x];
      m.mismatched_vs_reference = differ;
    }
    res.mlstaple = std::move(m);
  }
  if (score) {
    ScoreReference ref;
    if (o.against == ScoreAgainst::kReference) {
      if (!reference)
        throw CaseFailure{"",
                          "no reference to score against (set --reference, a manifest role, or "
                          "--against majority|staple)"};
      ref.map = &*reference;
    } else if (o.against == ScoreAgainst::kMajority) {
      ref.map = &majority;
    } else {
      ref.staple_masks = std::move(staple_masks);
    }
    res.scored_against = against_name(o.against);
    std::vector<char> present(size_t{kMaxLabel} + 1, 0);
    for (int i = 0; i < entities; ++i)
      for (int64_t x = 0; x < all.voxels; ++x) present[all.at(i, x)] = 1;
    if (ref.map)
      for (Label l : *ref.map) present[l] = 1;
    for (const auto& kv : ref.staple_masks) present[kv.first] = 1;
    std::vector<std::string> names = res.raters;
    names.insert(names.end(), res.predictions.begin(), res.predictions.end());
    for (size_t l = 0; l < present.size(); ++l) {
      if (!present[l] || (l == 0 && !o.include_background)) continue;
      std::vector<uint8_t> ref_bin = ref.binary(static_cast<Label>(l));
      if (ref_bin.empty()) ref_bin.assign(all.voxels, 0);
      const std::vector<Score> sc = score_binary(all, static_cast<Label>(l), ref_bin, threads,
                                                 o.empty, o.distances ? &grid : nullptr, &o);
      for (int i = 0; i < entities; ++i) res.scores[names[i]][static_cast<Label>(l)] = sc[i];
    }
  }
}

// --- One case whose files are binary masks of one label each ---------------------------------
void process_per_label(const CaseSpec& spec, const RunOptions& o, const fs::path& out_dir,
                       int threads, bool gpu, CaseResult& res) {
  const bool fuse = o.command == Command::kFuse;
  const bool score = o.command == Command::kScore;
  if (fuse && o.method == FuseMethod::kMlStaple)
    throw CaseFailure{"",
                      "multi-label STAPLE needs label maps; this manifest gives one binary "
                      "mask per label (use --method staple or majority)"};
  // A file holds a binary mask: with the default rule, any nonzero value is foreground.
  ForegroundRule rule = o.foreground;
  if (rule.kind == ForegroundRule::Kind::kLabels) rule.kind = ForegroundRule::Kind::kNonzero;

  // Entities: raters, then predictions (scored only).
  std::set<Label> labels;
  std::vector<const LabelFiles*> entity_files;
  auto collect = [&](const std::map<std::string, LabelFiles>& group,
                     std::vector<std::string>& names) {
    for (const auto& [name, by_label] : group) {
      names.push_back(name);
      entity_files.push_back(&by_label);
      for (const auto& [label, files] : by_label) {
        labels.insert(static_cast<Label>(label));
        auto& list = res.files[name];
        list.insert(list.end(), files.begin(), files.end());
      }
    }
  };
  collect(spec.raters, res.raters);
  collect(spec.predictions, res.predictions);
  const int r = static_cast<int>(res.raters.size());
  const int entities = static_cast<int>(entity_files.size());
  // masks[label][entity]: the union of the entity's files for that label.
  std::map<Label, std::vector<std::vector<uint8_t>>> masks;
  LabelImage first;
  std::string first_file;
  auto load_mask = [&](const std::string& f, std::vector<uint8_t>& into) {
    const LabelImage img = load_labels(f, rule, o);
    if (first_file.empty()) {
      first_file = f;
      first.geom = img.geom;
    }
    require_same_grid(img, f, first, first_file);
    binary_mask_of(img, 1, into, !into.empty());
  };
  for (int i = 0; i < entities; ++i) {
    for (const auto& [label, files] : *entity_files[i]) {
      auto& per_entity = masks[static_cast<Label>(label)];
      per_entity.resize(entities);
      for (const std::string& f : files) load_mask(f, per_entity[i]);
    }
  }
  res.geom = first.geom;
  const int64_t voxels = res.geom.voxels();
  for (auto& [label, per_entity] : masks) {
    per_entity.resize(entities);
    for (auto& m : per_entity)
      if (m.empty()) m.assign(voxels, 0);  // no file: nothing marked of this label
  }

  // The order in which per-label masks are painted into one label map.
  std::vector<Label> order;
  for (const Label l : labels)
    if (std::find(o.paint_order.begin(), o.paint_order.end(), l) == o.paint_order.end())
      order.push_back(l);
  for (const Label l : o.paint_order)
    if (labels.count(l)) order.push_back(l);

  // The reference as a label map: a whole file, or per-label files painted in that order.
  std::optional<std::vector<Label>> reference;
  if (!spec.reference.empty()) {
    const auto whole = spec.reference.find(kWholeMap);
    if (whole != spec.reference.end()) {
      res.reference_file = whole->second.at(0);
      LabelImage img = load_labels(res.reference_file, o.foreground, o);
      require_same_grid(img, res.reference_file, first, first_file);
      reference = labels_of(img);
    } else {
      reference = std::vector<Label>(voxels, 0);
      for (const Label l : order) {
        const auto it = spec.reference.find(l);
        if (it == spec.reference.end()) continue;
        std::vector<uint8_t> mask;
        for (const std::string& f : it->second) load_mask(f, mask);
        if (res.reference_file.empty()) res.reference_file = it->second.at(0);
        for (int64_t x = 0; x < voxels; ++x)
          if (mask[x]) (*reference)[x] = l;
      }
    }
  }

  const OutputFiles out{out_dir, res.geom.format == "nifti", &res.geom};
  const Grid grid = distance_grid(res.geom, o);
  res.distance_spacing = grid.spacing;
  const bool majority_wanted = (fuse && o.method == FuseMethod::kMajority) ||
                               (score && o.against == ScoreAgainst::kMajority);
  const bool staple_wanted =
      (fuse && o.method == FuseMethod::kStaple) || (score && o.against == ScoreAgainst::kStaple);
  const bool maps = o.write_maps && !score;
  const Label undecided = fuse ? undecided_label(o, *labels.rbegin()) : 0;
  std::map<Label, std::vector<Label>> votes;  // per label: binary majority, 2 = tie
  std::map<Label, std::vector<uint8_t>> staple_masks;
  for (const Label label : labels) {
    if (r == 0) continue;  // predictions only: nothing to agree on
    CaseView view;         // raters only
    view.voxels = voxels;
    view.max_label = 1;
    for (int i = 0; i < r; ++i) view.raters.push_back(masks[label][i].data());
    CaseEngine engine(view, gpu, threads);
    const TupleHistogram hist = engine.count();
    LabelCounts c = empty_counts(label, r, voxels);
    for (LabelCounts& lc : label_counts(hist))
      if (lc.label == 1) c = std::move(lc);
    c.label = label;
    LabelResult lr = label_result(std::move(c), voxels, o.empty);
    if (o.distances && !score) {
      lr.boundary = boundary_of(view, 1, grid, o, threads);
      lr.nsd_tolerance = distance_options(o, label).nsd_tolerance;
      lr.percentile = o.distance.percentile;
    }
    if (majority_wanted || maps) {
      VoteRule vr{o.tie, 2, 2};
      std::vector<Label> majority(majority_wanted ? voxels : 0);
      std::vector<float> agreement(maps ? voxels : 0), entropy(agreement.size());
      engine.vote_maps(hist, vr,
                       {majority_wanted ? majority.data() : nullptr,
                        maps ? agreement.data() : nullptr, maps ? entropy.data() : nullptr});
      const std::string suffix = "_label" + std::to_string(label);
      if (maps) {
        lr.agreement_map = out.write_fraction("agreement" + suffix, agreement);
        lr.entropy_map = out.write_fraction("entropy" + suffix, entropy);
      }
      if (majority_wanted) votes[label] = std::move(majority);
    }
    if (staple_wanted) {
      std::vector<uint8_t> ref_bin;
      if (reference && fuse) ref_bin = binary_of(*reference, label);
      std::vector<uint8_t> mask;
      StapleLabel sl = staple_label(engine, hist, 1, label, o, out, threads,
                                    reference && fuse ? &ref_bin : nullptr, &mask);
      if (score) staple_masks[label] = std::move(mask);
      if (fuse) res.staple.push_back(std::move(sl));
    }
    res.labels.push_back(std::move(lr));
  }

  if (fuse && o.method == FuseMethod::kMajority) {
    // Paint the per-label consensus masks into one label map.
    if (o.paint_order.empty()) {
      std::map<std::pair<Label, Label>, uint64_t> overlaps;
      for (int64_t i = 0; i < voxels; ++i) {
        Label seen = 0;
        for (const Label l : labels) {
          if (votes[l][i] != 1) continue;
          if (seen != 0) ++overlaps[{seen, l}];
          seen = l;
        }
      }
      if (!overlaps.empty()) {
        const auto& [pair, n] = *overlaps.begin();
        throw CaseFailure{"", "labels " + std::to_string(pair.first) + " and " +
                                  std::to_string(pair.second) + " overlap in " + std::to_string(n) +
                                  " voxels of the consensus; pass --paint-order (labels painted "
                                  "later overwrite earlier ones, e.g. --paint-order 1,3,2)"};
      }
    }
    std::vector<Label> painted(voxels, 0);
    for (const Label l : order) {
      const std::vector<Label>& v = votes[l];
      for (int64_t i = 0; i < voxels; ++i) {
        if (v[i] == 1)
          painted[i] = l;
        else if (v[i] == 2)
          painted[i] = undecided;
      }
    }
    MajorityResult m;
    m.undecided = undecided;
    std::map<Label, uint64_t> counts;
    for (const Label l : painted) ++counts[l];
    m.counts.assign(counts.begin(), counts.end());
    m.mask = out.write_labels("majority", painted);
    if (reference) {
      LabelImage ref;
      ref.geom = first.geom;
      ref.label_bytes = 2;
      ref.data.resize(voxels * 2);
      std::memcpy(ref.data.data(), reference->data(), voxels * 2);
      compare_with_reference(painted, ref, o.include_background, m);
    }
    res.majority = std::move(m);
  }

  if (score) {
    if (o.against == ScoreAgainst::kReference && !reference)
      throw CaseFailure{"",
                        "no reference to score against (set a manifest role=reference row, "
                        "or --against majority|staple)"};
    res.scored_against = against_name(o.against);
    std::vector<std::string> names = res.raters;
    names.insert(names.end(), res.predictions.begin(), res.predictions.end());
    std::set<Label> scored = labels;
    if (reference)
      for (Label l : *reference)
        if (l != 0) scored.insert(l);
    for (const Label label : scored) {
      std::vector<uint8_t> ref_bin;
      if (o.against == ScoreAgainst::kReference) {
        ref_bin = binary_of(*reference, label);
      } else if (o.against == ScoreAgainst::kMajority) {
        ref_bin.assign(voxels, 0);
        if (votes.count(label))
          for (int64_t x = 0; x < voxels; ++x) ref_bin[x] = votes[label][x] == 1;
      } else {
        ref_bin = staple_masks.count(label) ? staple_masks[label] : std::vector<uint8_t>(voxels, 0);
      }
      CaseView ev;
      ev.voxels = voxels;
      ev.max_label = 1;
      std::vector<uint8_t> none(masks.count(label) ? 0 : voxels, 0);
      for (int i = 0; i < entities; ++i)
        ev.raters.push_back(masks.count(label) ? masks[label][i].data() : none.data());
      const std::vector<Score> sc =
          score_binary(ev, 1, ref_bin, threads, o.empty, o.distances ? &grid : nullptr, &o, label);
      for (int i = 0; i < entities; ++i) res.scores[names[i]][label] = sc[i];
    }
  }
}

}  // namespace

DeviceBatchWorker::DeviceBatchWorker() {
  device_batches().add_worker();
}

DeviceBatchWorker::~DeviceBatchWorker() {
  device_batches().remove_worker();
}

void process_case(const CaseSpec& spec, const std::string& folder, const Dataset& data,
                  const RunOptions& o, int threads, bool gpu, CaseResult& res) {
  res.id = spec.id;
  if (!spec.problem.empty()) throw CaseFailure{spec.problem_file, spec.problem};
  // Agreement and consensus need two raters; scoring against a reference file needs one mask.
  const bool one_is_enough = o.command == Command::kScore && o.against == ScoreAgainst::kReference;
  const size_t scored = spec.raters.size() + spec.predictions.size();
  if (one_is_enough ? scored < 1 : spec.raters.size() < 2)
    throw CaseFailure{spec.raters.empty() ? "" : spec.raters.begin()->second.begin()->second.at(0),
                      one_is_enough
                          ? "no rater or prediction to score"
                          : "fewer than 2 raters (" + std::to_string(spec.raters.size()) + ")"};
  const fs::path out_dir = fs::path(o.out_dir) / "cases" / folder;
  // On the GPU backend the distance transforms run on the device too.
  RunOptions on_gpu;
  if (gpu && o.distances) {
    on_gpu = o;
    on_gpu.distance.edt = squared_edt_on_gpu;
  }
  const RunOptions& opts = gpu && o.distances ? on_gpu : o;
  if (data.per_label) {
    process_per_label(spec, opts, out_dir, threads, gpu, res);
  } else {
    process_label_maps(spec, opts, out_dir, threads, gpu, res);
  }
  res.mean_pairwise_dice = mean_pairwise_dice(res);
}

}  // namespace maskeval
