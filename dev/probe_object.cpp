// Dev probe: can the tiny V-LLM name the colour of ONE object on a flat background?
// Unlike probe_color.cpp this needs localisation: the object covers 0.6%..19% of the image.
// Usage: probe_object [steps] [lr]   (prints CE every 20 steps; chance = log 8 = 2.08)
// Build from the repo root after a build in build/:
//   g++ -std=c++20 -O2 -Iinclude -I/usr/include/torch/csrc/api/include dev/probe_object.cpp -o /tmp/probe
//       build/libcoordexp_torch.a build/libcoordexp_core.a -ltorch -ltorch_cpu -lc10 -lgloo
#include <cstdlib>
#include <iostream>

#include "coordexp/model/tiny_vlm.hpp"

using namespace coordexp;

int main(int argc, char** argv) {
  torch::manual_seed(0);
  std::srand(0);
  torch::set_num_threads(2);
  const int steps = argc > 1 ? std::atoi(argv[1]) : 200;
  const double lr = argc > 2 ? std::atof(argv[2]) : 2e-3;
  TinyVlmConfig c;
  c.vocab_size = 20;
  if (const char* v = std::getenv("VL")) c.vision_layers = std::atoi(v);
  if (const char* v = std::getenv("PATCH")) c.patch_size = std::atoi(v);
  auto model = build_tiny_vlm(c);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(lr));
  auto palette = torch::tensor({1.f, 0.f, 0.f, 0.f, .7f, 0.f, 0.f, 0.f, 1.f, 1.f, 1.f, 0.f,
                                1.f, .5f, 0.f, .6f, 0.f, .8f, 0.f, 1.f, 1.f, 1.f, .4f, .7f})
                     .view({8, 3});
  const int B = 16, S = 128;
  double avg = 0;
  for (int step = 1; step <= steps; ++step) {
    auto cls = torch::randint(0, 8, {B}, torch::kLong);
    auto img = torch::rand({B, 1, 1, 1}).expand({B, 3, S, S}).clone() * 0.6 + 0.2;  // grey background
    for (int b = 0; b < B; ++b) {
      const int side = 10 + std::rand() % 45, x = std::rand() % (S - side), y = std::rand() % (S - side);
      img[b]
          .narrow(1, y, side)
          .narrow(2, x, side)
          .copy_(palette[cls[b].item<int64_t>()].view({3, 1, 1}).expand({3, side, side}));
    }
    auto tokens = torch::full({B, 1}, 1, torch::kLong);
    auto h = model->forward_text(model->encode_images(img), tokens);
    auto loss = torch::nn::functional::cross_entropy(model->logits(h.squeeze(1)), cls + 5);
    opt.zero_grad();
    loss.backward();
    opt.step();
    avg += loss.item<double>();
    if (step % 20 == 0) {
      std::cout << "step " << step << " CE " << avg / 20 << std::endl;
      avg = 0;
    }
  }
}
