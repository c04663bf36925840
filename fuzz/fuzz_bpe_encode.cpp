// Fuzzes byte-level BPE tokenisation: the input is text for a fixed Qwen2-style tokenizer (all 256 byte
// tokens, a few merges, NFC, added tokens) or, when the first byte is odd, a GPT-2-style one. Invalid UTF-8
// is an InputError; valid text must encode, decode back to itself when it is ASCII (NFC leaves ASCII
// alone), and pre-tokenize into pieces that concatenate to the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "coordexp/text/bpe_tokenizer.hpp"
#include "coordexp/util/error.hpp"

namespace {

using nlohmann::json;

// GPT-2's byte -> printable character table, from its definition.
std::string byte_char(int b) {
  auto printable = [](int k) {
    return (k >= '!' && k <= '~') || (k >= 0xa1 && k <= 0xac) || (k >= 0xae && k <= 0xff);
  };
  int c = b;
  if (!printable(b)) {
    c = 256;
    for (int k = 0; k < b; ++k)
      if (!printable(k)) ++c;
  }
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else {
    s += static_cast<char>(0xc0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3f));
  }
  return s;
}

const char* const kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

coordexp::BpeTokenizer make_tokenizer(bool qwen2) {
  const char* const merges[] = {"Ġ t", "h e",     "Ġt he", "l l", "he ll", "hell o", "Ġ w",  "o r", "Ġw or",
                                "l d", "Ġwor ld", "' s",   "Ġ Ġ", "Ċ Ċ",   "ä ½",    "ä½ ł", "Ã ©", "ĠĠ Ġ"};
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  int next = 256;
  json merge_list = json::array();
  for (const std::string m : merges) {
    const size_t sp = m.find(' ');
    vocab[m.substr(0, sp) + m.substr(sp + 1)] = next++;
    merge_list.push_back(m);
  }
  auto added = [](int id, const char* content) {
    return json{{"id", id},        {"content", content},   {"special", true},    {"lstrip", false},
                {"rstrip", false}, {"single_word", false}, {"normalized", false}};
  };
  json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", !qwen2}};
  json pre = byte_level;
  if (qwen2)
    pre = {{"type", "Sequence"},
           {"pretokenizers",
            {{{"type", "Split"},
              {"pattern", {{"Regex", kQwen2Regex}}},
              {"behavior", "Isolated"},
              {"invert", false}},
             byte_level}}};
  json doc = {{"added_tokens", {added(300, "<|endoftext|>"), added(301, "<x>"), added(302, "<x><y>")}},
              {"pre_tokenizer", pre},
              {"decoder", byte_level},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}}}};
  if (qwen2) doc["normalizer"] = {{"type", "NFC"}};
  return coordexp::BpeTokenizer::from_json(doc, "fixed tokenizer.json");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const coordexp::BpeTokenizer qwen2 = make_tokenizer(true);
  static const coordexp::BpeTokenizer gpt2 = make_tokenizer(false);
  if (size < 1) return 0;
  const coordexp::BpeTokenizer& tok = data[0] & 1 ? gpt2 : qwen2;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<coordexp::TokenId> ids;
  try {
    ids = tok.encode(text);
  } catch (const coordexp::InputError&) {
    return 0;  // invalid UTF-8
  }
  const std::string decoded = tok.decode(ids);
  bool ascii = true;
  for (unsigned char c : text) ascii = ascii && c < 0x80;
  if (ascii && decoded != text) std::abort();
  std::string joined;
  for (const std::string& piece : tok.pre_tokenize(text)) joined += piece;
  if (ascii && joined != text) std::abort();
  return 0;
}
