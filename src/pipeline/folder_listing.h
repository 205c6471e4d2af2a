// Reading a folder's entries for a listing: what each is, packed so that a million take little.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "maskeval/run.h"

namespace maskeval {

// A folder's identity, the same through any link or path that reaches it.
using FolderId = std::pair<dev_t, ino_t>;

FolderId folder_id(const std::filesystem::path& dir);

// One entry of a folder, with symbolic links followed.
struct Entry {
  enum Kind : uint8_t { kFile, kFolder, kOther, kBroken };
  Kind kind = kFile;
  std::string name;
  std::string reason;  // kOther, kBroken: why it cannot be read as a mask
  FolderId id{};       // kFolder
};

// Where a folder can be opened but its entries cannot be looked up (no search permission, I/O
// error), gives that error; otherwise fills `e` from what `path` (links followed) is. False
// when the entry vanished in between.
bool classify(const std::filesystem::path& path, Entry& e, std::string& folder_error);

// A set of folder ids at about 16 bytes an id: a sorted vector, and the latest ones in a small
// set that is merged into it now and then.
class FolderSet {
 public:
  FolderSet() = default;
  explicit FolderSet(const FolderId& first) { insert(first); }
  // False when `id` was already in.
  bool insert(const FolderId& id);

 private:
  std::vector<FolderId> sorted_;
  std::set<FolderId> recent_;
};

// The entries of one folder, sorted by name, each packed into a few bytes more than its name
// (in blocks, so that growing never copies them all). Reading an entry unpacks a copy.
class Listing {
 public:
  // False when the listing is full (4 GiB of names).
  bool add(const Entry& e);
  void sort_by_name();
  size_t size() const { return order_.size(); }
  Entry operator[](size_t i) const;
  Entry::Kind kind(size_t i) const { return static_cast<Entry::Kind>(*at(order_[i])); }
  // Entry i's name, in place (valid while the listing lives).
  std::string_view name(size_t i) const { return name_of(order_[i]); }

 private:
  const char* at(uint32_t where) const { return blocks_[where >> 16].data() + (where & 0xFFFF); }
  const char* name_of(uint32_t where) const;

  std::vector<std::string> blocks_;
  std::vector<uint32_t> order_;  // where each entry begins: block << 16 | offset
};

// Reads folders for one dataset and keeps, each path once, what could not be read.
class Lister {
 public:
  // The entries of `dir`, sorted by name; none, and a problem, when it cannot be read.
  Listing entries(const std::filesystem::path& dir);
  void report(const std::filesystem::path& path, const std::string& reason);

  std::vector<ListingProblem> problems;

 private:
  std::set<std::string> reported_;
};

}  // namespace maskeval
