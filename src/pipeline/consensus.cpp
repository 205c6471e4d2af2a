// Consensus of a counted view: majority, STAPLE, ML-STAPLE, painting; written by the engine.
#include "pipeline/consensus.h"

#include <string>

#include "maskeval/write_tables.h"
#include "pipeline/case.h"

namespace maskeval {

WriteTable vote_pass(CaseContext& ctx, CountedView& v, const Columns& c, const VoteRule& rule,
                     const VoteMaps& out) {
  WriteTable table = vote_table(v.histogram, rule, out, c.raters);
  if (out.majority || out.agreement || out.entropy) write_pass(ctx, v.counted, table);
  return table;
}

namespace {

// The histogram of an entry-wise consensus next to the reference column.
TupleHistogram with_reference(const TupleHistogram& h, const Columns& c,
                              const std::vector<uint16_t>& consensus) {
  return derive_histogram(h, 2, [&](size_t e, const Label* t, Label* out) {
    out[0] = consensus[e];
    out[1] = t[c.reference_column()];
  });
}

uint64_t agreeing_voxels(const std::vector<LabelCounts>& counts) {
  uint64_t same = 0;
  for (const LabelCounts& l : counts) same += l.inter(0, 1);
  return same;
}

}  // namespace

EntryMask binary_majority(const TupleHistogram& binary, int raters, TiePolicy tie) {
  const WriteTable t = vote_table(binary, VoteRule{tie, 2, 2}, {}, raters);
  EntryMask m(t[0].labels.size());
  for (size_t e = 0; e < m.size(); ++e) m[e] = t[0].labels[e] == 1;
  return m;
}

void compare_with_reference(const TupleHistogram& h, const Columns& c,
                            const std::vector<uint16_t>& majority, const RunOptions& o,
                            MajorityResult& m, bool vote_regions) {
  const TupleHistogram both = with_reference(h, c, majority);
  const std::vector<LabelCounts> counts = label_counts(both);
  m.has_reference = true;
  m.mismatched = static_cast<uint64_t>(h.voxels) - agreeing_voxels(counts);
  for (const LabelCounts& l : counts)
    if (reported(o, l.label))
      m.dice_vs_reference[l.label] =
          dice(l.inter(0, 1), l.volume[0], l.volume[1], EmptyPolicy::kNaN);
  for (size_t k = 0; k < o.labels.regions.size(); ++k) {
    const Region& r = o.labels.regions[k];
    const auto in = [&](Label l) { return static_cast<Label>(r.covers(l)); };
    const EntryMask vote =
        vote_regions ? binary_majority(map_labels(h, in), c.raters, o.tie) : EntryMask{};
    const TupleHistogram pair = derive_histogram(h, 2, [&](size_t e, const Label* t, Label* out) {
      out[0] = vote_regions ? vote[e] : in(majority[e]);
      out[1] = in(t[c.reference_column()]);
    });
    const LabelCounts one = counts_of(label_counts(pair), 1, 2, pair.voxels);
    if (one.volume[0] + one.volume[1] == 0) continue;  // the region is in neither
    m.dice_vs_reference[o.labels.region_id(k)] =
        dice(one.inter(0, 1), one.volume[0], one.volume[1], EmptyPolicy::kNaN);
  }
}

StapleLabel staple_of(CaseContext& ctx, CountedView& v, const TupleHistogram& raters,
                      const Columns& c, ViewLabel label, bool measure, EntryMask* consensus) {
  const int64_t voxels = v.counted.view().voxels;
  StapleLabel s;
  s.label = label.reported;
  const BinaryPatterns patterns = binary_patterns(raters, label.in_view);
  s.result = staple(patterns, ctx.o.staple);
  std::vector<float> posterior(voxels);
  std::vector<uint8_t> mask(voxels);
  const WriteTable table = staple_table(v.histogram, label.in_view, patterns, s.result,
                                        ctx.o.threshold, posterior.data(), mask.data(), c.raters);
  write_pass(ctx, v.counted, table);
  s.result.posterior.clear();
  const std::string suffix = output_suffix(ctx.o, label.reported);
  s.posterior = ctx.out.write_probability("staple_posterior" + suffix, posterior);
  s.mask = ctx.out.write_labels("staple" + suffix, std::vector<Label>(mask.begin(), mask.end()));
  const EntryMask in(table[1].labels.begin(), table[1].labels.end());
  if (measure) {
    Columns raters_only = c;
    raters_only.predictions = 0;
    s.measured =
        score_against(ctx, v, raters_only, label,
                      entries_with(v.histogram, c.reference_column(), label.in_view), false);
    const TupleHistogram both =
        derive_histogram(v.histogram, 2, [&](size_t e, const Label* t, Label* out) {
          out[0] = in[e];
          out[1] = t[c.reference_column()] == label.in_view;
        });
    const LabelCounts one = counts_of(label_counts(both), 1, 2, both.voxels);
    s.dice_vs_reference = dice(one.inter(0, 1), one.volume[0], one.volume[1], ctx.o.empty);
  }
  if (consensus) *consensus = in;
  return s;
}

MlStapleCase mlstaple_of(CaseContext& ctx, CountedView& v, const TupleHistogram& raters,
                         const Columns& c) {
  MlStapleOptions mo = ctx.o.mlstaple;
  mo.undecided_label = ctx.o.undecided_label;
  MlStapleCase m;
  try {
    m.result = mlstaple(raters, mo);
  } catch (const std::invalid_argument& e) {
    throw CaseFailure{"", e.what()};
  }
  std::vector<Label> map(v.counted.view().voxels);
  const WriteTable table = mlstaple_table(v.histogram, m.result, map.data(), c.raters);
  write_pass(ctx, v.counted, table);
  m.mask = ctx.out.write_labels("mlstaple", map);
  if (c.reference) {
    const auto counts = label_counts(with_reference(v.histogram, c, table[0].labels));
    m.mismatched_vs_reference = static_cast<uint64_t>(v.voxels()) - agreeing_voxels(counts);
  }
  return m;
}

Painting paint(CaseContext& ctx, const CaseView& view, const std::vector<Label>& labels,
               Label undecided) {
  Painting p;
  p.counted = count_view(ctx, view);
  const TupleHistogram& h = p.counted->histogram();
  WriteColumn col;
  col.type = WriteType::kU16;
  col.labels.resize(entry_count(h));
  for_each_entry(h, [&](size_t e, const Label* t) {
    Label painted = 0;
    for (size_t k = 0; k < labels.size(); ++k) {
      if (t[k] == 1) painted = labels[k];
      if (t[k] == 2) painted = undecided;
    }
    col.labels[e] = painted;
  });
  p.per_entry = col.labels;
  p.map.resize(view.voxels);
  col.out = p.map.data();
  write_pass(ctx, *p.counted, {col});
  return p;
}

}  // namespace maskeval
