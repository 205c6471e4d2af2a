// The write pass on the device: each voxel's histogram entry, then every column's value of it.
#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "cuda_check.cuh"
#include "device_cases.cuh"
#include "device_pools.cuh"
#include "maskeval/engine.h"

namespace maskeval::cuda {

using detail::CaseDesc;
using detail::DeviceArray;
using detail::kDense;
using detail::kPacked;
using detail::kThreads;
using detail::kWide;

namespace {

enum ColumnType : int { kColumnU8 = 0, kColumnU16 = 1, kColumnF32 = 2 };

// One output column: its table (uint16 labels for kColumnU8 and kColumnU16, float bits for
// kColumnF32; one per entry) at byte `table` of the table buffer, its voxels at byte `out` of
// the output buffer.
struct ColumnDesc {
  long long table, out;
  int type;
};

// Where the parts of a case's write tables lie in the table buffer, in bytes.
struct Lookup {
  long long by_key, n_by;  // int32: dense, the entry of every key; packed, of every label
  long long keys, key_entries, n_keys;  // packed: mixed keys ascending (uint64), their entries
  long long columns;                    // ColumnDesc[n_columns]
  int n_columns;
};

template <class T>
__device__ __forceinline__ const T* part(const uint8_t* tables, long long offset) {
  return reinterpret_cast<const T*>(tables + offset);
}

// The entry of a mixed key: binary search among the sorted keys; 0 for a key not listed.
__device__ __forceinline__ int find_entry(const unsigned long long* keys, const int* entries,
                                          long long n, unsigned long long key) {
  long long lo = 0, hi = n;
  while (lo < hi) {
    const long long mid = lo + (hi - lo) / 2;
    if (keys[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && keys[lo] == key ? entries[lo] : 0;
}

// Entries of the 4 voxels from v (a multiple of 4); voxels past the case's end get some entry.
template <int kPath>
__device__ __forceinline__ void entries4(const uint8_t* data, const CaseDesc& c,
                                         const uint8_t* tables, const Lookup& L, long long v,
                                         int e[4]) {
  const int* by_key = part<int>(tables, L.by_key);
  if (kPath == kDense) {
    uint32_t k[4];
    detail::dense_keys4(data, c, v, k);
    for (int j = 0; j < 4; ++j) e[j] = k[j] < L.n_by ? by_key[k[j]] : 0;
    return;
  }
  unsigned long long k[4];
  uint32_t first[4];
  bool same[4];
  detail::packed_keys4(data, c, v, k, first, same);
  const unsigned long long* keys = part<unsigned long long>(tables, L.keys);
  const int* key_entries = part<int>(tables, L.key_entries);
  for (int j = 0; j < 4; ++j)
    e[j] = same[j] ? (first[j] < L.n_by ? by_key[first[j]] : 0)
                   : find_entry(keys, key_entries, L.n_keys, k[j]);
}

// Column `col`'s values of entries e for the n (1 to 4) voxels from v: one aligned store of 4.
__device__ __forceinline__ void write4(const ColumnDesc& col, const uint8_t* tables,
                                       uint8_t* outputs, long long v, const int e[4], int n) {
  uint8_t* base = outputs + col.out;
  if (col.type == kColumnF32) {
    const unsigned* t = part<unsigned>(tables, col.table);
    unsigned* o = reinterpret_cast<unsigned*>(base) + v;
    if (n == 4) {
      *reinterpret_cast<uint4*>(o) = make_uint4(t[e[0]], t[e[1]], t[e[2]], t[e[3]]);
    } else {
      for (int j = 0; j < n; ++j) o[j] = t[e[j]];
    }
    return;
  }
  const unsigned short* t = part<unsigned short>(tables, col.table);
  if (col.type == kColumnU16) {
    unsigned short* o = reinterpret_cast<unsigned short*>(base) + v;
    if (n == 4) {
      *reinterpret_cast<ushort4*>(o) = make_ushort4(t[e[0]], t[e[1]], t[e[2]], t[e[3]]);
    } else {
      for (int j = 0; j < n; ++j) o[j] = t[e[j]];
    }
    return;
  }
  uint8_t* o = base + v;
  if (n == 4) {
    *reinterpret_cast<uint32_t*>(o) = (t[e[0]] & 0xffu) | (t[e[1]] & 0xffu) << 8 |
                                      (t[e[2]] & 0xffu) << 16 | (t[e[3]] & 0xffu) << 24;
  } else {
    for (int j = 0; j < n; ++j) o[j] = static_cast<uint8_t>(t[e[j]]);
  }
}

// The tables (engine.h) are computed on the host; the device only finds each voxel's entry and
// copies the columns' values of that entry, so the outputs equal cpu::write's bit for bit.
// Dense path: a table from every key to its entry. Packed path: unanimous voxels by their label,
// the others by binary search of their key among the case's mixed keys, sorted.
// Each thread takes 4 consecutive voxels, as the rater buffers are laid out for.
template <int kPath>
__global__ void __launch_bounds__(kThreads)
    write_kernel(const uint8_t* __restrict__ data, CaseDesc c, const uint8_t* __restrict__ tables,
                 Lookup L, uint8_t* __restrict__ outputs) {
  const ColumnDesc* columns = part<ColumnDesc>(tables, L.columns);
  for (long long v = 4 * (static_cast<long long>(blockIdx.x) * kThreads + threadIdx.x);
       v < c.voxels; v += 4LL * kThreads * gridDim.x) {
    int e[4];
    entries4<kPath>(data, c, tables, L, v, e);
    const int n = c.voxels - v < 4 ? static_cast<int>(c.voxels - v) : 4;
    for (int k = 0; k < L.n_columns; ++k) write4(columns[k], tables, outputs, v, e, n);
  }
}

// A host image of one device buffer: parts at 16-byte aligned offsets.
class Blob {
 public:
  template <class T>
  long long add(const T* p, size_t n) {
    const size_t at = (bytes_.size() + 15) / 16 * 16;
    bytes_.resize(at + n * sizeof(T));
    if (n > 0) std::memcpy(bytes_.data() + at, p, n * sizeof(T));
    return static_cast<long long>(at);
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

[[noreturn]] void not_the_case() {
  throw std::invalid_argument("write pass: the histogram is not the case's");
}

// The packed key of a tuple (rater r in bits [r*bits, (r+1)*bits)).
uint64_t key_of(const CaseDesc& d, const Label* t) {
  uint64_t k = 0;
  for (int r = 0; r < d.raters; ++r) {
    if (t[r] > d.max_label) not_the_case();
    k |= static_cast<uint64_t>(t[r]) << (r * d.bits);
  }
  return k;
}

// The entry of every key (dense) or of every unanimous label and mixed key (packed), into blob.
void add_entry_lookup(const CaseDesc& d, const TupleHistogram& h, Blob& blob, Lookup& L) {
  const size_t u = h.unanimous_labels.size();
  if (d.path == kDense) {
    std::vector<int> by_key(size_t{1} << (d.raters * d.bits), 0);  // keys no voxel carries: 0
    for_each_entry(h,
                   [&](size_t e, const Label* t) { by_key[key_of(d, t)] = static_cast<int>(e); });
    L.n_by = static_cast<long long>(by_key.size());
    L.by_key = blob.add(by_key.data(), by_key.size());
    return;
  }
  std::vector<int> by_label(static_cast<size_t>(d.max_label) + 1, 0);
  for (size_t e = 0; e < u; ++e) {
    if (h.unanimous_labels[e] > d.max_label) not_the_case();
    by_label[h.unanimous_labels[e]] = static_cast<int>(e);
  }
  std::vector<std::pair<uint64_t, int>> mixed(h.rows());
  for (size_t row = 0; row < h.rows(); ++row)
    mixed[row] = {key_of(d, h.tuple(row)), static_cast<int>(u + row)};
  std::sort(mixed.begin(), mixed.end());
  std::vector<unsigned long long> keys(mixed.size());
  std::vector<int> entries(mixed.size());
  for (size_t k = 0; k < mixed.size(); ++k) {
    keys[k] = mixed[k].first;
    entries[k] = mixed[k].second;
  }
  L.n_by = static_cast<long long>(by_label.size());
  L.by_key = blob.add(by_label.data(), by_label.size());
  L.n_keys = static_cast<long long>(keys.size());
  L.keys = blob.add(keys.data(), keys.size());
  L.key_entries = blob.add(entries.data(), entries.size());
}

size_t value_bytes(WriteType t) {
  return t == WriteType::kU8 ? 1 : (t == WriteType::kU16 ? 2 : 4);
}

// The tables and descriptors of the columns `wanted` (indices into `table`) into blob; returns
// the descriptors (output offsets set) and the output buffer's size in `output_bytes`.
std::vector<ColumnDesc> add_columns(const WriteTable& table, const std::vector<size_t>& wanted,
                                    int64_t voxels, Blob& blob, Lookup& L, int64_t& output_bytes) {
  std::vector<ColumnDesc> columns;
  output_bytes = 0;
  for (size_t k : wanted) {
    const WriteColumn& c = table[k];
    ColumnDesc col{};
    if (c.type == WriteType::kF32) {
      static_assert(sizeof(float) == sizeof(unsigned), "floats are copied as 32-bit words");
      col.type = kColumnF32;
      col.table = blob.add(c.values.data(), c.values.size());
    } else {
      col.type = c.type == WriteType::kU16 ? kColumnU16 : kColumnU8;
      col.table = blob.add(c.labels.data(), c.labels.size());
    }
    col.out = output_bytes;
    // Each column 256-byte aligned, so that every thread's 4 values are one aligned store.
    output_bytes += (voxels * static_cast<int64_t>(value_bytes(c.type)) + 255) / 256 * 256;
    columns.push_back(col);
  }
  L.n_columns = static_cast<int>(columns.size());
  L.columns = blob.add(columns.data(), columns.size());
  return columns;
}

void check_table(const TupleHistogram& h, const WriteTable& table) {
  const size_t entries = entry_count(h);
  if (entries > static_cast<size_t>(INT_MAX))
    throw CudaError("write pass: more histogram entries than the device pass indexes");
  for (const WriteColumn& c : table)
    if ((c.type == WriteType::kF32 ? c.values.size() : c.labels.size()) != entries)
      throw std::invalid_argument("write pass: a column's table is not one value per entry");
}

// The write pass's device buffers (lookup tables, outputs), shared by every DeviceCases of the
// process: grown as needed and kept for the next case; one pass at a time holds `mutex`.
struct WritePool {
  std::mutex mutex;
  DeviceArray<uint8_t> tables, outputs;
};

WritePool& write_pool() {
  static WritePool pool;
  return pool;
}

// The write kernel of case d on stream s, timed with start and stop; returns its time in ms.
float launch_write(const uint8_t* data, const CaseDesc& d, const uint8_t* tables, const Lookup& L,
                   uint8_t* outputs, int multiprocessors, cudaStream_t s,
                   const detail::Event& start, const detail::Event& stop) {
  const long long quads = (d.voxels + 3) / 4;
  const unsigned blocks = static_cast<unsigned>(std::max<long long>(
      1, std::min<long long>((quads + kThreads - 1) / kThreads, multiprocessors * 8LL)));
  MASKEVAL_CUDA_TRY(cudaEventRecord(start.get(), s));
  if (d.path == kDense) {
    write_kernel<kDense><<<blocks, kThreads, 0, s>>>(data, d, tables, L, outputs);
  } else {
    write_kernel<kPacked><<<blocks, kThreads, 0, s>>>(data, d, tables, L, outputs);
  }
  MASKEVAL_CUDA_CHECK_LAUNCH("write_kernel");
  MASKEVAL_CUDA_TRY(cudaEventRecord(stop.get(), s));
  return detail::elapsed_ms(start, stop);
}

}  // namespace

namespace detail {

int64_t write_pool_bytes() {
  WritePool& p = write_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.tables.bytes_held() + p.outputs.bytes_held();
}

void release_write_pool() {
  WritePool& p = write_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.tables.release();
  p.outputs.release();
}

}  // namespace detail

// With copy_back, only the columns asked for (`out` set) are computed. The pool's buffers are
// free again when this returns: the pass is waited for, also when it fails.
float DeviceCases::Impl::write(size_t i, const TupleHistogram& h, const WriteTable& table,
                               bool copy_back) {
  const CaseDesc& d = desc.at(i);
  if (h.raters != d.raters || h.voxels != d.voxels) not_the_case();
  if (d.path == kWide) {
    if (!copy_back) throw CudaError("a case with tuples wider than 64 bits has no device pass");
    cpu::write(views[i], h, table, 1);
    return 0.0f;
  }
  check_table(h, table);
  std::vector<size_t> wanted;
  for (size_t k = 0; k < table.size(); ++k)
    if (!copy_back || table[k].out != nullptr) wanted.push_back(k);
  if (wanted.empty() || d.voxels == 0) return 0.0f;
  Blob blob;
  Lookup L{};
  add_entry_lookup(d, h, blob, L);
  int64_t output_bytes = 0;
  const std::vector<ColumnDesc> columns =
      add_columns(table, wanted, d.voxels, blob, L, output_bytes);
  WritePool& pool = write_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  try {
    pool.outputs.resize(static_cast<size_t>(output_bytes));
    pool.tables.upload(blob.bytes(), stream);
    const float ms = launch_write(data.get(), d, pool.tables.get(), L, pool.outputs.get(),
                                  multiprocessors, stream, start, stop);
    if (copy_back) {
      for (size_t c = 0; c < columns.size(); ++c) {
        const WriteColumn& column = table[wanted[c]];
        MASKEVAL_CUDA_TRY(cudaMemcpyAsync(column.out, pool.outputs.get() + columns[c].out,
                                          d.voxels * value_bytes(column.type),
                                          cudaMemcpyDeviceToHost, stream));
      }
      MASKEVAL_CUDA_TRY(cudaStreamSynchronize(stream));
    }
    return ms;
  } catch (...) {
    cudaStreamSynchronize(stream);  // nothing still uses the pool's buffers
    throw;
  }
}

void DeviceCases::write(size_t i, const TupleHistogram& h, const WriteTable& table) {
  impl_->write(i, h, table, true);
}

float DeviceCases::write_on_device(size_t i, const TupleHistogram& h, const WriteTable& table) {
  return impl_->write(i, h, table, false);
}

}  // namespace maskeval::cuda
