// Word-level tokenizer of the tiny built-in V-LLM: lower-cased ASCII words split on whitespace, every ASCII
// punctuation character its own token. Ids: the six special tokens (0..5), then the words sorted by bytes,
// then K coordinate tokens <coord_0>..<coord_{K-1}> last, so CoordVocab(K, first coordinate id) holds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "coordexp/text/coord_vocab.hpp"
#include "coordexp/text/detection_tokenizer.hpp"

namespace coordexp {

class WordTokenizer : public DetectionTokenizer {
 public:
  static constexpr TokenId kPadId = 0;
  static constexpr TokenId kBosId = 1;
  static constexpr TokenId kEosId = 2;  // also StructureTokens::answer_end
  static constexpr TokenId kUnkId = 3;
  static constexpr TokenId kObjStartId = 4;
  static constexpr TokenId kObjEndId = 5;
  static constexpr TokenId kNumSpecial = 6;  // first word id
  static constexpr int kFormatVersion = 1;

  // Vocabulary of every word in `texts` plus the prompt words ("detect", "all", ":", ";"), which are
  // always added so prompt_ids() never meets <unk>. num_coord_bins = K >= 2.
  static WordTokenizer build(const std::vector<std::string>& texts, int num_coord_bins);

  // Splits and lower-cases `text`; words outside the vocabulary become <unk>. The spellings of the special
  // and coordinate tokens ("<bos>", "<coord_17>") are read as those tokens, so encode(decode(ids)) == ids.
  // No <bos>/<eos> is added.
  std::vector<TokenId> encode(std::string_view text) const override;
  // Token texts joined by single spaces (<coord_k>, <obj_start>, ... for non-words). An id outside
  // [0, vocab_size) is an InputError naming its position.
  std::string decode(std::span<const TokenId> ids) const override;
  std::string token_text(TokenId id) const;  // one token; InputError when out of range

  // The detection prompt: "<bos> detect all :" for no phrases, else "<bos> detect : p1 ; p2 ; ... :".
  // A phrase must be non-empty and must not contain ":" or ";" (they delimit phrases): InputError.
  std::vector<TokenId> prompt_ids(const std::vector<std::string>& phrases) const override;

  int64_t vocab_size() const override {
    return kNumSpecial + static_cast<int64_t>(words_.size()) + num_coord_bins_;
  }
  CoordVocab coord_vocab() const override { return CoordVocab(num_coord_bins_, first_coord_id()); }
  StructureTokens structure() const override { return StructureTokens{kObjStartId, kObjEndId, kEosId}; }
  TokenId pad_id() const override { return kPadId; }
  TokenId bos_id() const { return kBosId; }
  TokenId eos_id() const { return kEosId; }
  TokenId unk_id() const { return kUnkId; }
  // A word or <unk>: what may appear inside an object's description.
  bool is_description_token(TokenId id) const override { return is_text(id) && id != kUnkId; }
  bool is_text(TokenId id) const { return id == kUnkId || (id >= kNumSpecial && id < first_coord_id()); }
  const std::vector<std::string>& words() const { return words_; }  // sorted; word i has id kNumSpecial + i

  // {"format": "coordexp.word_tokenizer", "version": 1, "num_coord_bins": K, "words": [...]}
  std::string to_json() const;
  // `source` names the text in errors; a malformed document is an InputError naming source and field.
  static WordTokenizer from_json(std::string_view json, const std::string& source);
  void save(const std::string& path) const override;
  static WordTokenizer load(const std::string& path);

 private:
  WordTokenizer(std::vector<std::string> sorted_unique_words, int num_coord_bins);
  TokenId first_coord_id() const { return kNumSpecial + static_cast<TokenId>(words_.size()); }

  std::vector<std::string> words_;
  std::unordered_map<std::string, TokenId> word_ids_;
  int num_coord_bins_ = 0;
};

}  // namespace coordexp
