// The trainer on a tiny synthetic dataset: config checking, resume continues bit for bit, checkpoints are
// atomic and checked, batches carry consistent positions, flips and Monte Carlo weights, dataset skips.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "coordexp/infer/detector.hpp"
#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/train/ablation.hpp"
#include "coordexp/train/batch_builder.hpp"
#include "coordexp/train/checkpoint.hpp"
#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/trainer.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"
#include "train_fixtures.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

const fs::path data_dir() {
  return testing::test_data_dir();
}

TrainConfig tiny_config(const std::string& out) {
  TrainConfig c;
  c.data.train_json = (data_dir() / "train.json").string();
  c.data.val_json = (data_dir() / "val.json").string();
  c.data.num_bins = 32;
  c.model.image_size = 32;
  c.model.patch_size = 16;
  c.model.vision_width = 16, c.model.vision_heads = 2, c.model.vision_layers = 1;
  c.model.width = 32, c.model.heads = 4, c.model.layers = 1, c.model.ffn_width = 48;
  c.optim.steps = 6, c.optim.batch_size = 4, c.optim.warmup_steps = 2;
  c.run.out_dir = out;
  c.run.threads = 1;
  c.run.log_every = 1;
  c.run.checkpoint_every = 100;
  c.generation.max_new_tokens = 24;
  return c;
}

fs::path fresh_dir(const std::string& name) {
  fs::path d = testing::test_root() / name;
  fs::remove_all(d);
  return d;
}

// Every config the repository ships loads and says what it is for, and the main job's recipe is what the
// README describes.
TEST(TrainConfigFile, ShippedConfigsLoad) {
  const fs::path dir = fs::path(COORDEXP_SOURCE_DIR) / "configs";
  int train_configs = 0, plans = 0;
  for (const auto& e : fs::directory_iterator(dir / "train")) {
    const TrainConfig c = load_train_config(e.path().string());
    EXPECT_FALSE(c.about.empty()) << e.path() << ": no \"about\"";
    ++train_configs;
  }
  EXPECT_GE(train_configs, 4);
  const TrainConfig main_job = load_train_config((dir / "train" / "openshapes.json").string());
  EXPECT_EQ(main_job.optim.grounding_weight, 3.0);
  EXPECT_EQ(main_job.vision_warmup.steps, 4000);
  EXPECT_TRUE(main_job.model.scan_pointer);
  EXPECT_EQ(main_job.data.order, "raster");
  EXPECT_EQ(main_job.criterion.coord_weight, 0.25);
  EXPECT_EQ(main_job.generation.score, ScoreMode::kLabelQuality);
  EXPECT_EQ(main_job.generation.label_alternatives, 3);
  // ablation plans name their base relative to the repository root
  const fs::path cwd = fs::current_path();
  fs::current_path(COORDEXP_SOURCE_DIR);
  for (const auto& e : fs::directory_iterator(dir / "ablate")) {
    EXPECT_NO_THROW(load_ablation_plan(e.path().string())) << e.path();
    EXPECT_TRUE(read_json_file(e.path().string(), "a plan").contains("about")) << e.path();
    ++plans;
  }
  fs::current_path(cwd);
  EXPECT_GE(plans, 8);
}

TEST(TrainConfigFile, UnknownKeysWrongTypesAndBadEnumsAreNamed) {
  const fs::path d = fresh_dir("cfg");
  fs::create_directories(d);
  auto write = [&](const std::string& text) {
    std::ofstream(d / "c.json") << text;
    return (d / "c.json").string();
  };
  auto message = [&](const std::string& text) -> std::string {
    try {
      load_train_config(write(text));
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(R"({"data": {"train_json": "x"}, "optim": {"stpes": 3}})").find("optim.stpes"),
            std::string::npos);
  EXPECT_NE(message(R"({"data": {"train_json": "x"}, "optim": {"lr": "fast"}})").find("optim.lr"),
            std::string::npos);
  EXPECT_NE(message(R"({"data": {"train_json": "x"}, "criterion": {"matching": "greedy"}})")
                .find("criterion.matching"),
            std::string::npos);
  EXPECT_NE(message(R"({"optim": {"lr": 0.1}})").find("data.train_json"), std::string::npos);
  EXPECT_NE(message(R"({"data": {"train_json": "x"}, "optim": {"steps": 0}})").find("optim.steps"),
            std::string::npos);
  EXPECT_NE(message(R"({"data": {"train_json": "x"}, "run": {"init_from": "r", "init_parts": "decoder"}})")
                .find("run.init_parts"),
            std::string::npos);
  EXPECT_NE(
      message(R"({"data": {"train_json": "x"}, "run": {"init_parts": "vision"}})").find("run.init_parts"),
      std::string::npos);  // nothing to take the encoder from
  // the resolved config reads back to the same values
  TrainConfig c = tiny_config("out");
  c.run.init_parts = "vision", c.run.init_from = "runs/warmup";
  c.criterion.matching = MatchingMode::kIndex;
  c.criterion.coord_ce_target = CoordTarget::kTwoBin;
  const TrainConfig back = load_train_config(write(train_config_to_json(c)));
  EXPECT_EQ(back.criterion.matching, MatchingMode::kIndex);
  EXPECT_EQ(back.criterion.coord_ce_target, CoordTarget::kTwoBin);
  EXPECT_EQ(back.model.width, 32);
  EXPECT_EQ(back.run.init_parts, "vision");
  EXPECT_EQ(train_config_to_json(back), train_config_to_json(c));
}

using testing::load_params;

TEST(Trainer, ResumeContinuesBitForBit) {
  const fs::path a = fresh_dir("run_a"), b = fresh_dir("run_b");
  TrainConfig ca = tiny_config(a.string()), cb = tiny_config(b.string());
  TrainOptions straight;
  straight.final_eval = false;
  train(ca, straight);
  TrainOptions first_half = straight;
  first_half.stop_after = 3;
  EXPECT_EQ(train(cb, first_half).steps_done, 3);
  TrainOptions second_half = straight;
  second_half.resume = true;
  EXPECT_EQ(train(cb, second_half).steps_done, 6);
  const int64_t V = WordTokenizer::load((a / "tokenizer.json").string()).vocab_size();
  const auto pa = load_params(a / "checkpoint.pt", V, ca), pb = load_params(b / "checkpoint.pt", V, cb);
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}

// optim.coord_loss_warmup_steps: at step 0 the coordinate terms weigh nothing, so one step equals one step
// of a run without coordinate losses; a run with full weights ends elsewhere.
TEST(Trainer, CoordinateLossWarmupStartsFromTheTextLossAlone) {
  const fs::path a = fresh_dir("warm_a"), b = fresh_dir("warm_b"), c = fresh_dir("warm_c");
  TrainConfig ca = tiny_config(a.string()), cb = tiny_config(b.string()), cc = tiny_config(c.string());
  ca.optim.steps = cb.optim.steps = cc.optim.steps = 1;
  ca.optim.coord_loss_warmup_steps = 5;
  cb.criterion.coord_ce = false;
  cb.criterion.coord_weight = 0;
  TrainOptions o;
  o.final_eval = false;
  train(ca, o), train(cb, o), train(cc, o);
  const int64_t V = WordTokenizer::load((a / "tokenizer.json").string()).vocab_size();
  const auto pa = load_params(a / "checkpoint.pt", V, ca), pb = load_params(b / "checkpoint.pt", V, cb),
             pc = load_params(c / "checkpoint.pt", V, cc);
  bool all_equal = true, any_differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    all_equal = all_equal && torch::allclose(pa[i], pb[i], 1e-6, 1e-7);
    any_differs = any_differs || !torch::allclose(pa[i], pc[i], 1e-6, 1e-7);
  }
  EXPECT_TRUE(all_equal);
  EXPECT_TRUE(any_differs);
}

TEST(Trainer, FinalEvaluationWritesTheReport) {
  const fs::path d = fresh_dir("run_report");
  TrainConfig c = tiny_config(d.string());
  c.optim.steps = 2;
  train(c, TrainOptions{});
  for (const char* f : {"report.md", "loss_curve.png", "pr_curves.png", "predictions_val.png",
                        "eval_val.json", "detections_val.json", "config.json", "metrics.jsonl"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  // the class-agnostic figures sit beside the class-aware ones, and the page shows them
  const auto eval = nlohmann::json::parse(std::ifstream(d / "eval_val.json"));
  ASSERT_TRUE(eval.contains("class_agnostic")) << eval.dump();
  const double pooled = eval["class_agnostic"]["AP50"].get<double>();
  EXPECT_GE(pooled, 0.0);
  EXPECT_LE(pooled, 1.0);
  ASSERT_TRUE(eval.contains("label_accuracy")) << eval.dump();
  EXPECT_LE(eval["label_accuracy"]["localised"].get<int64_t>(),
            eval["label_accuracy"]["detections"].get<int64_t>());
  std::ifstream md(d / "report.md");
  const std::string page((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(page.find("class-agnostic AP50"), std::string::npos);
}

// A scan-pointer run (raster order) trains, evaluates with generation and loads back for prediction with
// the same weights: the loaded model writes the same logits as the run's checkpoint read directly.
// A scan-pointer run (raster order, the pointer over the patch grid) loads back for prediction with every
// part the trainer used: detecting the val split with the loaded model writes the same file, byte for byte,
// as the trainer's own final evaluation.
TEST(Trainer, AScanPointerRunLoadsBackForPrediction) {
  const fs::path d = fresh_dir("scan_run");
  TrainConfig c = tiny_config(d.string());
  c.data.order = "raster";
  c.model.scan_pointer = true;
  c.optim.steps = 2;
  train(c, TrainOptions{});
  ASSERT_TRUE(fs::exists(d / "detections_val.json"));
  ModelBundle run = load_run_model(d);
  ASSERT_GE(run.resolved.model.coord_first_id, 0);
  EXPECT_TRUE(run.resolved.model.scan_pointer);
  run.model->eval();
  const TrainConfig& cfg = run.resolved;
  const DetectionDataset val =
      load_detection_dataset(cfg.data.val_json, cfg.data.image_root, cfg.data.use_description);
  const ImageStore cache(val, image_store_config(run, 1));
  const LabelMapper mapper(val.coco.categories);
  const DetectionRun again = detect_dataset(*run.model, val, cache, *run.tokenizer, mapper, cfg.generation,
                                            cfg.run.eval_batch_size, 0);
  ASSERT_FALSE(again.detections.empty()) << "the loaded run detects nothing: the test would compare nothing";
  save_detection_results(again.detections, (d / "detections_again.json").string());
  auto bytes = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(bytes(d / "detections_again.json"), bytes(d / "detections_val.json"));
}

// A tiny model (vocabulary 50) saved at step 7 as <fresh dir>/c.pt.
struct SavedCheckpoint {
  fs::path dir;
  TinyVlmConfig config;
  std::shared_ptr<VisionLanguageModel> model;
  std::string path;
};

SavedCheckpoint saved_checkpoint(const std::string& name) {
  SavedCheckpoint c;
  c.dir = fresh_dir(name);
  fs::create_directories(c.dir);
  c.config = tiny_config("x").model;
  c.config.vocab_size = 50;
  c.model = build_tiny_vlm(c.config);
  c.path = (c.dir / "c.pt").string();
  save_checkpoint(c.path, *c.model, nullptr, {7, 50});
  return c;
}

TEST(Checkpoint, VocabularyMismatchCorruptFileAndUnwritableFolderAreClearErrors) {
  const SavedCheckpoint c = saved_checkpoint("ckpt");
  const fs::path& d = c.dir;
  const std::string& path = c.path;
  auto model = c.model;
  EXPECT_EQ(load_checkpoint(path, *model, nullptr, 50).step, 7);
  EXPECT_THROW(load_checkpoint(path, *model, nullptr, 51), InputError);
  std::ofstream(d / "bad.pt") << "not a checkpoint";
  EXPECT_THROW(load_checkpoint((d / "bad.pt").string(), *model, nullptr, 50), InputError);
  EXPECT_THROW(load_checkpoint((d / "none.pt").string(), *model, nullptr, 50), InputError);
  // a failed write leaves the previous checkpoint loadable
  EXPECT_THROW(save_checkpoint((d / "no_such_dir" / "c.pt").string(), *model, nullptr, {8, 50}), InputError);
  EXPECT_EQ(load_checkpoint(path, *model, nullptr, 50).step, 7);
}

// A full disk, simulated with a file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG, also as
// root): overwriting a checkpoint fails with an error naming it, no temp file is left, and the previous
// checkpoint still loads with its step and parameters.
TEST(Checkpoint, FullDiskKeepsThePreviousCheckpoint) {
  const SavedCheckpoint c = saved_checkpoint("ckpt_full");
  const std::string& path = c.path;
  const TinyVlmConfig& m = c.config;
  auto model = c.model;
  const auto size = fs::file_size(path);
  auto before = model->parameters().front().clone();
  {
    torch::NoGradGuard ng;
    model->parameters().front().add_(1.0);
  }
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = size / 2;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    save_checkpoint(path, *model, nullptr, {8, 50});
  } catch (const InputError& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find("c.pt"), std::string::npos) << message;
  EXPECT_NE(message.find("write failure"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(fs::file_size(path), size);
  auto reloaded = build_tiny_vlm(m);
  EXPECT_EQ(load_checkpoint(path, *reloaded, nullptr, 50).step, 7);
  EXPECT_TRUE(torch::equal(reloaded->parameters().front(), before));
}

TEST(BatchBuilder, PositionsFlipsAndMonteCarloWeights) {
  DetectionDataset data = load_detection_dataset((data_dir() / "train.json").string(), "", true);
  ImageStore cache(data, ImageStoreConfig::square(32, 1));
  std::vector<std::string> texts;
  for (const auto& c : data.coco.categories) texts.push_back(c.name);
  const WordTokenizer tok = WordTokenizer::build(texts, 32);
  DataConfig dc;
  dc.num_bins = 32;
  dc.mc_orderings = 2;
  dc.flip_prob = 0.0;
  BatchBuilder builder(data, cache, tok, dc, 3, 5);
  const TrainBatch b = builder.build(0);
  ASSERT_EQ(b.samples.size(), 6u);
  EXPECT_EQ(torch::stack(b.images).sizes(), torch::IntArrayRef({3, 3, 32, 32}));
  const CoordVocab vocab = tok.coord_vocab();
  for (size_t n = 0; n < b.samples.size(); ++n) {
    EXPECT_DOUBLE_EQ(b.samples[n].weight, 0.5);
    for (const auto& o : b.samples[n].objects) {
      EXPECT_EQ(b.tokens[n][o.open_pos].item<int64_t>(), tok.structure().obj_start);
      for (int c = 0; c < 4; ++c)
        EXPECT_EQ(b.tokens[n][o.coord_pos[c]].item<int64_t>(), vocab.id_of_bin(o.bins[c]));
      EXPECT_EQ(b.roles[n][o.coord_pos[0]].item<uint8_t>(), static_cast<uint8_t>(TokenRole::kCoordinate));
    }
  }
  // the same step is rebuilt identically (resume depends on it)
  EXPECT_TRUE(torch::equal(builder.build(0).tokens, b.tokens));
  dc.mc_orderings = 1;
  dc.flip_prob = 1.0;
  BatchBuilder flipper(data, cache, tok, dc, 3, 5);
  dc.flip_prob = 0.0;
  BatchBuilder plain(data, cache, tok, dc, 3, 5);
  const TrainBatch f = flipper.build(1), p = plain.build(1);
  EXPECT_TRUE(torch::allclose(torch::stack(f.images), torch::stack(p.images).flip({3})));
  for (size_t n = 0; n < f.samples.size(); ++n)
    for (size_t k = 0; k < f.samples[n].ground_truth.size(); ++k) {
      const BoxXYXY fb = f.samples[n].ground_truth[k].box, pb = p.samples[n].ground_truth[k].box;
      EXPECT_NEAR(fb.x1, 1 - pb.x2, 1e-12);
      EXPECT_NEAR(fb.x2, 1 - pb.x1, 1e-12);
      EXPECT_NEAR(fb.y1, pb.y1, 1e-12);
    }
}

TEST(DetectionDataset, SkipsAreCountedAndAllUnusableIsAnError) {
  const fs::path d = fresh_dir("skips");
  fs::create_directories(d);
  const std::string image = (data_dir() / "train" / "000001.png").string();
  std::ofstream(d / "a.json")
      << R"({"images": [{"id": 1, "file_name": "missing.png", "width": 10, "height": 10},
    {"id": 2, "file_name": ")"
      << image << R"(", "width": 32, "height": 32}],
    "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [40, 40, 5, 5]},
                    {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 1},
                    {"id": 3, "image_id": 2, "category_id": 9, "bbox": [1, 1, 5, 5]},
                    {"id": 4, "image_id": 2, "category_id": 1, "bbox": [-3, 2, 10, 5]}],
    "categories": [{"id": 1, "name": "red star"}]})";
  const DetectionDataset ds = load_detection_dataset((d / "a.json").string(), "", true);
  EXPECT_EQ(ds.skips.missing_image_files, 1);
  EXPECT_EQ(ds.skips.degenerate_boxes, 1);
  EXPECT_EQ(ds.skips.crowd_boxes, 1);
  EXPECT_EQ(ds.skips.unknown_categories, 1);
  ASSERT_EQ(ds.images.size(), 1u);
  ASSERT_EQ(ds.images[0].objects.size(), 1u);
  EXPECT_DOUBLE_EQ(ds.images[0].objects[0].box.x1, 0.0);  // clipped to the image
  EXPECT_DOUBLE_EQ(ds.images[0].objects[0].box.x2, 7.0 / 32);
  std::ofstream(d / "b.json")
      << R"({"images": [{"id": 1, "file_name": "missing.png", "width": 10, "height": 10}],
    "annotations": [], "categories": []})";
  EXPECT_THROW(load_detection_dataset((d / "b.json").string(), "", true), InputError);
}

}  // namespace
}  // namespace coordexp
