// Dev probe: can the tiny V-LLM learn to name the colour of a solid-colour image from its image tokens?
// Trains next-token CE on "<bos> -> colour" with random solid images; prints the loss (chance = log 10).
// Build from the repo root after a build in build/:
//   g++ -std=c++20 -O2 -Iinclude -I/usr/include/torch/csrc/api/include dev/probe_color.cpp -o /tmp/probe
//       build/libcoordexp_torch.a build/libcoordexp_core.a -ltorch -ltorch_cpu -lc10 -lgloo
#include <iostream>

#include "coordexp/model/tiny_vlm.hpp"

using namespace coordexp;

int main(int argc, char** argv) {
  torch::manual_seed(0);
  torch::set_num_threads(2);
  const bool patch_only = argc > 1 && std::string(argv[1]) == "patch";
  TinyVlmConfig c;
  c.vocab_size = 20;
  c.conv_stem = !patch_only;
  auto model = build_tiny_vlm(c);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  auto palette = torch::rand({10, 3});
  for (int step = 0; step <= 200; ++step) {
    auto cls = torch::randint(0, 10, {16}, torch::kLong);
    auto img = palette.index_select(0, cls).view({16, 3, 1, 1}).expand({16, 3, 128, 128}).clone();
    img = img + 0.025 * torch::randn_like(img);
    auto tokens = torch::full({16, 1}, 1, torch::kLong);
    auto h = model->forward_text(model->encode_images(img), tokens);  // [16, 1, D]
    auto loss = torch::nn::functional::cross_entropy(model->logits(h.squeeze(1)), cls + 5);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % 20 == 0) std::cout << "step " << step << " loss " << loss.item<double>() << std::endl;
  }
}
