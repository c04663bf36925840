// A small byte-level BPE trainer (see train_byte_level_bpe in bpe_tokenizer.hpp): pieces from the Qwen2
// pre-tokenizer, counted, then the most frequent adjacent pair merged until the budget or the counts run
// out. Quadratic and meant for corpora of a few thousand words (tiny test checkpoints).
#include <algorithm>
#include <map>

#include "byte_level_pretokenizer.hpp"
#include "coordexp/text/bpe_tokenizer.hpp"

namespace coordexp {

using nlohmann::json;

json train_byte_level_bpe(const std::vector<std::string>& corpus, int num_merges,
                          const std::vector<std::string>& special_tokens) {
  const ByteTable& table = byte_table();
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[table.to_char[b]] = b;
  const json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  json doc = {{"version", "1.0"},
              {"added_tokens", json::array()},
              {"normalizer", {{"type", "NFC"}}},
              {"pre_tokenizer",
               {{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"},
                   {"pattern", {{"Regex", kQwen2Pattern}}},
                   {"behavior", "Isolated"},
                   {"invert", false}},
                  byte_level}}}},
              {"post_processor", byte_level},
              {"decoder", byte_level},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", json::array()}}}};

  // words as symbol sequences (byte characters) with their counts
  const BpeTokenizer base = BpeTokenizer::from_json(doc, "bpe trainer");
  std::map<std::vector<std::string>, int64_t> words;
  for (const auto& text : corpus)
    for (const auto& piece : base.pre_tokenize(text)) {
      std::vector<std::string> symbols;
      for (unsigned char c : piece) symbols.push_back(table.to_char[c]);
      ++words[symbols];
    }
  json merges = json::array();
  int next_id = 256;
  for (int m = 0; m < num_merges; ++m) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const auto& [w, n] : words)
      for (size_t i = 0; i + 1 < w.size(); ++i) pairs[{w[i], w[i + 1]}] += n;
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)  // most frequent; ties: smallest pair (map order)
      if (best == pairs.end() || it->second > best->second) best = it;
    if (best == pairs.end() || best->second < 2) break;
    const auto [a, b] = best->first;
    merges.push_back(a + " " + b);
    doc["model"]["vocab"][a + b] = next_id++;
    std::map<std::vector<std::string>, int64_t> merged;
    for (const auto& [w, n] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == a && w[i + 1] == b) {
          out.push_back(a + b);
          ++i;
        } else {
          out.push_back(w[i]);
        }
      }
      merged[out] += n;
    }
    words = std::move(merged);
  }
  doc["model"]["merges"] = merges;
  for (const auto& s : special_tokens)
    doc["added_tokens"].push_back({{"id", next_id++},
                                   {"content", s},
                                   {"single_word", false},
                                   {"lstrip", false},
                                   {"rstrip", false},
                                   {"normalized", false},
                                   {"special", true}});
  return doc;
}

}  // namespace coordexp
