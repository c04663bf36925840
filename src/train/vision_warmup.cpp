// Vision warm-up (see vision_warmup.hpp).
#include "coordexp/train/vision_warmup.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "coordexp/train/distributed.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/progress.hpp"

namespace coordexp {

std::vector<int> assign_token_cells(const std::vector<BoxXYXY>& boxes, int64_t grid) {
  std::vector<int> cell(static_cast<size_t>(grid * grid), -1);
  auto area = [&](int i) { return (boxes[i].x2 - boxes[i].x1) * (boxes[i].y2 - boxes[i].y1); };
  auto claim = [&](int64_t r, int64_t c, int i) {
    int& owner = cell[static_cast<size_t>(r * grid + c)];
    if (owner < 0 || area(i) < area(owner)) owner = i;
  };
  for (int i = 0; i < static_cast<int>(boxes.size()); ++i) {
    const BoxXYXY& b = boxes[i];
    for (int64_t r = 0; r < grid; ++r)
      for (int64_t c = 0; c < grid; ++c) {
        const double x = (c + 0.5) / grid, y = (r + 0.5) / grid;
        if (x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2) claim(r, c, i);
      }
    // the centre cell, so an object smaller than a cell is still seen
    const auto at = [&](double v) {
      return std::clamp<int64_t>(static_cast<int64_t>(v * grid), 0, grid - 1);
    };
    claim(at(0.5 * (b.y1 + b.y2)), at(0.5 * (b.x1 + b.x2)), i);
  }
  return cell;
}

VisionWarmupResult vision_warmup(VisionLanguageModel& model, const BatchBuilder& builder, int64_t vocab_size,
                                 const VisionWarmupConfig& config, Communicator* comm, std::ostream* log) {
  VisionWarmupResult result;
  if (config.steps <= 0) return result;
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t D = model.input_embedding().size(1);
  const int64_t classes = vocab_size + 1;  // the description tokens' vocabulary + background
  torch::nn::Linear head(torch::nn::LinearOptions(D, classes + 4));
  {
    torch::NoGradGuard ng;
    head->weight.normal_(0, 0.02);
    head->bias.zero_();
  }
  std::vector<torch::Tensor> params;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) params.push_back(p);
  for (const auto& p : head->parameters()) params.push_back(p);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(config.lr).betas({0.9, 0.95}).weight_decay(0.0));
  const int64_t warm = std::max<int64_t>(1, config.steps / 10);
  auto lr_at = [&](int64_t s) {
    if (s < warm) return config.lr * (s + 1) / warm;
    const double t = static_cast<double>(s - warm) / std::max<int64_t>(1, config.steps - warm);
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * t)));
  };
  PrefetchLoader loader(builder, 0, config.steps);
  std::unique_ptr<ProgressBar> bar;
  if (log) bar = std::make_unique<ProgressBar>("vision warm-up", config.steps, 0, 10);
  double sum_ce = 0, sum_l1 = 0, sum_word = 0, sum_bg = 0, n_obj = 0, n_bg = 0, n_tail = 0;
  for (int64_t s = 0; s < config.steps; ++s) {
    TrainBatch batch = loader.next();
    auto tokens = model.encode_image_list(batch.images).embeds;  // [B, I, D]
    const int64_t B = tokens.size(0), I = tokens.size(1);
    const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(I))));
    COORDEXP_CHECK_ARG(grid * grid == I, "optim.vision_warmup_steps",
                       "a model with a square grid of image tokens", std::to_string(I) + " image tokens");
    // targets: soft description distribution [B*I, classes], box [B*I, 4], object mask [B*I]
    auto target = torch::zeros({B * I, classes});
    auto boxes = torch::zeros({B * I, 4});
    auto on_object = torch::zeros({B * I});
    auto ta = target.accessor<float, 2>();
    auto ba = boxes.accessor<float, 2>();
    auto oa = on_object.accessor<float, 1>();
    const int64_t R = batch.sequences_per_image;
    for (int64_t b = 0; b < B; ++b) {
      const auto& gt = batch.samples[static_cast<size_t>(b * R)].ground_truth;
      std::vector<BoxXYXY> bx;
      for (const auto& g : gt) bx.push_back(g.box);
      const auto cells = assign_token_cells(bx, grid);
      for (int64_t t = 0; t < I; ++t) {
        const int64_t row = b * I + t;
        const int owner = cells[static_cast<size_t>(t)];
        if (owner < 0 || gt[owner].desc_ids.empty()) {
          ta[row][vocab_size] = 1;
          continue;
        }
        const auto& ids = gt[owner].desc_ids;
        for (TokenId id : ids)
          if (id >= 0 && id < vocab_size) ta[row][id] += 1.f / static_cast<float>(ids.size());
        const BoxXYXY& g = gt[owner].box;
        ba[row][0] = static_cast<float>(g.x1), ba[row][1] = static_cast<float>(g.y1);
        ba[row][2] = static_cast<float>(g.x2), ba[row][3] = static_cast<float>(g.y2);
        oa[row] = 1;
      }
    }
    auto out = head(tokens.reshape({B * I, D}));
    auto logp = torch::log_softmax(out.narrow(1, 0, classes), 1);
    auto ce_rows = -(target * logp).sum(1);  // [B*I]
    auto weight_rows = on_object + (1 - on_object) * config.background_weight;
    auto ce = (ce_rows * weight_rows).sum() / weight_rows.sum();
    const double objects = on_object.sum().item<double>();
    auto l1 = ((torch::sigmoid(out.narrow(1, classes, 4)) - boxes).abs().sum(1) * on_object).sum() /
              std::max(1.0, 4 * objects);
    auto loss = ce + config.box_weight * l1;
    bool finite = std::isfinite(loss.item<double>());
    if (comm && comm->world_size() > 1) finite = comm->all_reduce_sum({finite ? 0.0 : 1.0})[0] == 0;
    if (!finite) {
      std::ostringstream terms;
      terms << "description CE " << ce.item<double>() << ", box L1 " << l1.item<double>();
      throw std::runtime_error("vision warm-up: non-finite loss at step " + std::to_string(s + 1) + " (" +
                               terms.str() + "; on some rank when data parallel); nothing was trained past " +
                               "the model's initial state: lower vision_warmup.lr (now " +
                               std::to_string(config.lr) + ")");
    }
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr_at(s));
    opt.zero_grad();
    loss.backward();
    if (comm && comm->world_size() > 1) comm->all_reduce_gradients(params);
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
    {
      torch::NoGradGuard ng;
      // an object token is right when its top-n classes are exactly its n description tokens
      auto sorted = std::get<0>(logp.sort(1, /*descending=*/true));
      auto n = target.gt(0).sum(1);  // [B*I]
      auto nth = sorted.gather(1, (n - 1).clamp_min(0).unsqueeze(1));
      auto in_top = logp.ge(nth) & target.gt(0);
      auto hit = (in_top.sum(1) == n).logical_and(logp.ge(nth).sum(1) == n).to(torch::kFloat);
      const double words = (hit * on_object).sum().item<double>(),
                   bg = (hit * (1 - on_object)).sum().item<double>();
      if (s >= config.steps - std::max<int64_t>(1, config.steps / 10)) {
        sum_ce += ce.item<double>(), sum_l1 += l1.item<double>(), ++n_tail;
        sum_word += words, sum_bg += bg, n_obj += objects, n_bg += static_cast<double>(B * I) - objects;
      }
      if (bar) {
        std::ostringstream line;
        line.precision(3);
        line << "desc_ce " << ce.item<double>() << " box_l1 " << l1.item<double>() << " word_acc "
             << words / std::max(1.0, objects);
        bar->update(s + 1, line.str());
      }
    }
  }
  if (bar) bar->finish("");
  result.desc_ce = sum_ce / std::max(1.0, n_tail);
  result.box_l1 = sum_l1 / std::max(1.0, n_tail);
  result.word_accuracy = sum_word / std::max(1.0, n_obj);
  result.background_accuracy = sum_bg / std::max(1.0, n_bg);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace coordexp
