// Fuzzes tokenizer.json loading: the input is parsed as JSON and handed to BpeTokenizer::from_json; a
// tokenizer that loads then encodes a few fixed texts (ASCII, CJK, emoji, added-token spellings, whitespace
// runs), decodes what it encoded, pre-tokenizes, extends its vocabulary with coordinate tokens and writes
// itself back to JSON. Only InputError may escape from loading and from the steps documented to throw it.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "coordexp/text/bpe_tokenizer.hpp"
#include "coordexp/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto doc = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;  // malformed JSON is read_json_file's business, not from_json's
  try {
    coordexp::BpeTokenizer tok = coordexp::BpeTokenizer::from_json(doc, "tokenizer.json");
    static const char* const kTexts[] = {
        "hello world",
        " the  cat's  12 dogs\n\n\tend ",
        "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82",
        "<|endoftext|>x<x><y> <x>",
        "caf\x65\xcc\x81 \xc3\xa9",
        "",
    };
    for (const char* text : kTexts) {
      const auto ids = tok.encode(text);
      (void)tok.decode(ids);  // what encode made must decode
      (void)tok.decode(ids, /*skip_special_tokens=*/true);
      (void)tok.pre_tokenize(text);
    }
    (void)tok.token_to_id("hello");
    for (coordexp::TokenId id : {coordexp::TokenId{0}, tok.vocab_size() - 1, tok.vocab_size()}) {
      try {
        (void)tok.id_to_token(id);
      } catch (const coordexp::InputError&) {
      }
    }
    try {
      tok.encode("bad \xff utf-8");
    } catch (const coordexp::InputError&) {
    }
    coordexp::add_coordinate_tokens(tok, 4);
    (void)tok.encode("<coord_0><obj_start>a<coord_3><obj_end>");
    (void)tok.to_json().dump();
  } catch (const coordexp::InputError&) {
  }
  return 0;
}
