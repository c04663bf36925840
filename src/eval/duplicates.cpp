// Duplicate rate (see duplicates.hpp): pairs compared within (image, label) groups.
#include "coordexp/eval/duplicates.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace coordexp {

std::vector<bool> mark_duplicates(std::span<const BoxXYXY> boxes, std::span<const int64_t> groups,
                                  double iou_threshold) {
  std::map<int64_t, std::vector<size_t>> members;
  for (size_t i = 0; i < boxes.size(); ++i) members[groups[i]].push_back(i);
  std::vector<bool> duplicate(boxes.size(), false);
  for (const auto& [group, m] : members)
    for (size_t a = 0; a < m.size(); ++a)
      for (size_t b = a + 1; b < m.size(); ++b)
        if (box_iou(boxes[m[a]], boxes[m[b]]) > iou_threshold) duplicate[m[a]] = duplicate[m[b]] = true;
  return duplicate;
}

double duplicate_rate(std::span<const Detection> detections, double iou_threshold) {
  if (detections.empty()) return 0;
  std::map<std::pair<int64_t, std::string>, int64_t> group_of;
  std::vector<int64_t> groups;
  std::vector<BoxXYXY> boxes;
  int64_t counted = 0;
  for (const Detection& d : detections) {
    if (d.label_rank > 0) continue;  // label alternatives repeat a written box by design
    ++counted;
    const std::string label = d.description.empty() ? "#" + std::to_string(d.category_id) : d.description;
    groups.push_back(group_of.emplace(std::make_pair(d.image_id, label), group_of.size()).first->second);
    boxes.push_back({d.bbox.x, d.bbox.y, d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h});
  }
  const auto duplicate = mark_duplicates(boxes, groups, iou_threshold);
  return static_cast<double>(std::count(duplicate.begin(), duplicate.end(), true)) /
         static_cast<double>(std::max<int64_t>(1, counted));
}

}  // namespace coordexp
