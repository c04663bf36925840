// Unicode helpers and the byte-level pre-tokenizer for BpeTokenizer (see byte_level_pretokenizer.hpp):
// UTF-8 decoding and NFC through ICU, GPT-2's byte <-> character table, and the Qwen2 / GPT-2 split
// regexes written out by hand as scanners over code points with ICU's Unicode classes.
#include "byte_level_pretokenizer.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <stdexcept>

#include "coordexp/util/error.hpp"

namespace coordexp {

const char* const kQwen2Pattern =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char* const kGpt2Pattern =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";

namespace {

// ------------------------------------------------------------------------------------ Unicode helpers

bool is_letter(UChar32 c) {
  return c < 0x80 ? ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') : (U_GET_GC_MASK(c) & U_GC_L_MASK) != 0;
}
bool is_number(UChar32 c) {
  return c < 0x80 ? (c >= '0' && c <= '9') : (U_GET_GC_MASK(c) & U_GC_N_MASK) != 0;
}
// Regex \s: the White_Space property (what Oniguruma's Unicode \s matches).
bool is_space(UChar32 c) {
  return c < 0x80 ? (c == ' ' || (c >= 0x09 && c <= 0x0d)) : u_isUWhiteSpace(c) != 0;
}
bool is_newline(UChar32 c) {
  return c == '\r' || c == '\n';
}
bool is_other(UChar32 c) {
  return !is_space(c) && !is_letter(c) && !is_number(c);
}  // [^\s\p{L}\p{N}]

void append_utf8(std::string& out, UChar32 c) {
  char buf[4];
  int32_t len = 0;
  UBool error = false;  // cannot happen: c comes from a valid table
  U8_APPEND(reinterpret_cast<uint8_t*>(buf), len, 4, c, error);
  (void)error;
  out.append(buf, static_cast<size_t>(len));
}

// ---------------------------------------------------------------------------- scanner building blocks

UChar32 fold_case(UChar32 c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == 0x017f) return 's';  // LATIN SMALL LETTER LONG S case-folds to 's'
  return c;
}

// Length of a contraction at i ('s 't 're 've 'm 'll 'd), 0 if none.
size_t contraction(const std::vector<UChar32>& cp, size_t i, bool ignore_case) {
  const size_t n = cp.size();
  if (cp[i] != '\'' || i + 1 >= n) return 0;
  auto at = [&](size_t k) { return ignore_case ? fold_case(cp[k]) : cp[k]; };
  const UChar32 a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < n) {
    const UChar32 b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

template <typename Pred>
size_t run_end(const std::vector<UChar32>& cp, size_t i, Pred pred) {
  while (i < cp.size() && pred(cp[i])) ++i;
  return i;
}

// \s+(?!\S) then \s+, for a whitespace run starting at i.
size_t whitespace_tail(const std::vector<UChar32>& cp, size_t i) {
  const size_t e = run_end(cp, i, is_space);
  if (e == cp.size() || e - i == 1) return e;  // at the end, or \s+ fallback for a single space
  return e - 1;                                // leave one space to prefix the next word
}

}  // namespace

// ------------------------------------------------------------------------------------ UTF-8, NFC, bytes

CodePoints decode_utf8(std::string_view text) {
  CodePoints out;
  out.cp.reserve(text.size());
  out.offset.reserve(text.size() + 1);
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(text.size());
  while (i < n) {
    out.offset.push_back(static_cast<size_t>(i));
    UChar32 c;
    U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), i, n, c);
    if (c < 0)
      throw_input_error("text to encode, byte " + std::to_string(out.offset.back()), "valid UTF-8",
                        "an invalid sequence");
    out.cp.push_back(c);
  }
  out.offset.push_back(text.size());
  return out;
}

std::string nfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* norm = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU NFC unavailable: ") + u_errorName(status));
  const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
  if (norm->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  norm->normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU NFC failed: ") + u_errorName(status));
  return out;
}

ByteTable::ByteTable() {
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const UChar32 c = printable ? b : 256 + next++;
    append_utf8(to_char[b], c);
    to_byte[c] = static_cast<uint8_t>(b);
  }
}

const ByteTable& byte_table() {
  static const ByteTable table;
  return table;
}

// ---------------------------------------------------------------------------- pre-tokenizer scanners

size_t match_qwen2(const std::vector<UChar32>& cp, size_t i) {
  const size_t n = cp.size();
  if (size_t len = contraction(cp, i, /*ignore_case=*/true)) return i + len;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (is_letter(cp[i])) return run_end(cp, i, is_letter);
  if (!is_number(cp[i]) && !is_newline(cp[i]) && i + 1 < n && is_letter(cp[i + 1]))
    return run_end(cp, i + 1, is_letter);
  if (is_number(cp[i])) return i + 1;  // \p{N}: digits one at a time
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t j = (cp[i] == ' ' && i + 1 < n && is_other(cp[i + 1])) ? i + 1 : i;
  if (is_other(cp[j])) return run_end(cp, run_end(cp, j, is_other), is_newline);
  // \s*[\r\n]+ : up to and including the last newline of the whitespace run
  const size_t e = run_end(cp, i, is_space);
  for (size_t k = e; k > i; --k)
    if (is_newline(cp[k - 1])) return k;
  return whitespace_tail(cp, i);
}

size_t match_gpt2(const std::vector<UChar32>& cp, size_t i) {
  const size_t n = cp.size();
  if (size_t len = contraction(cp, i, /*ignore_case=*/false)) return i + len;
  const size_t j = (cp[i] == ' ' && i + 1 < n) ? i + 1 : i;  // the optional leading space
  for (auto cls : {is_letter, is_number, is_other}) {
    if (j != i && cls(cp[j])) return run_end(cp, j, cls);
    if (cls(cp[i])) return run_end(cp, i, cls);
  }
  return whitespace_tail(cp, i);
}

}  // namespace coordexp
