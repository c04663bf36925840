// Vision warm-up: token cells go to the smallest object covering them (and every object claims its centre
// cell), the stage lowers its loss, touches only the image encoder, writes a step-0 checkpoint that --resume
// does not repeat, and is refused with a pretrained (hf.path) model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/trainer.hpp"
#include "coordexp/train/vision_warmup.hpp"
#include "coordexp/util/error.hpp"
#include "train_fixtures.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;
using testing::load_params;

TEST(VisionWarmup, CellsGoToTheSmallestCoveringObjectAndEveryObjectKeepsItsCentre) {
  // 4 x 4 grid, cell centres at 0.125, 0.375, 0.625, 0.875
  const std::vector<BoxXYXY> boxes{
      {0.0, 0.0, 1.0, 1.0},     // 0: the whole image
      {0.3, 0.3, 0.7, 0.7},     // 1: the four middle cells
      {0.55, 0.55, 0.7, 0.7},   // 2: inside cell (2, 2), covers its centre (0.625) -> smaller than 1 there
      {0.05, 0.80, 0.10, 0.85}  // 3: tiny, covers no cell centre -> claims cell (3, 0) by its centre
  };
  const auto cells = assign_token_cells(boxes, 4);
  ASSERT_EQ(cells.size(), 16u);
  const std::vector<int> expected{0, 0, 0, 0,  //
                                  0, 1, 1, 0,  //
                                  0, 1, 2, 0,  //
                                  3, 0, 0, 0};
  EXPECT_EQ(cells, expected);
  EXPECT_EQ(assign_token_cells({}, 3), std::vector<int>(9, -1));
}

TrainConfig warmup_config(const fs::path& out) {
  const fs::path data = testing::test_data_dir();
  TrainConfig c;
  c.data.train_json = (data / "train.json").string();
  c.data.num_bins = 32;
  c.model.image_size = 32, c.model.patch_size = 8;
  c.model.vision_width = 16, c.model.vision_heads = 2, c.model.vision_layers = 1;
  c.model.width = 32, c.model.heads = 4, c.model.layers = 1, c.model.ffn_width = 48;
  c.optim.steps = 4, c.optim.batch_size = 8, c.optim.warmup_steps = 1;
  c.vision_warmup.steps = 40;  // the direct test below runs longer
  c.vision_warmup.lr = 3e-3;
  c.run.out_dir = out.string();
  c.run.threads = 1, c.run.log_every = 1, c.run.checkpoint_every = 100;
  return c;
}

// An emptied folder under the test root.
fs::path fresh_folder(const std::string& name) {
  const fs::path dir = testing::test_root() / name;
  fs::remove_all(dir);
  return dir;
}

// The test data, a fresh model for it and a batch builder, as the trainer sets them up.
struct WarmupSetup {
  explicit WarmupSetup(const std::string& name)
      : out(fresh_folder(name)),
        cfg(warmup_config(out)),
        data(load_detection_dataset(cfg.data.train_json, "", true)),
        bundle(build_model_for_training(cfg, {&data}, out, false)),
        cache(data, ImageStoreConfig::square(cfg.model.image_size, 1)),
        builder(data, cache, *bundle.tokenizer, cfg.data, cfg.optim.batch_size, 0) {}
  fs::path out;
  TrainConfig cfg;
  DetectionDataset data;
  ModelBundle bundle;
  ImageStore cache;
  BatchBuilder builder;
};

TEST(VisionWarmup, LowersItsLossAndTrainsOnlyTheImageEncoder) {
  WarmupSetup setup("vw_direct");
  const TrainConfig& cfg = setup.cfg;
  ModelBundle& bundle = setup.bundle;
  const BatchBuilder& builder = setup.builder;
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : bundle.model->named_parameters()) before[p.key()] = p.value().detach().clone();

  VisionWarmupConfig short_run = cfg.vision_warmup;
  short_run.steps = 1;
  torch::manual_seed(0);
  const VisionWarmupResult first =
      vision_warmup(*bundle.model, builder, bundle.model->vocab_size(), short_run, nullptr, nullptr);
  VisionWarmupConfig long_run = cfg.vision_warmup;
  long_run.steps = 200;
  const VisionWarmupResult last =
      vision_warmup(*bundle.model, builder, bundle.model->vocab_size(), long_run, nullptr, nullptr);
  // at initialisation the CE is about log(V + 1); 200 steps on 40 images must bring it well down
  EXPECT_NEAR(first.desc_ce, std::log(bundle.model->vocab_size() + 1.0), 1.0);
  EXPECT_LT(last.desc_ce, first.desc_ce - 1.0);
  EXPECT_GT(last.background_accuracy, 0.5);
  for (const auto& p : bundle.model->named_parameters()) {
    const bool changed = !torch::equal(before[p.key()], p.value());
    const bool encoder =
        p.key().rfind("stem", 0) == 0 || p.key().rfind("vision", 0) == 0 || p.key().rfind("proj", 0) == 0;
    if (p.key() == "vision_pos_fixed") continue;
    EXPECT_EQ(changed, encoder) << p.key();
  }
}

TEST(VisionWarmup, ANonFiniteLossStopsItWithTheTermsNamed) {
  WarmupSetup setup("vw_nan");
  const TrainConfig& cfg = setup.cfg;
  ModelBundle& bundle = setup.bundle;
  const BatchBuilder& builder = setup.builder;
  {
    torch::NoGradGuard ng;
    for (auto& p : bundle.model->named_parameters())
      if (p.key() == "vision_pos") p.value().fill_(std::numeric_limits<float>::quiet_NaN());
  }
  try {
    vision_warmup(*bundle.model, builder, bundle.model->vocab_size(), cfg.vision_warmup, nullptr, nullptr);
    ADD_FAILURE() << "a NaN encoder trained on";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("non-finite loss at step 1"), std::string::npos) << what;
    EXPECT_NE(what.find("description CE"), std::string::npos) << what;
    EXPECT_NE(what.find("vision_warmup.lr"), std::string::npos) << what;
  }
}

TEST(VisionWarmup, TheTrainerRunsItOnceAndResumeDoesNotRepeatIt) {
  const fs::path a = testing::test_root() / "vw_a", b = testing::test_root() / "vw_b";
  fs::remove_all(a), fs::remove_all(b);
  TrainOptions o;
  o.final_eval = false;
  train(warmup_config(a), o);
  TrainOptions first = o;
  first.stop_after = 0;  // the warm-up and its step-0 checkpoint only
  EXPECT_EQ(train(warmup_config(b), first).steps_done, 0);
  TrainOptions rest = o;
  rest.resume = true;
  EXPECT_EQ(train(warmup_config(b), rest).steps_done, 4);
  std::ifstream metrics(b / "metrics.jsonl");
  std::string line;
  int warmups = 0;
  while (std::getline(metrics, line)) warmups += line.find("vision_warmup_steps") != std::string::npos;
  EXPECT_EQ(warmups, 1);
  const int64_t V = WordTokenizer::load((a / "tokenizer.json").string()).vocab_size();
  const auto pa = load_params(a / "checkpoint.pt", V, warmup_config(a)),
             pb = load_params(b / "checkpoint.pt", V, warmup_config(b));
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}

TEST(VisionWarmup, ConfigErrorsAreNamed) {
  const fs::path dir = testing::test_root() / "vw_cfg";
  fs::create_directories(dir);
  auto expect_error = [&](const std::string& body, const std::string& needle) {
    const fs::path f = dir / "c.json";
    std::ofstream(f) << body;
    try {
      load_train_config(f.string());
      ADD_FAILURE() << "accepted " << body;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"data": {"train_json": "t.json"}, "vision_warmup": {"steps": -1}})",
               "vision_warmup.steps");
  expect_error(R"({"data": {"train_json": "t.json"}, "vision_warmup": {"steps": 5, "lr": 0}})",
               "vision_warmup.lr");
  expect_error(R"({"data": {"train_json": "t.json"}, "hf": {"path": "m"}, "model": {"image_size": 56},
                  "vision_warmup": {"steps": 5}})",
               "vision_warmup.steps");
  expect_error(R"({"data": {"train_json": "t.json"}, "vision_warmup": {"step": 5}})", "vision_warmup.step");
}

}  // namespace
}  // namespace coordexp
