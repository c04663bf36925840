// Fuzzes WordTokenizer::from_json (the tiny model's vocabulary file); a tokenizer that loads must write
// itself back and reload to the same vocabulary, and encode / decode a fixed text. The input is also fed as
// text to a fixed tokenizer, whose documented promise encode(decode(ids)) == ids is checked. Only
// InputError may escape from_json.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    const coordexp::WordTokenizer tok = coordexp::WordTokenizer::from_json(input, "fuzz.json");
    const coordexp::WordTokenizer again = coordexp::WordTokenizer::from_json(tok.to_json(), "again");
    if (again.words() != tok.words() || again.vocab_size() != tok.vocab_size()) std::abort();
    const auto ids = tok.encode("Detect all: a red star, <coord_1> <obj_start> zebra!");
    if (tok.encode(tok.decode(ids)) != ids) std::abort();
  } catch (const coordexp::InputError&) {
  }

  static const coordexp::WordTokenizer fixed =
      coordexp::WordTokenizer::build({"a red star", "the blue circle, left of it.", "<unk> words"}, 16);
  const auto ids = fixed.encode(input);
  if (fixed.encode(fixed.decode(ids)) != ids) std::abort();
  return 0;
}
