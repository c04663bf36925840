// The vocabulary of OpenShapes: colours, categories (every colour x shape combination, "red star"), which
// combinations are held out of training, the phrases that describe an object, and the synonym table the
// evaluator uses to map free-text descriptions back to categories. Category ids are stable:
// id = colour_index * kNumShapeKinds + shape_index + 1, whatever is held out.
#pragma once

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/data/synth_random.hpp"
#include "coordexp/data/synth_shapes.hpp"

namespace coordexp {

struct SynthColour {
  std::string_view name;  // the word used in category names
  RgbColor rgb;           // nominal colour before per-object jitter
};
inline constexpr int kNumSynthColours = 10;
const std::array<SynthColour, kNumSynthColours>& synth_colours();

struct SynthCategory {
  int id = 0;            // colour_index * kNumShapeKinds + shape_index + 1
  std::string name;      // "red star"
  int colour_index = 0;  // into synth_colours()
  ShapeKind shape = ShapeKind::kShapeCircle;
  bool seen = true;  // false: held out of train / val / dense, only in the novel split
};

// The default held-out pattern: colour i pairs with shape (3i+1) mod 10 (and, beyond 10 combinations, with
// shape (7i+4) mod 10), so each colour and each shape is held out at most twice and every colour and shape
// still appears in training. `count` in 0..20; the first `count` of the pattern.
std::vector<std::string> default_held_out_combinations(int count);

// All kNumSynthColours * kNumShapeKinds categories in id order; those named in `held_out` get seen=false.
// Throws InputError naming the entry if a held-out name is not a "colour shape" category.
std::vector<SynthCategory> synth_categories(const std::vector<std::string>& held_out);

// Size words: boxes whose longer side is below kSmallObjectPx are "small", from kLargeObjectPx "large".
inline constexpr double kSmallObjectPx = 20.0;
inline constexpr double kLargeObjectPx = 40.0;

// The phrase for one object. With describe_size false and synonym_probability 0 it is exactly the category
// name; otherwise an optional size word is prefixed and each of the colour and shape words is replaced by
// a random synonym with the given probability.
std::string describe_synth_object(const SynthCategory& category, double box_long_side, bool describe_size,
                                  double synonym_probability, SynthRng& rng);

// Synonyms of each colour and shape word (not including the word itself).
const std::map<std::string, std::vector<std::string>>& synth_colour_synonyms();
const std::map<std::string, std::vector<std::string>>& synth_shape_synonyms();

// Every phrase describe_synth_object can produce (any synonym choice, with and without a size word),
// mapped to its category name: the evaluator's label mapping for free-text descriptions.
std::map<std::string, std::string> synth_phrase_to_category();

// synonyms.json: {"colours": {...}, "shapes": {...}, "size_words": [...],
//                 "categories": {"red star": ["crimson star", "red five-pointed star", ...], ...}}.
nlohmann::json synth_synonyms_json();

}  // namespace coordexp
