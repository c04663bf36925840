// Dev probe: how fast does the tiny decoder learn the OpenShapes answer when its image tokens are perfect?
// Each of the 64 image tokens is built from the ground truth of its cell: a fixed random code of the
// covering object's description words, of its box (sin-cos features), an objectness code and the cell's
// 2-D position code; background cells get the position code only. The decoder is trained with token CE
// on the answer; every 20 steps it prints the CE on description and coordinate tokens, the accuracy of
// the first object's first and second description words, and the grounding term (when GROUND is set).
// Usage: probe_oracle TRAIN.json [steps] [lr]. Environment:
//   LAYERS, WIDTH      decoder size (heads = WIDTH / 32)
//   INIT=s, INITALL=1  re-initialise input-side (all with INITALL) projections at std s / sqrt(fan_in)
//   BOXCODE=0          no box code in the tokens          CHEAT=1  every token also carries the first
//   COORDW=w           weight of coordinate tokens               object's words (no picking needed)
//   GROUND=w           grounding term (train/grounding.hpp) with weight w
//   BOXFIRST=1         each object written as <obj_start> x1 y1 x2 y2 description <obj_end>
//   ORDER=raster       object order (data.order)            SCAN=1   model.scan_pointer
//   CENTRE=1           the token of the cell holding an object's centre also carries a centre code
//   WORDSCALE=s        norm of the word codes (default 2, against ~10 for the position and ~20 for the box
//   code)
// Build from the repo root after a build in build/:
//   g++ -std=c++20 -O2 -Iinclude -I/usr/include/torch/csrc/api/include dev/probe_oracle.cpp -o /tmp/oracle
//       build/libcoordexp_torch.a build/libcoordexp_core.a -ltorch -ltorch_cpu -lc10 -lgloo -lpng -lsimdjson
//       -lz
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/batch_builder.hpp"
#include "coordexp/train/grounding.hpp"
#include "coordexp/train/vision_warmup.hpp"

using namespace coordexp;

int main(int argc, char** argv) {
  torch::manual_seed(0);
  torch::set_num_threads(2);
  DetectionDataset data = load_detection_dataset(argv[1], "", true);
  const int steps = argc > 2 ? std::atoi(argv[2]) : 200;
  const double lr = argc > 3 ? std::atof(argv[3]) : 5e-4;
  const bool box_code = !std::getenv("BOXCODE") || std::atoi(std::getenv("BOXCODE")) != 0;
  ImageStore cache(data, ImageStoreConfig::square(128, 2));
  std::vector<std::string> texts;
  for (const auto& c : data.coco.categories) texts.push_back(c.name);
  const WordTokenizer tok = WordTokenizer::build(texts, 128);
  DataConfig dc;
  dc.num_bins = 128;
  if (const char* v = std::getenv("ORDER")) dc.order = v;
  const int64_t B = 16, G = 8;
  dc.raster_grid = G;
  BatchBuilder builder(data, cache, tok, dc, B, 0);
  TinyVlmConfig c;
  c.vocab_size = tok.vocab_size();
  c.coord_first_id = tok.coord_vocab().first_id();
  c.num_coord_bins = 128;
  if (std::getenv("SHARED")) c.shared_image_position = true;
  if (std::getenv("SCAN")) c.scan_pointer = true;
  if (const char* v = std::getenv("LAYERS")) c.layers = std::atoi(v);
  if (const char* v = std::getenv("WIDTH")) c.width = std::atoi(v), c.heads = c.width / 32;
  auto model = build_tiny_vlm(c);
  if (const char* v = std::getenv("INIT")) {  // re-init input-side projections at std = scale / sqrt(fan_in)
    torch::NoGradGuard ng;
    const double scale = std::atof(v);
    for (auto& p : model->named_parameters()) {
      const auto& n = p.key();
      if (p.value().dim() != 2 || n.find("stem") == 0) continue;
      if (n.find("embed") != std::string::npos) continue;
      const bool residual_out = n.find(".out.") != std::string::npos || n.find("down") != std::string::npos ||
                                n.find("fc2") != std::string::npos;
      const bool all = std::getenv("INITALL") != nullptr;
      const bool input_side = n.find("qkv") != std::string::npos || n.find("gate_up") != std::string::npos ||
                              n.find("proj") != std::string::npos || n.find("fc1") != std::string::npos;
      if (!input_side && !all) continue;
      p.value().normal_(
          0, scale / std::sqrt(double(p.value().size(1))) / (residual_out ? std::sqrt(2.0 * c.layers) : 1.0));
    }
  }
  const int64_t D = c.width;
  // WORDSCALE: norm of the word codes (2 by default, against about 10 for the position code and 20 for the
  // box code)
  auto word_code = torch::randn({c.vocab_size, D}) / std::sqrt(double(D)) *
                   (std::getenv("WORDSCALE") ? std::atof(std::getenv("WORDSCALE")) : 2.0);
  auto box_proj = torch::randn({4 * 16, D}) / std::sqrt(64.0) * 2;
  auto obj_code = torch::randn({D}) / std::sqrt(double(D)) * 2;
  auto centre_code = torch::randn({D}) / std::sqrt(double(D)) * 2;
  auto pos_proj = torch::randn({4 * 8, D}) / std::sqrt(32.0);
  auto fourier = [](double v, int F) {
    std::vector<float> f;
    for (int i = 1; i <= F; ++i) f.push_back(std::sin(v * M_PI * i)), f.push_back(std::cos(v * M_PI * i));
    return f;
  };
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(lr));
  double ce_desc = 0, ce_coord = 0, first_acc = 0, ground_sum = 0, second_acc = 0;
  for (int step = 1; step <= steps; ++step) {
    TrainBatch b = builder.build(step);
    if (std::getenv("BOXFIRST")) {  // rewrite each object as <obj_start> x1 y1 x2 y2 description <obj_end>
      auto tokens = b.tokens.clone(), roles = b.roles.clone();
      for (int64_t n = 0; n < B; ++n)
        for (auto& o : b.samples[n].objects) {
          std::vector<int64_t> order(o.coord_pos.begin(), o.coord_pos.end());
          order.insert(order.end(), o.desc_pos.begin(), o.desc_pos.end());
          for (size_t i = 0; i < order.size(); ++i) {
            tokens[n][o.open_pos + 1 + i] = b.tokens[n][order[i]];
            roles[n][o.open_pos + 1 + i] = b.roles[n][order[i]];
          }
          const int64_t nd = static_cast<int64_t>(o.desc_pos.size());
          for (int i = 0; i < 4; ++i) o.coord_pos[i] = o.open_pos + 1 + i;
          for (int64_t i = 0; i < nd; ++i) o.desc_pos[i] = o.open_pos + 5 + i;
          o.coord_pos[3] =
              o.open_pos + 4 + nd;  // grounding_term supervises up to coord_pos[3]: the last word
        }
      b.tokens = tokens, b.roles = roles;
    }
    auto img = torch::zeros({B, G * G, D});
    for (int64_t n = 0; n < B; ++n) {
      const auto& gt = b.samples[n].ground_truth;
      std::vector<BoxXYXY> boxes;
      for (const auto& o : gt) boxes.push_back(o.box);
      const auto cells = assign_token_cells(boxes, G);
      for (int64_t t = 0; t < G * G; ++t) {
        auto pf = fourier((t % G + 0.5) / G, 8), pr = fourier((t / G + 0.5) / G, 8);
        pf.insert(pf.end(), pr.begin(), pr.end());
        auto tokv = torch::matmul(torch::tensor(pf), pos_proj);
        if (cells[t] >= 0) {
          const auto& o = gt[cells[t]];
          tokv += obj_code;
          if (std::getenv("CENTRE")) {  // the cell holding the object's centre is marked
            const auto cc = center_cell(quantize_box(o.box, tok.coord_vocab()), 128, G);
            if (cc[0] * G + cc[1] == t) tokv += centre_code;
          }
          for (TokenId w : o.desc_ids) tokv += word_code[w];
          if (box_code) {
            std::vector<float> bf;
            for (double v : {o.box.x1, o.box.y1, o.box.x2, o.box.y2}) {
              auto f = fourier(v, 8);
              bf.insert(bf.end(), f.begin(), f.end());
            }
            tokv += torch::matmul(torch::tensor(bf), box_proj);
          }
        }
        if (std::getenv(
                "CHEAT")) {  // every token also carries the leftmost object's words: no selection needed
          size_t first = 0;
          for (size_t i = 1; i < gt.size(); ++i)
            if (gt[i].box.x1 < gt[first].box.x1) first = i;
          for (TokenId w : gt[first].desc_ids) tokv += word_code[w];
        }
        img[n][t] = tokv;
      }
    }
    auto inputs = b.tokens.narrow(1, 0, b.tokens.size(1) - 1),
         targets = b.tokens.narrow(1, 1, b.tokens.size(1) - 1);
    auto roles = b.roles.narrow(1, 1, b.tokens.size(1) - 1);
    const double ground = std::getenv("GROUND") ? std::atof(std::getenv("GROUND")) : 0.0;
    model->record_image_attention(ground > 0);
    auto logits = model->logits(model->forward_text(ImageTokens::uniform(img, 8, 8), inputs));
    torch::Tensor ground_loss = torch::zeros({});
    if (ground > 0) ground_loss = grounding_term(model->image_attention(), b.samples).value;
    auto ce = torch::nn::functional::cross_entropy(
                  logits.reshape({-1, c.vocab_size}), targets.reshape({-1}),
                  torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
                  .view(targets.sizes());
    auto desc = roles == static_cast<uint8_t>(TokenRole::kDescription);
    auto coord = roles == static_cast<uint8_t>(TokenRole::kCoordinate);
    auto supervised = roles != kRoleNone;
    if (const char* w = std::getenv("COORDW"))  // weight of coordinate tokens in the loss
      supervised = supervised.to(torch::kFloat) * torch::where(coord, std::atof(w), 1.0);
    auto loss = (ce * supervised).sum() / supervised.sum() + ground * ground_loss;
    opt.zero_grad();
    loss.backward();
    opt.step();
    ground_sum += ground_loss.item<double>();
    ce_desc += ((ce * desc).sum() / desc.sum()).item<double>();
    ce_coord += ((ce * coord).sum() / coord.sum()).item<double>();
    // first description token of each sequence
    auto first = desc.to(torch::kLong).argmax(1);
    auto pred = logits.argmax(-1).gather(1, first.unsqueeze(1)).squeeze(1);
    {
      auto second = (first + 1).unsqueeze(1);
      auto pred2 = logits.argmax(-1).gather(1, second).squeeze(1);
      second_acc += (pred2 == targets.gather(1, second).squeeze(1)).to(torch::kFloat).mean().item<double>();
    }
    first_acc +=
        (pred == targets.gather(1, first.unsqueeze(1)).squeeze(1)).to(torch::kFloat).mean().item<double>();
    if (step % 20 == 0) {
      std::cout << "step " << step << " desc CE " << ce_desc / 20 << " coord CE " << ce_coord / 20
                << " first-word acc " << first_acc / 20 << " second-word acc " << second_acc / 20
                << " grounding " << ground_sum / 20 << std::endl;
      for (auto& p : model->named_parameters())
        if (p.key() == "pointer_bias" || p.key() == "key_score.weight")
          std::cout << "  " << p.key() << " abs max " << p.value().abs().max().item<double>() << std::endl;
      ce_desc = ce_coord = first_acc = ground_sum = second_acc = 0;
    }
  }
}
