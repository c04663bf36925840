// Duplicate rate (see duplicates.hpp): pairs compared within (image, label) groups.
#include "coordexp/eval/duplicates.hpp"

#include <map>
#include <string>
#include <vector>

#include "coordexp/geometry/box.hpp"

namespace coordexp {

double duplicate_rate(std::span<const Detection> detections, double iou_threshold) {
  if (detections.empty()) return 0;
  std::map<std::pair<int64_t, std::string>, std::vector<size_t>> groups;
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    const std::string label = d.description.empty() ? "#" + std::to_string(d.category_id) : d.description;
    groups[{d.image_id, label}].push_back(i);
  }
  auto xyxy = [](const BoxXYWH& b) { return BoxXYXY{b.x, b.y, b.x + b.w, b.y + b.h}; };
  std::vector<bool> duplicate(detections.size(), false);
  for (const auto& [key, members] : groups)
    for (size_t a = 0; a < members.size(); ++a)
      for (size_t b = a + 1; b < members.size(); ++b)
        if (box_iou(xyxy(detections[members[a]].bbox), xyxy(detections[members[b]].bbox)) > iou_threshold)
          duplicate[members[a]] = duplicate[members[b]] = true;
  size_t n = 0;
  for (bool d : duplicate) n += d ? 1 : 0;
  return static_cast<double>(n) / static_cast<double>(detections.size());
}

}  // namespace coordexp
