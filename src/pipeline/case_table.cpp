// The compact case table: each case packed into bytes, names shared between cases stored once.
#include "maskeval/case_table.h"

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <tuple>

namespace maskeval {
namespace {

// At most this many shared names (folders, rater and file names); past it names are stored in
// each case, so that a listing of unique names cannot grow the dictionary without bound.
constexpr size_t kMaxWords = 4096;

// A case: its id, a byte of these flags, its folder, what the flags leave out, then its files.
constexpr int kNamedFolder = 1;   // the folder's last part is the id's
constexpr int kOwnOutFolder = 2;  // its folder under OUT/cases/ is its id
constexpr int kProblem = 4;       // a problem and its file follow
constexpr int kNoOutFolder = 8;   // its folder under OUT/cases/ is "" (derived by the run)

// A word is a varint: 0 is the default its place gives (the case folder, the id's last part),
// odd a shared name (index v / 2), even the length of the bytes that follow, plus one, times 2.
// A file's folder and name are words shifted by 2, 1 being the case's previous file's folder or
// name (a manifest's case keeps its files in one folder, rater folders give them one name).
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_literal(std::string& out, const std::string& s) {
  put_varint(out, (s.size() + 1) * 2);
  out += s;
}

std::string folder_prefix(const std::string& folder) {
  return folder.empty() ? std::string() : folder + "/";
}

std::string id_tail(std::string_view id) {
  const size_t slash = id.rfind('/');
  return std::string(slash == std::string_view::npos ? id : id.substr(slash + 1));
}

class Reader {
 public:
  Reader(const std::string& packed, size_t at, const std::vector<std::string>& words)
      : p_(packed), at_(at), words_(words) {}

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const auto b = static_cast<unsigned char>(p_[at_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  int byte() { return static_cast<unsigned char>(p_[at_++]); }
  std::string_view literal_view() {
    const uint64_t n = varint() / 2 - 1;
    const std::string_view s(p_.data() + at_, n);
    at_ += n;
    return s;
  }
  std::string word(const std::string& fallback) { return word_of(varint(), fallback); }
  std::string path(const std::string& folder) {
    file_word(dir_, folder_prefix(folder));
    file_word(name_, "");
    return dir_ + name_;
  }
  LabelFiles files(const std::string& folder) {
    LabelFiles out;
    const uint64_t h = varint();
    if (h == 1) {
      out[kWholeMap] = {path(folder)};
      return out;
    }
    for (uint64_t n = h == 0 ? 0 : h - 1; n > 0; --n) {
      const uint64_t z = varint();
      const int label = static_cast<int>(z & 1 ? -static_cast<int64_t>((z + 1) / 2) : z / 2);
      std::vector<std::string>& paths = out[label];
      for (uint64_t k = varint(); k > 0; --k) paths.push_back(path(folder));
    }
    return out;
  }

 private:
  std::string word_of(uint64_t v, const std::string& fallback) {
    if (v == 0) return fallback;
    if (v & 1) return words_[v / 2];
    const std::string s = p_.substr(at_, v / 2 - 1);
    at_ += s.size();
    return s;
  }
  // A file's folder or name: 1 keeps `last` (the previous file's), else a word shifted by 2.
  void file_word(std::string& last, const std::string& fallback) {
    const uint64_t v = varint();
    if (v == 0) last = fallback;
    if (v >= 2) last = word_of(v - 2, fallback);
  }

  std::string dir_, name_;  // of the previous file of the case
  const std::string& p_;
  size_t at_;
  const std::vector<std::string>& words_;
};

std::string_view id_at(const std::string& packed, uint32_t start) {
  static const std::vector<std::string> none;
  return Reader(packed, start, none).literal_view();
}

}  // namespace

bool operator==(const CaseSpec& a, const CaseSpec& b) {
  return std::tie(a.id, a.folder, a.raters, a.predictions, a.reference, a.problem, a.problem_file,
                  a.out_folder) == std::tie(b.id, b.folder, b.raters, b.predictions, b.reference,
                                            b.problem, b.problem_file, b.out_folder);
}

void for_each_file(const CaseSpec& c, const std::function<void(const std::string&)>& f) {
  for (const auto* group : {&c.raters, &c.predictions})
    for (const auto& [name, by_label] : *group)
      for (const auto& [label, paths] : by_label)
        for (const std::string& p : paths) f(p);
  for (const auto& [label, paths] : c.reference)
    for (const std::string& p : paths) f(p);
}

CaseTable::CaseTable(std::initializer_list<CaseSpec> cases) {
  for (const CaseSpec& c : cases) push_back(c);
}

void CaseTable::put_word(const std::string& s, bool shared, int shift) {
  if (shared) {
    auto it = word_index_.find(s);
    if (it == word_index_.end() && words_.size() < kMaxWords) {
      it = word_index_.emplace(s, static_cast<uint32_t>(words_.size())).first;
      words_.push_back(s);
    }
    if (it != word_index_.end()) return put_varint(packed_, uint64_t{it->second} * 2 + 1 + shift);
  }
  put_varint(packed_, (s.size() + 1) * 2 + shift);
  packed_ += s;
}

void CaseTable::put_file_word(const std::string& s, std::string& last,
                              const std::string& fallback) {
  if (s == fallback)
    put_varint(packed_, 0);
  else if (s == last)
    put_varint(packed_, 1);
  else
    put_word(s, true, 2);
  last = s;
}

void CaseTable::put_path(const std::string& path, const std::string& folder) {
  const size_t cut = path.rfind('/') + 1;  // 0 when there is no slash
  put_file_word(path.substr(0, cut), last_dir_, folder_prefix(folder));
  put_file_word(path.substr(cut), last_name_, "");
}

// Files: 0 for none, 1 for one label map file (its path follows), else the labels plus one.
void CaseTable::put_files(const LabelFiles& f, const std::string& folder) {
  if (f.size() == 1 && f.begin()->first == kWholeMap && f.begin()->second.size() == 1) {
    put_varint(packed_, 1);
    return put_path(f.begin()->second[0], folder);
  }
  put_varint(packed_, f.empty() ? 0 : f.size() + 1);
  for (const auto& [label, paths] : f) {
    put_varint(packed_, label < 0 ? uint64_t(-int64_t{label}) * 2 - 1 : uint64_t(label) * 2);
    put_varint(packed_, paths.size());
    for (const std::string& p : paths) put_path(p, folder);
  }
}

void CaseTable::push_back(const CaseSpec& c) {
  if (packed_.size() > UINT32_MAX - 1) throw std::length_error("the case listing is over 4 GiB");
  if (!starts_.empty() && c.id < id_at(packed_, starts_.back())) sorted_ = false;
  starts_.push_back(static_cast<uint32_t>(packed_.size()));
  last_dir_.clear();
  last_name_.clear();
  put_literal(packed_, c.id);
  const size_t cut = c.folder.rfind('/') + 1;
  const bool named = c.folder.substr(cut) == id_tail(c.id), own = c.out_folder == c.id;
  const bool none = !own && c.out_folder.empty();
  const bool problem = !c.problem.empty() || !c.problem_file.empty();
  packed_.push_back(static_cast<char>(named * kNamedFolder + own * kOwnOutFolder +
                                      none * kNoOutFolder + problem * kProblem));
  put_word(c.folder.substr(0, cut), true);
  if (!named) put_literal(packed_, c.folder.substr(cut));
  if (!own && !none) put_literal(packed_, c.out_folder);
  if (problem) {
    put_word(c.problem, true);
    put_path(c.problem_file, c.folder);
  }
  for (const auto* group : {&c.raters, &c.predictions}) {
    put_varint(packed_, group->size());
    for (const auto& [name, files] : *group) {
      put_word(name, true);
      put_files(files, c.folder);
    }
  }
  put_files(c.reference, c.folder);
}

CaseSpec CaseTable::operator[](size_t i) const {
  Reader r(packed_, starts_.at(i), words_);
  CaseSpec c;
  c.id = std::string(r.literal_view());
  const int flags = r.byte();
  c.folder = r.word("");
  c.folder += flags & kNamedFolder ? id_tail(c.id) : r.word("");
  if (flags & kOwnOutFolder)
    c.out_folder = c.id;
  else if (!(flags & kNoOutFolder))
    c.out_folder = r.word("");
  if (flags & kProblem) {
    c.problem = r.word("");
    c.problem_file = r.path(c.folder);
  }
  for (auto* group : {&c.raters, &c.predictions})
    for (uint64_t n = r.varint(); n > 0; --n) {
      const std::string name = r.word("");
      (*group)[name] = r.files(c.folder);
    }
  c.reference = r.files(c.folder);
  return c;
}

std::string CaseTable::id(size_t i) const {
  return std::string(id_at(packed_, starts_.at(i)));
}

void CaseTable::sort_by_id() {
  std::stable_sort(starts_.begin(), starts_.end(), [this](uint32_t a, uint32_t b) {
    return id_at(packed_, a) < id_at(packed_, b);
  });
  sorted_ = true;
}

std::optional<size_t> CaseTable::find(const std::string& id) const {
  if (!sorted_) {
    for (size_t i = 0; i < starts_.size(); ++i)
      if (id_at(packed_, starts_[i]) == id) return i;
    return std::nullopt;
  }
  const auto it = std::lower_bound(
      starts_.begin(), starts_.end(), id,
      [this](uint32_t s, const std::string& key) { return id_at(packed_, s) < key; });
  if (it != starts_.end() && id_at(packed_, *it) == id)
    return static_cast<size_t>(it - starts_.begin());
  return std::nullopt;
}

void CaseTable::set_out_folder(size_t i, const std::string& folder) {
  const std::string_view id = id_at(packed_, starts_.at(i));
  const size_t at = static_cast<size_t>(id.data() - packed_.data()) + id.size();  // the flags
  const int flags = static_cast<unsigned char>(packed_[at]);
  if ((flags & (kOwnOutFolder | kNoOutFolder)) && (folder == id || folder.empty())) {
    const int out = folder == id ? kOwnOutFolder : kNoOutFolder;
    packed_[at] = static_cast<char>((flags & ~(kOwnOutFolder | kNoOutFolder)) | out);
    return;
  }
  CaseSpec c = (*this)[i];  // packed again at the end; its old bytes stay unused
  c.out_folder = folder;
  const bool sorted = sorted_;
  push_back(c);
  starts_[i] = starts_.back();
  starts_.pop_back();
  sorted_ = sorted;
}

void CaseTable::erase_if(const std::function<bool(size_t)>& drop) {
  size_t kept = 0;
  for (size_t i = 0; i < starts_.size(); ++i)
    if (!drop(i)) starts_[kept++] = starts_[i];
  starts_.resize(kept);
  starts_.shrink_to_fit();
}

size_t CaseTable::bytes() const {
  size_t n = packed_.size() + starts_.size() * sizeof(uint32_t);
  for (const std::string& w : words_) n += w.capacity() + 64;  // and its index entry
  return n;
}

}  // namespace maskeval
