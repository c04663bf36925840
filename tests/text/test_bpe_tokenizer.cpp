// Byte-level BPE tokenizer on a hand-written tokenizer.json (256 byte tokens, ids = byte values, and a
// few dozen merges), with every expected id worked out by hand from the merge ranks below. Covers the
// Qwen2 pre-tokenizer's cases (ASCII, CJK, emoji, whitespace runs, newlines, contractions, digits), NFC,
// added/special tokens, decoding, vocabulary extension with save/reload, and malformed files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "coordexp/text/bpe_tokenizer.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

using nlohmann::json;
using Ids = std::vector<TokenId>;

// GPT-2's byte -> character rule, written here from its definition to build the test vocabulary.
std::string byte_char(int b) {
  const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  int c = b;
  if (!printable) {
    c = 256;
    for (int k = 0; k < b; ++k)
      if (!((k >= '!' && k <= '~') || (k >= 0xa1 && k <= 0xac) || (k >= 0xae && k <= 0xff))) ++c;
  }
  std::string s;
  if (c < 0x80)
    s += static_cast<char>(c);
  else {
    s += static_cast<char>(0xc0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3f));
  }
  return s;
}

// Merge k creates token id 256 + k. Ġ = space, Ċ = \n, ä½ł = 你 (e4 bd a0), å¥ = e5 a5, ðŁ = f0 9f, Ã© = é.
const std::vector<std::string> kMerges = {
    "Ġ t",     "h e", "Ġt he", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d",  // 256..265
    "Ġwor ld", "' s", "Ġ Ġ",   "Ċ Ċ", "ä ½",   "ä½ ł",   "å ¥", "ð Ł", "1 2",   "i t",  // 266..275
    "ĠĠ Ġ",    "Ã ©"};                                                                  // 276..277

const char* const kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

json qwen2_style_json() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  for (size_t k = 0; k < kMerges.size(); ++k) {
    const std::string& m = kMerges[k];
    const size_t sp = m.find(' ');
    vocab[m.substr(0, sp) + m.substr(sp + 1)] = 256 + static_cast<int>(k);
  }
  auto added = [](int id, const char* content) {
    return json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  return json{
      {"version", "1.0"},
      {"added_tokens",
       {added(300, "<|endoftext|>"), added(301, "<|im_start|>"), added(302, "<|im_end|>"), added(303, "<x>"),
        added(304, "<x><y>")}},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", kQwen2Regex}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"},
           {"add_prefix_space", false},
           {"trim_offsets", false},
           {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
      {"decoder",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
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
        {"merges", kMerges}}}};
}

class BpeTokenizerTest : public ::testing::Test {
 protected:
  BpeTokenizer tok_ = BpeTokenizer::from_json(qwen2_style_json(), "tokenizer.json");
  Ids enc(const std::string& s) { return tok_.encode(s); }
};

TEST_F(BpeTokenizerTest, Ascii) {
  EXPECT_EQ(enc("hello world"), (Ids{261, 266}));  // he, ll, hell, hello; Ġw, or, Ġwor, ld, Ġworld
  EXPECT_EQ(enc(" the"), (Ids{258}));
  EXPECT_EQ(enc("the"), (Ids{116, 257}));             // no "t he" merge
  EXPECT_EQ(enc("Hello"), (Ids{72, 101, 259, 111}));  // case matters: only "ll" merges
  EXPECT_EQ(enc(""), Ids{});
  EXPECT_EQ(enc(" ..."), (Ids{32, 46, 46, 46}));
}

TEST_F(BpeTokenizerTest, DigitsAreSplitOneByOne) {
  EXPECT_EQ(enc("2024"), (Ids{50, 48, 50, 52}));
  EXPECT_EQ(enc("12"), (Ids{49, 50}));  // the "1 2" merge never applies across pieces
  EXPECT_EQ(enc("a12"), (Ids{97, 49, 50}));
}

TEST_F(BpeTokenizerTest, Contractions) {
  EXPECT_EQ(enc("it's"), (Ids{275, 267}));        // "it" + "'s"
  EXPECT_EQ(enc("IT'S"), (Ids{73, 84, 39, 83}));  // (?i:'s) splits "'S" off; no merges for capitals
  EXPECT_EQ(enc("don't"), (Ids{100, 111, 110, 39, 116}));
}

TEST_F(BpeTokenizerTest, WhitespaceRuns) {
  EXPECT_EQ(enc("a   b"), (Ids{97, 268, 32, 98}));  // "  " (\s+(?!\S)) then " b"
  EXPECT_EQ(enc("a   "), (Ids{97, 276}));           // trailing run stays whole: ĠĠĠ
  EXPECT_EQ(enc("a\tb"), (Ids{97, 9, 98}));         // "\tb" is one piece, no merge
}

TEST_F(BpeTokenizerTest, Newlines) {
  EXPECT_EQ(enc("a\n\nb"), (Ids{97, 269, 98}));              // "\n\n" merges to ĊĊ
  EXPECT_EQ(enc("a \n  b"), (Ids{97, 32, 10, 32, 32, 98}));  // " \n" | " " | " b"
  EXPECT_EQ(enc("x\r\n"), (Ids{120, 13, 10}));
  EXPECT_EQ(enc("!!\n\nx"), (Ids{33, 33, 269, 120}));  // punctuation absorbs the newlines
}

TEST_F(BpeTokenizerTest, CjkAndEmoji) {
  EXPECT_EQ(enc("你好"), (Ids{271, 272, 189}));           // 你 | å¥ | ½
  EXPECT_EQ(enc(" 你好"), (Ids{32, 271, 272, 189}));      // no "Ġ ä" merge
  EXPECT_EQ(enc("hi😀"), (Ids{104, 105, 273, 152, 128}));  // 😀 = f0 9f 98 80 -> ðŁ | ĺ | Ģ
  EXPECT_EQ(enc("😀ok"), (Ids{273, 152, 128, 111, 107}));
}

TEST_F(BpeTokenizerTest, NfcNormalisation) {
  EXPECT_EQ(enc("e\xcc\x81"), (Ids{277}));  // e + COMBINING ACUTE -> é (c3 a9) -> Ã©
  EXPECT_EQ(enc("\xc3\xa9"), (Ids{277}));
}

TEST_F(BpeTokenizerTest, SpecialTokensMatchedFirst) {
  EXPECT_EQ(enc("<|im_start|>user\nhi<|im_end|>"), (Ids{301, 117, 115, 101, 114, 10, 104, 105, 302}));
  EXPECT_EQ(enc("a<|endoftext|>b"), (Ids{97, 300, 98}));
  EXPECT_EQ(enc("<x><y><x>"), (Ids{304, 303}));  // longest match first
  EXPECT_EQ(enc("<x><y"), (Ids{303, 60, 121}));
  const Ids partial = enc("<|endoftext|");
  EXPECT_EQ(std::count(partial.begin(), partial.end(), 300), 0);
  EXPECT_EQ(tok_.decode(partial), "<|endoftext|");
}

TEST_F(BpeTokenizerTest, DecodeRoundTrips) {
  for (const std::string s : {"hello world", "IT'S 2024!!\n\n", "a   b\r\n", "你好😀ok",
                              "<|im_start|>x<|im_end|>", " leading and trailing  "}) {
    EXPECT_EQ(tok_.decode(enc(s)), s);
  }
  EXPECT_EQ(tok_.decode(enc("<|im_start|>hi<|endoftext|>"), /*skip_special_tokens=*/true), "hi");
  EXPECT_THROW(tok_.decode(Ids{999}), InputError);
  EXPECT_EQ(tok_.id_to_token(258), "Ġthe");
  EXPECT_EQ(tok_.token_to_id("<|im_end|>"), 302);
  EXPECT_EQ(tok_.vocab_size(), 305);
}

TEST_F(BpeTokenizerTest, InvalidUtf8IsAnError) {
  EXPECT_THROW(enc("ab\xff"), InputError);
  EXPECT_THROW(enc("\xe4\xbd"), InputError);  // truncated sequence
}

TEST_F(BpeTokenizerTest, CoordinateTokensExtendSaveReload) {
  const CoordTokenIds ids = add_coordinate_tokens(tok_, 4);
  EXPECT_EQ(ids.coords.first_id(), 305);
  EXPECT_EQ(ids.coords.num_bins(), 4);
  EXPECT_EQ(ids.obj_start, 309);
  EXPECT_EQ(ids.obj_end, 310);
  EXPECT_EQ(tok_.vocab_size(), 311);
  const Ids expected = {309, 114, 101, 100, 306, 308, 310};
  EXPECT_EQ(enc("<obj_start>red<coord_1><coord_3><obj_end>"), expected);
  EXPECT_EQ(tok_.decode(expected), "<obj_start>red<coord_1><coord_3><obj_end>");

  const CoordTokenIds again = add_coordinate_tokens(tok_, 4);  // idempotent
  EXPECT_EQ(again.coords.first_id(), 305);
  EXPECT_EQ(again.obj_end, 310);

  const auto path =
      std::filesystem::temp_directory_path() / ("coordexp_tok_" + std::to_string(::getpid()) + ".json");
  tok_.save(path);
  const BpeTokenizer reloaded = BpeTokenizer::from_file(path);
  std::filesystem::remove(path);
  EXPECT_EQ(reloaded.encode("<obj_start>red<coord_1><coord_3><obj_end>"), expected);
  EXPECT_EQ(reloaded.encode("hello world"), (Ids{261, 266}));
  EXPECT_EQ(reloaded.added_tokens().size(), 5u + 6u);
  // added but not special, in tokenizer.json's fields: a transformers user's decode(ids,
  // skip_special_tokens=True) keeps the boxes, and they are still matched whole when encoding
  const auto doc = tok_.to_json();
  const auto& last = doc["added_tokens"].back();
  EXPECT_EQ(last["content"], "<obj_end>");
  EXPECT_EQ(last["special"], false);
  EXPECT_EQ(last["normalized"], false);
  EXPECT_FALSE(reloaded.added_tokens().back().special);
  EXPECT_EQ(reloaded.decode(expected, /*skip_special_tokens=*/true),
            "<obj_start>red<coord_1><coord_3><obj_end>");
}

TEST(BpeTokenizer, NonContiguousCoordinateTokensAreAnError) {
  BpeTokenizer tok = BpeTokenizer::from_json(qwen2_style_json(), "tokenizer.json");
  tok.add_special_token("<coord_1>");  // 305, before <coord_0>
  EXPECT_THROW(add_coordinate_tokens(tok, 4), InputError);
}

TEST(BpeTokenizer, Gpt2ByteLevelRegexGroupsDigits) {
  json doc = qwen2_style_json();
  doc["pre_tokenizer"] = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  doc["normalizer"] = nullptr;
  const BpeTokenizer tok = BpeTokenizer::from_json(doc, "gpt2.json");
  EXPECT_EQ(tok.encode("12"), (Ids{274}));  // " ?\p{N}+" keeps the digits together
  EXPECT_EQ(tok.encode("IT'S"),
            (Ids{73, 84, 39, 83}));  // case-sensitive contractions: "'S" via punctuation+letters
  EXPECT_EQ(tok.encode("hello world"), (Ids{261, 266}));
  EXPECT_EQ(tok.encode("e\xcc\x81"), (Ids{101, 204, 129}));  // no normalizer: the combining mark stays
}

// Writes random strings over a tricky alphabet and their splits by the real regex (Python's `regex`
// module) to `out`, as JSON [[text, [pieces...]], ...].
const char* const kRegexOracle = R"py(
import json, random, sys, regex
qwen2 = open(sys.argv[2]).read()
gpt2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
alphabet = list("aZs's'S'tRE'") + ["\u017f", "\u00e9", "\u4f60", "\u597d", "\u3042", "\u0661", "\u00bd",
    "\u2163", "7", "0", " ", " ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b",
    "!", ".", "-", "\"", "\U0001F600", "\u0301", "\u200d", "_", "\u00ad"]
rng = random.Random(7)
cases = []
for n in range(3000):
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
    cases.append([text, regex.findall(qwen2, text), regex.findall(gpt2, text)])
json.dump(cases, open(sys.argv[1], "w"))
)py";

TEST(BpeTokenizer, ScannersAgreeWithARegexEngine) {
  std::string python;
  for (const char* candidate : {"/usr/bin/python3", "python3"})
    if (python.empty() &&
        std::system((std::string(candidate) + " -c 'import regex' 2>/dev/null").c_str()) == 0)
      python = candidate;
  if (python.empty()) GTEST_SKIP() << "no python3 with the regex module (Debian: python3-regex)";
  const auto dir = std::filesystem::temp_directory_path();
  const auto script = dir / ("coordexp_regex_oracle_" + std::to_string(::getpid()) + ".py");
  const auto out = dir / ("coordexp_regex_oracle_" + std::to_string(::getpid()) + ".json");
  const auto pattern = dir / ("coordexp_regex_oracle_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(script) << kRegexOracle;
  std::ofstream(pattern) << kQwen2Regex;
  const std::string cmd = python + " " + script.string() + " " + out.string() + " " + pattern.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  const json cases = json::parse(in);
  std::filesystem::remove(script);
  std::filesystem::remove(pattern);
  std::filesystem::remove(out);

  json doc = qwen2_style_json();
  doc["normalizer"] = nullptr;  // compare the splitting alone
  const BpeTokenizer qwen2 = BpeTokenizer::from_json(doc, "qwen2.json");
  doc["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  const BpeTokenizer gpt2 = BpeTokenizer::from_json(doc, "gpt2.json");
  int mismatches = 0;
  for (const json& c : cases) {
    const std::string text = c[0].get<std::string>();
    const auto q = qwen2.pre_tokenize(text);
    const auto g = gpt2.pre_tokenize(text);
    if (q != c[1].get<std::vector<std::string>>() && ++mismatches < 10)
      ADD_FAILURE() << "qwen2 split of " << c[0].dump() << ": regex " << c[1].dump() << " vs "
                    << json(q).dump();
    if (g != c[2].get<std::vector<std::string>>() && ++mismatches < 10)
      ADD_FAILURE() << "gpt2 split of " << c[0].dump() << ": regex " << c[2].dump() << " vs "
                    << json(g).dump();
  }
  EXPECT_EQ(mismatches, 0) << "of " << cases.size() << " random strings";
}

void expect_load_error(const json& doc, std::initializer_list<const char*> fragments) {
  try {
    BpeTokenizer::from_json(doc, "tokenizer.json");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
    for (const char* f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

TEST(BpeTokenizer, VocabularyIdsMustBeUniqueIntegersInRange) {
  json doc = qwen2_style_json();
  doc["model"]["vocab"][byte_char(1)] = 0;  // byte 0's id
  expect_load_error(doc, {"model.vocab.", "a unique id", "also held by"});
  doc = qwen2_style_json();
  doc["model"]["vocab"][byte_char(1)] = 2147483648LL;
  expect_load_error(doc, {"model.vocab.", "[0, 2^31)", "2147483648"});
  doc = qwen2_style_json();
  doc["model"]["vocab"][byte_char(1)] = "1";
  expect_load_error(doc, {"model.vocab.", "[0, 2^31)"});
  doc = qwen2_style_json();
  doc["model"]["merges"] = json::object();
  expect_load_error(doc, {"model.merges", "an array"});
  EXPECT_THROW(BpeTokenizer::from_text("{\"model\": {", "cut.json"), InputError);
  doc = qwen2_style_json();
  doc["model"].erase("vocab");  // absent sections (found by fuzzing: read as a missing document before)
  expect_load_error(doc, {"model.vocab", "none"});
  doc = qwen2_style_json();
  doc["model"].erase("merges");
  expect_load_error(doc, {"model.merges", "none"});
}

// Merges as "a b" strings (tokenizers < 0.20) and as ["a", "b"] pairs read alike, and a saved file reads back
// to the same tokenizer.
TEST(BpeTokenizer, MergeFormatsAndSavedFilesAgree) {
  json doc = qwen2_style_json();
  json pairs = json::array();
  for (const json& m : doc["model"]["merges"]) {
    const std::string text =
        m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>();
    pairs.push_back({text.substr(0, text.find(' ')), text.substr(text.find(' ') + 1)});
  }
  json as_pairs = doc;
  as_pairs["model"]["merges"] = pairs;
  const BpeTokenizer a = BpeTokenizer::from_json(doc, "strings.json");
  const BpeTokenizer b = BpeTokenizer::from_json(as_pairs, "pairs.json");
  const BpeTokenizer c = BpeTokenizer::from_json(b.to_json(), "saved.json");
  for (const char* text : {"Hello world", "a\n\nb", "it's all well", "<|im_start|>user"}) {
    EXPECT_EQ(a.encode(text), b.encode(text)) << text;
    EXPECT_EQ(a.encode(text), c.encode(text)) << text;
    EXPECT_EQ(c.decode(c.encode(text)), text);
  }
}

TEST(BpeTokenizer, MalformedFiles) {
  json doc = qwen2_style_json();
  doc.erase("model");
  expect_load_error(doc, {"model", "none"});
  doc = qwen2_style_json();
  doc["model"]["type"] = "WordPiece";
  expect_load_error(doc, {"model.type", "WordPiece"});
  doc = qwen2_style_json();
  doc["model"]["merges"].push_back("q zz");
  expect_load_error(doc, {"model.merges[22]", "zz"});
  doc = qwen2_style_json();
  doc["model"]["merges"].push_back("a b c");
  expect_load_error(doc, {"model.merges[22]", "two tokens"});
  doc = qwen2_style_json();
  doc["model"]["merges"].push_back(42);
  expect_load_error(doc, {"model.merges[22]"});
  doc = qwen2_style_json();
  doc["model"]["vocab"].erase(byte_char(0));
  expect_load_error(doc, {"model.vocab", "byte 0"});
  doc = qwen2_style_json();
  doc["normalizer"] = {{"type", "NFKC"}};
  expect_load_error(doc, {"normalizer.type", "NFKC"});
  doc = qwen2_style_json();
  doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  expect_load_error(doc, {"pre_tokenizer.pretokenizers[0].pattern.Regex"});
  doc = qwen2_style_json();
  doc["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_load_error(doc, {"pre_tokenizer.type", "Whitespace"});
  doc = qwen2_style_json();
  doc["decoder"] = {{"type", "WordPiece"}};
  expect_load_error(doc, {"decoder.type"});
  doc = qwen2_style_json();
  doc["post_processor"] = {{"type", "TemplateProcessing"}};
  expect_load_error(doc, {"post_processor.type", "TemplateProcessing"});
  doc = qwen2_style_json();
  doc["added_tokens"].push_back({{"id", 400}, {"content", "<x>"}});
  expect_load_error(doc, {"added_tokens[5]", "duplicate"});
  doc = qwen2_style_json();
  doc["added_tokens"].push_back({{"id", -1}, {"content", "<z>"}});
  expect_load_error(doc, {"added_tokens[5].id"});
  doc = qwen2_style_json();
  doc["model"]["dropout"] = 0.1;
  expect_load_error(doc, {"model.dropout"});
  expect_load_error(json::array(), {"a JSON object"});
  EXPECT_THROW(BpeTokenizer::from_file("/nonexistent/tokenizer.json"), InputError);
}

}  // namespace
}  // namespace coordexp
