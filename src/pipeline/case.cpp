// One case: load it, count its one view (raters, predictions, reference) per label map or per
// label, derive every figure from the counts, write its outputs.
#include "pipeline/case.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "maskeval/report.h"
#include "pipeline/consensus.h"
#include "pipeline/load_case.h"

namespace maskeval {
namespace fs = std::filesystem;
namespace {

double mean_pairwise_dice(const CaseResult& c) {
  const int n = static_cast<int>(c.raters.size());
  double sum = 0;
  int count = 0;
  for (const LabelResult& l : c.labels)
    for (int a = 0; a < n && !is_region(l.label); ++a)  // regions repeat their labels
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

const char* against_name(ScoreAgainst a) {
  return a == ScoreAgainst::kReference ? "reference"
                                       : (a == ScoreAgainst::kMajority ? "majority" : "staple");
}

// What the command asks of a case.
struct Wanted {
  bool fuse, score, majority, staple, mlstaple, maps, reference_column;
};

Wanted wanted(const RunOptions& o, bool has_reference) {
  Wanted w{};
  w.fuse = o.command == Command::kFuse;
  w.score = o.command == Command::kScore;
  w.majority = (w.fuse && o.method == FuseMethod::kMajority) ||
               (w.score && o.against == ScoreAgainst::kMajority);
  w.staple = (w.fuse && o.method == FuseMethod::kStaple) ||
             (w.score && o.against == ScoreAgainst::kStaple);
  w.mlstaple = w.fuse && o.method == FuseMethod::kMlStaple;
  w.maps = o.write_maps && !w.score;
  w.reference_column =
      has_reference && (w.fuse || (w.score && o.against == ScoreAgainst::kReference));
  return w;
}

void require_reference(const Wanted& w, const RunOptions& o, bool has_reference, bool per_label) {
  if (!w.score || o.against != ScoreAgainst::kReference || has_reference) return;
  throw CaseFailure{"", per_label ? "no reference to score against (set a manifest role=reference "
                                    "row, or --against majority|staple)"
                                  : "no reference to score against (set --reference, a manifest "
                                    "role, or --against majority|staple)"};
}

// Per entry: whether the entry's consensus (a label per entry) is `label`.
EntryMask entries_equal(const std::vector<uint16_t>& per_entry, Label label) {
  EntryMask m(per_entry.size());
  for (size_t e = 0; e < per_entry.size(); ++e) m[e] = per_entry[e] == label;
  return m;
}

// The view the figures read: with --ignore-label, the voxels where the reference carries it
// count zero, and but for score against the reference also those where any rater does.
CountedView figures_view(const RunOptions& o, Engine::Counted& counted, const Columns& c,
                         CaseResult& res) {
  CountedView v = whole_view(counted);
  if (!o.labels.ignore) return v;
  const Label ignore = *o.labels.ignore;
  const bool by_reference = o.command == Command::kScore && c.reference;
  std::vector<uint8_t> keep(entry_count(v.histogram));
  for_each_entry(v.histogram, [&](size_t e, const Label* t) {
    bool k = !c.reference || t[c.reference_column()] != ignore;
    for (int i = 0; !by_reference && i < c.raters; ++i) k = k && t[i] != ignore;
    keep[e] = k;
  });
  v.histogram = keep_entries(v.histogram, keep);
  res.ignored_voxels = static_cast<uint64_t>(counted.histogram().voxels - v.voxels());
  return v;
}

// The raters' counts of the region's labels taken as one.
LabelCounts region_counts(const CountedView& rv, const Columns& c) {
  return counts_of(label_counts(raters_histogram(rv.histogram, c)), 1, c.raters, rv.voxels());
}

// --- One case whose files are label maps -------------------------------------------------

// Agreement between the raters, per label, from their histogram.
void rater_agreement(CaseContext& ctx, CountedView& v, const Columns& c,
                     const std::vector<LabelCounts>& counts, CaseResult& res) {
  const int64_t voxels = v.voxels();
  res.values = value_hint(counts, c.raters, voxels);
  res.fleiss_kappa_all = fleiss_kappa_all(counts, c.raters, voxels, ctx.o.empty);
  const bool distances = ctx.o.distances && ctx.o.command != Command::kScore;
  for (const LabelCounts& l : counts) {
    if (!reported(ctx.o, l.label)) continue;
    res.labels.push_back(agreement_of(ctx, v, l, c, {l.label, l.label}, distances));
  }
  for (size_t k = 0; k < ctx.o.labels.regions.size(); ++k) {
    CountedView rv = region_view(v, ctx.o.labels.regions[k]);
    const LabelCounts rc = region_counts(rv, c);
    if (rc.votes[0] == static_cast<uint64_t>(rv.voxels())) continue;  // no rater gives it
    res.labels.push_back(agreement_of(ctx, rv, rc, c, {1, ctx.o.labels.region_id(k)}, distances));
  }
}

// The vote pass of a label-map case: agreement and entropy maps, the overlay, the majority.
std::vector<uint16_t> vote_outputs(CaseContext& ctx, CountedView& v, const Columns& c,
                                   const Wanted& w, const VoteRule& rule, const CaseSpec& spec,
                                   CaseResult& res) {
  const int64_t n = v.counted.view().voxels;
  const bool overlay = ctx.o.overlay && !w.score;
  const bool agreement = w.maps;
  const bool majority_map = w.fuse && w.majority;
  std::vector<Label> majority(majority_map ? n : 0);
  std::vector<float> agree(agreement ? n : 0), entropy(w.maps ? n : 0);
  const WriteTable table =
      vote_pass(ctx, v, c, rule,
                {majority_map ? majority.data() : nullptr, agreement ? agree.data() : nullptr,
                 w.maps ? entropy.data() : nullptr});
  if (w.maps) {
    res.agreement_map = ctx.out.write_fraction("agreement", agree);
    res.entropy_map = ctx.out.write_fraction("entropy", entropy);
  }
  if (overlay)
    res.overlay = write_overlay(spec, ctx.o, ctx.out, v.counted.view(), c.raters, res.geom);
  if (majority_map) {
    MajorityResult m;
    m.undecided = rule.undecided;
    m.counts = majority_counts(raters_histogram(v.histogram, c), rule);
    m.mask = ctx.out.write_labels("majority", majority);
    if (c.reference) compare_with_reference(v.histogram, c, table[0].labels, ctx.o, m, true);
    res.majority = std::move(m);
  }
  return table[0].labels;
}

// What each entity is scored against for a label or region: one mask value per entry.
EntryMask against_mask(const RunOptions& o, const CountedView& v, const Columns& c, Label in_view,
                       const EntryMask& majority, const std::map<LabelId, EntryMask>& staple,
                       LabelId id) {
  if (o.against == ScoreAgainst::kReference)
    return entries_with(v.histogram, c.reference_column(), in_view);
  if (o.against == ScoreAgainst::kMajority) return majority;
  const auto it = staple.find(id);
  return it == staple.end() ? EntryMask(entry_count(v.histogram), 0) : it->second;
}

// Every label any column or the consensus gives, and every region, scored for each entity.
void score_label_maps(CaseContext& ctx, CountedView& v, const Columns& c,
                      const std::vector<uint16_t>& majority,
                      const std::map<LabelId, EntryMask>& staple, CaseResult& res) {
  const TupleHistogram& h = v.histogram;
  const RunOptions& o = ctx.o;
  std::set<Label> present;
  for_each_entry(h, [&](size_t e, const Label* t) {
    if (entry_voxels(h, e) == 0) return;  // left out by the ignore label
    for (int i = 0; i < c.entities(); ++i) present.insert(t[i]);
    if (o.against == ScoreAgainst::kReference) present.insert(t[c.reference_column()]);
    if (o.against == ScoreAgainst::kMajority) present.insert(majority[e]);
  });
  for (const auto& kv : staple)
    if (!is_region(kv.first)) present.insert(static_cast<Label>(kv.first));
  std::vector<std::string> names = res.raters;
  names.insert(names.end(), res.predictions.begin(), res.predictions.end());
  const auto put = [&](const std::vector<Score>& sc, LabelId id) {
    for (int i = 0; i < c.entities(); ++i) res.scores[names[i]][id] = sc[i];
  };
  const bool majority_wanted = o.against == ScoreAgainst::kMajority;
  for (const Label l : present) {
    if (!reported(o, l)) continue;
    const EntryMask m = majority_wanted ? entries_equal(majority, l) : EntryMask{};
    put(score_against(ctx, v, c, {l, l}, against_mask(o, v, c, l, m, staple, l), o.distances), l);
  }
  for (size_t k = 0; k < o.labels.regions.size(); ++k) {
    const LabelId id = o.labels.region_id(k);
    const Region& r = o.labels.regions[k];
    // Scored where any column, the consensus or (STAPLE) an estimate gives one of its labels.
    const bool here =
        staple.count(id) > 0 || std::any_of(r.labels.begin(), r.labels.end(),
                                            [&](Label l) { return present.count(l) > 0; });
    if (!here) continue;
    CountedView rv = region_view(v, r);
    const EntryMask m =
        majority_wanted ? binary_majority(rv.histogram, c.raters, o.tie) : EntryMask{};
    put(score_against(ctx, rv, c, {1, id}, against_mask(o, rv, c, 1, m, staple, id), o.distances),
        id);
  }
}

// Binary STAPLE of each reported label and region; with `consensus`, each one's mask per entry.
void staple_labels(CaseContext& ctx, CountedView& v, const TupleHistogram& raters, const Columns& c,
                   const Wanted& w, std::map<LabelId, EntryMask>& consensus, CaseResult& res) {
  for (size_t k = 0; k < res.labels.size(); ++k) {
    const LabelId id = res.labels[k].label;
    EntryMask* out = w.score ? &consensus[id] : nullptr;
    StapleLabel sl;
    if (is_region(id)) {
      CountedView rv = region_view(v, ctx.o.labels.region(id));
      sl = staple_of(ctx, rv, raters_histogram(rv.histogram, c), c, {1, id}, w.fuse && c.reference,
                     out);
    } else {
      const Label l = static_cast<Label>(id);
      sl = staple_of(ctx, v, raters, c, {l, l}, w.fuse && c.reference, out);
    }
    if (w.fuse) res.staple.push_back(std::move(sl));
  }
}

// Offers the report's worklist picture of a case of two raters or more, its files in memory.
void offer_thumbnail(const CaseSpec& spec, const RunOptions& o, int raters, const CaseResult& res,
                     const std::function<Thumbnail()>& draw) {
  if (o.thumbnails && raters >= 2) o.thumbnails->offer(spec.id, mean_pairwise_dice(res), draw);
}

void process_label_maps(const CaseSpec& spec, CaseContext& ctx, CaseResult& res) {
  const RunOptions& o = ctx.o;
  LabelMapCase loaded;
  {
    const StageTimer t(ctx.times->decode);
    loaded = load_label_maps(spec, o, ctx.threads, res);
  }
  const Wanted w = wanted(o, loaded.reference.has_value());
  require_reference(w, o, loaded.reference.has_value(), false);
  Columns c;
  c.raters = static_cast<int>(res.raters.size());
  c.predictions = w.score ? static_cast<int>(res.predictions.size()) : 0;
  c.reference = w.reference_column;
  const CaseView view = label_map_view(loaded, c.entities(), c.reference);
  ctx.grid = distance_grid(res.geom, o);
  ctx.out.nifti = res.geom.format == "nifti";
  res.distance_spacing = ctx.grid.spacing;
  const auto counted = count_view(ctx, view);
  CountedView v = figures_view(o, *counted, c, res);
  std::vector<uint16_t> majority;
  std::map<LabelId, EntryMask> staple;
  if (c.raters > 0) {
    const TupleHistogram raters = raters_histogram(v.histogram, c);
    const std::vector<LabelCounts> counts = label_counts(raters);
    rater_agreement(ctx, v, c, counts, res);
    VoteRule rule;
    rule.tie = o.tie;
    rule.categories = static_cast<int>(counts.size());
    rule.undecided = w.majority ? undecided_label(o, loaded.max_label) : 0;
    if (w.majority || w.maps || o.overlay) majority = vote_outputs(ctx, v, c, w, rule, spec, res);
    if (w.staple) staple_labels(ctx, v, raters, c, w, staple, res);
    if (w.mlstaple) res.mlstaple = mlstaple_of(ctx, v, raters, c);
  }
  if (w.score) {
    res.scored_against = against_name(o.against);
    score_label_maps(ctx, v, c, majority, staple, res);
  }
  offer_thumbnail(spec, o, c.raters, res,
                  [&] { return label_map_thumbnail(spec, o, view, c.raters, res.geom); });
}

// --- One case whose files are binary masks of one label each --------------------------------

// The reference of a per-label case as one label map (the file, or the per-label files painted
// in paint order), counted, with each entry's label.
struct ReferenceMap {
  std::vector<Label> map;
  std::vector<Label> per_entry;
  std::vector<uint8_t> none;  // the column counted when no reference file is painted
  std::unique_ptr<Engine::Counted> counted;
};

ReferenceMap reference_map(CaseContext& ctx, PerLabelCase& c) {
  ReferenceMap r;
  if (c.reference_map) {
    CaseView v;
    v.voxels = c.geom.voxels();
    v.label_bytes = 2;
    v.max_label = std::max<Label>(1, c.reference_map->max_label);
    v.raters = {c.reference_map->data.data()};
    r.counted = count_view(ctx, v);
    for_each_entry(r.counted->histogram(),
                   [&](size_t, const Label* t) { r.per_entry.push_back(t[0]); });
    const uint16_t* p = reinterpret_cast<const uint16_t*>(c.reference_map->data.data());
    r.map.assign(p, p + v.voxels);
    return r;
  }
  CaseView v;
  v.voxels = c.geom.voxels();
  std::vector<Label> labels;
  for (const auto& [label, mask] : c.reference_masks) {
    labels.push_back(label);
    v.raters.push_back(mask.data());
  }
  if (v.raters.empty()) {
    r.none.assign(v.voxels, 0);
    v.raters.push_back(r.none.data());
  }
  Painting p = paint(ctx, v, labels, 0);
  r.map = std::move(p.map);
  r.per_entry = std::move(p.per_entry);
  r.counted = std::move(p.counted);
  return r;
}

// What a per-label case evaluates: each label, then each region, with the labels it covers.
struct Target {
  LabelId id;
  Region labels;
};

std::vector<Target> targets(const RunOptions& o, const std::set<Label>& labels) {
  std::vector<Target> out;
  for (const Label l : labels) out.push_back({l, {"", {l}}});
  for (size_t k = 0; k < o.labels.regions.size(); ++k) {
    const Region& r = o.labels.regions[k];
    if (std::any_of(r.labels.begin(), r.labels.end(), [&](Label l) { return labels.count(l); }))
      out.push_back({o.labels.region_id(k), r});  // only where a file gives one of its labels
  }
  return out;
}

// The binary reference of each target, written from the counted reference map in one pass.
std::map<LabelId, std::vector<uint8_t>> reference_masks(CaseContext& ctx, ReferenceMap& ref,
                                                        const std::vector<Target>& targets) {
  std::map<LabelId, std::vector<uint8_t>> masks;
  WriteTable table;
  for (const Target& t : targets) {
    std::vector<uint8_t>& m = masks[t.id];
    m.resize(ref.map.size());
    WriteColumn col;
    col.type = WriteType::kU8;
    for (const Label e : ref.per_entry) col.labels.push_back(t.labels.covers(e));
    col.out = m.data();
    table.push_back(std::move(col));
  }
  write_pass(ctx, *ref.counted, table);
  return masks;
}

// The labels the painted reference holds (the background aside).
std::set<Label> reference_labels(const ReferenceMap& ref) {
  std::set<Label> labels;
  for (size_t e = 0; e < ref.per_entry.size(); ++e)
    if (ref.per_entry[e] != 0 && entry_voxels(ref.counted->histogram(), e) > 0)
      labels.insert(ref.per_entry[e]);
  return labels;
}

// One label's or region's binary view: raters, predictions when scoring, the reference when
// used. A region's masks are the union of its labels' masks, per entity.
struct LabelView {
  Columns columns;
  CaseView view;
  std::vector<std::vector<uint8_t>> unions;
  std::unique_ptr<Engine::Counted> counted;
};

// Entity i's mask of the target: its label's mask, or the union of the region's labels' masks.
const uint8_t* target_mask(const PerLabelCase& c, const Target& t, int i, LabelView& v,
                           const std::vector<uint8_t>& none) {
  std::vector<const uint8_t*> parts;
  for (const Label l : t.labels.labels) {
    const auto it = c.masks.find(l);
    if (it != c.masks.end()) parts.push_back(it->second[i].data());
  }
  if (parts.empty()) return none.data();
  if (parts.size() == 1) return parts[0];
  std::vector<uint8_t>& u = v.unions.emplace_back(parts[0], parts[0] + none.size());
  for (size_t k = 1; k < parts.size(); ++k)
    for (size_t x = 0; x < u.size(); ++x) u[x] |= parts[k][x];
  return u.data();
}

bool has_rater_labels(const PerLabelCase& c, const Target& t) {
  for (const Label l : t.labels.labels)
    if (c.labels.count(l)) return true;
  return false;
}

LabelView label_view(CaseContext& ctx, PerLabelCase& c, const Target& t, const Columns& columns,
                     const std::vector<uint8_t>* reference, const std::vector<uint8_t>& none) {
  LabelView v;
  v.columns = columns;
  v.view.voxels = c.geom.voxels();
  v.unions.reserve(columns.entities());  // pointers into it stay valid
  for (int i = 0; i < columns.entities(); ++i)
    v.view.raters.push_back(target_mask(c, t, i, v, none));
  if (columns.reference) v.view.raters.push_back(reference ? reference->data() : none.data());
  v.counted = count_view(ctx, v.view);
  return v;
}

// What one label's view gives the consensus: its binary majority (0, 1, or 2 on a tie) per voxel
// and per entry, and its STAPLE mask per entry.
struct LabelConsensus {
  std::vector<Label> votes;
  EntryMask majority, staple;
};

LabelConsensus label_consensus(CaseContext& ctx, LabelView& lv, CountedView& v, LabelId l,
                               const Wanted& w, CaseResult& res) {
  const RunOptions& o = ctx.o;
  const Columns& c = lv.columns;
  const int64_t n = lv.view.voxels;
  LabelConsensus out;
  const TupleHistogram raters = raters_histogram(v.histogram, c);
  LabelResult lr = agreement_of(ctx, v, counts_of(label_counts(raters), 1, c.raters, n), c, {1, l},
                                o.distances && !w.score);
  const std::string suffix = output_suffix(o, l);
  if (w.majority || w.maps) {
    const VoteRule rule{o.tie, 2, 2};
    out.votes.resize(w.fuse && w.majority ? n : 0);
    std::vector<float> agreement(w.maps ? n : 0), entropy(agreement.size());
    const WriteTable table =
        vote_pass(ctx, v, c, rule,
                  {out.votes.empty() ? nullptr : out.votes.data(),
                   w.maps ? agreement.data() : nullptr, w.maps ? entropy.data() : nullptr});
    if (w.maps) {
      lr.agreement_map = ctx.out.write_fraction("agreement" + suffix, agreement);
      lr.entropy_map = ctx.out.write_fraction("entropy" + suffix, entropy);
    }
    out.majority = entries_equal(table[0].labels, 1);
  }
  if (w.staple) {
    StapleLabel sl = staple_of(ctx, v, raters, c, {1, l}, w.fuse && c.reference,
                               w.score ? &out.staple : nullptr);
    if (w.fuse) res.staple.push_back(std::move(sl));
  }
  res.labels.push_back(std::move(lr));
  return out;
}

// The overlap of two labels' consensus masks without a paint order fails the case.
void check_overlaps(const TupleHistogram& h, const std::vector<Label>& labels) {
  std::map<std::pair<Label, Label>, uint64_t> overlaps;
  for_each_entry(h, [&](size_t e, const Label* t) {
    Label seen = 0;
    for (size_t k = 0; k < labels.size(); ++k) {
      if (t[k] != 1) continue;
      if (seen != 0) overlaps[{seen, labels[k]}] += entry_voxels(h, e);
      seen = labels[k];
    }
  });
  if (overlaps.empty()) return;
  const auto& [pair, n] = *overlaps.begin();
  throw CaseFailure{"", "labels " + std::to_string(pair.first) + " and " +
                            std::to_string(pair.second) + " overlap in " + std::to_string(n) +
                            " voxels of the consensus; pass --paint-order (labels painted "
                            "later overwrite earlier ones, e.g. --paint-order 1,3,2)"};
}

// The per-label majorities painted into one map, its counts, and against the reference.
void paint_majority(CaseContext& ctx, const PerLabelCase& c,
                    std::map<Label, std::vector<Label>>& votes, const ReferenceMap* ref,
                    Label undecided, CaseResult& res) {
  CaseView v;
  v.voxels = c.geom.voxels();
  v.label_bytes = 2;
  v.max_label = 2;
  for (const Label l : c.order) v.raters.push_back(votes.at(l).data());
  if (ref) {
    v.raters.push_back(ref->map.data());
    v.max_label =
        std::max(v.max_label, *std::max_element(ref->per_entry.begin(), ref->per_entry.end()));
  }
  Painting p = paint(ctx, v, c.order, undecided);
  const TupleHistogram& h = p.counted->histogram();
  if (ctx.o.paint_order.empty()) check_overlaps(h, c.order);
  MajorityResult m;
  m.undecided = undecided;
  std::map<Label, uint64_t> counts;
  for (size_t e = 0; e < p.per_entry.size(); ++e) counts[p.per_entry[e]] += entry_voxels(h, e);
  m.counts.assign(counts.begin(), counts.end());
  m.mask = ctx.out.write_labels("majority", p.map);
  if (ref)
    compare_with_reference(h, {static_cast<int>(c.order.size()), 0, true}, p.per_entry, ctx.o, m,
                           false);
  res.majority = std::move(m);
}

// Each label's view counted once: agreement, consensus and scores.
void process_per_label(const CaseSpec& spec, CaseContext& ctx, CaseResult& res) {
  const RunOptions& o = ctx.o;
  if (o.command == Command::kFuse && o.method == FuseMethod::kMlStaple)
    throw CaseFailure{"",
                      "multi-label STAPLE needs label maps; this manifest gives one binary "
                      "mask per label (use --method staple or majority)"};
  PerLabelCase loaded;
  {
    const StageTimer t(ctx.times->decode);
    loaded = load_per_label(spec, o, res);
  }
  const Wanted w = wanted(o, loaded.has_reference);
  require_reference(w, o, loaded.has_reference, true);
  ctx.grid = distance_grid(res.geom, o);
  ctx.out.nifti = res.geom.format == "nifti";
  res.distance_spacing = ctx.grid.spacing;
  Columns c;
  c.raters = static_cast<int>(res.raters.size());
  c.predictions = w.score ? static_cast<int>(res.predictions.size()) : 0;
  c.reference = w.reference_column;
  std::optional<ReferenceMap> ref;
  if (loaded.has_reference && (w.fuse || w.score)) ref = reference_map(ctx, loaded);
  std::set<Label> labels = loaded.labels;
  if (ref && w.score)
    for (const Label l : reference_labels(*ref)) labels.insert(l);
  const std::vector<Target> all = targets(o, labels);
  std::map<LabelId, std::vector<uint8_t>> ref_masks;
  if (ref && c.reference) ref_masks = reference_masks(ctx, *ref, all);
  const Label undecided =
      w.fuse && !loaded.labels.empty() ? undecided_label(o, *loaded.labels.rbegin()) : 0;
  std::vector<std::string> names = res.raters;
  names.insert(names.end(), res.predictions.begin(), res.predictions.end());
  const std::vector<uint8_t> none(res.geom.voxels(), 0);
  std::map<Label, std::vector<Label>> votes;
  for (const Target& t : all) {
    LabelView lv = label_view(ctx, loaded, t, c, c.reference ? &ref_masks.at(t.id) : nullptr, none);
    CountedView v = whole_view(*lv.counted);
    LabelConsensus consensus;
    if (c.raters > 0 && has_rater_labels(loaded, t))
      consensus = label_consensus(ctx, lv, v, t.id, w, res);
    if (w.fuse && w.majority && !is_region(t.id))
      votes[static_cast<Label>(t.id)] = std::move(consensus.votes);
    if (!w.score) continue;
    EntryMask against(entry_count(v.histogram), 0);
    if (o.against == ScoreAgainst::kReference)
      against = entries_with(v.histogram, c.reference_column(), 1);
    if (o.against == ScoreAgainst::kMajority && !consensus.majority.empty())
      against = consensus.majority;
    if (o.against == ScoreAgainst::kStaple && !consensus.staple.empty()) against = consensus.staple;
    const std::vector<Score> sc = score_against(ctx, v, c, {1, t.id}, against, o.distances);
    for (int i = 0; i < c.entities(); ++i) res.scores[names[i]][t.id] = sc[i];
  }
  if (w.fuse && w.majority)
    paint_majority(ctx, loaded, votes, ref ? &*ref : nullptr, undecided, res);
  if (o.overlay && !w.score && c.raters > 0)
    res.overlay = write_overlay(spec, o, ctx.out, loaded.masks, c.raters, res.geom);
  if (w.score) res.scored_against = against_name(o.against);
  offer_thumbnail(spec, o, c.raters, res,
                  [&] { return per_label_thumbnail(spec, o, loaded.masks, c.raters, res.geom); });
}

}  // namespace

void process_case(const CaseSpec& spec, const std::string& folder, const Dataset& data,
                  const RunOptions& o, Engine& engine, int threads, CaseResult& res) {
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
  CaseContext ctx{o, engine, threads, Grid{}, OutputFiles{}, &res.timings};
  ctx.out.dir = fs::path(o.out_dir) / "cases" / folder;
  ctx.out.geom = &res.geom;
  ctx.out.level = o.compression_level;
  ctx.out.seconds = &res.timings.write;
  ctx.out.colours = &o.labels.colours;
  double total = 0;
  {
    const StageTimer t(total);
    if (data.per_label) {
      process_per_label(spec, ctx, res);
    } else {
      process_label_maps(spec, ctx, res);
    }
    res.mean_pairwise_dice = mean_pairwise_dice(res);
  }
  // What is not decoding, counting, distances or writing: the figures derived from counts.
  const StageTimes& s = res.timings;
  res.timings.derive = std::max(0.0, total - s.decode - s.count - s.distances - s.write);
}

}  // namespace maskeval
