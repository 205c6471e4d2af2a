// Dataset listing against messy folders: links, loops, FIFOs, unreadable folders, bad globs.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "maskeval/run.h"
#include "test_util.h"

namespace maskeval {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_gray;
using test::write_text;

void write_mask(const std::string& path) {
  write_gray(path, 2, 2, std::vector<uint8_t>(4, 0));
}

void make_fifo(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_EQ(mkfifo(path.c_str(), 0644), 0) << path;
}

void make_link(const std::string& target, const std::string& link) {
  fs::create_directories(fs::path(link).parent_path());
  fs::create_symlink(target, link);
}

std::vector<std::string> ids(const Dataset& d) {
  std::vector<std::string> out;
  for (const CaseSpec& c : d.cases) out.push_back(c.id);
  return out;
}

std::vector<std::string> rater_names(const CaseSpec& c) {
  std::vector<std::string> out;
  for (const auto& [name, files] : c.raters) out.push_back(name);
  return out;
}

// Problem paths relative to `root`, sorted.
std::set<std::string> problem_paths(const Dataset& d, const fs::path& root) {
  std::set<std::string> out;
  for (const ListingProblem& p : d.problems)
    out.insert(fs::path(p.path).lexically_relative(root).generic_string());
  return out;
}

std::string usage_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

// While alive, keeps opening the FIFO's writing end and writing `text`, so that a reader that
// opened it (wrongly) comes back with that text instead of waiting forever.
class FifoFeeder {
 public:
  FifoFeeder(std::string path, std::string text)
      : path_(std::move(path)), text_(std::move(text)), thread_([this] { feed(); }) {}
  ~FifoFeeder() {
    stop_ = true;
    thread_.join();
  }

 private:
  void feed() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      const int fd = open(path_.c_str(), O_WRONLY | O_NONBLOCK);  // fails until a reader opens
      if (fd >= 0) {
        if (write(fd, text_.data(), text_.size()) < 0) {
        }
        close(fd);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string path_, text_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(DatasetManifest, FifoIsRefusedWithoutOpening) {
  TempDir d;
  make_fifo(d / "m.csv");
  FifoFeeder feeder(d / "m.csv", "case,rater,path\nc,a,a.png\nc,b,b.png\n");
  const std::string msg = usage_error([&] { dataset_from_manifest(d / "m.csv"); });
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
  EXPECT_NE(usage_error([&] { dataset_from_manifest(d.path().string()); }), "");
  EXPECT_NE(usage_error([&] { dataset_from_manifest(d / "missing.csv"); }), "");
}

TEST(DatasetManifest, ByteOrderMarkIsSkipped) {
  TempDir d;
  write_text(d / "m.csv",
             "\xEF\xBB\xBF"
             "case,rater,path\nc,a,a.png\nc,b,b.png\n");
  const Dataset data = dataset_from_manifest(d / "m.csv");
  ASSERT_EQ(data.cases.size(), 1u);
  EXPECT_EQ(rater_names(data.cases[0]), (std::vector<std::string>{"a", "b"}));
}

// Rows of a case scattered through the file: cases in id order, each one's files in file order,
// whatever the order of the rows; row errors name their line (blank lines counted).
TEST(DatasetManifest, ScatteredRowsAreGroupedByCaseInFileOrder) {
  TempDir d;
  std::string csv = "rater,path,case,role\n";
  const int n = 500;
  for (int pass = 0; pass < 3; ++pass)
    for (int i = n - 1; i >= 0; --i) {
      const std::string id = "case" + std::to_string(i);
      if (pass < 2) csv += "r,/" + id + "_" + std::to_string(pass) + ".png," + id + ",\n";
      if (pass == 2) csv += ",/" + id + "_ref.png," + id + ",reference\n\n";
    }
  write_text(d / "m.csv", csv);
  const Dataset data = dataset_from_manifest(d / "m.csv");
  ASSERT_EQ(data.cases.size(), static_cast<size_t>(n));
  std::vector<std::string> want;
  for (int i = 0; i < n; ++i) want.push_back("case" + std::to_string(i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids(data), want);
  for (const CaseSpec& c : data.cases) {
    EXPECT_EQ(c.raters.at("r").at(kWholeMap),
              (std::vector<std::string>{"/" + c.id + "_0.png", "/" + c.id + "_1.png"}));
    EXPECT_EQ(c.reference.at(kWholeMap), std::vector<std::string>{"/" + c.id + "_ref.png"});
  }
  write_text(d / "bad.csv", "case,rater,path\nc,a,a.png\n\nc,,b.png\n");
  const std::string msg = usage_error([&] { dataset_from_manifest(d / "bad.csv"); });
  EXPECT_NE(msg.find("bad.csv line 4: rater must not be empty"), std::string::npos) << msg;
  write_text(d / "none.csv", "case,rater,path\n\n");
  EXPECT_NE(usage_error([&] { dataset_from_manifest(d / "none.csv"); }).find("no rows"),
            std::string::npos);
}

TEST(DatasetManifest, FifoAndBrokenPathsArePassedOn) {
  TempDir d;
  make_fifo(d / "pipe.png");
  make_link("nowhere.png", d / "broken.png");
  write_text(d / "m.csv", "case,rater,path\nc,a,pipe.png\nc,b,broken.png\n");
  const Dataset data = dataset_from_manifest(d / "m.csv");
  ASSERT_EQ(data.cases.size(), 1u);
  EXPECT_EQ(data.cases[0].raters.at("a").at(kWholeMap)[0], d / "pipe.png");
  EXPECT_EQ(data.cases[0].raters.at("b").at(kWholeMap)[0], d / "broken.png");
  EXPECT_TRUE(data.problems.empty());
}

TEST(Dataset, LinkToParentListsEachCaseOnce) {
  TempDir d;
  write_mask(d / "data/a/r1.png");
  write_mask(d / "data/a/r2.png");
  make_link("..", d / "data/g/up");
  const Dataset data = dataset_from_case_folders(d / "data", "", "");
  EXPECT_EQ(ids(data), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(data.problems.empty());
}

TEST(Dataset, LinksToSelfAndParentFinishQuickly) {
  TempDir d;
  write_mask(d / "data/a/r1.png");
  write_mask(d / "data/a/r2.png");
  write_mask(d / "data/g/b/experts/r1.png");
  write_mask(d / "data/g/b/experts/r2.png");
  make_link(".", d / "data/g/self");
  make_link(".", d / "data/g/again");
  make_link("..", d / "data/g/up");
  make_link(".", d / "data/g/b/experts/loop");
  make_link("a", d / "data/z-copy-of-a");  // the same folder as "a", reached second
  const auto start = std::chrono::steady_clock::now();
  const Dataset nested = dataset_from_case_folders(d / "data", "experts/*.png", "");
  EXPECT_EQ(ids(nested), (std::vector<std::string>{"g/b"}));
  const Dataset flat = dataset_from_case_folders(d / "data", "", "");
  EXPECT_EQ(ids(flat), (std::vector<std::string>{"a", "g/b/experts"}));
  EXPECT_TRUE(flat.problems.empty());  // loops are skipped, not reported
  // The rater folders take the same walk.
  const Dataset raters = dataset_from_rater_folders({d / "data/g", d / "data/g/b"}, "");
  EXPECT_EQ(ids(raters), (std::vector<std::string>{"b/experts/r1", "b/experts/r2", "experts/r1",
                                                   "experts/r2", "up/a/r1", "up/a/r2"}));
  EXPECT_TRUE(raters.problems.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Dataset, SymlinkedFilesAndFoldersAreFollowed) {
  TempDir d;
  write_mask(d / "store/x.png");
  write_mask(d / "store/case/r1.png");
  write_mask(d / "store/case/r2.png");
  write_mask(d / "data/a/r1.png");
  write_mask(d / "data/a/r2.png");
  make_link("../../store/x.png", d / "data/a/r3.png");
  make_link("../store/case", d / "data/linked");
  const Dataset data = dataset_from_case_folders(d / "data", "", "");
  ASSERT_EQ(ids(data), (std::vector<std::string>{"a", "linked"}));
  EXPECT_EQ(rater_names(data.cases[0]), (std::vector<std::string>{"r1", "r2", "r3"}));
  EXPECT_EQ(data.cases[0].raters.at("r3").at(kWholeMap)[0], d / "data/a/r3.png");
  EXPECT_EQ(data.cases[1].folder, d / "data/linked");

  write_mask(d / "ann1/c1.png");
  make_link("../store/x.png", d / "ann2/c1.png");
  make_link("../store/case", d / "ann2/sub");
  write_mask(d / "ann1/sub/r1.png");
  const Dataset raters = dataset_from_rater_folders({d / "ann1", d / "ann2"}, "");
  ASSERT_EQ(ids(raters), (std::vector<std::string>{"c1", "sub/r1", "sub/r2"}));
  EXPECT_EQ(raters.cases[0].raters.size(), 2u);
  EXPECT_EQ(raters.cases[1].raters.size(), 2u);
  EXPECT_EQ(raters.cases[0].raters.at("ann2").at(kWholeMap)[0], d / "ann2/c1.png");
}

TEST(Dataset, BrokenLinksAndFifosAreProblems) {
  TempDir d;
  write_mask(d / "data/a/r1.png");
  write_mask(d / "data/a/r2.png");
  make_link("nowhere.png", d / "data/a/r3.png");
  make_fifo(d / "data/a/r4.png");
  make_link("nowhere.txt", d / "data/a/notes.txt");  // not a mask: nothing looked for it
  make_link("self.png", d / "data/a/self.png");
  // In a case folder, a rater that cannot be read fails the case: it is never scored without.
  const Dataset data = dataset_from_case_folders(d / "data", "", "");
  ASSERT_EQ(ids(data), (std::vector<std::string>{"a"}));
  EXPECT_EQ(rater_names(data.cases[0]), (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(data.cases[0].problem_file, d / "data/a/r3.png");
  EXPECT_NE(data.cases[0].problem.find("broken"), std::string::npos) << data.cases[0].problem;
  EXPECT_TRUE(data.problems.empty());
  fs::remove(d / "data/a/r3.png");
  const Dataset fifo = dataset_from_case_folders(d / "data", "", "");
  EXPECT_NE(fifo.cases[0].problem.find("not a regular file"), std::string::npos);

  // A folder whose only files are broken is still a case, and fails.
  make_link("nowhere.png", d / "only/b/r1.png");
  const Dataset only = dataset_from_case_folders(d / "only", "", "");
  ASSERT_EQ(ids(only), (std::vector<std::string>{"b"}));
  EXPECT_EQ(only.cases[0].problem_file, d / "only/b/r1.png");

  write_mask(d / "ann1/c1.png");
  write_mask(d / "ann2/c1.png");
  make_link("nowhere.png", d / "ann2/c2.png");
  make_fifo(d / "ann1/deep/c3.png");
  const Dataset raters = dataset_from_rater_folders({d / "ann1", d / "ann2"}, "");
  EXPECT_EQ(ids(raters), (std::vector<std::string>{"c1"}));
  EXPECT_EQ(problem_paths(raters, d.path()),
            (std::set<std::string>{"ann1/deep/c3.png", "ann2/c2.png"}));
}

// Runs `list` in a child process, as an unprivileged user when running as root (whom
// permissions do not stop); gives its output, or nullopt when the user cannot be changed.
std::optional<std::string> run_unprivileged(const std::function<std::string()>& list) {
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
      _exit(77);
    std::string out;
    try {
      out = list();
    } catch (const std::exception& e) {
      out = std::string("exception: ") + e.what();
    }
    _exit(write(fds[1], out.data(), out.size()) < 0 ? 1 : 0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return std::nullopt;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += "\nchild failed";
  return out;
}

TEST(Dataset, UnreadableFoldersAreProblems) {
  TempDir d;
  write_mask(d / "data/a/r1.png");
  write_mask(d / "data/a/r2.png");
  write_mask(d / "data/locked/r1.png");
  write_mask(d / "data/n/experts/r1.png");
  write_mask(d / "data/unsearchable/r1.png");
  write_mask(d / "data/e/experts/r1.png");
  write_mask(d / "data/e/experts/r2.png");
  fs::create_directories(d / "data/e/private");
  const std::vector<std::string> closed = {d / "data/locked", d / "data/n/experts",
                                           d / "data/e/private"};
  for (const std::string& p : closed) fs::permissions(p, fs::perms::none);
  fs::permissions(d / "data/unsearchable", fs::perms::owner_read | fs::perms::others_read);
  const std::optional<std::string> out = run_unprivileged([&] {
    std::ostringstream s;
    const Dataset data = dataset_from_case_folders(d / "data", "", "");
    for (const CaseSpec& c : data.cases) s << "case " << c.id << "\n";
    for (const std::string& p : problem_paths(data, d.path())) s << "problem " << p << "\n";
    // Only folders that may hold a match are looked into: e/private cannot.
    const Dataset e = dataset_from_case_folders(d / "data/e", "experts/*.png", "");
    s << "e: " << e.cases.size() << " case, " << e.problems.size() << " problems\n";
    s << usage_error([&] { dataset_from_rater_folders({d / "data/a", d / "data/locked"}, ""); });
    return s.str();
  });
  for (const std::string& p : closed) fs::permissions(p, fs::perms::owner_all);
  fs::permissions(d / "data/unsearchable", fs::perms::owner_all);
  if (!out) GTEST_SKIP() << "cannot drop privileges here";
  EXPECT_EQ(out->substr(0, out->find("--rater")),
            "case a\n"
            "case e/experts\n"
            "problem data/e/private\n"
            "problem data/locked\n"
            "problem data/n/experts\n"
            "problem data/unsearchable\n"
            "e: 1 case, 0 problems\n");
  EXPECT_NE(out->find("--rater: cannot read folder " + (d / "data/locked")), std::string::npos)
      << *out;
}

TEST(Dataset, GlobsMatchingNothingAreUsageErrors) {
  TempDir d;
  for (const char* c : {"a", "b"}) {
    write_mask(d / "data/" + c + "/r1.png");
    write_mask(d / "data/" + c + "/r2.png");
  }
  const std::string root = d / "data";
  std::string msg = usage_error([&] { dataset_from_case_folders(root, "", "", "model/*.png"); });
  EXPECT_NE(msg.find("--prediction 'model/*.png' matches no file in any case folder under " + root),
            std::string::npos)
      << msg;
  msg = usage_error([&] { dataset_from_case_folders(root, "", "gold.pgn"); });
  EXPECT_NE(msg.find("--reference 'gold.pgn'"), std::string::npos) << msg;

  // Present in some cases only: the others fail, one by one.
  write_mask(d / "data/a/gold.png");
  write_mask(d / "data/b/model/p.png");
  const Dataset data = dataset_from_case_folders(root, "*.png", "gold.png", "model/*.png");
  ASSERT_EQ(data.cases.size(), 2u);
  EXPECT_EQ(data.cases[0].problem, "");
  EXPECT_EQ(data.cases[1].problem, "reference file missing");
  EXPECT_EQ(data.cases[1].predictions.size(), 1u);

  // The reference folder of --rater: missing, or with no file for any case.
  for (const char* r : {"ann1", "ann2"}) {
    write_mask(d / r + "/c1.png");
    write_mask(d / r + "/c2.png");
  }
  const std::vector<std::string> raters = {d / "ann1", d / "ann2"};
  EXPECT_NE(usage_error([&] { dataset_from_rater_folders(raters, d / "gold"); }), "");
  write_mask(d / "gold/other.png");
  msg = usage_error([&] { dataset_from_rater_folders(raters, d / "gold"); });
  EXPECT_NE(msg.find("--reference " + (d / "gold")), std::string::npos) << msg;
  write_mask(d / "gold/c1.png");
  const Dataset some = dataset_from_rater_folders(raters, d / "gold");
  ASSERT_EQ(ids(some), (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(some.cases[0].problem, "");
  EXPECT_EQ(some.cases[1].problem, "reference file missing");
}

// The cases of rater folders are the union of their ids, each once and in order; an id whose
// only files cannot be read is no case (the files are listed as problems).
TEST(Dataset, RaterFolderCasesAreTheUnionOfTheirReadableIds) {
  TempDir d;
  for (const char* f : {"a/x1.png", "a/x3.png", "b/x0.png", "b/x3.png", "c/x3.png", "c/x9.png"})
    write_mask(d / f);
  make_fifo(d / "a/x5.png");
  make_fifo(d / "c/x5.png");
  make_fifo(d / "b/x1.png");
  const Dataset data = dataset_from_rater_folders({d / "a", d / "b", d / "c"}, "");
  EXPECT_EQ(ids(data), (std::vector<std::string>{"x0", "x1", "x3", "x9"}));
  EXPECT_EQ(problem_paths(data, d.path()),
            (std::set<std::string>{"a/x5.png", "b/x1.png", "c/x5.png"}));
  EXPECT_EQ(data.cases[2].problem, "");
  EXPECT_NE(data.cases[1].problem.find("rater 'b'"), std::string::npos) << data.cases[1].problem;
}

TEST(Dataset, NoCaseMessageListsWhatTheReadersAccept) {
  TempDir d;
  write_text(d / "data/a/notes.txt", "not a mask");
  const std::string msg = usage_error([&] { dataset_from_case_folders(d / "data", "", ""); });
  const size_t open = msg.find("mask files ("), close = msg.find(')', open);
  ASSERT_NE(open, std::string::npos) << msg;
  std::istringstream listed(msg.substr(open + 12, close - open - 12));
  std::set<std::string> exts;
  for (std::string e; listed >> e;) exts.insert(e);
  for (const char* ext : {".png", ".tif", ".tiff", ".nii", ".nii.gz", ".mha", ".mhd", ".nrrd",
                          ".nhdr", ".bmp", ".pgm", ".pnm"})
    EXPECT_EQ(exts.count(ext) == 1, is_mask_file(std::string("x") + ext)) << ext;
  EXPECT_TRUE(exts.count(".tiff") && exts.count(".mha") && exts.count(".nhdr")) << msg;
}

std::string prediction_names(const CaseSpec& c) {
  std::string out;
  for (const auto& [name, files] : c.predictions) out += (out.empty() ? "" : ",") + name;
  return out;
}

TEST(DatasetPredictionFolders, FilesAreMatchedByTheirPathInsideEachFolder) {
  TempDir d;
  for (const char* f : {"pred/a.png", "pred/sub/b.png", "ref/a.png", "ref/sub/b.png"})
    write_mask(d / f);
  write_text(d / "pred/notes.txt", "not a mask");
  const Dataset data = dataset_from_prediction_folders({d / "pred/"}, d / "ref");
  ASSERT_EQ(ids(data), (std::vector<std::string>{"a", "sub/b"}));
  EXPECT_TRUE(data.problems.empty());
  for (const CaseSpec& c : data.cases) {
    EXPECT_EQ(c.problem, "") << c.id;
    EXPECT_TRUE(c.raters.empty());
    EXPECT_EQ(prediction_names(c), "pred");  // named by the folder, trailing '/' or not
  }
  EXPECT_EQ(data.cases[1].predictions.at("pred").at(kWholeMap),
            (std::vector<std::string>{d / "pred/sub/b.png"}));
  EXPECT_EQ(data.cases[1].reference.at(kWholeMap), (std::vector<std::string>{d / "ref/sub/b.png"}));

  // Several models, named.
  write_mask(d / "other/a.png");
  write_mask(d / "other/sub/b.png");
  const Dataset two =
      dataset_from_prediction_folders({"unet=" + d / "pred", "vit=" + d / "other"}, d / "ref");
  ASSERT_EQ(two.cases.size(), 2u);
  EXPECT_EQ(prediction_names(two.cases[0]), "unet,vit");
  EXPECT_EQ(two.cases[0].predictions.at("vit").at(kWholeMap)[0], d / "other/a.png");
}

TEST(DatasetPredictionFolders, UnmatchedFilesFailTheirCaseByName) {
  TempDir d;
  for (const char* f : {"pred/a.png", "pred/b.png", "ref/a.png", "ref/c.png", "m2/a.png"})
    write_mask(d / f);
  const Dataset data = dataset_from_prediction_folders({d / "pred"}, d / "ref");
  ASSERT_EQ(ids(data), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(data.cases[0].problem, "");
  EXPECT_EQ(data.cases[1].problem,
            "reference file missing: " + d / "ref" + " has no file of this case's name");
  EXPECT_EQ(data.cases[1].problem_file, d / "ref/b.*");
  EXPECT_EQ(data.cases[1].predictions.size(), 1u);
  EXPECT_EQ(data.cases[2].problem,
            "prediction 'pred' file missing: " + d / "pred" + " has no file of this case's name");
  EXPECT_EQ(data.cases[2].problem_file, d / "pred/c.*");
  EXPECT_TRUE(data.cases[2].predictions.empty());
  EXPECT_TRUE(data.problems.empty());
  // With a file ending, the missing file is named in full; a second model lacking b fails b.
  const Dataset two = dataset_from_prediction_folders({d / "pred", d / "m2"}, d / "ref", ".png");
  ASSERT_EQ(ids(two), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(two.cases[0].problem, "");
  EXPECT_EQ(two.cases[1].problem_file, d / "m2/b.png");
  EXPECT_EQ(two.cases[2].problem_file, d / "m2/c.png");  // the first folder, by name

  // A file that cannot be read is a listing problem, and its case fails naming it.
  make_link("nowhere.png", d / "pred/c.png");
  const Dataset broken = dataset_from_prediction_folders({d / "pred"}, d / "ref");
  EXPECT_EQ(problem_paths(broken, d.path()), (std::set<std::string>{"pred/c.png"}));
  EXPECT_EQ(broken.cases[2].problem_file, d / "pred/c.png");
  EXPECT_NE(broken.cases[2].problem.find("cannot read this prediction 'pred' file: broken"),
            std::string::npos)
      << broken.cases[2].problem;

  // Two files of one name: the case fails, unless --file-ending picks one.
  write_text(d / "ref/a.nii.gz", "listing reads no file");
  const Dataset both = dataset_from_prediction_folders({d / "pred"}, d / "ref");
  EXPECT_EQ(both.cases[0].problem,
            "several reference files of this case's name (a.nii.gz, a.png); keep one, or pick "
            "one type with --file-ending");
  EXPECT_EQ(dataset_from_prediction_folders({d / "pred"}, d / "ref", ".png").cases[0].problem, "");
}

TEST(DatasetPredictionFolders, FileEndingPicksTheFilesAndEndsTheirNames) {
  TempDir d;
  for (const char* f : {"pred/case_1.nii.gz", "ref/case_1.nii.gz", "pred/case_1.png",
                        "pred/case_2_seg.png", "ref/case_2_seg.png"})
    write_text(d / f, "x");
  const Dataset nii = dataset_from_prediction_folders({d / "pred"}, d / "ref", ".nii.gz");
  ASSERT_EQ(ids(nii), (std::vector<std::string>{"case_1"}));
  EXPECT_EQ(nii.cases[0].predictions.at("pred").at(kWholeMap)[0], d / "pred/case_1.nii.gz");
  const Dataset seg = dataset_from_prediction_folders({d / "pred"}, d / "ref", "_seg.png");
  EXPECT_EQ(ids(seg), (std::vector<std::string>{"case_2"}));
  for (const char* bad : {".jpg", "png", ".txt"}) {
    const std::string msg =
        usage_error([&] { dataset_from_prediction_folders({d / "pred"}, d / "ref", bad); });
    EXPECT_EQ(msg.rfind(std::string("--file-ending '") + bad + "'", 0), 0u) << msg;
  }
  const std::string msg =
      usage_error([&] { dataset_from_prediction_folders({d / "pred"}, d / "ref", ".mha"); });
  EXPECT_NE(msg.find("--prediction " + d / "pred" + ": no files ending in '.mha'"),
            std::string::npos)
      << msg;
}

TEST(DatasetPredictionFolders, BadFoldersAreUsageErrors) {
  TempDir d;
  write_mask(d / "pred/case_1.png");
  write_mask(d / "ref/case_1_0000.png");
  fs::create_directories(d / "empty");
  auto error = [&](const std::vector<std::string>& dirs, const std::string& ref) {
    return usage_error([&] { dataset_from_prediction_folders(dirs, ref); });
  };
  EXPECT_NE(error({d / "pred"}, "").find("needs --reference DIR"), std::string::npos);
  EXPECT_NE(error({d / "pred"}, d / "nowhere").find("--reference: not a folder"),
            std::string::npos);
  EXPECT_NE(error({d / "nowhere"}, d / "ref").find("--prediction: not a folder"),
            std::string::npos);
  EXPECT_NE(error({d / "empty"}, d / "ref").find("--prediction " + d / "empty" + ": no mask files"),
            std::string::npos);
  EXPECT_NE(error({d / "pred"}, d / "empty").find("--reference " + d / "empty" + ": no mask files"),
            std::string::npos);
  EXPECT_NE(error({d / "ref"}, d / "ref/.").find("is the --reference folder too"),
            std::string::npos);
  const std::string names = error({d / "pred"}, d / "ref");
  EXPECT_NE(names.find("e.g. 'case_1' here, 'case_1_0000' there"), std::string::npos) << names;
  write_mask(d / "x/pred/case_1_0000.png");
  EXPECT_NE(error({d / "ref", d / "x/pred", d / "pred"}, d / "ref")
                .find("two predictions named 'pred'; name them with NAME=DIR"),
            std::string::npos);
}

}  // namespace
}  // namespace maskeval
