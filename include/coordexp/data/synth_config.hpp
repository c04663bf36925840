// Configuration of the OpenShapes generator (coordexp synth): the splits, one plain config struct with a
// default and a comment per field, validation that names the bad field, and JSON round-tripping that
// rejects unknown keys and wrong types (the resolved config is written next to the dataset).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace coordexp {

// train / val: seen combinations only, same distribution. novel: held-out combinations only by default
// (novel_seen_fraction > 0 mixes seen objects in), so plain AP over novel.json is AP on unseen
// combinations. dense: seen combinations, many small objects.
enum class SynthSplit { kSynthTrain, kSynthVal, kSynthNovel, kSynthDense };
inline constexpr SynthSplit kAllSynthSplits[] = {SynthSplit::kSynthTrain, SynthSplit::kSynthVal,
                                                 SynthSplit::kSynthNovel, SynthSplit::kSynthDense};
std::string synth_split_name(SynthSplit split);  // "train", "val", "novel", "dense"
SynthSplit parse_synth_split(const std::string& name);

struct SynthConfig {
  std::uint64_t seed = 0;               // master seed; image i of split s uses derive_seed(seed, s, i)
  int image_width = 128;                // pixels
  int image_height = 128;               // pixels
  int num_train = 4000;                 // images in the train split
  int num_val = 500;                    // images in the val split
  int num_novel = 500;                  // images in the novel split
  int num_dense = 200;                  // images in the dense split
  int min_objects = 1;                  // objects per image (train/val/novel), uniform in [min, max]
  int max_objects = 12;                 //
  double min_object_size = 10.0;        // object size (circumscribed diameter, px), log-uniform in [min, max]
  double max_object_size = 64.0;        //
  int dense_min_objects = 20;           // objects per image in the dense split
  int dense_max_objects = 48;           //
  double dense_min_object_size = 8.0;   // object size range in the dense split, px
  double dense_max_object_size = 20.0;  //
  double min_visible_fraction = 0.5;    // occluders must leave this share of an object's pixels visible
  double max_extent_shrink_px = 1.0;    // occluders may move a side of an object's visible extent this far
  double min_inside_fraction = 0.6;     // share of an object's box that must lie inside the image
  double min_box_side_px = 4.0;         // clipped boxes narrower or shorter than this are not placed
  int max_clutter = 12;                 // distractor marks (dots, thin lines, squiggles) per image: 0..max
  double noise_sigma = 4.0;             // per-pixel Gaussian noise, 0..255 scale; 0 = none
  bool background_texture = true;       // gradient and soft blobs under everything; false = flat colour
  double colour_jitter = 12.0;          // per-object uniform RGB offset in [-j, j] around the nominal colour
  double shading = 0.15;                // per-object linear brightness gradient, +-fraction across the shape
  std::vector<std::string> held_out;    // held-out "colour shape" names; empty = default pattern
  int num_held_out = 10;                // size of the default pattern (0..20) when held_out is empty
  double novel_seen_fraction = 0.0;     // novel split: share of objects (after the first) from seen combos
  bool describe_size = false;           // prefix "small"/"large" to descriptions (category name otherwise)
  double synonym_probability = 0.0;     // chance each colour / shape word is swapped for a synonym
  int num_threads = 0;                  // worker threads for writing; 0 = hardware concurrency
  int png_compression = 1;              // zlib level 0..9 of the written PNGs (1: fast, ~15% larger)
};

// Throws InputError naming the field ("synth config: max_objects") when a value is out of range.
void validate_synth_config(const SynthConfig& config);
int synth_split_size(const SynthConfig& config, SynthSplit split);
// The held-out names in effect: config.held_out, or default_held_out_combinations(num_held_out).
std::vector<std::string> synth_held_out(const SynthConfig& config);

// JSON object with every field (held_out as a list of names).
nlohmann::json synth_config_to_json(const SynthConfig& config);
// Reads the keys present in `j` over the defaults. Unknown keys and wrong types are InputErrors that name
// `where` (the file, optionally with the parent key: "cfg.json", "run.json: synth") and the key
// ("cfg.json: max_objects", "run.json: synth.max_objects").
SynthConfig synth_config_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace coordexp
