// --shard I/N: each case to the lightest shard, largest first, so every node gets its share.
#include "pipeline/shard.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <numeric>
#include <queue>
#include <set>

#include "pipeline/output_dir.h"

namespace maskeval {
namespace {

uint64_t file_bytes(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

uint64_t case_bytes(const CaseSpec& c) {
  uint64_t total = 0;
  for_each_file(c, [&](const std::string& p) { total += file_bytes(p); });
  return total;
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  auto whole = [](const std::string& s) {
    return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (slash == std::string::npos || !whole(text.substr(0, slash)) || !whole(text.substr(slash + 1)))
    throw UsageError("--shard " + text + ": give I/N, e.g. 0/4 (I counts from 0)");
  Shard s{std::stoi(text.substr(0, slash)), std::stoi(text.substr(slash + 1))};
  if (s.count < 1 || s.count > 100000)
    throw UsageError("--shard " + text + ": N must be 1 to 100000");
  if (s.index >= s.count)
    throw UsageError("--shard " + text + ": I must be 0 to " + std::to_string(s.count - 1) +
                     " (shards count from 0)");
  return s;
}

void assign_case_folders(Dataset& data) {
  CaseTable& t = data.cases;
  if (!t.sorted_by_id()) {  // a listing built by hand
    std::vector<std::string> ids;
    for (size_t i = 0; i < t.size(); ++i) ids.push_back(t.id(i));
    const std::vector<std::string> folders = case_folders(ids);
    for (size_t i = 0; i < t.size(); ++i) t.set_out_folder(i, folders[i]);
    return;
  }
  // case_folders without a set of every name: in a listing sorted by id, a case's own id is
  // taken exactly when an earlier case has that id and kept it as its folder; the few folders
  // that are not their case's id are remembered.
  std::set<std::string> other;
  std::set<size_t> moved;
  auto taken = [&](const std::string& name, size_t i) {
    if (other.count(name)) return true;
    const std::optional<size_t> j = t.find(name);
    return j && *j < i && !moved.count(*j);
  };
  for (size_t i = 0; i < t.size(); ++i) {
    const std::string id = t.id(i), base = case_folder(id);
    std::string name = base;
    for (int n = 2; taken(name, i); ++n) name = base + "~" + std::to_string(n);
    if (name != id) {
      other.insert(name);
      moved.insert(i);
    }
    t.set_out_folder(i, name);
  }
}

void take_shard(Dataset& data, const Shard& s) {
  if (s.count <= 1) return;
  const size_t n = data.cases.size();
  std::vector<uint64_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = case_bytes(data.cases[i]);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (bytes[a] != bytes[b]) return bytes[a] > bytes[b];
    return data.cases.id(a) < data.cases.id(b);
  });
  // The lightest shard on top (ties: the lowest index).
  using Load = std::pair<uint64_t, int>;
  std::priority_queue<Load, std::vector<Load>, std::greater<Load>> shards;
  for (int k = 0; k < s.count; ++k) shards.push({0, k});
  std::vector<char> mine(n, 0);
  for (const size_t i : order) {
    Load lightest = shards.top();
    shards.pop();
    mine[i] = lightest.second == s.index;
    lightest.first += std::max<uint64_t>(bytes[i], 1);
    shards.push(lightest);
  }
  data.cases.erase_if([&](size_t i) { return !mine[i]; });
}

}  // namespace maskeval
