// LoRA and DoRA adapters: a LoRA layer equals the dense layer plus s B A x computed with explicit matrices;
// DoRA equals m / ||W + s B A||_row (W + s B A) x + b and its norm takes no gradient (as PEFT); a fresh
// adapter leaves a Qwen2-VL model's logits unchanged; the merged Hugging Face export gives the adapted
// model's logits; PEFT's file format round-trips with PEFT's key names; bad targets, ranks, foreign adapter
// files and unsupported PEFT fields are errors naming the field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordexp/io/safetensors.hpp"
#include "coordexp/model/adapter.hpp"
#include "coordexp/model/adapter_io.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("coordexp_adapter_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("coordexp_adapter_" + std::to_string(::getpid())), ec);
  }
} cleanup;

const fs::path& checkpoint() {
  static const fs::path dir = [] {
    auto d = temp_dir("base");
    write_tiny_qwen_checkpoint(d, {});
    return d;
  }();
  return dir;
}

// One linear layer 5 -> 3 with a bias, hosted by a module, with an adapter of rank 2.
struct OneLayer {
  torch::nn::Linear layer{torch::nn::LinearOptions(5, 3)};
  AdapterSet set;
  explicit OneLayer(const std::string& type, double dropout = 0.0) {
    AdapterConfig c;
    c.type = type, c.rank = 2, c.alpha = 6, c.dropout = dropout, c.targets = {"proj"};
    set.attach({{"block.proj", layer.get(), layer->weight, layer->bias}}, c);
    torch::NoGradGuard g;
    set.find(layer.get())->lora_B.copy_(torch::randn({3, 2}));  // a trained adapter: B no longer zero
  }
  const LinearAdapter& a() const { return *set.find(layer.get()); }
};

TEST(Adapter, LoraIsTheDenseLayerPlusScaledBA) {
  torch::manual_seed(1);
  OneLayer l("lora");
  const auto x = torch::randn({4, 5});
  const auto W = l.layer->weight, b = l.layer->bias, A = l.a().lora_A, B = l.a().lora_B;
  const auto expected =
      torch::matmul(x, W.t()) + b + (6.0 / 2.0) * torch::matmul(torch::matmul(x, A.t()), B.t());
  EXPECT_TRUE(torch::allclose(l.a().forward(x, W, b, false), expected, 1e-6, 1e-6));
  EXPECT_EQ(A.sizes(), torch::IntArrayRef({2, 5}));
  // A starts in PEFT's Kaiming-uniform range, B at zero
  EXPECT_LE(A.abs().max().item<double>(), 1.0 / std::sqrt(5.0));
  EXPECT_TRUE(torch::allclose(l.a().merged_weight(W), W + 3.0 * torch::matmul(B, A)));
  // PEFT's names on the host module
  const auto names = l.layer->named_parameters();
  EXPECT_TRUE(names.contains("lora_A.weight"));
  EXPECT_TRUE(names.contains("lora_B.weight"));
}

TEST(Adapter, DoraScalesTheAdaptedWeightByMagnitudeOverItsRowNorm) {
  torch::manual_seed(2);
  OneLayer l("dora");
  const auto x = torch::randn({4, 5});
  const auto W = l.layer->weight, b = l.layer->bias;
  const auto& a = l.a();
  // m starts at ||W||_row; make it something else, as training would
  EXPECT_TRUE(torch::allclose(a.magnitude, W.norm(2, {1})));
  {
    torch::NoGradGuard g;
    a.magnitude.mul_(torch::tensor({0.5f, 1.5f, 2.0f}));
  }
  const auto adapted = W + 3.0 * torch::matmul(a.lora_B, a.lora_A);
  const auto merged = (a.magnitude / adapted.norm(2, {1})).unsqueeze(1) * adapted;
  const auto y = a.forward(x, W, b, false);
  EXPECT_TRUE(torch::allclose(y, torch::matmul(x, merged.t()) + b, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(a.merged_weight(W), merged, 1e-6, 1e-6));
  // the norm is a constant for backward (PEFT): d y / d m is (W + s B A) x / ||W + s B A||
  y.sum().backward();
  const auto dm = (torch::matmul(x, adapted.t()) / adapted.norm(2, {1})).sum(0);
  EXPECT_TRUE(torch::allclose(a.magnitude.grad(), dm, 1e-4, 1e-5));
}

TEST(Adapter, FreshAdaptersChangeNothingAndTheMergedExportGivesTheAdaptedLogits) {
  auto m = load_qwen_vl(checkpoint());
  m->eval();
  torch::NoGradGuard g;
  torch::manual_seed(3);
  const auto image = torch::rand({1, 3, 56, 84});
  const auto tokens = torch::tensor({20, 21, 22}).view({1, -1});
  const auto before = m->logits(m->forward_text(m->encode_images(image), tokens));
  AdapterConfig c;
  c.type = "lora";
  c.rank = 4;
  c.targets = {"q_proj", "v_proj", "qkv", "fc1"};
  const AdapterSet& set = m->attach_adapters(c);
  EXPECT_GT(set.by_name().size(), 4u);
  EXPECT_TRUE(torch::equal(m->logits(m->forward_text(m->encode_images(image), tokens)), before));
  for (const auto& [name, a] : set.by_name()) {
    auto B = a.lora_B;
    B.copy_(torch::randn(B.sizes()) * 0.1);
  }
  const auto adapted = m->logits(m->forward_text(m->encode_images(image), tokens));
  EXPECT_GT((adapted - before).abs().max().item<double>(), 1e-3);
  const fs::path out = temp_dir("merged");
  save_qwen_vl(*m, out);
  auto merged = load_qwen_vl(out);
  merged->eval();
  const auto again = merged->logits(merged->forward_text(merged->encode_images(image), tokens));
  EXPECT_LT((again - adapted).abs().max().item<double>(), 1e-4);
  for (const auto& p : merged->named_parameters())
    EXPECT_EQ(p.key().find("lora_"), std::string::npos) << p.key();
}

TEST(Adapter, PeftFilesRoundTripWithPeftsNames) {
  auto m = load_qwen_vl(checkpoint());
  AdapterConfig c;
  c.type = "dora";
  c.rank = 3;
  c.alpha = 12;
  c.targets = {"q_proj", "o_proj", "visual.merger.mlp.0"};
  m->attach_adapters(c);
  torch::manual_seed(4);
  {
    torch::NoGradGuard g;
    for (const auto& [name, a] : m->adapters().by_name()) {
      auto B = a.lora_B, M = a.magnitude;
      B.copy_(torch::randn(B.sizes()));
      M.mul_(1.1);
    }
  }
  const fs::path dir = temp_dir("peft");
  save_peft_adapter(*m, dir, checkpoint().string());
  const SafetensorsFile file(dir / "adapter_model.safetensors");
  EXPECT_TRUE(file.contains("base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(
      file.contains("base_model.model.model.language_model.layers.1.self_attn.o_proj.lora_magnitude_vector"));
  EXPECT_TRUE(file.contains("base_model.model.model.visual.merger.mlp.0.lora_B.weight"));
  const auto cfg = nlohmann::json::parse(std::ifstream(dir / "adapter_config.json"));
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["r"], 3);
  EXPECT_EQ(cfg["lora_alpha"], 12.0);
  EXPECT_EQ(cfg["use_dora"], true);
  // read back into a fresh model
  const AdapterConfig back = read_peft_adapter_config(dir);
  EXPECT_EQ(back.type, "dora");
  EXPECT_EQ(back.rank, 3);
  auto fresh = load_qwen_vl(checkpoint());
  fresh->attach_adapters(back);
  load_peft_adapter(*fresh, dir);
  ASSERT_EQ(fresh->adapters().by_name().size(), m->adapters().by_name().size());
  for (const auto& [name, a] : m->adapters().by_name()) {
    const LinearAdapter& b = fresh->adapters().by_name().at(name);
    EXPECT_TRUE(torch::equal(a.lora_A, b.lora_A)) << name;
    EXPECT_TRUE(torch::equal(a.lora_B, b.lora_B)) << name;
    EXPECT_TRUE(torch::equal(a.magnitude, b.magnitude)) << name;
  }
}

TEST(Adapter, BadTargetsRanksForeignFilesAndUnsupportedFieldsAreNamed) {
  auto m = load_qwen_vl(checkpoint());
  auto message = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  AdapterConfig c;
  c.type = "lora";
  c.targets = {"no_such_layer"};
  EXPECT_NE(message([&] { m->attach_adapters(c); }).find("adapter.targets"), std::string::npos);
  c.targets = {"q_proj"};
  c.rank = 0;
  EXPECT_NE(message([&] { m->attach_adapters(c); }).find("adapter.rank"), std::string::npos);
  c.rank = 2;
  c.target_regex = "(";
  EXPECT_NE(message([&] { m->attach_adapters(c); }).find("adapter.target_regex"), std::string::npos);
  // an adapter written for a model with a wider MLP: shapes disagree, the error names the tensor
  TinyQwenSpec wide;
  wide.intermediate = 96;
  const fs::path other = temp_dir("wide_base");
  write_tiny_qwen_checkpoint(other, wide);
  auto w = load_qwen_vl(other);
  AdapterConfig wc;
  wc.type = "lora", wc.rank = 2, wc.targets = {"gate_proj"};
  w->attach_adapters(wc);
  const fs::path dir = temp_dir("wide_adapter");
  save_peft_adapter(*w, dir, other.string());
  auto fresh = load_qwen_vl(checkpoint());
  fresh->attach_adapters(read_peft_adapter_config(dir));
  EXPECT_NE(message([&] { load_peft_adapter(*fresh, dir); }).find("gate_proj.lora_B.weight"),
            std::string::npos);
  // PEFT fields coordexp does not support
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"bias", "all"}, {"modules_to_save", {"lm_head"}}, {"peft_type", "IA3"}, {"r", 0}}) {
    auto cfg = nlohmann::json::parse(std::ifstream(dir / "adapter_config.json"));
    cfg[key] = value;
    const fs::path bad = temp_dir("bad_" + key);
    std::ofstream(bad / "adapter_config.json") << cfg.dump();
    EXPECT_NE(message([&] { read_peft_adapter_config(bad); }).find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace coordexp
