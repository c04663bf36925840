// A Hugging Face checkpoint made of one or more safetensors files: either a single model.safetensors or
// shards listed by model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard file}}).
// Every shard is mapped once; tensor views stay valid while the checkpoint object lives.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coordexp/io/safetensors.hpp"

namespace coordexp {

inline constexpr const char* kSafetensorsIndexName = "model.safetensors.index.json";
inline constexpr const char* kSafetensorsSingleName = "model.safetensors";

class SafetensorsCheckpoint {
 public:
  // `path` is a directory (holding model.safetensors.index.json or model.safetensors), an index file, or
  // a single .safetensors file. Shard names in the index must be plain file names in the index's
  // directory (no "/" or ".."). Each weight_map entry must exist in its shard (InputError naming the index,
  // the tensor and the shard otherwise). Tensors a shard holds beyond its weight_map entries are ignored,
  // as transformers ignores them.
  explicit SafetensorsCheckpoint(const std::filesystem::path& path);

  std::vector<std::string> names() const;  // sorted
  bool contains(std::string_view name) const { return location_.find(name) != location_.end(); }
  // Throws InputError naming the checkpoint and the tensor when it is missing.
  TensorView view(std::string_view name) const;
  // See SafetensorsFile::release; `name` must be present.
  void release(std::string_view name) const;
  const std::filesystem::path& source() const { return source_; }  // the index or the single file
  size_t num_shards() const { return shards_.size(); }
  uint64_t total_bytes() const;  // sum of the tensors' data sizes

 private:
  std::filesystem::path source_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, size_t, std::less<>> location_;  // tensor -> shard index
};

// Writes `tensors` as shards model-0000i-of-0000n.safetensors of at most `max_shard_bytes` of data each
// (a tensor larger than that gets a shard of its own) plus model.safetensors.index.json into `dir`, which
// is created if needed. With a single shard it still writes the index, so readers take one path.
void write_sharded_safetensors(const std::filesystem::path& dir,
                               std::span<const SafetensorsTensorToWrite> tensors, uint64_t max_shard_bytes,
                               const std::map<std::string, std::string>& metadata = {});

}  // namespace coordexp
