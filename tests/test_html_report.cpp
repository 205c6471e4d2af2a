// The HTML report and the pictures of agreement: the page's sections, names and bounds, the
// thumbnails and overlays, and the page of a real run rendered in headless Chromium.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <set>

#include "cli_test_util.h"
#include "maskeval/overlay.h"
#include "maskeval/report.h"
#include "pipeline/case_outputs.h"
#include "report/html_text.h"
#include "test_util.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::contains;

// A label of a case with R raters whose pairwise Dice are all `dice`.
LabelResult label_result(LabelId id, int raters, double dice) {
  LabelResult l;
  l.label = id;
  l.counts.label = static_cast<Label>(std::min<LabelId>(id, kMaxLabel));
  l.counts.volume.assign(raters, 100);
  l.counts.intersection.assign(raters * raters, 90);
  l.counts.votes.assign(raters + 1, 10);
  l.dice.assign(raters * raters, dice);
  l.iou = l.dice;
  l.cohen_kappa = l.dice;
  for (int i = 0; i < raters; ++i) l.dice[i * raters + i] = 1.0;
  l.fleiss_kappa = dice;
  return l;
}

CaseResult case_result(const std::string& id, double dice) {
  CaseResult c;
  c.id = id;
  c.raters = {"alice", "bob", "<carol>"};
  for (const std::string& r : c.raters) c.files[r] = {"/data/set/" + id + "/" + r + ".png"};
  c.geom.shape = {64, 48, 1};
  c.geom.format = "png";
  c.labels = {label_result(1, 3, dice), label_result(2, 3, dice / 2),
              label_result(kFirstRegion, 3, dice)};
  c.mean_pairwise_dice = dice;
  c.agreement_map = "/out/cases/" + id + "/agreement.png";
  Score s;
  s.dice = dice;
  s.iou = dice;
  s.tp = 10;
  c.scores["alice"][1] = s;
  c.scores["model"][1] = s;
  c.predictions = {"model"};
  c.scored_against = "reference";
  return c;
}

RunOptions named_options() {
  RunOptions o;
  o.command = Command::kScore;
  o.labels.names = {{1, "kidney"}, {2, "tumour"}};
  o.labels.add_region({"masses", {1, 2}});
  o.command_line = "maskeval score --cases /data/set -o /out";
  o.out_dir = "/out";
  return o;
}

Thumbnail tiny_thumbnail() {
  const std::vector<uint8_t> rgb(4 * 4 * 3, 200);
  Thumbnail t;
  t.png = encode_png_rgb(rgb.data(), 4, 4);
  t.width = t.height = 4;
  t.caption = "2D image";
  t.legend = {{{0, 0, 0}, "every rater: background"}};
  return t;
}

// Every <img> of the page shows a data: URI, and nothing is fetched from a network.
void expect_self_contained(const std::string& page) {
  EXPECT_FALSE(contains(page, "http://")) << "a network reference";
  EXPECT_FALSE(contains(page, "https://")) << "a network reference";
  EXPECT_FALSE(contains(page, "<link")) << "an external stylesheet";
  EXPECT_FALSE(contains(page, "<script src")) << "an external script";
  EXPECT_FALSE(contains(page, "@import"));
  EXPECT_FALSE(contains(page, "url("));
  const std::regex img("<img[^>]*>");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), img); it != std::sregex_iterator();
       ++it)
    EXPECT_TRUE(contains(it->str(), "src=\"data:image/png;base64,")) << it->str();
}

TEST(HtmlText, EscapesLinksAndEncodes) {
  EXPECT_EQ(html::escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(html::escape("bad \xff byte\x01"), "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(html::escape("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(html::relative_url("/out/cases/a b/x#1.png", "/out"), "cases/a%20b/x%231.png");
  EXPECT_EQ(html::relative_url("/data/m.png", "/out/run"), "../../data/m.png");
  EXPECT_EQ(html::base64("foob"), "Zm9vYg==");
  EXPECT_EQ(html::base64("foo"), "Zm9v");
  EXPECT_EQ(html::number(NAN), "-");
  EXPECT_EQ(html::number(INFINITY), "inf");
  EXPECT_EQ(html::shorten("abcdef", 3), "abc ...");
}

TEST(HtmlReport, InputsUnderDifferentRootFolders) {
  RunResult r;
  r.backend = "cpu";
  r.cases.push_back(case_result("a", 0.9));
  r.cases.push_back(case_result("b", 0.8));
  r.cases[1].files["alice"] = {"/var/other/b/alice.png"};  // no folder in common but /
  const RunOptions o = named_options();
  const std::string page = report_html_text(r, summarize(r, 2), o, {}, "/out");
  EXPECT_NE(page.find("under <code>/</code>"), std::string::npos);
}

TEST(HtmlReport, HasTheSectionsNamesAndNothingExternal) {
  RunResult r;
  r.backend = "cpu";
  for (int i = 0; i < 5; ++i)
    r.cases.push_back(case_result("case" + std::to_string(i), 0.5 + i / 10.0));
  r.failed.push_back({"broken", "/data/set/broken/alice.png", "corrupt PNG: bad CRC"});
  r.warnings.push_back("every mask holds only the values 0 and 255");
  const RunOptions o = named_options();
  const Summary s = summarize(r, 3);
  ASSERT_EQ(s.adjudicate.size(), 3u);
  std::map<std::string, Thumbnail> thumbs{{s.adjudicate[0].id, tiny_thumbnail()}};
  thumbs[s.adjudicate[1].id].missing = "one binary file per label";
  const std::string page = report_html_text(r, s, o, thumbs, "/out");
  for (const char* part : {"<!DOCTYPE html>",
                           "id=\"run\"",
                           "id=\"dataset\"",
                           "id=\"labels\"",
                           "id=\"pairwise\"",
                           "id=\"leaderboard\"",
                           "id=\"worklist\"",
                           "id=\"cases\"",
                           "id=\"failed\"",
                           "id=\"warnings\"",
                           "kidney",
                           "tumour",
                           "masses",
                           "model *",
                           "corrupt PNG: bad CRC",
                           "/data/set/broken/alice.png",
                           "only the values 0 and 255",
                           "maskeval score --cases",
                           "&lt;carol&gt;",
                           "No picture: one binary file per label",
                           "every rater: background",
                           "href=\"cases/case0/agreement.png\"",
                           "href=\"../data/set/case0/alice.png\""})
    EXPECT_TRUE(contains(page, part)) << part;
  EXPECT_FALSE(contains(page, "<carol>"));
  expect_self_contained(page);
  // The heatmaps: a coloured cell for each ordered rater pair of each label (3 labels).
  const std::string cell = "title=\"alice vs bob: mean over 5 cases\"";
  size_t cells = 0;
  for (size_t p = page.find(cell); p != std::string::npos; p = page.find(cell, p + 1)) ++cells;
  EXPECT_EQ(cells, 3u);
}

TEST(HtmlReport, StaysSmallWithManyCases) {
  RunResult r;
  r.backend = "cpu";
  const size_t n = 100000;
  r.cases.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    CaseResult c = case_result("c" + std::to_string(i), (i % 1000) / 1000.0);
    c.labels.pop_back();
    r.cases.push_back(std::move(c));
    r.failed.push_back({"f" + std::to_string(i), "/data/f.png", "unreadable"});
    r.warnings.push_back("warning " + std::to_string(i));
  }
  const RunOptions o = named_options();
  const Summary s = summarize(r, n);
  std::map<std::string, Thumbnail> thumbs;
  for (size_t k = 0; k < 50; ++k) thumbs[s.adjudicate[k].id] = tiny_thumbnail();
  const std::string page = report_html_text(r, s, o, thumbs, "/out");
  EXPECT_LT(page.size(), 2u << 20) << "bytes";
  EXPECT_TRUE(contains(page, "99900 more cases not shown")) << "the per-case table";
  EXPECT_TRUE(contains(page, "99800 more cases not shown")) << "the worklist and failed cases";
  EXPECT_TRUE(contains(page, "99800 more warnings not shown"));
  expect_self_contained(page);
}

// A 4x3x5 volume and 3 raters: they agree but on slice 3, where rater 2 marks two more voxels.
std::vector<std::vector<uint8_t>> three_raters() {
  std::vector<std::vector<uint8_t>> r(3, std::vector<uint8_t>(60, 0));
  for (auto& m : r)
    for (int z = 1; z < 5; ++z) m[z * 12 + 5] = 1;  // (1, 1, z)
  r[2][3 * 12 + 6] = r[2][3 * 12 + 7] = 1;
  r[1][0] = 2;  // slice 0: one split voxel
  return r;
}

Geometry volume_geometry() {
  Geometry g;
  g.ndim = 3;
  g.shape = {4, 3, 5};
  g.format = "nrrd";
  return g;
}

TEST(AgreementPicture, ShowsTheSliceOfMostDisagreement) {
  const auto raters = three_raters();
  CaseView view;
  view.voxels = 60;
  for (const auto& m : raters) view.raters.push_back(m.data());
  const AgreementPicture p = agreement_picture(view, 3, volume_geometry());
  EXPECT_EQ(p.slice, 3);
  EXPECT_EQ(p.split_pixels, 2);
  EXPECT_EQ(p.width, 4);
  EXPECT_EQ(p.height, 3);
  EXPECT_EQ(p.state[5], PixelState::kForeground);
  EXPECT_EQ(p.state[6], PixelState::kSplit);
  EXPECT_EQ(p.majority[6], 2);
  EXPECT_EQ(p.state[0], PixelState::kBackground);
  EXPECT_TRUE(contains(agreement_caption(p), "axial slice 3 of 0..4")) << agreement_caption(p);
  const auto legend = agreement_legend(p);
  ASSERT_EQ(legend.size(), 3u);
  EXPECT_EQ(legend[2].text, "split: 2 of 3 raters vote the majority");
  // The same from binary masks per label.
  std::map<Label, std::vector<std::vector<uint8_t>>> masks;
  for (const auto& m : raters) {
    std::vector<uint8_t> one(60), two(60);
    for (int i = 0; i < 60; ++i) one[i] = m[i] == 1, two[i] = m[i] == 2;
    masks[1].push_back(one);
    masks[2].push_back(two);
  }
  const AgreementPicture q = agreement_picture(masks, 3, volume_geometry());
  EXPECT_EQ(q.slice, 3);
  EXPECT_EQ(q.state, p.state);
  EXPECT_EQ(q.majority, p.majority);
}

// The slice of most disagreement (else most foreground) against a count voxel by voxel, on rows
// long enough for the vector loop's every part (4103 voxels: 256 blocks of 16 and a tail), for
// 8- and 16-bit label maps.
TEST(AgreementPicture, MostDisputedSliceOfLongRows) {
  Geometry g;
  g.ndim = 3;
  g.shape = {4103, 2, 4};
  const int64_t n = 4103 * 2 * 4, per_slice = 4103 * 2;
  uint32_t x = 7;
  auto next = [&] { return x = x * 1664525u + 1013904223u, x >> 8; };
  std::set<int> bests;
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<std::vector<uint16_t>> maps(3, std::vector<uint16_t>(n, 0));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t z = i / per_slice;
      const bool marked = next() % 8 < static_cast<uint32_t>(z + trial) % 5;
      for (auto& m : maps) m[i] = marked ? (trial % 2 ? 300 : 2) : 0;
      if (next() % 97 < static_cast<uint32_t>((z * 7 + trial * 3) % 4)) maps[next() % 3][i] = 1;
    }
    if (trial == 4)  // slice 2 split everywhere: 256 votes in each lane of a row
      for (int64_t i = 2 * per_slice; i < 3 * per_slice; ++i) maps[1][i] = maps[0][i] + 1;
    if (trial == 5)  // no split voxel: the slice of most foreground
      for (auto& m : maps) m = maps[0];
    std::array<int64_t, 4> split{}, fg{};
    for (int64_t i = 0; i < n; ++i) {
      const bool s = maps[0][i] != maps[1][i] || maps[0][i] != maps[2][i];
      split[i / per_slice] += s;
      fg[i / per_slice] += !s && maps[0][i] != 0;
    }
    int best = 0;
    for (int z = 1; z < 4; ++z)
      if (split[z] > split[best] || (split[best] == 0 && split[z] == 0 && fg[z] > fg[best]))
        best = z;
    std::vector<std::vector<uint8_t>> narrow(3, std::vector<uint8_t>(n));
    CaseView wide, small;
    wide.voxels = small.voxels = n;
    wide.label_bytes = 2;
    for (int r = 0; r < 3; ++r) {
      for (int64_t i = 0; i < n; ++i)
        narrow[r][i] = static_cast<uint8_t>(std::min<int>(maps[r][i], 255));
      wide.raters.push_back(maps[r].data());
      small.raters.push_back(narrow[r].data());
    }
    const AgreementPicture p = agreement_picture(wide, 3, g);
    EXPECT_EQ(p.slice, best) << "trial " << trial;
    bests.insert(best);
    EXPECT_EQ(p.split_pixels, split[best]) << "trial " << trial;
    EXPECT_EQ(agreement_picture(small, 3, g).slice, best) << "trial " << trial;
  }
  EXPECT_GT(bests.size(), 2u);  // the trials pick different slices
}

TEST(AgreementPicture, AxialAxisFromTheNiftiHeader) {
  Geometry g = volume_geometry();
  g.nifti_header.assign(348, 0);
  const int32_t size = 348;
  const int16_t sform = 1;
  std::memcpy(g.nifti_header.data(), &size, 4);
  std::memcpy(g.nifti_header.data() + 254, &sform, 2);
  const float srow[3][4] = {{0, 0, -1, 0}, {0, -1, 0, 0}, {-5, 0, 0, 0}};  // KiTS23's
  std::memcpy(g.nifti_header.data() + 280, srow, sizeof srow);
  const SliceAxes a = axial_axes(g);
  EXPECT_EQ(a.normal, 0);
  EXPECT_EQ(a.across, 2);
  EXPECT_EQ(a.down, 1);
  EXPECT_EQ(axial_axes(volume_geometry()).normal, 2);
  // Slices across the first axis, rows strided: the same from label maps and from masks as
  // counted voxel by voxel here (4x3x5: x = i % 4, y = i / 4 % 3, z = i / 12).
  const auto raters = three_raters();
  CaseView view;
  view.voxels = 60;
  std::map<Label, std::vector<std::vector<uint8_t>>> masks;
  for (const auto& m : raters) {
    view.raters.push_back(m.data());
    std::vector<uint8_t> one(60), two(60);
    for (int i = 0; i < 60; ++i) one[i] = m[i] == 1, two[i] = m[i] == 2;
    masks[1].push_back(one);
    masks[2].push_back(two);
  }
  const auto split_at = [&](int i) {
    return raters[0][i] != raters[1][i] || raters[0][i] != raters[2][i];
  };
  std::array<int, 4> per_x{};
  for (int i = 0; i < 60; ++i) per_x[i % 4] += split_at(i);
  const int best = static_cast<int>(std::max_element(per_x.begin(), per_x.end()) - per_x.begin());
  const AgreementPicture p = agreement_picture(view, 3, g);
  const AgreementPicture q = agreement_picture(masks, 3, g);
  EXPECT_EQ(p.slice, best);
  ASSERT_EQ(p.width, 5);
  ASSERT_EQ(p.height, 3);
  EXPECT_EQ(p.split_pixels, per_x[best]);
  for (int y = 0; y < 3; ++y)
    for (int z = 0; z < 5; ++z)
      EXPECT_EQ(p.state[y * 5 + z] == PixelState::kSplit, split_at(z * 12 + y * 4 + best));
  EXPECT_EQ(q.slice, p.slice);
  EXPECT_EQ(q.state, p.state);
  EXPECT_EQ(q.majority, p.majority);
  // Slices across the second axis (y: one row of each plane each), chosen as counted here.
  const float srow_y[3][4] = {{-1, 0, 0, 0}, {0, 0, -1, 0}, {0, -5, 0, 0}};
  std::memcpy(g.nifti_header.data() + 280, srow_y, sizeof srow_y);
  ASSERT_EQ(axial_axes(g).normal, 1);
  std::array<int, 3> per_y{};
  for (int i = 0; i < 60; ++i) per_y[i / 4 % 3] += split_at(i);
  const auto best_y = std::max_element(per_y.begin(), per_y.end()) - per_y.begin();
  const AgreementPicture py = agreement_picture(view, 3, g);
  const AgreementPicture qy = agreement_picture(masks, 3, g);
  EXPECT_EQ(py.slice, best_y);
  EXPECT_EQ(py.split_pixels, per_y[best_y]);
  EXPECT_EQ(qy.slice, py.slice);
  EXPECT_EQ(qy.state, py.state);
}

// A 2D picture's states and majorities against a count by hand, with rows where the raters
// split in most voxels (counted a rater pair at a time) and where they split in few (counted
// voxel by voxel), with and without an ignored label.
TEST(AgreementPicture, MajorityOfEverySplitPixelAsCountedByHand) {
  std::mt19937 rng(5);
  const int raters = 5, w = 64, h = 8;
  std::vector<std::vector<uint8_t>> maps(raters, std::vector<uint8_t>(w * h, 1));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (auto& m : maps)
        if (y % 2 == 0 || x % 16 == 0) m[y * w + x] = static_cast<uint8_t>(rng() % 4);
  CaseView view;
  view.voxels = w * h;
  view.max_label = 3;
  for (const auto& m : maps) view.raters.push_back(m.data());
  Geometry g;
  g.shape = {w, h, 1};
  for (const std::optional<Label> ignore : {std::optional<Label>{}, std::optional<Label>{2}}) {
    const AgreementPicture p = agreement_picture(view, raters, g, ignore);
    for (int i = 0; i < w * h; ++i) {
      std::array<int, 4> votes{};
      bool ignored = false;
      for (const auto& m : maps) ++votes[m[i]], ignored |= ignore && m[i] == *ignore;
      const int most = *std::max_element(votes.begin(), votes.end());
      const PixelState expected = ignored         ? PixelState::kIgnored
                                  : most < raters ? PixelState::kSplit
                                  : maps[0][i]    ? PixelState::kForeground
                                                  : PixelState::kBackground;
      ASSERT_EQ(p.state[i], expected) << i;
      ASSERT_EQ(p.majority[i], expected == PixelState::kSplit ? most : 0) << i;
    }
  }
}

TEST(AgreementPicture, ColoursCropAndDownscale) {
  EXPECT_EQ(agreement_colour(PixelState::kSplit, 1, 4), (Rgb{255, 0, 0}));
  const Rgb narrow = agreement_colour(PixelState::kSplit, 3, 4);
  EXPECT_EQ(narrow[0], 255);
  EXPECT_GT(narrow[1], 128);
  const Rgb calm = agreement_colour(PixelState::kForeground, 0, 4);
  EXPECT_GT(calm[2], calm[0]);
  AgreementPicture p;
  p.width = 300;
  p.height = 200;
  p.raters = 3;
  p.state.assign(300 * 200, PixelState::kBackground);
  p.majority.assign(300 * 200, 0);
  p.state[100 * 300 + 150] = PixelState::kSplit;
  p.majority[100 * 300 + 150] = 2;
  const PixelBox box = content_box(p);
  EXPECT_EQ(box.width, 32);
  EXPECT_EQ(box.height, 32);
  EXPECT_LE(box.x, 150);
  EXPECT_GT(box.x + box.width, 150);
  const std::vector<uint8_t> rgb = agreement_rgb(p);
  EXPECT_EQ(rgb[(100 * 300 + 150) * 3], 255);  // split: red
  int64_t w = 0, h = 0;
  const std::vector<uint8_t> small = thumbnail_rgb(p, nullptr, {0, 0, 300, 200}, 100, w, h);
  EXPECT_EQ(w, 100);
  EXPECT_EQ(h, 66);
  ASSERT_EQ(small.size(), static_cast<size_t>(w * h * 3));
  // Each pixel is the full picture's pixel under its centre.
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sy = std::min<int64_t>(199, (2 * y + 1) * 200 / (2 * h));
      const int64_t sx = (2 * x + 1) * 300 / (2 * w);
      for (int k = 0; k < 3; ++k)
        ASSERT_EQ(small[(y * w + x) * 3 + k], rgb[(sy * 300 + sx) * 3 + k]) << x << "," << y;
    }
  // A box that fits keeps its size and its pixels.
  const std::vector<uint8_t> crop = thumbnail_rgb(p, nullptr, box, 100, w, h);
  ASSERT_EQ(w, box.width);
  ASSERT_EQ(h, box.height);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      ASSERT_EQ(crop[(y * w + x) * 3 + 1], rgb[((box.y + y) * 300 + box.x + x) * 3 + 1]);
}

TEST(Overlay, VolumesGetTheirSliceWithALegend) {
  if (!overlay_supported()) GTEST_SKIP() << "built without OpenCV";
  test::TempDir d;
  const Geometry geom = volume_geometry();
  std::map<Label, std::vector<std::vector<uint8_t>>> masks;
  for (const auto& m : three_raters()) {
    std::vector<uint8_t> one(60);
    for (int i = 0; i < 60; ++i) one[i] = m[i] == 1;
    masks[1].push_back(one);
  }
  OutputFiles out;
  out.dir = d.path() / "case";
  out.geom = &geom;
  const std::string path = write_overlay(CaseSpec{}, RunOptions{}, out, masks, 3, geom);
  const RawImage img = read_image(path);
  ASSERT_EQ(img.channels, 3);
  EXPECT_EQ(img.geom.shape[0], 360);  // widened for the legend
  EXPECT_GT(img.geom.shape[1], 3 + 60);
  // Slice 3 at the top left: (1, 1) unanimous, (2, 1) and (3, 1) split; then the legend.
  const auto at = [&](int x, int y) {
    const uint8_t* p = &img.bytes[(y * img.geom.shape[0] + x) * 3];
    return Rgb{p[0], p[1], p[2]};
  };
  EXPECT_EQ(at(0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(at(1, 1), agreement_colour(PixelState::kForeground, 0, 3));
  EXPECT_EQ(at(2, 1), agreement_colour(PixelState::kSplit, 2, 3));
  std::set<std::array<uint8_t, 3>> colours;
  for (int64_t i = 0; i < img.voxels(); ++i)
    colours.insert({img.bytes[3 * i], img.bytes[3 * i + 1], img.bytes[3 * i + 2]});
  EXPECT_GT(colours.size(), 10u) << "the legend's text";
}

// Three raters' 2D masks in `dir`, the third marking one more pixel.
CaseResult written_case(const test::TempDir& d) {
  CaseResult c;
  c.id = "cell";
  c.geom.shape = {20, 10, 1};
  for (int r = 0; r < 3; ++r) {
    std::vector<uint8_t> px(200, 0);
    for (int i = 40; i < 60; ++i) px[i] = 1;
    if (r == 2) px[61] = 1;
    const std::string name = "r" + std::to_string(r);
    test::write_gray(d / ("cell/" + name + ".png"), 20, 10, px);
    c.raters.push_back(name);
    c.files[name] = {d / ("cell/" + name + ".png")};
  }
  c.mean_pairwise_dice = 0.9;
  c.labels = {label_result(1, 3, 0.9)};
  return c;
}

TEST(Thumbnails, DrawnFromTheFilesOrSaidWhyNot) {
  test::TempDir d;
  RunResult r;
  r.cases.push_back(written_case(d));
  CaseResult per_label = written_case(d);
  per_label.id = "per-label";
  per_label.files["r0"].push_back(per_label.files["r0"][0]);  // two files: one per label
  r.cases.push_back(per_label);
  const Summary s = summarize(r, 10);
  ASSERT_EQ(s.adjudicate.size(), 2u);
  const auto thumbs = worklist_thumbnails(r, s, RunOptions{});
  const Thumbnail& t = thumbs.at("cell");
  ASSERT_FALSE(t.png.empty()) << t.missing;
  EXPECT_EQ(t.width, 20);
  EXPECT_EQ(t.height, 10);
  test::write_text(d / "t.png", t.png);
  const RawImage img = read_image(d / "t.png");
  EXPECT_EQ(img.channels, 3);
  const Rgb heat = agreement_colour(PixelState::kSplit, 2, 3);
  EXPECT_EQ(img.bytes[61 * 3 + 1], heat[1]);
  EXPECT_TRUE(contains(t.caption, "1 pixel where the raters disagree")) << t.caption;
  EXPECT_TRUE(thumbs.at("per-label").png.empty());
  EXPECT_TRUE(contains(thumbs.at("per-label").missing, "dataset listing"));
  // With the listing, a case of binary files per label is drawn.
  Dataset data;
  data.per_label = true;
  CaseSpec spec;
  spec.id = "per-label";
  for (int k = 0; k < 3; ++k)
    spec.raters["r" + std::to_string(k)][1] = {r.cases[0].files["r" + std::to_string(k)][0]};
  data.cases = {spec};
  EXPECT_FALSE(worklist_thumbnails(r, s, RunOptions{}, &data).at("per-label").png.empty());
}

// Fractions and probabilities written as PNG: scaled to the PNG's range and rounded half away
// from zero (as lround), whatever comes in.
TEST(OutputFiles, MapsScaledAndRoundedAsLround) {
  test::TempDir d;
  std::vector<float> map;
  for (int k = 0; k <= 255; ++k)
    for (float top : {255.0f, 65535.0f})
      for (float e : {-1e-7f, 0.0f, 1e-7f}) map.push_back((k + 0.5f) / top + e);
  for (float v : {0.0f, 1.0f, -0.5f, 2.0f, 0.49999997f, NAN}) map.push_back(v);
  Geometry g;
  g.shape = {static_cast<int64_t>(map.size()), 1, 1};
  OutputFiles out;
  out.dir = d.path() / "case";
  out.geom = &g;
  const RawImage u8 = read_image(out.write_fraction("f", map));
  const RawImage u16 = read_image(out.write_probability("p", map));
  ASSERT_EQ(u8.bytes.size(), map.size());
  ASSERT_EQ(u16.bytes.size(), 2 * map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    const float v = std::isnan(map[i]) ? 0.0f : std::clamp(map[i], 0.0f, 1.0f);
    EXPECT_EQ(u8.bytes[i], std::lround(v * 255.0f)) << map[i];
    uint16_t p;
    std::memcpy(&p, &u16.bytes[2 * i], 2);
    EXPECT_EQ(p, std::lround(v * 65535.0f)) << map[i];
  }
}

// Colour pictures at libpng's defaults (0) or a deflate level: the same pixels at every level.
TEST(OutputFiles, ColourPngAtEachLevelKeepsItsPixels) {
  test::TempDir d;
  std::vector<uint8_t> rgb(300 * 200 * 3);
  for (size_t i = 0; i < rgb.size(); ++i)
    rgb[i] = static_cast<uint8_t>((i / 3 % 300) / 40 * 30 + i % 3);
  std::vector<size_t> sizes;
  for (int level : {0, 1, 9}) {
    const std::string png = encode_png_rgb(rgb.data(), 300, 200, level);
    test::write_text(d / "c.png", png);
    const RawImage img = read_image(d / "c.png");
    ASSERT_EQ(img.channels, 3);
    EXPECT_TRUE(std::equal(rgb.begin(), rgb.end(), img.bytes.begin(), img.bytes.end())) << level;
    sizes.push_back(png.size());
  }
  EXPECT_GT(sizes[1], sizes[2]);  // level 1 rows unfiltered, level 9 filtered and packed harder
  EXPECT_THROW(encode_png_rgb(rgb.data(), 300, 200, 10), std::runtime_error);
}

TEST(ThumbnailKeeper, KeepsTheLowestSoFarAndDrawsOnlyThose) {
  ThumbnailKeeper keeper(2);
  std::vector<std::string> drawn;
  auto offer = [&](const std::string& id, double dice) {
    keeper.offer(id, dice, [&] {
      drawn.push_back(id);
      Thumbnail t;
      t.caption = id;
      return t;
    });
  };
  offer("c", 0.5);
  offer("a", 0.9);
  offer("b", 0.1);   // evicts a
  offer("d", 0.95);  // worse than both kept: not drawn
  offer("e", NAN);   // not in the worklist: not drawn
  offer("f", 0.5);   // ties c, whose id is lower: not drawn
  offer("0", 0.5);   // ties c with a lower id: evicts c
  EXPECT_EQ(drawn, (std::vector<std::string>{"c", "a", "b", "0"}));
  EXPECT_EQ(keeper.find("b")->caption, "b");
  EXPECT_EQ(keeper.find("0")->caption, "0");
  for (const char* gone : {"a", "c", "d", "e", "f"}) EXPECT_FALSE(keeper.find(gone)) << gone;
  keeper.offer("g", 0.0, []() -> Thumbnail { throw std::runtime_error("cannot draw"); });
  EXPECT_FALSE(keeper.find("g"));  // the report tries the files again
  EXPECT_TRUE(keeper.find("b"));
  ThumbnailKeeper none(0);
  none.offer("x", 0.0, [&] { return drawn.push_back("x"), Thumbnail{}; });
  EXPECT_EQ(drawn.size(), 4u);
}

// The worklist's pictures kept by a run against those drawn from the files after it.
void expect_kept_equal_reloaded(const Dataset& data, RunOptions o, size_t kept) {
  o.thumbnails = std::make_shared<ThumbnailKeeper>(kept);
  const RunResult r = run_dataset(data, o);
  const Summary s = summarize(r, 10);
  RunOptions plain = o;
  plain.thumbnails = nullptr;
  const auto with = worklist_thumbnails(r, s, o, &data);
  const auto without = worklist_thumbnails(r, s, plain, &data);
  ASSERT_EQ(with.size(), data.cases.size());
  for (size_t i = 0; i < s.adjudicate.size(); ++i) {
    const std::string& id = s.adjudicate[i].id;
    EXPECT_EQ(o.thumbnails->find(id).has_value(), i < kept) << id;
    const Thumbnail &a = with.at(id), &b = without.at(id);
    ASSERT_FALSE(a.png.empty()) << id << ": " << a.missing;
    EXPECT_EQ(a.png, b.png) << id;
    EXPECT_EQ(a.caption, b.caption);
    EXPECT_EQ(a.width, b.width);
    ASSERT_EQ(a.legend.size(), b.legend.size());
    for (size_t k = 0; k < a.legend.size(); ++k) EXPECT_EQ(a.legend[k].text, b.legend[k].text);
  }
}

TEST(Thumbnails, KeptByTheRunEqualThoseDrawnFromTheFiles) {
  test::TempDir d;
  std::string manifest = "case,rater,path,label\n";
  for (int c = 0; c < 4; ++c)
    for (int r = 0; r < 3; ++r) {
      std::vector<uint8_t> px(40 * 30, 0);
      for (int i = 300; i < 700; ++i) px[i] = (i % 7 == 0) ? 2 : 1;
      for (int i = 0; i < 20 * (c + 1) * r; ++i) px[700 + i] = 1;  // case c: more disagreement
      const std::string name = "c" + std::to_string(c) + "/r" + std::to_string(r) + ".png";
      test::write_gray(d / ("maps/" + name), 40, 30, px);
      for (uint8_t& v : px) v = v == 1;
      test::write_gray(d / ("masks/" + name), 40, 30, px);
      manifest += "c" + std::to_string(c) + ",r" + std::to_string(r) + ",masks/" + name + ",1\n";
    }
  test::write_text(d / "m.csv", manifest);
  RunOptions o;
  o.threads = 2;
  o.backend = Backend::kCpu;
  o.write_maps = false;
  o.out_dir = d / "out";
  expect_kept_equal_reloaded(dataset_from_case_folders(d / "maps", "", ""), o, 3);
  o.out_dir = d / "out2";
  expect_kept_equal_reloaded(dataset_from_manifest(d / "m.csv"), o, 2);
  // What was kept needs no file: with them gone, only the others are missing.
  o.out_dir = d / "out3";
  o.thumbnails = std::make_shared<ThumbnailKeeper>(1);
  const Dataset maps = dataset_from_case_folders(d / "maps", "", "");
  const RunResult r = run_dataset(maps, o);
  std::filesystem::remove_all(d / "maps");
  const Summary s = summarize(r, 10);
  const auto thumbs = worklist_thumbnails(r, s, o, &maps);
  EXPECT_FALSE(thumbs.at(s.adjudicate[0].id).png.empty());
  for (size_t i = 1; i < s.adjudicate.size(); ++i)
    EXPECT_FALSE(thumbs.at(s.adjudicate[i].id).missing.empty()) << s.adjudicate[i].id;
}

// --- The page of a real run, rendered by headless Chromium ----------------------------------

// Runs a command line through the shell; its stdout (and what it redirects there) and exit code.
test::Output shell(const std::string& command) {
  test::Output out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  const int status = pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string chromium_binary() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const test::Output found = shell(std::string("command -v ") + name + " 2>/dev/null");
    if (found.code == 0 && !found.text.empty()) return name;
  }
  return "";
}

TEST(HtmlEndToEnd, RendersInHeadlessChromium) {
  const std::string browser = chromium_binary();
  if (browser.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true")
      FAIL() << "chromium is not installed (scripts/setup.sh installs it); CI must render the page";
    GTEST_SKIP() << "chromium is not installed: the rendering of report.html is not checked "
                    "(apt-get install chromium, or run scripts/setup.sh)";
  }
  test::TempDir d;
  const test::Output run = test::run("score -q --cases " + test::kData +
                                     "/bu-bil --raters 'experts/*.png' --reference gold.png "
                                     "--foreground '<128' -o " +
                                     d / "out");
  ASSERT_EQ(run.code, 0) << run.text;
  const std::string page = d / "out/report.html";
  ASSERT_TRUE(fs::exists(page));
  const std::string flags =
      " --headless --disable-gpu --no-sandbox --hide-scrollbars "
      "--user-data-dir=" +
      d / "profile" + " ";
  const test::Output dom =
      shell("timeout 60 " + browser + flags + "--dump-dom file://" + page + " 2>/dev/null");
  ASSERT_EQ(dom.code, 0) << dom.text.substr(0, 2000);
  for (const char* part :
       {"data-sortable=\"ready\"", "Adjudication worklist", "Leaderboard", "Pairwise Dice",
        "000096", "experts/Expert1", "every rater: the same label"})
    EXPECT_TRUE(contains(dom.text, part)) << part;
  const std::regex img("<img[^>]*src=\"data:image/png;base64,");
  EXPECT_EQ(std::distance(std::sregex_iterator(dom.text.begin(), dom.text.end(), img),
                          std::sregex_iterator()),
            8);  // one thumbnail per worklist case
  const std::string shot = d / "shot.png";
  const test::Output s = shell("timeout 60 " + browser + flags + "--screenshot=" + shot +
                               " --window-size=1200,2000 file://" + page + " 2>&1");
  ASSERT_TRUE(fs::exists(shot)) << s.text.substr(0, 2000);
  const RawImage img_shot = read_image(shot);
  ASSERT_GE(img_shot.channels, 3);
  EXPECT_EQ(img_shot.geom.shape[0], 1200);
  EXPECT_EQ(img_shot.geom.shape[1], 2000);
  std::set<uint32_t> colours;
  int64_t ink = 0;
  const int c = img_shot.channels;
  for (int64_t i = 0; i < img_shot.voxels(); ++i) {
    const uint8_t* p = &img_shot.bytes[c * i];
    colours.insert(uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]);
    ink += p[0] < 200 || p[1] < 200 || p[2] < 200;
  }
  EXPECT_GT(colours.size(), 30u) << "text, tables and the heatmap in colour";
  EXPECT_GT(ink, img_shot.voxels() / 50) << "more than a blank page";
}

}  // namespace
}  // namespace maskeval
