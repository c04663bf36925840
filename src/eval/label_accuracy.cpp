// Recognition of localised detections (see label_accuracy.hpp).
#include "coordexp/eval/label_accuracy.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "coordexp/eval/coco_eval.hpp"

namespace coordexp {

namespace {

std::vector<std::string> words_of(const std::string& name) {
  std::vector<std::string> words;
  std::istringstream in(name);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace

double LabelAccuracy::word_accuracy(size_t k) const {
  return k < word_compared.size() && word_compared[k] > 0 ? double(word_right[k]) / double(word_compared[k])
                                                          : 0.0;
}

LabelAccuracy evaluate_label_accuracy(const CocoDataset& gt, const DetectionResults& results,
                                      double iou_threshold) {
  LabelAccuracy out;
  out.iou_threshold = iou_threshold;
  std::unordered_map<int64_t, std::vector<std::string>>
      names;  // the last listed name wins, as in pycocotools
  for (const auto& c : gt.categories) names[c.id] = words_of(c.name);
  std::unordered_map<int64_t, std::vector<const CocoAnnotation*>> boxes_of;
  for (const auto& img : gt.images) boxes_of[img.id];
  for (const auto& a : gt.annotations)
    if (!a.iscrowd && boxes_of.count(a.image_id)) boxes_of[a.image_id].push_back(&a);
  for (const auto& d : results.detections) {
    const auto img = boxes_of.find(d.image_id);
    if (!d.has_category || d.label_rank > 0 || img == boxes_of.end()) continue;
    ++out.detections;
    const CocoAnnotation* best = nullptr;
    double best_iou = -1;
    for (const CocoAnnotation* a : img->second) {
      const double iou = coco_bbox_iou(d.bbox, a->bbox, false);
      if (iou > best_iou) best_iou = iou, best = a;  // ties: the first in file order
    }
    if (!best || best_iou < iou_threshold) continue;
    ++out.localised;
    out.label_right += d.category_id == best->category_id;
    const auto dn = names.find(d.category_id), gn = names.find(best->category_id);
    if (dn == names.end() || gn == names.end()) continue;  // a category the GT does not list: no words
    const size_t n = std::min(dn->second.size(), gn->second.size());
    if (out.word_compared.size() < n) out.word_compared.resize(n, 0), out.word_right.resize(n, 0);
    for (size_t k = 0; k < n; ++k) {
      ++out.word_compared[k];
      out.word_right[k] += dn->second[k] == gn->second[k];
    }
  }
  return out;
}

std::string label_accuracy_to_json(const LabelAccuracy& a) {
  nlohmann::ordered_json j = {{"iou_threshold", a.iou_threshold},
                              {"detections", a.detections},
                              {"localised", a.localised},
                              {"label_accuracy", a.label_accuracy()},
                              {"word_accuracy", nlohmann::json::array()}};
  for (size_t k = 0; k < a.word_compared.size(); ++k) j["word_accuracy"].push_back(a.word_accuracy(k));
  return j.dump();
}

std::string format_label_accuracy(const LabelAccuracy& a) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << "localised " << a.localised << " of " << a.detections << " detections (IoU >= " << a.iou_threshold
    << " with a ground-truth box of any category): label right " << 100 * a.label_accuracy() << "%";
  for (size_t k = 0; k < a.word_compared.size(); ++k)
    s << (k == 0 ? "; " : ", ") << "word " << k + 1 << " right " << 100 * a.word_accuracy(k) << "%";
  return s.str();
}

}  // namespace coordexp
