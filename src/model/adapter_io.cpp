// PEFT adapter files (see adapter_io.hpp).
#include "coordexp/model/adapter_io.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordexp/io/safetensors.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kPrefix = "base_model.model.";
constexpr const char* kConfigName = "adapter_config.json";
constexpr const char* kWeightsName = "adapter_model.safetensors";

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

// Float32 bytes of a tensor kept alive beside the span that points into them.
struct Blob {
  torch::Tensor t;
  std::span<const std::byte> bytes() const {
    return {reinterpret_cast<const std::byte*>(t.data_ptr<float>()), static_cast<size_t>(t.numel()) * 4};
  }
};

torch::Tensor read_tensor(const SafetensorsFile& file, const std::string& key) {
  const TensorView v = file.view(key);
  auto values = to_float32(v);
  return torch::tensor(values).view(v.shape);
}

void copy_checked(torch::Tensor& dst, const torch::Tensor& src, const fs::path& file,
                  const std::string& key) {
  if (!src.sizes().equals(dst.sizes()))
    throw_input_error(file.string() + ": tensor " + key,
                      "shape " + c10::str(dst.sizes()) + " (the model's layer)", c10::str(src.sizes()),
                      "an adapter trained on another base model?");
  torch::NoGradGuard no_grad;
  dst.copy_(src.to(dst.dtype()));
}

// The embedding and LM head module names of a model (Qwen2-VL's or the tiny model's).
std::pair<std::string, std::string> table_modules(VisionLanguageModel& model) {
  for (const auto& p : model.named_parameters(true))
    if (starts_with(p.key(), "model.embed_tokens.")) return {"model.embed_tokens", "lm_head"};
  return {"embed", "lm_head"};
}

void require(bool ok, const fs::path& file, const std::string& field, const std::string& expected,
             const json& found) {
  if (!ok)
    throw_input_error(file.string() + ": field \"" + field + "\"", expected, describe_json_value(found));
}

}  // namespace

void save_peft_adapter(VisionLanguageModel& model, const fs::path& dir, const std::string& base_model) {
  const AdapterSet& set = model.adapters();
  COORDEXP_CHECK_ARG(!set.empty(), "model", "a model with adapters", "none");
  fs::create_directories(dir);
  std::vector<Blob> blobs;
  std::vector<SafetensorsTensorToWrite> tensors;
  auto add = [&](const std::string& key, const torch::Tensor& t) {
    blobs.push_back({t.detach().to(torch::kFloat).contiguous()});
    tensors.push_back({key, SafetensorsDType::kF32, blobs.back().t.sizes().vec(), {}, {}});
  };
  json targets = json::array();
  for (const auto& [name, a] : set.by_name()) {
    const std::string key = kPrefix + peft_module_name(name);
    add(key + ".lora_A.weight", a.lora_A);
    add(key + ".lora_B.weight", a.lora_B);
    if (a.magnitude.defined()) add(key + ".lora_magnitude_vector", a.magnitude);
    targets.push_back(peft_module_name(name));
  }
  // the added tokens' rows, as PEFT's trainable tokens (ids first_new .. V - 1, their values)
  const TokenTable input = model.input_table(), head = model.lm_head();
  json token_indices;
  const auto [embed_name, head_name] = table_modules(model);
  if (input.added.defined()) {
    const int64_t first = input.base.size(0), V = input.size();
    json ids = json::array();
    for (int64_t i = first; i < V; ++i) ids.push_back(i);
    token_indices = json::object();
    const std::string embed_leaf = embed_name.substr(embed_name.rfind('.') + 1);
    token_indices[embed_leaf] = ids;
    add(kPrefix + peft_module_name(embed_name) + ".token_adapter.trainable_tokens_delta", input.added);
    if (head.added.defined() && !head.added.is_same(input.added)) {
      token_indices[head_name] = ids;
      add(kPrefix + peft_module_name(head_name) + ".token_adapter.trainable_tokens_delta", head.added);
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].bytes = blobs[i].bytes();
  write_safetensors(dir / kWeightsName, tensors, {{"format", "pt"}});
  const AdapterConfig& c = set.config();
  json cfg = {{"peft_type", "LORA"},
              {"task_type", "CAUSAL_LM"},
              {"base_model_name_or_path", base_model},
              {"r", c.rank},
              {"lora_alpha", c.alpha},
              {"lora_dropout", c.dropout},
              {"use_dora", set.type() == AdapterType::kAdapterDora},
              {"use_rslora", false},
              {"bias", "none"},
              {"fan_in_fan_out", false},
              {"init_lora_weights", true},
              {"inference_mode", true},
              {"target_modules", targets},
              {"modules_to_save", nullptr},
              {"rank_pattern", json::object()},
              {"alpha_pattern", json::object()}};
  if (!token_indices.is_null()) cfg["trainable_token_indices"] = token_indices;
  std::ofstream(dir / kConfigName) << cfg.dump(2) << "\n";
}

AdapterConfig read_peft_adapter_config(const fs::path& dir) {
  const fs::path path = dir / kConfigName;
  const json doc = read_json_file(path.string(), "a PEFT adapter_config.json");
  require(doc.is_object(), path, "(top level)", "a JSON object", doc);
  auto get = [&](const char* key) { return doc.contains(key) ? doc[key] : json(); };
  require(get("peft_type") == "LORA", path, "peft_type", "\"LORA\" (LoRA or DoRA adapters)",
          get("peft_type"));
  AdapterConfig c;
  const json r = get("r"), alpha = get("lora_alpha"), dropout = get("lora_dropout");
  require(r.is_number_integer() && r.get<int64_t>() > 0, path, "r", "a rank > 0", r);
  c.rank = r.get<int64_t>();
  c.alpha = alpha.is_null() ? 8.0 : alpha.is_number() ? alpha.get<double>() : -1;
  require(c.alpha > 0, path, "lora_alpha", "a number > 0", alpha);
  c.dropout = dropout.is_null() ? 0.0 : dropout.is_number() ? dropout.get<double>() : -1;
  require(c.dropout >= 0 && c.dropout < 1, path, "lora_dropout", "a number in [0, 1)", dropout);
  const bool dora = get("use_dora").is_boolean() && get("use_dora").get<bool>();
  c.type = dora ? "dora" : "lora";
  if (get("use_rslora").is_boolean() && get("use_rslora").get<bool>())
    c.alpha *= std::sqrt(static_cast<double>(c.rank));  // rsLoRA scales by alpha / sqrt(r)
  require(get("bias").is_null() || get("bias") == "none", path, "bias",
          "\"none\" (adapter biases are not supported)", get("bias"));
  require(!get("fan_in_fan_out").is_boolean() || !get("fan_in_fan_out").get<bool>(), path, "fan_in_fan_out",
          "false", get("fan_in_fan_out"));
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    require(get(key).is_null() || (get(key).is_object() && get(key).empty()), path, key,
            "an empty object (per-layer ranks are not supported)", get(key));
  for (const char* key : {"modules_to_save", "layers_to_transform"})
    require(get(key).is_null() || (get(key).is_array() && get(key).empty()), path, key,
            "null (not supported)", get(key));
  const json targets = get("target_modules");
  c.targets.clear();
  if (targets.is_string()) {
    c.target_regex = targets.get<std::string>();
  } else {
    require(targets.is_array() && !targets.empty(), path, "target_modules",
            "a list of module names or a regex", targets);
    for (const auto& t : targets) {
      require(t.is_string(), path, "target_modules", "module names (strings)", t);
      c.targets.push_back(module_name_from_peft(t.get<std::string>()));
    }
  }
  return c;
}

void load_peft_adapter(VisionLanguageModel& model, const fs::path& dir) {
  const fs::path path = dir / kWeightsName;
  const SafetensorsFile file(path);
  const AdapterSet& set = model.adapters();
  auto key_of = [&](const std::string& module, const std::string& leaf) -> std::string {
    for (const std::string& m : {peft_module_name(module), module})
      for (const std::string& k : {std::string(kPrefix) + m + leaf, m + leaf})
        if (file.contains(k)) return k;
    throw_input_error(path.string(), "a tensor for " + module + leaf, "none",
                      "an adapter for other layers or another model?");
  };
  for (const auto& [name, a] : set.by_name()) {
    auto A = a.lora_A, B = a.lora_B;
    copy_checked(A, read_tensor(file, key_of(name, ".lora_A.weight")), path, name + ".lora_A.weight");
    copy_checked(B, read_tensor(file, key_of(name, ".lora_B.weight")), path, name + ".lora_B.weight");
    if (a.magnitude.defined()) {
      auto m = a.magnitude;
      copy_checked(m, read_tensor(file, key_of(name, ".lora_magnitude_vector")), path,
                   name + ".lora_magnitude_vector");
    }
  }
  // the added tokens' rows, when the file has them
  const auto [embed_name, head_name] = table_modules(model);
  const std::string leaf = ".token_adapter.trainable_tokens_delta";
  for (const auto& [module, table] :
       {std::pair{embed_name, model.input_table()}, std::pair{head_name, model.lm_head()}}) {
    std::string key;
    for (const std::string& m : {peft_module_name(module), module})
      if (file.contains(kPrefix + m + leaf)) key = kPrefix + m + leaf;
    if (key.empty()) continue;
    const torch::Tensor rows = read_tensor(file, key);
    torch::Tensor dst =
        table.added.defined() ? table.added : table.base.narrow(0, table.size() - rows.size(0), rows.size(0));
    copy_checked(dst, rows, path, key);
  }
}

}  // namespace coordexp
