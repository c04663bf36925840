// COCO-format detection datasets (images, annotations, categories), with the optional free-text
// "description" per annotation, the optional LVIS fields and the optional referring-expression "caption".
// Loading is strict: a missing or mistyped field throws InputError naming the file, the array index and the
// field. Ids are 64-bit integers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coordexp {

// A box as COCO writes it: top-left corner plus width and height, in pixels.
struct BoxXYWH {
  double x = 0, y = 0, w = 0, h = 0;
  bool operator==(const BoxXYWH&) const = default;
};

struct CocoImage {
  int64_t id = 0;         // unique image id
  std::string file_name;  // path relative to the image root ("" when absent)
  int64_t width = 0;      // pixels (0 when absent)
  int64_t height = 0;     // pixels (0 when absent)
  // LVIS only: categories verified absent from the image, and categories not exhaustively annotated.
  std::vector<int64_t> neg_category_ids;
  std::vector<int64_t> not_exhaustive_category_ids;
  // Referring expressions (RefCOCO as MDETR / GLIP ship it): the expression this image entry stands for; its
  // annotations are the boxes it refers to. "" when absent.
  std::string caption;
};

struct CocoAnnotation {
  int64_t id = 0;               // annotation id; pycocotools indexes annotations by it (see coco_eval.hpp)
  int64_t image_id = 0;         // CocoImage::id this box belongs to
  int64_t category_id = 0;      // CocoCategory::id
  BoxXYWH bbox;                 // [x, y, w, h]
  double area = 0;              // the file's "area" (segment area in real COCO), or w*h when absent
  bool area_from_file = false;  // true when "area" was present in the file
  bool iscrowd = false;         // crowd region: matched by intersection over detection area, ignored
  std::string description;      // optional free-text phrase ("red star"), "" when absent
  // The file's "ignore" flag (any non-zero number or true). LVIS evaluation treats such a box as an ignore
  // region, as lvis-api does; COCO evaluation replaces it with iscrowd, as pycocotools does.
  bool ignore = false;
};

struct CocoCategory {
  int64_t id = 0;                     // category id
  std::string name;                   // category name
  std::string frequency;              // LVIS "r" / "c" / "f", "" when absent
  std::vector<std::string> synonyms;  // LVIS synonyms, empty when absent
};

struct CocoDataset {
  std::vector<CocoImage> images;
  std::vector<CocoAnnotation> annotations;
  std::vector<CocoCategory> categories;
  std::string source;  // file the dataset was read from (used in error messages)
};

// Reads a COCO/LVIS JSON file. Throws InputError on unreadable files, malformed JSON and bad fields;
// boxes with negative width or height are errors (a hint names the annotation).
CocoDataset load_coco_dataset(const std::string& path);

// Same, from JSON text in memory; `source` names it in error messages.
CocoDataset parse_coco_dataset(std::string_view json_text, const std::string& source);

// Writes a dataset as COCO JSON (LVIS fields only when set, description and caption only when non-empty).
std::string coco_dataset_to_json(const CocoDataset& dataset);
void save_coco_dataset(const CocoDataset& dataset, const std::string& path);

// Reads a whole file into a string; throws InputError naming the path when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace coordexp
