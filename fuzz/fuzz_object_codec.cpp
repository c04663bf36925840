// Fuzzes parse_answer, the parser of what a model generates, in strict and salvage mode. Each input byte is
// one token id over a small vocabulary laid out as the word tokenizer lays it out: 0 pad, 1 bos,
// 2 answer end, 3 unk, 4 <obj_start>, 5 <obj_end>, 6..9 words, then K coordinate tokens (K from the first
// byte); bytes past the vocabulary map to out-of-range ids (negative, huge). Strict may only throw
// InputError; salvage may not throw at all. Checked: boxes are legal, strict success agrees with salvage,
// and re-encoding the salvaged objects parses strictly back to the same bins.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <vector>

#include "coordexp/text/object_codec.hpp"
#include "coordexp/util/error.hpp"

namespace {

using coordexp::TokenId;

constexpr TokenId kFirstCoord = 10;

void check_boxes(const coordexp::ParseResult& r) {
  for (const auto& o : r.objects) {
    const auto& b = o.box;
    if (!(0 <= b.x1 && b.x1 <= b.x2 && b.x2 <= 1 && 0 <= b.y1 && b.y1 <= b.y2 && b.y2 <= 1)) std::abort();
    if (o.desc_ids.empty()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int num_bins = 2 + data[0] % 31;
  const coordexp::CoordVocab vocab(num_bins, kFirstCoord);
  const coordexp::StructureTokens structure{4, 5, 2};
  const TokenId vocab_size = kFirstCoord + num_bins;
  std::vector<TokenId> ids;
  ids.reserve(size - 1);
  for (size_t i = 1; i < size; ++i) {
    const uint8_t b = data[i];
    if (b == 0xff)
      ids.push_back(std::numeric_limits<TokenId>::max());
    else if (b == 0xfe)
      ids.push_back(-1);
    else if (b == 0xfd)
      ids.push_back(std::numeric_limits<TokenId>::min());
    else
      ids.push_back(b % vocab_size);
  }

  const coordexp::ParseResult salvage =
      coordexp::parse_answer(ids, vocab, structure, coordexp::ParseMode::kSalvage);
  check_boxes(salvage);
  if (salvage.dropped_objects() < 0) std::abort();

  try {
    const coordexp::ParseResult strict =
        coordexp::parse_answer(ids, vocab, structure, coordexp::ParseMode::kStrict);
    check_boxes(strict);
    if (strict.objects.size() != salvage.objects.size()) std::abort();
    for (size_t i = 0; i < strict.objects.size(); ++i)
      if (strict.objects[i].span.bins != salvage.objects[i].span.bins) std::abort();
  } catch (const coordexp::InputError&) {
  }

  // Encode the salvaged objects in the order given; the strict parser must read them back exactly.
  std::vector<coordexp::DescribedBox> boxes;
  for (const auto& o : salvage.objects) boxes.push_back({o.desc_ids, o.box});
  std::vector<int64_t> order(boxes.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  const coordexp::EncodedAnswer encoded = coordexp::encode_answer(boxes, order, vocab, structure);
  const coordexp::ParseResult back =
      coordexp::parse_answer(encoded.ids, vocab, structure, coordexp::ParseMode::kStrict);
  if (back.objects.size() != salvage.objects.size() || !back.terminated) std::abort();
  for (size_t i = 0; i < back.objects.size(); ++i) {
    if (back.objects[i].desc_ids != salvage.objects[i].desc_ids) std::abort();
    // Degenerate boxes (x1 == x2) are widened by one bin on encode (object_codec.hpp), so compare loosely.
    for (int k = 0; k < 4; ++k)
      if (std::abs(back.objects[i].span.bins[k] - salvage.objects[i].span.bins[k]) > 1) std::abort();
  }
  return 0;
}
