// Low-rank adapters on linear layers (LoRA, and DoRA's magnitude-direction form), as PEFT defines them, so
// that a model fine-tunes with its base weights frozen and coordexp reads and writes PEFT's files. For a
// layer y = W x + b with W [out, in] and scaling s = alpha / rank:
//   LoRA  y = W x + b + s B A drop(x)
//   DoRA  y = m / ||W + s B A||_row * (W x + s B A drop(x)) + b, the row norm held constant in backward
// A [rank, in] starts Kaiming-uniform (a = sqrt(5)), B [out, rank] at zero, so a fresh adapter changes no
// output; DoRA's magnitude m [out] starts at ||W||_row. The tensors are registered on the host layer under
// PEFT's names (lora_A.weight, lora_B.weight, lora_magnitude_vector), so a model's named_parameters() and a
// PEFT state dict differ only by PEFT's "base_model.model." prefix.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace coordexp {

enum class AdapterType { kAdapterNone, kAdapterLora, kAdapterDora };
AdapterType parse_adapter_type(const std::string& name);  // "none", "lora", "dora"
const char* adapter_type_name(AdapterType type);

struct AdapterConfig {
  std::string type = "none";  // none | lora | dora
  int64_t rank = 16;          // r
  double alpha = 32;          // lora_alpha: the update is scaled by alpha / rank
  double dropout = 0.0;       // dropout on the adapter's input while training
  // Which linear layers get an adapter, by their Hugging Face module names
  // ("model.layers.3.self_attn.q_proj", "visual.blocks.0.attn.qkv", "visual.merger.mlp.0"): every name equal
  // to or ending in "." + an entry (PEFT's list form), or, when target_regex is set, every name it matches in
  // full (PEFT's string form).
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
  std::string target_regex;
  // Parameters that train in full beside the adapters, by name prefix ("visual.merger", "embed"): PEFT's
  // modules_to_save. Every other parameter of the model is frozen while adapters are on (a Qwen model's added
  // token rows always train).
  std::vector<std::string> modules_to_save;
  // A PEFT adapter folder (adapter_io.hpp) to start from: its type, rank, alpha, dropout and targets replace
  // the ones above, and its tensors the fresh initialisation.
  std::string from;
  uint64_t seed = 0;  // initialisation of A
};

// A linear layer a model offers for adapters: its module name, the module (the adapter's tensors are
// registered on it) and its weight [out, in] and bias [out] (undefined when none).
struct AdaptableLinear {
  std::string name;
  torch::nn::Module* host = nullptr;
  torch::Tensor weight, bias;
};

// The adapter of one layer.
struct LinearAdapter {
  torch::Tensor lora_A;     // [rank, in]
  torch::Tensor lora_B;     // [out, rank]
  torch::Tensor magnitude;  // [out] (DoRA) or undefined
  double scaling = 1.0;
  double dropout = 0.0;
  // y for input x [..., in] through the adapted layer (weight, bias: the host's).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                        bool training) const;
  // The weight with the adapter folded in: W + s B A (LoRA), m / ||W + s B A||_row * (W + s B A) (DoRA).
  torch::Tensor merged_weight(const torch::Tensor& weight) const;
};

// The adapters of a model, keyed by module name, looked up by host module at run time.
class AdapterSet {
 public:
  // Attaches an adapter to every layer of `layers` the config's targets name; the base weights are not
  // touched (freezing them is the caller's). Throws InputError naming adapter.targets when no layer matches,
  // and adapter.rank / alpha / dropout when out of range.
  void attach(const std::vector<AdaptableLinear>& layers, const AdapterConfig& config);
  bool empty() const { return by_name_.empty(); }
  const LinearAdapter* find(const torch::nn::Module* host) const;
  const std::map<std::string, LinearAdapter>& by_name() const { return by_name_; }
  AdapterType type() const { return type_; }
  const AdapterConfig& config() const { return config_; }

 private:
  AdapterType type_ = AdapterType::kAdapterNone;
  AdapterConfig config_;
  std::map<std::string, LinearAdapter> by_name_;
  std::map<const torch::nn::Module*, const LinearAdapter*> by_host_;
};

// A module name in transformers' current layout and back (Qwen2-VL: "model.layers.3" <->
// "model.language_model. layers.3", "visual.x" <-> "model.visual.x"; other names unchanged). Targets match
// either form.
std::string peft_module_name(const std::string& module);
std::string module_name_from_peft(const std::string& peft_module);

// y = x W^T + b where W may be held in another precision than x (bfloat16 frozen weights): the product is
// taken in W's precision and y returned in x's.
torch::Tensor mixed_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// Which layers of `layers` the config names (for errors and the adapter file's target list).
std::vector<std::string> matching_adapter_targets(const std::vector<AdaptableLinear>& layers,
                                                  const AdapterConfig& config);

}  // namespace coordexp
