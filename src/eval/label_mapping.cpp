// Free-text label mapping; see include/coordexp/eval/label_mapping.hpp.
#include "coordexp/eval/label_mapping.hpp"

#include <cctype>
#include <nlohmann/json.hpp>

#include "coordexp/util/error.hpp"

namespace coordexp {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string singular(std::string w) {
  if (w.size() > 4 && ends_with(w, "ies")) return w.substr(0, w.size() - 3) + "y";
  if (w.size() > 4 && (ends_with(w, "sses") || ends_with(w, "xes") || ends_with(w, "ches") ||
                       ends_with(w, "shes") || ends_with(w, "zzes")))
    return w.substr(0, w.size() - 2);
  if (w.size() > 3 && ends_with(w, "s") && !ends_with(w, "ss") && !ends_with(w, "us") && !ends_with(w, "is"))
    return w.substr(0, w.size() - 1);
  return w;
}

}  // namespace

std::string normalize_label(std::string_view text) {
  std::string out, word;
  auto flush = [&] {
    if (word.empty()) return;
    if (!out.empty()) out += ' ';
    out += singular(word);
    word.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80)
      word += char(std::tolower(c));  // bytes of UTF-8 text stay as they are
    else if (c == '\'')
      continue;  // "person's" -> "persons" -> "person"
    else
      flush();
  }
  flush();
  return out;
}

std::unordered_map<std::string, std::vector<std::string>> load_label_synonyms(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(path, "valid JSON {\"category name\": [\"synonym\", ...]}",
                      std::string("malformed JSON (") + e.what() + ")");
  }
  if (!j.is_object())
    throw_input_error(path, "a JSON object {\"category name\": [\"synonym\", ...]}", j.type_name());
  std::unordered_map<std::string, std::vector<std::string>> out;
  for (auto& [key, value] : j.items()) {
    if (!value.is_array()) throw_input_error(path + ": " + key, "an array of strings", value.type_name());
    for (size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string())
        throw_input_error(path + ": " + key + "[" + std::to_string(i) + "]", "a string",
                          value[i].type_name());
      out[key].push_back(value[i].get<std::string>());
    }
  }
  return out;
}

LabelMapper::LabelMapper(const std::vector<CocoCategory>& categories, LabelMapperConfig config,
                         std::shared_ptr<const LabelEmbedder> embedder)
    : config_(std::move(config)), embedder_(std::move(embedder)) {
  if (!embedder_) embedder_ = std::make_shared<CharNgramEmbedder>();
  std::unordered_map<std::string, int64_t> by_name;
  for (const auto& cat : categories) {
    const std::string key = normalize_label(cat.name);
    exact_.emplace(key, cat.id);
    by_name.emplace(cat.name, cat.id);
    for (const auto& syn : cat.synonyms) synonym_.emplace(normalize_label(syn), cat.id);  // LVIS synonyms
    if (config_.use_embedding) name_vectors_.emplace_back(cat.id, embedder_->embed(key));
  }
  for (const auto& [name, synonyms] : config_.synonyms) {
    // Keys name a category by its name as written, or as normalised.
    int64_t id = 0;
    if (auto named = by_name.find(name); named != by_name.end()) {
      id = named->second;
    } else if (auto normal = exact_.find(normalize_label(name)); normal != exact_.end()) {
      id = normal->second;
    } else {
      throw_input_error("synonyms: " + name, "the name of a dataset category", "no such category");
    }
    for (const auto& syn : synonyms) synonym_.emplace(normalize_label(syn), id);
  }
}

LabelMatch LabelMapper::map(std::string_view description) const {
  const std::string key = normalize_label(description);
  if (key.empty()) return {};
  if (auto it = exact_.find(key); it != exact_.end())
    return {LabelMatchKind::kLabelMatchExact, it->second, 1.0};
  if (auto it = synonym_.find(key); it != synonym_.end())
    return {LabelMatchKind::kLabelMatchSynonym, it->second, 1.0};
  if (!config_.use_embedding || name_vectors_.empty()) return {};
  const auto v = embedder_->embed(key);
  double best = -2;
  int64_t best_id = 0;
  for (const auto& [id, vec] : name_vectors_) {
    const double c = cosine_similarity(v, vec);
    if (c > best) {  // ties keep the first category in dataset order
      best = c;
      best_id = id;
    }
  }
  if (best >= config_.min_cosine) return {LabelMatchKind::kLabelMatchEmbedding, best_id, best};
  return {LabelMatchKind::kLabelMatchDropped, 0, best};
}

DetectionResults map_result_labels(const DetectionResults& results, const LabelMapper& mapper,
                                   LabelMappingCounts& counts) {
  DetectionResults out;
  out.source = results.source;
  out.skipped_invalid_box = results.skipped_invalid_box;
  out.detections.reserve(results.detections.size());
  for (const auto& det : results.detections) {
    if (det.has_category) {
      ++counts.kept_category;
      out.detections.push_back(det);
      continue;
    }
    const LabelMatch m = mapper.map(det.description);
    switch (m.kind) {
      case LabelMatchKind::kLabelMatchExact:
        ++counts.exact;
        break;
      case LabelMatchKind::kLabelMatchSynonym:
        ++counts.synonym;
        break;
      case LabelMatchKind::kLabelMatchEmbedding:
        ++counts.embedding;
        break;
      case LabelMatchKind::kLabelMatchDropped:
        ++counts.dropped;
        continue;
    }
    Detection mapped = det;
    mapped.category_id = m.category_id;
    mapped.has_category = true;
    out.detections.push_back(std::move(mapped));  // index keeps the file position (pycocotools' id - 1)
  }
  return out;
}

}  // namespace coordexp
