// Batched generation with a KV cache and a grammar that only allows well-formed object sequences:
//   (<obj_start> text-token+ x1 y1 x2 y2 <obj_end>)* answer_end
// with x2 >= x1 and y2 >= y1 enforced on the bins, so every output parses. Coordinates are decoded as the
// CoordExp expectation (default) or the argmax bin; each object gets a confidence score, the geometric
// mean of the probabilities of the tokens that wrote it (<obj_start>, description, the 4 coordinate bins).
#pragma once

#include <torch/torch.h>

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

struct GenerationConfig {
  int64_t max_new_tokens = 200;        // stop each sequence after this many answer tokens
  int64_t max_objects = 40;            // then only answer_end is allowed
  int64_t min_objects = 0;             // answer_end is not allowed before this many objects
  int64_t max_description_tokens = 6;  // then a coordinate must follow
  double temperature = 0.0;            // 0: greedy; > 0: sampling at this temperature
  double top_p = 1.0;                  // nucleus sampling mass (with temperature > 0)
  double repetition_penalty = 1.0;     // > 1 discourages text tokens already written in this answer
  CoordDecode coord_decode = CoordDecode::kExpectation;  // how box coordinates are read off
  uint64_t seed = 0;                                     // sampling seed
};

// What the grammar needs of the tokenizer.
struct GrammarTokens {
  CoordVocab coords;
  StructureTokens structure;
  torch::Tensor text_mask;  // [V] bool: tokens allowed inside a description
  TokenId pad = 0;          // fed to finished sequences
};

struct GeneratedObject {
  std::vector<TokenId> desc_ids;
  BoxXYXY box;       // normalised [0, 1]
  double score = 0;  // geometric mean of the writing tokens' probabilities
};

struct Generation {
  std::vector<TokenId> tokens;  // the answer tokens, answer_end included when reached
  std::vector<GeneratedObject> objects;
  bool terminated = false;  // answer_end was written (else the length limit hit)
};

// images [B, 3, S, S], prompt [B, T_p] (the same length for all rows).
std::vector<Generation> generate(VisionLanguageModel& model, const torch::Tensor& images,
                                 const torch::Tensor& prompt, const GrammarTokens& grammar,
                                 const GenerationConfig& config);

// Reference decoder without a KV cache (recomputes the whole prefix each step), greedy only; used by the
// generation benchmark and by tests to check the cached decoder.
std::vector<Generation> generate_uncached(VisionLanguageModel& model, const torch::Tensor& images,
                                          const torch::Tensor& prompt, const GrammarTokens& grammar,
                                          const GenerationConfig& config);

}  // namespace coordexp
