// Qwen2-VL / Qwen2.5-VL config.json parsing (see hf_config.hpp). Field lookups go through one small
// reader that knows the file and the JSON path, so every error names both.
#include "coordexp/io/hf_config.hpp"

#include <cmath>
#include <numeric>

#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"

namespace coordexp {

namespace {

using nlohmann::json;

// Reads typed fields from one JSON object; `prefix` is the object's path ("", "text_config.", ...).
class FieldReader {
 public:
  FieldReader(const json* obj, std::string source, std::string prefix)
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return obj_ && obj_->contains(key) && !(*obj_)[key].is_null(); }
  std::string where(const char* key) const { return source_ + ": " + prefix_ + key; }

  void read(const char* key, int64_t& out) const {
    if (!has(key)) return;
    const json& v = (*obj_)[key];
    if (!v.is_number_integer()) throw_input_error(where(key), "an integer", v.dump());
    out = v.get<int64_t>();
  }
  void read(const char* key, double& out) const {
    if (!has(key)) return;
    const json& v = (*obj_)[key];
    if (!v.is_number()) throw_input_error(where(key), "a number", v.dump());
    out = v.get<double>();
  }
  void read(const char* key, bool& out) const {
    if (!has(key)) return;
    const json& v = (*obj_)[key];
    if (!v.is_boolean()) throw_input_error(where(key), "true or false", v.dump());
    out = v.get<bool>();
  }
  void read(const char* key, std::string& out) const {
    if (!has(key)) return;
    const json& v = (*obj_)[key];
    if (!v.is_string()) throw_input_error(where(key), "a string", v.dump());
    out = v.get<std::string>();
  }
  // An integer or a list of integers (eos_token_id is either).
  void read(const char* key, std::vector<int64_t>& out) const {
    if (!has(key)) return;
    const json& v = (*obj_)[key];
    if (v.is_number_integer()) {
      out = {v.get<int64_t>()};
      return;
    }
    if (!v.is_array()) throw_input_error(where(key), "a list of integers", v.dump());
    out.clear();
    for (const json& e : v) {
      if (!e.is_number_integer()) throw_input_error(where(key), "a list of integers", v.dump());
      out.push_back(e.get<int64_t>());
    }
  }

 private:
  const json* obj_;
  std::string source_, prefix_;
};

const json* sub_object(const json& doc, const char* key, const std::string& source) {
  if (!doc.contains(key) || doc[key].is_null()) return nullptr;
  if (!doc[key].is_object()) throw_input_error(source + ": " + key, "an object", doc[key].type_name());
  return &doc[key];
}

void require_positive(int64_t value, const std::string& where) {
  if (value <= 0) throw_input_error(where, "a positive integer", std::to_string(value));
}

QwenVLFamily detect_family(const json& doc, const std::string& source) {
  static const std::pair<const char*, QwenVLFamily> kTypes[] = {{"qwen2_vl", QwenVLFamily::kQwen2VL},
                                                                {"qwen2_5_vl", QwenVLFamily::kQwen2_5VL}};
  static const std::pair<const char*, QwenVLFamily> kArchs[] = {
      {"Qwen2VLForConditionalGeneration", QwenVLFamily::kQwen2VL},
      {"Qwen2_5_VLForConditionalGeneration", QwenVLFamily::kQwen2_5VL}};
  std::optional<QwenVLFamily> family;
  if (doc.contains("model_type")) {
    const json& v = doc["model_type"];
    if (!v.is_string()) throw_input_error(source + ": model_type", "a string", v.dump());
    for (const auto& [name, f] : kTypes)
      if (v.get<std::string>() == name) family = f;
    if (!family)
      throw_input_error(source + ": model_type", "\"qwen2_vl\" or \"qwen2_5_vl\"", v.dump(),
                        "only the Qwen2-VL family is supported");
  }
  if (doc.contains("architectures")) {
    const json& v = doc["architectures"];
    if (!v.is_array() || v.size() != 1 || !v[0].is_string())
      throw_input_error(source + ": architectures", "a list with one class name", v.dump());
    std::optional<QwenVLFamily> from_arch;
    for (const auto& [name, f] : kArchs)
      if (v[0].get<std::string>() == name) from_arch = f;
    if (!from_arch)
      throw_input_error(source + ": architectures",
                        "[\"Qwen2VLForConditionalGeneration\"] or [\"Qwen2_5_VLForConditionalGeneration\"]",
                        v.dump(), "only the Qwen2-VL family is supported");
    if (family && *family != *from_arch)
      throw_input_error(source + ": architectures",
                        "the architecture of model_type " + doc["model_type"].dump(), v.dump());
    family = from_arch;
  }
  if (!family)
    throw_input_error(source + ": model_type", "\"qwen2_vl\" or \"qwen2_5_vl\"",
                      "neither it nor architectures");
  return *family;
}

void read_rope(const json* text_obj, const json& doc, const std::string& source, QwenRopeConfig& rope) {
  // rope_theta may sit beside the text fields or (transformers 5) inside rope_parameters.
  for (const json* obj : {&doc, text_obj}) {
    if (!obj) continue;
    const std::string prefix = obj == &doc ? "" : "text_config.";
    FieldReader(obj, source, prefix).read("rope_theta", rope.rope_theta);
    for (const char* key : {"rope_scaling", "rope_parameters"}) {
      if (!obj->contains(key) || (*obj)[key].is_null()) continue;
      const json& r = (*obj)[key];
      const std::string where = prefix + key + ".";
      if (!r.is_object()) throw_input_error(source + ": " + prefix + key, "an object", r.dump());
      FieldReader reader(&r, source, where);
      reader.read("type", rope.rope_type);
      reader.read("rope_type", rope.rope_type);
      reader.read("mrope_section", rope.mrope_section);
      reader.read("rope_theta", rope.rope_theta);
      if (rope.rope_type != "mrope" && rope.rope_type != "default")
        throw_input_error(source + ": " + where + "rope_type", "\"mrope\" or \"default\"",
                          "\"" + rope.rope_type + "\"",
                          "rope scaling variants (yarn, linear, dynamic) are not supported");
    }
  }
}

// The decoder's own fields from one object (the top level or text_config).
void read_text_fields(const FieldReader& r, QwenTextConfig& t, bool& kv_heads_given) {
  r.read("vocab_size", t.vocab_size);
  r.read("hidden_size", t.hidden_size);
  r.read("intermediate_size", t.intermediate_size);
  r.read("num_hidden_layers", t.num_hidden_layers);
  r.read("num_attention_heads", t.num_attention_heads);
  kv_heads_given |= r.has("num_key_value_heads");
  r.read("num_key_value_heads", t.num_key_value_heads);
  r.read("hidden_act", t.hidden_act);
  r.read("max_position_embeddings", t.max_position_embeddings);
  r.read("rms_norm_eps", t.rms_norm_eps);
  r.read("tie_word_embeddings", t.tie_word_embeddings);
  r.read("use_sliding_window", t.use_sliding_window);
  r.read("sliding_window", t.sliding_window);
  r.read("max_window_layers", t.max_window_layers);
  r.read("attention_dropout", t.attention_dropout);
}

// The special token ids from one object (the top level or text_config).
void read_token_ids(const FieldReader& r, QwenVLConfig& c) {
  r.read("image_token_id", c.image_token_id);
  r.read("video_token_id", c.video_token_id);
  r.read("vision_start_token_id", c.vision_start_token_id);
  r.read("vision_end_token_id", c.vision_end_token_id);
  r.read("bos_token_id", c.bos_token_id);
  r.read("eos_token_id", c.eos_token_ids);
}

// Text fields, token ids and rope: text_config first, the top level for anything it lacks (older files
// have only the latter).
void read_text_config(const json& doc, const std::string& source, QwenVLConfig& c) {
  const json* text_obj = sub_object(doc, "text_config", source);
  const FieldReader top(&doc, source, "");
  const FieldReader nested(text_obj, source, "text_config.");
  bool kv_heads_given = false;
  for (const FieldReader* r : {&top, &nested}) {  // nested last, so it wins
    read_text_fields(*r, c.text, kv_heads_given);
    read_token_ids(*r, c);
  }
  if (!kv_heads_given) c.text.num_key_value_heads = c.text.num_attention_heads;
  read_rope(text_obj, doc, source, c.text.rope);
}

// M-RoPE sections: three positive half-dim counts (t, h, w) summing to head_dim / 2.
void check_mrope_section(const QwenTextConfig& t, const std::string& source) {
  const std::vector<int64_t>& sections = t.rope.mrope_section;
  if (sections.empty()) return;
  int64_t sum = 0;
  bool sum_fits = true;  // a hostile file's sections may overflow int64 when added
  for (int64_t s : sections) {
    require_positive(s, source + ": rope_scaling.mrope_section");
    sum_fits = sum_fits && !__builtin_add_overflow(sum, s, &sum);
  }
  if (sections.size() != 3 || !sum_fits || sum > t.head_dim() / 2 || 2 * sum != t.head_dim())
    throw_input_error(
        source + ": rope_scaling.mrope_section",
        "three sections (t, h, w) summing to head_dim / 2 = " + std::to_string(t.head_dim() / 2),
        nlohmann::json(sections).dump());
}

// Ranges of the decoder's fields and how they must divide each other.
void check_text_config(const QwenTextConfig& t, const std::string& source) {
  for (const auto& [value, key] : std::initializer_list<std::pair<int64_t, const char*>>{
           {t.vocab_size, "vocab_size"},
           {t.hidden_size, "hidden_size"},
           {t.intermediate_size, "intermediate_size"},
           {t.num_hidden_layers, "num_hidden_layers"},
           {t.num_attention_heads, "num_attention_heads"},
           {t.num_key_value_heads, "num_key_value_heads"},
           {t.max_position_embeddings, "max_position_embeddings"}})
    require_positive(value, source + ": " + key);
  if (t.hidden_size % t.num_attention_heads != 0)
    throw_input_error(source + ": hidden_size",
                      "a multiple of num_attention_heads (" + std::to_string(t.num_attention_heads) + ")",
                      std::to_string(t.hidden_size));
  if (t.num_attention_heads % t.num_key_value_heads != 0)
    throw_input_error(source + ": num_key_value_heads",
                      "a divisor of num_attention_heads (" + std::to_string(t.num_attention_heads) + ")",
                      std::to_string(t.num_key_value_heads));
  if (!(t.rms_norm_eps > 0))
    throw_input_error(source + ": rms_norm_eps", "a positive number", std::to_string(t.rms_norm_eps));
  if (!(t.rope.rope_theta > 0))
    throw_input_error(source + ": rope_theta", "a positive number", std::to_string(t.rope.rope_theta));
  check_mrope_section(t, source);
}

// Qwen2.5-VL's own vision fields, over transformers' 2.5 defaults.
void read_qwen25_vision_fields(const FieldReader& vr, QwenVisionConfig& v) {
  v.embed_dim = 3584;  // transformers' (odd) default; released checkpoints always set hidden_size = 1280
  v.hidden_act = "silu";
  v.intermediate_size = 3420;
  v.window_size = 112;
  v.fullatt_block_indexes = {7, 15, 23, 31};
  v.tokens_per_second = 4;
  vr.read("hidden_size", v.embed_dim);
  vr.read("out_hidden_size", v.out_hidden_size);
  vr.read("intermediate_size", v.intermediate_size);
  vr.read("window_size", v.window_size);
  vr.read("fullatt_block_indexes", v.fullatt_block_indexes);
  vr.read("tokens_per_second", v.tokens_per_second);
}

// Qwen2-VL's own vision fields; its MLP width is given as a ratio of embed_dim.
void read_qwen2_vision_fields(const FieldReader& vr, QwenVisionConfig& v) {
  double mlp_ratio = 4.0;
  vr.read("embed_dim", v.embed_dim);
  vr.read("hidden_size", v.out_hidden_size);
  vr.read("mlp_ratio", mlp_ratio);
  const double inner = v.embed_dim * mlp_ratio;
  // The upper bound keeps the conversion to int64 defined (2^63 is exact in a double).
  if (!(inner > 0) || inner != std::floor(inner) || !(inner < 9223372036854775808.0))
    throw_input_error(vr.where("mlp_ratio"), "a ratio giving an integer MLP width",
                      std::to_string(mlp_ratio));
  v.intermediate_size = static_cast<int64_t>(inner);
}

// Released configs write "in_chans"; transformers' classes take "in_channels". Both must agree if both given.
void read_in_channels(const FieldReader& vr, QwenVisionConfig& v) {
  int64_t in_chans = v.in_channels;
  vr.read("in_chans", in_chans);
  vr.read("in_channels", v.in_channels);
  if (vr.has("in_chans") && vr.has("in_channels") && in_chans != v.in_channels)
    throw_input_error(vr.where("in_chans"),
                      "the same value as in_channels (" + std::to_string(v.in_channels) + ")",
                      std::to_string(in_chans));
  if (vr.has("in_chans") && !vr.has("in_channels")) v.in_channels = in_chans;
}

// The vision tower's fields from vision_config; the two families name the widths differently.
void read_vision_config(const FieldReader& vr, bool v25, QwenVisionConfig& v) {
  if (v25)
    read_qwen25_vision_fields(vr, v);
  else
    read_qwen2_vision_fields(vr, v);
  vr.read("depth", v.depth);
  vr.read("num_heads", v.num_heads);
  vr.read("hidden_act", v.hidden_act);
  vr.read("patch_size", v.patch_size);
  vr.read("temporal_patch_size", v.temporal_patch_size);
  vr.read("spatial_merge_size", v.spatial_merge_size);
  read_in_channels(vr, v);
}

// Ranges of the vision tower's fields, each error under the key the family's files use.
void check_vision_config(const FieldReader& vr, bool v25, const QwenVisionConfig& v) {
  for (const auto& [value, key] : std::initializer_list<std::pair<int64_t, const char*>>{
           {v.depth, "depth"},
           {v.embed_dim, v25 ? "hidden_size" : "embed_dim"},
           {v.out_hidden_size, v25 ? "out_hidden_size" : "hidden_size"},
           {v.num_heads, "num_heads"},
           {v.intermediate_size, "intermediate_size"},
           {v.patch_size, "patch_size"},
           {v.temporal_patch_size, "temporal_patch_size"},
           {v.spatial_merge_size, "spatial_merge_size"},
           {v.in_channels, "in_channels"}})
    require_positive(value, vr.where(key));
  if (v.embed_dim % v.num_heads != 0)
    throw_input_error(vr.where(v25 ? "hidden_size" : "embed_dim"),
                      "a multiple of num_heads (" + std::to_string(v.num_heads) + ")",
                      std::to_string(v.embed_dim));
  for (int64_t i : v.fullatt_block_indexes)
    if (i < 0 || i >= v.depth)
      throw_input_error(vr.where("fullatt_block_indexes"),
                        "block indexes in [0, depth=" + std::to_string(v.depth) + ")", std::to_string(i));
  if (v25 && v.window_size < 0)
    throw_input_error(vr.where("window_size"), "a non-negative integer", std::to_string(v.window_size));
}

}  // namespace

QwenVLConfig parse_qwen_vl_config(const json& doc, const std::string& source) {
  if (!doc.is_object()) throw_input_error(source, "a JSON object", doc.type_name());
  QwenVLConfig c;
  c.family = detect_family(doc, source);
  read_text_config(doc, source, c);
  check_text_config(c.text, source);
  const bool v25 = c.family == QwenVLFamily::kQwen2_5VL;
  const FieldReader vision(sub_object(doc, "vision_config", source), source, "vision_config.");
  read_vision_config(vision, v25, c.vision);
  check_vision_config(vision, v25, c.vision);
  return c;
}

QwenVLConfig load_qwen_vl_config(const std::filesystem::path& path) {
  const std::filesystem::path file = std::filesystem::is_directory(path) ? path / "config.json" : path;
  return parse_qwen_vl_config(read_json_file(file.string(), "a readable config.json"), file.string());
}

json qwen_vl_config_to_json(const QwenVLConfig& c) {
  const bool v25 = c.family == QwenVLFamily::kQwen2_5VL;
  const QwenTextConfig& t = c.text;
  const QwenVisionConfig& v = c.vision;
  json doc = {
      {"architectures", {v25 ? "Qwen2_5_VLForConditionalGeneration" : "Qwen2VLForConditionalGeneration"}},
      {"model_type", v25 ? "qwen2_5_vl" : "qwen2_vl"},
      {"vocab_size", t.vocab_size},
      {"hidden_size", t.hidden_size},
      {"intermediate_size", t.intermediate_size},
      {"num_hidden_layers", t.num_hidden_layers},
      {"num_attention_heads", t.num_attention_heads},
      {"num_key_value_heads", t.num_key_value_heads},
      {"hidden_act", t.hidden_act},
      {"max_position_embeddings", t.max_position_embeddings},
      {"rms_norm_eps", t.rms_norm_eps},
      {"rope_theta", t.rope.rope_theta},
      {"tie_word_embeddings", t.tie_word_embeddings},
      {"use_sliding_window", t.use_sliding_window},
      {"sliding_window", t.sliding_window},
      {"max_window_layers", t.max_window_layers},
      {"attention_dropout", t.attention_dropout},
      {"image_token_id", c.image_token_id},
      {"video_token_id", c.video_token_id},
      {"vision_start_token_id", c.vision_start_token_id},
      {"vision_end_token_id", c.vision_end_token_id},
      {"bos_token_id", c.bos_token_id},
  };
  doc["eos_token_id"] = c.eos_token_ids.size() == 1 ? json(c.eos_token_ids[0]) : json(c.eos_token_ids);
  if (!t.rope.mrope_section.empty())
    doc["rope_scaling"] = {{"type", t.rope.rope_type}, {"mrope_section", t.rope.mrope_section}};
  json vis = {{"depth", v.depth},
              {"num_heads", v.num_heads},
              {"hidden_act", v.hidden_act},
              {"patch_size", v.patch_size},
              {"temporal_patch_size", v.temporal_patch_size},
              {"spatial_merge_size", v.spatial_merge_size},
              {"in_chans", v.in_channels},
              {"in_channels", v.in_channels}};
  if (v25) {
    vis.update({{"hidden_size", v.embed_dim},
                {"out_hidden_size", v.out_hidden_size},
                {"intermediate_size", v.intermediate_size},
                {"window_size", v.window_size},
                {"fullatt_block_indexes", v.fullatt_block_indexes},
                {"tokens_per_second", v.tokens_per_second}});
  } else {
    vis.update({{"embed_dim", v.embed_dim},
                {"hidden_size", v.out_hidden_size},
                {"mlp_ratio", static_cast<double>(v.intermediate_size) / v.embed_dim}});
  }
  doc["vision_config"] = vis;
  return doc;
}

}  // namespace coordexp
