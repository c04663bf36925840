// The BPE tokenizer's flat tables (src/text/bpe_tables.hpp) against std::unordered_map on many random keys,
// through their growth, with absent keys, repeated keys and shared ids.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

#include "../../src/text/bpe_tables.hpp"

namespace coordexp::bpe {
namespace {

std::string random_token(std::mt19937& rng) {
  std::uniform_int_distribution<int> length(1, 12), byte(0, 255);
  std::string s(size_t(length(rng)), '\0');
  for (char& c : s) c = char(byte(rng));
  return s;
}

TEST(BpeTables, VocabularyAgreesWithAHashMapThroughGrowth) {
  std::mt19937 rng(7);
  Vocabulary vocab;  // no reserve: every rehash is exercised
  std::unordered_map<std::string, TokenId> expected;
  std::vector<std::string> order;
  for (TokenId id = 0; expected.size() < 60000; ++id) {
    const std::string t = random_token(rng);
    const bool fresh = expected.emplace(t, id).second;
    EXPECT_EQ(vocab.insert(t, id), fresh);  // a repeated text is refused and keeps its first id
    if (fresh) order.push_back(t);
  }
  ASSERT_EQ(vocab.size(), expected.size());
  EXPECT_FALSE(vocab.index_ids().has_value());
  for (const auto& [text, id] : expected) {
    ASSERT_EQ(vocab.find(text), std::optional<TokenId>(id)) << text;
    ASSERT_EQ(vocab.text_of(id), std::optional<std::string_view>(text));
  }
  for (int k = 0; k < 20000; ++k) {
    const std::string t = random_token(rng) + std::string(1, '\x01') + "absent";
    EXPECT_EQ(vocab.find(t), expected.count(t) ? std::optional<TokenId>(expected[t]) : std::nullopt);
  }
  EXPECT_FALSE(vocab.find("").has_value());
  EXPECT_FALSE(vocab.text_of(-1).has_value());
  EXPECT_FALSE(vocab.text_of(1 << 30).has_value());
}

TEST(BpeTables, VocabularyReportsTwoTokensSharingAnId) {
  Vocabulary vocab;
  vocab.reserve(3);
  EXPECT_TRUE(vocab.insert("a", 5));
  EXPECT_TRUE(vocab.insert("b", 9));
  EXPECT_TRUE(vocab.insert("c", 5));
  const auto twins = vocab.index_ids();
  ASSERT_TRUE(twins.has_value());
  EXPECT_EQ(twins->first, "a");  // the earlier entry first
  EXPECT_EQ(twins->second, "c");
}

TEST(BpeTables, MergeTableKeepsTheFirstRankOfAPair) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<TokenId> id(0, 5000);
  MergeTable merges;  // no reserve: growth exercised
  std::unordered_map<uint64_t, Merge> expected;
  for (int32_t rank = 0; rank < 100000; ++rank) {
    const TokenId a = id(rng), b = id(rng);
    const Merge m{rank, TokenId(rank) + 7};
    merges.emplace(a, b, m);
    expected.emplace((uint64_t(a) << 32) | uint64_t(b), m);  // emplace keeps the first as well
  }
  for (TokenId a = 0; a <= 5000; a += 7)
    for (TokenId b = 0; b <= 5000; b += 3) {
      const auto it = expected.find((uint64_t(a) << 32) | uint64_t(b));
      const Merge* m = merges.find(a, b);
      ASSERT_EQ(m != nullptr, it != expected.end()) << a << " " << b;
      if (m) {
        EXPECT_EQ(m->rank, it->second.rank);
        EXPECT_EQ(m->merged, it->second.merged);
      }
    }
  EXPECT_EQ(MergeTable().find(1, 2), nullptr);
}

}  // namespace
}  // namespace coordexp::bpe
