// OpenShapes vocabulary: colours, categories, held-out pattern, descriptions and synonyms
// (see synth_vocab.hpp).
#include "coordexp/data/synth_vocab.hpp"

#include <algorithm>

#include "coordexp/util/error.hpp"

namespace coordexp {

const std::array<SynthColour, kNumSynthColours>& synth_colours() {
  // Chosen to stay apart in hue or lightness, and from the muted backgrounds synth.cpp paints.
  static const std::array<SynthColour, kNumSynthColours> colours = {{
      {"red", {215, 35, 35}},
      {"green", {40, 165, 60}},
      {"blue", {35, 75, 215}},
      {"yellow", {245, 215, 30}},
      {"orange", {245, 130, 20}},
      {"purple", {135, 55, 185}},
      {"cyan", {40, 205, 215}},
      {"pink", {250, 135, 195}},
      {"white", {248, 248, 248}},
      {"black", {22, 22, 22}},
  }};
  return colours;
}

std::vector<std::string> default_held_out_combinations(int count) {
  COORDEXP_CHECK_ARG(count >= 0 && count <= 2 * kNumSynthColours, "num_held_out", "0..20",
                     std::to_string(count));
  std::vector<std::string> out;
  for (int round = 0; round < 2; ++round) {
    for (int c = 0; c < kNumSynthColours && static_cast<int>(out.size()) < count; ++c) {
      // 3 and 7 are coprime to 10 (each shape once per round) and 3c+1 != 7c+4 mod 10 for every c.
      int shape = round == 0 ? (3 * c + 1) % kNumShapeKinds : (7 * c + 4) % kNumShapeKinds;
      out.push_back(std::string(synth_colours()[c].name) + " " +
                    std::string(shape_kind_name(static_cast<ShapeKind>(shape))));
    }
  }
  return out;
}

std::vector<SynthCategory> synth_categories(const std::vector<std::string>& held_out) {
  std::vector<SynthCategory> cats;
  for (int c = 0; c < kNumSynthColours; ++c) {
    for (int s = 0; s < kNumShapeKinds; ++s) {
      SynthCategory cat;
      cat.id = c * kNumShapeKinds + s + 1;
      cat.colour_index = c;
      cat.shape = static_cast<ShapeKind>(s);
      cat.name = std::string(synth_colours()[c].name) + " " + std::string(shape_kind_name(cat.shape));
      cats.push_back(cat);
    }
  }
  for (std::size_t i = 0; i < held_out.size(); ++i) {
    auto it =
        std::find_if(cats.begin(), cats.end(), [&](const SynthCategory& c) { return c.name == held_out[i]; });
    if (it == cats.end())
      throw_input_error("held_out[" + std::to_string(i) + "]",
                        "a \"colour shape\" category such as \"red star\"", "\"" + held_out[i] + "\"");
    it->seen = false;
  }
  return cats;
}

const std::map<std::string, std::vector<std::string>>& synth_colour_synonyms() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"red", {"crimson", "scarlet"}},    {"green", {"emerald", "leaf-green"}},
      {"blue", {"azure", "cobalt"}},      {"yellow", {"golden", "lemon"}},
      {"orange", {"amber", "tangerine"}}, {"purple", {"violet", "plum"}},
      {"cyan", {"turquoise", "aqua"}},    {"pink", {"rose", "salmon-pink"}},
      {"white", {"ivory", "snow-white"}}, {"black", {"ebony", "jet-black"}},
  };
  return table;
}

const std::map<std::string, std::vector<std::string>>& synth_shape_synonyms() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"circle", {"disc", "round dot"}},
      {"square", {"box", "square tile"}},
      {"triangle", {"triangular shape", "three-sided shape"}},
      {"star", {"five-pointed star", "pentagram"}},
      {"hexagon", {"six-sided shape", "hex"}},
      {"cross", {"plus sign", "plus"}},
      {"ring", {"donut", "annulus"}},
      {"diamond", {"rhombus", "lozenge"}},
      {"pentagon", {"five-sided shape", "pentagonal shape"}},
      {"arrow", {"pointer", "arrowhead"}},
  };
  return table;
}

namespace {

const std::vector<std::string>& size_prefixes() {
  static const std::vector<std::string> prefixes = {"", "small ", "large "};
  return prefixes;
}

std::vector<std::string> with_synonyms(const std::string& word,
                                       const std::map<std::string, std::vector<std::string>>& table) {
  std::vector<std::string> all = {word};
  auto it = table.find(word);
  if (it != table.end()) all.insert(all.end(), it->second.begin(), it->second.end());
  return all;
}

std::string maybe_synonym(const std::string& word,
                          const std::map<std::string, std::vector<std::string>>& table, double probability,
                          SynthRng& rng) {
  if (probability <= 0.0) return word;
  auto it = table.find(word);
  if (it == table.end() || it->second.empty() || !rng.bernoulli(probability)) return word;
  return it->second[rng.uniform_int(0, static_cast<int>(it->second.size()) - 1)];
}

}  // namespace

std::string describe_synth_object(const SynthCategory& category, double box_long_side, bool describe_size,
                                  double synonym_probability, SynthRng& rng) {
  std::string colour(synth_colours()[category.colour_index].name);
  std::string shape(shape_kind_name(category.shape));
  std::string phrase = maybe_synonym(colour, synth_colour_synonyms(), synonym_probability, rng) + " " +
                       maybe_synonym(shape, synth_shape_synonyms(), synonym_probability, rng);
  if (describe_size) {
    if (box_long_side < kSmallObjectPx)
      phrase = "small " + phrase;
    else if (box_long_side >= kLargeObjectPx)
      phrase = "large " + phrase;
  }
  return phrase;
}

std::map<std::string, std::string> synth_phrase_to_category() {
  std::map<std::string, std::string> map;
  for (const SynthCategory& cat : synth_categories({})) {
    std::string colour(synth_colours()[cat.colour_index].name);
    std::string shape(shape_kind_name(cat.shape));
    for (const std::string& c : with_synonyms(colour, synth_colour_synonyms()))
      for (const std::string& s : with_synonyms(shape, synth_shape_synonyms()))
        for (const std::string& p : size_prefixes()) map[p + c + " " + s] = cat.name;
  }
  return map;
}

nlohmann::json synth_synonyms_json() {
  nlohmann::json j;
  j["colours"] = synth_colour_synonyms();
  j["shapes"] = synth_shape_synonyms();
  j["size_words"] = {"small", "large"};
  nlohmann::json cats = nlohmann::json::object();
  for (const auto& [phrase, name] : synth_phrase_to_category())
    if (phrase != name) cats[name].push_back(phrase);
  j["categories"] = cats;
  return j;
}

}  // namespace coordexp
