// Results-file reading (simdjson DOM) and writing (nlohmann_json); see
// include/coordexp/eval/detection_results.hpp. JSON has no NaN or Infinity, but Python's json.dump writes
// them for non-finite scores, so a failed parse is scanned for such a token to name the entry and field.
#include "coordexp/eval/detection_results.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "../util/json_fields.hpp"

namespace coordexp {

namespace {

using json_fields::Location;
namespace dom = simdjson::dom;

// Finds a bare NaN / Infinity token outside strings; returns "[index].field" of the entry holding it.
std::optional<std::string> locate_non_finite_token(std::string_view text) {
  bool in_string = false, escaped = false;
  int depth = 0, list_depth = -1;
  int64_t index = 0;
  std::string last_string;
  size_t string_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"') {
        in_string = false;
        last_string = std::string(text.substr(string_start, i - string_start));
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        string_start = i + 1;
        break;
      case '[':
        ++depth;
        if (list_depth < 0) list_depth = depth;
        break;
      case '{':
        ++depth;
        break;
      case ']':
      case '}':
        --depth;
        break;
      case ',':
        if (depth == list_depth) ++index;
        break;
      case 'N':
      case 'I':
        if (text.substr(i, 3) == "NaN" || text.substr(i, 8) == "Infinity")
          return "[" + std::to_string(index) + "]." + last_string + " (value " +
                 std::string(text.substr(i, c == 'N' ? 3 : 8)) + ")";
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

dom::array results_array(dom::element root, const std::string& source) {
  if (root.is_array()) return dom::array(root);
  dom::element e;
  if (root.is_object() && json_fields::find(dom::object(root), "annotations", e) && e.is_array())
    return dom::array(e);
  throw_input_error(source, "a JSON list of detections [{image_id, category_id, bbox, score}, ...]",
                    json_fields::type_name(root.type()));
}

DetectionResults parse_results(std::string_view json_text, const std::string& source,
                               const ResultsLoadOptions& options, bool padded) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(json_text.data(), json_text.size(), !padded).get(root)) {
    if (auto where = locate_non_finite_token(json_text))
      throw_input_error(source + ": " + *where, "a finite number", "a non-finite value",
                        "drop or fix detections with NaN/Infinity scores or coordinates");
    json_fields::parse_document(parser, json_text, source, padded);  // throws the parse error
  }
  DetectionResults out;
  out.source = source;
  dom::array list = results_array(root, source);
  out.detections.reserve(list.size());
  int64_t index = 0;
  for (dom::element item : list) {
    Location loc{&source, "", size_t(index)};
    dom::object obj = json_fields::as_object(item, loc);
    Detection det;
    det.index = index++;
    det.image_id = json_fields::require_int64(obj, "image_id", loc);
    dom::element e;
    det.description = json_fields::optional_string(obj, "description", loc);
    det.label_rank = json_fields::optional_int64(obj, "label_rank", loc, 0);
    if (det.label_rank < 0)
      throw_input_error(loc.field("label_rank"), "an integer >= 0", std::to_string(det.label_rank));
    if (json_fields::find(obj, "category_id", e) && !e.is_null()) {
      det.category_id = json_fields::as_int64(e, loc, "category_id");
    } else if (options.require_category || det.description.empty()) {
      json_fields::missing(
          loc, "category_id",
          options.require_category ? "an integer category id" : "a category_id or a description");
    } else {
      det.has_category = false;
    }
    if (!json_fields::find(obj, "bbox", e)) json_fields::missing(loc, "bbox", "[x, y, w, h]");
    if (!e.is_array()) throw_input_error(loc.field("bbox"), "[x, y, w, h]", json_fields::type_name(e.type()));
    dom::array box(e);
    if (box.size() != 4)
      throw_input_error(loc.field("bbox"), "4 numbers [x, y, w, h]", std::to_string(box.size()) + " values");
    double v[4];
    size_t k = 0;
    for (dom::element x : box) v[k++] = json_fields::as_number(x, loc, "bbox");
    det.bbox = {v[0], v[1], v[2], v[3]};
    if (json_fields::find(obj, "score", e) && !e.is_null()) {
      det.score = json_fields::as_number(e, loc, "score");
    } else if (options.require_score) {
      json_fields::missing(loc, "score", "a finite confidence score");
    }
    if (det.bbox.w < 0 || det.bbox.h < 0) {
      if (options.invalid_box == InvalidBoxPolicy::kInvalidBoxError)
        throw_input_error(loc.field("bbox"), "non-negative width and height",
                          "w=" + std::to_string(det.bbox.w) + ", h=" + std::to_string(det.bbox.h),
                          "COCO boxes are [x, y, width, height]; or skip such boxes with the skip policy");
      if (options.invalid_box == InvalidBoxPolicy::kInvalidBoxSkip) {
        ++out.skipped_invalid_box;
        continue;
      }
    }
    out.detections.push_back(std::move(det));
  }
  return out;
}

}  // namespace

DetectionResults parse_detection_results(std::string_view json_text, const std::string& source,
                                         const ResultsLoadOptions& options) {
  return parse_results(json_text, source, options, false);
}

DetectionResults load_detection_results(const std::string& path, const ResultsLoadOptions& options) {
  const simdjson::padded_string text = json_fields::load_padded(path);
  return parse_results(std::string_view(text.data(), text.size()), path, options, true);
}

DetectionResults written_labels_only(DetectionResults results) {
  std::erase_if(results.detections, [](const Detection& d) { return d.label_rank > 0; });
  return results;
}

std::string detection_results_to_json(const std::vector<Detection>& detections) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : detections) {
    nlohmann::json j = {
        {"image_id", d.image_id}, {"bbox", {d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h}}, {"score", d.score}};
    if (d.has_category) j["category_id"] = d.category_id;
    if (!d.description.empty()) j["description"] = d.description;
    if (d.label_rank > 0) j["label_rank"] = d.label_rank;
    list.push_back(std::move(j));
  }
  return list.dump();
}

void save_detection_results(const std::vector<Detection>& detections, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw_input_error(path, "a writable file", "cannot open it for writing");
  out << detection_results_to_json(detections);
  if (!out) throw_input_error(path, "a writable file", "a write error");
}

}  // namespace coordexp
