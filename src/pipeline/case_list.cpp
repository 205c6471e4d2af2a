// CaseList: a run's cases in memory, or loaded back on demand so that memory stays flat.
#include "maskeval/case_list.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>

#include "maskeval/run.h"

namespace maskeval {

// The last cases operator[] reached, so that its references outlive a few more calls.
struct CaseList::Recent {
  static constexpr size_t kKeep = 16;
  std::mutex mutex;
  std::deque<std::pair<size_t, std::shared_ptr<const CaseResult>>> held;
};

CaseList::CaseList() : recent_(std::make_unique<Recent>()) {}
CaseList::~CaseList() = default;
CaseList::CaseList(const CaseList& o)
    : memory_(o.memory_),
      loaded_size_(o.loaded_size_),
      load_(o.load_),
      recent_(std::make_unique<Recent>()) {}
CaseList::CaseList(CaseList&& o) noexcept
    : memory_(std::move(o.memory_)),
      loaded_size_(o.loaded_size_),
      load_(std::move(o.load_)),
      recent_(std::make_unique<Recent>()) {}
CaseList& CaseList::operator=(const CaseList& o) {
  if (this != &o) *this = CaseList(o);
  return *this;
}
CaseList& CaseList::operator=(CaseList&& o) noexcept {
  memory_ = std::move(o.memory_);
  loaded_size_ = o.loaded_size_;
  load_ = std::move(o.load_);
  recent_ = std::make_unique<Recent>();
  return *this;
}

size_t CaseList::size() const {
  return load_ ? loaded_size_ : memory_.size();
}

std::shared_ptr<const CaseResult> CaseList::get(size_t i) const {
  if (i >= size())
    throw std::out_of_range("case " + std::to_string(i) + " of " + std::to_string(size()));
  if (!load_) return std::shared_ptr<const CaseResult>(std::shared_ptr<void>(), &memory_[i]);
  {
    std::lock_guard<std::mutex> lock(recent_->mutex);
    for (const auto& [index, c] : recent_->held)
      if (index == i) return c;
  }
  return std::make_shared<const CaseResult>(load_(i));
}

const CaseResult& CaseList::operator[](size_t i) const {
  if (!load_) return memory_[i];
  std::shared_ptr<const CaseResult> c = get(i);
  std::lock_guard<std::mutex> lock(recent_->mutex);
  const bool held = std::any_of(recent_->held.begin(), recent_->held.end(),
                                [&](const auto& h) { return h.first == i; });
  if (!held) {
    recent_->held.emplace_back(i, c);
    if (recent_->held.size() > Recent::kKeep) recent_->held.pop_front();
  }
  return *c;
}

const CaseResult& CaseList::at(size_t i) const {
  if (i >= size()) throw std::out_of_range("case " + std::to_string(i));
  return (*this)[i];
}

const CaseResult& CaseList::const_iterator::operator*() const {
  if (!held_) held_ = list_->get(i_);
  return *held_;
}

void CaseList::in_memory(const char* what) const {
  if (load_)
    throw std::logic_error(std::string("CaseList::") + what +
                           ": the cases are read back from their records, not held");
}

CaseResult& CaseList::operator[](size_t i) {
  in_memory("operator[]");
  return memory_[i];
}

CaseResult& CaseList::at(size_t i) {
  in_memory("at");
  return memory_.at(i);
}

CaseResult& CaseList::back() {
  in_memory("back");
  return memory_.back();
}

void CaseList::push_back(CaseResult c) {
  in_memory("push_back");
  memory_.push_back(std::move(c));
}

void CaseList::reserve(size_t n) {
  in_memory("reserve");
  memory_.reserve(n);
}

void CaseList::clear() {
  memory_.clear();
  load_ = nullptr;
  loaded_size_ = 0;
  std::lock_guard<std::mutex> lock(recent_->mutex);
  recent_->held.clear();
}

void CaseList::load_from(size_t n, Loader load) {
  clear();
  loaded_size_ = n;
  load_ = std::move(load);
}

}  // namespace maskeval
