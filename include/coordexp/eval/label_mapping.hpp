// Maps free-text descriptions from a V-LLM ("Red Stars!") to dataset categories, in order: exact match
// after normalisation (case, punctuation, plural), then a synonyms list (JSON file and LVIS synonyms),
// then the nearest category name by text-embedding cosine if it reaches a threshold; otherwise dropped.
// Every outcome is counted so a report can say how much of the score came from each rule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/detection_results.hpp"
#include "coordexp/eval/label_embedder.hpp"

namespace coordexp {

// Lower case, punctuation and runs of spaces to one space, trimmed, each word singularised with
// English plural rules ("boxes" -> "box", "berries" -> "berry", "glass" stays).
std::string normalize_label(std::string_view text);

// Reads {"category name": ["synonym", ...], ...}; throws InputError naming the file and key.
std::unordered_map<std::string, std::vector<std::string>> load_label_synonyms(const std::string& path);

struct LabelMapperConfig {
  double min_cosine = 0.6;    // embedding fallback accepts the nearest category at or above this cosine
  bool use_embedding = true;  // false: exact and synonym matches only
  std::unordered_map<std::string, std::vector<std::string>> synonyms;  // category name -> synonyms
};

enum class LabelMatchKind { kLabelMatchExact, kLabelMatchSynonym, kLabelMatchEmbedding, kLabelMatchDropped };

struct LabelMatch {
  LabelMatchKind kind = LabelMatchKind::kLabelMatchDropped;
  int64_t category_id = 0;  // valid unless dropped
  double cosine = 0;        // embedding similarity (1 for exact and synonym matches)
};

struct LabelMappingCounts {
  int64_t exact = 0, synonym = 0, embedding = 0, dropped = 0;
  int64_t kept_category = 0;  // entries that already had a category_id
};

class LabelMapper {
 public:
  // `embedder` defaults to CharNgramEmbedder. Unknown synonym keys (no such category) are InputErrors.
  LabelMapper(const std::vector<CocoCategory>& categories, LabelMapperConfig config = {},
              std::shared_ptr<const LabelEmbedder> embedder = nullptr);
  LabelMatch map(std::string_view description) const;

 private:
  LabelMapperConfig config_;
  std::shared_ptr<const LabelEmbedder> embedder_;
  std::unordered_map<std::string, int64_t> exact_, synonym_;
  std::vector<std::pair<int64_t, std::vector<float>>> name_vectors_;
};

// Fills category_id of detections that carry only a description; drops those that map to nothing.
DetectionResults map_result_labels(const DetectionResults& results, const LabelMapper& mapper,
                                   LabelMappingCounts& counts);

}  // namespace coordexp
