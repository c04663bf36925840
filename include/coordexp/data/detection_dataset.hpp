// A detection dataset ready for training and evaluation: COCO images with their objects as described,
// normalised boxes. Bad data is met with counted, documented skips (see load_detection_dataset); the images
// themselves are decoded lazily by the batch builder.
#pragma once

#include <string>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/geometry/box.hpp"

namespace coordexp {

struct DatasetObject {
  std::string description;  // the annotation's description, or its category name
  int64_t category_id = 0;
  BoxXYXY box;  // normalised to [0, 1] by the image size, clipped to the image
};

struct DatasetImage {
  int64_t image_id = 0;
  std::string path;  // image file on disk
  int64_t width = 0, height = 0;
  std::vector<DatasetObject> objects;
};

struct DatasetSkips {
  int64_t missing_image_files = 0;  // images whose file does not exist: skipped
  int64_t images_without_size = 0;  // width/height absent or <= 0: skipped
  int64_t degenerate_boxes = 0;     // zero width or height after clipping: annotation dropped
  int64_t crowd_boxes = 0;          // iscrowd regions: not a single object, not trained on
  int64_t unknown_categories = 0;   // category id absent from "categories": annotation dropped
};

struct DetectionDataset {
  CocoDataset coco;                  // the file as read (for evaluation)
  std::vector<DatasetImage> images;  // in file order
  DatasetSkips skips;
  std::string describe_skips() const;  // "" when nothing was skipped
};

// image_root: folder file_names are relative to ("" = the JSON file's folder). use_description: prefer the
// annotation's free-text "description" over the category name. Throws InputError when no image is usable.
DetectionDataset load_detection_dataset(const std::string& json_path, const std::string& image_root,
                                        bool use_description);

}  // namespace coordexp
