// Qwen2-VL / Qwen2.5-VL config.json parsing on hand-written configs shaped like the released ones, both
// transformers layouts (flat and text_config), and the errors for unsupported or malformed fields.
#include <gtest/gtest.h>

#include "coordexp/io/hf_config.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

using nlohmann::json;

// Shaped like Qwen/Qwen2-VL-2B-Instruct's config.json (flat layout, transformers 4.4x).
json qwen2_vl_2b() {
  return json::parse(R"({
    "architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "vision_start_token_id": 151652,
    "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655,
    "video_token_id": 151656, "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02,
    "intermediate_size": 8960, "max_position_embeddings": 32768, "max_window_layers": 28,
    "model_type": "qwen2_vl", "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
    "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": true, "use_sliding_window": false,
    "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                      "hidden_size": 1536, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 151936})");
}

// Shaped like Qwen/Qwen2.5-VL-3B-Instruct's config.json.
json qwen25_vl_3b() {
  return json::parse(R"({
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "bos_token_id": 151643, "eos_token_id": 151645,
    "hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 11008, "max_position_embeddings": 128000,
    "max_window_layers": 70, "model_type": "qwen2_5_vl", "num_attention_heads": 16, "num_hidden_layers": 36,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
    "tie_word_embeddings": true, "use_sliding_window": false, "vocab_size": 151936,
    "vision_start_token_id": 151652, "vision_end_token_id": 151653, "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
                      "num_heads": 16, "in_chans": 3, "out_hidden_size": 2048, "patch_size": 14,
                      "spatial_merge_size": 2, "spatial_patch_size": 14, "window_size": 112,
                      "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2, "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}})");
}

void expect_error(const json& doc, std::initializer_list<const char*> fragments) {
  try {
    parse_qwen_vl_config(doc, "config.json");
    ADD_FAILURE() << "no error for " << doc.dump();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    for (const char* f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

TEST(HfConfig, Qwen2VLFlatLayout) {
  const QwenVLConfig c = parse_qwen_vl_config(qwen2_vl_2b(), "config.json");
  EXPECT_EQ(c.family, QwenVLFamily::kQwen2VL);
  EXPECT_EQ(c.text.vocab_size, 151936);
  EXPECT_EQ(c.text.hidden_size, 1536);
  EXPECT_EQ(c.text.intermediate_size, 8960);
  EXPECT_EQ(c.text.num_hidden_layers, 28);
  EXPECT_EQ(c.text.num_attention_heads, 12);
  EXPECT_EQ(c.text.num_key_value_heads, 2);
  EXPECT_EQ(c.text.head_dim(), 128);
  EXPECT_DOUBLE_EQ(c.text.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.text.rope.rope_theta, 1e6);
  EXPECT_TRUE(c.text.tie_word_embeddings);
  EXPECT_EQ(c.text.rope.rope_type, "mrope");
  EXPECT_EQ(c.text.rope.mrope_section, (std::vector<int64_t>{16, 24, 24}));
  EXPECT_EQ(c.image_token_id, 151655);
  EXPECT_EQ(c.vision_start_token_id, 151652);
  EXPECT_EQ(c.vision_end_token_id, 151653);
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_EQ(c.vision.depth, 32);
  EXPECT_EQ(c.vision.embed_dim, 1280);
  EXPECT_EQ(c.vision.out_hidden_size, 1536);  // Qwen2-VL's vision "hidden_size" is the merger output
  EXPECT_EQ(c.vision.intermediate_size, 5120);
  EXPECT_EQ(c.vision.hidden_act, "quick_gelu");
  EXPECT_EQ(c.vision.in_channels, 3);
  EXPECT_EQ(c.vision.window_size, 0);
  EXPECT_TRUE(c.vision.fullatt_block_indexes.empty());
}

TEST(HfConfig, Qwen25VL) {
  const QwenVLConfig c = parse_qwen_vl_config(qwen25_vl_3b(), "config.json");
  EXPECT_EQ(c.family, QwenVLFamily::kQwen2_5VL);
  EXPECT_EQ(c.text.hidden_size, 2048);
  EXPECT_EQ(c.text.max_position_embeddings, 128000);
  EXPECT_EQ(c.vision.embed_dim, 1280);  // 2.5's vision "hidden_size" is the ViT width
  EXPECT_EQ(c.vision.out_hidden_size, 2048);
  EXPECT_EQ(c.vision.intermediate_size, 3420);
  EXPECT_EQ(c.vision.hidden_act, "silu");
  EXPECT_EQ(c.vision.window_size, 112);
  EXPECT_EQ(c.vision.fullatt_block_indexes, (std::vector<int64_t>{7, 15, 23, 31}));
  EXPECT_DOUBLE_EQ(c.vision.tokens_per_second, 2);
}

TEST(HfConfig, NestedTextConfigLayout) {
  // Newer transformers: text fields under text_config, rope under rope_parameters with rope_type "default".
  json doc = {{"architectures", {"Qwen2VLForConditionalGeneration"}},
              {"model_type", "qwen2_vl"},
              {"image_token_id", 7},
              {"tie_word_embeddings", false},
              {"vision_config", qwen2_vl_2b()["vision_config"]}};
  doc["text_config"] = {
      {"model_type", "qwen2_vl_text"},
      {"vocab_size", 300},
      {"hidden_size", 64},
      {"intermediate_size", 128},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 4},
      {"num_key_value_heads", 2},
      {"rms_norm_eps", 1e-6},
      {"eos_token_id", {5, 6}},
      {"rope_parameters", {{"rope_type", "default"}, {"mrope_section", {2, 3, 3}}, {"rope_theta", 10000.0}}}};
  const QwenVLConfig c = parse_qwen_vl_config(doc, "config.json");
  EXPECT_EQ(c.text.vocab_size, 300);
  EXPECT_EQ(c.text.hidden_size, 64);
  EXPECT_EQ(c.text.num_key_value_heads, 2);
  EXPECT_EQ(c.image_token_id, 7);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(c.text.rope.rope_type, "default");
  EXPECT_EQ(c.text.rope.mrope_section, (std::vector<int64_t>{2, 3, 3}));
  EXPECT_DOUBLE_EQ(c.text.rope.rope_theta, 10000.0);
  EXPECT_FALSE(c.text.tie_word_embeddings);
}

TEST(HfConfig, KeyValueHeadsDefaultToQueryHeads) {
  json doc = qwen2_vl_2b();
  doc.erase("num_key_value_heads");
  EXPECT_EQ(parse_qwen_vl_config(doc, "config.json").text.num_key_value_heads, 12);
}

TEST(HfConfig, RoundTripThroughJson) {
  for (const json& doc : {qwen2_vl_2b(), qwen25_vl_3b()}) {
    const QwenVLConfig a = parse_qwen_vl_config(doc, "a");
    const QwenVLConfig b = parse_qwen_vl_config(qwen_vl_config_to_json(a), "b");
    EXPECT_EQ(qwen_vl_config_to_json(a), qwen_vl_config_to_json(b));
    EXPECT_EQ(b.vision.intermediate_size, a.vision.intermediate_size);
    EXPECT_EQ(b.vision.embed_dim, a.vision.embed_dim);
    EXPECT_EQ(b.vision.out_hidden_size, a.vision.out_hidden_size);
  }
}

TEST(HfConfig, Errors) {
  json doc = qwen2_vl_2b();
  doc["model_type"] = "llava";
  expect_error(doc, {"model_type", "llava"});
  doc = qwen2_vl_2b();
  doc["architectures"] = {"LlamaForCausalLM"};
  expect_error(doc, {"architectures", "LlamaForCausalLM"});
  doc = qwen2_vl_2b();
  doc["architectures"] = {"Qwen2_5_VLForConditionalGeneration"};
  expect_error(doc, {"architectures", "qwen2_vl"});
  doc = qwen2_vl_2b();
  doc.erase("model_type");
  doc.erase("architectures");
  expect_error(doc, {"model_type"});
  doc = qwen2_vl_2b();
  doc["hidden_size"] = "1536";
  expect_error(doc, {"hidden_size", "an integer"});
  doc = qwen2_vl_2b();
  doc["num_hidden_layers"] = 0;
  expect_error(doc, {"num_hidden_layers", "positive"});
  doc = qwen2_vl_2b();
  doc["num_key_value_heads"] = 5;
  expect_error(doc, {"num_key_value_heads", "divisor"});
  doc = qwen2_vl_2b();
  doc["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
  expect_error(doc, {"rope_scaling.rope_type", "yarn"});
  doc = qwen2_vl_2b();
  doc["rope_scaling"]["mrope_section"] = {16, 24, 16};
  expect_error(doc, {"mrope_section", "64"});
  doc = qwen2_vl_2b();
  doc["vision_config"]["in_channels"] = 4;
  expect_error(doc, {"vision_config.in_chans", "in_channels"});
  doc = qwen25_vl_3b();
  doc["vision_config"]["fullatt_block_indexes"] = {7, 40};
  expect_error(doc, {"vision_config.fullatt_block_indexes", "40"});
  doc = qwen2_vl_2b();
  doc["text_config"] = {{"hidden_size", 1.5}};
  expect_error(doc, {"text_config.hidden_size"});
  expect_error(json::array(), {"a JSON object"});
  EXPECT_THROW(load_qwen_vl_config("/nonexistent/config.json"), InputError);
}

TEST(HfConfig, TextConfigWinsOverTopLevel) {
  json doc = qwen2_vl_2b();
  doc["text_config"] = {{"vocab_size", 1000}, {"image_token_id", 9}, {"num_key_value_heads", nullptr}};
  const QwenVLConfig c = parse_qwen_vl_config(doc, "config.json");
  EXPECT_EQ(c.text.vocab_size, 1000);
  EXPECT_EQ(c.image_token_id, 9);
  EXPECT_EQ(c.text.hidden_size, 1536);       // only at the top level
  EXPECT_EQ(c.text.num_key_value_heads, 2);  // null does not override
}

// Malformed fields the Errors test does not reach: one per check of each parsing step.
TEST(HfConfig, MoreErrors) {
  auto with = [](json doc, const json::json_pointer& at, const json& value) {
    doc[at] = value;
    return doc;
  };
  const json v2 = qwen2_vl_2b(), v25 = qwen25_vl_3b();
  expect_error(with(v2, "/architectures"_json_pointer, {"A", "B"}), {"architectures", "one class name"});
  expect_error(with(v2, "/model_type"_json_pointer, 3), {"model_type", "a string"});
  expect_error(with(v2, "/text_config"_json_pointer, {1, 2}), {"text_config", "an object"});
  expect_error(with(v2, "/vision_config"_json_pointer, "x"), {"vision_config", "an object"});
  expect_error(with(v2, "/rope_scaling"_json_pointer, 3), {"rope_scaling", "an object"});
  expect_error(with(v2, "/tie_word_embeddings"_json_pointer, 1), {"tie_word_embeddings", "true or false"});
  expect_error(with(v2, "/hidden_act"_json_pointer, 1), {"hidden_act", "a string"});
  expect_error(with(v2, "/rms_norm_eps"_json_pointer, "1e-6"), {"rms_norm_eps", "a number"});
  expect_error(with(v2, "/eos_token_id"_json_pointer, {1, "2"}), {"eos_token_id", "a list of integers"});
  expect_error(with(v2, "/eos_token_id"_json_pointer, "2"), {"eos_token_id", "a list of integers"});
  expect_error(with(v2, "/hidden_size"_json_pointer, 1537),
               {"hidden_size", "multiple of num_attention_heads"});
  expect_error(with(v2, "/rms_norm_eps"_json_pointer, 0), {"rms_norm_eps", "positive"});
  expect_error(with(v2, "/rope_theta"_json_pointer, -1.0), {"rope_theta", "positive"});
  expect_error(with(v2, "/rope_scaling/mrope_section"_json_pointer, {32, 32}), {"mrope_section", "three"});
  expect_error(with(v2, "/rope_scaling/mrope_section"_json_pointer, {-16, 40, 40}),
               {"mrope_section", "positive"});
  // Sections whose int64 sum wraps to head_dim / 2 (2^62 + 2^62 + 64 = 2^63 + 64) must not pass.
  expect_error(with(v2, "/rope_scaling/mrope_section"_json_pointer, {int64_t{1} << 62, int64_t{1} << 62, 64}),
               {"mrope_section", "head_dim / 2 = 64"});
  expect_error(with(v2, "/vision_config/mlp_ratio"_json_pointer, 4.0001), {"vision_config.mlp_ratio"});
  expect_error(with(v2, "/vision_config/mlp_ratio"_json_pointer, 0), {"vision_config.mlp_ratio"});
  // A width beyond int64 (1280 * 1e300) is rejected rather than converted.
  expect_error(with(v2, "/vision_config/mlp_ratio"_json_pointer, 1e300), {"vision_config.mlp_ratio"});
  expect_error(with(v2, "/vision_config/embed_dim"_json_pointer, 1281),
               {"vision_config.embed_dim", "num_heads"});
  expect_error(with(v2, "/vision_config/depth"_json_pointer, 0), {"vision_config.depth", "positive"});
  expect_error(with(v25, "/vision_config/hidden_size"_json_pointer, -1280), {"vision_config.hidden_size"});
  expect_error(with(v25, "/vision_config/window_size"_json_pointer, -1), {"vision_config.window_size"});
}

}  // namespace
}  // namespace coordexp
