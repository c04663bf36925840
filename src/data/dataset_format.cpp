// Telling a dataset file's format from its content (the rules are in detection_dataset.hpp) and handing it
// to its reader. The file is read once and a COCO-family document parsed once, however large.
#include <algorithm>
#include <string_view>

#include "../util/json_fields.hpp"
#include "coordexp/data/detection_dataset.hpp"
#include "dataset_build.hpp"
#include "dataset_json.hpp"

namespace coordexp {

namespace {

namespace dom = simdjson::dom;

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

bool has_key(dom::element e, std::string_view key) {
  dom::element value;
  return e.is_object() && json_fields::find(dom::object(e), key, value);
}

// JSON Lines rather than one document: the first non-blank line parses on its own as an object without
// "images", and something follows it. `text` lies in a padded buffer, so the line is parsed in place.
bool is_json_lines(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = std::min(text.find('\n', begin), text.size());
    if (is_blank(text.substr(begin, end - begin))) {
      begin = end + 1;
      continue;
    }
    if (is_blank(text.substr(end))) return false;  // one line: one document
    dom::parser parser;
    dom::element first;
    if (parser.parse(text.data() + begin, end - begin, false).get(first)) return false;  // a document's "{"
    return first.is_object() && !has_key(first, "images");
  }
  return false;
}

}  // namespace

bool coco_looks_like_lvis(const CocoDataset& coco) {
  const bool has_frequency = std::any_of(coco.categories.begin(), coco.categories.end(),
                                         [](const CocoCategory& c) { return !c.frequency.empty(); });
  const bool has_federated_lists =
      std::any_of(coco.images.begin(), coco.images.end(), [](const CocoImage& img) {
        return !img.neg_category_ids.empty() || !img.not_exhaustive_category_ids.empty();
      });
  return has_frequency && has_federated_lists;
}

bool coco_looks_like_refexp(const CocoDataset& coco) {
  return std::any_of(coco.images.begin(), coco.images.end(),
                     [](const CocoImage& img) { return !img.caption.empty(); });
}

DetectionDataset load_detection_dataset_allow_empty(const std::string& json_path,
                                                    const std::string& image_root, bool use_description) {
  const simdjson::padded_string text = json_fields::load_padded(json_path);
  const std::string_view all(text.data(), text.size());
  const auto root = dataset_build::image_root_for(json_path, image_root);
  if (is_json_lines(all))
    return odvg_detection_dataset(dataset_build::parse_odvg_padded(all, json_path), json_path, root.string());
  dom::parser parser;
  const dom::element document = json_fields::parse_document(parser, all, json_path, true);
  if (has_key(document, "filename") && !has_key(document, "images"))  // a one-line ODVG file
    return odvg_detection_dataset(dataset_build::parse_odvg_padded(all, json_path), json_path, root.string());
  return dataset_build::coco_family_dataset(coco_dataset_from_json(document, json_path), root,
                                            use_description);
}

}  // namespace coordexp
