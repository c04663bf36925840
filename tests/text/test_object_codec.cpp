// Coordinate vocabulary and object codec: quantisation rules, ordering rules, encoding layout, and the
// strict and salvage parsers on malformed model output.
#include <gtest/gtest.h>

#include <random>

#include "coordexp/text/object_codec.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

// Text ids 0..99, structure 100..102, coordinates from 200.
constexpr TokenId kStart = 100, kEnd = 101, kEos = 102, kCoord0 = 200;
const StructureTokens kSt{kStart, kEnd, kEos};

TEST(CoordVocab, QuantizeRoundsToNearestAndClamps) {
  const CoordVocab v(1000, kCoord0);
  EXPECT_EQ(v.quantize(0), 0);
  EXPECT_EQ(v.quantize(1), 999);
  EXPECT_EQ(v.quantize(0.5), 500);   // 499.5 rounds away from zero
  EXPECT_EQ(v.quantize(0.25), 250);  // 249.75
  EXPECT_EQ(v.quantize(-0.2), 0);
  EXPECT_EQ(v.quantize(1.7), 999);
  EXPECT_DOUBLE_EQ(v.dequantize(999), 1.0);
  EXPECT_DOUBLE_EQ(v.dequantize(333), 333.0 / 999);
  EXPECT_THROW(v.quantize(std::nan("")), InputError);
  for (int k = 0; k < 1000; ++k) EXPECT_EQ(v.quantize(v.dequantize(k)), k);
}

TEST(CoordVocab, RejectsTooFewBins) {
  EXPECT_THROW(CoordVocab(1, 0), InputError);
  EXPECT_THROW(CoordVocab(0, 0), InputError);
  EXPECT_NO_THROW(CoordVocab(2, 0));
}

TEST(ObjectCodec, ZeroWidthBoxesAreWidenedToOneBin) {
  const CoordVocab v(10, kCoord0);  // bins at multiples of 1/9
  EXPECT_EQ(quantize_box({0.5, 0.5, 0.52, 0.53}, v), (std::array<int, 4>{5, 5, 6, 6}));
  EXPECT_EQ(quantize_box({0.99, 0.0, 1.0, 0.0}, v), (std::array<int, 4>{8, 0, 9, 1}));
  EXPECT_THROW(quantize_box({0.6, 0.1, 0.5, 0.2}, v), InputError);
}

std::vector<DescribedBox> sample_objects() {
  return {{{1, 2}, {0.5, 0.1, 0.7, 0.3}}, {{3}, {0.1, 0.6, 0.2, 0.9}}, {{4}, {0.1, 0.2, 0.3, 0.4}}};
}

TEST(ObjectCodec, OrderingRules) {
  const CoordVocab v(1000, kCoord0);
  const auto objs = sample_objects();
  EXPECT_EQ(order_objects(objs, ObjectOrder::kX1Ascending, v), (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(order_objects(objs, ObjectOrder::kTopLeft, v), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(order_objects(objs, ObjectOrder::kGiven, v), (std::vector<int64_t>{0, 1, 2}));
  const auto r1 = order_objects(objs, ObjectOrder::kRandom, v, 5);
  EXPECT_EQ(r1, order_objects(objs, ObjectOrder::kRandom, v, 5));
  auto sorted = r1;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(parse_object_order("top_left"), ObjectOrder::kTopLeft);
  EXPECT_THROW(parse_object_order("left"), InputError);
}

// Raster order: the centre cell row-major ((0, 2), (1, 0), (3, 0) on a 4 x 4 grid), ties by x1 then y1
// (on a 1 x 1 grid every centre shares the cell).
TEST(ObjectCodec, RasterOrderScansCentreCells) {
  const CoordVocab v(1000, kCoord0);
  const auto objs = sample_objects();
  EXPECT_EQ(order_objects(objs, ObjectOrder::kRaster, v, 0, 4), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(order_objects(objs, ObjectOrder::kRaster, v, 0, 1), (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(parse_object_order("raster"), ObjectOrder::kRaster);
  EXPECT_EQ(object_order_name(ObjectOrder::kRaster), "raster");
  EXPECT_EQ(center_cell({0, 100, 500, 300}, 1000, 4), (std::array<int, 2>{0, 1}));
  EXPECT_EQ(center_cell({999, 999, 999, 999}, 1000, 4),
            (std::array<int, 2>{3, 3}));  // the far edge: last cell
  EXPECT_EQ(center_cell({0, 0, 0, 0}, 1000, 8), (std::array<int, 2>{0, 0}));
  EXPECT_THROW(order_objects(objs, ObjectOrder::kRaster, v, 0, 0), InputError);
}

TEST(ObjectCodec, EncodeLayoutAndRoles) {
  const CoordVocab v(1000, kCoord0);
  const auto objs = sample_objects();
  const std::vector<int64_t> order{0, 1};
  const EncodedAnswer a = encode_answer(objs, order, v, kSt);
  const std::vector<TokenId> expect = {
      kStart, 1,      2, kCoord0 + 500, kCoord0 + 100, kCoord0 + 699, kCoord0 + 300,
      kEnd,   kStart, 3, kCoord0 + 100, kCoord0 + 599, kCoord0 + 200, kCoord0 + 899,
      kEnd,   kEos};
  EXPECT_EQ(a.ids, expect);
  ASSERT_EQ(a.objects.size(), 2u);
  EXPECT_EQ(a.objects[1].source_index, 1);
  EXPECT_EQ(a.objects[1].open_pos, 8);
  EXPECT_EQ(a.objects[1].desc_pos, (std::vector<int64_t>{9}));
  EXPECT_EQ(a.objects[1].coord_pos, (std::array<int64_t, 4>{10, 11, 12, 13}));
  EXPECT_EQ(a.roles[3], TokenRole::kCoordinate);
  EXPECT_EQ(a.roles[1], TokenRole::kDescription);
  EXPECT_EQ(a.roles[15], TokenRole::kStructure);
}

TEST(ObjectCodec, DescriptionMustNotUseReservedTokens) {
  const CoordVocab v(1000, kCoord0);
  std::vector<DescribedBox> objs{{{kCoord0 + 3}, {0, 0, 1, 1}}};
  const std::vector<int64_t> order{0};
  EXPECT_THROW(encode_answer(objs, order, v, kSt), InputError);
}

TEST(ObjectCodec, EncodeThenParseRoundTrips) {
  const CoordVocab v(1000, kCoord0);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<DescribedBox> objs;
    for (int i = 0; i < 1 + trial % 7; ++i) {
      double a = u(rng), b = u(rng), c = u(rng), d = u(rng);
      objs.push_back({{static_cast<TokenId>(i % 5), 7},
                      {std::min(a, b), std::min(c, d), std::max(a, b), std::max(c, d)}});
    }
    const auto order = order_objects(objs, ObjectOrder::kRandom, v, trial);
    const EncodedAnswer enc = encode_answer(objs, order, v, kSt);
    const ParseResult p = parse_answer(enc.ids, v, kSt, ParseMode::kStrict);
    ASSERT_EQ(p.objects.size(), objs.size());
    EXPECT_TRUE(p.terminated);
    for (size_t k = 0; k < objs.size(); ++k) {
      EXPECT_EQ(p.objects[k].desc_ids, objs[order[k]].desc_ids);
      EXPECT_EQ(p.objects[k].span.bins, enc.objects[k].bins);
      EXPECT_EQ(p.objects[k].span.coord_pos, enc.objects[k].coord_pos);
      EXPECT_NEAR(p.objects[k].box.x1, objs[order[k]].box.x1, 0.5 / 999 + 1e-12);
    }
  }
}

struct MalformedCase {
  const char* name;
  std::vector<TokenId> ids;
  ParseIssue issue;
  size_t kept;  // objects salvage keeps
  int64_t strict_error_pos;
};

std::vector<TokenId> good(TokenId desc) {
  return {kStart, desc, kCoord0 + 1, kCoord0 + 2, kCoord0 + 3, kCoord0 + 4, kEnd};
}

std::vector<TokenId> cat(std::initializer_list<std::vector<TokenId>> parts) {
  std::vector<TokenId> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(ObjectParser, MalformedOutputStrictAndSalvage) {
  const CoordVocab v(1000, kCoord0);
  const std::vector<MalformedCase> cases = {
      {"missing coordinates", cat({good(1), {kStart, 2, kCoord0, kCoord0, kEnd}, good(3), {kEos}}),
       ParseIssue::kMissingCoordinates, 2, 11},
      {"coordinate inside description",
       cat({{kStart, 2, kCoord0, 5, kCoord0, kCoord0, kCoord0, kEnd}, good(3), {kEos}}),
       ParseIssue::kCoordinateInDescription, 1, 3},
      {"too many coordinates",
       cat({{kStart, 2, kCoord0, kCoord0, kCoord0, kCoord0, kCoord0, kEnd}, good(3), {kEos}}),
       ParseIssue::kTooManyCoordinates, 1, 6},
      {"empty description", cat({{kStart, kCoord0, kCoord0, kCoord0, kCoord0, kEnd}, good(3), {kEos}}),
       ParseIssue::kEmptyDescription, 1, 1},
      {"unclosed object", cat({{kStart, 2, kCoord0, kCoord0}, good(3), {kEos}}), ParseIssue::kUnclosedObject,
       1, 4},
      {"answer end inside object", cat({good(3), {kStart, 2, kEos}}), ParseIssue::kUnclosedObject, 1, 9},
      {"truncated tail", cat({good(3), {kStart, 2, kCoord0 + 5}}), ParseIssue::kTruncatedTail, 1, 10},
      {"stray tokens", cat({{5, kCoord0}, good(3), {kEnd}, good(4), {kEos}}), ParseIssue::kStrayToken, 2, 0},
      {"inverted box", cat({{kStart, 2, kCoord0 + 9, kCoord0 + 1, kCoord0 + 3, kCoord0 + 4, kEnd}, {kEos}}),
       ParseIssue::kInvertedBox, 1, 6},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const ParseResult p = parse_answer(c.ids, v, kSt, ParseMode::kSalvage);
    EXPECT_EQ(p.objects.size(), c.kept);
    EXPECT_GE(p.issues[static_cast<int>(c.issue)], 1);
    try {
      parse_answer(c.ids, v, kSt, ParseMode::kStrict);
      ADD_FAILURE() << "strict mode accepted " << c.name;
    } catch (const InputError& e) {
      const std::string want = "model output token " + std::to_string(c.strict_error_pos) + ":";
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

TEST(ObjectParser, SalvageRepairsInvertedBoxAndKeepsCounts) {
  const CoordVocab v(1000, kCoord0);
  const std::vector<TokenId> ids = {kStart,      2,           kCoord0 + 9, kCoord0 + 1,
                                    kCoord0 + 3, kCoord0 + 4, kEnd,        kEos};
  const ParseResult p = parse_answer(ids, v, kSt, ParseMode::kSalvage);
  ASSERT_EQ(p.objects.size(), 1u);
  EXPECT_EQ(p.objects[0].span.bins, (std::array<int, 4>{3, 1, 9, 4}));
  EXPECT_EQ(p.dropped_objects(), 0);
}

TEST(ObjectParser, EmptyAndUnterminatedSequences) {
  const CoordVocab v(1000, kCoord0);
  const ParseResult empty = parse_answer({}, v, kSt, ParseMode::kStrict);
  EXPECT_TRUE(empty.objects.empty());
  EXPECT_FALSE(empty.terminated);
  const auto ids = good(3);
  const ParseResult unterminated = parse_answer(ids, v, kSt, ParseMode::kSalvage);
  EXPECT_EQ(unterminated.objects.size(), 1u);
  EXPECT_FALSE(unterminated.terminated);
}

TEST(ObjectParser, RandomTokenSoupNeverCrashes) {
  const CoordVocab v(20, kCoord0);
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int> pick(0, 4);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<TokenId> ids(rng() % 40);
    for (auto& id : ids) {
      const int k = pick(rng);
      id = k == 0 ? kStart : k == 1 ? kEnd : k == 2 ? TokenId(rng() % 100) : kCoord0 + TokenId(rng() % 20);
    }
    const ParseResult p = parse_answer(ids, v, kSt, ParseMode::kSalvage);
    for (const auto& o : p.objects) {
      EXPECT_FALSE(o.desc_ids.empty());
      EXPECT_LE(o.box.x1, o.box.x2);
      EXPECT_LE(o.box.y1, o.box.y2);
    }
  }
}

}  // namespace
}  // namespace coordexp
