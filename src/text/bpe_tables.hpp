// Private to src/text: the BPE tokenizer's two large tables, built once when tokenizer.json is read and then
// only looked up. Both are open-addressing tables in a few flat arrays, with no allocation per entry, so a
// 151k-token vocabulary and its merges load in milliseconds and stay in cache better when encoding.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordexp/text/coord_vocab.hpp"

namespace coordexp::bpe {

// Token text <-> id. Texts live in one buffer; a table of entry indices, hashed by text, finds an id; a list
// sorted by id finds a text (built by index_ids() after the last insert).
class Vocabulary {
 public:
  void reserve(size_t n) {
    entries_.reserve(n);
    rehash(std::max<size_t>(16, std::bit_ceil(2 * n + 1)));
  }

  // Adds `text` with `id`; false (and nothing added) when the text is already there.
  bool insert(std::string_view text, TokenId id) {
    if (2 * (entries_.size() + 1) > slots_.size()) rehash(std::max<size_t>(16, 2 * slots_.size()));
    const uint64_t h = std::hash<std::string_view>{}(text);
    size_t slot = h & (slots_.size() - 1);
    for (; slots_[slot] >= 0; slot = (slot + 1) & (slots_.size() - 1))
      if (entries_[slots_[slot]].hash == h && text_at(slots_[slot]) == text) return false;
    slots_[slot] = int32_t(entries_.size());
    entries_.push_back({h, arena_.size(), uint32_t(text.size()), id});
    arena_.append(text);
    return true;
  }

  std::optional<TokenId> find(std::string_view text) const {
    if (slots_.empty()) return std::nullopt;
    const uint64_t h = std::hash<std::string_view>{}(text);
    for (size_t slot = h & (slots_.size() - 1); slots_[slot] >= 0; slot = (slot + 1) & (slots_.size() - 1)) {
      const Entry& e = entries_[slots_[slot]];
      if (e.hash == h && text_at(slots_[slot]) == text) return e.id;
    }
    return std::nullopt;
  }
  bool contains(std::string_view text) const { return find(text).has_value(); }

  // Sorts the id index; returns the texts of two entries sharing an id (the later one second), if any.
  std::optional<std::pair<std::string_view, std::string_view>> index_ids() {
    by_id_.resize(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) by_id_[i] = uint32_t(i);
    std::sort(by_id_.begin(), by_id_.end(), [&](uint32_t a, uint32_t b) {
      return entries_[a].id != entries_[b].id ? entries_[a].id < entries_[b].id : a < b;
    });
    for (size_t i = 1; i < by_id_.size(); ++i)
      if (entries_[by_id_[i]].id == entries_[by_id_[i - 1]].id)
        return std::pair{text_at(by_id_[i - 1]), text_at(by_id_[i])};
    return std::nullopt;
  }

  std::optional<std::string_view> text_of(TokenId id) const {
    const auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id,
                                     [&](uint32_t e, TokenId want) { return entries_[e].id < want; });
    if (it == by_id_.end() || entries_[*it].id != id) return std::nullopt;
    return text_at(*it);
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint64_t hash;
    size_t offset;  // into arena_
    uint32_t length;
    TokenId id;
  };

  std::string_view text_at(size_t entry) const {
    return std::string_view(arena_).substr(entries_[entry].offset, entries_[entry].length);
  }

  void rehash(size_t slots) {
    slots_.assign(slots, -1);
    for (size_t i = 0; i < entries_.size(); ++i) {
      size_t slot = entries_[i].hash & (slots - 1);
      while (slots_[slot] >= 0) slot = (slot + 1) & (slots - 1);
      slots_[slot] = int32_t(i);
    }
  }

  std::string arena_;
  std::vector<Entry> entries_;
  std::vector<int32_t> slots_;   // entry index or -1; a power of two, at most half full
  std::vector<uint32_t> by_id_;  // entry indices by ascending id (index_ids)
};

// What a merge of the pair (left id, right id) makes, and its rank (lower merges first).
struct Merge {
  int32_t rank;
  TokenId merged;
};

// (left id, right id) -> Merge, keeping the first merge of a repeated pair (its best rank).
class MergeTable {
 public:
  void reserve(size_t n) { rehash(std::max<size_t>(16, std::bit_ceil(2 * n + 1))); }

  void emplace(TokenId left, TokenId right, Merge merge) {
    if (2 * (size_ + 1) > slots_.size()) rehash(std::max<size_t>(16, 2 * slots_.size()));
    const uint64_t k = key(left, right);
    size_t slot = place(k, slots_.size());
    for (; slots_[slot].key != kEmpty; slot = (slot + 1) & (slots_.size() - 1))
      if (slots_[slot].key == k) return;
    slots_[slot] = {k, merge};
    ++size_;
  }

  const Merge* find(TokenId left, TokenId right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t k = key(left, right);
    for (size_t slot = place(k, slots_.size()); slots_[slot].key != kEmpty;
         slot = (slot + 1) & (slots_.size() - 1))
      if (slots_[slot].key == k) return &slots_[slot].merge;
    return nullptr;
  }

 private:
  static constexpr uint64_t kEmpty = std::numeric_limits<uint64_t>::max();  // ids are below 2^31
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  static uint64_t key(TokenId a, TokenId b) { return (uint64_t(a) << 32) | uint64_t(uint32_t(b)); }
  static size_t place(uint64_t k, size_t slots) {  // Fibonacci hashing: the high bits of k * 2^64 / phi
    return size_t((k * 0x9E3779B97F4A7C15ull) >> (64 - std::countr_zero(slots)));
  }
  void rehash(size_t slots) {
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(slots));
    for (const Slot& s : old)
      if (s.key != kEmpty) {
        size_t slot = place(s.key, slots);
        while (slots_[slot].key != kEmpty) slot = (slot + 1) & (slots - 1);
        slots_[slot] = s;
      }
  }

  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t size_ = 0;
};

}  // namespace coordexp::bpe
