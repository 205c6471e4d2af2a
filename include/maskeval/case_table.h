// A case's listing entry (its files), and the compact table a dataset keeps its cases in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace maskeval {

// Files per label: kWholeMap when the file is a label map, else the label the file is a binary
// mask of (several files for one label are unioned).
constexpr int kWholeMap = -1;
using LabelFiles = std::map<int, std::vector<std::string>>;

struct CaseSpec {
  std::string id;
  std::string folder;                             // the case folder (--cases datasets only)
  std::map<std::string, LabelFiles> raters;       // by rater name (sorted)
  std::map<std::string, LabelFiles> predictions;  // scored, never part of a consensus
  LabelFiles reference;                           // empty when the case has none
  std::string problem;                            // found while listing: the case fails with it
  std::string problem_file;
  // Its folder under OUT/cases/ (case_folders over the whole listing, so that a shard or a
  // resumed run writes where a single run would); "" lets run_dataset derive it.
  std::string out_folder;
};

bool operator==(const CaseSpec& a, const CaseSpec& b);

// Every file the case names (raters', predictions', the reference's), in that order.
void for_each_file(const CaseSpec& c, const std::function<void(const std::string&)>& f);

// The cases of a listing, each packed into a few dozen bytes (names shared between cases, such
// as folders, rater names and file names, are stored once), so that a listing of a million
// cases takes tens of megabytes rather than gigabytes. Reading an element unpacks a copy.
class CaseTable {
 public:
  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = CaseSpec;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = CaseSpec;

    const_iterator(const CaseTable* t, size_t i) : t_(t), i_(i) {}
    CaseSpec operator*() const { return (*t_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const CaseTable* t_;
    size_t i_;
  };

  CaseTable() = default;
  CaseTable(std::initializer_list<CaseSpec> cases);

  size_t size() const { return starts_.size(); }
  bool empty() const { return starts_.empty(); }
  void push_back(const CaseSpec& c);
  CaseSpec operator[](size_t i) const;
  std::string id(size_t i) const;  // without unpacking the rest
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size()); }
  // Sorts by id (equal ids keep their order).
  void sort_by_id();
  bool sorted_by_id() const { return sorted_; }
  // The index of the (first) case with this id, if any: a binary search when sorted by id.
  std::optional<size_t> find(const std::string& id) const;
  // Case i's folder under OUT/cases/; in place when it is the id or "" (no copy of the table).
  void set_out_folder(size_t i, const std::string& folder);
  // Leaves out the cases for which drop(i) is true, the others in their order.
  void erase_if(const std::function<bool(size_t)>& drop);
  // The bytes the table holds (for the memory figures).
  size_t bytes() const;

 private:
  void put_word(const std::string& s, bool shared, int shift = 0);
  void put_file_word(const std::string& s, std::string& last, const std::string& fallback);
  void put_path(const std::string& path, const std::string& folder);
  void put_files(const LabelFiles& f, const std::string& folder);

  std::string packed_;            // the cases, one after another
  std::vector<uint32_t> starts_;  // where each case begins in packed_
  std::vector<std::string> words_;
  std::unordered_map<std::string, uint32_t> word_index_;
  bool sorted_ = true;
  std::string last_dir_, last_name_;  // of the case's previous file, while it is packed
};

}  // namespace maskeval
