// The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON ({name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}), then the
// data section. SafetensorsFile memory-maps a file read-only, validates the whole (untrusted) header before
// any data is touched, and hands out copy-free TensorViews that stay valid while the file object lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coordexp {

// Element types of the format, spelled in files as "BOOL", "U8", ..., "BF16", "F32".
enum class SafetensorsDType { kBool, kU8, kI8, kI16, kU16, kI32, kU32, kI64, kU64, kF16, kBF16, kF32, kF64 };

std::string_view safetensors_dtype_name(SafetensorsDType dtype);
std::optional<SafetensorsDType> parse_safetensors_dtype(std::string_view name);
size_t safetensors_dtype_size(SafetensorsDType dtype);  // bytes per element

// A tensor inside a mapped file: no copy, no ownership. `data` points into the mapping and is only as
// aligned as the file makes it (write_safetensors aligns each tensor to its element size).
struct TensorView {
  SafetensorsDType dtype = SafetensorsDType::kF32;  // element type as stored
  std::vector<int64_t> shape;                       // row-major dims; {} is a scalar
  const std::byte* data = nullptr;                  // first byte of the tensor's data range
  size_t nbytes = 0;                                // numel * dtype size
  int64_t numel() const;                            // product of shape (1 for a scalar)
};

// Converts any numeric view to float32 into `out` (out.size() must equal numel). F16/BF16 widen exactly;
// integer and F64 values are rounded to the nearest float.
void copy_to_float32(const TensorView& view, std::span<float> out);
std::vector<float> to_float32(const TensorView& view);

// Largest header we accept; the reference implementation uses the same 100 MB cap.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws InputError naming the file and the offending tensor/field when the
  // header is malformed: too short, header length over the cap or the file, not a JSON object, duplicate
  // keys, unknown dtype, bad shape, data_offsets out of range / overlapping / leaving gaps (the format
  // requires the ranges to tile the data section exactly; we reject anything else, as the reference does).
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted by name
  bool contains(std::string_view name) const { return entries_.find(name) != entries_.end(); }
  // Throws InputError naming the file and tensor when `name` is absent.
  TensorView view(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Drops the mapping's pages that lie wholly inside `view` from this process (madvise DONTNEED; the
  // file stays mapped and a later read faults them back in from the page cache). For loaders that copy
  // tensor by tensor: resident memory stays at the copies' size instead of copies plus mapping.
  void release(const TensorView& view) const noexcept;
  size_t file_bytes() const { return size_; }
  size_t data_offset() const { return data_begin_; }  // 8 + header length

 private:
  struct Entry {
    SafetensorsDType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;  // relative to the data section
  };
  void unmap() noexcept;

  std::filesystem::path path_;
  const std::byte* base_ = nullptr;  // start of the mapping (the whole file)
  size_t size_ = 0;                  // file size in bytes
  size_t data_begin_ = 0;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: raw little-endian bytes of `dtype` in row-major order, given as `bytes` or made by
// `fill` when the writer reaches the tensor, so a file's tensors need not all be in memory at once.
struct SafetensorsTensorToWrite {
  std::string name;                  // must be unique and not "__metadata__"
  SafetensorsDType dtype;            // element type of `bytes`
  std::vector<int64_t> shape;        // dims; product * dtype size must equal bytes.size()
  std::span<const std::byte> bytes;  // data, not copied (when `fill` is empty)
  // Writes the tensor's product(shape) x dtype-size bytes into `out`; called once, into a buffer of its own.
  std::function<void(std::span<std::byte> out)> fill;
};

// The bytes `t` will occupy in the file (bytes.size(), or shape x dtype size when `fill` makes them); nullopt
// when the shape's byte count overflows.
std::optional<uint64_t> safetensors_data_size(const SafetensorsTensorToWrite& t);

// Writes a safetensors file: the header padded with spaces to a multiple of 8 bytes, then the tensors'
// data laid out by element size, largest first (stable otherwise), so ranges tile the data section with no
// gaps (as the format requires) and every tensor starts at a multiple of its element size.
// Writes to `path`.tmp and renames, so a crash never leaves a half-written file under the real name.
// Throws InputError naming the file and tensor for a duplicate name or a size that does not match shape.
void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsTensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace coordexp
