// MetaImage (ITK MetaIO): .mha with the data after the header (ElementDataFile = LOCAL), and
// .mhd headers whose ElementDataFile names a raw file (.raw, or zlib-compressed .zraw) in their
// folder (or, with --allow-external-data, anywhere). Either extension may take either form.
//
// The header is a list of "Key = Value" lines, keys case-sensitive as MetaIO writes them;
// ElementDataFile is the last one. Keys this reader does not need (Offset, TransformMatrix,
// AnatomicalOrientation, ...) are skipped. Spacing is in millimetres: MetaImage records no unit,
// and ITK and the tools that write MetaImage take world coordinates to be mm.
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "io/formats.h"

namespace maskeval::detail {
namespace {

constexpr int kMaxChannels = 1 << 16;
constexpr int kMaxHeaderLines = 100000;

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const size_t b = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

[[noreturn]] void bad_field(const std::string& key, const std::string& value) {
  throw InputError("invalid MetaImage " + key + " '" + value + "'");
}

// A whole word as a number of type T (a leading '+' allowed), or InputError naming the key.
template <class T>
T parse_number(const std::string& key, const std::string& word) {
  T v = 0;
  const char* b = word.data();
  const char* e = b + word.size();
  if (b != e && *b == '+') ++b;
  const auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e) bad_field(key, word);
  return v;
}

int64_t parse_int(const std::string& key, const std::string& word) {
  return parse_number<int64_t>(key, word);
}

double parse_real(const std::string& key, const std::string& word) {
  return parse_number<double>(key, word);
}

bool parse_bool(const std::string& key, const std::string& value) {
  const std::string v = lower(value);
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  bad_field(key, value);
}

struct ElementType {
  const char* name;
  PixelType type;
};
// MetaIO's MET_LONG/MET_ULONG are 4 bytes (its MET_ValueTypeSize table), whatever the size of a
// C long on the platform that wrote the file.
constexpr ElementType kElementTypes[] = {
    {"MET_UCHAR", PixelType::kU8},       {"MET_CHAR", PixelType::kI8},
    {"MET_USHORT", PixelType::kU16},     {"MET_SHORT", PixelType::kI16},
    {"MET_UINT", PixelType::kU32},       {"MET_INT", PixelType::kI32},
    {"MET_ULONG", PixelType::kU32},      {"MET_LONG", PixelType::kI32},
    {"MET_ULONG_LONG", PixelType::kU64}, {"MET_LONG_LONG", PixelType::kI64},
    {"MET_FLOAT", PixelType::kF32},      {"MET_DOUBLE", PixelType::kF64}};

PixelType element_type(const std::string& value) {
  for (const ElementType& t : kElementTypes) {
    if (value == t.name) return t.type;
  }
  throw InputError("unsupported MetaImage ElementType '" + value + "'");
}

// The header fields this reader uses, as read.
struct Header {
  std::string object_type, ndims, dim_size, spacing, element_size, element_type, channels,
      byte_order_msb, element_byte_order_msb, compressed, compressed_size, header_size, binary_data,
      data_file;
  bool has_data_file = false;
  int64_t end = 0;  // offset of the byte after the ElementDataFile line
};

Header read_header(const std::string& path) {
  const FilePtr f = open_regular(path, "");
  Header h;
  struct Key {
    const char* name;
    std::string* value;
  };
  const Key keys[] = {{"ObjectType", &h.object_type},
                      {"NDims", &h.ndims},
                      {"DimSize", &h.dim_size},
                      {"ElementSpacing", &h.spacing},
                      {"ElementSize", &h.element_size},
                      {"ElementType", &h.element_type},
                      {"ElementNumberOfChannels", &h.channels},
                      {"BinaryDataByteOrderMSB", &h.byte_order_msb},
                      {"ElementByteOrderMSB", &h.element_byte_order_msb},
                      {"CompressedData", &h.compressed},
                      {"CompressedDataSize", &h.compressed_size},
                      {"HeaderSize", &h.header_size},
                      {"BinaryData", &h.binary_data},
                      {"ElementDataFile", &h.data_file}};
  std::string line;
  bool any_key = false;
  for (int n = 1; read_header_line(f.get(), line, 1 << 16); ++n) {
    if (n > kMaxHeaderLines) throw InputError("MetaImage header too long");
    if (trim(line).empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      if (!any_key) {
        throw InputError("not a MetaImage header (line " + std::to_string(n) +
                         " is not Key = Value)");
      }
      throw InputError("malformed MetaImage header line " + std::to_string(n) +
                       " (not Key = Value; is the ElementDataFile line missing?)");
    }
    any_key = true;
    const std::string key = trim(line.substr(0, eq));
    for (const Key& k : keys) {
      if (key == k.name) *k.value = trim(line.substr(eq + 1));
    }
    if (key == "ElementDataFile") {
      h.has_data_file = true;
      h.end = ftello(f.get());
      if (h.end < 0) throw InputError("cannot read: " + errno_text());
      return h;
    }
  }
  throw InputError("MetaImage header has no ElementDataFile (it must be the last key)");
}

// The image's shape and spacing from NDims, DimSize and ElementSpacing (or ElementSize).
Geometry read_geometry(const Header& h) {
  Geometry g;
  const int64_t ndims = parse_int("NDims", h.ndims);
  if (ndims < 2 || ndims > 4) {
    throw InputError("unsupported MetaImage NDims = " + h.ndims + " (only 2D and 3D images)");
  }
  const std::vector<std::string> dims = split_words(h.dim_size);
  if (static_cast<int64_t>(dims.size()) != ndims) {
    throw InputError("MetaImage DimSize has " + std::to_string(dims.size()) +
                     " values for NDims = " + std::to_string(ndims));
  }
  std::array<int64_t, 4> shape{1, 1, 1, 1};
  for (int64_t a = 0; a < ndims; ++a) {
    shape[a] = parse_int("DimSize", dims[a]);
    if (shape[a] < 1) bad_field("DimSize", h.dim_size);
  }
  if (ndims == 4 && shape[3] != 1) {
    throw InputError("4D MetaImage with " + std::to_string(shape[3]) +
                     " time points is not supported");
  }
  g.ndim = ndims == 2 ? 2 : 3;
  g.shape = {shape[0], shape[1], shape[2]};

  const std::string& spacing_key = h.spacing.empty() ? "ElementSize" : "ElementSpacing";
  const std::string& spacing = h.spacing.empty() ? h.element_size : h.spacing;
  if (!spacing.empty()) {
    const std::vector<std::string> s = split_words(spacing);
    if (static_cast<int64_t>(s.size()) != ndims) {
      throw InputError("MetaImage " + spacing_key + " has " + std::to_string(s.size()) +
                       " values for NDims = " + std::to_string(ndims));
    }
    for (int a = 0; a < g.ndim; ++a) {
      const double v = parse_real(spacing_key, s[a]);
      if (!(std::isfinite(v) && v > 0)) bad_field(spacing_key, s[a]);
      g.spacing[a] = v;
    }
  }
  g.spacing_unit = "mm";  // the MetaImage convention (see the top of the file)
  g.format = "metaimage";
  return g;
}

// Where the data is: after the header (LOCAL) or in the named file (inside the header's folder
// unless limits allow otherwise), at HeaderSize or at the end of the file (HeaderSize = -1).
DataLocation locate_data(const Header& h, const std::string& path, const ReadLimits& limits) {
  DataLocation loc;
  loc.compressed = !h.compressed.empty() && parse_bool("CompressedData", h.compressed);
  if (loc.compressed && !h.compressed_size.empty()) {
    loc.compressed_size = parse_int("CompressedDataSize", h.compressed_size);
    if (loc.compressed_size < 0) bad_field("CompressedDataSize", h.compressed_size);
  }
  const std::vector<std::string> file_words = split_words(h.data_file);
  if (file_words[0] == "LIST") {
    throw InputError("MetaImage ElementDataFile = LIST (one file per slice) is not supported");
  }
  if (h.data_file.find('%') != std::string::npos) {
    throw InputError("MetaImage ElementDataFile pattern '" + h.data_file +
                     "' (one file per slice) is not supported");
  }
  const bool local = lower(h.data_file) == "local";
  if (local) {
    loc.path = path;
    loc.offset = h.end;
  } else {
    loc.path = resolve_data_file(path, h.data_file, limits);
  }
  if (!h.header_size.empty()) {
    // -1: the data ends the file; otherwise the offset of the data from the start of the file
    // (for LOCAL data, the .mha itself, as MetaIO reads it).
    const int64_t skip = parse_int("HeaderSize", h.header_size);
    if (skip == -1) {
      if (loc.compressed && loc.compressed_size < 0) {
        throw InputError("MetaImage HeaderSize = -1 with compressed data needs CompressedDataSize");
      }
      loc.at_end = true;
    } else if (skip < 0) {
      bad_field("HeaderSize", h.header_size);
    } else if (skip > 0) {
      if (local && skip < h.end) {
        throw InputError("MetaImage HeaderSize " + h.header_size + " points into the header");
      }
      loc.offset = skip;
    }
  }
  return loc;
}

}  // namespace

RawImage read_metaimage(const std::string& path, const ReadLimits& limits) {
  const Header h = read_header(path);
  const auto require = [](const std::string& value, const char* key) {
    if (value.empty()) throw InputError(std::string("MetaImage header has no ") + key);
  };
  if (!h.object_type.empty() && h.object_type != "Image") {
    throw InputError("MetaImage ObjectType '" + h.object_type + "' is not Image");
  }
  if (!h.binary_data.empty() && !parse_bool("BinaryData", h.binary_data)) {
    throw InputError("ASCII MetaImage data (BinaryData = False) is not supported");
  }
  require(h.ndims, "NDims");
  require(h.dim_size, "DimSize");
  require(h.element_type, "ElementType");
  require(h.data_file, "ElementDataFile value");

  RawImage out;
  out.geom = read_geometry(h);
  out.type = element_type(h.element_type);
  if (!h.channels.empty()) {
    const int64_t c = parse_int("ElementNumberOfChannels", h.channels);
    if (c < 1 || c > kMaxChannels) bad_field("ElementNumberOfChannels", h.channels);
    out.channels = static_cast<int>(c);
  }
  bool msb = false;
  if (!h.byte_order_msb.empty()) {
    msb = parse_bool("BinaryDataByteOrderMSB", h.byte_order_msb);
  } else if (!h.element_byte_order_msb.empty()) {
    msb = parse_bool("ElementByteOrderMSB", h.element_byte_order_msb);
  }
  const int64_t size = image_bytes(out.geom, out.channels, out.type, limits);

  const DataLocation loc = locate_data(h, path, limits);
  out.bytes = read_pixel_data(loc, size, "MetaImage", &out.files[loc.path]);
  if (msb == host_is_little_endian() && pixel_type_size(out.type) > 1) {
    swap_bytes(out.bytes.data(), out.voxels() * out.channels, pixel_type_size(out.type));
  }
  return out;
}

}  // namespace maskeval::detail
