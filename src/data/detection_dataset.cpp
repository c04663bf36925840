// Turning a COCO file into training-ready images and normalised, described objects (see
// detection_dataset.hpp). Boxes outside the image are clipped; what cannot be used is skipped and counted.
#include "coordexp/data/detection_dataset.hpp"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "coordexp/util/error.hpp"

namespace coordexp {

std::string DetectionDataset::describe_skips() const {
  std::string s;
  auto add = [&](int64_t n, const char* what) {
    if (n > 0) s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  add(skips.missing_image_files, "images skipped (file missing)");
  add(skips.images_without_size, "images skipped (no width/height)");
  add(skips.degenerate_boxes, "boxes dropped (zero size after clipping)");
  add(skips.crowd_boxes, "crowd regions not trained on");
  add(skips.unknown_categories, "boxes dropped (unknown category)");
  return s;
}

DetectionDataset load_detection_dataset(const std::string& json_path, const std::string& image_root,
                                        bool use_description) {
  DetectionDataset out;
  out.coco = load_coco_dataset(json_path);
  const std::filesystem::path root =
      image_root.empty() ? std::filesystem::path(json_path).parent_path() : std::filesystem::path(image_root);
  std::unordered_map<int64_t, std::string> category_name;
  for (const auto& c : out.coco.categories) category_name[c.id] = c.name;
  std::unordered_map<int64_t, size_t> index_of;
  for (const auto& img : out.coco.images) {
    if (img.width <= 0 || img.height <= 0) {
      ++out.skips.images_without_size;
      continue;
    }
    const auto path = root / img.file_name;
    if (!std::filesystem::exists(path)) {
      ++out.skips.missing_image_files;
      continue;
    }
    index_of[img.id] = out.images.size();
    out.images.push_back({img.id, path.string(), img.width, img.height, {}});
  }
  if (out.images.empty()) {
    throw_input_error(
        json_path + ": images", "at least one image with a size and an existing file under " + root.string(),
        std::to_string(out.coco.images.size()) + " images, none usable (" + out.describe_skips() + ")");
  }
  for (const auto& a : out.coco.annotations) {
    auto it = index_of.find(a.image_id);
    if (it == index_of.end()) continue;  // its image was skipped (counted above)
    if (a.iscrowd) {
      ++out.skips.crowd_boxes;
      continue;
    }
    auto cat = category_name.find(a.category_id);
    if (cat == category_name.end()) {
      ++out.skips.unknown_categories;
      continue;
    }
    DatasetImage& img = out.images[it->second];
    const double w = static_cast<double>(img.width), h = static_cast<double>(img.height);
    BoxXYXY b{std::clamp(a.bbox.x / w, 0.0, 1.0), std::clamp(a.bbox.y / h, 0.0, 1.0),
              std::clamp((a.bbox.x + a.bbox.w) / w, 0.0, 1.0),
              std::clamp((a.bbox.y + a.bbox.h) / h, 0.0, 1.0)};
    if (!(b.x2 > b.x1) || !(b.y2 > b.y1)) {
      ++out.skips.degenerate_boxes;
      continue;
    }
    img.objects.push_back(
        {use_description && !a.description.empty() ? a.description : cat->second, a.category_id, b});
  }
  return out;
}

}  // namespace coordexp
