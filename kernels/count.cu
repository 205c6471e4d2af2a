// The CUDA engine: batched counting pass and lookup-table write pass.
//
// Layout on the device: every case's raters lie one after another in one buffer, each rater's
// labels padded to a multiple of 16 bytes, so that a thread reads 4 consecutive voxels of a
// rater with one aligned load. The voxels of all cases are cut into chunks of kChunkVoxels; one
// block counts one chunk, so many small cases share one launch and a large one spreads over the
// whole chip.
//
// Dense path (R x bits <= 16): each voxel's packed key indexes a histogram, privatised in shared
// memory when it has at most kSharedBins bins. Packed path (<= 64 bits): unanimous voxels are
// counted per label (in shared memory for up to kSharedLabels labels), the keys of the others
// are appended to a per-case list, sorted and reduced with Thrust. In both, the lanes of a warp
// that carry the same key add their votes with one atomic (match_any), and a thread whose four
// voxels agree adds them at once. The host turns the counts into the same TupleHistogram as the
// CPU engine, through the same assembly code.
#include <thrust/device_ptr.h>
#include <thrust/execution_policy.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/reduce.h>
#include <thrust/sort.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>

#include "engine/tuple_keys.h"
#include "cuda_check.cuh"
#include "device_memory.cuh"
#include "maskeval/cuda_engine.h"
#include "maskeval/staple.h"

namespace maskeval::cuda {

using detail::DeviceArray;
using detail::elapsed_ms;
using detail::Event;

namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunkVoxels = 65536;  // multiple of 4 * kThreads
constexpr int kSharedBins = 8192;        // 32 KB of uint32 counters
constexpr int kSharedLabels = 4096;
constexpr uint32_t kNoKey = 0xffffffffu;
constexpr unsigned kAll = 0xffffffffu;
constexpr int64_t kStagingBytes = int64_t{32} << 20;

enum Path : int { kDense = 0, kPacked = 1, kWide = 2 };

struct CaseDesc {
  long long data;    // byte offset of rater 0 in the mask buffer
  long long stride;  // bytes from one rater to the next (multiple of 16)
  long long voxels;
  int raters, bits, label_bytes, path, max_label;
  long long hist;       // dense: first bin in the histogram buffer
  long long unanimous;  // packed: first label counter
  long long keys;       // packed: first slot in the key buffer (capacity: voxels)
};

struct Chunk {
  int case_index;
  long long begin, end;
};

// Lookup tables of the write pass, in key order: dense, every key; packed, the mixed keys.
struct VoteTables {
  std::vector<unsigned long long> keys;
  std::vector<unsigned short> major;
  std::vector<float> agree, entropy;
};

int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

// Labels of 4 consecutive voxels of rater r, starting at voxel v (a multiple of 4).
__device__ inline void load4(const uint8_t* data, const CaseDesc& c, int r, long long v,
                             uint32_t out[4]) {
  const uint8_t* p = data + c.data + r * c.stride;
  if (c.label_bytes == 1) {
    const uint32_t w = *reinterpret_cast<const uint32_t*>(p + v);
    for (int j = 0; j < 4; ++j) out[j] = (w >> (8 * j)) & 0xffu;
  } else {
    const uint2 w = *reinterpret_cast<const uint2*>(p + 2 * v);
    out[0] = w.x & 0xffffu;
    out[1] = w.x >> 16;
    out[2] = w.y & 0xffffu;
    out[3] = w.y >> 16;
  }
}

// Packed keys of 4 voxels (dense path: at most 16 bits each).
__device__ inline void dense_keys4(const uint8_t* data, const CaseDesc& c, long long v,
                                   uint32_t k[4]) {
  for (int j = 0; j < 4; ++j) k[j] = 0;
  for (int r = 0; r < c.raters; ++r) {
    uint32_t l[4];
    load4(data, c, r, v, l);
    for (int j = 0; j < 4; ++j) k[j] |= l[j] << (r * c.bits);
  }
}

// Packed 64-bit keys of 4 voxels, rater 0's labels, and whether every rater agrees with it.
__device__ inline void packed_keys4(const uint8_t* data, const CaseDesc& c, long long v,
                                    unsigned long long k[4], uint32_t first[4], bool same[4]) {
  load4(data, c, 0, v, first);
  for (int j = 0; j < 4; ++j) {
    k[j] = first[j];
    same[j] = true;
  }
  for (int r = 1; r < c.raters; ++r) {
    uint32_t l[4];
    load4(data, c, r, v, l);
    for (int j = 0; j < 4; ++j) {
      k[j] |= static_cast<unsigned long long>(l[j]) << (r * c.bits);
      same[j] = same[j] && l[j] == first[j];
    }
  }
}

// Adds n to counter `key` for every distinct key of the warp: one atomic per distinct key.
template <class Add>
__device__ inline void warp_add(uint32_t key, uint32_t n_each, Add&& add) {
  const unsigned peers = __match_any_sync(kAll, key);
  if (key != kNoKey && (threadIdx.x & 31) == __ffs(peers) - 1) add(key, n_each * __popc(peers));
}

// When all 32 lanes hold the same key for their 4 voxels (the common case: inside or outside
// every mask), lane 0 adds all 128 votes; returns whether it did.
template <class Add>
__device__ inline bool warp_uniform(uint32_t key, Add&& add) {
  const uint32_t lane0 = __shfl_sync(kAll, key, 0);
  if (!__all_sync(kAll, key == lane0 && key != kNoKey)) return false;
  if ((threadIdx.x & 31) == 0) add(key, 4u * 32u);
  return true;
}

__global__ void __launch_bounds__(kThreads)
    count_dense_kernel(const uint8_t* __restrict__ data, const CaseDesc* __restrict__ cases,
                       const Chunk* __restrict__ chunks, unsigned long long* __restrict__ hist) {
  __shared__ unsigned int bins[kSharedBins];
  const Chunk ch = chunks[blockIdx.x];
  const CaseDesc c = cases[ch.case_index];
  const int nbins = 1 << (c.raters * c.bits);
  const bool local = nbins <= kSharedBins;
  if (local)
    for (int i = threadIdx.x; i < nbins; i += kThreads) bins[i] = 0;
  __syncthreads();
  unsigned long long* global_bins = hist + c.hist;
  auto add = [&](uint32_t key, uint32_t n) {
    if (local) {
      atomicAdd(&bins[key], n);
    } else {
      atomicAdd(&global_bins[key], static_cast<unsigned long long>(n));
    }
  };
  for (long long base = ch.begin; base < ch.end; base += 4 * kThreads) {
    const long long v = base + 4 * threadIdx.x;
    const bool any = v < ch.end;
    uint32_t k[4] = {0, 0, 0, 0};
    if (any) dense_keys4(data, c, v, k);
    const bool quad = any && v + 3 < ch.end && k[0] == k[1] && k[1] == k[2] && k[2] == k[3];
    const uint32_t qkey = quad ? k[0] : kNoKey;
    if (warp_uniform(qkey, add)) continue;
    warp_add(qkey, 4, add);
    if (__any_sync(kAll, any && !quad)) {
      for (int j = 0; j < 4; ++j) warp_add(any && !quad && v + j < ch.end ? k[j] : kNoKey, 1, add);
    }
  }
  __syncthreads();
  if (local)
    for (int i = threadIdx.x; i < nbins; i += kThreads)
      if (bins[i] != 0) atomicAdd(&global_bins[i], static_cast<unsigned long long>(bins[i]));
}

__global__ void __launch_bounds__(kThreads)
    count_packed_kernel(const uint8_t* __restrict__ data, const CaseDesc* __restrict__ cases,
                        const Chunk* __restrict__ chunks,
                        unsigned long long* __restrict__ unanimous,
                        unsigned long long* __restrict__ keys,
                        unsigned long long* __restrict__ key_counts) {
  __shared__ unsigned int labels[kSharedLabels];
  const Chunk ch = chunks[blockIdx.x];
  const CaseDesc c = cases[ch.case_index];
  const bool local = c.max_label < kSharedLabels;
  if (local)
    for (int i = threadIdx.x; i <= c.max_label; i += kThreads) labels[i] = 0;
  __syncthreads();
  unsigned long long* global_labels = unanimous + c.unanimous;
  auto add = [&](uint32_t label, uint32_t n) {
    if (local) {
      atomicAdd(&labels[label], n);
    } else {
      atomicAdd(&global_labels[label], static_cast<unsigned long long>(n));
    }
  };
  const int lane = threadIdx.x & 31;
  for (long long base = ch.begin; base < ch.end; base += 4 * kThreads) {
    const long long v = base + 4 * threadIdx.x;
    const bool any = v < ch.end;
    unsigned long long k[4] = {0, 0, 0, 0};
    uint32_t first[4] = {0, 0, 0, 0};
    bool same[4] = {true, true, true, true};
    if (any) packed_keys4(data, c, v, k, first, same);
    const bool quad = any && v + 3 < ch.end && same[0] && same[1] && same[2] && same[3] &&
                      first[0] == first[1] && first[1] == first[2] && first[2] == first[3];
    const uint32_t qlabel = quad ? first[0] : kNoKey;
    if (warp_uniform(qlabel, add)) continue;
    warp_add(qlabel, 4, add);
    if (!__any_sync(kAll, any && !quad)) continue;
    for (int j = 0; j < 4; ++j) {
      const bool valid = any && !quad && v + j < ch.end;
      warp_add(valid && same[j] ? first[j] : kNoKey, 1, add);
      const bool mixed = valid && !same[j];
      const unsigned ballot = __ballot_sync(kAll, mixed);
      if (ballot == 0) continue;
      const int leader = __ffs(ballot) - 1;
      unsigned long long slot = 0;
      if (lane == leader)
        slot =
            atomicAdd(&key_counts[ch.case_index], static_cast<unsigned long long>(__popc(ballot)));
      slot = __shfl_sync(kAll, slot, leader);
      if (mixed) keys[c.keys + slot + __popc(ballot & ((1u << lane) - 1u))] = k[j];
    }
  }
  __syncthreads();
  if (local)
    for (int i = threadIdx.x; i <= c.max_label; i += kThreads)
      if (labels[i] != 0) atomicAdd(&global_labels[i], static_cast<unsigned long long>(labels[i]));
}

// Write pass, dense path: outputs looked up by key.
__global__ void __launch_bounds__(kThreads)
    vote_dense_kernel(const uint8_t* __restrict__ data, CaseDesc c,
                      const unsigned short* __restrict__ lut_major,
                      const float* __restrict__ lut_agree, const float* __restrict__ lut_entropy,
                      unsigned short* __restrict__ major, float* __restrict__ agree,
                      float* __restrict__ entropy) {
  for (long long v = 4 * (static_cast<long long>(blockIdx.x) * kThreads + threadIdx.x);
       v < c.voxels; v += 4LL * kThreads * gridDim.x) {
    uint32_t k[4];
    dense_keys4(data, c, v, k);
    for (int j = 0; j < 4 && v + j < c.voxels; ++j) {
      if (major) major[v + j] = lut_major[k[j]];
      if (agree) agree[v + j] = lut_agree[k[j]];
      if (entropy) entropy[v + j] = lut_entropy[k[j]];
    }
  }
}

// Write pass, packed path: unanimous voxels directly, the others by binary search of their key
// among the case's sorted mixed keys.
__global__ void __launch_bounds__(kThreads)
    vote_packed_kernel(const uint8_t* __restrict__ data, CaseDesc c,
                       const unsigned long long* __restrict__ sorted_keys, int n_keys,
                       const unsigned short* __restrict__ lut_major,
                       const float* __restrict__ lut_agree, const float* __restrict__ lut_entropy,
                       unsigned short* __restrict__ major, float* __restrict__ agree,
                       float* __restrict__ entropy) {
  for (long long v = 4 * (static_cast<long long>(blockIdx.x) * kThreads + threadIdx.x);
       v < c.voxels; v += 4LL * kThreads * gridDim.x) {
    unsigned long long k[4];
    uint32_t first[4];
    bool same[4];
    packed_keys4(data, c, v, k, first, same);
    for (int j = 0; j < 4 && v + j < c.voxels; ++j) {
      unsigned short m;
      float a, e;
      if (same[j]) {
        m = static_cast<unsigned short>(first[j]);
        a = 1.0f;
        e = 0.0f;
      } else {
        int lo = 0, hi = n_keys - 1;
        while (lo < hi) {
          const int mid = (lo + hi) / 2;
          if (sorted_keys[mid] < k[j])
            lo = mid + 1;
          else
            hi = mid;
        }
        m = lut_major[lo];
        a = lut_agree[lo];
        e = lut_entropy[lo];
      }
      if (major) major[v + j] = m;
      if (agree) agree[v + j] = a;
      if (entropy) entropy[v + j] = e;
    }
  }
}

void require_device() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw CudaError("no CUDA device");
  }
}

}  // namespace

struct DeviceCases::Impl {
  std::vector<CaseView> views;
  std::vector<CaseDesc> desc;
  std::vector<Chunk> dense_chunks, packed_chunks;
  int64_t mask_bytes = 0;
  int64_t hist_bins = 0, label_slots = 0, key_slots = 0;
  cudaStream_t stream = nullptr;
  DeviceArray<uint8_t> data;
  DeviceArray<CaseDesc> d_desc;
  DeviceArray<Chunk> d_dense_chunks, d_packed_chunks;
  DeviceArray<unsigned long long> hist, unanimous, keys, key_counts, unique_keys, unique_counts;
  Event start, stop;
  float kernel_ms = 0;

  Impl() { MASKEVAL_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)); }
  float vote(size_t i, const TupleHistogram& h, const VoteRule& rule, const VoteMaps* out);
  // The write pass through given tables (dense: one entry per key; packed: per mixed key).
  float lookup(size_t i, const VoteTables& t, const VoteMaps* out);
  ~Impl() {
    if (stream) cudaStreamDestroy(stream);
  }

  // Host -> device through two pinned staging buffers: the copy of one piece into pinned
  // memory overlaps the transfer of the previous one. The buffers are allocated once per
  // process (pinning is slow) and shared by uploads one at a time.
  void upload(const std::vector<std::pair<const void*, int64_t>>& pieces,
              const std::vector<int64_t>& offsets) {
    static std::mutex staging_mutex;
    static uint8_t* staging[2] = {nullptr, nullptr};
    std::lock_guard<std::mutex> lock(staging_mutex);
    for (auto*& buffer : staging)
      if (buffer == nullptr) MASKEVAL_CUDA_TRY(cudaMallocHost(&buffer, kStagingBytes));
    Event done[2];
    bool used[2] = {false, false};
    try {
      int b = 0;
      for (size_t i = 0; i < pieces.size(); ++i) {
        const uint8_t* src = static_cast<const uint8_t*>(pieces[i].first);
        for (int64_t off = 0; off < pieces[i].second; off += kStagingBytes) {
          const int64_t n = std::min(kStagingBytes, pieces[i].second - off);
          if (used[b]) MASKEVAL_CUDA_TRY(cudaEventSynchronize(done[b].get()));
          std::memcpy(staging[b], src + off, n);
          MASKEVAL_CUDA_TRY(cudaMemcpyAsync(data.get() + offsets[i] + off, staging[b], n,
                                            cudaMemcpyHostToDevice, stream));
          MASKEVAL_CUDA_TRY(cudaEventRecord(done[b].get(), stream));
          used[b] = true;
          b ^= 1;
        }
      }
      MASKEVAL_CUDA_TRY(cudaStreamSynchronize(stream));
    } catch (...) {
      cudaStreamSynchronize(stream);  // never leave a transfer reading a buffer we reuse
      throw;
    }
  }
};

int64_t DeviceCases::device_bytes(const CaseView& v) {
  const int bits = maskeval::detail::label_bits(v.max_label);
  const auto path = maskeval::detail::key_path(v.rater_count(), bits);
  if (path == maskeval::detail::KeyPath::kWide) return 0;
  int64_t bytes = v.rater_count() * round_up(v.voxels * v.label_bytes, 16);
  if (path == maskeval::detail::KeyPath::kDense) {
    bytes += (int64_t{8} << (v.rater_count() * bits));
  } else {
    bytes += 8 * (int64_t{v.max_label} + 1) + 2 * 8 * v.voxels;  // keys, then unique keys+counts
  }
  return bytes;
}

DeviceCases::DeviceCases(const std::vector<CaseView>& cases) : impl_(std::make_unique<Impl>()) {
  require_device();
  Impl& m = *impl_;
  m.views = cases;
  std::vector<std::pair<const void*, int64_t>> pieces;
  std::vector<int64_t> offsets;
  int64_t data_bytes = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const CaseView& v = cases[i];
    if (v.rater_count() < 1 || v.rater_count() > kMaxRaters ||
        (v.label_bytes != 1 && v.label_bytes != 2))
      throw std::invalid_argument("bad case view");
    CaseDesc d{};
    d.raters = v.rater_count();
    d.bits = maskeval::detail::label_bits(v.max_label);
    d.label_bytes = v.label_bytes;
    d.voxels = v.voxels;
    d.max_label = v.max_label;
    const auto path = maskeval::detail::key_path(d.raters, d.bits);
    d.path = path == maskeval::detail::KeyPath::kDense    ? kDense
             : path == maskeval::detail::KeyPath::kPacked ? kPacked
                                                          : kWide;
    if (d.path != kWide) {
      d.stride = round_up(v.voxels * v.label_bytes, 16);
      d.data = data_bytes;
      for (int r = 0; r < d.raters; ++r) {
        pieces.emplace_back(v.raters[r], v.voxels * v.label_bytes);
        offsets.push_back(data_bytes + r * d.stride);
      }
      data_bytes += d.raters * d.stride;
      m.mask_bytes += d.raters * v.voxels * v.label_bytes;
      auto& chunks = d.path == kDense ? m.dense_chunks : m.packed_chunks;
      for (int64_t b = 0; b < v.voxels; b += kChunkVoxels)
        chunks.push_back({static_cast<int>(i), b, std::min(v.voxels, b + kChunkVoxels)});
    }
    if (d.path == kDense) {
      d.hist = m.hist_bins;
      m.hist_bins += int64_t{1} << (d.raters * d.bits);
    } else if (d.path == kPacked) {
      d.unanimous = m.label_slots;
      m.label_slots += int64_t{d.max_label} + 1;
      d.keys = m.key_slots;
      m.key_slots += v.voxels;
    }
    m.desc.push_back(d);
  }
  m.data.resize(data_bytes);
  // Padding bytes are read (never counted): keep them defined.
  if (data_bytes > 0) MASKEVAL_CUDA_TRY(cudaMemsetAsync(m.data.get(), 0, data_bytes, m.stream));
  m.upload(pieces, offsets);
  m.d_desc.upload(m.desc, m.stream);
  m.d_dense_chunks.upload(m.dense_chunks, m.stream);
  m.d_packed_chunks.upload(m.packed_chunks, m.stream);
  m.hist.resize(m.hist_bins);
  m.unanimous.resize(m.label_slots);
  m.keys.resize(m.key_slots);
  m.key_counts.resize(cases.size());
  MASKEVAL_CUDA_TRY(cudaStreamSynchronize(m.stream));
}

DeviceCases::~DeviceCases() = default;

float DeviceCases::last_kernel_ms() const {
  return impl_->kernel_ms;
}
int64_t DeviceCases::mask_bytes() const {
  return impl_->mask_bytes;
}

std::vector<TupleHistogram> DeviceCases::count() {
  Impl& m = *impl_;
  const cudaStream_t s = m.stream;
  if (m.hist_bins) MASKEVAL_CUDA_TRY(cudaMemsetAsync(m.hist.get(), 0, m.hist_bins * 8, s));
  if (m.label_slots) MASKEVAL_CUDA_TRY(cudaMemsetAsync(m.unanimous.get(), 0, m.label_slots * 8, s));
  MASKEVAL_CUDA_TRY(cudaMemsetAsync(m.key_counts.get(), 0, m.desc.size() * 8, s));
  MASKEVAL_CUDA_TRY(cudaEventRecord(m.start.get(), s));
  if (!m.dense_chunks.empty()) {
    count_dense_kernel<<<static_cast<unsigned>(m.dense_chunks.size()), kThreads, 0, s>>>(
        m.data.get(), m.d_desc.get(), m.d_dense_chunks.get(), m.hist.get());
    MASKEVAL_CUDA_CHECK_LAUNCH("count_dense_kernel");
  }
  if (!m.packed_chunks.empty()) {
    count_packed_kernel<<<static_cast<unsigned>(m.packed_chunks.size()), kThreads, 0, s>>>(
        m.data.get(), m.d_desc.get(), m.d_packed_chunks.get(), m.unanimous.get(), m.keys.get(),
        m.key_counts.get());
    MASKEVAL_CUDA_CHECK_LAUNCH("count_packed_kernel");
  }
  // Sort and reduce each packed case's mixed keys, into its own region of the unique buffers.
  const std::vector<unsigned long long> n_keys = m.key_counts.download(m.desc.size(), s);
  const unsigned long long total = std::accumulate(n_keys.begin(), n_keys.end(), 0ull);
  m.unique_keys.resize(total);
  m.unique_counts.resize(total);
  std::vector<unsigned long long> unique_at(m.desc.size(), 0);
  std::vector<size_t> n_unique(m.desc.size(), 0);
  unsigned long long at = 0;
  for (size_t i = 0; i < m.desc.size(); ++i) {
    unique_at[i] = at;
    if (m.desc[i].path != kPacked || n_keys[i] == 0) continue;
    const auto first = thrust::device_pointer_cast(m.keys.get() + m.desc[i].keys);
    const auto last = first + static_cast<long long>(n_keys[i]);
    thrust::sort(thrust::cuda::par.on(s), first, last);
    const auto out_keys = thrust::device_pointer_cast(m.unique_keys.get() + at);
    const auto ends = thrust::reduce_by_key(
        thrust::cuda::par.on(s), first, last, thrust::constant_iterator<unsigned long long>(1),
        out_keys, thrust::device_pointer_cast(m.unique_counts.get() + at));
    n_unique[i] = static_cast<size_t>(ends.first - out_keys);
    at += n_unique[i];
  }
  MASKEVAL_CUDA_TRY(cudaEventRecord(m.stop.get(), s));
  m.kernel_ms = elapsed_ms(m.start, m.stop);
  const std::vector<unsigned long long> hist = m.hist.download(m.hist_bins, s);
  const std::vector<unsigned long long> unanimous = m.unanimous.download(m.label_slots, s);
  const std::vector<unsigned long long> uk = m.unique_keys.download(at, s);
  const std::vector<unsigned long long> uc = m.unique_counts.download(at, s);

  std::vector<TupleHistogram> out;
  out.reserve(m.desc.size());
  for (size_t i = 0; i < m.desc.size(); ++i) {
    const CaseDesc& d = m.desc[i];
    if (d.path == kWide) {
      out.push_back(cpu::count_tuples(m.views[i], 1));
      continue;
    }
    maskeval::detail::HistogramBuilder b(d.raters, d.voxels, d.bits,
                                         static_cast<Label>(d.max_label));
    if (d.path == kDense) {
      const int64_t bins = int64_t{1} << (d.raters * d.bits);
      for (int64_t k = 0; k < bins; ++k)
        if (hist[d.hist + k] != 0) b.add_key(static_cast<uint64_t>(k), hist[d.hist + k]);
    } else {
      for (int l = 0; l <= d.max_label; ++l)
        if (unanimous[d.unanimous + l] != 0)
          b.add_unanimous(static_cast<Label>(l), unanimous[d.unanimous + l]);
      for (size_t k = unique_at[i]; k < unique_at[i] + n_unique[i]; ++k) b.add_key(uk[k], uc[k]);
    }
    out.push_back(b.finish());
  }
  return out;
}

namespace {

VoteTables vote_tables(const CaseDesc& d, const TupleHistogram& h, const VoteRule& rule) {
  VoteTables t;
  std::vector<Label> tuple(d.raters);
  auto add = [&](const Label* tup) {
    const Vote v = vote_of(tup, d.raters, rule);
    t.major.push_back(v.majority);
    t.agree.push_back(static_cast<float>(v.agreement));
    t.entropy.push_back(static_cast<float>(v.entropy));
  };
  if (d.path == kDense) {
    const uint64_t bins = uint64_t{1} << (d.raters * d.bits), mask = (uint64_t{1} << d.bits) - 1;
    for (uint64_t k = 0; k < bins; ++k) {
      for (int r = 0; r < d.raters; ++r) tuple[r] = static_cast<Label>((k >> (r * d.bits)) & mask);
      add(tuple.data());
    }
    return t;
  }
  std::vector<size_t> order(h.rows());
  for (size_t row = 0; row < h.rows(); ++row) {
    uint64_t key = 0;
    for (int r = 0; r < d.raters; ++r)
      key |= static_cast<uint64_t>(h.tuple(row)[r]) << (r * d.bits);
    t.keys.push_back(key);
  }
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.keys[a] < t.keys[b]; });
  std::vector<unsigned long long> sorted;
  for (size_t i : order) {
    sorted.push_back(t.keys[i]);
    add(h.tuple(i));
  }
  t.keys.swap(sorted);
  return t;
}

}  // namespace

float DeviceCases::Impl::vote(size_t i, const TupleHistogram& h, const VoteRule& rule,
                              const VoteMaps* out) {
  const CaseDesc& d = desc.at(i);
  if (d.path == kWide) {
    if (out == nullptr) throw CudaError("a case with tuples wider than 64 bits has no device pass");
    cpu::vote_maps(views[i], rule, *out, 1);
    return 0.0f;
  }
  return lookup(i, vote_tables(d, h, rule), out);
}

float DeviceCases::Impl::lookup(size_t i, const VoteTables& t, const VoteMaps* out) {
  const CaseDesc& d = desc.at(i);
  DeviceArray<unsigned long long> keys;
  DeviceArray<unsigned short> lut_major, major(d.voxels);
  DeviceArray<float> lut_agree, lut_entropy, agree(d.voxels), entropy(d.voxels);
  keys.upload(t.keys, stream);
  lut_major.upload(t.major, stream);
  lut_agree.upload(t.agree, stream);
  lut_entropy.upload(t.entropy, stream);
  int device = 0, sms = 0;
  MASKEVAL_CUDA_TRY(cudaGetDevice(&device));
  MASKEVAL_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const long long quads = (d.voxels + 3) / 4;
  const unsigned blocks = static_cast<unsigned>(
      std::max<long long>(1, std::min<long long>((quads + kThreads - 1) / kThreads, sms * 8LL)));
  const bool want_major = out == nullptr || out->majority != nullptr;
  const bool want_agree = out == nullptr || out->agreement != nullptr;
  const bool want_entropy = out == nullptr || out->entropy != nullptr;
  MASKEVAL_CUDA_TRY(cudaEventRecord(start.get(), stream));
  if (d.path == kDense) {
    vote_dense_kernel<<<blocks, kThreads, 0, stream>>>(
        data.get(), d, lut_major.get(), lut_agree.get(), lut_entropy.get(),
        want_major ? major.get() : nullptr, want_agree ? agree.get() : nullptr,
        want_entropy ? entropy.get() : nullptr);
    MASKEVAL_CUDA_CHECK_LAUNCH("vote_dense_kernel");
  } else {
    vote_packed_kernel<<<blocks, kThreads, 0, stream>>>(
        data.get(), d, keys.get(), static_cast<int>(t.keys.size()), lut_major.get(),
        lut_agree.get(), lut_entropy.get(), want_major ? major.get() : nullptr,
        want_agree ? agree.get() : nullptr, want_entropy ? entropy.get() : nullptr);
    MASKEVAL_CUDA_CHECK_LAUNCH("vote_packed_kernel");
  }
  MASKEVAL_CUDA_TRY(cudaEventRecord(stop.get(), stream));
  const float ms = elapsed_ms(start, stop);
  if (out != nullptr) {
    const size_t n = static_cast<size_t>(d.voxels);
    if (out->majority) {
      static_assert(sizeof(Label) == sizeof(unsigned short), "labels are 16-bit");
      MASKEVAL_CUDA_TRY(cudaMemcpyAsync(out->majority, major.get(), n * sizeof(Label),
                                        cudaMemcpyDeviceToHost, stream));
    }
    if (out->agreement)
      MASKEVAL_CUDA_TRY(cudaMemcpyAsync(out->agreement, agree.get(), n * sizeof(float),
                                        cudaMemcpyDeviceToHost, stream));
    if (out->entropy)
      MASKEVAL_CUDA_TRY(cudaMemcpyAsync(out->entropy, entropy.get(), n * sizeof(float),
                                        cudaMemcpyDeviceToHost, stream));
    MASKEVAL_CUDA_TRY(cudaStreamSynchronize(stream));
  }
  return ms;
}

namespace {

// STAPLE's tables for a dense case: each key's vote pattern for `label` gives its posterior
// (the agreement slot) and its consensus bit (the label slot).
VoteTables staple_tables(const CaseDesc& d, Label label, const BinaryPatterns& patterns,
                         const StapleResult& result, double threshold) {
  std::map<std::vector<uint8_t>, double> by_pattern;
  for (size_t row = 0; row < patterns.rows(); ++row)
    by_pattern[std::vector<uint8_t>(patterns.pattern(row), patterns.pattern(row) + d.raters)] =
        result.posterior.at(row);
  VoteTables t;
  const uint64_t bins = uint64_t{1} << (d.raters * d.bits), mask = (uint64_t{1} << d.bits) - 1;
  std::vector<uint8_t> pattern(d.raters);
  for (uint64_t k = 0; k < bins; ++k) {
    for (int r = 0; r < d.raters; ++r) pattern[r] = ((k >> (r * d.bits)) & mask) == label;
    const auto it = by_pattern.find(pattern);
    const double w = it == by_pattern.end() ? 0.0 : it->second;  // keys no voxel carries
    t.major.push_back(w >= threshold ? 1 : 0);
    t.agree.push_back(static_cast<float>(w));
    t.entropy.push_back(0.0f);
  }
  return t;
}

}  // namespace

bool DeviceCases::staple_maps(size_t i, Label label, const BinaryPatterns& patterns,
                              const StapleResult& result, double threshold, float* posterior,
                              Label* mask) {
  const CaseDesc& d = impl_->desc.at(i);
  if (d.path != kDense) return false;
  const VoteMaps out{mask, posterior, nullptr};
  impl_->lookup(i, staple_tables(d, label, patterns, result, threshold), &out);
  return true;
}

float DeviceCases::staple_maps_on_device(size_t i, Label label, const BinaryPatterns& patterns,
                                         const StapleResult& result, double threshold) {
  const CaseDesc& d = impl_->desc.at(i);
  if (d.path != kDense) throw CudaError("STAPLE's device write pass needs a dense case");
  return impl_->lookup(i, staple_tables(d, label, patterns, result, threshold), nullptr);
}

void DeviceCases::vote_maps(size_t i, const TupleHistogram& h, const VoteRule& rule,
                            const VoteMaps& out) {
  impl_->vote(i, h, rule, &out);
}

float DeviceCases::vote_maps_on_device(size_t i, const TupleHistogram& h, const VoteRule& rule) {
  return impl_->vote(i, h, rule, nullptr);
}

std::vector<TupleHistogram> count_tuples(const std::vector<CaseView>& cases) {
  require_device();
  size_t free_bytes = 0, total_bytes = 0;
  MASKEVAL_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const int64_t budget = static_cast<int64_t>(free_bytes) / 10 * 7;
  std::vector<TupleHistogram> out(cases.size());
  std::vector<CaseView> batch;
  std::vector<size_t> batch_index;
  int64_t batch_bytes = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    DeviceCases dc(batch);
    std::vector<TupleHistogram> h = dc.count();
    for (size_t k = 0; k < batch.size(); ++k) {
      TupleHistogram& dst = out[batch_index[k]];
      dst = dst.raters == 0 ? std::move(h[k]) : merge_histograms(dst, h[k]);
    }
    batch.clear();
    batch_index.clear();
    batch_bytes = 0;
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const CaseView& v = cases[i];
    const int64_t bytes = DeviceCases::device_bytes(v);
    if (bytes <= budget) {
      if (batch_bytes + bytes > budget) flush();
      batch.push_back(v);
      batch_index.push_back(i);
      batch_bytes += bytes;
      continue;
    }
    // Larger than the device: slabs of whole 16-voxel groups, each counted on its own.
    flush();
    const int64_t per_voxel = std::max<int64_t>(1, bytes / std::max<int64_t>(1, v.voxels) + 1);
    const int64_t slab = std::max<int64_t>(16, budget / per_voxel / 16 * 16);
    for (int64_t begin = 0; begin < v.voxels; begin += slab) {
      CaseView part = v;
      part.voxels = std::min(slab, v.voxels - begin);
      for (auto& p : part.raters) p = static_cast<const uint8_t*>(p) + begin * v.label_bytes;
      batch.push_back(part);
      batch_index.push_back(i);
      flush();
    }
  }
  flush();
  return out;
}

bool free_device_memory(size_t* bytes) {
  size_t total = 0;
  if (cudaMemGetInfo(bytes, &total) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return true;
}

double copy_ceiling(int64_t bytes) {
  require_device();
  DeviceArray<uint8_t> a(bytes), b(bytes);
  MASKEVAL_CUDA_TRY(cudaMemset(a.get(), 1, bytes));
  MASKEVAL_CUDA_TRY(cudaMemset(b.get(), 0, bytes));
  Event start, stop;
  MASKEVAL_CUDA_TRY(cudaMemcpy(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));  // warm-up
  const int reps = 10;
  MASKEVAL_CUDA_TRY(cudaEventRecord(start.get()));
  for (int i = 0; i < reps; ++i)
    MASKEVAL_CUDA_TRY(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));
  MASKEVAL_CUDA_TRY(cudaEventRecord(stop.get()));
  const float ms = elapsed_ms(start, stop);
  return 2.0 * static_cast<double>(bytes) * reps / (ms * 1e-3);
}

}  // namespace maskeval::cuda
