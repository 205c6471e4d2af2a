// NRRD (teem): .nrrd with the data after the header, and .nhdr headers whose "data file" field
// names the data file, relative to the header's folder and inside it (unless external data is
// allowed). Magics NRRD0001 to NRRD0005.
//
// Encodings raw, gzip (zlib streams too) and text; bzip2 and hex are rejected. The image is the
// array's 2 or 3 spatial axes (trailing axes of size 1 past the third are dropped), with an
// optional leading non-spatial axis (kind vector, RGB-color, ..., or "none" space direction)
// taken as interleaved channels. A spatial axis's spacing is the length of its space direction,
// else the magnitude of its "spacings" entry, else 1. As the format defines them: "line skip"
// counts lines of the data file before the data (or the compressed stream), "byte skip" counts
// bytes after the skipped lines (of the decompressed data, for gzip), and "byte skip: -1" (raw
// data only) puts the data at the end of the file.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "io/formats.h"

namespace maskeval::detail {
namespace {

constexpr int kMaxDimension = 16;
constexpr int kMaxChannels = 1 << 16;
constexpr int kMaxHeaderLines = 100000;

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

[[noreturn]] void bad_field(const std::string& field, const std::string& value) {
  throw InputError("invalid NRRD " + field + " '" + value + "'");
}

template <typename T>
bool parse_number(std::string word, T& v) {
  if (!word.empty() && word[0] == '+') word.erase(0, 1);
  if constexpr (std::is_floating_point_v<T>) word = lower(word);
  const char* e = word.data() + word.size();
  const auto r = std::from_chars(word.data(), e, v);
  return r.ec == std::errc() && r.ptr == e;
}

int64_t parse_int(const std::string& field, const std::string& word) {
  int64_t v = 0;
  if (!parse_number(word, v)) bad_field(field, word);
  return v;
}

// The header: field descriptors by name (lower case, without spaces: "space directions" and
// "spacedirections" are the same field), and where it ended.
struct Header {
  std::map<std::string, std::string> fields;
  int64_t data_offset = -1;  // after the blank line; -1 when the file ended first

  const std::string* get(const char* name) const {
    const auto it = fields.find(name);
    return it == fields.end() ? nullptr : &it->second;
  }
  const std::string& require(const char* name, const char* shown) const {
    const std::string* v = get(name);
    if (!v) throw InputError(std::string("NRRD header has no '") + shown + "' field");
    return *v;
  }
};

Header read_header(const std::string& path) {
  const FilePtr f = open_regular(path, "");
  char magic[4] = {};
  if (std::fread(magic, 1, 4, f.get()) != 4 || std::memcmp(magic, "NRRD", 4) != 0) {
    if (std::ferror(f.get())) throw InputError("cannot read: " + errno_text());
    throw InputError("not a NRRD file (the first line is not a NRRD000X magic)");
  }
  std::string line;
  read_header_line(f.get(), line, 256);
  line = trim(line);
  if (line.size() != 4 || line.compare(0, 3, "000") != 0 || line[3] < '1' || line[3] > '5') {
    throw InputError("unsupported NRRD version 'NRRD" + line + "' (expected NRRD0001 to NRRD0005)");
  }

  Header h;
  for (int n = 2; read_header_line(f.get(), line); ++n) {
    if (n > kMaxHeaderLines) throw InputError("NRRD header too long");
    if (line.empty()) {
      h.data_offset = ftello(f.get());
      if (h.data_offset < 0) throw InputError("cannot read: " + errno_text());
      break;
    }
    if (line[0] == '#') continue;
    const size_t kv = line.find(":="), colon = line.find(':');
    if (colon == std::string::npos) {
      throw InputError("malformed NRRD header line " + std::to_string(n) + " (no ':')");
    }
    if (kv == colon) continue;  // <key>:=<value>, not used here
    std::string name;
    for (char c : lower(line.substr(0, colon))) {
      if (!is_space(c)) name.push_back(c);
    }
    const std::string desc = trim(line.substr(colon + 1));
    if (name == "datafile" && desc.compare(0, 4, "LIST") == 0) {
      throw InputError("NRRD 'data file: LIST' (several data files) is not supported");
    }
    if (!h.fields.emplace(name, desc).second) {
      throw InputError("duplicate NRRD field '" + trim(line.substr(0, colon)) + "'");
    }
  }
  return h;
}

struct TypeName {
  const char* name;
  PixelType type;
};
constexpr TypeName kTypeNames[] = {
    {"signed char", PixelType::kI8},
    {"int8", PixelType::kI8},
    {"int8_t", PixelType::kI8},
    {"uchar", PixelType::kU8},
    {"unsigned char", PixelType::kU8},
    {"uint8", PixelType::kU8},
    {"uint8_t", PixelType::kU8},
    {"short", PixelType::kI16},
    {"short int", PixelType::kI16},
    {"signed short", PixelType::kI16},
    {"signed short int", PixelType::kI16},
    {"int16", PixelType::kI16},
    {"int16_t", PixelType::kI16},
    {"ushort", PixelType::kU16},
    {"unsigned short", PixelType::kU16},
    {"unsigned short int", PixelType::kU16},
    {"uint16", PixelType::kU16},
    {"uint16_t", PixelType::kU16},
    {"int", PixelType::kI32},
    {"signed int", PixelType::kI32},
    {"int32", PixelType::kI32},
    {"int32_t", PixelType::kI32},
    {"uint", PixelType::kU32},
    {"unsigned int", PixelType::kU32},
    {"uint32", PixelType::kU32},
    {"uint32_t", PixelType::kU32},
    {"longlong", PixelType::kI64},
    {"long long", PixelType::kI64},
    {"long long int", PixelType::kI64},
    {"signed long long", PixelType::kI64},
    {"signed long long int", PixelType::kI64},
    {"int64", PixelType::kI64},
    {"int64_t", PixelType::kI64},
    {"ulonglong", PixelType::kU64},
    {"unsigned long long", PixelType::kU64},
    {"unsigned long long int", PixelType::kU64},
    {"uint64", PixelType::kU64},
    {"uint64_t", PixelType::kU64},
    {"float", PixelType::kF32},
    {"double", PixelType::kF64},
};

PixelType pixel_type_of(const std::string& desc) {
  std::string name;
  for (const std::string& w : split_words(lower(desc))) name += (name.empty() ? "" : " ") + w;
  for (const TypeName& t : kTypeNames) {
    if (name == t.name) return t.type;
  }
  throw InputError("unsupported NRRD type '" + desc + "'");
}

// Per-axis field: exactly `dim` words.
std::vector<std::string> axis_words(const Header& h, const char* name, const char* shown, int dim) {
  const std::string* v = h.get(name);
  if (!v) return {};
  std::vector<std::string> w = split_words(*v);
  if (static_cast<int>(w.size()) != dim) {
    throw InputError(std::string("NRRD '") + shown + "' has " + std::to_string(w.size()) +
                     " values for dimension " + std::to_string(dim));
  }
  return w;
}

// "space directions": per axis "none" or a vector "(a,b,c)".
std::vector<std::optional<std::vector<double>>> space_directions(const std::string& desc, int dim) {
  std::vector<std::optional<std::vector<double>>> out;
  size_t i = 0, space_dim = 0;
  for (;;) {
    while (i < desc.size() && is_space(desc[i])) ++i;
    if (i == desc.size()) break;
    if (desc[i] != '(') {
      size_t e = i;
      while (e < desc.size() && !is_space(desc[e])) ++e;
      const std::string word = desc.substr(i, e - i);
      if (lower(word) != "none") bad_field("space directions", desc);
      out.emplace_back();
      i = e;
      continue;
    }
    const size_t close = desc.find(')', i);
    if (close == std::string::npos) bad_field("space directions", desc);
    std::vector<double> v;
    std::string inner = desc.substr(i + 1, close - i - 1);
    for (size_t b = 0;;) {
      const size_t comma = inner.find(',', b);
      double x = 0;
      const std::string part = trim(inner.substr(b, comma - b));
      if (!parse_number(part, x)) bad_field("space directions", desc);
      v.push_back(x);
      if (comma == std::string::npos) break;
      b = comma + 1;
    }
    if (space_dim == 0) space_dim = v.size();
    if (v.size() != space_dim) bad_field("space directions", desc);
    out.emplace_back(std::move(v));
    i = close + 1;
  }
  if (static_cast<int>(out.size()) != dim) {
    throw InputError("NRRD 'space directions' has " + std::to_string(out.size()) +
                     " values for dimension " + std::to_string(dim));
  }
  return out;
}

// Quoted strings ("mm" "mm"), or plain words when there are no quotes.
std::vector<std::string> quoted_strings(const std::string& desc) {
  if (desc.find('"') == std::string::npos) return split_words(desc);
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    const size_t open = desc.find('"', i);
    if (open == std::string::npos) break;
    std::string s;
    size_t j = open + 1;
    for (; j < desc.size() && desc[j] != '"'; ++j) {
      if (desc[j] == '\\' && j + 1 < desc.size()) ++j;
      s.push_back(desc[j]);
    }
    if (j == desc.size()) bad_field("units", desc);  // unterminated string
    out.push_back(std::move(s));
    i = j + 1;
  }
  return out;
}

// "mm", "um" or "m" (as Geometry names them) for a unit string, else "".
std::string unit_name(const std::string& unit) {
  const std::string u = lower(trim(unit));
  for (const char* mm : {"mm", "millimeter", "millimeters", "millimetre", "millimetres"}) {
    if (u == mm) return "mm";
  }
  for (const char* um : {"um", "\xc2\xb5m", "\xce\xbcm", "micron", "microns", "micrometer",
                         "micrometers", "micrometre", "micrometres"}) {
    if (u == um) return "um";
  }
  for (const char* m : {"m", "meter", "meters", "metre", "metres"}) {
    if (u == m) return "m";
  }
  return "";
}

// The unit shared by all `units` (skipping none), or "" when they differ or are unknown.
std::string common_unit(const std::vector<std::string>& units) {
  if (units.empty()) return "";
  for (const std::string& u : units) {
    if (lower(trim(u)) != lower(trim(units[0]))) return "";
  }
  return unit_name(units[0]);
}

bool is_domain_kind(const std::string& kind) {
  const std::string k = lower(kind);
  return k == "domain" || k == "space" || k == "time";
}

bool is_unknown_kind(const std::string& kind) {
  return kind == "???" || lower(kind) == "none";
}

// Offset just after `lines` newlines from `offset` in `path`.
int64_t skip_lines(const std::string& path, int64_t offset, int64_t lines) {
  if (lines == 0) return offset;
  const FilePtr f = open_regular(path, "NRRD data file " + path);
  if (fseeko(f.get(), offset, SEEK_SET) != 0) throw InputError("cannot read: " + errno_text());
  for (int64_t n = 0; n < lines;) {
    const int c = std::getc(f.get());
    if (c == EOF) {
      if (std::ferror(f.get())) throw InputError("cannot read: " + errno_text());
      throw InputError("truncated NRRD data: the file ends within the " + std::to_string(lines) +
                       " lines of 'line skip'");
    }
    if (c == '\n') ++n;
  }
  const int64_t pos = ftello(f.get());
  if (pos < 0) throw InputError("cannot read: " + errno_text());
  return pos;
}

template <typename T>
void store_as(uint8_t* dst, T v) {
  std::memcpy(dst, &v, sizeof v);
}

template <typename T>
bool store_int(const std::string& word, uint8_t* dst) {
  T v = 0;
  if (!parse_number(word, v)) return false;  // from_chars rejects values out of T's range
  store_as(dst, v);
  return true;
}

bool store_text_value(PixelType type, const std::string& word, uint8_t* dst) {
  double d = 0;
  switch (type) {
    case PixelType::kU8:
      return store_int<uint8_t>(word, dst);
    case PixelType::kI8:
      return store_int<int8_t>(word, dst);
    case PixelType::kU16:
      return store_int<uint16_t>(word, dst);
    case PixelType::kI16:
      return store_int<int16_t>(word, dst);
    case PixelType::kU32:
      return store_int<uint32_t>(word, dst);
    case PixelType::kI32:
      return store_int<int32_t>(word, dst);
    case PixelType::kU64:
      return store_int<uint64_t>(word, dst);
    case PixelType::kI64:
      return store_int<int64_t>(word, dst);
    case PixelType::kF32:
      if (!parse_number(word, d)) return false;
      store_as(dst, static_cast<float>(d));
      return true;
    case PixelType::kF64:
      if (!parse_number(word, d)) return false;
      store_as(dst, d);
      return true;
  }
  return false;
}

// Text-encoded data: values separated by whitespace (or commas) from `offset` on.
Bytes read_text_data(const std::string& path, int64_t offset, int64_t count, PixelType type) {
  const FilePtr f = open_regular(path, "NRRD data file " + path);
  // Each value takes at least a digit and a separator: refuse to allocate for more than that.
  const int64_t file_size = detail::file_size(fileno(f.get()));
  if ((file_size - offset + 1) / 2 < count) {
    throw InputError(
        "truncated NRRD data: expected " + std::to_string(count) + " text values, more than the " +
        std::to_string(std::max<int64_t>(0, file_size - offset)) + " bytes left can hold");
  }
  if (fseeko(f.get(), offset, SEEK_SET) != 0) throw InputError("cannot read: " + errno_text());
  const int size = pixel_type_size(type);
  Bytes out(static_cast<size_t>(count * size));
  std::string word;
  int64_t n = 0;
  for (int c = 0; n < count && c != EOF;) {
    c = std::getc(f.get());
    if (c != EOF && !is_space(static_cast<char>(c)) && c != ',') {
      if (word.size() > 64) throw InputError("invalid NRRD text value '" + word + "...'");
      word.push_back(static_cast<char>(c));
      continue;
    }
    if (word.empty()) continue;
    if (!store_text_value(type, word, out.data() + n * size)) {
      throw InputError("invalid NRRD text value '" + word + "' for type " + pixel_type_name(type));
    }
    word.clear();
    ++n;
  }
  if (std::ferror(f.get())) throw InputError("cannot read: " + errno_text());
  if (n < count) {
    throw InputError("truncated NRRD data: expected " + std::to_string(count) + " values, got " +
                     std::to_string(n));
  }
  return out;
}

// The spatial axes' geometry (axes first to last - 1 of the array): shape; spacing, from the
// length of the space direction, else the magnitude of the "spacings" entry, else 1; and the
// common unit.
void read_geometry(const Header& h, const std::vector<int64_t>& sizes,
                   const std::vector<std::optional<std::vector<double>>>& dirs,
                   const std::vector<std::string>& spacings, int first, int last, Geometry& g) {
  const int dim = static_cast<int>(sizes.size());
  const int spatial = last - first;
  g.ndim = spatial;
  for (int i = 0; i < spatial; ++i) {
    const int a = first + i;
    g.shape[i] = sizes[a];
    if (!dirs.empty() && dirs[a]) {
      double sum = 0;
      for (double x : *dirs[a]) sum += x * x;
      const double norm = std::sqrt(sum);
      if (!(std::isfinite(norm) && norm > 0)) {
        throw InputError("invalid NRRD space direction for axis " + std::to_string(a));
      }
      g.spacing[i] = norm;
    } else if (!spacings.empty()) {
      double s = 0;
      if (!parse_number(spacings[a], s)) bad_field("spacings", spacings[a]);
      s = std::fabs(s);
      g.spacing[i] = std::isfinite(s) && s > 0 ? s : 1.0;
    }
  }
  if (const std::string* u = h.get("spaceunits")) {
    g.spacing_unit = common_unit(quoted_strings(*u));
  } else if (const std::string* u = h.get("units")) {
    const std::vector<std::string> units = quoted_strings(*u);
    if (static_cast<int>(units.size()) == dim) {
      g.spacing_unit = common_unit({units.begin() + first, units.begin() + last});
    }
  }
  g.format = "nrrd";
}

struct Encoding {
  bool text = false, compressed = false;
};

Encoding encoding_of(const Header& h) {
  const std::string encoding = lower(h.require("encoding", "encoding"));
  Encoding e;
  if (encoding == "gzip" || encoding == "gz") {
    e.compressed = true;
  } else if (encoding == "text" || encoding == "txt" || encoding == "ascii") {
    e.text = true;
  } else if (encoding == "bzip2" || encoding == "bz2") {
    throw InputError("bzip2-encoded NRRD is not supported");
  } else if (encoding == "hex") {
    throw InputError("hex-encoded NRRD is not supported");
  } else if (encoding != "raw") {
    throw InputError("unknown NRRD encoding '" + encoding + "'");
  }
  return e;
}

// True for big-endian data; the field is needed for multi-byte binary data only.
bool big_endian_of(const Header& h, const Encoding& enc, PixelType type) {
  if (const std::string* e = h.get("endian")) {
    const std::string v = lower(*e);
    if (v != "little" && v != "big") bad_field("endian", *e);
    return v == "big";
  }
  if (!enc.text && pixel_type_size(type) > 1) {
    throw InputError("NRRD header has no 'endian' field (needed for " +
                     std::string(pixel_type_name(type)) + " data)");
  }
  return false;
}

// The axis sizes, `dimension` of them, each at least 1.
std::vector<int64_t> sizes_of(const Header& h) {
  const std::string& dim_desc = h.require("dimension", "dimension");
  const int64_t dim64 = parse_int("dimension", dim_desc);
  if (dim64 < 1 || dim64 > kMaxDimension) bad_field("dimension", dim_desc);
  const int dim = static_cast<int>(dim64);
  h.require("sizes", "sizes");
  std::vector<int64_t> sizes;
  for (const std::string& w : axis_words(h, "sizes", "sizes", dim)) {
    sizes.push_back(parse_int("sizes", w));
    if (sizes.back() < 1) bad_field("sizes", h.fields.at("sizes"));
  }
  return sizes;
}

// Fills out.channels and out.geom from the axes: an optional leading channel axis, then the
// spatial ones.
void read_axes(const Header& h, const std::vector<int64_t>& sizes, RawImage& out) {
  const int dim = static_cast<int>(sizes.size());
  const std::vector<std::string> kinds = axis_words(h, "kinds", "kinds", dim);
  std::vector<std::optional<std::vector<double>>> dirs;
  if (const std::string* d = h.get("spacedirections")) dirs = space_directions(*d, dim);
  const std::vector<std::string> spacings = axis_words(h, "spacings", "spacings", dim);
  const auto non_spatial = [&](int a) {
    if (!kinds.empty() && !is_domain_kind(kinds[a]) && !is_unknown_kind(kinds[a])) return true;
    return (kinds.empty() || is_unknown_kind(kinds[a])) && !dirs.empty() && !dirs[a];
  };
  const int first = dim > 1 && non_spatial(0) ? 1 : 0;
  if (first == 1) {
    if (sizes[0] > kMaxChannels) bad_field("sizes", h.fields.at("sizes"));
    out.channels = static_cast<int>(sizes[0]);
  }
  int last = dim;  // one past the last spatial axis
  while (last - first > 3 && sizes[last - 1] == 1) --last;
  for (int a = first; a < last; ++a) {
    if (non_spatial(a) && sizes[a] > 1) {
      throw InputError("NRRD axis " + std::to_string(a) + " (size " + std::to_string(sizes[a]) +
                       (kinds.empty() ? std::string() : ", kind " + kinds[a]) +
                       ") is not spatial; only a leading channel axis is supported");
    }
  }
  const int spatial = last - first;
  if (spatial < 2 || spatial > 3) {
    throw InputError("unsupported NRRD image with " + std::to_string(spatial) +
                     " spatial axes (only 2D and 3D images)");
  }
  read_geometry(h, sizes, dirs, spacings, first, last, out.geom);
}

// Where the data is: the attached data after the header, or the data file the header names
// (inside the header's folder unless limits allow otherwise), after "line skip" lines and
// "byte skip" bytes (for gzip, decompressed bytes; -1: the data ends the file).
DataLocation locate_data(const Header& h, const std::string& path, const Encoding& enc,
                         int64_t size, const ReadLimits& limits) {
  DataLocation loc;
  loc.compressed = enc.compressed;
  if (const std::string* data_file = h.get("datafile")) {
    const std::vector<std::string> words = split_words(*data_file);
    if (words.empty()) bad_field("data file", *data_file);
    if (words[0] == "LIST") {
      throw InputError("NRRD 'data file: LIST' (several data files) is not supported");
    }
    if (words.size() > 1 && words[0].find('%') != std::string::npos) {
      throw InputError("NRRD 'data file' pattern '" + *data_file +
                       "' (several data files) is not supported");
    }
    loc.path = resolve_data_file(path, *data_file, limits);
    loc.offset = 0;
  } else {
    if (h.data_offset < 0) {
      throw InputError(
          "NRRD header has no 'data file' field and no attached data (no blank "
          "line after the header)");
    }
    loc.path = path;
    loc.offset = h.data_offset;
  }
  int64_t byte_skip = 0;
  if (const std::string* s = h.get("byteskip")) {
    byte_skip = parse_int("byte skip", *s);
    if (byte_skip < -1) bad_field("byte skip", *s);
    if (byte_skip == -1 && (enc.compressed || enc.text)) {
      throw InputError("NRRD 'byte skip: -1' is only valid with raw encoding");
    }
  }
  if (const std::string* s = h.get("lineskip")) {
    const int64_t lines = parse_int("line skip", *s);
    if (lines < 0) bad_field("line skip", *s);
    if (byte_skip != -1) loc.offset = skip_lines(loc.path, loc.offset, lines);
  }
  if (byte_skip == -1) {
    loc.at_end = true;
  } else if (enc.compressed) {
    checked_add(size, byte_skip, "NRRD byte skip");  // the decompressed bytes to produce
    loc.skip = byte_skip;
  } else {
    loc.offset = checked_add(loc.offset, byte_skip, "NRRD byte skip");
  }
  return loc;
}

}  // namespace

RawImage read_nrrd(const std::string& path, const ReadLimits& limits) {
  const Header h = read_header(path);
  RawImage out;
  out.type = pixel_type_of(h.require("type", "type"));
  const std::vector<int64_t> sizes = sizes_of(h);
  const Encoding enc = encoding_of(h);
  const bool big_endian = big_endian_of(h, enc, out.type);
  read_axes(h, sizes, out);
  const int64_t size = image_bytes(out.geom, out.channels, out.type, limits);

  const DataLocation loc = locate_data(h, path, enc, size, limits);
  if (enc.text) {
    out.bytes = read_text_data(loc.path, loc.offset, out.voxels() * out.channels, out.type);
    out.files[loc.path] = digest_file(loc.path);  // text is parsed a character at a time
    return out;
  }
  out.bytes = read_pixel_data(loc, size, "NRRD", &out.files[loc.path]);
  if (big_endian == host_is_little_endian() && pixel_type_size(out.type) > 1) {
    swap_bytes(out.bytes.data(), out.voxels() * out.channels, pixel_type_size(out.type));
  }
  return out;
}

}  // namespace maskeval::detail
