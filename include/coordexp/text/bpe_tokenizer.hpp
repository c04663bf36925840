// Hugging Face byte-level BPE tokenizer read from tokenizer.json, as Qwen2 / Qwen2-VL (and GPT-2) use it:
// added tokens are matched first (leftmost-longest, never split), the rest is NFC-normalised if the file
// says so, split by the pre-tokenizer regex (implemented as a hand-written scanner over code points with
// ICU's Unicode classes), mapped byte -> printable character (GPT-2's table) and merged by rank.
// Anything the file asks for that this class does not implement is an InputError naming the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "coordexp/text/coord_vocab.hpp"

namespace coordexp {

// An entry of tokenizer.json's "added_tokens": matched in raw text before anything else.
struct AddedToken {
  TokenId id = -1;           // its id (beyond the BPE vocabulary for new tokens)
  std::string content;       // exact text that is matched
  bool special = true;       // dropped by decode(skip_special_tokens = true)
  bool lstrip = false;       // a match also swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only matches when not inside a word
  bool normalized = false;   // kept for round-tripping; matching always uses the raw text (see .cpp)
};

class BpeTokenizer {
 public:
  // Reads tokenizer.json: the large vocabulary and merge list straight from simdjson's tree (a 151k-token
  // Qwen2 file loads in tens of milliseconds), the small sections through nlohmann JSON.
  static BpeTokenizer from_file(const std::filesystem::path& path);
  // `source` names the file in errors.
  static BpeTokenizer from_text(std::string_view text, const std::string& source);
  static BpeTokenizer from_json(const nlohmann::json& doc, const std::string& source);

  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

  // Text must be valid UTF-8 (InputError naming the byte offset otherwise). No BOS/EOS is added.
  std::vector<TokenId> encode(std::string_view text) const;
  // As encode, but added tokens are not matched: their spellings in `text` are ordinary text (for
  // untrusted strings such as dataset descriptions, which must never inject a special token).
  std::vector<TokenId> encode_plain(std::string_view text) const;
  // The pieces the normaliser and pre-tokenizer make of plain `text` (no added-token matching), as UTF-8.
  std::vector<std::string> pre_tokenize(std::string_view text) const;
  // Bytes of the tokens (added tokens as their content). Ids cut inside a UTF-8 sequence give partial
  // bytes; Hugging Face would substitute U+FFFD there. Unknown ids are an InputError.
  std::string decode(std::span<const TokenId> ids, bool skip_special_tokens = false) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;  // added tokens, then the BPE vocab
  std::string id_to_token(TokenId id) const;                         // InputError if unknown
  TokenId vocab_size() const;                                        // largest id + 1
  const std::vector<AddedToken>& added_tokens() const;
  bool is_added(TokenId id) const;  // an added (special or not) token rather than a BPE vocabulary entry

  // Adds `content` as an added token with the next free id (special: decode(skip_special_tokens) drops it);
  // returns the existing id when the content is already a token.
  TokenId add_token(const std::string& content, bool special);
  TokenId add_special_token(const std::string& content);  // add_token(content, true)
  // The original document with "added_tokens" brought up to date. Key order is not preserved (nlohmann
  // sorts object keys); the content is what Hugging Face tokenizers reads back.
  nlohmann::json to_json() const;
  void save(const std::filesystem::path& path) const;

 private:
  struct Impl;
  explicit BpeTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A byte-level BPE tokenizer.json (Qwen2 pre-tokenizer, NFC, GPT-2 byte table) trained on `corpus`: at most
// `num_merges` merges, the most frequent adjacent pair first (ties: the smaller pair by bytes), stopping
// when no pair occurs twice; `special_tokens` become special added tokens after the vocabulary, in order.
// For tiny test checkpoints: quadratic in the corpus, fine for a few thousand words.
nlohmann::json train_byte_level_bpe(const std::vector<std::string>& corpus, int num_merges,
                                    const std::vector<std::string>& special_tokens);

// Ids of the coordinate vocabulary after extension.
struct CoordTokenIds {
  CoordVocab coords;  // <coord_0>..<coord_{K-1}>, contiguous ids
  TokenId obj_start;  // <obj_start>
  TokenId obj_end;    // <obj_end>
};

// Adds <coord_0>..<coord_{K-1}>, <obj_start>, <obj_end> as added tokens that are not special (idempotent: a
// tokenizer that already has them, contiguously, keeps its ids). Not special, so that a transformers user's
// tokenizer.decode(ids, skip_special_tokens=True) keeps the boxes in the text (they are still matched whole
// when encoding). InputError when some exist but not as a contiguous run.
CoordTokenIds add_coordinate_tokens(BpeTokenizer& tokenizer, int num_bins);

}  // namespace coordexp
