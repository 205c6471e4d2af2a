// Reading a folder's entries for a listing: what each is, packed so that a million take little.
#include "pipeline/folder_listing.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace maskeval {
namespace fs = std::filesystem;
namespace {

std::string errno_message(int err) {
  return std::error_code(err, std::generic_category()).message();
}

const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a plain file";
}

constexpr size_t kBlockBytes = size_t{1} << 16;  // the offset part of a Listing's positions
constexpr size_t kMaxBlocks = size_t{1} << 16;   // the block part

bool has_reason(Entry::Kind kind) {
  return kind == Entry::kOther || kind == Entry::kBroken;
}

}  // namespace

FolderId folder_id(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino};
}

bool classify(const fs::path& path, Entry& e, std::string& folder_error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      e.kind = Entry::kFolder;
      e.id = {st.st_dev, st.st_ino};
    } else if (S_ISREG(st.st_mode)) {
      e.kind = Entry::kFile;
    } else {
      e.kind = Entry::kOther;
      e.reason = std::string("not a regular file (") + file_type_name(st.st_mode) + ")";
    }
    return true;
  }
  const int err = errno;
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0) {
    if (errno != ENOENT && errno != ENOTDIR)
      folder_error = "cannot look inside the folder: " + errno_message(errno);
    return false;
  }
  e.kind = Entry::kBroken;
  if (err == ENOENT || err == ENOTDIR)
    e.reason = "broken symbolic link (its target does not exist)";
  else if (err == ELOOP)
    e.reason = "symbolic link loop";
  else
    e.reason = "cannot follow the symbolic link: " + errno_message(err);
  return true;
}

bool FolderSet::insert(const FolderId& id) {
  if (std::binary_search(sorted_.begin(), sorted_.end(), id)) return false;
  if (!recent_.insert(id).second) return false;
  if (recent_.size() > 256 + sorted_.size() / 8) {
    const size_t old = sorted_.size();
    sorted_.insert(sorted_.end(), recent_.begin(), recent_.end());
    std::inplace_merge(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(old),
                       sorted_.end());
    recent_.clear();
  }
  return true;
}

// An entry's bytes: its kind, its folder id (folders only), its name and '\0', then its reason
// and '\0' (kOther and kBroken only).
bool Listing::add(const Entry& e) {
  const size_t id_bytes = e.kind == Entry::kFolder ? sizeof(dev_t) + sizeof(ino_t) : 0;
  const size_t bytes =
      1 + id_bytes + e.name.size() + 1 + (has_reason(e.kind) ? e.reason.size() + 1 : 0);
  if (blocks_.empty() || blocks_.back().size() + bytes > kBlockBytes) {
    if (blocks_.size() == kMaxBlocks) return false;
    blocks_.emplace_back();
    blocks_.back().reserve(std::max(bytes, kBlockBytes));
  }
  std::string& block = blocks_.back();
  order_.push_back(static_cast<uint32_t>((blocks_.size() - 1) << 16 | block.size()));
  block += static_cast<char>(e.kind);
  if (id_bytes) {
    block.append(reinterpret_cast<const char*>(&e.id.first), sizeof(dev_t));
    block.append(reinterpret_cast<const char*>(&e.id.second), sizeof(ino_t));
  }
  block.append(e.name.c_str(), e.name.size() + 1);
  if (has_reason(e.kind)) block.append(e.reason.c_str(), e.reason.size() + 1);
  return true;
}

const char* Listing::name_of(uint32_t where) const {
  const char* p = at(where);
  return p + 1 + (*p == Entry::kFolder ? sizeof(dev_t) + sizeof(ino_t) : 0);
}

void Listing::sort_by_name() {
  std::sort(order_.begin(), order_.end(),
            [this](uint32_t a, uint32_t b) { return std::strcmp(name_of(a), name_of(b)) < 0; });
}

Entry Listing::operator[](size_t i) const {
  Entry e;
  const char* p = at(order_[i]);
  e.kind = static_cast<Entry::Kind>(*p);
  if (e.kind == Entry::kFolder) {
    std::memcpy(&e.id.first, p + 1, sizeof(dev_t));
    std::memcpy(&e.id.second, p + 1 + sizeof(dev_t), sizeof(ino_t));
  }
  e.name = name_of(order_[i]);
  if (has_reason(e.kind)) e.reason = name_of(order_[i]) + e.name.size() + 1;
  return e;
}

Listing Lister::entries(const fs::path& dir) {
  Listing out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (const fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
    Entry e;
    e.name = it->path().filename().string();
    std::string folder_error;
    if (classify(it->path(), e, folder_error) && !out.add(e))
      folder_error = "too many entries to list (over 4 GiB of names)";
    if (!folder_error.empty()) {
      report(dir, folder_error);
      return {};
    }
  }
  if (ec) {
    report(dir, "cannot read the folder: " + ec.message());
    return {};
  }
  out.sort_by_name();
  return out;
}

void Lister::report(const fs::path& path, const std::string& reason) {
  if (reported_.insert(path.string()).second) problems.push_back({path.string(), reason});
}

}  // namespace maskeval
