// LoRA / DoRA adapters (see adapter.hpp).
#include "coordexp/model/adapter.hpp"

#include <cmath>
#include <random>
#include <regex>

#include "coordexp/util/error.hpp"

namespace coordexp {

AdapterType parse_adapter_type(const std::string& name) {
  if (name == "none") return AdapterType::kAdapterNone;
  if (name == "lora") return AdapterType::kAdapterLora;
  if (name == "dora") return AdapterType::kAdapterDora;
  throw_input_error("adapter.type", "one of none, lora, dora", "\"" + name + "\"");
}

const char* adapter_type_name(AdapterType type) {
  return type == AdapterType::kAdapterLora ? "lora" : type == AdapterType::kAdapterDora ? "dora" : "none";
}

namespace {

torch::Tensor row_norm(const torch::Tensor& w) {  // [out, in] -> [out]
  return w.norm(2, {1});
}

// A module holding one parameter "weight": PEFT's lora_A / lora_B are nn.Linear layers without bias.
torch::Tensor register_weight_module(torch::nn::Module& host, const std::string& name, torch::Tensor value) {
  auto holder = host.register_module(name, std::make_shared<torch::nn::Module>());
  return holder->register_parameter("weight", std::move(value));
}

bool ends_with_module(const std::string& name, const std::string& t) {
  return name == t ||
         (name.size() > t.size() && name.compare(name.size() - t.size() - 1, t.size() + 1, "." + t) == 0);
}

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

bool matches(const std::string& name, const AdapterConfig& config) {
  const std::string peft = peft_module_name(name);
  if (!config.target_regex.empty()) {
    const std::regex re(config.target_regex);
    return std::regex_match(name, re) || std::regex_match(peft, re);
  }
  for (const auto& t : config.targets)
    if (ends_with_module(name, t) || ends_with_module(peft, t)) return true;
  return false;
}

}  // namespace

std::string peft_module_name(const std::string& m) {
  if (starts_with(m, "model.") && !starts_with(m, "model.language_model.") &&
      !starts_with(m, "model.visual."))
    return "model.language_model." + m.substr(6);
  if (starts_with(m, "visual.")) return "model." + m;
  return m;
}

std::string module_name_from_peft(const std::string& m) {
  if (starts_with(m, "model.language_model.")) return "model." + m.substr(21);
  if (starts_with(m, "model.visual.")) return m.substr(6);
  return m;
}

torch::Tensor mixed_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (weight.scalar_type() == x.scalar_type()) return torch::nn::functional::linear(x, weight, bias);
  const auto dtype = weight.scalar_type();
  return torch::nn::functional::linear(x.to(dtype), weight, bias.defined() ? bias.to(dtype) : bias)
      .to(x.scalar_type());
}

torch::Tensor LinearAdapter::forward(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias, bool training) const {
  auto base = mixed_linear(x, weight, bias);
  const auto xd = dropout > 0 && training ? torch::dropout(x, dropout, true) : x;
  auto update = torch::matmul(torch::matmul(xd, lora_A.t()), lora_B.t()) * scaling;  // [..., out]
  if (!magnitude.defined()) return base + update;
  // DoRA as PEFT computes it: the norm of the adapted weight, detached
  torch::Tensor norm;
  {
    torch::NoGradGuard no_grad;
    norm = row_norm(weight.to(lora_B.scalar_type()) + scaling * torch::matmul(lora_B, lora_A));
  }
  const auto scale = magnitude / norm;  // [out]
  const auto base_xd = dropout > 0 && training ? mixed_linear(xd, weight, torch::Tensor())
                       : bias.defined()        ? base - bias
                                               : base;
  return base + (scale - 1) * base_xd + scale * update;
}

torch::Tensor LinearAdapter::merged_weight(const torch::Tensor& weight) const {
  torch::NoGradGuard no_grad;
  auto w = weight.to(lora_B.scalar_type()) + scaling * torch::matmul(lora_B, lora_A);
  if (!magnitude.defined()) return w;
  return (magnitude / row_norm(w)).unsqueeze(1) * w;
}

std::vector<std::string> matching_adapter_targets(const std::vector<AdaptableLinear>& layers,
                                                  const AdapterConfig& config) {
  std::vector<std::string> out;
  for (const auto& l : layers)
    if (matches(l.name, config)) out.push_back(l.name);
  return out;
}

void AdapterSet::attach(const std::vector<AdaptableLinear>& layers, const AdapterConfig& config) {
  type_ = parse_adapter_type(config.type);
  config_ = config;
  if (type_ == AdapterType::kAdapterNone) return;
  try {
    (void)std::regex(config.target_regex);
  } catch (const std::regex_error& e) {
    throw_input_error("adapter.target_regex", "a regular expression", "\"" + config.target_regex + "\"",
                      e.what());
  }
  COORDEXP_CHECK_ARG(config.rank > 0, "adapter.rank", "a rank > 0", std::to_string(config.rank));
  COORDEXP_CHECK_ARG(std::isfinite(config.alpha) && config.alpha > 0, "adapter.alpha", "a finite alpha > 0",
                     std::to_string(config.alpha));
  COORDEXP_CHECK_ARG(config.dropout >= 0 && config.dropout < 1, "adapter.dropout", "in [0, 1)",
                     std::to_string(config.dropout));
  std::mt19937_64 rng(config.seed);
  for (const auto& l : layers) {
    if (!matches(l.name, config)) continue;
    const int64_t out = l.weight.size(0), in = l.weight.size(1), r = config.rank;
    // Kaiming-uniform with a = sqrt(5), as PEFT (nn.Linear's default): U(-1/sqrt(in), 1/sqrt(in))
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    std::uniform_real_distribution<double> u(-bound, bound);
    auto a = torch::empty({r, in}, torch::kFloat);
    auto acc = a.accessor<float, 2>();
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < in; ++j) acc[i][j] = static_cast<float>(u(rng));
    LinearAdapter ad;
    const auto options = l.weight.options().dtype(torch::kFloat).requires_grad(false);
    ad.lora_A = register_weight_module(*l.host, "lora_A", a.to(options.device()));
    ad.lora_B = register_weight_module(*l.host, "lora_B", torch::zeros({out, r}, options));
    ad.scaling = config.alpha / static_cast<double>(r);
    ad.dropout = config.dropout;
    if (type_ == AdapterType::kAdapterDora)
      ad.magnitude =
          l.host->register_parameter("lora_magnitude_vector", row_norm(l.weight.detach().to(torch::kFloat)));
    for (auto* t : {&ad.lora_A, &ad.lora_B, &ad.magnitude})
      if (t->defined()) t->set_requires_grad(true);
    by_name_[l.name] = ad;
  }
  if (by_name_.empty()) {
    std::string some;
    for (size_t i = 0; i < layers.size() && i < 4; ++i) some += (i ? ", " : "") + layers[i].name;
    throw_input_error(config.target_regex.empty() ? "adapter.targets" : "adapter.target_regex",
                      "names of linear layers of the model (such as " + some + ")",
                      "a pattern that matches none");
  }
  for (const auto& l : layers) {
    auto it = by_name_.find(l.name);
    if (it != by_name_.end()) by_host_[l.host] = &it->second;
  }
}

const LinearAdapter* AdapterSet::find(const torch::nn::Module* host) const {
  auto it = by_host_.find(host);
  return it == by_host_.end() ? nullptr : it->second;
}

}  // namespace coordexp
