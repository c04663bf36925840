// WordTokenizer: splitting and lower-casing, the id layout (specials, sorted words, coordinates last),
// decode/encode round trips, prompts, and the JSON file format with its error messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "coordexp/text/object_codec.hpp"
#include "coordexp/text/word_tokenizer.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

WordTokenizer small_tokenizer(int bins = 10) {
  return WordTokenizer::build({"Red star", "blue circle", "small red square, left of: the star"}, bins);
}

std::string error_of(const std::string& json) {
  try {
    WordTokenizer::from_json(json, "tok.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(WordTokenizer, IdLayoutIsSpecialsThenSortedWordsThenCoords) {
  const WordTokenizer tok = small_tokenizer(10);
  const std::vector<std::string> expected = {",",    ":",  ";",   "all",   "blue",   "circle", "detect",
                                             "left", "of", "red", "small", "square", "star",   "the"};
  EXPECT_EQ(tok.words(), expected);
  EXPECT_EQ(tok.vocab_size(), 6 + 14 + 10);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 3);
  EXPECT_EQ(tok.structure().obj_start, 4);
  EXPECT_EQ(tok.structure().obj_end, 5);
  EXPECT_EQ(tok.structure().answer_end, 2);
  EXPECT_EQ(tok.encode(","), std::vector<TokenId>{6});
  EXPECT_EQ(tok.encode("the"), std::vector<TokenId>{19});
}

TEST(WordTokenizer, CoordVocabCoversTheLastKIds) {
  const WordTokenizer tok = small_tokenizer(1000);
  const CoordVocab cv = tok.coord_vocab();
  EXPECT_EQ(cv.num_bins(), 1000);
  EXPECT_EQ(cv.first_id(), 20);
  EXPECT_EQ(cv.id_of_bin(999), tok.vocab_size() - 1);
  EXPECT_FALSE(cv.is_coord(19));
  EXPECT_EQ(tok.decode(std::vector<TokenId>{cv.id_of_bin(0), cv.id_of_bin(999)}), "<coord_0> <coord_999>");
  EXPECT_TRUE(tok.is_text(tok.unk_id()));
  EXPECT_TRUE(tok.is_text(6));
  EXPECT_TRUE(tok.is_text(19));
  EXPECT_FALSE(tok.is_text(20));
  for (TokenId id : {0, 1, 2, 4, 5}) EXPECT_FALSE(tok.is_text(id)) << id;
}

TEST(WordTokenizer, BuildIsDeterministicAndOrderFree) {
  const auto a = WordTokenizer::build({"b a", "c"}, 4);
  const auto b = WordTokenizer::build({"C", "A B", "a"}, 4);
  EXPECT_EQ(a.words(), b.words());
  EXPECT_EQ(a.to_json(), b.to_json());
  EXPECT_THROW(WordTokenizer::build({"x"}, 1), InputError);
}

TEST(WordTokenizer, EncodeLowercasesSplitsPunctuationAndMapsUnknowns) {
  const WordTokenizer tok = small_tokenizer();
  EXPECT_EQ(tok.decode(tok.encode("  RED\tstar,blue\ncircle ")), "red star , blue circle");
  const auto ids = tok.encode("red dragon!");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], tok.unk_id());
  EXPECT_EQ(ids[2], tok.unk_id());  // "!" is a token of its own, unknown here
  EXPECT_EQ(tok.decode(ids), "red <unk> <unk>");
  EXPECT_TRUE(tok.encode("").empty());
  EXPECT_TRUE(tok.encode(" \t\n").empty());
}

TEST(WordTokenizer, DecodeEncodeRoundTripIncludingSpecialTokens) {
  const WordTokenizer tok = small_tokenizer(100);
  const StructureTokens st = tok.structure();
  const CoordVocab cv = tok.coord_vocab();
  const std::vector<DescribedBox> objects = {{tok.encode("red star"), BoxXYXY{0.1, 0.2, 0.5, 0.6}},
                                             {tok.encode("blue circle"), BoxXYXY{0.0, 0.0, 1.0, 1.0}}};
  const std::vector<int64_t> order = {0, 1};
  std::vector<TokenId> ids = {tok.bos_id()};
  const EncodedAnswer answer = encode_answer(objects, order, cv, st);
  ids.insert(ids.end(), answer.ids.begin(), answer.ids.end());
  const std::string text = tok.decode(ids);
  EXPECT_EQ(text.substr(0, 40), "<bos> <obj_start> red star <coord_10> <c");
  EXPECT_EQ(tok.encode(text), ids);
  // Spellings that are not tokens fall back to punctuation and words.
  EXPECT_EQ(tok.decode(tok.encode("<coord_100>")), "<unk> <unk> <unk> <unk> <unk>");  // only 100 bins
}

TEST(WordTokenizer, DecodeRejectsOutOfRangeIds) {
  const WordTokenizer tok = small_tokenizer();
  const std::vector<TokenId> bad = {1, tok.vocab_size()};
  try {
    tok.decode(bad);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("position 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tok.token_text(-1), InputError);
}

TEST(WordTokenizer, PromptIds) {
  const WordTokenizer tok = small_tokenizer();
  EXPECT_EQ(tok.decode(tok.prompt_ids({})), "<bos> detect all :");
  EXPECT_EQ(tok.decode(tok.prompt_ids({"Red star", "blue circle"})),
            "<bos> detect : red star ; blue circle :");
  EXPECT_EQ(tok.decode(tok.prompt_ids({"green star"})), "<bos> detect : <unk> star :");
  EXPECT_THROW(tok.prompt_ids({"red; star"}), InputError);
  EXPECT_THROW(tok.prompt_ids({"  "}), InputError);
  EXPECT_THROW(tok.prompt_ids({"<coord_1>"}), InputError);
}

TEST(WordTokenizer, JsonRoundTripAndFile) {
  const WordTokenizer tok = small_tokenizer(32);
  const WordTokenizer back = WordTokenizer::from_json(tok.to_json(), "mem");
  EXPECT_EQ(back.words(), tok.words());
  EXPECT_EQ(back.vocab_size(), tok.vocab_size());
  EXPECT_EQ(back.coord_vocab().first_id(), tok.coord_vocab().first_id());
  EXPECT_EQ(back.to_json(), tok.to_json());

  const auto path = std::filesystem::temp_directory_path() / "coordexp_test_word_tokenizer.json";
  tok.save(path.string());
  const WordTokenizer loaded = WordTokenizer::load(path.string());
  EXPECT_EQ(loaded.encode("small red square"), tok.encode("small red square"));
  std::filesystem::remove(path);
  EXPECT_THROW(WordTokenizer::load((std::filesystem::temp_directory_path() / "no_such_tok.json").string()),
               InputError);
}

TEST(WordTokenizer, MalformedJsonNamesFileAndField) {
  const std::string head = R"({"format": "coordexp.word_tokenizer", "version": 1, )";
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos;
  };
  std::string m = error_of("{\"format\": ");
  EXPECT_TRUE(has(m, "tok.json") && has(m, "byte")) << m;
  m = error_of("[1]");
  EXPECT_TRUE(has(m, "tok.json: expected a JSON object")) << m;
  m = error_of(R"({"format": "other", "version": 1, "num_coord_bins": 4, "words": []})");
  EXPECT_TRUE(has(m, "tok.json: field \"format\"")) << m;
  m = error_of(R"({"format": "coordexp.word_tokenizer", "version": 7, "num_coord_bins": 4, "words": []})");
  EXPECT_TRUE(has(m, "field \"version\"") && has(m, "found 7")) << m;
  m = error_of(head + R"("words": [":", ";", "all", "detect"]})");
  EXPECT_TRUE(has(m, "field \"num_coord_bins\"") && has(m, "missing")) << m;
  m = error_of(head + R"("num_coord_bins": 1, "words": []})");
  EXPECT_TRUE(has(m, "field \"num_coord_bins\"")) << m;
  m = error_of(head + R"("num_coord_bins": "8", "words": []})");
  EXPECT_TRUE(has(m, "field \"num_coord_bins\"") && has(m, "\"8\"")) << m;
  m = error_of(head + R"("num_coord_bins": 8, "words": {}})");
  EXPECT_TRUE(has(m, "field \"words\"") && has(m, "object")) << m;
  m = error_of(head + R"("num_coord_bins": 8, "words": [":", ";", 3]})");
  EXPECT_TRUE(has(m, "field \"words\"[2]: expected a string")) << m;
  m = error_of(head + R"("num_coord_bins": 8, "words": [":", ";", "Red"]})");
  EXPECT_TRUE(has(m, "field \"words\"[2]") && has(m, "\"Red\"")) << m;
  m = error_of(head + R"("num_coord_bins": 8, "words": [":", ";", "red star"]})");
  EXPECT_TRUE(has(m, "field \"words\"[2]")) << m;
  m = error_of(head + R"("num_coord_bins": 8, "words": [":", ";", "b", "a"]})");
  EXPECT_TRUE(has(m, "field \"words\"[3]") && has(m, "sorted")) << m;
  m = error_of(head + R"("num_coord_bins": 8, "words": [":", ";", "all"]})");
  EXPECT_TRUE(has(m, "field \"words\"") && has(m, "detect")) << m;
  // Found by fuzzing (fuzz/fuzz_json_config.cpp, same parser): a number beyond double range is nlohmann's
  // out_of_range, not parse_error, and used to escape as a foreign exception.
  m = error_of(head + R"("num_coord_bins": 1e400, "words": []})");
  EXPECT_TRUE(has(m, "tok.json: expected valid JSON with numbers that fit a double")) << m;
}

}  // namespace
}  // namespace coordexp
