// ODVG, Grounding DINO's dataset format: JSON Lines, one image per line,
//   {"filename", "height", "width", "detection": {"instances": [{"bbox": [x1, y1, x2, y2], "label": int,
//    "category": "name"}]}}   or   {..., "grounding": {"caption": "...", "regions": [{"bbox": [...],
//    "phrase": "..."}]}}   (a line may carry both).
// Boxes are corners in pixels. Reading is strict: a malformed line or field is an InputError naming the
// file, the line number and the field. load_detection_dataset turns the records into DatasetImages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordexp/data/detection_dataset.hpp"
#include "coordexp/geometry/box.hpp"

namespace coordexp {

struct OdvgInstance {
  BoxXYXY box;           // [x1, y1, x2, y2] in pixels, as in the file (x1 <= x2, y1 <= y2)
  int64_t label = 0;     // category id
  std::string category;  // category name; "" when the instance has none (another instance must name it)
};

struct OdvgRegion {
  // "bbox": one [x1, y1, x2, y2] in pixels, or a list of them (some converters group a phrase's boxes).
  std::vector<BoxXYXY> boxes;
  // "phrase", or when absent the caption's "tokens_positive" spans ([[start, end], ...], character offsets)
  // joined by spaces.
  std::string phrase;
};

struct OdvgRecord {
  int64_t line = 0;               // 1-based line number in the file
  std::string filename;           // image path, relative to the image root
  int64_t width = 0, height = 0;  // pixels; 0 when absent
  bool has_detection = false;
  std::vector<OdvgInstance> instances;
  bool has_grounding = false;
  std::string caption;
  std::vector<OdvgRegion> regions;
};

// Reads JSON Lines text; blank lines are skipped. `source` names the file in errors. Each non-blank line
// must be an object with a non-empty "filename" and a "detection" or "grounding" object.
std::vector<OdvgRecord> parse_odvg(std::string_view text, const std::string& source);
std::vector<OdvgRecord> load_odvg(const std::string& path);

// The records as a dataset (format "odvg"; see load_detection_dataset for what each record becomes).
// image_root: folder file names are relative to. A label no instance names, or named two ways, is an
// InputError naming the line. Does not throw when no image is usable.
DetectionDataset odvg_detection_dataset(const std::vector<OdvgRecord>& records, const std::string& source,
                                        const std::string& image_root);

}  // namespace coordexp
