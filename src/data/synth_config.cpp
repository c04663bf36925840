// OpenShapes generator configuration: validation, split sizes, held-out set, JSON round trip
// (see synth_config.hpp).
#include "coordexp/data/synth_config.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "coordexp/data/synth_vocab.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {

std::string synth_split_name(SynthSplit split) {
  switch (split) {
    case SynthSplit::kSynthTrain:
      return "train";
    case SynthSplit::kSynthVal:
      return "val";
    case SynthSplit::kSynthNovel:
      return "novel";
    case SynthSplit::kSynthDense:
      return "dense";
  }
  return "?";
}

SynthSplit parse_synth_split(const std::string& name) {
  for (SynthSplit s : kAllSynthSplits)
    if (synth_split_name(s) == name) return s;
  throw_input_error("split", "one of train, val, novel, dense", "\"" + name + "\"");
}

void validate_synth_config(const SynthConfig& c) {
  auto check = [](bool ok, const char* field, const std::string& expected, const std::string& found) {
    if (!ok) throw_input_error(std::string("synth config: ") + field, expected, found);
  };
  auto str = [](double v) { return std::to_string(v); };
  check(c.image_width >= 16 && c.image_width <= 4096, "image_width", "16..4096", str(c.image_width));
  check(c.image_height >= 16 && c.image_height <= 4096, "image_height", "16..4096", str(c.image_height));
  check(c.num_train >= 0, "num_train", ">= 0", str(c.num_train));
  check(c.num_val >= 0, "num_val", ">= 0", str(c.num_val));
  check(c.num_novel >= 0, "num_novel", ">= 0", str(c.num_novel));
  check(c.num_dense >= 0, "num_dense", ">= 0", str(c.num_dense));
  check(c.min_objects >= 1 && c.min_objects <= c.max_objects, "min_objects",
        "1 <= min_objects <= max_objects", str(c.min_objects));
  check(c.max_objects <= 200, "max_objects", "<= 200", str(c.max_objects));
  check(c.dense_min_objects >= 1 && c.dense_min_objects <= c.dense_max_objects, "dense_min_objects",
        "1 <= dense_min_objects <= dense_max_objects", str(c.dense_min_objects));
  check(c.dense_max_objects <= 200, "dense_max_objects", "<= 200", str(c.dense_max_objects));
  check(c.min_object_size >= 4 && c.min_object_size <= c.max_object_size, "min_object_size",
        "4 <= min_object_size <= max_object_size", str(c.min_object_size));
  check(c.dense_min_object_size >= 4 && c.dense_min_object_size <= c.dense_max_object_size,
        "dense_min_object_size", "4 <= dense_min_object_size <= dense_max_object_size",
        str(c.dense_min_object_size));
  check(c.min_visible_fraction >= 0 && c.min_visible_fraction <= 1, "min_visible_fraction", "0..1",
        str(c.min_visible_fraction));
  check(c.max_extent_shrink_px >= 0, "max_extent_shrink_px", ">= 0", str(c.max_extent_shrink_px));
  check(c.min_inside_fraction > 0 && c.min_inside_fraction <= 1, "min_inside_fraction", "(0, 1]",
        str(c.min_inside_fraction));
  check(c.max_clutter >= 0, "max_clutter", ">= 0", str(c.max_clutter));
  check(c.noise_sigma >= 0 && c.noise_sigma <= 64, "noise_sigma", "0..64", str(c.noise_sigma));
  check(c.colour_jitter >= 0 && c.colour_jitter <= 64, "colour_jitter", "0..64", str(c.colour_jitter));
  check(c.shading >= 0 && c.shading <= 0.5, "shading", "0..0.5", str(c.shading));
  check(c.novel_seen_fraction >= 0 && c.novel_seen_fraction <= 1, "novel_seen_fraction", "0..1",
        str(c.novel_seen_fraction));
  check(c.synonym_probability >= 0 && c.synonym_probability <= 1, "synonym_probability", "0..1",
        str(c.synonym_probability));
  check(c.num_threads >= 0, "num_threads", ">= 0", str(c.num_threads));
  check(c.png_compression >= 0 && c.png_compression <= 9, "png_compression", "0..9", str(c.png_compression));
  std::vector<SynthCategory> cats = synth_categories(synth_held_out(c));  // checks held_out names
  int unseen = static_cast<int>(std::count_if(cats.begin(), cats.end(), [](auto& k) { return !k.seen; }));
  check(unseen < static_cast<int>(cats.size()), "held_out", "at least one seen combination", "all held out");
  check(unseen > 0 || c.num_novel == 0, "held_out", "at least one held-out combination when num_novel > 0",
        "none");
}

int synth_split_size(const SynthConfig& c, SynthSplit split) {
  switch (split) {
    case SynthSplit::kSynthTrain:
      return c.num_train;
    case SynthSplit::kSynthVal:
      return c.num_val;
    case SynthSplit::kSynthNovel:
      return c.num_novel;
    case SynthSplit::kSynthDense:
      return c.num_dense;
  }
  return 0;
}

std::vector<std::string> synth_held_out(const SynthConfig& c) {
  return c.held_out.empty() ? default_held_out_combinations(c.num_held_out) : c.held_out;
}

nlohmann::json synth_config_to_json(const SynthConfig& c) {
  nlohmann::json j;
  j["seed"] = c.seed;
  j["image_width"] = c.image_width;
  j["image_height"] = c.image_height;
  j["num_train"] = c.num_train;
  j["num_val"] = c.num_val;
  j["num_novel"] = c.num_novel;
  j["num_dense"] = c.num_dense;
  j["min_objects"] = c.min_objects;
  j["max_objects"] = c.max_objects;
  j["min_object_size"] = c.min_object_size;
  j["max_object_size"] = c.max_object_size;
  j["dense_min_objects"] = c.dense_min_objects;
  j["dense_max_objects"] = c.dense_max_objects;
  j["dense_min_object_size"] = c.dense_min_object_size;
  j["dense_max_object_size"] = c.dense_max_object_size;
  j["min_visible_fraction"] = c.min_visible_fraction;
  j["max_extent_shrink_px"] = c.max_extent_shrink_px;
  j["min_inside_fraction"] = c.min_inside_fraction;
  j["min_box_side_px"] = c.min_box_side_px;
  j["max_clutter"] = c.max_clutter;
  j["noise_sigma"] = c.noise_sigma;
  j["background_texture"] = c.background_texture;
  j["colour_jitter"] = c.colour_jitter;
  j["shading"] = c.shading;
  j["held_out"] = c.held_out;
  j["num_held_out"] = c.num_held_out;
  j["novel_seen_fraction"] = c.novel_seen_fraction;
  j["describe_size"] = c.describe_size;
  j["synonym_probability"] = c.synonym_probability;
  j["num_threads"] = c.num_threads;
  j["png_compression"] = c.png_compression;
  return j;
}

namespace {

std::string json_type(const nlohmann::json& v) {
  return v.type_name();
}

int read_int(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number_integer()) throw_input_error(where, "an integer", std::string("a ") + json_type(v));
  return v.get<int>();
}
std::uint64_t read_u64(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number_unsigned()) throw_input_error(where, "a non-negative integer", v.dump());
  return v.get<std::uint64_t>();
}
double read_double(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number()) throw_input_error(where, "a number", std::string("a ") + json_type(v));
  return v.get<double>();
}
bool read_bool(const nlohmann::json& v, const std::string& where) {
  if (!v.is_boolean()) throw_input_error(where, "true or false", std::string("a ") + json_type(v));
  return v.get<bool>();
}
std::vector<std::string> read_strings(const nlohmann::json& v, const std::string& where) {
  if (!v.is_array()) throw_input_error(where, "a list of strings", std::string("a ") + json_type(v));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throw_input_error(where + "[" + std::to_string(i) + "]", "a string",
                        std::string("a ") + json_type(v[i]));
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

using FieldReader = std::function<void(SynthConfig&, const nlohmann::json&, const std::string&)>;

const std::map<std::string, FieldReader>& field_readers() {
  static const std::map<std::string, FieldReader> readers = {
      {"seed",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.seed = read_u64(v, w); }},
      {"image_width",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.image_width = read_int(v, w); }},
      {"image_height", [](SynthConfig& c, const nlohmann::json& v,
                          const std::string& w) { c.image_height = read_int(v, w); }},
      {"num_train",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.num_train = read_int(v, w); }},
      {"num_val",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.num_val = read_int(v, w); }},
      {"num_novel",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.num_novel = read_int(v, w); }},
      {"num_dense",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.num_dense = read_int(v, w); }},
      {"min_objects",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.min_objects = read_int(v, w); }},
      {"max_objects",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.max_objects = read_int(v, w); }},
      {"min_object_size", [](SynthConfig& c, const nlohmann::json& v,
                             const std::string& w) { c.min_object_size = read_double(v, w); }},
      {"max_object_size", [](SynthConfig& c, const nlohmann::json& v,
                             const std::string& w) { c.max_object_size = read_double(v, w); }},
      {"dense_min_objects", [](SynthConfig& c, const nlohmann::json& v,
                               const std::string& w) { c.dense_min_objects = read_int(v, w); }},
      {"dense_max_objects", [](SynthConfig& c, const nlohmann::json& v,
                               const std::string& w) { c.dense_max_objects = read_int(v, w); }},
      {"dense_min_object_size", [](SynthConfig& c, const nlohmann::json& v,
                                   const std::string& w) { c.dense_min_object_size = read_double(v, w); }},
      {"dense_max_object_size", [](SynthConfig& c, const nlohmann::json& v,
                                   const std::string& w) { c.dense_max_object_size = read_double(v, w); }},
      {"min_visible_fraction", [](SynthConfig& c, const nlohmann::json& v,
                                  const std::string& w) { c.min_visible_fraction = read_double(v, w); }},
      {"max_extent_shrink_px", [](SynthConfig& c, const nlohmann::json& v,
                                  const std::string& w) { c.max_extent_shrink_px = read_double(v, w); }},
      {"min_inside_fraction", [](SynthConfig& c, const nlohmann::json& v,
                                 const std::string& w) { c.min_inside_fraction = read_double(v, w); }},
      {"min_box_side_px", [](SynthConfig& c, const nlohmann::json& v,
                             const std::string& w) { c.min_box_side_px = read_double(v, w); }},
      {"max_clutter",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.max_clutter = read_int(v, w); }},
      {"noise_sigma", [](SynthConfig& c, const nlohmann::json& v,
                         const std::string& w) { c.noise_sigma = read_double(v, w); }},
      {"background_texture", [](SynthConfig& c, const nlohmann::json& v,
                                const std::string& w) { c.background_texture = read_bool(v, w); }},
      {"colour_jitter", [](SynthConfig& c, const nlohmann::json& v,
                           const std::string& w) { c.colour_jitter = read_double(v, w); }},
      {"shading",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.shading = read_double(v, w); }},
      {"held_out", [](SynthConfig& c, const nlohmann::json& v,
                      const std::string& w) { c.held_out = read_strings(v, w); }},
      {"num_held_out", [](SynthConfig& c, const nlohmann::json& v,
                          const std::string& w) { c.num_held_out = read_int(v, w); }},
      {"novel_seen_fraction", [](SynthConfig& c, const nlohmann::json& v,
                                 const std::string& w) { c.novel_seen_fraction = read_double(v, w); }},
      {"describe_size", [](SynthConfig& c, const nlohmann::json& v,
                           const std::string& w) { c.describe_size = read_bool(v, w); }},
      {"synonym_probability", [](SynthConfig& c, const nlohmann::json& v,
                                 const std::string& w) { c.synonym_probability = read_double(v, w); }},
      {"num_threads",
       [](SynthConfig& c, const nlohmann::json& v, const std::string& w) { c.num_threads = read_int(v, w); }},
      {"png_compression", [](SynthConfig& c, const nlohmann::json& v,
                             const std::string& w) { c.png_compression = read_int(v, w); }},
  };
  return readers;
}

}  // namespace

SynthConfig synth_config_from_json(const nlohmann::json& j, const std::string& where) {
  // "cfg.json" -> "cfg.json: max_objects"; "run.json: synth" -> "run.json: synth.max_objects".
  const std::string prefix = where + (where.find(": ") == std::string::npos ? ": " : ".");
  if (!j.is_object())
    throw_input_error(where, "a JSON object of synth settings", std::string("a ") + json_type(j));
  SynthConfig c;
  for (const auto& [key, value] : j.items()) {
    if (key == "about") {  // what the file is for, for its reader (configs/README.md)
      if (!value.is_string())
        throw_input_error(prefix + key, "a string", std::string("a ") + json_type(value));
      continue;
    }
    auto it = field_readers().find(key);
    if (it == field_readers().end())
      throw_input_error(prefix + key, "a known synth setting", "an unknown key",
                        "see include/coordexp/data/synth_config.hpp for the fields");
    it->second(c, value, prefix + key);
  }
  return c;
}

}  // namespace coordexp
