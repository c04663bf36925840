// Qwen2-VL / Qwen2.5-VL on tiny random checkpoints the project writes itself: smart resize, cached decoding
// against full recomputation, save -> reload, both key layouts, window attention, vocabulary extension, the
// chat tokenizer, and hostile checkpoints (missing tensors, wrong shapes). Logit parity with an independent
// PyTorch reference is in test_qwen_reference.cpp; with transformers in dev/qwen_vl_parity.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordexp/io/safetensors_checkpoint.hpp"
#include "coordexp/model/qwen2_vl.hpp"
#include "coordexp/text/qwen_chat_tokenizer.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("coordexp_qwen_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  return d;
}

struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("coordexp_qwen_" + std::to_string(::getpid())), ec);
  }
} cleanup;

const fs::path& checkpoint(QwenVLFamily family) {
  static const fs::path v2 = [] {
    auto d = temp_dir("tiny_qwen2_vl");
    write_tiny_qwen_checkpoint(d, {});
    return d;
  }();
  static const fs::path v25 = [] {
    auto d = temp_dir("tiny_qwen2_5_vl");
    TinyQwenSpec s;
    s.family = QwenVLFamily::kQwen2_5VL;
    s.vision_depth = 3;
    write_tiny_qwen_checkpoint(d, s);
    return d;
  }();
  return family == QwenVLFamily::kQwen2VL ? v2 : v25;
}

torch::Tensor test_image(int64_t h = 56, int64_t w = 84) {
  torch::manual_seed(3);
  return torch::rand({1, 3, h, w});
}

// logits of every position for prefix + image + tokens
torch::Tensor all_logits(QwenVLModel& m, const torch::Tensor& image, const std::vector<int64_t>& tokens) {
  torch::NoGradGuard g;
  return m.logits(m.forward_all(m.encode_images(image), torch::tensor(tokens).view({1, -1})));
}

class QwenFamilies : public ::testing::TestWithParam<QwenVLFamily> {};

TEST_P(QwenFamilies, CachedDecodingEqualsRecomputation) {
  auto m = load_qwen_vl(checkpoint(GetParam()));
  m->eval();
  m->set_image_prefix({5, 6, 7});
  const std::vector<int64_t> prompt = {11, 12, 13}, answer = {20, 21, 22, 23};
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), answer.begin(), answer.end());
  const auto image = test_image();
  const auto full = all_logits(*m, image, all);  // [1, P + I + T, V]
  const int64_t first_text = 3 + 6;              // 56 x 84 -> 2 x 3 merged tokens
  torch::NoGradGuard g;
  KvCache cache;
  auto h = m->prefill(m->encode_images(image), torch::tensor(prompt).view({1, -1}), cache);
  ASSERT_EQ(cache.position_offsets.size(), 1u);
  EXPECT_EQ(cache.position_offsets[0], 3 - 6);  // the image takes max(2, 3) positions for 6 tokens
  EXPECT_FALSE(cache.key_mask.defined());       // one image size: nothing masked
  for (size_t k = 0; k <= answer.size(); ++k) {
    const int64_t pos = first_text + static_cast<int64_t>(prompt.size() + k) - 1;
    EXPECT_TRUE(torch::allclose(m->logits(h)[0], full[0][pos], 1e-5, 1e-5)) << "step " << k;
    if (k < answer.size()) h = m->decode_step(torch::tensor({answer[k]}), cache);
  }
}

// Images of three sizes (2 x 3, 3 x 2 and 4 x 4 merged tokens) in one batch: each row's text logits equal
// those of its image alone, teacher-forced and decoded with the cache, and the mixed batch's image tokens are
// padded to the longest row.
TEST_P(QwenFamilies, AnImageInAMixedBatchGivesItsLogitsAlone) {
  auto m = load_qwen_vl(checkpoint(GetParam()));
  m->eval();
  m->set_image_prefix({5, 6, 7});
  torch::NoGradGuard g;
  const std::vector<torch::Tensor> images = {test_image(56, 84)[0], test_image(84, 56)[0],
                                             test_image(112, 112)[0]};
  const auto tokens = torch::tensor({20, 21, 22, 23}).view({1, -1});
  const ImageTokens mixed = m->encode_image_list(images);
  ASSERT_TRUE(mixed.padded());
  EXPECT_EQ(mixed.embeds.size(1), 16);
  EXPECT_EQ(mixed.count(0), 6);
  EXPECT_EQ(mixed.count(1), 6);
  EXPECT_EQ(mixed.rows[1], 3);
  EXPECT_EQ(mixed.count(2), 16);
  const auto batch_logits = m->logits(m->forward_text(mixed, tokens.expand({3, -1})));  // [3, T, V]
  for (int64_t b = 0; b < 3; ++b) {
    const auto alone = m->logits(m->forward_text(m->encode_images(images[b].unsqueeze(0)), tokens))[0];
    EXPECT_LT((batch_logits[b] - alone).abs().max().item<double>(), 1e-5) << "row " << b;
  }
  // cached decoding of the mixed batch: prompt 20, 21 then 22, 23 one at a time
  KvCache cache;
  auto h = m->prefill(mixed, tokens.narrow(1, 0, 2).expand({3, -1}), cache);
  ASSERT_TRUE(cache.key_mask.defined());
  EXPECT_EQ(cache.position_offsets, (std::vector<int64_t>{3 - 16, 3 - 16, 4 - 16}));
  for (int64_t k = 1; k < 4; ++k) {
    EXPECT_LT((m->logits(h) - batch_logits.select(1, k)).abs().max().item<double>(), 1e-5) << "step " << k;
    if (k < 3) h = m->decode_step(tokens[0][k + 1].expand({3}), cache);
  }
}

TEST_P(QwenFamilies, SaveReloadGivesTheSameLogits) {
  auto m = load_qwen_vl(checkpoint(GetParam()));
  m->eval();
  const auto image = test_image();
  const auto before = all_logits(*m, image, {30, 31, 32});
  const auto dir = temp_dir("resaved");
  save_qwen_vl(*m, dir, SafetensorsDType::kF32, 60'000);  // several shards
  EXPECT_TRUE(fs::exists(dir / kSafetensorsIndexName));
  auto again = load_qwen_vl(dir);
  again->eval();
  EXPECT_TRUE(torch::equal(before, all_logits(*again, image, {30, 31, 32})));
  save_qwen_vl(*m, dir, SafetensorsDType::kBF16);
  auto bf16 = load_qwen_vl(dir);
  bf16->eval();
  const double diff = (before - all_logits(*bf16, image, {30, 31, 32})).abs().max().item<double>();
  EXPECT_GT(diff, 0.0);  // rounded weights
  EXPECT_LT(diff, 0.05);
}

TEST_P(QwenFamilies, ReadsTheNestedKeyLayoutOfNewerTransformers) {
  const fs::path src = checkpoint(GetParam());
  const SafetensorsCheckpoint ckpt(src);
  std::vector<std::string> names;
  std::vector<std::vector<std::byte>> data;
  for (const auto& n : ckpt.names()) {
    std::string renamed = n.rfind("model.", 0) == 0    ? "model.language_model." + n.substr(6)
                          : n.rfind("visual.", 0) == 0 ? "model." + n
                                                       : n;
    names.push_back(renamed);
    const TensorView v = ckpt.view(n);
    data.emplace_back(v.data, v.data + v.nbytes);
  }
  std::vector<SafetensorsTensorToWrite> tensors;
  for (size_t i = 0; i < names.size(); ++i) {
    const TensorView v = ckpt.view(ckpt.names()[i]);
    tensors.push_back({names[i], v.dtype, v.shape, data[i], {}});
  }
  const auto dir = temp_dir("nested");
  fs::create_directories(dir);
  write_safetensors(dir / kSafetensorsSingleName, tensors, {{"format", "pt"}});
  fs::copy_file(src / "config.json", dir / "config.json");
  auto a = load_qwen_vl(src), b = load_qwen_vl(dir);
  a->eval(), b->eval();
  const auto image = test_image();
  EXPECT_TRUE(torch::equal(all_logits(*a, image, {40, 41}), all_logits(*b, image, {40, 41})));
}

INSTANTIATE_TEST_SUITE_P(Families, QwenFamilies,
                         ::testing::Values(QwenVLFamily::kQwen2VL, QwenVLFamily::kQwen2_5VL),
                         [](const auto& info) {
                           return info.param == QwenVLFamily::kQwen2VL ? "Qwen2VL" : "Qwen2_5VL";
                         });

// Rewrites the 2.5 checkpoint's vision window settings.
fs::path with_windows(int64_t window_size, std::vector<int64_t> full_blocks) {
  const fs::path src = checkpoint(QwenVLFamily::kQwen2_5VL);
  const auto dir =
      temp_dir("windows_" + std::to_string(window_size) + "_" + std::to_string(full_blocks.size()));
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), dir / e.path().filename());
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  cfg["vision_config"]["window_size"] = window_size;
  cfg["vision_config"]["fullatt_block_indexes"] = full_blocks;
  std::ofstream(dir / "config.json") << cfg.dump();
  return dir;
}

TEST(QwenWindowAttention, OneWindowOverTheImageEqualsFullAttentionAndSmallWindowsDiffer) {
  const auto image = test_image(56, 112);  // merged grid 2 x 4
  auto logits = [&](const fs::path& d) {
    auto m = load_qwen_vl(d);
    m->eval();
    return all_logits(*m, image, {50, 51});
  };
  const auto full = logits(with_windows(112, {0, 1, 2}));  // every block global
  const auto one_window = logits(with_windows(112, {2}));  // a 4 x 4 window covers the 2 x 4 grid
  const auto small = logits(with_windows(56, {2}));        // 2 x 2 windows: two of them
  EXPECT_LT((full - one_window).abs().max().item<double>(), 1e-5);
  EXPECT_GT((full - small).abs().max().item<double>(), 1e-4);
  // partial windows at the edge: a 2 x 3 grid with 2 x 2 windows has a 2 x 1 remainder
  auto m = load_qwen_vl(with_windows(56, {2}));
  m->eval();
  torch::NoGradGuard g;
  const ImageTokens tokens = m->encode_images(test_image(56, 84));
  EXPECT_EQ(tokens.embeds.size(1), 6);
  EXPECT_EQ(tokens.rows[0], 2);
  EXPECT_EQ(tokens.cols[0], 3);
}

TEST(QwenCheckpointErrors, MissingTensorAndWrongShapeAreNamed) {
  const fs::path src = checkpoint(QwenVLFamily::kQwen2VL);
  const SafetensorsCheckpoint ckpt(src);
  std::vector<SafetensorsTensorToWrite> tensors;
  for (const auto& n : ckpt.names()) {
    if (n == "model.layers.1.mlp.up_proj.weight") continue;
    const TensorView v = ckpt.view(n);
    tensors.push_back({n, v.dtype, v.shape, std::span<const std::byte>(v.data, v.nbytes), {}});
  }
  const auto dir = temp_dir("missing");
  fs::create_directories(dir);
  write_safetensors(dir / kSafetensorsSingleName, tensors);
  fs::copy_file(src / "config.json", dir / "config.json");
  try {
    load_qwen_vl(dir);
    FAIL() << "a missing tensor must be an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << e.what();
  }
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
  cfg["intermediate_size"] = 96;
  const auto shaped = temp_dir("shape");
  fs::create_directories(shaped);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), shaped / e.path().filename());
  std::ofstream(shaped / "config.json") << cfg.dump();
  try {
    load_qwen_vl(shaped);
    FAIL() << "a shape mismatch must be an error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mlp.gate_proj.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("[96, 64]"), std::string::npos) << what;
    EXPECT_NE(what.find("[128, 64]"), std::string::npos) << what;
  }
  cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
  cfg["rope_scaling"]["mrope_section"] = {4, 4, 4};
  std::ofstream(shaped / "config.json") << cfg.dump();
  EXPECT_THROW(load_qwen_vl(shaped), InputError);
}

// A checkpoint whose padded rows hold the new tokens: extension initialises the new tokens' rows only (the
// padding rows past them keep their values, so the logits there do not change), and the companion files
// transformers' AutoProcessor needs are written, listing the coordinate tokens as added, not special.
TEST(QwenVocabularyExtension, PaddingRowsStayAndTheCompanionFilesAreWritten) {
  TinyQwenSpec spec;
  spec.padding_rows = 64;
  const fs::path src = temp_dir("padded_base");
  write_tiny_qwen_checkpoint(src, spec);
  auto m = load_qwen_vl(src);
  const int64_t V = m->vocab_size();
  const auto before = m->input_embedding().clone();
  const QwenChatTokenizer tok = extend_qwen_vocabulary(*m, src / "tokenizer.json", 16);
  ASSERT_LT(tok.vocab_size(), V) << "the new tokens must fit in the padding for this test";
  EXPECT_EQ(m->vocab_size(), V);
  const auto after = m->input_embedding();
  const int64_t end = tok.vocab_size();
  EXPECT_TRUE(torch::equal(after.narrow(0, end, V - end), before.narrow(0, end, V - end)));
  EXPECT_FALSE(torch::equal(after.narrow(0, tok.first_new_id(), end - tok.first_new_id()),
                            before.narrow(0, tok.first_new_id(), end - tok.first_new_id())));
  const fs::path out = temp_dir("padded_out");
  write_hf_companion_files(src, out, tok.bpe(), m->config());
  for (const char* f : {"tokenizer_config.json", "generation_config.json", "preprocessor_config.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto cfg = nlohmann::json::parse(std::ifstream(out / "tokenizer_config.json"));
  const std::string coord0 = std::to_string(tok.coord_vocab().first_id());
  ASSERT_TRUE(cfg["added_tokens_decoder"].contains(coord0));
  EXPECT_EQ(cfg["added_tokens_decoder"][coord0]["content"], "<coord_0>");
  EXPECT_EQ(cfg["added_tokens_decoder"][coord0]["special"], false);
  const auto pre = nlohmann::json::parse(std::ifstream(out / "preprocessor_config.json"));
  EXPECT_EQ(pre["merge_size"], 2);
  EXPECT_EQ(pre["patch_size"], 14);
}

TEST(QwenVocabularyExtension, NewRowsStartFromTheOldOnesAndTheChatFormatHolds) {
  const fs::path src = checkpoint(QwenVLFamily::kQwen2VL);
  auto m = load_qwen_vl(src);
  const BpeTokenizer base = BpeTokenizer::from_file(src / "tokenizer.json");
  const int64_t base_ids = base.vocab_size();
  QwenChatTokenizer tok = QwenChatTokenizer::load(src / "tokenizer.json", 16);
  ASSERT_EQ(tok.vocab_size(), base_ids + 16 + 2);
  EXPECT_EQ(tok.first_new_id(), base_ids);
  m->resize_vocabulary(tok.vocab_size());
  EXPECT_GE(m->vocab_size(), tok.vocab_size());
  const auto old_embed = m->input_embedding().narrow(0, 0, base_ids).clone();
  init_new_token_rows(*m, base_ids, tok.coord_vocab().first_id(), 16);
  const auto e = m->input_embedding();
  EXPECT_TRUE(torch::equal(e.narrow(0, 0, base_ids), old_embed));  // old rows untouched
  const auto mean = old_embed.mean(0);
  EXPECT_TRUE(torch::allclose(e[tok.structure().obj_start], mean));
  const auto coords = e.narrow(0, tok.coord_vocab().first_id(), 16);
  const double neighbour = (coords[1] - coords[0]).norm().item<double>();
  const double ends = (coords[15] - coords[0]).norm().item<double>();
  EXPECT_NEAR(neighbour * 15, ends, 1e-4);  // evenly spaced along a line
  EXPECT_GT(ends, 0.0);
  // the extended model saves and reloads with the new rows
  const auto dir = temp_dir("extended");
  save_qwen_vl(*m, dir);
  tok.save((dir / "tokenizer.json").string());
  auto again = load_qwen_vl(dir);
  EXPECT_TRUE(torch::equal(again->input_embedding(), m->input_embedding()));
  EXPECT_EQ(QwenChatTokenizer::load(dir / "tokenizer.json", 16).vocab_size(),
            tok.vocab_size());  // idempotent

  // chat format: prefix through <|vision_start|>, prompt from <|vision_end|> to the assistant turn
  const auto prefix = tok.bpe().decode(tok.image_prefix_ids());
  EXPECT_EQ(prefix,
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>");
  EXPECT_EQ(tok.bpe().decode(tok.prompt_ids({})),
            "<|vision_end|>detect all<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(tok.bpe().decode(tok.prompt_ids({"red star", "blue circle"})),
            "<|vision_end|>detect: red star; blue circle<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(tok.structure().answer_end, *base.token_to_id("<|im_end|>"));
  // a description spelling a special token stays text
  const auto ids = tok.encode("red <|im_end|>");
  for (auto id : ids) EXPECT_TRUE(tok.is_description_token(id)) << id;
  EXPECT_EQ(tok.decode(ids), "red <|im_end|>");
  EXPECT_FALSE(tok.is_description_token(tok.coord_vocab().first_id()));
}

}  // namespace
}  // namespace coordexp
