// Object codec: encoding described boxes into answer tokens and parsing generated answers back
// (see object_codec.hpp for the grammar and the salvage rules).
#include "coordexp/text/object_codec.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "coordexp/util/error.hpp"

namespace coordexp {

ObjectOrder parse_object_order(const std::string& name) {
  if (name == "x1") return ObjectOrder::kX1Ascending;
  if (name == "top_left") return ObjectOrder::kTopLeft;
  if (name == "random") return ObjectOrder::kRandom;
  if (name == "given") return ObjectOrder::kGiven;
  if (name == "raster") return ObjectOrder::kRaster;
  throw_input_error("object order", "one of x1, top_left, random, given, raster", "\"" + name + "\"");
}

std::string object_order_name(ObjectOrder order) {
  switch (order) {
    case ObjectOrder::kX1Ascending:
      return "x1";
    case ObjectOrder::kTopLeft:
      return "top_left";
    case ObjectOrder::kRandom:
      return "random";
    case ObjectOrder::kGiven:
      return "given";
    case ObjectOrder::kRaster:
      return "raster";
  }
  return "?";
}

namespace {

// Quantises [lo, hi] to bins with the one-bin minimum width.
std::pair<int, int> quantize_interval(double lo, double hi, const CoordVocab& vocab) {
  int a = vocab.quantize(lo), b = vocab.quantize(hi);
  if (a == b) {
    if (b < vocab.num_bins() - 1)
      ++b;
    else
      --a;
  }
  return {a, b};
}

}  // namespace

std::array<int, 4> quantize_box(const BoxXYXY& box, const CoordVocab& vocab) {
  if (box.x1 > box.x2 || box.y1 > box.y2) {
    throw_input_error("box", "x1 <= x2 and y1 <= y2",
                      "(" + std::to_string(box.x1) + ", " + std::to_string(box.y1) + ", " +
                          std::to_string(box.x2) + ", " + std::to_string(box.y2) + ")");
  }
  auto [x1, x2] = quantize_interval(box.x1, box.x2, vocab);
  auto [y1, y2] = quantize_interval(box.y1, box.y2, vocab);
  return {x1, y1, x2, y2};
}

BoxXYXY dequantize_box(const std::array<int, 4>& bins, const CoordVocab& vocab) {
  return {vocab.dequantize(bins[0]), vocab.dequantize(bins[1]), vocab.dequantize(bins[2]),
          vocab.dequantize(bins[3])};
}

std::array<int, 2> center_cell(const std::array<int, 4>& bins, int num_bins, int grid) {
  // centre = (phi(a) + phi(b)) / 2 with phi(k) = k / (K - 1); cell = floor(centre * grid), clamped
  const int64_t denom = 2 * static_cast<int64_t>(std::max(1, num_bins - 1));
  auto cell = [&](int a, int b) {
    const int64_t c = (static_cast<int64_t>(a) + b) * grid / denom;
    return static_cast<int>(std::clamp<int64_t>(c, 0, grid - 1));
  };
  return {cell(bins[1], bins[3]), cell(bins[0], bins[2])};
}

std::vector<int64_t> order_objects(std::span<const DescribedBox> objects, ObjectOrder order,
                                   const CoordVocab& vocab, uint64_t seed, int raster_grid) {
  std::vector<int64_t> perm(objects.size());
  std::iota(perm.begin(), perm.end(), 0);
  if (order == ObjectOrder::kGiven) return perm;
  if (order == ObjectOrder::kRandom) {
    std::mt19937_64 rng(seed);
    std::shuffle(perm.begin(), perm.end(), rng);
    return perm;
  }
  std::vector<std::array<int, 4>> bins;
  bins.reserve(objects.size());
  for (const auto& o : objects) bins.push_back(quantize_box(o.box, vocab));
  if (order == ObjectOrder::kRaster) {
    COORDEXP_CHECK_ARG(raster_grid >= 1, "raster_grid", ">= 1", std::to_string(raster_grid));
    std::vector<std::array<int, 4>> keys;
    for (const auto& b : bins) {
      const auto c = center_cell(b, vocab.num_bins(), raster_grid);
      keys.push_back({c[0], c[1], b[0], b[1]});
    }
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
    return perm;
  }
  const bool x_first = order == ObjectOrder::kX1Ascending;
  std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
    const auto& ba = bins[a];
    const auto& bb = bins[b];
    return x_first ? std::pair(ba[0], ba[1]) < std::pair(bb[0], bb[1])
                   : std::pair(ba[1], ba[0]) < std::pair(bb[1], bb[0]);
  });
  return perm;
}

EncodedAnswer encode_answer(std::span<const DescribedBox> objects, std::span<const int64_t> order,
                            const CoordVocab& vocab, const StructureTokens& structure) {
  EncodedAnswer out;
  auto push = [&](TokenId id, TokenRole role) {
    out.ids.push_back(id);
    out.roles.push_back(role);
    return static_cast<int64_t>(out.ids.size()) - 1;
  };
  for (int64_t idx : order) {
    COORDEXP_CHECK_ARG(idx >= 0 && idx < static_cast<int64_t>(objects.size()), "order",
                       "indices into the object list", std::to_string(idx));
    const DescribedBox& obj = objects[idx];
    ObjectSpan span;
    span.source_index = idx;
    span.open_pos = push(structure.obj_start, TokenRole::kStructure);
    for (TokenId id : obj.desc_ids) {
      if (vocab.is_coord(id) || id == structure.obj_start || id == structure.obj_end ||
          id == structure.answer_end)
        throw_input_error("object " + std::to_string(idx) + " description", "text token ids",
                          "coordinate or structure token id " + std::to_string(id),
                          "coordinate tokens only ever encode box coordinates");
      span.desc_pos.push_back(push(id, TokenRole::kDescription));
    }
    span.bins = quantize_box(obj.box, vocab);
    for (int c = 0; c < 4; ++c)
      span.coord_pos[c] = push(vocab.id_of_bin(span.bins[c]), TokenRole::kCoordinate);
    push(structure.obj_end, TokenRole::kStructure);
    out.objects.push_back(std::move(span));
  }
  push(structure.answer_end, TokenRole::kStructure);
  return out;
}

const char* parse_issue_name(ParseIssue issue) {
  switch (issue) {
    case ParseIssue::kMissingCoordinates:
      return "missing_coordinates";
    case ParseIssue::kCoordinateInDescription:
      return "coordinate_in_description";
    case ParseIssue::kTooManyCoordinates:
      return "too_many_coordinates";
    case ParseIssue::kEmptyDescription:
      return "empty_description";
    case ParseIssue::kUnclosedObject:
      return "unclosed_object";
    case ParseIssue::kTruncatedTail:
      return "truncated_tail";
    case ParseIssue::kStrayToken:
      return "stray_token";
    case ParseIssue::kInvertedBox:
      return "inverted_box";
    case ParseIssue::kCount:
      break;
  }
  return "?";
}

int64_t ParseResult::dropped_objects() const {
  int64_t n = 0;
  for (int k = 0; k < static_cast<int>(ParseIssue::kCount); ++k) {
    const auto issue = static_cast<ParseIssue>(k);
    if (issue != ParseIssue::kStrayToken && issue != ParseIssue::kInvertedBox) n += issues[k];
  }
  return n;
}

namespace {

class AnswerParser {
 public:
  AnswerParser(std::span<const TokenId> ids, const CoordVocab& vocab, const StructureTokens& st,
               ParseMode mode)
      : ids_(ids), vocab_(vocab), st_(st), strict_(mode == ParseMode::kStrict) {}

  ParseResult run() {
    for (pos_ = 0; pos_ < static_cast<int64_t>(ids_.size()); ++pos_) {
      const TokenId id = ids_[pos_];
      if (id == st_.answer_end) {
        if (state_ == State::kDescription || state_ == State::kCoordinates)
          drop(ParseIssue::kUnclosedObject, "<obj_end> before the end of the answer");
        result_.terminated = true;
        return std::move(result_);
      }
      if (id == st_.obj_start)
        on_obj_start();
      else if (id == st_.obj_end)
        on_obj_end();
      else if (vocab_.is_coord(id))
        on_coord(id);
      else
        on_text(id);
    }
    if (state_ != State::kOutside && state_ != State::kSkipping)
      drop(ParseIssue::kTruncatedTail, "<obj_end> before the end of the sequence");
    return std::move(result_);
  }

 private:
  enum class State { kOutside, kDescription, kCoordinates, kSkipping };

  // Records a violation: strict mode throws, salvage mode drops the open object and skips to its end.
  void drop(ParseIssue issue, const std::string& expected) {
    if (strict_) fail(expected);
    ++result_.issues[static_cast<int>(issue)];
    state_ = State::kSkipping;
  }

  [[noreturn]] void fail(const std::string& expected) const {
    const std::string found =
        pos_ < static_cast<int64_t>(ids_.size()) ? describe(ids_[pos_]) : "end of sequence";
    throw_input_error("model output token " + std::to_string(pos_), expected, found);
  }

  std::string describe(TokenId id) const {
    if (id == st_.obj_start) return "<obj_start>";
    if (id == st_.obj_end) return "<obj_end>";
    if (id == st_.answer_end) return "answer end";
    if (vocab_.is_coord(id)) return CoordVocab::token_text(vocab_.bin_of(id));
    return "text token " + std::to_string(id);
  }

  void on_obj_start() {
    if (state_ == State::kDescription || state_ == State::kCoordinates)
      drop(ParseIssue::kUnclosedObject, "<obj_end> before the next <obj_start>");
    cur_ = ParsedObject{};
    cur_.span.open_pos = pos_;
    ncoords_ = 0;
    state_ = State::kDescription;
  }

  void on_obj_end() {
    switch (state_) {
      case State::kOutside:
        stray("<obj_start> or the answer end");
        return;
      case State::kSkipping:
        state_ = State::kOutside;
        return;
      case State::kDescription:
      case State::kCoordinates:
        if (ncoords_ < 4) {
          drop(ParseIssue::kMissingCoordinates, "4 coordinate tokens before <obj_end>");
          state_ = State::kOutside;
          return;
        }
        finish_object();
        state_ = State::kOutside;
        return;
    }
  }

  void on_coord(TokenId id) {
    switch (state_) {
      case State::kOutside:
        stray("<obj_start> or the answer end");
        return;
      case State::kSkipping:
        return;
      case State::kDescription:
        if (cur_.desc_ids.empty()) {
          drop(ParseIssue::kEmptyDescription, "a description token after <obj_start>");
          return;
        }
        state_ = State::kCoordinates;
        [[fallthrough]];
      case State::kCoordinates:
        if (ncoords_ == 4) {
          drop(ParseIssue::kTooManyCoordinates, "<obj_end> after 4 coordinates");
          return;
        }
        cur_.span.bins[ncoords_] = vocab_.bin_of(id);
        cur_.span.coord_pos[ncoords_] = pos_;
        ++ncoords_;
        return;
    }
  }

  void on_text(TokenId id) {
    switch (state_) {
      case State::kOutside:
        stray("<obj_start> or the answer end");
        return;
      case State::kSkipping:
        return;
      case State::kDescription:
        cur_.desc_ids.push_back(id);
        cur_.span.desc_pos.push_back(pos_);
        return;
      case State::kCoordinates:
        drop(ParseIssue::kCoordinateInDescription,
             ncoords_ < 4 ? "a coordinate token" : "<obj_end> after 4 coordinates");
        return;
    }
  }

  void stray(const std::string& expected) {
    if (strict_) fail(expected);
    ++result_.issues[static_cast<int>(ParseIssue::kStrayToken)];
  }

  void finish_object() {
    auto& b = cur_.span.bins;
    if (b[0] > b[2] || b[1] > b[3]) {
      if (strict_) fail("x1 <= x2 and y1 <= y2 in the object's coordinates");
      ++result_.issues[static_cast<int>(ParseIssue::kInvertedBox)];
      if (b[0] > b[2]) std::swap(b[0], b[2]);
      if (b[1] > b[3]) std::swap(b[1], b[3]);
    }
    cur_.close_pos = static_cast<int>(pos_);
    cur_.box = dequantize_box(b, vocab_);
    result_.objects.push_back(std::move(cur_));
  }

  std::span<const TokenId> ids_;
  const CoordVocab& vocab_;
  const StructureTokens& st_;
  bool strict_;
  int64_t pos_ = 0;
  State state_ = State::kOutside;
  ParsedObject cur_;
  int ncoords_ = 0;
  ParseResult result_;
};

}  // namespace

ParseResult parse_answer(std::span<const TokenId> ids, const CoordVocab& vocab,
                         const StructureTokens& structure, ParseMode mode) {
  return AnswerParser(ids, vocab, structure, mode).run();
}

}  // namespace coordexp
