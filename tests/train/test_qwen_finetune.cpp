// Fine-tuning a (tiny random) Qwen2-VL checkpoint with the same trainer, criterion and generator as the tiny
// model: the loss falls, frozen parts stay bit-for-bit, added token rows train even with the LM frozen,
// resume continues bit for bit, and the Hugging Face export reloads to the same logits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/text/qwen_chat_tokenizer.hpp"
#include "coordexp/train/model_factory.hpp"
#include "coordexp/train/trainer.hpp"
#include "train_fixtures.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

const fs::path& base_checkpoint() {
  static const fs::path dir = [] {
    const fs::path d = testing::test_root() / "qwen_base";
    write_tiny_qwen_checkpoint(d, {});
    return d;
  }();
  return dir;
}

TrainConfig qwen_config(const std::string& name, int64_t steps) {
  TrainConfig c;
  c.data.train_json = (testing::test_data_dir() / "train.json").string();
  c.data.val_json = (testing::test_data_dir() / "val.json").string();
  c.data.num_bins = 32;
  c.model.image_size = 56;
  c.hf.path = base_checkpoint().string();
  c.optim.steps = steps, c.optim.batch_size = 4, c.optim.warmup_steps = 2, c.optim.lr = 2e-3;
  c.run.out_dir = (testing::test_root() / name).string();
  c.run.threads = 1, c.run.log_every = 1, c.run.checkpoint_every = 100;
  c.generation.max_new_tokens = 20;
  fs::remove_all(c.run.out_dir);
  return c;
}

std::vector<double> losses(const TrainConfig& c) {
  std::vector<double> out;
  std::ifstream f(fs::path(c.run.out_dir) / "metrics.jsonl");
  for (std::string line; std::getline(f, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out.push_back(j["loss"].get<double>());
  }
  return out;
}

std::map<std::string, torch::Tensor> parameters(VisionLanguageModel& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

TEST(QwenFineTune, LossFallsAndTheExportReloadsToTheSameLogits) {
  const TrainConfig c = qwen_config("qwen_ft", 24);
  train(c, {});
  const auto l = losses(c);
  ASSERT_EQ(l.size(), 24u);
  EXPECT_LT((l[21] + l[22] + l[23]) / 3, 0.9 * (l[0] + l[1] + l[2]) / 3);
  const fs::path out(c.run.out_dir);
  for (const char* f : {"report.md", "detections_val.json", "hf/config.json", "hf/tokenizer.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;

  ModelBundle run = load_run_model(out);
  auto exported = load_qwen_vl(out / "hf");
  auto& trained = dynamic_cast<QwenVLModel&>(*run.model);
  trained.eval(), exported->eval();
  EXPECT_EQ(exported->vocab_size(), trained.vocab_size());
  exported->set_image_prefix(trained.image_prefix());
  torch::NoGradGuard g;
  const auto image = torch::rand({1, 3, 56, 56});
  const auto tokens = torch::tensor(run.tokenizer->prompt_ids({})).view({1, -1});
  EXPECT_TRUE(torch::equal(trained.logits(trained.forward_text(trained.encode_images(image), tokens)),
                           exported->logits(exported->forward_text(exported->encode_images(image), tokens))));
  // the export's tokenizer has the coordinate vocabulary
  const auto tok = QwenChatTokenizer::load(out / "hf" / "tokenizer.json", 32);
  EXPECT_EQ(tok.vocab_size(), run.tokenizer->vocab_size());
}

// LoRA on the attention and MLP projections, frozen weights in bfloat16, gradient checkpointing: the loss
// falls, only the adapters and the added rows train (float32) while the base stays bfloat16, and the PEFT
// adapter the run writes, loaded onto the same base with 0 steps (adapter.from), gives the trained model's
// logits exactly.
TEST(QwenFineTune, LoraInBfloat16WithCheckpointingTrainsAndItsAdapterLoadsBack) {
  TrainConfig c = qwen_config("qwen_lora", 40);
  c.adapter.type = "lora", c.adapter.rank = 4, c.adapter.alpha = 8;
  c.adapter.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  c.hf.dtype = "bfloat16";
  c.hf.train_projector = false;  // everything that trains is in the adapter file
  c.optim.gradient_checkpointing = true;
  c.optim.lr = 5e-3;
  train(c, {});
  const auto l = losses(c);
  ASSERT_EQ(l.size(), 40u);
  const double first = (l[0] + l[1] + l[2] + l[3] + l[4]) / 5,
               last = (l[35] + l[36] + l[37] + l[38] + l[39]) / 5;
  EXPECT_LT(last, 0.92 * first);
  const fs::path out(c.run.out_dir);
  for (const char* f : {"adapter/adapter_config.json", "adapter/adapter_model.safetensors", "hf/config.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  ModelBundle run = load_run_model(out);
  for (const auto& p : run.model->named_parameters()) {
    const bool trains =
        p.key().find("lora_") != std::string::npos || p.key().find("added_rows") != std::string::npos;
    EXPECT_EQ(p.value().requires_grad(), trains) << p.key();
    EXPECT_EQ(p.value().scalar_type(), trains ? torch::kFloat : torch::kBFloat16) << p.key();
  }
  TrainConfig again = qwen_config("qwen_lora_again", 0);
  again.hf = c.hf;
  again.adapter.from = (out / "adapter").string();
  train(again, {});
  ModelBundle loaded = load_run_model(again.run.out_dir);
  run.model->eval(), loaded.model->eval();
  torch::NoGradGuard g;
  const auto image = torch::rand({1, 3, 56, 56});
  const auto tokens = torch::tensor(run.tokenizer->prompt_ids({})).view({1, -1});
  const auto a = run.model->logits(run.model->forward_text(run.model->encode_images(image), tokens));
  const auto b = loaded.model->logits(loaded.model->forward_text(loaded.model->encode_images(image), tokens));
  EXPECT_TRUE(torch::equal(a, b)) << (a - b).abs().max().item<double>();
  {
    auto pa = run.model->named_parameters(), pb = loaded.model->named_parameters();
    for (const auto& p : pa) {
      const auto* q = pb.find(p.key());
      if (!q) {
        std::cerr << "missing " << p.key() << "\n";
        continue;
      }
      if (!torch::equal(p.value(), *q))
        std::cerr << "differs " << p.key() << " "
                  << (p.value().to(torch::kFloat) - q->to(torch::kFloat)).abs().max().item<double>() << "\n";
    }
  }
}

TEST(QwenFineTune, FrozenPartsStayAndAddedRowsTrain) {
  TrainConfig c = qwen_config("qwen_frozen", 4);
  c.hf.train_lm = false, c.hf.train_projector = true, c.hf.train_vision = false;
  TrainOptions o;
  o.final_eval = false;
  train(c, o);
  // the starting point: the base checkpoint extended exactly as the trainer extends it
  auto start = load_qwen_vl(base_checkpoint());
  const int64_t base_ids = BpeTokenizer::from_file(base_checkpoint() / "tokenizer.json").vocab_size();
  const auto tok = QwenChatTokenizer::load(base_checkpoint() / "tokenizer.json", 32);
  start->resize_vocabulary(tok.vocab_size());
  init_new_token_rows(*start, base_ids, tok.coord_vocab().first_id(), 32, c.run.seed);
  ModelBundle run = load_run_model(c.run.out_dir);
  // the added rows are held apart from the frozen pretrained rows: no gradient of the whole table exists
  ASSERT_TRUE(run.model->input_table().added.defined());
  EXPECT_FALSE(run.model->input_table().base.requires_grad());
  EXPECT_TRUE(run.model->input_table().added.requires_grad());
  auto after = parameters(*run.model);
  after["model.embed_tokens.weight"] = run.model->input_table().full();
  if (after.count("lm_head.weight")) after["lm_head.weight"] = run.model->lm_head().full();
  const auto before = parameters(*start);
  int changed_merger = 0;
  for (const auto& [name, v] : before) {
    const bool same = torch::equal(v, after.at(name));
    if (name.rfind("visual.merger.", 0) == 0) {
      changed_merger += same ? 0 : 1;
    } else if (name == "model.embed_tokens.weight" || name == "lm_head.weight") {
      EXPECT_TRUE(torch::equal(v.narrow(0, 0, base_ids), after.at(name).narrow(0, 0, base_ids))) << name;
      EXPECT_FALSE(torch::equal(v.narrow(0, base_ids, tok.vocab_size() - base_ids),
                                after.at(name).narrow(0, base_ids, tok.vocab_size() - base_ids)))
          << name << ": the added rows must train";
    } else {
      EXPECT_TRUE(same) << name << " is frozen";
    }
  }
  EXPECT_GT(changed_merger, 0);
}

TEST(QwenFineTune, ResumeContinuesBitForBit) {
  const TrainConfig straight = qwen_config("qwen_straight", 6);
  TrainOptions o;
  o.final_eval = false;
  train(straight, o);
  const TrainConfig split = qwen_config("qwen_split", 6);
  o.stop_after = 3;
  train(split, o);
  o.stop_after = -1;
  o.resume = true;
  train(split, o);
  const auto a = parameters(*load_run_model(straight.run.out_dir).model);
  const auto b = parameters(*load_run_model(split.run.out_dir).model);
  for (const auto& [name, v] : a) EXPECT_TRUE(torch::equal(v, b.at(name))) << name;
}

}  // namespace
}  // namespace coordexp
