// Batched generation with a KV cache and a grammar that only allows well-formed object sequences:
//   (<obj_start> text-token+ x1 y1 x2 y2 <obj_end>)* answer_end
// with x2 >= x1 and y2 >= y1 enforced on the bins, so every output parses. Coordinates are decoded as the
// CoordExp expectation (default) or the argmax bin; each object gets a confidence score from the
// probabilities of the tokens that wrote it (see ScoreMode).
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

#include "coordexp/model/vlm.hpp"
#include "coordexp/text/object_codec.hpp"

namespace coordexp {

enum class CoordDecode {
  kExpectation,  // sum_k phi(k) p_k over the allowed bins (sub-bin precision); the token written (and
                 // conditioned on next) is the bin nearest that value
  kArgmax,       // the most likely bin is written and its value used
};
CoordDecode parse_coord_decode(const std::string& name);  // "expectation", "argmax"

// An object's confidence score from the probabilities of the tokens that wrote it: the label part is
// <obj_start> and the description tokens, the box part the 4 coordinate tokens.
enum class ScoreMode {
  kTokens,        // geometric mean over all of them
  kLabel,         // P(<obj_start>) x P(description): the joint probability that an object with this
                  // description comes next; the box tokens do not count
  kLabelBox,      // kLabel x the geometric mean of the 4 coordinate tokens' probabilities
  kLabelQuality,  // kLabel x the box's localisation quality (box_quality): how sure the coordinate
                  // distributions are of the box, as the IoU it can expect
};
ScoreMode parse_score_mode(const std::string& name);  // "tokens", "label", "label_box", "label_quality"
const char* score_mode_name(ScoreMode mode);
// label_log_prob: the sum of log p over the label_tokens label tokens; coord_log_prob: over the 4 bins;
// quality: box_quality's value (read by kLabelQuality only).
double object_score(ScoreMode mode, double label_log_prob, int label_tokens, double coord_log_prob,
                    double quality = 1.0);

// A box's localisation quality from its four coordinate distributions: 1 minus the first-order expected
// loss of IoU when each coordinate is off by its distribution's mean absolute deviation around the value
// read (mad, normalised units, x1 y1 x2 y2): an edge off by d costs about d / width (or height) of IoU, so
// quality = 1 - (mad_x1 + mad_x2) / width - (mad_y1 + mad_y2) / height, clamped to [0, 1]. Sharp
// distributions give 1; spread ones on a small box give 0. Nothing is fitted (Generalized Focal Loss V2
// learns this map from the edge distributions' top values; here it is the expected-IoU approximation).
double box_quality(const BoxXYXY& box, const std::array<double, 4>& mad);

struct GenerationConfig {
  int64_t max_new_tokens = 200;        // stop each sequence after this many answer tokens
  int64_t max_objects = 40;            // then only answer_end is allowed
  int64_t min_objects = 0;             // answer_end is not allowed before this many objects
  int64_t max_description_tokens = 6;  // then a coordinate must follow
  double temperature = 0.0;            // 0: greedy; > 0: sampling at this temperature
  double top_p = 1.0;                  // nucleus sampling mass (with temperature > 0)
  double repetition_penalty = 1.0;     // > 1 discourages text tokens already written in this answer
  CoordDecode coord_decode = CoordDecode::kExpectation;  // how box coordinates are read off
  ScoreMode score = ScoreMode::kLabel;                   // how each object's confidence is computed
  // Per object, the most likely other text tokens in place of its last description token, up to this many
  // (0 = none): the detector reports each as a further detection of the same box, scored with that token's
  // probability in place of the written one's (see detector.hpp).
  int64_t label_alternatives = 0;
  uint64_t seed = 0;  // sampling seed
};

// What the grammar needs of the tokenizer.
struct GrammarTokens {
  CoordVocab coords;
  StructureTokens structure;
  torch::Tensor text_mask;  // [V] bool: tokens allowed inside a description
  TokenId pad = 0;          // fed to finished sequences
};

struct LabelAlternative {
  TokenId token = 0;    // in place of desc_ids.back()
  double log_prob = 0;  // its log probability at that position
};

struct GeneratedObject {
  std::vector<TokenId> desc_ids;
  BoxXYXY box;       // normalised [0, 1]
  double score = 0;  // from the writing tokens' probabilities (GenerationConfig::score)
  // What the score is made of: log p summed over the label tokens (<obj_start> and the description) and
  // over the 4 coordinate tokens; the last description token's own log p.
  double label_log_prob = 0, coord_log_prob = 0, last_desc_log_prob = 0;
  int label_tokens = 0;
  // Each coordinate distribution's mean absolute deviation around the value read (normalised units, x1 y1
  // x2 y2), and the box_quality they give.
  std::array<double, 4> coord_mad{};
  double quality = 1.0;
  std::vector<LabelAlternative> alternatives;  // most likely first (GenerationConfig::label_alternatives)
};

// The score of `object` with its last description token replaced by `alt`.
double alternative_score(ScoreMode mode, const GeneratedObject& object, const LabelAlternative& alt);

struct Generation {
  std::vector<TokenId> tokens;  // the answer tokens, answer_end included when reached
  std::vector<GeneratedObject> objects;
  bool terminated = false;  // answer_end was written (else the length limit hit)
};

// images [B] each [3, H_b, W_b] (sizes the model accepts; mixed sizes are padded, see ImageTokens), prompt
// [B, T_p] (the same length for all rows).
std::vector<Generation> generate(VisionLanguageModel& model, const std::vector<torch::Tensor>& images,
                                 const torch::Tensor& prompt, const GrammarTokens& grammar,
                                 const GenerationConfig& config);
// images [B, 3, H, W] of one size.
inline std::vector<Generation> generate(VisionLanguageModel& model, const torch::Tensor& images,
                                        const torch::Tensor& prompt, const GrammarTokens& grammar,
                                        const GenerationConfig& config) {
  return generate(model, images.unbind(0), prompt, grammar, config);
}

// Reference decoder without a KV cache (recomputes the whole prefix each step), greedy only; used by the
// generation benchmark and by tests to check the cached decoder.
std::vector<Generation> generate_uncached(VisionLanguageModel& model, const torch::Tensor& images,
                                          const torch::Tensor& prompt, const GrammarTokens& grammar,
                                          const GenerationConfig& config);

}  // namespace coordexp
