// Evaluating one counted view of a case: agreement and scores from its histogram.
#include "pipeline/evaluate.h"

#include "maskeval/write_tables.h"

namespace maskeval {

std::unique_ptr<Engine::Counted> count_view(CaseContext& ctx, const CaseView& view) {
  const StageTimer t(ctx.times->count);
  return ctx.engine.count(view, ctx.threads);
}

void write_pass(CaseContext& ctx, Engine::Counted& counted, const WriteTable& table) {
  const StageTimer t(ctx.times->write);
  ctx.engine.write(counted, table, ctx.threads);
}

CountedView whole_view(Engine::Counted& counted) {
  return {counted, counted.histogram()};
}

CountedView region_view(const CountedView& v, const Region& region) {
  return {v.counted,
          map_labels(v.histogram, [&](Label l) { return static_cast<Label>(region.covers(l)); })};
}

bool reported(const RunOptions& o, Label l) {
  if (o.labels.ignore && l == *o.labels.ignore) return false;
  return l != 0 || o.include_background || o.labels.zero_is_a_class();
}

std::string output_suffix(const RunOptions& o, LabelId id) {
  return is_region(id) ? "_region-" + file_safe(o.labels.key(id)) : "_label" + std::to_string(id);
}

Grid distance_grid(const Geometry& geom, const RunOptions& o) {
  Grid g;
  g.ndim = geom.ndim;
  g.shape = geom.shape;
  for (int a = 0; a < 3; ++a) g.spacing[a] = o.spacing[a] > 0 ? o.spacing[a] : geom.spacing[a];
  return g;
}

DistanceOptions distance_options(const RunOptions& o, LabelId label) {
  DistanceOptions d = o.distance;
  d.empty = o.empty;
  const auto it = o.nsd_tolerance_by_label.find(label);
  if (it != o.nsd_tolerance_by_label.end()) d.nsd_tolerance = it->second;
  return d;
}

TupleHistogram raters_histogram(const TupleHistogram& h, const Columns& c) {
  bool all_counted = true;  // no entry left out by the ignore label
  for (size_t e = 0; e < entry_count(h) && all_counted; ++e) all_counted = entry_voxels(h, e) > 0;
  if (c.total() == c.raters && all_counted) return h;
  std::vector<int> cols(c.raters);
  for (int i = 0; i < c.raters; ++i) cols[i] = i;
  return project(h, cols);
}

LabelCounts counts_of(const std::vector<LabelCounts>& counts, Label label, int raters,
                      int64_t voxels) {
  for (const LabelCounts& c : counts)
    if (c.label == label) return c;
  LabelCounts c;
  c.label = label;
  c.volume.assign(raters, 0);
  c.intersection.assign(static_cast<size_t>(raters) * raters, 0);
  c.votes.assign(raters + 1, 0);
  c.votes[0] = static_cast<uint64_t>(voxels);
  return c;
}

namespace {

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

std::vector<const uint8_t*> pointers(const std::vector<std::vector<uint8_t>>& masks) {
  std::vector<const uint8_t*> p;
  for (const auto& m : masks) p.push_back(m.data());
  return p;
}

}  // namespace

LabelResult agreement_of(CaseContext& ctx, CountedView& v, LabelCounts counts, const Columns& c,
                         ViewLabel label, bool distances) {
  LabelResult r = label_result(std::move(counts), v.voxels(), ctx.o.empty);
  r.label = label.reported;
  if (!distances) return r;
  std::vector<int> raters(c.raters);
  for (int i = 0; i < c.raters; ++i) raters[i] = i;
  const auto masks = write_masks(ctx, v, raters, label.in_view);
  const DistanceOptions d = distance_options(ctx.o, label.reported);
  const StageTimer t(ctx.times->distances);
  r.boundary = boundary_matrix(ctx.engine, pointers(masks), ctx.grid, d, ctx.threads);
  r.nsd_tolerance = d.nsd_tolerance;
  r.percentile = ctx.o.distance.percentile;
  return r;
}

EntryMask entries_with(const TupleHistogram& h, int column, Label label) {
  EntryMask m(entry_count(h));
  for_each_entry(h, [&](size_t e, const Label* t) { m[e] = t[column] == label; });
  return m;
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

std::vector<Score> score_against(CaseContext& ctx, CountedView& v, const Columns& c,
                                 ViewLabel label, const EntryMask& consensus, bool distances) {
  const int e = c.entities();
  const TupleHistogram& h = v.histogram;
  // Each entity's mask of the label and the consensus, as binary columns of one histogram.
  const TupleHistogram binary =
      derive_histogram(h, e + 1, [&](size_t entry, const Label* t, Label* out) {
        for (int i = 0; i < e; ++i) out[i] = t[i] == label.in_view;
        out[e] = consensus[entry];
      });
  const LabelCounts one = counts_of(label_counts(binary), 1, e + 1, h.voxels);
  std::vector<Score> scores;
  for (int i = 0; i < e; ++i)
    scores.push_back(
        score_from(one.inter(i, e), one.volume[i], one.volume[e], h.voxels, ctx.o.empty));
  if (!distances) return scores;
  std::vector<int> entities(e);
  for (int i = 0; i < e; ++i) entities[i] = i;
  const auto masks = write_masks(ctx, v, entities, label.in_view, {&consensus});
  const StageTimer t(ctx.times->distances);
  const std::vector<BoundaryMetrics> b = boundary_matrix(
      ctx.engine, pointers(masks), ctx.grid, distance_options(ctx.o, label.reported), ctx.threads);
  for (int i = 0; i < e; ++i) scores[i].boundary = b[static_cast<size_t>(i) * (e + 1) + e];
  return scores;
}

std::vector<std::vector<uint8_t>> write_masks(CaseContext& ctx, CountedView& v,
                                              const std::vector<int>& columns, Label label,
                                              const std::vector<const EntryMask*>& extra) {
  const TupleHistogram& h = v.histogram;
  const size_t voxels = static_cast<size_t>(v.counted.view().voxels);
  std::vector<std::vector<uint8_t>> masks(columns.size() + extra.size(),
                                          std::vector<uint8_t>(voxels));
  WriteTable table;
  for (size_t k = 0; k < columns.size(); ++k)
    table.push_back(mask_column(h, columns[k], label, masks[k].data()));
  for (size_t k = 0; k < extra.size(); ++k) {
    WriteColumn col;
    col.type = WriteType::kU8;
    col.labels.assign(extra[k]->begin(), extra[k]->end());
    for (size_t e = 0; e < col.labels.size(); ++e)
      if (entry_voxels(h, e) == 0) col.labels[e] = 0;  // left out
    col.out = masks[columns.size() + k].data();
    table.push_back(std::move(col));
  }
  write_pass(ctx, v.counted, table);
  return masks;
}

}  // namespace maskeval
