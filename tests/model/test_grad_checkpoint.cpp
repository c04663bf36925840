// Gradient checkpointing gives the gradients of the plain forward (to float32 round-off) for the tiny model
// and a Qwen2-VL checkpoint, with every parameter trainable and with only LoRA adapters trainable (inputs
// that take no gradient), and changes nothing outside training.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "coordexp/model/grad_checkpoint.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/model/tiny_vlm.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

// Whether the autograd graph behind `t` holds a checkpointed block.
bool has_checkpoint_node(const torch::Tensor& t) {
  std::vector<std::shared_ptr<torch::autograd::Node>> todo{t.grad_fn()};
  std::set<torch::autograd::Node*> seen;
  while (!todo.empty()) {
    auto n = todo.back();
    todo.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    if (n->name().find("CheckpointFunction") != std::string::npos) return true;
    for (const auto& e : n->next_edges()) todo.push_back(e.function);
  }
  return false;
}

// Gradients of sum(w * hidden) for fixed random w, by parameter name.
std::map<std::string, torch::Tensor> gradients(VisionLanguageModel& m, const torch::Tensor& images,
                                               const torch::Tensor& tokens, bool checkpointing) {
  m.train();
  m.set_gradient_checkpointing(checkpointing);
  m.zero_grad();
  torch::manual_seed(11);
  const auto h = m.forward_text(m.encode_images(images), tokens);
  EXPECT_EQ(has_checkpoint_node(h), checkpointing);
  (h * torch::randn(h.sizes())).sum().backward();
  std::map<std::string, torch::Tensor> g;
  for (const auto& p : m.named_parameters())
    if (p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
  return g;
}

void expect_same_gradients(const std::map<std::string, torch::Tensor>& a,
                           const std::map<std::string, torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (const auto& [name, g] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    const double scale = std::max(1e-6, g.abs().max().item<double>());
    EXPECT_LT((g - b.at(name)).abs().max().item<double>() / scale, 1e-5) << name;
  }
}

TEST(GradCheckpoint, TinyModelGradientsEqualThePlainOnes) {
  TinyVlmConfig c;
  c.vocab_size = 40, c.image_size = 32, c.patch_size = 16, c.vision_width = 16, c.vision_heads = 2;
  c.vision_layers = 2, c.width = 32, c.heads = 4, c.layers = 2, c.ffn_width = 48;
  torch::manual_seed(0);
  auto m = build_tiny_vlm(c);
  const auto images = torch::rand({2, 3, 32, 32});
  const auto tokens = torch::randint(0, 40, {2, 6}, torch::kLong);
  expect_same_gradients(gradients(*m, images, tokens, false), gradients(*m, images, tokens, true));
}

TEST(GradCheckpoint, QwenGradientsEqualThePlainOnesWithAndWithoutAdapters) {
  const fs::path dir = fs::temp_directory_path() / ("coordexp_ckpt_" + std::to_string(::getpid()));
  write_tiny_qwen_checkpoint(dir, {});
  auto m = load_qwen_vl(dir);
  m->set_image_prefix({5, 6});
  torch::manual_seed(1);
  const auto images = torch::rand({2, 3, 56, 56});
  const auto tokens = torch::randint(10, 60, {2, 5}, torch::kLong);
  expect_same_gradients(gradients(*m, images, tokens, false), gradients(*m, images, tokens, true));
  // LoRA only: the layers' inputs take no gradient, the adapters inside them still do
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  AdapterConfig a;
  a.type = "lora", a.rank = 2, a.targets = {"q_proj", "down_proj", "qkv"};
  m->attach_adapters(a);
  {
    torch::NoGradGuard g;
    for (const auto& [name, ad] : m->adapters().by_name()) {
      auto B = ad.lora_B;
      B.copy_(torch::randn(B.sizes()) * 0.1);
    }
  }
  const auto plain = gradients(*m, images, tokens, false), ckpt = gradients(*m, images, tokens, true);
  expect_same_gradients(plain, ckpt);
  EXPECT_TRUE(plain.count("model.layers.0.self_attn.q_proj.lora_A.weight"));
  fs::remove_all(dir);
}

TEST(GradCheckpoint, RecomputesTheBlockInBackward) {
  int calls = 0;
  const auto w = torch::randn({3}, torch::requires_grad());
  const auto x = torch::randn({3}, torch::requires_grad());
  torch::nn::Module holder;
  holder.register_parameter("w", w);
  const auto y = checkpointed(
      [&](const torch::Tensor& h) {
        ++calls;
        return (h * w).tanh();
      },
      x, holder);
  EXPECT_EQ(calls, 1);
  y.sum().backward();
  EXPECT_EQ(calls, 2);  // run again for backward
  // 1 - tanh^2 near saturation loses digits, and tanh may differ by an ulp between its vectorised and scalar
  // loops (chosen by alignment): an absolute tolerance of 1e-6 on gradients of order 1.
  const auto t = (x * w).tanh().detach();
  EXPECT_TRUE(torch::allclose(x.grad(), (1 - t * t) * w.detach(), 1e-5, 1e-6)) << x.grad() << w;
  EXPECT_TRUE(torch::allclose(w.grad(), (1 - t * t) * x.detach(), 1e-5, 1e-6)) << w.grad() << x;
}

// A frozen block whose input takes no gradient (a frozen vision tower) runs once, with no graph kept.
TEST(GradCheckpoint, FrozenBlocksOnFrozenInputsAreNotCheckpointed) {
  int calls = 0;
  const auto w = torch::randn({3});
  torch::nn::Module holder;
  holder.register_parameter("w", w, /*requires_grad=*/false);
  const auto y = checkpointed(
      [&](const torch::Tensor& h) {
        ++calls;
        return h * w;
      },
      torch::randn({3}), holder);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(y.requires_grad());
}

TEST(GradCheckpoint, RunsThePlainBlockWithoutGradients) {
  int calls = 0;
  const auto x = torch::randn({3}, torch::requires_grad());
  torch::NoGradGuard g;
  const auto y = checkpointed(
      [&](const torch::Tensor& h) {
        ++calls;
        return h * 2;
      },
      x, torch::nn::Module());
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(y.requires_grad());
}

}  // namespace
}  // namespace coordexp
