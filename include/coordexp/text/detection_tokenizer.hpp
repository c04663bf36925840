// What training, generation and evaluation need of a tokenizer, whatever the model family: descriptions to
// ids and back, the detection prompt, the coordinate and structure ids, and which ids may appear inside a
// description. Implemented by the tiny model's WordTokenizer and by QwenChatTokenizer (Hugging Face
// byte-level BPE in Qwen's chat format).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coordexp/text/coord_vocab.hpp"

namespace coordexp {

class DetectionTokenizer {
 public:
  virtual ~DetectionTokenizer() = default;
  // A description (dataset text: never read as special tokens) -> ids.
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;
  // Description ids -> text.
  virtual std::string decode(std::span<const TokenId> ids) const = 0;
  // The tokens between the image and the answer: "detect all" for no phrases, else the listed phrases.
  virtual std::vector<TokenId> prompt_ids(const std::vector<std::string>& phrases) const = 0;
  virtual CoordVocab coord_vocab() const = 0;
  virtual StructureTokens structure() const = 0;
  virtual TokenId pad_id() const = 0;
  virtual int64_t vocab_size() const = 0;  // largest id + 1
  // Ids the grammar lets a description use.
  virtual bool is_description_token(TokenId id) const = 0;
  virtual void save(const std::string& path) const = 0;
};

}  // namespace coordexp
