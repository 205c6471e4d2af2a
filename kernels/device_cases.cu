// Cases resident on the device: their layout, upload through pinned staging, and count().
#include <algorithm>
#include <cstring>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>

#include "count_kernels.cuh"
#include "cuda_check.cuh"
#include "device_cases.cuh"
#include "engine/tuple_keys.h"

namespace maskeval::cuda {

using detail::CaseDesc;
using detail::kDense;
using detail::kPacked;
using detail::kWide;
using detail::round_up;

namespace {

constexpr int64_t kStagingBytes = int64_t{32} << 20;

// A case's shape and path; its place in the buffers is set by Impl::place.
CaseDesc describe(const CaseView& v) {
  maskeval::detail::validate_view(v);
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
  return d;
}

}  // namespace

DeviceCases::Impl::Impl() {
  int device = 0;
  MASKEVAL_CUDA_TRY(cudaGetDevice(&device));
  MASKEVAL_CUDA_TRY(
      cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
  MASKEVAL_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
}

DeviceCases::Impl::~Impl() {
  if (stream) cudaStreamDestroy(stream);
}

void DeviceCases::Impl::place(size_t i, std::vector<std::pair<const void*, int64_t>>& pieces,
                              std::vector<int64_t>& offsets, int64_t& data_bytes) {
  const CaseView& v = views[i];
  CaseDesc& d = desc[i];
  if (d.path != kWide) {
    d.stride = round_up(v.voxels * v.label_bytes, 16);
    d.data = data_bytes;
    for (int r = 0; r < d.raters; ++r) {
      pieces.emplace_back(v.raters[r], v.voxels * v.label_bytes);
      offsets.push_back(data_bytes + r * d.stride);
    }
    data_bytes += d.raters * d.stride;
    mask_bytes += d.raters * v.voxels * v.label_bytes;
    auto& chunks = d.path == kDense ? dense_chunks : packed_chunks;
    for (int64_t b = 0; b < v.voxels; b += detail::kChunkVoxels)
      chunks.push_back({static_cast<int>(i), b, std::min(v.voxels, b + detail::kChunkVoxels)});
  }
  if (d.path == kDense) {
    d.hist = hist_bins;
    hist_bins += int64_t{1} << (d.raters * d.bits);
  } else if (d.path == kPacked) {
    d.unanimous = label_slots;
    label_slots += int64_t{d.max_label} + 1;
    d.keys = key_slots;
    key_slots += v.voxels;
  }
}

// The copy of one piece into pinned memory overlaps the transfer of the previous one. The
// buffers are allocated once per process (pinning is slow) and shared by uploads one at a time.
void DeviceCases::Impl::upload(const std::vector<std::pair<const void*, int64_t>>& pieces,
                               const std::vector<int64_t>& offsets) {
  static std::mutex staging_mutex;
  static uint8_t* staging[2] = {nullptr, nullptr};
  std::lock_guard<std::mutex> lock(staging_mutex);
  for (auto*& buffer : staging)
    if (buffer == nullptr) MASKEVAL_CUDA_TRY(cudaMallocHost(&buffer, kStagingBytes));
  detail::Event done[2];
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

namespace {

// The sort's temporary space: a second buffer of the keys and CUB's per-tile state (under a
// byte per key), plus this much for its fixed parts and the reduction's.
constexpr int64_t kSortFixedBytes = int64_t{1} << 20;
// Per mixed voxel: its key, the sort's copy of it and its tile state, a distinct key and count.
constexpr int64_t kPackedBytesPerVoxel = 8 + 9 + 16;
// A write column's descriptor (write_pass.cu's ColumnDesc), at most.
constexpr int64_t kColumnDescBytes = 32;

struct Shape {
  int raters, bits, label_bytes;
  int64_t max_label;
  maskeval::detail::KeyPath path;
};

Shape shape_of(const CaseView& v) {
  const int bits = maskeval::detail::label_bits(v.max_label);
  return {v.rater_count(), bits, v.label_bytes, v.max_label,
          maskeval::detail::key_path(v.rater_count(), bits)};
}

// What Impl allocates for one case of `voxels` voxels of this shape (DeviceCases() and count()).
int64_t count_bytes(const Shape& s, int64_t voxels) {
  using maskeval::detail::KeyPath;
  if (s.path == KeyPath::kWide) return 0;
  int64_t bytes = s.raters * round_up(voxels * s.label_bytes, 16);
  bytes += static_cast<int64_t>(sizeof(CaseDesc)) + 8;  // descriptor, mixed-key count
  bytes += static_cast<int64_t>(sizeof(detail::Chunk)) *
           ((voxels + detail::kChunkVoxels - 1) / detail::kChunkVoxels);
  if (s.path == KeyPath::kDense) return bytes + (int64_t{8} << (s.raters * s.bits));
  return bytes + 8 * (s.max_label + 1) + kPackedBytesPerVoxel * voxels + kSortFixedBytes;
}

size_t value_bytes(WriteType t) {
  return t == WriteType::kU8 ? 1 : (t == WriteType::kU16 ? 2 : 4);
}

// What the write pass allocates for the columns of `table` that have an `out`: its table
// buffer (entry lookup, each column's values, descriptors; parts 16-byte aligned) and one
// output buffer per column (256-byte aligned).
int64_t write_bytes(const Shape& s, int64_t voxels, const WriteTable& table) {
  using maskeval::detail::KeyPath;
  if (s.path == KeyPath::kWide) return 0;  // written on the host
  int64_t bytes = 0, entries = 0, columns = 0;
  for (const WriteColumn& c : table) {
    if (c.out == nullptr) continue;
    const int64_t n =
        static_cast<int64_t>(c.type == WriteType::kF32 ? c.values.size() : c.labels.size());
    entries = std::max(entries, n);
    bytes += round_up(n * (c.type == WriteType::kF32 ? 4 : 2), 16);
    bytes += round_up(voxels * static_cast<int64_t>(value_bytes(c.type)), 256);
    ++columns;
  }
  if (columns == 0) return 0;
  bytes += round_up(columns * kColumnDescBytes, 16);
  if (s.path == KeyPath::kDense) return bytes + round_up(int64_t{4} << (s.raters * s.bits), 16);
  // Packed: the entry of every label; the mixed rows' keys and entries (fewer than entries).
  return bytes + round_up(4 * (s.max_label + 1), 16) + round_up(8 * entries, 16) +
         round_up(4 * entries, 16);
}

}  // namespace

DeviceFootprint device_footprint(const CaseView& view, const WriteTable* table) {
  const Shape s = shape_of(view);
  DeviceFootprint f;
  f.count = count_bytes(s, view.voxels);
  if (table) f.write = write_bytes(s, view.voxels, *table);
  return f;
}

int64_t slab_voxels(const CaseView& view, int64_t budget) {
  const Shape s = shape_of(view);
  if (count_bytes(s, view.voxels) <= budget) return view.voxels;
  // The longest slab of whole 16-voxel groups that fits (the footprint grows with the voxels).
  int64_t lo = 0, hi = view.voxels / 16;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (count_bytes(s, mid * 16) <= budget) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo * 16 >= kMinSlabVoxels ? lo * 16 : 0;
}

int64_t DeviceCases::device_bytes(const CaseView& v) {
  return device_footprint(v).count;
}

DeviceCases::DeviceCases(const std::vector<CaseView>& cases)
    : impl_((detail::require_device(), std::make_unique<Impl>())) {
  Impl& m = *impl_;
  m.views = cases;
  for (const CaseView& v : cases) m.desc.push_back(describe(v));
  std::vector<std::pair<const void*, int64_t>> pieces;
  std::vector<int64_t> offsets;
  int64_t data_bytes = 0;
  for (size_t i = 0; i < cases.size(); ++i) m.place(i, pieces, offsets, data_bytes);
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

DeviceCases::Impl::MixedKeys DeviceCases::Impl::count_on_device() {
  const cudaStream_t s = stream;
  if (hist_bins) MASKEVAL_CUDA_TRY(cudaMemsetAsync(hist.get(), 0, hist_bins * 8, s));
  if (label_slots) MASKEVAL_CUDA_TRY(cudaMemsetAsync(unanimous.get(), 0, label_slots * 8, s));
  if (!desc.empty()) MASKEVAL_CUDA_TRY(cudaMemsetAsync(key_counts.get(), 0, desc.size() * 8, s));
  MASKEVAL_CUDA_TRY(cudaEventRecord(start.get(), s));
  detail::launch_count_dense(data.get(), d_desc.get(), d_dense_chunks.get(), dense_chunks.size(),
                             hist.get(), s);
  detail::launch_count_packed(data.get(), d_desc.get(), d_packed_chunks.get(), packed_chunks.size(),
                              unanimous.get(), keys.get(), key_counts.get(), s);
  // Sort and reduce each packed case's mixed keys, into its own region of the unique buffers.
  const std::vector<unsigned long long> n_keys = key_counts.download(desc.size(), s);
  MixedKeys mixed;
  mixed.at.assign(desc.size(), 0);
  mixed.n.assign(desc.size(), 0);
  unique_keys.resize(std::accumulate(n_keys.begin(), n_keys.end(), 0ull));
  unique_counts.resize(unique_keys.size());
  for (size_t i = 0; i < desc.size(); ++i) {
    mixed.at[i] = mixed.total;
    if (desc[i].path != kPacked) continue;
    mixed.n[i] = detail::sort_and_count_keys(
        keys.get() + desc[i].keys, n_keys[i], unique_keys.get() + mixed.total,
        unique_counts.get() + mixed.total, s, desc[i].raters * desc[i].bits);
    mixed.total += mixed.n[i];
  }
  MASKEVAL_CUDA_TRY(cudaEventRecord(stop.get(), s));
  kernel_ms = detail::elapsed_ms(start, stop);
  return mixed;
}

std::vector<TupleHistogram> DeviceCases::count() {
  Impl& m = *impl_;
  const Impl::MixedKeys mixed = m.count_on_device();
  const std::vector<unsigned long long> hist = m.hist.download(m.hist_bins, m.stream);
  const std::vector<unsigned long long> unanimous = m.unanimous.download(m.label_slots, m.stream);
  const std::vector<unsigned long long> uk = m.unique_keys.download(mixed.total, m.stream);
  const std::vector<unsigned long long> uc = m.unique_counts.download(mixed.total, m.stream);
  // The host assembles the counts with the CPU engine's code: identical histograms.
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
      for (size_t k = mixed.at[i]; k < mixed.at[i] + mixed.n[i]; ++k) b.add_key(uk[k], uc[k]);
    }
    out.push_back(b.finish());
  }
  return out;
}

}  // namespace maskeval::cuda
