// Byte-level BPE from tokenizer.json (see bpe_tokenizer.hpp). Sections: loading and validation, encoding
// (added tokens -> normalise -> split -> bytes -> merges), decoding, extension and saving. The Unicode
// helpers and the pre-tokenizer scanners live in byte_level_pretokenizer.cpp.
#include "coordexp/text/bpe_tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

#include "../util/json_fields.hpp"
#include "bpe_tables.hpp"
#include "byte_level_pretokenizer.hpp"
#include "coordexp/util/error.hpp"
#include "coordexp/util/json_config.hpp"

namespace coordexp {

namespace {

using nlohmann::json;

// ------------------------------------------------------------------------------------ JSON helpers

std::string in_quotes(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.append(1, '"').append(s).append(1, '"');
  return out;
}

const json* field(const json& obj, const char* key) {
  return obj.contains(key) && !obj[key].is_null() ? &obj[key] : nullptr;
}

std::string type_of(const json& obj, const std::string& where) {
  const json* t = obj.is_object() ? field(obj, "type") : nullptr;
  if (!t || !t->is_string()) throw_input_error(where + ".type", "a string", t ? t->dump() : "none");
  return t->get<std::string>();
}

bool flag(const json& obj, const char* key, const std::string& where) {
  const json* v = field(obj, key);
  if (!v) return false;
  if (!v->is_boolean()) throw_input_error(where + "." + key, "true or false", v->dump());
  return v->get<bool>();
}

// A JSON id in [0, 2^31): parsed text stores these as unsigned, documents built in C++ as signed.
bool is_token_id(const json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= 0 &&
         v.get<int64_t>() <= std::numeric_limits<int32_t>::max();
}

}  // namespace

// ---------------------------------------------------------------------------------------------- state

// All loaded state; BpeTokenizer::Impl is this, named so the loaders below can see it.
struct TokenizerState {
  simdjson::padded_string text;  // the document as read, for saving (parsed again only then)
  bpe::Vocabulary vocab;
  bpe::MergeTable merges;
  std::optional<TokenId> unk;
  bool ignore_merges = false;
  bool nfc = false;
  SplitRegex split = SplitRegex::kNone;
  bool add_prefix_space = false;
  bool prefix_each_split = false;  // ByteLevel after a Split prefixes every piece, not just the text
  std::vector<AddedToken> added;
  std::unordered_map<std::string, size_t> added_by_content;
  std::unordered_map<TokenId, size_t> added_by_id;
  TokenId max_id = -1;  // largest id of the vocabulary and the added tokens
  // Byte trie over added-token contents for leftmost-longest matching.
  struct TrieNode {
    std::map<uint8_t, int32_t> next;
    int32_t token = -1;  // index into `added`
  };
  std::vector<TrieNode> trie = std::vector<TrieNode>(1);

  void index_added(size_t k) {
    const AddedToken& t = added[k];
    added_by_content[t.content] = k;
    added_by_id[t.id] = k;
    max_id = std::max(max_id, t.id);
    int32_t node = 0;
    for (unsigned char c : t.content) {
      auto it = trie[node].next.find(c);
      if (it == trie[node].next.end()) {
        trie.emplace_back();
        it = trie[node].next.emplace(c, static_cast<int32_t>(trie.size() - 1)).first;
      }
      node = it->second;
    }
    trie[node].token = static_cast<int32_t>(k);
  }

  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;
  std::vector<std::string> split_plain(std::string_view text) const;  // normalise + pre-tokenize
  void encode_plain(std::string_view text, std::vector<TokenId>& out) const;
};

struct BpeTokenizer::Impl : TokenizerState {};

// ---------------------------------------------------------------------------------------------- loading

namespace {

void load_normalizer(const json& doc, const std::string& source, TokenizerState& s) {
  const json* norm = field(doc, "normalizer");
  if (!norm) return;
  const std::string type = type_of(*norm, source + ": normalizer");
  if (type != "NFC")
    throw_input_error(source + ": normalizer.type", "\"NFC\" or a null normalizer", in_quotes(type),
                      "only the normalizers of byte-level BPE tokenizers (Qwen2, GPT-2) are supported");
  s.nfc = true;
}

void load_pre_tokenizer(const json& doc, const std::string& source, TokenizerState& s) {
  const std::string where = source + ": pre_tokenizer";
  const json* pre = field(doc, "pre_tokenizer");
  if (!pre) throw_input_error(where, "a ByteLevel pre-tokenizer (byte-level BPE)", "null");
  std::vector<std::pair<const json*, std::string>> steps;
  if (type_of(*pre, where) == "Sequence") {
    const json* list = field(*pre, "pretokenizers");
    if (!list || !list->is_array())
      throw_input_error(where + ".pretokenizers", "an array", list ? list->dump() : "none");
    for (size_t k = 0; k < list->size(); ++k)
      steps.emplace_back(&(*list)[k], where + ".pretokenizers[" + std::to_string(k) + "]");
  } else {
    steps.emplace_back(pre, where);
  }
  bool byte_level = false;
  for (const auto& [step, at] : steps) {
    const std::string type = type_of(*step, at);
    if (byte_level) throw_input_error(at, "nothing after the ByteLevel step", in_quotes(type));
    if (type == "Split") {
      const json* pattern = field(*step, "pattern");
      const json* regex = pattern && pattern->is_object() ? field(*pattern, "Regex") : nullptr;
      if (!regex || !regex->is_string())
        throw_input_error(at + ".pattern", "{\"Regex\": ...}", pattern ? pattern->dump() : "none");
      if (regex->get<std::string>() == kQwen2Pattern)
        s.split = SplitRegex::kQwen2;
      else if (regex->get<std::string>() == kGpt2Pattern)
        s.split = SplitRegex::kGpt2;
      else
        throw_input_error(at + ".pattern.Regex", "the Qwen2 or GPT-2 pre-tokenizer regex", regex->dump(),
                          "other regexes are not implemented");
      const json* behavior = field(*step, "behavior");
      if (!behavior || *behavior != "Isolated")
        throw_input_error(at + ".behavior", "\"Isolated\"", behavior ? behavior->dump() : "none");
      if (flag(*step, "invert", at)) throw_input_error(at + ".invert", "false", "true");
      s.prefix_each_split = true;
    } else if (type == "ByteLevel") {
      byte_level = true;
      s.add_prefix_space = flag(*step, "add_prefix_space", at);
      const json* use_regex = field(*step, "use_regex");  // defaults to true in Hugging Face tokenizers
      if (!use_regex || (use_regex->is_boolean() && use_regex->get<bool>())) {
        if (s.split != SplitRegex::kNone) throw_input_error(at + ".use_regex", "false after a Split", "true");
        s.split = SplitRegex::kGpt2;
      }
    } else {
      throw_input_error(at + ".type", "\"Sequence\", \"Split\" or \"ByteLevel\"", in_quotes(type));
    }
  }
  if (!byte_level) throw_input_error(where, "a ByteLevel step (byte-level BPE)", "none");
}

void load_decoder_and_post(const json& doc, const std::string& source) {
  if (const json* dec = field(doc, "decoder")) {
    const std::string type = type_of(*dec, source + ": decoder");
    if (type != "ByteLevel") throw_input_error(source + ": decoder.type", "\"ByteLevel\"", in_quotes(type));
  }
  // ByteLevel post-processing only adjusts offsets; templates that insert BOS/EOS are not implemented.
  if (const json* post = field(doc, "post_processor")) {
    const std::string type = type_of(*post, source + ": post_processor");
    if (type != "ByteLevel")
      throw_input_error(source + ": post_processor.type", "\"ByteLevel\" or null", in_quotes(type),
                        "add BOS/EOS around encode() yourself");
  }
}

void load_added_tokens(const json& doc, const std::string& source, TokenizerState& s) {
  const json* list = field(doc, "added_tokens");
  if (!list) return;
  if (!list->is_array()) throw_input_error(source + ": added_tokens", "an array", list->type_name());
  for (size_t k = 0; k < list->size(); ++k) {
    const json& e = (*list)[k];
    const std::string at = source + ": added_tokens[" + std::to_string(k) + "]";
    if (!e.is_object()) throw_input_error(at, "an object", e.type_name());
    const json* id = field(e, "id");
    const json* content = field(e, "content");
    if (!id || !is_token_id(*id))
      throw_input_error(at + ".id", "an id in [0, 2^31)", id ? id->dump() : "none");
    if (!content || !content->is_string() || content->get<std::string>().empty())
      throw_input_error(at + ".content", "a non-empty string", content ? content->dump() : "none");
    AddedToken t{id->get<TokenId>(),       content->get<std::string>(), flag(e, "special", at),
                 flag(e, "lstrip", at),    flag(e, "rstrip", at),       flag(e, "single_word", at),
                 flag(e, "normalized", at)};
    if (s.added_by_content.count(t.content) || s.added_by_id.count(t.id))
      throw_input_error(at, "a token whose id and content are not already added", "a duplicate: " + e.dump());
    const auto in_vocab = s.vocab.text_of(t.id);
    if (in_vocab && *in_vocab != t.content)
      throw_input_error(at + ".id", "an id free in model.vocab or holding the same content",
                        std::to_string(t.id) + " = " + in_quotes(*in_vocab) + " in model.vocab");
    s.added.push_back(std::move(t));
    s.index_added(s.added.size() - 1);
  }
}

// model.vocab and model.merges as simdjson elements (nullopt when absent); the rest of the document is
// nlohmann JSON. A default simdjson element refers to no document, so absence is kept apart.
struct LargeSections {
  std::optional<simdjson::dom::element> vocab, merges;
};

void load_model_header(const json& doc, const std::string& source, TokenizerState& s) {
  const std::string where = source + ": model";
  const json* model = field(doc, "model");
  if (!model || !model->is_object())
    throw_input_error(where, "an object with the BPE model", model ? model->type_name() : "none");
  if (const json* type = field(*model, "type"); type && *type != "BPE")
    throw_input_error(where + ".type", "\"BPE\"", type->dump(),
                      "only byte-level BPE tokenizers are supported");
  if (const json* dropout = field(*model, "dropout");
      dropout && !(dropout->is_number() && dropout->get<double>() == 0.0))
    throw_input_error(where + ".dropout", "null (BPE dropout is a training-time augmentation)",
                      dropout->dump());
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json* v = field(*model, key); v && *v != "")
      throw_input_error(where + "." + key, "null or \"\" (byte-level BPE has none)", v->dump());
  if (flag(*model, "byte_fallback", where)) throw_input_error(where + ".byte_fallback", "false", "true");
  s.ignore_merges = flag(*model, "ignore_merges", where);
}

std::string shown(simdjson::dom::element e) {
  std::string text = simdjson::minify(e);
  return text.size() <= 80 ? text : text.substr(0, 77) + "...";
}

void load_vocab(const std::optional<simdjson::dom::element>& vocab, const std::string& where,
                TokenizerState& s) {
  if (!vocab || vocab->type() != simdjson::dom::element_type::OBJECT)
    throw_input_error(where, "an object {token: id}",
                      !vocab || vocab->is_null() ? "none" : json_fields::type_name(vocab->type()));
  const simdjson::dom::object tokens(*vocab);
  s.vocab.reserve(tokens.size());
  for (auto [key, value] : tokens) {
    int64_t id = -1;
    if (value.type() == simdjson::dom::element_type::INT64) id = int64_t(value);
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      throw_input_error(where + "." + std::string(key), "an id in [0, 2^31)", shown(value));
    if (!s.vocab.insert(key, TokenId(id)))
      throw_input_error(where + "." + std::string(key), "a token listed once", "a repeated key");
    s.max_id = std::max(s.max_id, TokenId(id));
  }
  if (const auto twins = s.vocab.index_ids())
    throw_input_error(
        where + "." + std::string(twins->second), "a unique id",
        std::to_string(*s.vocab.find(twins->second)) + ", also held by " + in_quotes(twins->first));
}

// One merge, "a b" (tokenizers < 0.20) or ["a", "b"], as its two parts.
// `where` and `k` name it in errors.
std::pair<std::string_view, std::string_view> merge_parts(simdjson::dom::element m, const std::string& where,
                                                          size_t k) {
  const auto at = [&] { return where + "[" + std::to_string(k) + "]"; };
  std::string_view a, b;
  if (m.type() == simdjson::dom::element_type::STRING) {
    const std::string_view text(m);
    const size_t space = text.find(' ');
    if (space == std::string_view::npos || text.find(' ', space + 1) != std::string_view::npos)
      throw_input_error(at(), "\"left right\" (two tokens, one space)", shown(m));
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (m.type() == simdjson::dom::element_type::ARRAY) {
    const simdjson::dom::array pair(m);
    simdjson::dom::element first, second;
    if (pair.size() == 2 && !pair.at(0).get(first) && !pair.at(1).get(second) &&
        first.type() == simdjson::dom::element_type::STRING &&
        second.type() == simdjson::dom::element_type::STRING)
      return {std::string_view(first), std::string_view(second)};
  }
  throw_input_error(at(), "\"left right\" or [\"left\", \"right\"]", shown(m));
}

void load_merges(const std::optional<simdjson::dom::element>& merges, const std::string& where,
                 TokenizerState& s) {
  if (!merges || merges->type() != simdjson::dom::element_type::ARRAY)
    throw_input_error(where, "an array",
                      !merges || merges->is_null() ? "none" : json_fields::type_name(merges->type()));
  const simdjson::dom::array list(*merges);
  s.merges.reserve(list.size());
  std::string joined;
  size_t k = 0;
  for (simdjson::dom::element m : list) {
    const auto [left, right] = merge_parts(m, where, k);
    joined.assign(left).append(right);
    const auto ia = s.vocab.find(left), ib = s.vocab.find(right), iab = s.vocab.find(joined);
    if (!ia || !ib || !iab)
      throw_input_error(where + "[" + std::to_string(k) + "]",
                        "a merge whose parts and result are in model.vocab", shown(m),
                        "missing " + in_quotes(!ia   ? left
                                               : !ib ? right
                                                     : std::string_view(joined)));
    // A repeated pair keeps its first (best) rank, as Hugging Face does.
    s.merges.emplace(*ia, *ib, bpe::Merge{static_cast<int32_t>(k), *iab});
    ++k;
  }
}

void load_model(const json& doc, const LargeSections& large, const std::string& source, TokenizerState& s) {
  load_model_header(doc, source, s);
  const std::string where = source + ": model";
  load_vocab(large.vocab, where + ".vocab", s);
  const json& model = doc["model"];
  if (const json* unk = field(model, "unk_token")) {
    const auto id = unk->is_string() ? s.vocab.find(unk->get<std::string>()) : std::nullopt;
    if (!id) throw_input_error(where + ".unk_token", "null or a token of model.vocab", unk->dump());
    s.unk = *id;
  }
  load_merges(large.merges, where + ".merges", s);
}

// The small sections as nlohmann JSON (the loaders above read them), model.vocab and model.merges left as
// simdjson elements: a 151k-token vocabulary is read without building a tree of nlohmann values.
json split_document(simdjson::dom::element root, const std::string& source, LargeSections& large) {
  if (root.type() != simdjson::dom::element_type::OBJECT)
    throw_input_error(source, "a JSON object (tokenizer.json)", json_fields::type_name(root.type()));
  const auto small = [](simdjson::dom::element e) { return json::parse(simdjson::minify(e)); };
  json doc = json::object();
  for (auto [key, value] : simdjson::dom::object(root)) {
    if (key != "model" || value.type() != simdjson::dom::element_type::OBJECT) {
      doc[std::string(key)] = small(value);
      continue;
    }
    json model = json::object();
    for (auto [k, v] : simdjson::dom::object(value)) {
      if (k == "vocab")
        large.vocab = v;
      else if (k == "merges")
        large.merges = v;
      else
        model[std::string(k)] = small(v);
    }
    doc["model"] = std::move(model);
  }
  return doc;
}

// Reads a whole tokenizer.json into `state`.
void load_document(simdjson::padded_string text, const std::string& source, TokenizerState& s) {
  simdjson::dom::parser parser;
  const simdjson::dom::element root = json_fields::parse_document(parser, text, source, /*padded=*/true);
  LargeSections large;
  const json doc = split_document(root, source, large);
  load_model(doc, large, source, s);
  load_normalizer(doc, source, s);
  load_pre_tokenizer(doc, source, s);
  load_decoder_and_post(doc, source);
  load_added_tokens(doc, source, s);
  // Every byte must be encodable: byte-level BPE needs all 256 byte characters (or an unk token).
  if (!s.unk)
    for (int b = 0; b < 256; ++b)
      if (!s.vocab.contains(byte_table().to_char[b]))
        throw_input_error(
            source + ": model.vocab", "all 256 byte-level characters (or an unk_token)",
            "no entry for byte " + std::to_string(b) + " (" + in_quotes(byte_table().to_char[b]) + ")");
  s.text = std::move(text);
}

}  // namespace

BpeTokenizer::BpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

BpeTokenizer BpeTokenizer::from_text(std::string_view text, const std::string& source) {
  auto s = std::make_unique<Impl>();
  load_document(simdjson::padded_string(text), source, *s);
  return BpeTokenizer(std::move(s));
}

BpeTokenizer BpeTokenizer::from_json(const json& doc, const std::string& source) {
  return from_text(doc.dump(), source);
}

BpeTokenizer BpeTokenizer::from_file(const std::filesystem::path& path) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path.string()).get(text))
    throw_input_error(path.string(), "a readable tokenizer.json", "cannot open or read it");
  auto s = std::make_unique<Impl>();
  load_document(std::move(text), path.string(), *s);
  return BpeTokenizer(std::move(s));
}

// --------------------------------------------------------------------------------------------- encoding

void TokenizerState::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  const ByteTable& table = byte_table();
  std::string mapped;
  for (unsigned char c : piece) mapped += table.to_char[c];
  if (ignore_merges) {
    if (const auto id = vocab.find(mapped)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<TokenId> symbols;
  symbols.reserve(piece.size());
  for (unsigned char c : piece) {
    if (const auto id = vocab.find(table.to_char[c]))
      symbols.push_back(*id);
    else if (unk)
      symbols.push_back(*unk);  // as Hugging Face: unknown characters become unk, or vanish
  }
  // Repeatedly merge the adjacent pair of lowest rank (leftmost on ties). Pieces are words: short.
  while (symbols.size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    size_t best = 0;
    TokenId merged = -1;
    for (size_t k = 0; k + 1 < symbols.size(); ++k) {
      const bpe::Merge* m = merges.find(symbols[k], symbols[k + 1]);
      if (m && m->rank < best_rank) {
        best_rank = m->rank;
        best = k;
        merged = m->merged;
      }
    }
    if (merged < 0) break;
    symbols[best] = merged;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

std::vector<std::string> TokenizerState::split_plain(std::string_view raw) const {
  std::string text = nfc ? coordexp::nfc(raw) : std::string(raw);
  if (add_prefix_space && !prefix_each_split && !text.empty() && text[0] != ' ') text.insert(0, " ");
  std::vector<std::string> pieces;
  if (split == SplitRegex::kNone) {
    if (!text.empty()) pieces.push_back(std::move(text));
    return pieces;
  }
  const CodePoints cps = decode_utf8(text);
  for (size_t i = 0; i < cps.cp.size();) {
    const size_t end = split == SplitRegex::kQwen2 ? match_qwen2(cps.cp, i) : match_gpt2(cps.cp, i);
    std::string piece = text.substr(cps.offset[i], cps.offset[end] - cps.offset[i]);
    if (add_prefix_space && prefix_each_split && piece[0] != ' ') piece.insert(piece.begin(), ' ');
    pieces.push_back(std::move(piece));
    i = end;
  }
  return pieces;
}

void TokenizerState::encode_plain(std::string_view raw, std::vector<TokenId>& out) const {
  if (raw.empty()) return;
  for (const std::string& piece : split_plain(raw)) encode_piece(piece, out);
}

std::vector<std::string> BpeTokenizer::pre_tokenize(std::string_view text) const {
  decode_utf8(text);  // validates
  return impl_->split_plain(text);
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text) const {
  const Impl& s = *impl_;
  decode_utf8(text);  // validates the input (NFC and the scanners assume UTF-8)
  std::vector<TokenId> out;
  size_t plain_begin = 0, i = 0;
  while (i < text.size()) {
    // Longest added token starting at i.
    int32_t node = 0, found = -1;
    size_t found_end = i;
    for (size_t k = i; k < text.size(); ++k) {
      const auto it = s.trie[node].next.find(static_cast<uint8_t>(text[k]));
      if (it == s.trie[node].next.end()) break;
      node = it->second;
      if (s.trie[node].token >= 0) {
        found = s.trie[node].token;
        found_end = k + 1;
      }
    }
    if (found >= 0) {
      const AddedToken& t = s.added[static_cast<size_t>(found)];
      auto word_char = [&](size_t pos) {
        const unsigned char c = static_cast<unsigned char>(text[pos]);
        return std::isalnum(c) || c == '_' || c >= 0x80;
      };
      if (t.single_word &&
          ((i > 0 && word_char(i - 1)) || (found_end < text.size() && word_char(found_end)))) {
        found = -1;
      }
    }
    if (found < 0) {
      ++i;
      continue;
    }
    const AddedToken& t = s.added[static_cast<size_t>(found)];
    size_t left = i, right = found_end;
    if (t.lstrip)
      while (left > plain_begin && std::isspace(static_cast<unsigned char>(text[left - 1]))) --left;
    if (t.rstrip)
      while (right < text.size() && std::isspace(static_cast<unsigned char>(text[right]))) ++right;
    s.encode_plain(text.substr(plain_begin, left - plain_begin), out);
    out.push_back(t.id);
    plain_begin = i = right;
  }
  s.encode_plain(text.substr(plain_begin), out);
  return out;
}

std::vector<TokenId> BpeTokenizer::encode_plain(std::string_view text) const {
  decode_utf8(text);
  std::vector<TokenId> out;
  impl_->encode_plain(text, out);
  return out;
}

bool BpeTokenizer::is_added(TokenId id) const {
  return impl_->added_by_id.count(id) > 0;
}

// --------------------------------------------------------------------------------------------- decoding

std::string BpeTokenizer::decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  const Impl& s = *impl_;
  const ByteTable& table = byte_table();
  std::string out;
  for (TokenId id : ids) {
    std::optional<std::string_view> token;
    if (auto a = s.added_by_id.find(id); a != s.added_by_id.end()) {
      if (skip_special_tokens && s.added[a->second].special) continue;
      token = s.added[a->second].content;
    } else if (!(token = s.vocab.text_of(id))) {
      throw_input_error("token id " + std::to_string(id),
                        "an id of the tokenizer (< " + std::to_string(vocab_size()) + ")", "an unknown id");
    }
    // ByteLevel decoding: each character back to its byte; a token with a character outside the table
    // (an added token such as "<| x |>") is emitted as its UTF-8 text, as Hugging Face does.
    std::string bytes;
    bool all_mapped = true;
    for (UChar32 c : decode_utf8(*token).cp) {
      const auto it = table.to_byte.find(c);
      if (it == table.to_byte.end()) {
        all_mapped = false;
        break;
      }
      bytes.push_back(static_cast<char>(it->second));
    }
    out += all_mapped ? bytes : *token;
  }
  return out;
}

std::optional<TokenId> BpeTokenizer::token_to_id(std::string_view token) const {
  const std::string key(token);
  if (auto a = impl_->added_by_content.find(key); a != impl_->added_by_content.end())
    return impl_->added[a->second].id;
  return impl_->vocab.find(key);
}

std::string BpeTokenizer::id_to_token(TokenId id) const {
  if (auto a = impl_->added_by_id.find(id); a != impl_->added_by_id.end())
    return impl_->added[a->second].content;
  if (const auto v = impl_->vocab.text_of(id)) return std::string(*v);
  throw_input_error("token id " + std::to_string(id), "an id of the tokenizer", "an unknown id");
}

TokenId BpeTokenizer::vocab_size() const {
  return impl_->max_id + 1;
}

const std::vector<AddedToken>& BpeTokenizer::added_tokens() const {
  return impl_->added;
}

// ------------------------------------------------------------------------------------ extension, saving

TokenId BpeTokenizer::add_special_token(const std::string& content) {
  return add_token(content, true);
}

TokenId BpeTokenizer::add_token(const std::string& content, bool special) {
  COORDEXP_CHECK_ARG(!content.empty(), "content", "a non-empty token", "\"\"");
  if (auto id = token_to_id(content)) return *id;
  AddedToken t;
  t.id = vocab_size();
  t.content = content;
  t.special = special;
  impl_->added.push_back(t);
  impl_->index_added(impl_->added.size() - 1);
  return t.id;
}

json BpeTokenizer::to_json() const {
  json doc = json::parse(std::string_view(impl_->text));
  json list = json::array();
  for (const AddedToken& t : impl_->added)
    list.push_back({{"id", t.id},
                    {"content", t.content},
                    {"single_word", t.single_word},
                    {"lstrip", t.lstrip},
                    {"rstrip", t.rstrip},
                    {"normalized", t.normalized},
                    {"special", t.special}});
  doc["added_tokens"] = list;
  return doc;
}

void BpeTokenizer::save(const std::filesystem::path& path) const {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << to_json().dump(2) << "\n";
    if (!out) throw_input_error(path.string(), "a writable file", "an I/O error");
  }
  std::filesystem::rename(tmp, path);
}

CoordTokenIds add_coordinate_tokens(BpeTokenizer& tokenizer, int num_bins) {
  COORDEXP_CHECK_ARG(num_bins >= 2, "num_bins", ">= 2", std::to_string(num_bins));
  // Added, not special: a transformers user's decode(..., skip_special_tokens=True) keeps the boxes in the
  // text.
  const TokenId first = tokenizer.add_token(CoordVocab::token_text(0), false);
  for (int k = 1; k < num_bins; ++k) {
    const TokenId id = tokenizer.add_token(CoordVocab::token_text(k), false);
    if (id != first + k)
      throw_input_error("tokenizer: " + CoordVocab::token_text(k),
                        "id " + std::to_string(first + k) + " (coordinate tokens must be contiguous)",
                        std::to_string(id),
                        "the tokenizer already holds some coordinate tokens out of order");
  }
  const TokenId obj_start = tokenizer.add_token("<obj_start>", false);
  const TokenId obj_end = tokenizer.add_token("<obj_end>", false);
  return CoordTokenIds{CoordVocab(num_bins, first), obj_start, obj_end};
}

}  // namespace coordexp
