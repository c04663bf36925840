// Reading and writing TrainConfig. Every field is listed once, in visit(): the reader and the writer are two
// visitors over the same list, so they cannot drift apart.
#include "coordexp/train/train_config.hpp"

#include <nlohmann/json.hpp>

#include "coordexp/data/image_fit.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"

namespace coordexp {
namespace {

const char* matching_name(MatchingMode m) {
  return m == MatchingMode::kIndex ? "index" : "hungarian";
}
const char* unmatched_name(UnmatchedPolicy p) {
  return p == UnmatchedPolicy::kIgnore ? "ignore" : "unlikelihood";
}
const char* coord_target_name(CoordTarget t) {
  return t == CoordTarget::kHard ? "hard" : "two_bin";
}
const char* coord_decode_name(CoordDecode d) {
  return d == CoordDecode::kArgmax ? "argmax" : "expectation";
}

// Reads fields from a ConfigReader section.
struct Reader {
  ConfigReader r;
  template <class T>
  void operator()(const char* key, T& field) {
    if constexpr (std::is_same_v<T, uint64_t>) {
      int64_t v = static_cast<int64_t>(field);
      if (r.get(key, v)) {
        if (v < 0)
          throw_input_error(r.source() + ": field \"" + r.key_path(key) + "\"", "a non-negative integer",
                            std::to_string(v));
        field = static_cast<uint64_t>(v);
      }
    } else {
      r.get(key, field);
    }
  }
  template <class E, class Parse, class Name>
  void enumeration(const char* key, E& field, Parse parse, Name) {
    std::string s;
    if (r.get(key, s)) {
      try {
        field = parse(s);
      } catch (const InputError& e) {
        throw InputError(r.source() + ": field \"" + r.key_path(key) + "\": " + e.what());
      }
    }
  }
  Reader section(const char* key) { return Reader{r.section(key)}; }
};

// Writes fields into a JSON object.
struct Writer {
  nlohmann::json* j;
  template <class T>
  void operator()(const char* key, T& field) {
    (*j)[key] = field;
  }
  template <class E, class Parse, class Name>
  void enumeration(const char* key, E& field, Parse, Name name) {
    (*j)[key] = name(field);
  }
  Writer section(const char* key) {
    (*j)[key] = nlohmann::json::object();
    return Writer{&(*j)[key]};
  }
};

template <class V>
void visit(V& v, TrainConfig& c) {
  v("about", c.about);
  {
    auto s = v.section("data");
    auto& d = c.data;
    s("train_json", d.train_json), s("val_json", d.val_json), s("extra_eval_json", d.extra_eval_json);
    s("image_root", d.image_root), s("num_bins", d.num_bins), s("order", d.order);
    s("mc_orderings", d.mc_orderings), s("flip_prob", d.flip_prob), s("max_objects", d.max_objects);
    s("use_description", d.use_description), s("category_prompt_prob", d.category_prompt_prob);
    s("max_prompt_categories", d.max_prompt_categories), s("fit", d.fit), s("min_pixels", d.min_pixels);
    s("max_pixels", d.max_pixels), s("jpeg_dct_scaling", d.jpeg_dct_scaling);
    s("exif_orientation", d.exif_orientation), s("cache_mib", d.cache_mib),
        s("decode_threads", d.decode_threads);
  }
  {
    auto s = v.section("model");
    auto& m = c.model;
    s("image_size", m.image_size), s("patch_size", m.patch_size), s("conv_stem", m.conv_stem);
    s("stem_blocks", m.stem_blocks);
    s("vision_width", m.vision_width);
    s("vision_layers", m.vision_layers), s("vision_heads", m.vision_heads), s("width", m.width);
    s("layers", m.layers), s("heads", m.heads), s("ffn_width", m.ffn_width), s("rope_theta", m.rope_theta);
    s("norm_eps", m.norm_eps), s("shared_image_position", m.shared_image_position);
    s("scan_pointer", m.scan_pointer);
  }
  {
    auto s = v.section("hf");
    auto& h = c.hf;
    s("path", h.path), s("train_lm", h.train_lm), s("train_projector", h.train_projector);
    s("train_vision", h.train_vision), s("system_prompt", h.system_prompt), s("dtype", h.dtype);
  }
  {
    auto s = v.section("criterion");
    auto& k = c.criterion;
    s("coord_weight", k.coord_weight), s("l1_weight", k.l1_weight), s("giou_weight", k.giou_weight);
    s("tau", k.tau), s("ce_on_structure", k.ce_on_structure), s("coord_ce", k.coord_ce);
    s.enumeration("coord_ce_target", k.coord_ce_target, parse_coord_target, coord_target_name);
    s("coord_ce_weight", k.coord_ce_weight);
    s("coord_soft_ce_weight", k.coord_soft_ce_weight), s("coord_soft_sigma", k.coord_soft_sigma);
    s("coord_gate_weight", k.coord_gate_weight), s("coord_w1_weight", k.coord_w1_weight);
    s.enumeration("matching", k.matching, parse_matching_mode, matching_name);
    s("match_geo_weight", k.match_geo_weight), s("match_sem_weight", k.match_sem_weight);
    s("match_min_iou", k.match_min_iou);
    s.enumeration("unmatched", k.unmatched, parse_unmatched_policy, unmatched_name);
    s("unmatched_weight", k.unmatched_weight);
  }
  {
    auto s = v.section("optim");
    auto& o = c.optim;
    s("steps", o.steps), s("batch_size", o.batch_size), s("lr", o.lr), s("min_lr_ratio", o.min_lr_ratio);
    s("warmup_steps", o.warmup_steps), s("weight_decay", o.weight_decay), s("beta1", o.beta1);
    s("beta2", o.beta2), s("grad_clip", o.grad_clip), s("coord_loss_warmup_steps", o.coord_loss_warmup_steps);
    s("grounding_weight", o.grounding_weight), s("gradient_checkpointing", o.gradient_checkpointing);
  }
  {
    auto s = v.section("generation");
    auto& g = c.generation;
    s("max_new_tokens", g.max_new_tokens), s("max_objects", g.max_objects);
    s("max_description_tokens", g.max_description_tokens), s("temperature", g.temperature),
        s("top_p", g.top_p);
    s("repetition_penalty", g.repetition_penalty);
    s.enumeration("coord_decode", g.coord_decode, parse_coord_decode, coord_decode_name);
    s.enumeration("score", g.score, parse_score_mode, score_mode_name);
    s("label_alternatives", g.label_alternatives);
    s("seed", g.seed);
  }
  {
    auto s = v.section("vision_warmup");
    auto& w = c.vision_warmup;
    s("steps", w.steps), s("lr", w.lr), s("box_weight", w.box_weight),
        s("background_weight", w.background_weight);
  }
  {
    auto s = v.section("rollout");
    auto& r = c.rollout;
    s("every", r.every), s("start_step", r.start_step), s("temperature", r.temperature), s("top_p", r.top_p);
    s("max_new_tokens", r.max_new_tokens), s("min_iou", r.min_iou), s("append_missed", r.append_missed);
    s("desc_consistency", r.desc_consistency);
  }
  {
    auto s = v.section("adapter");
    auto& a = c.adapter;
    s("type", a.type), s("rank", a.rank), s("alpha", a.alpha), s("dropout", a.dropout),
        s("targets", a.targets);
    s("target_regex", a.target_regex), s("modules_to_save", a.modules_to_save), s("from", a.from);
  }
  {
    auto s = v.section("run");
    auto& r = c.run;
    s("out_dir", r.out_dir), s("seed", r.seed), s("threads", r.threads), s("log_every", r.log_every);
    s("eval_every", r.eval_every), s("eval_images", r.eval_images), s("checkpoint_every", r.checkpoint_every);
    s("eval_batch_size", r.eval_batch_size), s("dist_timeout_s", r.dist_timeout_s),
        s("init_from", r.init_from);
    s("init_parts", r.init_parts), s("keep_freed_memory", r.keep_freed_memory);
  }
}

void check_positive(const std::string& src, const char* key, double v) {
  if (!(v > 0)) throw_input_error(src + ": field \"" + key + "\"", "a value > 0", std::to_string(v));
}

}  // namespace

TrainConfig load_train_config(const std::string& path) {
  TrainConfig c;
  Reader reader{ConfigReader::from_file(path)};
  visit(reader, c);
  reader.r.finish();
  parse_object_order(c.data.order);  // validates
  if (c.data.fit != "auto") {
    try {
      parse_image_fit_mode(c.data.fit);
    } catch (const InputError& e) {
      throw InputError(path + ": field \"data.fit\": " + e.what());
    }
  }
  if (c.data.min_pixels <= 0 || c.data.max_pixels < c.data.min_pixels)
    throw_input_error(path + ": field \"data.max_pixels\"", "0 < data.min_pixels <= data.max_pixels",
                      std::to_string(c.data.min_pixels) + " .. " + std::to_string(c.data.max_pixels));
  if (!(c.data.category_prompt_prob >= 0 && c.data.category_prompt_prob <= 1) ||
      c.data.max_prompt_categories < 1)
    throw_input_error(
        path + ": field \"data.category_prompt_prob\" / \"data.max_prompt_categories\"",
        "a probability in [0, 1] / at least 1",
        std::to_string(c.data.category_prompt_prob) + " / " + std::to_string(c.data.max_prompt_categories));
  try {
    if (parse_adapter_type(c.adapter.type) != AdapterType::kAdapterNone &&
        (c.adapter.rank <= 0 || !(c.adapter.alpha > 0) || !(c.adapter.dropout >= 0 && c.adapter.dropout < 1)))
      throw_input_error("adapter.rank / alpha / dropout", "rank > 0, alpha > 0, dropout in [0, 1)",
                        std::to_string(c.adapter.rank) + " / " + std::to_string(c.adapter.alpha) + " / " +
                            std::to_string(c.adapter.dropout));
  } catch (const InputError& e) {
    throw InputError(path + ": field \"adapter\": " + e.what());
  }
  if (c.hf.dtype != "float32" && c.hf.dtype != "bfloat16")
    throw_input_error(path + ": field \"hf.dtype\"", "\"float32\" or \"bfloat16\"", "\"" + c.hf.dtype + "\"");
  if (c.hf.dtype == "bfloat16" && c.hf.path.empty())
    throw_input_error(path + ": field \"hf.dtype\"",
                      "\"float32\" for the tiny model (bfloat16 is for hf.path)", "\"bfloat16\"");
  if (c.data.cache_mib < 0 || c.data.decode_threads < 0)
    throw_input_error(path + ": field \"data.cache_mib\" / \"data.decode_threads\"", "values >= 0",
                      std::to_string(c.data.cache_mib) + " / " + std::to_string(c.data.decode_threads));
  // 0 steps: evaluate the weights run.init_from or adapter.from name (the ablation's inference-only
  // variants; predicting with an adapter PEFT wrote)
  if (!(c.optim.steps > 0 || (c.optim.steps == 0 && (!c.run.init_from.empty() || !c.adapter.from.empty()))))
    throw_input_error(path + ": field \"optim.steps\"",
                      "a positive integer (or 0 with run.init_from / adapter.from)",
                      std::to_string(c.optim.steps));
  if (c.run.init_parts != "all" && c.run.init_parts != "vision")
    throw_input_error(path + ": field \"run.init_parts\"", "\"all\" or \"vision\"", c.run.init_parts);
  if (c.run.init_parts == "vision" && (c.run.init_from.empty() || c.optim.steps == 0))
    throw_input_error(path + ": field \"run.init_parts\"",
                      "\"all\" unless run.init_from is set and optim.steps > 0", "\"vision\"",
                      "a run that evaluates init_from needs all of its weights");
  check_positive(path, "optim.batch_size", c.optim.batch_size);
  check_positive(path, "optim.lr", c.optim.lr);
  check_positive(path, "data.mc_orderings", c.data.mc_orderings);
  if (!c.hf.path.empty() && (c.data.fit == "square" || c.data.fit == "letterbox") &&
      c.model.image_size % 28 != 0)
    throw_input_error(path + ": field \"model.image_size\"",
                      "a multiple of 28 with hf.path (patch 14, merge 2)",
                      std::to_string(c.model.image_size));
  if (!(c.optim.grounding_weight >= 0))
    throw_input_error(path + ": field \"optim.grounding_weight\"", "a value >= 0",
                      std::to_string(c.optim.grounding_weight));
  if (c.optim.grounding_weight > 0 && !c.hf.path.empty())
    throw_input_error(path + ": field \"optim.grounding_weight\"",
                      "0 with hf.path (the tiny model's decoder only)",
                      std::to_string(c.optim.grounding_weight));
  if (c.vision_warmup.steps < 0)
    throw_input_error(path + ": field \"vision_warmup.steps\"", "a value >= 0",
                      std::to_string(c.vision_warmup.steps));
  if (c.vision_warmup.steps > 0) check_positive(path, "vision_warmup.lr", c.vision_warmup.lr);
  if (c.vision_warmup.steps > 0 && !c.hf.path.empty())
    throw_input_error(path + ": field \"vision_warmup.steps\"", "0 with hf.path (a pretrained vision tower)",
                      std::to_string(c.vision_warmup.steps));
  if (c.generation.label_alternatives < 0 || c.generation.label_alternatives > 16)
    throw_input_error(path + ": field \"generation.label_alternatives\"", "0..16",
                      std::to_string(c.generation.label_alternatives));
  if (c.data.train_json.empty())
    throw_input_error(path + ": field \"data.train_json\"", "a COCO file path", "nothing");
  return c;
}

std::string train_config_to_json(const TrainConfig& config) {
  nlohmann::json j = nlohmann::json::object();
  TrainConfig copy = config;
  Writer w{&j};
  visit(w, copy);
  return j.dump(2);
}

}  // namespace coordexp
