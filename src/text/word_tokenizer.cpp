// Word-level tokenizer of the tiny V-LLM: splitting, id layout, prompt building and the JSON file format
// (see word_tokenizer.hpp). Only ASCII letters are lower-cased; bytes >= 0x80 are word characters, so UTF-8
// words pass through whole.
#include "coordexp/text/word_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

constexpr std::array<const char*, WordTokenizer::kNumSpecial> kSpecialNames = {
    "<pad>", "<bos>", "<eos>", "<unk>", "<obj_start>", "<obj_end>"};
constexpr const char* kFormatName = "coordexp.word_tokenizer";
// Always in the vocabulary: prompt_ids() writes them.
const std::vector<std::string> kPromptWords = {"detect", "all", ":", ";"};

bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}
bool is_punct(unsigned char c) {
  return c < 0x80 && std::ispunct(c);
}

// The id a "<...>" spelling stands for, given K coordinate bins and the first coordinate id.
std::optional<TokenId> special_id(std::string_view s, int num_bins, TokenId first_coord) {
  for (size_t i = 0; i < kSpecialNames.size(); ++i)
    if (s == kSpecialNames[i]) return static_cast<TokenId>(i);
  constexpr std::string_view kPrefix = "<coord_";
  if (s.size() <= kPrefix.size() + 1 || s.substr(0, kPrefix.size()) != kPrefix || s.back() != '>') return {};
  const std::string_view digits = s.substr(kPrefix.size(), s.size() - kPrefix.size() - 1);
  if (digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return {};
  int k = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return {};
    k = k * 10 + (c - '0');
  }
  if (k >= num_bins) return {};
  return first_coord + k;
}

// Splits text into pieces: lower-cased words, single punctuation characters, and "<...>" spellings for
// which `is_special` holds (kept verbatim so the caller can map them).
template <class IsSpecial>
std::vector<std::string> split_pieces(std::string_view text, const IsSpecial& is_special) {
  std::vector<std::string> pieces;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) pieces.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_space(c)) {
      flush();
    } else if (is_punct(c)) {
      flush();
      if (c == '<') {
        const size_t close = text.find('>', i);
        if (close != std::string_view::npos && is_special(text.substr(i, close - i + 1))) {
          pieces.emplace_back(text.substr(i, close - i + 1));
          i = close;
          continue;
        }
      }
      pieces.emplace_back(1, static_cast<char>(c));
    } else {
      word.push_back(static_cast<char>(std::tolower(c)));
    }
  }
  flush();
  return pieces;
}

std::string quote_text(const std::string& s) {
  return "\"" + s + "\"";
}

}  // namespace

WordTokenizer::WordTokenizer(std::vector<std::string> sorted_unique_words, int num_coord_bins)
    : words_(std::move(sorted_unique_words)), num_coord_bins_(num_coord_bins) {
  word_ids_.reserve(words_.size());
  for (size_t i = 0; i < words_.size(); ++i)
    word_ids_.emplace(words_[i], kNumSpecial + static_cast<TokenId>(i));
}

WordTokenizer WordTokenizer::build(const std::vector<std::string>& texts, int num_coord_bins) {
  COORDEXP_CHECK_ARG(num_coord_bins >= 2, "num_coord_bins", ">= 2", std::to_string(num_coord_bins));
  // Special spellings inside the texts are not words; any K recognises every <coord_k> spelling here.
  auto is_special = [](std::string_view s) { return special_id(s, 1 << 30, 0).has_value(); };
  std::vector<std::string> words = kPromptWords;
  for (const std::string& text : texts)
    for (std::string& piece : split_pieces(text, is_special))
      if (!is_special(piece)) words.push_back(std::move(piece));
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return WordTokenizer(std::move(words), num_coord_bins);
}

std::vector<TokenId> WordTokenizer::encode(std::string_view text) const {
  const TokenId first_coord = first_coord_id();
  auto lookup_special = [&](std::string_view s) { return special_id(s, num_coord_bins_, first_coord); };
  auto is_special = [&](std::string_view s) { return lookup_special(s).has_value(); };
  std::vector<TokenId> ids;
  for (const std::string& piece : split_pieces(text, is_special)) {
    if (piece.size() > 1 && piece[0] == '<') {  // words never start with '<': a special spelling
      ids.push_back(*lookup_special(piece));
      continue;
    }
    const auto it = word_ids_.find(piece);
    ids.push_back(it == word_ids_.end() ? kUnkId : it->second);
  }
  return ids;
}

std::string WordTokenizer::token_text(TokenId id) const {
  if (id < 0 || id >= vocab_size())
    throw_input_error("token id", "an id in [0, " + std::to_string(vocab_size()) + ")", std::to_string(id));
  if (id < kNumSpecial) return kSpecialNames[static_cast<size_t>(id)];
  if (id < first_coord_id()) return words_[static_cast<size_t>(id - kNumSpecial)];
  return CoordVocab::token_text(static_cast<int>(id - first_coord_id()));
}

std::string WordTokenizer::decode(std::span<const TokenId> ids) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size())
      throw_input_error("token sequence position " + std::to_string(i),
                        "an id in [0, " + std::to_string(vocab_size()) + ")", std::to_string(ids[i]));
    if (i > 0) out.push_back(' ');
    out += token_text(ids[i]);
  }
  return out;
}

std::vector<TokenId> WordTokenizer::prompt_ids(const std::vector<std::string>& phrases) const {
  const TokenId detect = word_ids_.at("detect"), all = word_ids_.at("all");
  const TokenId colon = word_ids_.at(":"), semicolon = word_ids_.at(";");
  std::vector<TokenId> ids = {kBosId, detect};
  if (phrases.empty()) {
    ids.insert(ids.end(), {all, colon});
    return ids;
  }
  ids.push_back(colon);
  for (size_t i = 0; i < phrases.size(); ++i) {
    const std::vector<TokenId> phrase = encode(phrases[i]);
    const std::string where = "prompt phrase " + std::to_string(i);
    if (phrase.empty()) throw_input_error(where, "a non-empty phrase", quote_text(phrases[i]));
    for (TokenId id : phrase)
      if (id == colon || id == semicolon || !is_text(id))
        throw_input_error(where, "words only (\":\" and \";\" delimit phrases)", quote_text(phrases[i]));
    if (i > 0) ids.push_back(semicolon);
    ids.insert(ids.end(), phrase.begin(), phrase.end());
  }
  ids.push_back(colon);
  return ids;
}

std::string WordTokenizer::to_json() const {
  nlohmann::ordered_json doc;
  doc["format"] = kFormatName;
  doc["version"] = kFormatVersion;
  doc["num_coord_bins"] = num_coord_bins_;
  doc["words"] = words_;
  return doc.dump(1) + "\n";
}

WordTokenizer WordTokenizer::from_json(std::string_view json, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    throw_input_error(source, "valid JSON",
                      "a parse error at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {  // out_of_range.406: a number beyond double, e.g. 1e400
    throw_input_error(source, "valid JSON with numbers that fit a double", e.what());
  }
  auto field = [&](const std::string& name) { return source + ": field " + quote_text(name); };
  if (!doc.is_object()) throw_input_error(source, "a JSON object", std::string(doc.type_name()));
  auto require = [&](const char* name) -> const nlohmann::json& {
    const auto it = doc.find(name);
    if (it == doc.end()) throw_input_error(field(name), "present", "nothing (the key is missing)");
    return *it;
  };
  const auto& format = require("format");
  if (!format.is_string() || format.get<std::string>() != kFormatName)
    throw_input_error(field("format"), quote_text(kFormatName), format.dump(),
                      "the file is not a word tokenizer written by WordTokenizer::save");
  const auto& version = require("version");
  if (!version.is_number_integer() || version.get<int64_t>() != kFormatVersion)
    throw_input_error(field("version"), std::to_string(kFormatVersion), version.dump());
  const auto& bins = require("num_coord_bins");
  if (!bins.is_number_integer() || bins.get<int64_t>() < 2 || bins.get<int64_t>() > (1 << 24))
    throw_input_error(field("num_coord_bins"), "an integer in [2, 2^24]", bins.dump());
  const auto& words_json = require("words");
  if (!words_json.is_array())
    throw_input_error(field("words"), "an array of strings", words_json.type_name());
  std::vector<std::string> words;
  words.reserve(words_json.size());
  auto never_special = [](std::string_view) { return false; };
  for (size_t i = 0; i < words_json.size(); ++i) {
    const std::string where = field("words") + "[" + std::to_string(i) + "]";
    if (!words_json[i].is_string()) throw_input_error(where, "a string", words_json[i].dump());
    std::string w = words_json[i].get<std::string>();
    const std::vector<std::string> pieces = split_pieces(w, never_special);
    if (pieces.size() != 1 || pieces[0] != w)
      throw_input_error(where, "one lower-case word or one punctuation character", quote_text(w));
    if (!words.empty() && !(words.back() < w))
      throw_input_error(where, "words sorted ascending without repeats",
                        quote_text(w) + " after " + quote_text(words.back()));
    words.push_back(std::move(w));
  }
  for (const std::string& w : kPromptWords)
    if (!std::binary_search(words.begin(), words.end(), w))
      throw_input_error(field("words"), "the prompt word " + quote_text(w), "a vocabulary without it");
  return WordTokenizer(std::move(words), static_cast<int>(bins.get<int64_t>()));
}

void WordTokenizer::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw_input_error(path, "a writable file", "it cannot be opened for writing");
  out << to_json();
  if (!out) throw_input_error(path, "a writable file", "a write error");
}

WordTokenizer WordTokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path, "a readable file", "it cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  return from_json(text.str(), path);
}

}  // namespace coordexp
