// The detection task in Qwen2-VL's chat format over a Hugging Face byte-level BPE tokenizer extended with
// the coordinate vocabulary. One training sequence is
//   <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<|vision_start|>   (image_prefix_ids)
//   [image tokens]
//   <|vision_end|>detect all<|im_end|>\n<|im_start|>assistant\n                 (prompt_ids)
//   <obj_start> red star <coord_a> <coord_b> <coord_c> <coord_d> <obj_end> ... <|im_end|>   (the answer)
// so the answer ends with the chat turn's end token, as the model's own replies do.
#pragma once

#include <filesystem>

#include "coordexp/text/bpe_tokenizer.hpp"
#include "coordexp/text/detection_tokenizer.hpp"

namespace coordexp {

class QwenChatTokenizer : public DetectionTokenizer {
 public:
  static constexpr const char* kDefaultSystemPrompt = "You are a helpful assistant.";

  // Adds <coord_0..K-1>, <obj_start>, <obj_end> unless present (see add_coordinate_tokens). The chat
  // tokens (<|im_start|>, <|im_end|>, <|vision_start|>, <|vision_end|>, <|endoftext|>) must exist:
  // InputError naming `source` otherwise.
  QwenChatTokenizer(BpeTokenizer tokenizer, int num_bins, std::string system_prompt,
                    const std::string& source);
  static QwenChatTokenizer load(const std::filesystem::path& tokenizer_json, int num_bins,
                                std::string system_prompt = kDefaultSystemPrompt);

  std::vector<TokenId> encode(std::string_view text) const override { return bpe_.encode_plain(text); }
  std::string decode(std::span<const TokenId> ids) const override { return bpe_.decode(ids, true); }
  std::vector<TokenId> prompt_ids(const std::vector<std::string>& phrases) const override;
  CoordVocab coord_vocab() const override { return ids_.coords; }
  StructureTokens structure() const override { return {ids_.obj_start, ids_.obj_end, im_end_}; }
  TokenId pad_id() const override { return pad_; }
  int64_t vocab_size() const override { return bpe_.vocab_size(); }
  bool is_description_token(TokenId id) const override {
    return id >= 0 && id < vocab_size() && !bpe_.is_added(id);
  }
  void save(const std::string& path) const override { bpe_.save(path); }

  std::vector<TokenId> image_prefix_ids() const;  // the chat template before the image
  // The first id added by the extension (the smallest of the coordinate and structure ids).
  TokenId first_new_id() const;
  const BpeTokenizer& bpe() const { return bpe_; }

 private:
  BpeTokenizer bpe_;
  CoordTokenIds ids_;
  std::string system_prompt_;
  TokenId im_end_ = -1, pad_ = -1;
};

}  // namespace coordexp
