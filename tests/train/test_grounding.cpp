// Grounding supervision: an object's cells are the cells whose centre it covers plus its centre cell; the
// term is -log of the attention mass on them, averaged over the object's answer positions (checked against
// hand-computed values and its gradient); the tiny model records head 0 of its second block as true
// log-probabilities; training with the term raises that head's mass on the written object; the trainer logs
// it and config errors are named.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "coordexp/model/tiny_vlm.hpp"
#include "coordexp/train/grounding.hpp"
#include "coordexp/train/trainer.hpp"
#include "coordexp/util/error.hpp"
#include "train_fixtures.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

TEST(Grounding, ObjectCellsAreCoveredCentresPlusTheCentreCell) {
  // 4 x 4 grid, cell centres at 0.125, 0.375, 0.625, 0.875
  EXPECT_EQ(object_cells({0.3, 0.3, 0.7, 0.7}, 4), (std::vector<int64_t>{5, 6, 9, 10}));
  EXPECT_EQ(object_cells({0.0, 0.0, 1.0, 0.25}, 4), (std::vector<int64_t>{0, 1, 2, 3}));
  // covers no centre: only the cell holding its centre (0.525, 0.875) -> row 3, column 2
  EXPECT_EQ(object_cells({0.5, 0.8, 0.55, 0.95}, 4), (std::vector<int64_t>{14}));
  // the right and bottom borders belong to the last cell
  EXPECT_EQ(object_cells({0.9, 0.9, 1.0, 1.0}, 4), (std::vector<int64_t>{15}));
}

CriterionSample one_object_sample(const BoxXYXY& box, int64_t open_pos) {
  CriterionSample s;
  s.ground_truth.push_back(DescribedBox{{7}, box});
  ObjectSpan o;
  o.source_index = 0;
  o.open_pos = open_pos;
  o.desc_pos = {open_pos + 1};
  o.coord_pos = {open_pos + 2, open_pos + 3, open_pos + 4, open_pos + 5};
  s.objects.push_back(o);
  return s;
}

TEST(Grounding, TermIsMinusLogMassOnTheObjectOverItsPositions) {
  // 2 x 2 image tokens; the object covers cell 0 only; positions 1..6 are its answer positions (open_pos 1
  // to the last coordinate at 6), positions 0 and 7 are not supervised
  const int64_t T = 8, I = 4;
  std::vector<CriterionSample> samples{one_object_sample({0.0, 0.0, 0.4, 0.4}, 1)};
  auto probs = torch::full({1, T, I}, 0.125, torch::kDouble);  // image mass 0.5, the rest on text keys
  probs[0][3][0] = 0.4;                                        // position 3 puts 0.4 on the object
  auto logp = probs.log().requires_grad_(true);
  const GroundingTerm g = grounding_term(logp, samples);
  EXPECT_DOUBLE_EQ(g.positions, 6.0);
  const double expected = (5 * -std::log(0.125) - std::log(0.4)) / 6.0;
  EXPECT_NEAR(g.value.item<double>(), expected, 1e-12);
  g.value.backward();
  // d/d logp of -(1/6) logsumexp over the object's cells: -(1/6) at the one target cell of each position,
  // zero elsewhere (positions 0 and 7, other cells)
  auto grad = logp.grad();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < I; ++j) {
      const double want = (t >= 1 && t <= 6 && j == 0) ? -1.0 / 6.0 : 0.0;
      EXPECT_NEAR(grad[0][t][j].item<double>(), want, 1e-12) << t << "," << j;
    }
  // objects without ground truth (rollout output) are skipped; no position -> zero with a graph
  samples[0].objects[0].source_index = -1;
  const GroundingTerm none = grounding_term(logp, samples);
  EXPECT_EQ(none.positions, 0.0);
  EXPECT_EQ(none.value.item<double>(), 0.0);
  EXPECT_THROW(grounding_term(torch::zeros({1, T, 3}), {one_object_sample({0, 0, 1, 1}, 1)}), InputError);
}

TEST(Grounding, TinyModelRecordsHeadZeroLogProbabilitiesAndLearnsToLook) {
  torch::manual_seed(0);
  TinyVlmConfig c;
  c.image_size = 32, c.patch_size = 8, c.vision_width = 16, c.vision_heads = 2, c.vision_layers = 1;
  c.width = 32, c.heads = 2, c.layers = 2, c.ffn_width = 48, c.vocab_size = 12;
  auto model = build_tiny_vlm(c);
  // image tokens carry a marker where the object is; the answer positions must find it
  const int64_t B = 8, T = 8, I = 16;
  auto tokens = torch::randint(0, 12, {B, T}, torch::kLong);
  std::vector<CriterionSample> samples;
  auto marker = torch::randn({c.width}) * 3;
  auto image = torch::randn({B, I, c.width});
  for (int64_t n = 0; n < B; ++n) {
    const int64_t cell = (n * 5) % I;
    const double x = (cell % 4) / 4.0, y = (cell / 4) / 4.0;
    samples.push_back(one_object_sample({x + 0.05, y + 0.05, x + 0.2, y + 0.2}, 1));
    image[n][cell] += marker;
  }
  model->record_image_attention(true);
  model->forward_text(ImageTokens::uniform(image, 4, 4), tokens);
  auto att = model->image_attention();
  ASSERT_TRUE(att.defined());
  ASSERT_EQ(att.sizes(), (std::vector<int64_t>{B, T, I}));
  // log-probabilities over all keys (image and text): the image part of each row sums to at most 1
  EXPECT_TRUE((att.exp().sum(-1) <= 1 + 1e-5).all().item<bool>());
  EXPECT_TRUE((att.exp().sum(-1) > 0.1).all().item<bool>());
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    model->forward_text(ImageTokens::uniform(image, 4, 4), tokens);
    const GroundingTerm g = grounding_term(model->image_attention(), samples);
    if (step == 0) first = g.value.item<double>();
    last = g.value.item<double>();
    opt.zero_grad();
    g.value.backward();
    opt.step();
  }
  EXPECT_NEAR(first, std::log(static_cast<double>(I + 4)), 1.0);  // about uniform over image + text keys
  EXPECT_LT(last, 0.5);                                           // over 60% of the mass on the object
  model->record_image_attention(false);
  model->forward_text(ImageTokens::uniform(image, 4, 4), tokens);
  EXPECT_FALSE(model->image_attention().defined());
}

TEST(Grounding, TrainerLogsTheTermAndConfigErrorsAreNamed) {
  const fs::path out = testing::test_root() / "grounding_run";
  fs::remove_all(out);
  TrainConfig c;
  c.data.train_json = (testing::test_data_dir() / "train.json").string();
  c.data.num_bins = 32;
  c.model.image_size = 32, c.model.patch_size = 8;
  c.model.vision_width = 16, c.model.vision_heads = 2, c.model.vision_layers = 1;
  c.model.width = 32, c.model.heads = 4, c.model.layers = 2, c.model.ffn_width = 48;
  c.optim.steps = 3, c.optim.batch_size = 4, c.optim.warmup_steps = 1, c.optim.grounding_weight = 0.5;
  c.run.out_dir = out.string();
  c.run.threads = 1, c.run.log_every = 1, c.run.checkpoint_every = 100;
  TrainOptions o;
  o.final_eval = false;
  EXPECT_EQ(train(c, o).steps_done, 3);
  std::ifstream metrics(out / "metrics.jsonl");
  std::string line;
  int grounded = 0;
  while (std::getline(metrics, line)) grounded += line.find("\"grounding\"") != std::string::npos;
  EXPECT_EQ(grounded, 3);

  const fs::path f = out / "bad.json";
  for (const std::string body :
       {R"({"data": {"train_json": "t.json"}, "optim": {"grounding_weight": -1}})",
        R"({"data": {"train_json": "t.json"}, "hf": {"path": "m"}, "model": {"image_size": 56},
            "optim": {"grounding_weight": 1}})"}) {
    std::ofstream(f) << body;
    try {
      load_train_config(f.string());
      ADD_FAILURE() << "accepted " << body;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("optim.grounding_weight"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace coordexp
