// The cases of a run: held in memory, or read back one at a time from where they were recorded.
#pragma once

#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <vector>

namespace maskeval {

struct CaseResult;

// Like a std::vector<CaseResult> (the library's runs, and results built by hand), or, once
// given a loader (the command line's runs: each case parsed back from records.jsonl on demand),
// a read-only list whose memory does not grow with the number of cases: each element reached is
// loaded for as long as something holds it. Iterating loads one case at a time; operator[]
// keeps the last few reached.
class CaseList {
 public:
  using Loader = std::function<CaseResult(size_t)>;

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = CaseResult;
    using difference_type = std::ptrdiff_t;
    using pointer = const CaseResult*;
    using reference = const CaseResult&;

    const_iterator() = default;
    const_iterator(const CaseList* list, size_t i) : list_(list), i_(i) {}
    reference operator*() const;
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      ++i_;
      held_.reset();
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    const_iterator& operator+=(difference_type n) {
      i_ += n;
      held_.reset();
      return *this;
    }
    const_iterator operator+(difference_type n) const { return const_iterator(list_, i_ + n); }
    difference_type operator-(const const_iterator& o) const {
      return static_cast<difference_type>(i_) - static_cast<difference_type>(o.i_);
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }
    size_t index() const { return i_; }

   private:
    const CaseList* list_ = nullptr;
    size_t i_ = 0;
    mutable std::shared_ptr<const CaseResult> held_;
  };

  CaseList();
  ~CaseList();
  CaseList(const CaseList&);
  CaseList(CaseList&&) noexcept;
  CaseList& operator=(const CaseList&);
  CaseList& operator=(CaseList&&) noexcept;

  size_t size() const;
  bool empty() const { return size() == 0; }
  // Case i, held until the list reaches a few others (keep get(i) to hold it longer).
  const CaseResult& operator[](size_t i) const;
  const CaseResult& at(size_t i) const;
  const CaseResult& front() const { return (*this)[0]; }
  const CaseResult& back() const { return (*this)[size() - 1]; }
  // Case i, held as long as the pointer is.
  std::shared_ptr<const CaseResult> get(size_t i) const;
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size()); }

  // In memory only (std::logic_error once loaded from records).
  CaseResult& operator[](size_t i);
  CaseResult& at(size_t i);
  CaseResult& back();
  void push_back(CaseResult c);
  void reserve(size_t n);
  void clear();

  // n cases, case i given by load(i) whenever it is reached.
  void load_from(size_t n, Loader load);
  bool loaded() const { return static_cast<bool>(load_); }

 private:
  void in_memory(const char* what) const;
  std::vector<CaseResult> memory_;
  size_t loaded_size_ = 0;
  Loader load_;
  struct Recent;
  std::unique_ptr<Recent> recent_;
};

}  // namespace maskeval
