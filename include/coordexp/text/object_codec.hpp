// Object codec: a set of described boxes <-> the answer token sequence the V-LLM writes, and the parser for
// what a model generates. One object is  <obj_start> description-tokens x1 y1 x2 y2 <obj_end>  with the
// four coordinates as coordinate tokens; the answer is the objects in an ordering rule, then answer_end.
// Token ids come from the caller's tokenizer; the codec only needs the coordinate id range and the
// structure ids, and it requires description ids to be neither coordinate nor structure tokens.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "coordexp/geometry/box.hpp"
#include "coordexp/text/coord_vocab.hpp"

namespace coordexp {

enum class ObjectOrder {
  kX1Ascending,  // x1 ascending, ties by y1 (the default)
  kTopLeft,      // y1 ascending, ties by x1 (reading order)
  kRandom,       // a seeded random permutation
  kGiven,        // as the caller lists them
  kRaster,       // the cell holding the box centre on a grid x grid raster, row-major; ties by x1, then y1
};
ObjectOrder parse_object_order(const std::string& name);  // "x1", "top_left", "random", "given", "raster"
std::string object_order_name(ObjectOrder order);

// A box with its description, coordinates normalised to [0, 1] (x1 <= x2, y1 <= y2).
struct DescribedBox {
  std::vector<TokenId> desc_ids;
  BoxXYXY box;
};

enum class TokenRole : uint8_t {
  kDescription,  // a description token
  kStructure,    // <obj_start>, <obj_end> or answer_end
  kCoordinate,   // one of the four coordinate tokens of an object
};

// Where an object stands in a sequence; positions index the sequence's tokens.
struct ObjectSpan {
  int64_t source_index = -1;           // index into the caller's object list (-1 for parsed output)
  int64_t open_pos = -1;               // position of <obj_start>
  std::vector<int64_t> desc_pos;       // positions of the description tokens
  std::array<int64_t, 4> coord_pos{};  // positions of x1, y1, x2, y2
  std::array<int, 4> bins{};           // the coordinate bins written there
};

struct EncodedAnswer {
  std::vector<TokenId> ids;         // [T_answer]
  std::vector<TokenRole> roles;     // [T_answer]
  std::vector<ObjectSpan> objects;  // in sequence order
};

// Quantises a box to four bins. Zero-width rule: a box with positive extent that rounds to zero bins is
// widened to one bin (x2 = x1 + 1, or x1 = x2 - 1 at the right edge), so every encoded box has positive
// area; a box that is already degenerate (x1 == x2) gets the same treatment. An inverted box is an error.
std::array<int, 4> quantize_box(const BoxXYXY& box, const CoordVocab& vocab);
BoxXYXY dequantize_box(const std::array<int, 4>& bins, const CoordVocab& vocab);

// The cell {row, col} of a grid x grid raster that holds the centre of a quantised box, in integer
// arithmetic so that the raster order and the tiny model's scan pointer (model/tiny_vlm.hpp) agree exactly.
std::array<int, 2> center_cell(const std::array<int, 4>& bins, int num_bins, int grid);

// The permutation that puts objects in the given order (computed on quantised bins, stable); raster_grid
// is the grid of ObjectOrder::kRaster.
std::vector<int64_t> order_objects(std::span<const DescribedBox> objects, ObjectOrder order,
                                   const CoordVocab& vocab, uint64_t seed = 0, int raster_grid = 8);

EncodedAnswer encode_answer(std::span<const DescribedBox> objects, std::span<const int64_t> order,
                            const CoordVocab& vocab, const StructureTokens& structure);

// ---- Parsing model output -------------------------------------------------------------------------------

enum class ParseMode {
  kStrict,   // the first violation throws InputError naming the position, what was expected and found
  kSalvage,  // keeps every well-formed object, drops the rest and counts why
};

enum class ParseIssue : int {
  kMissingCoordinates,       // <obj_end> (or the end) after fewer than 4 coordinates
  kCoordinateInDescription,  // a description token after coordinates began
  kTooManyCoordinates,       // a fifth coordinate token
  kEmptyDescription,         // coordinates with no description before them
  kUnclosedObject,           // <obj_start> or answer_end inside an open object
  kTruncatedTail,            // the sequence ended inside an object (length limit)
  kStrayToken,               // a token outside any object (skipped, the objects around it are kept)
  kInvertedBox,              // x1 > x2 or y1 > y2: salvage keeps the object with corners ordered
  kCount,
};
const char* parse_issue_name(ParseIssue issue);

struct ParsedObject {
  std::vector<TokenId> desc_ids;
  ObjectSpan span;
  int close_pos = -1;  // position of <obj_end>
  BoxXYXY box;         // dequantised from the bins, legal
};

struct ParseResult {
  std::vector<ParsedObject> objects;
  std::array<int64_t, static_cast<int>(ParseIssue::kCount)> issues{};  // count per ParseIssue
  bool terminated = false;                                             // answer_end was seen
  int64_t dropped_objects() const;
};

ParseResult parse_answer(std::span<const TokenId> ids, const CoordVocab& vocab,
                         const StructureTokens& structure, ParseMode mode);

}  // namespace coordexp
