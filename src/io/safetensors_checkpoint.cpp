// Sharded safetensors checkpoints (see safetensors_checkpoint.hpp): index parsing, shard opening, writing.
#include "coordexp/io/safetensors_checkpoint.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

std::string in_quotes(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path.string(), "a readable JSON file", "cannot open it");
  std::stringstream buf;
  buf << in.rdbuf();
  try {
    return nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(path.string(), "valid JSON", e.what());
  }
}

bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos;
}

}  // namespace

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  fs::path index;
  if (fs::is_directory(path)) {
    if (fs::exists(path / kSafetensorsIndexName)) {
      index = path / kSafetensorsIndexName;
    } else if (fs::exists(path / kSafetensorsSingleName)) {
      source_ = path / kSafetensorsSingleName;
    } else {
      throw_input_error(path.string(), std::string(kSafetensorsIndexName) + " or " + kSafetensorsSingleName,
                        "neither", "point at a Hugging Face model directory");
    }
  } else if (path.extension() == ".json") {
    index = path;
  } else {
    source_ = path;
  }

  if (index.empty()) {  // a single file
    shards_.push_back(std::make_unique<SafetensorsFile>(source_));
    for (const auto& name : shards_[0]->names()) location_.emplace(name, 0);
    return;
  }

  source_ = index;
  const std::string where = index.string();
  const nlohmann::json doc = read_json_file(index);
  if (!doc.is_object()) throw_input_error(where, "a JSON object", doc.type_name());
  if (!doc.contains("weight_map"))
    throw_input_error(where + ": weight_map", "an object {tensor: shard}", "none");
  const auto& map = doc["weight_map"];
  if (!map.is_object())
    throw_input_error(where + ": weight_map", "an object {tensor: shard}", map.type_name());
  std::map<std::string, size_t> shard_of_file;
  for (const auto& [tensor, shard] : map.items()) {
    const std::string field = where + ": weight_map." + tensor;
    if (!shard.is_string()) throw_input_error(field, "a shard file name", shard.type_name());
    const std::string file = shard.get<std::string>();
    if (!is_plain_file_name(file))
      throw_input_error(field, "a file name in the index's directory", in_quotes(file),
                        "no '/' or '..' allowed");
    auto [it, inserted] = shard_of_file.emplace(file, shards_.size());
    if (inserted) shards_.push_back(std::make_unique<SafetensorsFile>(index.parent_path() / file));
    if (!shards_[it->second]->contains(tensor))
      throw_input_error(field, "tensor " + in_quotes(tensor) + " in shard " + in_quotes(file),
                        "no such tensor in it", "the index and the shards are out of sync");
    location_.emplace(tensor, it->second);
  }
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(location_.size());
  for (const auto& [name, shard] : location_) out.push_back(name);
  return out;
}

TensorView SafetensorsCheckpoint::view(std::string_view name) const {
  const auto it = location_.find(name);
  if (it == location_.end())
    throw_input_error(source_.string() + ": tensor " + in_quotes(name), "present in the checkpoint",
                      "no such tensor", "the checkpoint does not match the model");
  return shards_[it->second]->view(name);
}

void SafetensorsCheckpoint::release(std::string_view name) const {
  const auto it = location_.find(name);
  if (it != location_.end()) shards_[it->second]->release(shards_[it->second]->view(name));
}

uint64_t SafetensorsCheckpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, shard] : location_) total += shards_[shard]->view(name).nbytes;
  return total;
}

void write_sharded_safetensors(const std::filesystem::path& dir,
                               std::span<const SafetensorsTensorToWrite> tensors, uint64_t max_shard_bytes,
                               const std::map<std::string, std::string>& metadata) {
  std::filesystem::create_directories(dir);
  // Greedy packing in the given order: a new shard starts when the next tensor would overflow this one.
  std::vector<std::vector<SafetensorsTensorToWrite>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& t : tensors) {
    const uint64_t size = safetensors_data_size(t).value_or(0);  // an overflowing shape fails when written
    if (!shards.back().empty() && in_shard + size > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(t);
    in_shard += size;
    total += size;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  const size_t n = shards.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n);
    write_safetensors(dir / file, shards[i], metadata);
    for (const auto& t : shards[i]) weight_map[t.name] = file;
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  std::ofstream out(dir / kSafetensorsIndexName, std::ios::trunc);
  out << index.dump(2) << "\n";
  if (!out) throw_input_error((dir / kSafetensorsIndexName).string(), "a successful write", "an I/O error");
}

}  // namespace coordexp
