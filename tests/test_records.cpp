// records.jsonl: case results read back exactly as written, torn and corrupt lines, --shard shares.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "maskeval/label_set.h"
#include "pipeline/output_dir.h"
#include "pipeline/records.h"
#include "pipeline/shard.h"
#include "report/case_record.h"
#include "report/json_report.h"
#include "test_util.h"

namespace maskeval {
namespace {

using test::kData;
using test::TempDir;
using OJson = nlohmann::ordered_json;

std::string dumped(const CaseResult& c, const RunOptions& o) {
  return case_json(c, o).dump();
}

// Every case of the run, written as JSON, read back and written again: the same text.
void expect_round_trip(const RunResult& r, const RunOptions& o) {
  ASSERT_FALSE(r.cases.empty());
  for (const CaseResult& c : r.cases) {
    const std::string first = dumped(c, o);
    const CaseResult back = case_from_json(OJson::parse(first), o.labels);
    EXPECT_EQ(dumped(back, o), first) << c.id;
  }
}

RunOptions base(const TempDir& d, Command command) {
  RunOptions o;
  o.command = command;
  o.out_dir = d / "out";
  o.threads = 2;
  return o;
}

TEST(CaseRecord, AgreeWithDistancesReadsBackExactly) {
  TempDir d;
  RunOptions o = base(d, Command::kAgree);
  o.foreground = ForegroundRule::parse("<128");
  o.distances = true;
  const Dataset data = dataset_from_case_folders(kData + "/bu-bil", "experts/*.png", "gold.png");
  const RunResult r = run_dataset(data, o);
  ASSERT_FALSE(r.cases[0].labels.at(0).boundary.empty());
  expect_round_trip(r, o);
}

TEST(CaseRecord, StapleAndMajorityReadBackExactly) {
  TempDir d;
  for (const FuseMethod m : {FuseMethod::kStaple, FuseMethod::kMajority, FuseMethod::kMlStaple}) {
    RunOptions o = base(d, Command::kFuse);
    o.method = m;
    o.foreground = ForegroundRule::parse("<128");
    const Dataset data = dataset_from_case_folders(kData + "/bu-bil", "experts/*.png", "gold.png");
    const RunResult r = run_dataset(data, o);
    ASSERT_EQ(r.failed.size(), 0u);
    expect_round_trip(r, o);
  }
}

TEST(CaseRecord, ScoreWithRegionsIgnoreAndDistancesReadsBackExactly) {
  TempDir d;
  RunOptions o = base(d, Command::kScore);
  o.labels = read_label_file(kData + "/camvid/labels.csv");
  o.labels.add_region(parse_region("built=1,4"));
  o.labels.ignore = 11;
  o.include_background = true;
  o.distances = true;
  const Dataset data =
      dataset_from_prediction_folders({kData + "/camvid/prediction"}, kData + "/camvid/reference");
  const RunResult r = run_dataset(data, o);
  ASSERT_TRUE(r.cases[0].scores.begin()->second.begin()->second.boundary.has_value());
  expect_round_trip(r, o);
  // A restored case keeps what the reports need beyond the JSON's text: directed distances.
  const CaseResult back = case_from_json(case_json(r.cases[0], o), o.labels);
  const auto& a = r.cases[0].scores.begin()->second;
  const auto& b = back.scores.begin()->second;
  for (const auto& [label, s] : a) {
    EXPECT_EQ(b.at(label).boundary->hd_ba, s.boundary->hd_ba);
    EXPECT_EQ(b.at(label).tp, s.tp);
  }
}

TEST(CaseRecord, PairsKeepBothDirectedDistances) {
  TempDir d;
  RunOptions o = base(d, Command::kAgree);
  o.foreground = ForegroundRule::parse("<128");
  o.distances = true;
  const RunResult r =
      run_dataset(dataset_from_case_folders(kData + "/bu-bil", "experts/*.png", ""), o);
  const CaseResult back = case_from_json(case_json(r.cases[0], o), o.labels);
  const auto& m = r.cases[0].labels[0].boundary;
  ASSERT_EQ(back.labels[0].boundary.size(), m.size());
  for (size_t k = 0; k < m.size(); ++k) {
    EXPECT_EQ(back.labels[0].boundary[k].hd_ab, m[k].hd_ab);
    EXPECT_EQ(back.labels[0].boundary[k].hd_ba, m[k].hd_ba);
  }
}

TEST(RecordFile, WrittenLinesReadBackAndATornLastLineIsLeftOut) {
  TempDir d;
  RunOptions o = base(d, Command::kAgree);
  o.foreground = ForegroundRule::parse("<128");
  const Dataset data = dataset_from_case_folders(kData + "/bu-bil", "experts/*.png", "");
  const RunResult r = run_dataset(data, o);
  const std::string path = d / "records.jsonl";
  {
    RecordWriter w(path, OJson{{"maskeval_records", 1}}, {}, o);
    for (size_t i = 0; i < r.cases.size(); ++i) w.finished(data.cases[i], r.cases[i]);
    w.failed(data.cases[0], FailedCase{"x", "f.png", "bad"}, StageTimes{});
  }
  RecordFile f = read_records(path, o.labels);
  ASSERT_EQ(f.records.size(), r.cases.size() + 1);
  EXPECT_FALSE(f.complete);
  for (size_t i = 0; i < r.cases.size(); ++i) {
    EXPECT_EQ(f.records[i].spec_sha256, case_spec_sha256(data.cases[i]));
    EXPECT_EQ(record_line(data.cases[i], *f.records[i].result, o), f.records[i].line);
    EXPECT_EQ(f.records[i].result->values.files, r.cases[i].values.files);
  }
  EXPECT_EQ(f.records.back().failure->reason, "bad");
  // A run killed while writing: the cut line is not a record.
  const std::string whole = test::read_text(path);
  test::write_text(path, whole + whole.substr(whole.find('\n') + 1, 40));
  EXPECT_EQ(read_records(path, o.labels).records.size(), r.cases.size() + 1);
  // A damaged line inside the file is an error naming its line.
  std::string broken = whole;
  broken.insert(broken.find('\n') + 1, "{\"case\": 1}\n");
  test::write_text(path, broken);
  try {
    read_records(path, o.labels);
    FAIL() << "a damaged line was read";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

TEST(ReportJson, WrittenCaseByCaseIsTheSameText) {
  TempDir d;
  RunOptions o = base(d, Command::kAgree);
  o.foreground = ForegroundRule::parse("<128");
  o.distances = true;
  const RunResult r =
      run_dataset(dataset_from_case_folders(kData + "/bu-bil", "experts/*.png", ""), o);
  const Summary s = summarize(r, 3);
  write_report_json(d / "report.json", r, s, o);
  EXPECT_EQ(test::read_text(d / "report.json"), report_json_text(r, s, o) + "\n");
  const RunResult none;
  write_report_json(d / "empty.json", none, summarize(none, 3), o);
  EXPECT_EQ(test::read_text(d / "empty.json"),
            report_json_text(none, summarize(none, 3), o) + "\n");
}

TEST(CaseList, LoadedCasesAreReadWhenReachedAndNotHeld) {
  int loads = 0;
  CaseList loaded;
  const CaseList& list = loaded;  // a loaded list is read-only
  loaded.load_from(40, [&](size_t i) {
    ++loads;
    CaseResult c;
    c.id = "c" + std::to_string(i);
    return c;
  });
  ASSERT_EQ(list.size(), 40u);
  size_t seen = 0;
  for (const CaseResult& c : list) EXPECT_EQ(c.id, "c" + std::to_string(seen++));
  EXPECT_EQ(seen, 40u);
  EXPECT_EQ(loads, 40);
  const CaseResult& a = list[3];
  const CaseResult& b = list[5];  // both held: the last few reached stay
  EXPECT_EQ(a.id, "c3");
  EXPECT_EQ(b.id, "c5");
  EXPECT_EQ(list[3].id, "c3");
  EXPECT_EQ(loads, 42);  // list[3] again was held
  const auto held = list.get(7);
  for (size_t i = 0; i < 40; ++i) (void)list[i].id;  // pushes 7 out of the recent ones
  EXPECT_EQ(held->id, "c7");                         // a get() keeps its own
  EXPECT_THROW(loaded.push_back(CaseResult{}), std::logic_error);
  EXPECT_THROW(loaded[0], std::logic_error);
  EXPECT_THROW(list.at(40), std::out_of_range);
}

TEST(RecordFile, NamesThatAreNotUtf8ReadBackByteForByte) {
  TempDir d;
  const std::string odd = std::string("case_\xff\xfe") + "x";
  const std::string folder = d / ("data/" + odd);
  std::filesystem::create_directories(folder);
  std::filesystem::copy(kData + "/bu-bil/000092/experts", folder);
  RunOptions o = base(d, Command::kAgree);
  o.foreground = ForegroundRule::parse("<128");
  const Dataset data = dataset_from_case_folders(d / "data", "", "");
  const RunResult r = run_dataset(data, o);
  ASSERT_EQ(r.cases.size(), 1u);
  ASSERT_EQ(r.cases[0].id, odd);
  const std::string path = d / "records.jsonl";
  {
    RecordWriter w(path, OJson{{"maskeval_records", 1}}, {}, o);
    w.finished(data.cases[0], r.cases[0]);
  }
  const RecordFile f = read_records(path, o.labels);
  ASSERT_EQ(f.records.size(), 1u);
  const CaseResult& back = *f.records[0].result;
  EXPECT_EQ(back.id, odd);
  EXPECT_EQ(back.files, r.cases[0].files);
  EXPECT_EQ(back.inputs.begin()->first, r.cases[0].inputs.begin()->first);
  EXPECT_EQ(back.agreement_map, r.cases[0].agreement_map);
}

// --- Shards ----------------------------------------------------------------------------------

Dataset many_cases(const TempDir& d, int n, bool reversed = false) {
  Dataset data;
  for (int k = 0; k < n; ++k) {
    const int i = reversed ? n - 1 - k : k;
    const std::string file = d / ("m" + std::to_string(i) + ".png");
    test::write_text(file, std::string(static_cast<size_t>(100 + (i * 37) % 1000), 'x'));
    CaseSpec c;
    c.id = "case" + std::to_string(i);
    c.raters["a"][kWholeMap] = {file};
    data.cases.push_back(c);
  }
  return data;
}

std::set<std::string> ids_of(const Dataset& d) {
  std::set<std::string> out;
  for (const CaseSpec& c : d.cases) out.insert(c.id);
  return out;
}

TEST(Shard, SharesCoverEveryCaseOnceWhateverTheListingOrder) {
  TempDir d;
  const Dataset all = many_cases(d, 101);
  const Dataset reversed = many_cases(d, 101, true);
  std::set<std::string> seen;
  std::vector<uint64_t> bytes;
  for (int k = 0; k < 4; ++k) {
    Dataset a = all, b = reversed;
    take_shard(a, {k, 4});
    take_shard(b, {k, 4});
    EXPECT_EQ(ids_of(a), ids_of(b)) << "shard " << k;
    uint64_t total = 0;
    for (const CaseSpec& c : a.cases) {
      EXPECT_TRUE(seen.insert(c.id).second) << c.id << " in two shards";
      total += std::filesystem::file_size(c.raters.at("a").at(kWholeMap)[0]);
    }
    bytes.push_back(total);
  }
  EXPECT_EQ(seen.size(), all.cases.size());
  // Greedy largest-first: the heaviest and lightest shards differ by at most one case's size.
  const auto [lo, hi] = std::minmax_element(bytes.begin(), bytes.end());
  EXPECT_LE(*hi - *lo, 1099u);
  Dataset one = all;
  take_shard(one, {0, 1});
  EXPECT_EQ(one.cases.size(), all.cases.size());
}

TEST(Shard, ParseRefusesWhatIsNotIOfN) {
  EXPECT_EQ(parse_shard("3/4").index, 3);
  EXPECT_EQ(parse_shard("0/1").count, 1);
  for (const char* bad : {"4/4", "1", "a/b", "-1/4", "1/0", "1/", "/4", "1/4/2"})
    EXPECT_THROW(parse_shard(bad), UsageError) << bad;
}

TEST(Shard, CaseFoldersComeFromTheWholeListing) {
  TempDir d;
  Dataset data;
  for (const char* id : {"case0", "case0/", "case2"}) {  // case0/: case0's folder once made safe
    CaseSpec c;
    c.id = id;
    c.raters["a"][kWholeMap] = {d / "a.png"};
    data.cases.push_back(c);
  }
  assign_case_folders(data);
  EXPECT_EQ(data.cases[0].out_folder, "case0");
  EXPECT_EQ(data.cases[1].out_folder, "case0~2");
}

TEST(Shard, CaseFoldersOfASortedListingAreThoseOfTheWholeList) {
  // Ids that clash once made safe, a made-up name that is another case's id, dots, duplicates.
  std::vector<std::string> ids = {"a",  "a/", "a~2", "a~3",    "b/./c", "b/c", "b/c~2", "x",  "x",
                                  "..", "_",  "_~2", "d/../e", "d/e",   "q r", "z/",    "z~2"};
  std::sort(ids.begin(), ids.end());
  Dataset sorted, unsorted;
  for (const std::string& id : ids) {
    CaseSpec c;
    c.id = id;
    sorted.cases.push_back(c);
  }
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    CaseSpec c;
    c.id = *it;
    unsorted.cases.push_back(c);
  }
  ASSERT_TRUE(sorted.cases.sorted_by_id());
  ASSERT_FALSE(unsorted.cases.sorted_by_id());
  assign_case_folders(sorted);
  const std::vector<std::string> expected = case_folders(ids);
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(sorted.cases[i].out_folder, expected[i]) << ids[i];
  std::vector<std::string> reversed(ids.rbegin(), ids.rend());
  const std::vector<std::string> expected_reversed = case_folders(reversed);
  assign_case_folders(unsorted);
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(unsorted.cases[i].out_folder, expected_reversed[i]) << reversed[i];
}

}  // namespace
}  // namespace maskeval
