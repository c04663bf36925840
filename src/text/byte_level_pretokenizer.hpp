// Internal to BpeTokenizer: the Unicode side of byte-level BPE. Text is decoded to code points (invalid
// UTF-8 is an InputError), optionally NFC-normalised, split by a hand-written scanner equal to the Qwen2 or
// GPT-2 pre-tokenizer regex, and each piece's bytes are mapped through GPT-2's byte <-> character table.
#pragma once

#include <unicode/umachine.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace coordexp {

// Code points of `text` with their byte offsets; offsets has one extra entry, text.size().
struct CodePoints {
  std::vector<UChar32> cp;
  std::vector<size_t> offset;
};

// Throws InputError ("valid UTF-8", naming the byte) on an invalid sequence.
CodePoints decode_utf8(std::string_view text);

// NFC normalisation of valid UTF-8 text (ICU); returns the text unchanged when already normalised.
std::string nfc(std::string_view text);

// GPT-2's byte -> printable character table: bytes that are printable Latin-1 map to themselves, the
// other 68 to U+0100.. in byte order, so every byte string becomes a visible, whitespace-free string.
struct ByteTable {
  std::array<std::string, 256> to_char;          // UTF-8 of the character for each byte
  std::unordered_map<UChar32, uint8_t> to_byte;  // the inverse
  ByteTable();
};

const ByteTable& byte_table();

// The split regexes recognised in tokenizer.json, character for character.
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
extern const char* const kQwen2Pattern;
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+   (ByteLevel use_regex)
extern const char* const kGpt2Pattern;

enum class SplitRegex { kNone, kQwen2, kGpt2 };

// Pre-tokenizer scanners. Each returns the end (in code points) of the match starting at i < cp.size(),
// trying the regex's alternatives in order as a backtracking engine would. Both regexes match every code
// point, so the end is always > i.
size_t match_qwen2(const std::vector<UChar32>& cp, size_t i);
size_t match_gpt2(const std::vector<UChar32>& cp, size_t i);

}  // namespace coordexp
