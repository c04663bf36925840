// Results reading (simdjson On-Demand: one pass, numbers parsed where they are read, no document tree) and
// writing (nlohmann_json); see include/coordexp/eval/detection_results.hpp. Files are loaded in pieces by
// results_loader.cpp. JSON has no NaN or Infinity, but Python's json.dump writes
// them for non-finite scores, so a failed parse is scanned for such a token to name the entry and field.
#include "coordexp/eval/detection_results.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "../util/json_fields.hpp"
#include "results_json.hpp"

namespace coordexp {

namespace {

using json_fields::Location;
namespace od = simdjson::ondemand;

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

using results_json::JsonSyntaxError;

template <typename T>
T ok(simdjson::simdjson_result<T>&& result) {
  T value;
  if (auto error = std::move(result).get(value)) throw JsonSyntaxError{error};
  return value;
}

// A value's JSON type in the words of json_fields::type_name (type() and get_number_type() only peek).
template <typename Value>
const char* type_name(Value& v) {
  switch (ok(v.type())) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      switch (ok(v.get_number_type())) {
        case od::number_type::floating_point_number:
          return "a floating-point number";
        case od::number_type::unsigned_integer:
          return "an integer beyond int64";
        default:
          return "an integer";
      }
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "an unknown value";
}

bool is_null(od::value& v) {
  return ok(v.type()) == od::json_type::null;
}

int64_t read_int64(od::value& v, const Location& loc, std::string_view key) {
  int64_t i = 0;
  if (v.get_int64().get(i) == simdjson::SUCCESS) return i;  // the usual case, in one step
  if (ok(v.type()) == od::json_type::number && ok(v.get_number_type()) == od::number_type::signed_integer)
    return ok(v.get_int64());  // reports the error of the document
  throw_input_error(loc.field(key), "an integer id (64-bit)", type_name(v));
}

// Any JSON number as a double. Parsing an integer token as a double rounds it to nearest, as converting
// the int64 / uint64 that json_fields::as_number reads does, so both give the same double.
double read_number(od::value& v, const Location& loc, std::string_view key) {
  double d = 0;
  if (v.get_double().get(d) != simdjson::SUCCESS) {
    if (ok(v.type()) != od::json_type::number) throw_input_error(loc.field(key), "a number", type_name(v));
    d = ok(v.get_double());  // a number simdjson cannot read (out of range): the document's error
  }
  // The integer token -0 is the int64 0, whose double is +0.
  if (d == 0 && std::signbit(d) && ok(v.get_number_type()) != od::number_type::floating_point_number) d = 0;
  if (!std::isfinite(d)) throw_input_error(loc.field(key), "a finite number", std::to_string(d));
  return d;
}

BoxXYWH read_bbox(od::value& v, const Location& loc) {
  if (ok(v.type()) != od::json_type::array)
    throw_input_error(loc.field("bbox"), "[x, y, w, h]", type_name(v));
  double xywh[4] = {0, 0, 0, 0};
  size_t n = 0;
  const char* not_a_number = nullptr;  // the first of the four that is no number (reported after the count)
  for (auto element : ok(v.get_array())) {
    od::value x = ok(std::move(element));
    if (n < 4 && !not_a_number) {
      if (ok(x.type()) == od::json_type::number)
        xywh[n] = read_number(x, loc, "bbox");
      else
        not_a_number = type_name(x);
    }
    ++n;
  }
  if (n != 4) throw_input_error(loc.field("bbox"), "4 numbers [x, y, w, h]", std::to_string(n) + " values");
  if (not_a_number) throw_input_error(loc.field("bbox"), "a number", not_a_number);
  return {xywh[0], xywh[1], xywh[2], xywh[3]};
}

// An object key compared as the file spells it (no copy), or unescaped when it holds an escape.
class FieldKey {
 public:
  explicit FieldKey(od::field& field) : raw_(field.key()) {
    for (const char* r = raw_.raw(); *r != '"'; ++r)
      if (*r == '\\') {
        escaped_ = true;
        unescaped_ = ok(field.unescaped_key());
        break;
      }
  }
  // Whether the key is `name`, the first time only (`seen`): the first of repeated keys counts.
  bool is(std::string_view name, bool& seen) const {
    if (seen || !(escaped_ ? unescaped_ == name : raw_.unsafe_is_equal(name))) return false;
    return seen = true;
  }

 private:
  od::raw_json_string raw_;
  bool escaped_ = false;
  std::string_view unescaped_;
};

// One results entry, its fields read in one pass in file order (the first of repeated keys counts).
// Returns false when the entry is dropped under kInvalidBoxSkip.
bool read_detection(od::value item, const Location& loc, const ResultsLoadOptions& options, Detection& det) {
  if (ok(item.type()) != od::json_type::object)
    throw_input_error(loc.element(), "an object", type_name(item));
  bool has_image = false, has_category = false, has_bbox = false, has_score = false, has_description = false,
       has_rank = false;
  for (auto field_result : ok(item.get_object())) {
    od::field field = ok(std::move(field_result));
    const FieldKey key(field);
    od::value v = field.value();
    if (key.is("image_id", has_image)) {
      det.image_id = read_int64(v, loc, "image_id");
    } else if (key.is("category_id", has_category)) {
      if (is_null(v))
        has_category = false;
      else
        det.category_id = read_int64(v, loc, "category_id");
    } else if (key.is("bbox", has_bbox)) {
      det.bbox = read_bbox(v, loc);
    } else if (key.is("score", has_score)) {
      if (is_null(v))
        has_score = false;
      else
        det.score = read_number(v, loc, "score");
    } else if (key.is("description", has_description)) {
      if (!is_null(v)) {
        if (ok(v.type()) != od::json_type::string)
          throw_input_error(loc.field("description"), "a string", type_name(v));
        det.description = std::string(ok(v.get_string()));
      }
    } else if (key.is("label_rank", has_rank)) {
      if (!is_null(v)) det.label_rank = read_int64(v, loc, "label_rank");
    }
  }
  if (!has_image) json_fields::missing(loc, "image_id", "an integer id (64-bit)");
  if (det.label_rank < 0)
    throw_input_error(loc.field("label_rank"), "an integer >= 0", std::to_string(det.label_rank));
  if (!has_category) {
    if (options.require_category || det.description.empty())
      json_fields::missing(
          loc, "category_id",
          options.require_category ? "an integer category id" : "a category_id or a description");
    det.has_category = false;
  }
  if (!has_bbox) json_fields::missing(loc, "bbox", "[x, y, w, h]");
  if (!has_score && options.require_score) json_fields::missing(loc, "score", "a finite confidence score");
  if (det.bbox.w >= 0 && det.bbox.h >= 0) return true;
  if (options.invalid_box == InvalidBoxPolicy::kInvalidBoxError)
    throw_input_error(loc.field("bbox"), "non-negative width and height",
                      "w=" + std::to_string(det.bbox.w) + ", h=" + std::to_string(det.bbox.h),
                      "COCO boxes are [x, y, width, height]; or skip such boxes with the skip policy");
  return options.invalid_box != InvalidBoxPolicy::kInvalidBoxSkip;
}

// The results list: the root array, or the "annotations" array of a root object.
od::array results_array(od::document& doc, const std::string& source) {
  const char* expected = "a JSON list of detections [{image_id, category_id, bbox, score}, ...]";
  const od::json_type root = ok(doc.type());
  if (root == od::json_type::array) return ok(doc.get_array());
  if (root == od::json_type::object) {
    od::value list;
    if (ok(doc.get_object()).find_field_unordered("annotations").get(list) == simdjson::SUCCESS &&
        ok(list.type()) == od::json_type::array)
      return ok(list.get_array());
    throw_input_error(source, expected, "an object");
  }
  throw_input_error(source, expected, type_name(doc));
}

}  // namespace

namespace results_json {

int64_t read_entries(od::parser& parser, std::string_view text, const std::string& source,
                     const ResultsLoadOptions& options, DetectionResults& out) {
  od::document doc = ok(parser.iterate(text.data(), text.size(), text.size() + simdjson::SIMDJSON_PADDING));
  od::array list = results_array(doc, source);
  // An entry takes at least ~50 bytes of JSON: reserving for that many costs address space, not memory
  // (untouched pages), and spares the copies of a growing vector.
  out.detections.reserve(out.detections.size() + text.size() / 48 + 1);
  int64_t index = 0;
  for (auto item : list) {
    Detection det;
    det.index = index;
    if (read_detection(ok(std::move(item)), Location{&source, "", size_t(index)}, options, det))
      out.detections.push_back(std::move(det));
    else
      ++out.skipped_invalid_box;
    ++index;
  }
  return index;
}

DetectionResults parse_document(std::string_view text, const std::string& source,
                                const ResultsLoadOptions& options) {
  DetectionResults out;
  out.source = source;
  try {
    od::parser parser;
    read_entries(parser, text, source, options, out);
  } catch (const JsonSyntaxError& e) {
    if (auto where = locate_non_finite_token(text))
      throw_input_error(source + ": " + *where, "a finite number", "a non-finite value",
                        "drop or fix detections with NaN/Infinity scores or coordinates");
    throw_input_error(source, "valid JSON",
                      std::string("malformed JSON (") + simdjson::error_message(e.code) + ")",
                      "check that the file is complete and is not JSON Lines");
  }
  return out;
}

}  // namespace results_json

DetectionResults parse_detection_results(std::string_view json_text, const std::string& source,
                                         const ResultsLoadOptions& options) {
  const simdjson::padded_string padded(json_text);
  return results_json::parse_document(std::string_view(padded.data(), padded.size()), source, options);
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
