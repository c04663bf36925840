// ODVG JSON Lines (Grounding DINO's format, see dataset_odvg.hpp): each line parsed on its own with simdjson,
// every error naming "<file>:<line>: <field>", then turned into detection records (with a COCO copy for
// evaluation) and grounding records (one per distinct phrase).
#include "coordexp/data/dataset_odvg.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <utility>

#include "../util/json_fields.hpp"
#include "coordexp/util/error.hpp"
#include "dataset_build.hpp"

namespace coordexp {

namespace {

namespace dom = simdjson::dom;
using json_fields::type_name;

// Where a value sits: "<file>:<line>: <path>", the path in JSON terms ("detection.instances[2].bbox").
struct LineField {
  const std::string* source;
  int64_t line;
  std::string path;
  std::string where() const {
    return *source + ":" + std::to_string(line) + (path.empty() ? "" : ": " + path);
  }
  LineField at(std::string_view key) const {
    return {source, line, path.empty() ? std::string(key) : path + "." + std::string(key)};
  }
  LineField index(size_t i) const { return {source, line, path + "[" + std::to_string(i) + "]"}; }
};

[[noreturn]] void fail(const LineField& f, const std::string& expected, const std::string& found,
                       const std::string& hint = "") {
  throw_input_error(f.where(), expected, found, hint);
}

// Looks a key up; absent and null are both "not there".
bool find(dom::object obj, std::string_view key, dom::element& out) {
  return json_fields::find(obj, key, out) && !out.is_null();
}

dom::object as_object(dom::element e, const LineField& f) {
  if (!e.is_object()) fail(f, "an object", type_name(e.type()));
  return dom::object(e);
}

dom::array as_array(dom::element e, const LineField& f) {
  if (!e.is_array()) fail(f, "an array", type_name(e.type()));
  return dom::array(e);
}

double as_number(dom::element e, const LineField& f) {
  if (e.is_int64()) return static_cast<double>(int64_t(e));
  if (e.is_double()) return double(e);
  if (e.is_uint64()) return static_cast<double>(uint64_t(e));
  fail(f, "a number", type_name(e.type()));
}

// An integer; a float with an integral value (480.0, as some converters write sizes) is accepted.
int64_t as_integer(dom::element e, const LineField& f) {
  if (e.is_int64()) return int64_t(e);
  if (e.is_double()) {
    const double v = double(e);
    // Range first: converting a double outside int64 is undefined. 2^53 bounds the exact integers.
    if (std::abs(v) < 9e15 && v == std::trunc(v)) return static_cast<int64_t>(v);
    fail(f, "an integer", std::to_string(v));
  }
  fail(f, "an integer", type_name(e.type()));
}

std::string as_string(dom::element e, const LineField& f) {
  if (!e.is_string()) fail(f, "a string", type_name(e.type()));
  return std::string(std::string_view(e));
}

BoxXYXY read_corners(dom::element e, const LineField& f) {
  const dom::array arr = as_array(e, f);
  if (arr.size() != 4) fail(f, "4 numbers [x1, y1, x2, y2]", std::to_string(arr.size()) + " values");
  double v[4];
  size_t i = 0;
  for (dom::element x : arr) v[i++] = as_number(x, f);
  if (v[2] < v[0] || v[3] < v[1])
    fail(f, "corners with x1 <= x2 and y1 <= y2",
         "[" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ", " + std::to_string(v[2]) + ", " +
             std::to_string(v[3]) + "]",
         "ODVG boxes are [x1, y1, x2, y2] in pixels, not [x, y, width, height]");
  return {v[0], v[1], v[2], v[3]};
}

OdvgInstance read_instance(dom::element e, const LineField& f) {
  const dom::object obj = as_object(e, f);
  OdvgInstance inst;
  dom::element v;
  if (!find(obj, "bbox", v)) fail(f.at("bbox"), "[x1, y1, x2, y2]", "no such field");
  inst.box = read_corners(v, f.at("bbox"));
  if (!find(obj, "label", v)) fail(f.at("label"), "an integer category id", "no such field");
  inst.label = as_integer(v, f.at("label"));
  if (find(obj, "category", v)) inst.category = as_string(v, f.at("category"));
  return inst;
}

// Byte offset of character `chars` in UTF-8 text (Python's string offsets count characters); npos past the
// end.
size_t utf8_offset(std::string_view text, int64_t chars) {
  size_t i = 0;
  for (int64_t n = 0; n < chars; ++n) {
    if (i >= text.size()) return std::string_view::npos;
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

// The caption's tokens_positive spans [[start, end], ...] joined by single spaces.
std::string phrase_from_spans(dom::element e, const std::string& caption, const LineField& f) {
  std::string phrase;
  size_t k = 0;
  for (dom::element span : as_array(e, f)) {
    const LineField sf = f.index(k++);
    const dom::array pair = as_array(span, sf);
    if (pair.size() != 2) fail(sf, "[start, end] character offsets", std::to_string(pair.size()) + " values");
    int64_t offsets[2];
    size_t i = 0;
    for (dom::element x : pair) offsets[i++] = as_integer(x, sf);
    const int64_t start = offsets[0], end = offsets[1];
    const size_t b = start < 0 ? std::string_view::npos : utf8_offset(caption, start);
    const size_t t = end < start ? std::string_view::npos : utf8_offset(caption, end);
    if (b == std::string_view::npos || t == std::string_view::npos)
      fail(sf, "0 <= start <= end <= the caption's length",
           std::to_string(start) + ", " + std::to_string(end));
    if (!phrase.empty()) phrase += ' ';
    phrase += caption.substr(b, t - b);
  }
  return phrase;
}

OdvgRegion read_region(dom::element e, const std::string& caption, const LineField& f) {
  const dom::object obj = as_object(e, f);
  OdvgRegion region;
  dom::element v;
  if (!find(obj, "bbox", v)) fail(f.at("bbox"), "[x1, y1, x2, y2] or a list of them", "no such field");
  if (v.is_array() && dom::array(v).size() > 0 && (*dom::array(v).begin()).is_array()) {
    size_t k = 0;
    for (dom::element box : dom::array(v)) region.boxes.push_back(read_corners(box, f.at("bbox").index(k++)));
  } else {
    region.boxes.push_back(read_corners(v, f.at("bbox")));
  }
  if (find(obj, "phrase", v))
    region.phrase = as_string(v, f.at("phrase"));
  else if (find(obj, "tokens_positive", v))
    region.phrase = phrase_from_spans(v, caption, f.at("tokens_positive"));
  else
    fail(f.at("phrase"), "the phrase the region's boxes show", "no such field (nor tokens_positive)");
  if (region.phrase.empty()) fail(f.at("phrase"), "a non-empty phrase", "\"\"");
  return region;
}

void read_detection(dom::element e, const LineField& f, OdvgRecord& r) {
  const dom::object obj = as_object(e, f);
  r.has_detection = true;
  dom::element v;
  if (!find(obj, "instances", v)) return;  // an image with nothing on it
  size_t k = 0;
  for (dom::element inst : as_array(v, f.at("instances")))
    r.instances.push_back(read_instance(inst, f.at("instances").index(k++)));
}

void read_grounding(dom::element e, const LineField& f, OdvgRecord& r) {
  const dom::object obj = as_object(e, f);
  r.has_grounding = true;
  dom::element v;
  if (find(obj, "caption", v)) r.caption = as_string(v, f.at("caption"));
  if (!find(obj, "regions", v)) return;
  size_t k = 0;
  for (dom::element region : as_array(v, f.at("regions")))
    r.regions.push_back(read_region(region, r.caption, f.at("regions").index(k++)));
}

OdvgRecord read_record(dom::element root, const LineField& f) {
  const dom::object obj = as_object(root, f);
  OdvgRecord r;
  r.line = f.line;
  dom::element v;
  if (!find(obj, "filename", v))
    fail(f.at("filename"), "the image's path (a string)", "no such field",
         "is this ODVG (one {\"filename\", \"height\", \"width\", \"detection\" | \"grounding\"} per line)?");
  r.filename = as_string(v, f.at("filename"));
  if (r.filename.empty()) fail(f.at("filename"), "the image's path", "\"\"");
  if (find(obj, "width", v)) r.width = as_integer(v, f.at("width"));
  if (find(obj, "height", v)) r.height = as_integer(v, f.at("height"));
  if (find(obj, "detection", v)) read_detection(v, f.at("detection"), r);
  if (find(obj, "grounding", v)) read_grounding(v, f.at("grounding"), r);
  if (!r.has_detection && !r.has_grounding) fail(f, "a \"detection\" or a \"grounding\" object", "neither");
  return r;
}

}  // namespace

namespace dataset_build {

std::vector<OdvgRecord> parse_odvg_padded(std::string_view text, const std::string& source) {
  std::vector<OdvgRecord> records;
  dom::parser parser;
  int64_t line = 0;
  for (size_t begin = 0; begin < text.size();) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    ++line;
    std::string_view content = text.substr(begin, end - begin);
    begin = end + 1;
    if (content.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    dom::element root;
    // The rest of the padded buffer follows the line, so simdjson may read past its end without a copy.
    if (auto error = parser.parse(content.data(), content.size(), false).get(root))
      throw_input_error(source + ":" + std::to_string(line), "one JSON object (an ODVG record) per line",
                        std::string("malformed JSON (") + simdjson::error_message(error) + ")");
    records.push_back(read_record(root, LineField{&source, line, ""}));
  }
  return records;
}

}  // namespace dataset_build

std::vector<OdvgRecord> parse_odvg(std::string_view text, const std::string& source) {
  const simdjson::padded_string padded(text);
  return dataset_build::parse_odvg_padded(std::string_view(padded.data(), padded.size()), source);
}

std::vector<OdvgRecord> load_odvg(const std::string& path) {
  const simdjson::padded_string text = json_fields::load_padded(path);
  return dataset_build::parse_odvg_padded(std::string_view(text.data(), text.size()), path);
}

namespace {

std::string instance_name(const std::string& source, const OdvgRecord& r, size_t k) {
  return source + ":" + std::to_string(r.line) + ": detection.instances[" + std::to_string(k) + "]";
}

// Categories from the instances' (label, category) pairs, sorted by label: each label named, one way.
std::vector<CocoCategory> odvg_categories(const std::vector<OdvgRecord>& records, const std::string& source) {
  std::map<int64_t, std::pair<std::string, int64_t>> named;  // label -> (name, line naming it)
  std::map<int64_t, std::string> first_use;                  // label -> first instance using it
  for (const OdvgRecord& r : records)
    for (size_t k = 0; k < r.instances.size(); ++k) {
      const OdvgInstance& inst = r.instances[k];
      first_use.emplace(inst.label, instance_name(source, r, k));
      if (inst.category.empty()) continue;
      auto [it, added] = named.emplace(inst.label, std::make_pair(inst.category, r.line));
      if (!added && it->second.first != inst.category)
        throw_input_error(instance_name(source, r, k) + ".category",
                          "\"" + it->second.first + "\" (label " + std::to_string(inst.label) +
                              "'s name on line " + std::to_string(it->second.second) + ")",
                          "\"" + inst.category + "\"", "one label, one category name");
    }
  std::vector<CocoCategory> categories;
  for (const auto& [label, where] : first_use) {
    auto it = named.find(label);
    if (it == named.end())
      throw_input_error(where + ".category", "a name for label " + std::to_string(label),
                        "none on any instance",
                        "ODVG label maps (label_map.json) are not read: give the instances a \"category\"");
    categories.push_back({label, it->second.first, "", {}});
  }
  return categories;
}

// The record as COCO (the file's boxes, unclipped) for evaluation, and as a training record when usable.
void add_detection(const OdvgRecord& r, int64_t id, const std::string& path, bool usable,
                   const std::map<int64_t, std::string>& names, DetectionDataset& out) {
  out.coco.images.push_back({id, r.filename, r.width, r.height, {}, {}, ""});
  DatasetImage record;
  record.image_id = id;
  record.path = path;
  record.width = r.width;
  record.height = r.height;
  for (size_t k = 0; k < r.instances.size(); ++k) {
    const OdvgInstance& inst = r.instances[k];
    const BoxXYWH xywh{inst.box.x1, inst.box.y1, inst.box.x2 - inst.box.x1, inst.box.y2 - inst.box.y1};
    const int64_t ann_id = static_cast<int64_t>(out.coco.annotations.size()) + 1;
    out.coco.annotations.push_back({ann_id, id, inst.label, xywh, xywh.w * xywh.h, false, false, ""});
    BoxXYXY b;
    const auto name = [&] { return instance_name(out.coco.source, r, k); };
    if (usable && dataset_build::normalise_box(inst.box, r.width, r.height, name, out, b))
      record.objects.push_back({names.at(inst.label), inst.label, b});
  }
  if (usable) out.images.push_back(std::move(record));
}

// One record per distinct phrase, in order of first appearance, holding every box of that phrase.
void add_grounding(const OdvgRecord& r, int64_t& next_id, const std::string& path, DetectionDataset& out) {
  const std::string entry = out.coco.source + ":" + std::to_string(r.line) + ": grounding";
  if (r.regions.empty()) {
    ++out.skips.records_without_phrase;
    dataset_build::note(out.skip_names.records_without_phrase, entry + " (no regions)");
    return;
  }
  std::vector<std::string> phrases;
  for (const OdvgRegion& region : r.regions)
    if (std::find(phrases.begin(), phrases.end(), region.phrase) == phrases.end())
      phrases.push_back(region.phrase);
  for (const std::string& phrase : phrases) {
    DatasetImage record;
    record.image_id = next_id++;
    record.path = path;
    record.width = r.width;
    record.height = r.height;
    record.exhaustive = false;
    record.phrase = phrase;
    for (size_t k = 0; k < r.regions.size(); ++k) {
      if (r.regions[k].phrase != phrase) continue;
      const auto name = [&] { return entry + ".regions[" + std::to_string(k) + "]"; };
      for (const BoxXYXY& px : r.regions[k].boxes) {
        BoxXYXY b;
        if (dataset_build::normalise_box(px, r.width, r.height, name, out, b))
          record.objects.push_back({phrase, kNoCategoryId, b});
      }
    }
    out.images.push_back(std::move(record));
  }
}

}  // namespace

DetectionDataset odvg_detection_dataset(const std::vector<OdvgRecord>& records, const std::string& source,
                                        const std::string& image_root) {
  DetectionDataset out;
  out.format = "odvg";
  out.coco.source = source;
  out.coco.categories = odvg_categories(records, source);
  out.records_in_file = static_cast<int64_t>(records.size());
  std::map<int64_t, std::string> names;
  for (const CocoCategory& c : out.coco.categories) names[c.id] = c.name;
  const std::filesystem::path root(image_root);
  int64_t next_id = 1;
  for (const OdvgRecord& r : records) {
    const auto path = root / r.filename;
    const bool usable = dataset_build::image_usable(
        r.width, r.height, path, source + ":" + std::to_string(r.line) + ": " + r.filename, out);
    if (r.has_detection) add_detection(r, next_id++, path.string(), usable, names, out);
    if (r.has_grounding && usable) add_grounding(r, next_id, path.string(), out);
  }
  return out;
}

}  // namespace coordexp
