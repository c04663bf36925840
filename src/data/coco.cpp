// COCO/LVIS dataset reading (simdjson DOM) and writing (nlohmann_json). Every field error names the
// file, the array index and the field; see include/coordexp/data/coco.hpp for the contract.
#include "coordexp/data/coco.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../util/json_fields.hpp"
#include "dataset_json.hpp"

namespace coordexp {

namespace {

using json_fields::Location;
namespace dom = simdjson::dom;

std::vector<int64_t> read_id_list(dom::object obj, std::string_view key, const Location& loc) {
  std::vector<int64_t> ids;
  dom::element e;
  if (!json_fields::find(obj, key, e) || e.is_null()) return ids;
  if (!e.is_array())
    throw_input_error(loc.field(key), "an array of integer ids", json_fields::type_name(e.type()));
  for (dom::element id : dom::array(e)) ids.push_back(json_fields::as_int64(id, loc, key));
  return ids;
}

BoxXYWH read_bbox(dom::object obj, const Location& loc) {
  dom::element e;
  if (!json_fields::find(obj, "bbox", e)) json_fields::missing(loc, "bbox", "[x, y, w, h]");
  if (!e.is_array()) throw_input_error(loc.field("bbox"), "[x, y, w, h]", json_fields::type_name(e.type()));
  dom::array arr(e);
  if (arr.size() != 4)
    throw_input_error(loc.field("bbox"), "4 numbers [x, y, w, h]", std::to_string(arr.size()) + " values");
  double v[4];
  size_t i = 0;
  for (dom::element x : arr) v[i++] = json_fields::as_number(x, loc, "bbox");
  return {v[0], v[1], v[2], v[3]};
}

CocoImage read_image(dom::object obj, const Location& loc) {
  CocoImage img;
  img.id = json_fields::require_int64(obj, "id", loc);
  img.file_name = json_fields::optional_string(obj, "file_name", loc);
  img.width = json_fields::optional_int64(obj, "width", loc, 0);
  img.height = json_fields::optional_int64(obj, "height", loc, 0);
  img.neg_category_ids = read_id_list(obj, "neg_category_ids", loc);
  img.not_exhaustive_category_ids = read_id_list(obj, "not_exhaustive_category_ids", loc);
  img.caption = json_fields::optional_string(obj, "caption", loc);
  return img;
}

CocoAnnotation read_annotation(dom::object obj, const Location& loc) {
  CocoAnnotation ann;
  ann.id = json_fields::require_int64(obj, "id", loc);
  ann.image_id = json_fields::require_int64(obj, "image_id", loc);
  ann.category_id = json_fields::require_int64(obj, "category_id", loc);
  ann.bbox = read_bbox(obj, loc);
  if (ann.bbox.w < 0 || ann.bbox.h < 0)
    throw_input_error(loc.field("bbox"), "non-negative width and height",
                      "w=" + std::to_string(ann.bbox.w) + ", h=" + std::to_string(ann.bbox.h),
                      "COCO boxes are [x, y, width, height], not [x1, y1, x2, y2]");
  dom::element e;
  if (json_fields::find(obj, "area", e) && !e.is_null()) {
    ann.area = json_fields::as_number(e, loc, "area");
    ann.area_from_file = true;
  } else {
    ann.area = ann.bbox.w * ann.bbox.h;
  }
  if (json_fields::find(obj, "iscrowd", e) && !e.is_null())
    ann.iscrowd = json_fields::as_flag(e, loc, "iscrowd");
  if (json_fields::find(obj, "ignore", e) && !e.is_null())  // Python truthiness, as lvis-api tests it
    ann.ignore = e.is_double() ? double(e) != 0 : json_fields::as_flag(e, loc, "ignore");
  ann.description = json_fields::optional_string(obj, "description", loc);
  return ann;
}

CocoCategory read_category(dom::object obj, const Location& loc) {
  CocoCategory cat;
  cat.id = json_fields::require_int64(obj, "id", loc);
  dom::element e;
  if (!json_fields::find(obj, "name", e)) json_fields::missing(loc, "name", "a string");
  cat.name = std::string(json_fields::as_string(e, loc, "name"));
  cat.frequency = json_fields::optional_string(obj, "frequency", loc);
  if (json_fields::find(obj, "synonyms", e) && !e.is_null()) {
    if (!e.is_array())
      throw_input_error(loc.field("synonyms"), "an array of strings", json_fields::type_name(e.type()));
    for (dom::element s : dom::array(e))
      cat.synonyms.emplace_back(json_fields::as_string(s, loc, "synonyms"));
  }
  return cat;
}

// Calls read(object, location) for each element of the top-level array `key` (absent = empty).
template <typename T, typename Read>
std::vector<T> read_array(dom::object root, std::string_view key, const std::string& source, bool required,
                          Read read) {
  std::vector<T> out;
  dom::element e;
  if (!json_fields::find(root, key, e)) {
    if (required)
      throw_input_error(source + ": " + std::string(key), "a top-level array", "no such field",
                        "is this a COCO-format ground-truth file?");
    return out;
  }
  if (!e.is_array())
    throw_input_error(source + ": " + std::string(key), "an array", json_fields::type_name(e.type()));
  dom::array arr(e);
  out.reserve(arr.size());
  size_t index = 0;
  for (dom::element item : arr) {
    Location loc{&source, key, index++};
    out.push_back(read(json_fields::as_object(item, loc), loc));
  }
  return out;
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path, "a readable file", "cannot open it");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw_input_error(path, "a readable file", "a read error");
  return std::move(buffer).str();
}

CocoDataset coco_dataset_from_json(simdjson::dom::element root, const std::string& source) {
  if (!root.is_object())
    throw_input_error(source, "a JSON object with images, annotations and categories",
                      json_fields::type_name(root.type()));
  dom::object obj(root);
  CocoDataset ds;
  ds.source = source;
  ds.images = read_array<CocoImage>(obj, "images", source, true, read_image);
  ds.annotations = read_array<CocoAnnotation>(obj, "annotations", source, false, read_annotation);
  ds.categories = read_array<CocoCategory>(obj, "categories", source, true, read_category);
  return ds;
}

namespace {

CocoDataset parse_dataset(std::string_view json_text, const std::string& source, bool padded) {
  dom::parser parser;
  return coco_dataset_from_json(json_fields::parse_document(parser, json_text, source, padded), source);
}

}  // namespace

CocoDataset parse_coco_dataset(std::string_view json_text, const std::string& source) {
  return parse_dataset(json_text, source, false);
}

CocoDataset load_coco_dataset(const std::string& path) {
  const simdjson::padded_string text = json_fields::load_padded(path);
  return parse_dataset(std::string_view(text.data(), text.size()), path, true);
}

std::string coco_dataset_to_json(const CocoDataset& dataset) {
  using nlohmann::json;
  json images = json::array(), annotations = json::array(), categories = json::array();
  for (const auto& img : dataset.images) {
    json j = {{"id", img.id}, {"file_name", img.file_name}, {"width", img.width}, {"height", img.height}};
    if (!img.neg_category_ids.empty()) j["neg_category_ids"] = img.neg_category_ids;
    if (!img.not_exhaustive_category_ids.empty())
      j["not_exhaustive_category_ids"] = img.not_exhaustive_category_ids;
    if (!img.caption.empty()) j["caption"] = img.caption;
    images.push_back(std::move(j));
  }
  for (const auto& ann : dataset.annotations) {
    json j = {{"id", ann.id},
              {"image_id", ann.image_id},
              {"category_id", ann.category_id},
              {"bbox", {ann.bbox.x, ann.bbox.y, ann.bbox.w, ann.bbox.h}},
              {"area", ann.area},
              {"iscrowd", ann.iscrowd ? 1 : 0}};
    if (!ann.description.empty()) j["description"] = ann.description;
    if (ann.ignore) j["ignore"] = 1;
    annotations.push_back(std::move(j));
  }
  for (const auto& cat : dataset.categories) {
    json j = {{"id", cat.id}, {"name", cat.name}};
    if (!cat.frequency.empty()) j["frequency"] = cat.frequency;
    if (!cat.synonyms.empty()) j["synonyms"] = cat.synonyms;
    categories.push_back(std::move(j));
  }
  json root = {{"images", std::move(images)},
               {"annotations", std::move(annotations)},
               {"categories", std::move(categories)}};
  return root.dump();
}

void save_coco_dataset(const CocoDataset& dataset, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw_input_error(path, "a writable file", "cannot open it for writing");
  out << coco_dataset_to_json(dataset);
  if (!out) throw_input_error(path, "a writable file", "a write error");
}

}  // namespace coordexp
