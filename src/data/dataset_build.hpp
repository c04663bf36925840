// Private to src/data: the steps every dataset reader shares on the way to a DetectionDataset (an image
// entry checked for a size and a file, a pixel box normalised and clipped, each skip counted and named),
// and the readers' entry points the format dispatcher (dataset_format.cpp) calls.
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "coordexp/data/dataset_odvg.hpp"
#include "coordexp/data/detection_dataset.hpp"

namespace coordexp::dataset_build {

// Appends `name` unless kMaxSkipNames names are there already.
void note(std::vector<std::string>& names, std::string name);

// The folder image file names are relative to: image_root, or the dataset file's folder when it is "".
std::filesystem::path image_root_for(const std::string& dataset_path, const std::string& image_root);

// Whether an image entry can be trained on: a positive width and height, and an existing file. Otherwise
// counts the skip in out.skips and names it (`entry` when the size is missing, the path when the file is).
bool image_usable(int64_t width, int64_t height, const std::filesystem::path& path, const std::string& entry,
                  DetectionDataset& out);

// A box of corners in pixels, normalised by the image size and clipped to [0, 1]. False when no area is
// left (counted as degenerate); a box more than 1 px outside the image is counted as clipped. name() names
// the box; it is called only when the box is counted.
template <class Name>
bool normalise_box(const BoxXYXY& px, int64_t width, int64_t height, Name&& name, DetectionDataset& out,
                   BoxXYXY& b) {
  const double w = static_cast<double>(width), h = static_cast<double>(height);
  b = {std::clamp(px.x1 / w, 0.0, 1.0), std::clamp(px.y1 / h, 0.0, 1.0), std::clamp(px.x2 / w, 0.0, 1.0),
       std::clamp(px.y2 / h, 0.0, 1.0)};
  if (!(b.x2 > b.x1) || !(b.y2 > b.y1)) {
    ++out.skips.degenerate_boxes;
    if (out.skip_names.degenerate_boxes.size() < kMaxSkipNames) note(out.skip_names.degenerate_boxes, name());
    return false;
  }
  // Annotation tools round to whole pixels, so a box a pixel over the edge is routine, not a problem.
  constexpr double kTolerancePx = 1.0;
  if (px.x1 < -kTolerancePx || px.y1 < -kTolerancePx || px.x2 > w + kTolerancePx ||
      px.y2 > h + kTolerancePx) {
    ++out.skips.clipped_boxes;
    if (out.skip_names.clipped_boxes.size() < kMaxSkipNames) note(out.skip_names.clipped_boxes, name());
  }
  return true;
}

// COCO, LVIS or referring expressions, as load_detection_dataset describes them. Does not throw when no
// image is usable.
DetectionDataset coco_family_dataset(CocoDataset coco, const std::filesystem::path& root,
                                     bool use_description);

// parse_odvg on text that lies in a simdjson::padded_string (lines are parsed in place, not copied).
std::vector<OdvgRecord> parse_odvg_padded(std::string_view text, const std::string& source);

}  // namespace coordexp::dataset_build
