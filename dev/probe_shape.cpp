// Dev probe: can the tiny V-LLM name the shape and colour of ONE OpenShapes object (10 shapes x 10 colours,
// 16..56 px, random place and rotation, noisy gradient background)? Two query tokens: the hidden state at the
// first predicts the shape, at the second the colour. Prints CE, accuracy and seconds per step every 25
// steps (chance: CE 2.30, accuracy 0.10).
// Usage: probe_shape [steps] [lr]; env STEM_BLOCKS, VL (vision layers), VW (vision width), PATCH.
// Build from the repo root after a build in build/:
//   g++ -std=c++20 -O2 -Iinclude -I/usr/include/torch/csrc/api/include dev/probe_shape.cpp -o
//   /tmp/probe_shape
//       build/libcoordexp_torch.a build/libcoordexp_core.a -ltorch -ltorch_cpu -lc10 -lgloo
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

#include "coordexp/data/synth_shapes.hpp"
#include "coordexp/data/synth_vocab.hpp"
#include "coordexp/model/tiny_vlm.hpp"

using namespace coordexp;

int main(int argc, char** argv) {
  torch::manual_seed(0);
  std::mt19937 rng(0);
  torch::set_num_threads(2);
  const int steps = argc > 1 ? std::atoi(argv[1]) : 300;
  const double lr = argc > 2 ? std::atof(argv[2]) : 5e-4;
  TinyVlmConfig c;
  c.vocab_size = 32;
  auto env = [](const char* k, int64_t& v) {
    if (const char* s = std::getenv(k)) v = std::atoi(s);
  };
  env("STEM_BLOCKS", c.stem_blocks), env("VL", c.vision_layers), env("VW", c.vision_width),
      env("PATCH", c.patch_size);
  int64_t warmup = 0;
  env("WARMUP", warmup);
  auto model = build_tiny_vlm(c);
  torch::nn::Sequential cnn{nullptr};
  torch::nn::Linear cnn_head{nullptr};
  auto params = model->parameters();
  if (std::getenv("CNN")) {
    cnn = torch::nn::Sequential();
    for (int64_t in = 3, out = 32; out <= 256; in = out, out *= 2) {
      cnn->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
      cnn->push_back(torch::nn::GroupNorm(8, out));
      cnn->push_back(torch::nn::GELU());
    }
    cnn_head = torch::nn::Linear(256, 64);
    params = cnn->parameters();
    for (auto& p : cnn_head->parameters()) params.push_back(p);
  }
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(lr));
  const int B = 16, S = 128;
  std::uniform_real_distribution<double> U(0, 1);
  double ce = 0, acc_shape = 0, acc_colour = 0, secs = 0;
  for (int step = 1; step <= steps; ++step) {
    auto img = torch::empty({B, S, S, 3});
    auto shape_cls = torch::empty({B}, torch::kLong), colour_cls = torch::empty({B}, torch::kLong);
    auto acc = img.accessor<float, 4>();
    for (int b = 0; b < B; ++b) {
      const double g0 = 0.3 + 0.4 * U(rng), gx = 0.2 * (U(rng) - 0.5), gy = 0.2 * (U(rng) - 0.5);
      std::normal_distribution<float> noise(0.f, 0.02f);
      const int kind = rng() % kNumShapeKinds, colour = rng() % kNumSynthColours;
      shape_cls[b] = kind, colour_cls[b] = colour;
      const double size = 16 * std::pow(56.0 / 16.0, U(rng));
      const double cx = size / 2 + U(rng) * (S - size), cy = size / 2 + U(rng) * (S - size);
      const double rot = (2 * U(rng) - 1) * shape_max_rotation(static_cast<ShapeKind>(kind));
      const auto shape = make_shape(static_cast<ShapeKind>(kind), cx, cy, size, rot);
      const auto rgb = synth_colours()[colour].rgb;
      for (int y = 0; y < S; ++y)
        for (int x = 0; x < S; ++x) {
          const bool in = shape_contains(shape, x + 0.5, y + 0.5);
          const float bg = static_cast<float>(g0 + gx * (x - 64) / 64 + gy * (y - 64) / 64);
          acc[b][y][x][0] = (in ? rgb.r / 255.f : bg) + noise(rng);
          acc[b][y][x][1] = (in ? rgb.g / 255.f : bg) + noise(rng);
          acc[b][y][x][2] = (in ? rgb.b / 255.f : bg) + noise(rng);
        }
    }
    auto t0 = std::chrono::steady_clock::now();
    torch::Tensor logits;  // [B, 2, V]
    if (cnn) {             // reference: a plain CNN classifier, global max pool over the last feature map
      auto f = cnn->forward((img.permute({0, 3, 1, 2}).contiguous() - 0.5) / 0.25);
      logits = cnn_head(std::get<0>(f.flatten(2).max(2))).view({B, 2, 32});
    } else {
      auto tokens = torch::tensor({1L, 2L}).unsqueeze(0).expand({B, 2}).contiguous();
      auto h = model->forward_text(model->encode_images(img.permute({0, 3, 1, 2}).contiguous()), tokens);
      logits = model->logits(h);
    }
    auto ls = logits.select(1, 0).narrow(1, 10, 10), lc = logits.select(1, 1).narrow(1, 20, 10);
    auto loss = torch::nn::functional::cross_entropy(ls, shape_cls) +
                torch::nn::functional::cross_entropy(lc, colour_cls);
    for (auto& group : opt.param_groups())  // linear warmup over WARMUP steps (env, default 0)
      static_cast<torch::optim::AdamWOptions&>(group.options())
          .lr(lr * std::min(1.0, step / double(warmup + 1)));
    opt.zero_grad();
    loss.backward();
    opt.step();
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ce += loss.item<double>() / 2;
    acc_shape += (ls.argmax(1) == shape_cls).to(torch::kFloat).mean().item<double>();
    acc_colour += (lc.argmax(1) == colour_cls).to(torch::kFloat).mean().item<double>();
    if (step % 25 == 0) {
      std::cout << "step " << step << " CE " << ce / 25 << " shape acc " << acc_shape / 25 << " colour acc "
                << acc_colour / 25 << " s/step " << secs / 25 << std::endl;
      ce = acc_shape = acc_colour = secs = 0;
    }
  }
}
