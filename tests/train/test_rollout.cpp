// Rollout consistency steps: a scripted model writes known rollouts (a correct object, a duplicate of it,
// nothing for an image without ground truth), and the built batch must hold exactly the expected sequence,
// roles, spans and matches; the criterion's loss on it is finite and pulls the matched box; the trainer
// interleaves rollout steps, logs their figures and times them against teacher-forced steps.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/rollout.hpp"
#include "coordexp/train/trainer.hpp"
#include "coordexp/util/error.hpp"
#include "train_fixtures.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

// Writes one scripted token per call: hidden state = 50 * one-hot(next token), LM head = identity.
class ScriptedModel : public VisionLanguageModel {
 public:
  ScriptedModel(int64_t vocab, std::vector<std::vector<TokenId>> scripts)
      : V_(vocab), scripts_(std::move(scripts)) {
    head_ = register_parameter("head", torch::eye(vocab));
  }
  ImageTokens encode_images(const torch::Tensor& images) override {
    return ImageTokens::uniform(torch::zeros({images.size(0), 1, V_}), 1, 1);
  }
  torch::Tensor forward_text(const ImageTokens&, const torch::Tensor& tokens) override {
    return torch::zeros({tokens.size(0), tokens.size(1), V_});
  }
  torch::Tensor prefill(const ImageTokens&, const torch::Tensor&, KvCache&) override {
    step_ = 0;
    return next();
  }
  torch::Tensor decode_step(const torch::Tensor&, KvCache&) override { return next(); }
  TokenTable lm_head() override { return {head_, {}, {}}; }
  TokenTable input_table() override { return {head_, {}, {}}; }
  int64_t vocab_size() const override { return V_; }
  bool is_image_encoder_parameter(const std::string&) const override { return false; }

 private:
  torch::Tensor next() {
    auto h = torch::zeros({static_cast<int64_t>(scripts_.size()), V_});
    for (size_t b = 0; b < scripts_.size(); ++b)
      if (step_ < scripts_[b].size()) h[b][scripts_[b][step_]] = 50.0;
    ++step_;
    return h;
  }
  int64_t V_;
  std::vector<std::vector<TokenId>> scripts_;
  size_t step_ = 0;
  torch::Tensor head_;
};

TEST(Rollout, BatchHoldsTheRolloutMatchedDescriptionsMissedObjectsAndTheEnd) {
  const WordTokenizer tok = WordTokenizer::build({"red star", "blue circle"}, 16);
  const CoordVocab v = tok.coord_vocab();
  const StructureTokens st = tok.structure();
  const auto red_star = tok.encode("red star"), blue_circle = tok.encode("blue circle");
  auto obj = [&](const std::vector<TokenId>& desc, std::array<int, 4> bins) {
    std::vector<TokenId> ids{st.obj_start};
    ids.insert(ids.end(), desc.begin(), desc.end());
    for (int k : bins) ids.push_back(v.id_of_bin(k));
    ids.push_back(st.obj_end);
    return ids;
  };
  // image 0: the red star right, then nearly the same box again; image 1 (no ground truth): one blue circle
  std::vector<TokenId> s0 = obj(red_star, {1, 1, 9, 9}), dup = obj(red_star, {1, 1, 9, 10});  // IoU 0.89
  s0.insert(s0.end(), dup.begin(), dup.end());
  s0.push_back(st.answer_end);
  std::vector<TokenId> s1 = obj(blue_circle, {8, 8, 12, 12});
  s1.push_back(st.answer_end);
  ScriptedModel model(tok.vocab_size(), {s0, s1});

  TrainBatch tf;
  tf.images = torch::zeros({2, 3, 8, 8}).unbind(0);
  tf.sequences_per_image = 1;
  CriterionSample a, b;
  a.ground_truth = {{red_star, dequantize_box({1, 1, 9, 9}, v)},
                    {blue_circle, dequantize_box({10, 2, 15, 6}, v)}};
  tf.samples = {a, b};
  RolloutConfig rc;
  rc.min_iou = 0.5;
  CriterionConfig cc;
  RolloutStats stats;
  const auto prompt = tok.prompt_ids({});
  const MeanInputEmbedder embedder(model.input_embedding());
  const TrainBatch r =
      build_rollout_batch(model, tf, tok, prompt, cc, rc, GenerationConfig{}, embedder, &stats);

  EXPECT_EQ(stats.images, 2);
  EXPECT_EQ(stats.generated, 3);
  EXPECT_EQ(stats.matched, 1);
  EXPECT_EQ(stats.duplicates, 2);
  EXPECT_EQ(stats.missed, 1);
  EXPECT_EQ(stats.ground_truth, 2);
  EXPECT_EQ(stats.unterminated, 0);
  ASSERT_EQ(r.samples.size(), 2u);

  // image 0: prompt, red star (matched), red star (unmatched duplicate), blue circle (appended), end
  const int64_t P = static_cast<int64_t>(prompt.size());
  std::vector<TokenId> expected = prompt;
  const auto appended = obj(blue_circle, {10, 2, 15, 6});
  expected.insert(expected.end(), s0.begin(), s0.end());
  expected.insert(expected.end(), appended.begin(), appended.end());
  expected.erase(expected.begin() + P + static_cast<int64_t>(s0.size()) - 1);  // the rollout's end moves last
  expected.push_back(st.answer_end);
  const int64_t L = static_cast<int64_t>(expected.size());
  auto row = r.tokens[0].narrow(0, 0, L);
  EXPECT_TRUE(torch::equal(row, torch::tensor(expected))) << row;
  const auto roles = r.roles[0];
  const uint8_t none = kRoleNone, desc = static_cast<uint8_t>(TokenRole::kDescription),
                stru = static_cast<uint8_t>(TokenRole::kStructure),
                coord = static_cast<uint8_t>(TokenRole::kCoordinate);
  const std::vector<uint8_t> object_roles_matched = {stru, desc, desc, none, none, none, none, stru};
  const std::vector<uint8_t> object_roles_unmatched(8, none);
  const std::vector<uint8_t> object_roles_appended = {stru, desc, desc, coord, coord, coord, coord, stru};
  std::vector<uint8_t> expected_roles(P, none);
  for (const auto* part : {&object_roles_matched, &object_roles_unmatched, &object_roles_appended})
    expected_roles.insert(expected_roles.end(), part->begin(), part->end());
  expected_roles.push_back(stru);
  for (int64_t t = 0; t < L; ++t) EXPECT_EQ(roles[t].item<int>(), expected_roles[t]) << "position " << t;

  const CriterionSample& s = r.samples[0];
  ASSERT_EQ(s.objects.size(), 3u);
  EXPECT_EQ(s.objects[0].source_index, -1);
  EXPECT_EQ(s.objects[1].source_index, -1);
  EXPECT_EQ(s.objects[2].source_index, 1);
  ASSERT_TRUE(s.fixed_match.has_value());
  EXPECT_EQ(s.fixed_match->pred_idx, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(s.fixed_match->gt_idx, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(s.objects[1].open_pos, P + 8);
  EXPECT_EQ(s.objects[2].coord_pos[0], P + 16 + 3);

  // image 1: the hallucinated circle, unsupervised, then an end the ground truth confirms
  const CriterionSample& e = r.samples[1];
  ASSERT_EQ(e.objects.size(), 1u);
  EXPECT_TRUE(e.fixed_match->pred_idx.empty());
  EXPECT_EQ(r.roles[1][P + 8].item<int>(), stru);
  EXPECT_EQ(r.tokens[1][P + 8].item<int64_t>(), st.answer_end);

  // the criterion on the batch: unlikelihood on the two unmatched <obj_start>s, finite terms
  CriterionConfig ul = cc;
  ul.unmatched = UnmatchedPolicy::kUnlikelihood;
  const SetCriterion criterion(ul, v, st);
  CriterionBatch cb;
  cb.hidden = torch::randn({2, r.tokens.size(1), tok.vocab_size()}, torch::kDouble).to(torch::kFloat);
  cb.tokens = r.tokens;
  cb.roles = r.roles;
  cb.lm_head = TokenTable{torch::eye(tok.vocab_size()), {}, {}};
  cb.samples = r.samples;
  const CriterionOutput out = criterion(cb, &embedder);
  EXPECT_TRUE(out.finite()) << out.describe();
  EXPECT_EQ(out.num_matched, 2);
  EXPECT_EQ(out.num_unmatched_pred, 2);
  EXPECT_TRUE(out.losses.terms().count("unmatched"));
}

TrainConfig tiny_rollout_config(const std::string& name) {
  const fs::path data = testing::test_data_dir();
  TrainConfig c;
  c.data.train_json = (data / "train.json").string();
  c.data.val_json = (data / "val.json").string();
  c.data.num_bins = 32;
  c.model.image_size = 32, c.model.patch_size = 16;
  c.model.vision_width = 16, c.model.vision_heads = 2, c.model.vision_layers = 1;
  c.model.width = 32, c.model.heads = 4, c.model.layers = 1, c.model.ffn_width = 48;
  c.optim.steps = 6, c.optim.batch_size = 4, c.optim.warmup_steps = 1;
  c.criterion.unmatched = UnmatchedPolicy::kUnlikelihood;
  c.rollout.every = 2, c.rollout.start_step = 2, c.rollout.max_new_tokens = 24;
  c.run.out_dir = (testing::test_root() / name).string();
  c.run.threads = 1, c.run.log_every = 1, c.run.checkpoint_every = 100;
  fs::remove_all(c.run.out_dir);
  return c;
}

TEST(Rollout, MissedObjectsAreAppendedInTheDataOrder) {
  // Nothing generated; two ground-truth objects whose x1 order (the left one first) and raster order on a
  // 2 x 2 grid (the top-right one first) differ. The appended objects must follow the order asked for.
  const WordTokenizer tok = WordTokenizer::build({"red star", "blue circle"}, 16);
  const CoordVocab v = tok.coord_vocab();
  const StructureTokens st = tok.structure();
  const std::array<int, 4> top_right{9, 0, 14, 4}, bottom_left{0, 10, 4, 14};
  TrainBatch tf;
  tf.images = torch::zeros({1, 3, 8, 8}).unbind(0);
  tf.sequences_per_image = 1;
  CriterionSample a;
  a.ground_truth = {{tok.encode("red star"), dequantize_box(top_right, v)},
                    {tok.encode("blue circle"), dequantize_box(bottom_left, v)}};
  tf.samples = {a};
  const auto prompt = tok.prompt_ids({});
  auto first_x1_after_prompt = [&](ObjectOrder order) {
    ScriptedModel model(tok.vocab_size(), {{st.answer_end}});
    const MeanInputEmbedder embedder(model.input_embedding());
    RolloutStats stats;
    const TrainBatch r = build_rollout_batch(model, tf, tok, prompt, CriterionConfig{}, RolloutConfig{},
                                             GenerationConfig{}, embedder, &stats, order, 2);
    EXPECT_EQ(stats.missed, 2);
    const CriterionSample& s = r.samples[0];
    EXPECT_EQ(s.objects.size(), 2u);
    return v.bin_of(r.tokens[0][s.objects.at(0).coord_pos[0]].item<int64_t>());
  };
  EXPECT_EQ(first_x1_after_prompt(ObjectOrder::kX1Ascending), bottom_left[0]);
  EXPECT_EQ(first_x1_after_prompt(ObjectOrder::kRaster), top_right[0]);
}

TEST(Rollout, TrainerInterleavesRolloutStepsAndTimesThem) {
  const TrainConfig c = tiny_rollout_config("rollout_run");
  TrainOptions o;
  o.final_eval = false;
  const TrainSummary summary = train(c, o);
  EXPECT_GT(summary.rollout_time_ratio, 0.0);
  int rollouts = 0;
  std::ifstream f(fs::path(c.run.out_dir) / "metrics.jsonl");
  for (std::string line; std::getline(f, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("rollout")) continue;
    ++rollouts;
    EXPECT_EQ(j["rollout"]["images"], 4);
    EXPECT_TRUE(std::isfinite(j["loss"].get<double>()));
    EXPECT_EQ(j["rollout"]["matched"].get<int64_t>() + j["rollout"]["missed"].get<int64_t>(),
              j["rollout"]["ground_truth"].get<int64_t>());
  }
  EXPECT_EQ(rollouts, 2);  // steps 2 and 4 (0-based), logged as 3 and 5
}

}  // namespace
}  // namespace coordexp

namespace coordexp {
namespace {

// A continuation starts from another run's tokenizer and weights (fresh optimiser): with a negligible
// learning rate its one step leaves the weights where the first run ended. With run.init_parts = "vision"
// only the image encoder is taken, so the number of coordinate bins may differ.
TEST(Rollout, InitFromStartsWithAnotherRunsWeightsAndTokenizer) {
  TrainConfig first = tiny_rollout_config("init_first");
  first.rollout.every = 0;
  TrainOptions o;
  o.final_eval = false;
  train(first, o);
  TrainConfig next = tiny_rollout_config("init_next");
  next.run.init_from = first.run.out_dir;
  next.optim.steps = 1, next.optim.lr = 1e-12, next.optim.weight_decay = 0;
  train(next, o);
  const ModelBundle a = load_run_model(first.run.out_dir), b = load_run_model(next.run.out_dir);
  std::ifstream ta(fs::path(first.run.out_dir) / "tokenizer.json"),
      tb(fs::path(next.run.out_dir) / "tokenizer.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(ta), {}),
            std::string(std::istreambuf_iterator<char>(tb), {}));
  const auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::allclose(p.value(), pb[p.key()], 1e-6, 1e-6)) << p.key();
  // zero steps evaluates the initial weights: they stay where the first run ended
  TrainConfig zero = tiny_rollout_config("init_zero");
  zero.run.init_from = first.run.out_dir;
  zero.optim.steps = 0;
  train(zero, o);
  const ModelBundle c = load_run_model(zero.run.out_dir);
  const auto pc = c.model->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pc[p.key()])) << p.key();
  // the coordinate vocabulary comes with the tokenizer: asking for another K is an error, not ignored
  TrainConfig other_bins = tiny_rollout_config("init_bins");
  other_bins.run.init_from = first.run.out_dir;
  other_bins.data.num_bins = first.data.num_bins + 4;
  try {
    train(other_bins, o);
    ADD_FAILURE() << "a different data.num_bins was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("data.num_bins"), std::string::npos) << e.what();
  }
  // ... unless only the image encoder is taken: the run builds its own tokenizer with its own K
  TrainConfig encoder_only = tiny_rollout_config("init_vision");
  encoder_only.run.init_from = first.run.out_dir;
  encoder_only.run.init_parts = "vision";
  encoder_only.data.num_bins = first.data.num_bins + 4;
  encoder_only.optim.steps = 1, encoder_only.optim.lr = 1e-12, encoder_only.optim.weight_decay = 0;
  train(encoder_only, o);
  const ModelBundle d = load_run_model(encoder_only.run.out_dir);
  const auto pd = d.model->named_parameters();
  int encoder = 0, decoder_same = 0;
  for (const auto& p : pa) {
    if (d.model->is_image_encoder_parameter(p.key())) {
      ++encoder;
      EXPECT_TRUE(torch::allclose(p.value(), pd[p.key()], 1e-6, 1e-6)) << p.key();
    } else if (p.value().sizes() == pd[p.key()].sizes() && p.value().numel() > 1 &&
               torch::allclose(p.value(), pd[p.key()], 1e-6, 1e-6)) {
      ++decoder_same;
    }
  }
  EXPECT_GE(encoder, 6);       // stem, positions, a block, norm, two projections
  EXPECT_EQ(decoder_same, 0);  // the decoder starts fresh, not from the first run's trained weights
  EXPECT_EQ(pd["embed.weight"].size(0), pa["embed.weight"].size(0) + 4);  // 4 more coordinate rows
  // another image encoder is an error naming the parameter, not a silent partial copy
  TrainConfig wider = tiny_rollout_config("init_vision_wider");
  wider.run.init_from = first.run.out_dir;
  wider.run.init_parts = "vision";
  wider.model.vision_width = 24;
  try {
    train(wider, o);
    ADD_FAILURE() << "an image encoder of another width was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("image encoder parameter"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace coordexp
