// safetensors reading (mmap + header validation) and writing; see safetensors.hpp for the contract.
// Every header field is checked before any data byte is read: the file may be hostile.
#include "coordexp/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <tuple>

#include "coordexp/io/float16.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

struct DTypeInfo {
  SafetensorsDType dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, 13> kDTypes = {{
    {SafetensorsDType::kBool, "BOOL", 1},
    {SafetensorsDType::kU8, "U8", 1},
    {SafetensorsDType::kI8, "I8", 1},
    {SafetensorsDType::kI16, "I16", 2},
    {SafetensorsDType::kU16, "U16", 2},
    {SafetensorsDType::kI32, "I32", 4},
    {SafetensorsDType::kU32, "U32", 4},
    {SafetensorsDType::kI64, "I64", 8},
    {SafetensorsDType::kU64, "U64", 8},
    {SafetensorsDType::kF16, "F16", 2},
    {SafetensorsDType::kBF16, "BF16", 2},
    {SafetensorsDType::kF32, "F32", 4},
    {SafetensorsDType::kF64, "F64", 8},
}};

const DTypeInfo& info_of(SafetensorsDType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info;
  throw std::logic_error("safetensors: unhandled dtype enum value");
}

std::string in_quotes(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// Element count of `shape` times `elem_size`, or nullopt on overflow of uint64.
std::optional<uint64_t> checked_nbytes(const std::vector<int64_t>& shape, size_t elem_size) {
  uint64_t n = elem_size;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  return n;
}

template <typename T>
void widen(const std::byte* src, std::span<float> out) {
  for (size_t i = 0; i < out.size(); ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
  }
}

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDType dtype) {
  return info_of(dtype).name;
}

size_t safetensors_dtype_size(SafetensorsDType dtype) {
  return info_of(dtype).size;
}

std::optional<SafetensorsDType> parse_safetensors_dtype(std::string_view name) {
  for (const auto& info : kDTypes)
    if (info.name == name) return info.dtype;
  return std::nullopt;
}

int64_t TensorView::numel() const {
  // Multiplied as uint64 so it wraps instead of overflowing: the reader accepts zero-element shapes such
  // as [2^32, 2^32 - 1, 0] whose partial products pass INT64_MAX; a validated view's full product fits.
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return static_cast<int64_t>(n);
}

void copy_to_float32(const TensorView& view, std::span<float> out) {
  COORDEXP_CHECK_ARG(static_cast<int64_t>(out.size()) == view.numel(), "out",
                     std::to_string(view.numel()) + " floats", std::to_string(out.size()));
  const std::byte* src = view.data;
  const size_t n = out.size();
  switch (view.dtype) {
    case SafetensorsDType::kF32:
      if (n) std::memcpy(out.data(), src, n * 4);
      return;
    case SafetensorsDType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = half_to_float(h);
      }
      return;
    case SafetensorsDType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, src + 2 * i, 2);
        out[i] = bfloat16_to_float(b);
      }
      return;
    case SafetensorsDType::kF64:
      widen<double>(src, out);
      return;
    case SafetensorsDType::kBool:
      for (size_t i = 0; i < n; ++i) out[i] = src[i] != std::byte{0} ? 1.f : 0.f;
      return;
    case SafetensorsDType::kU8:
      widen<uint8_t>(src, out);
      return;
    case SafetensorsDType::kI8:
      widen<int8_t>(src, out);
      return;
    case SafetensorsDType::kI16:
      widen<int16_t>(src, out);
      return;
    case SafetensorsDType::kU16:
      widen<uint16_t>(src, out);
      return;
    case SafetensorsDType::kI32:
      widen<int32_t>(src, out);
      return;
    case SafetensorsDType::kU32:
      widen<uint32_t>(src, out);
      return;
    case SafetensorsDType::kI64:
      widen<int64_t>(src, out);
      return;
    case SafetensorsDType::kU64:
      widen<uint64_t>(src, out);
      return;
  }
}

std::vector<float> to_float32(const TensorView& view) {
  std::vector<float> out(static_cast<size_t>(view.numel()));
  copy_to_float32(view, out);
  return out;
}

// ---------------------------------------------------------------------------------------------- reading

namespace {

struct FileMapping {
  const std::byte* base;  // the whole file, read-only
  size_t size;            // file size in bytes, at least 8
};

// Opens `file` and maps all of it; it must be a regular file of at least 8 bytes (the header length).
FileMapping map_whole_file(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_input_error(file, "a readable safetensors file", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_input_error(file, "a regular file", "something else (fstat failed or not a regular file)");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw_input_error(file, "at least 8 bytes (the header length)", std::to_string(size) + " bytes",
                      "the file is truncated");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps its own reference
  if (map == MAP_FAILED) throw_input_error(file, "a mappable file", std::strerror(errno));
  return {static_cast<const std::byte*>(map), size};
}

// The header length from the first 8 bytes, checked against the cap and against the file's size.
uint64_t read_header_length(const FileMapping& mapping, const std::string& file) {
  // The length is little-endian on disk; assemble it byte by byte so the host's order does not matter.
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | std::to_integer<uint64_t>(mapping.base[i]);
  if (header_len > kSafetensorsMaxHeaderBytes)
    throw_input_error(file + ": header length", "at most " + std::to_string(kSafetensorsMaxHeaderBytes),
                      std::to_string(header_len));
  if (header_len > mapping.size - 8)
    throw_input_error(file + ": header length",
                      "at most the file size minus 8 (" + std::to_string(mapping.size - 8) + ")",
                      std::to_string(header_len), "the file is truncated");
  return header_len;
}

// Parses the header text into a JSON object, rejecting duplicate top-level keys (nlohmann would silently
// keep the last one).
nlohmann::json parse_header(const char* text, uint64_t header_len, const std::string& file) {
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json::parser_callback_t on_event = [&](int depth, nlohmann::json::parse_event_t event,
                                                   nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + header_len, on_event);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(file + ": header", "valid JSON", e.what());
  }
  if (!header.is_object()) throw_input_error(file + ": header", "a JSON object", header.type_name());
  if (!duplicate.empty())
    throw_input_error(file + ": header", "unique keys", "key " + in_quotes(duplicate) + " twice");
  return header;
}

// The "__metadata__" entry: an object of strings.
std::map<std::string, std::string> read_metadata(const nlohmann::json& value, const std::string& file) {
  if (!value.is_object())
    throw_input_error(file + ": __metadata__", "an object of strings", value.type_name());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) throw_input_error(file + ": __metadata__." + key, "a string", v.type_name());
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

// A tensor entry must be an object with (at least) the three fields.
void check_entry_fields(const nlohmann::json& value, const std::string& where) {
  if (!value.is_object())
    throw_input_error(where, "an object {dtype, shape, data_offsets}", value.type_name());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!value.contains(field)) throw_input_error(where, std::string("field \"") + field + "\"", "none");
}

// The entry's "dtype": one of the format's type names.
SafetensorsDType entry_dtype(const nlohmann::json& jdtype, const std::string& where) {
  if (!jdtype.is_string()) throw_input_error(where + ".dtype", "a string", jdtype.type_name());
  const auto dtype = parse_safetensors_dtype(jdtype.get<std::string>());
  if (!dtype)
    throw_input_error(where + ".dtype", "one of BOOL U8 I8 I16 U16 I32 U32 I64 U64 F16 BF16 F32 F64",
                      in_quotes(jdtype.get<std::string>()));
  return *dtype;
}

// The entry's "shape": an array of integers in [0, INT64_MAX].
std::vector<int64_t> entry_shape(const nlohmann::json& jshape, const std::string& where) {
  if (!jshape.is_array())
    throw_input_error(where + ".shape", "an array of non-negative integers", jshape.type_name());
  std::vector<int64_t> shape;
  for (const auto& d : jshape) {
    // number_unsigned only: negative numbers parse as number_integer, fractions as number_float.
    if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      throw_input_error(where + ".shape", "non-negative integers", d.dump());
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

// The entry's "data_offsets" [begin, end], relative to the data section and inside it.
std::pair<uint64_t, uint64_t> entry_data_offsets(const nlohmann::json& joff, uint64_t data_size,
                                                 const std::string& where) {
  if (!joff.is_array() || joff.size() != 2 || !joff[0].is_number_unsigned() || !joff[1].is_number_unsigned())
    throw_input_error(where + ".data_offsets", "[begin, end] with non-negative integers", joff.dump());
  const auto begin = joff[0].get<uint64_t>();
  const auto end = joff[1].get<uint64_t>();
  if (begin > end) throw_input_error(where + ".data_offsets", "begin <= end", joff.dump());
  if (end > data_size)
    throw_input_error(where + ".data_offsets", "end <= data section size " + std::to_string(data_size),
                      std::to_string(end), "offsets past the end of the file: truncated or corrupt");
  return {begin, end};
}

// The entry's byte span must be exactly its element count times the dtype's size.
void check_entry_nbytes(SafetensorsDType dtype, const std::vector<int64_t>& shape, uint64_t span_bytes,
                        const nlohmann::json& jshape, const std::string& where) {
  const auto nbytes = checked_nbytes(shape, safetensors_dtype_size(dtype));
  if (!nbytes) throw_input_error(where + ".shape", "a size that fits in 64 bits", jshape.dump());
  if (*nbytes != span_bytes)
    throw_input_error(where,
                      "data_offsets span equal to shape x dtype size (" + std::to_string(*nbytes) + " bytes)",
                      std::to_string(span_bytes) + " bytes");
}

struct TensorRange {
  const std::string* name;
  uint64_t begin, end;  // relative to the data section
};

// The ranges must tile [0, data_size) exactly: sorted by begin, each starts where the previous ended.
void check_ranges_tile(std::vector<TensorRange> ranges, uint64_t data_size, const std::string& file) {
  std::sort(ranges.begin(), ranges.end(), [](const TensorRange& a, const TensorRange& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t covered = 0;
  for (const TensorRange& r : ranges) {
    if (r.begin < covered)
      throw_input_error(
          file + ": tensor " + in_quotes(*r.name) + ".data_offsets",
          "a range not overlapping the previous tensor's (ending at " + std::to_string(covered) + ")",
          "begin " + std::to_string(r.begin));
    if (r.begin > covered)
      throw_input_error(file + ": tensor " + in_quotes(*r.name) + ".data_offsets",
                        "a range starting where the previous tensor's ends (" + std::to_string(covered) + ")",
                        "begin " + std::to_string(r.begin), "the data section has a gap");
    covered = r.end;
  }
  if (covered != data_size)
    throw_input_error(file + ": data section",
                      "every byte covered by a tensor (" + std::to_string(data_size) + " bytes)",
                      std::to_string(covered) + " bytes covered", "trailing bytes after the last tensor");
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
  const std::string file = path.string();
  const FileMapping mapping = map_whole_file(file);
  base_ = mapping.base;
  size_ = mapping.size;
  try {
    const uint64_t header_len = read_header_length(mapping, file);
    data_begin_ = 8 + header_len;
    const uint64_t data_size = size_ - data_begin_;
    const nlohmann::json header = parse_header(reinterpret_cast<const char*>(base_ + 8), header_len, file);
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        metadata_ = read_metadata(value, file);
        continue;
      }
      const std::string where = file + ": tensor " + in_quotes(name);
      check_entry_fields(value, where);
      Entry entry{entry_dtype(value["dtype"], where), entry_shape(value["shape"], where), 0, 0};
      std::tie(entry.begin, entry.end) = entry_data_offsets(value["data_offsets"], data_size, where);
      check_entry_nbytes(entry.dtype, entry.shape, entry.end - entry.begin, value["shape"], where);
      entries_.emplace(name, std::move(entry));
    }
    std::vector<TensorRange> ranges;
    for (const auto& [name, entry] : entries_) ranges.push_back({&name, entry.begin, entry.end});
    check_ranges_tile(std::move(ranges), data_size, file);
  } catch (...) {
    unmap();
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  unmap();
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      data_begin_(other.data_begin_),
      entries_(std::move(other.entries_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    data_begin_ = other.data_begin_;
    entries_ = std::move(other.entries_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

void SafetensorsFile::release(const TensorView& view) const noexcept {
  if (!base_ || view.data < base_ || view.data + view.nbytes > base_ + size_) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto begin = (reinterpret_cast<uintptr_t>(view.data) + page - 1) / page * page;
  auto end = reinterpret_cast<uintptr_t>(view.data + view.nbytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // a hint only
}

void SafetensorsFile::unmap() noexcept {
  if (base_) ::munmap(const_cast<std::byte*>(base_), size_);
  base_ = nullptr;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

TensorView SafetensorsFile::view(std::string_view name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end())
    throw_input_error(path_.string() + ": tensor " + in_quotes(name), "present in the file", "no such tensor",
                      "the checkpoint does not match the model");
  const Entry& e = it->second;
  return TensorView{e.dtype, e.shape, base_ + data_begin_ + e.begin, static_cast<size_t>(e.end - e.begin)};
}

// ---------------------------------------------------------------------------------------------- writing

std::optional<uint64_t> safetensors_data_size(const SafetensorsTensorToWrite& t) {
  if (!t.fill) return t.bytes.size();
  return checked_nbytes(t.shape, safetensors_dtype_size(t.dtype));
}

void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsTensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string file = path.string();
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return safetensors_dtype_size(tensors[a].dtype) > safetensors_dtype_size(tensors[b].dtype);
  });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const auto& t = tensors[i];
    const std::string where = file + ": tensor " + in_quotes(t.name);
    if (t.name == "__metadata__" || header.contains(t.name))
      throw_input_error(where, "a unique tensor name other than __metadata__", "a duplicate");
    for (int64_t d : t.shape)
      if (d < 0) throw_input_error(where + ".shape", "non-negative dims", std::to_string(d));
    const auto nbytes = checked_nbytes(t.shape, safetensors_dtype_size(t.dtype));
    if (!nbytes || (!t.fill && *nbytes != t.bytes.size()))
      throw_input_error(where, "bytes matching shape x dtype size",
                        nbytes ? std::to_string(t.bytes.size()) + " bytes" : "a shape whose size overflows");
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + *nbytes}}};
    offset += *nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // spaces are valid trailing JSON whitespace

  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw_input_error(file, "a writable path", "cannot open " + tmp.string());
    std::array<char, 8> len{};
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
    out.write(len.data(), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    std::vector<std::byte> made;  // one `fill` tensor at a time
    for (size_t i : order) {
      std::span<const std::byte> bytes = tensors[i].bytes;
      if (tensors[i].fill) {
        made.assign(*safetensors_data_size(tensors[i]), std::byte{0});
        tensors[i].fill(made);
        bytes = made;
      }
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (tensors[i].fill) std::vector<std::byte>().swap(made);
    }
    out.flush();
    if (!out) throw_input_error(file, "a successful write", "an I/O error (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace coordexp
