// coordexp._coordexp's LVIS part, for coordexp.lvis (python/coordexp/lvis.py): lvis-api's federated bbox
// evaluation on the C++ LvisEvaluator, with the ground truth and results the module already binds
// (CocoDataset, DetectionResults). Python checks and converts the params; this file restricts the ground
// truth to params.img_ids / cat_ids, runs evaluate + accumulate + summarize with the GIL released, and hands
// back numpy tables in lvis-api's shapes (precision [T, R, K, A], recall [T, K, A]).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/detection_results.hpp"
#include "coordexp/eval/lvis_eval.hpp"
#include "coordexp/eval/lvis_summary.hpp"

namespace py = pybind11;

namespace coordexp::python {
namespace {

template <class T>
py::array_t<T> array_of(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// The first results entry on an image the ground truth does not hold, if any.
std::optional<size_t> first_unknown_image(const CocoDataset& gt, const DetectionResults& results) {
  std::unordered_set<int64_t> known;
  for (const auto& im : gt.images) known.insert(im.id);
  for (size_t d = 0; d < results.detections.size(); ++d)
    if (results.detections[d].has_category && !known.count(results.detections[d].image_id)) return d;
  return std::nullopt;
}

// LVISResults' assert that every result lies on an image of the ground truth, raised as the LVIS evaluator
// (and so `coordexp eval --lvis`) reports it: the evaluator is built on that one entry, which it rejects.
void check_results_images(const CocoDataset& gt, const DetectionResults& results) {
  py::gil_scoped_release unlocked;
  const auto bad = first_unknown_image(gt, results);
  if (!bad) return;
  DetectionResults one;
  one.source = results.source;
  one.detections.push_back(results.detections[*bad]);
  LvisEvaluator(gt, one);  // throws InputError naming the entry
}

// The ground truth with only the listed images and categories (None: all). Annotations are all kept: the
// evaluator drops those on other images or categories after resolving ids, as lvis-api's get_ann_ids +
// load_anns do.
CocoDataset restrict_lvis(const CocoDataset& gt, const std::optional<std::vector<int64_t>>& image_ids,
                          const std::optional<std::vector<int64_t>>& category_ids) {
  CocoDataset out;
  out.source = gt.source;
  out.annotations = gt.annotations;
  if (image_ids) {
    const std::unordered_set<int64_t> keep(image_ids->begin(), image_ids->end());
    for (const auto& im : gt.images)
      if (keep.count(im.id)) out.images.push_back(im);
  } else {
    out.images = gt.images;
  }
  if (category_ids) {
    const std::unordered_set<int64_t> keep(category_ids->begin(), category_ids->end());
    for (const auto& c : gt.categories)
      if (keep.count(c.id)) out.categories.push_back(c);
  } else {
    out.categories = gt.categories;
  }
  return out;
}

// LVISEval.evaluate + accumulate + summarize on `params` (keys: iou_thrs, rec_thrs, area_rng, area_rng_lbl,
// img_ids, cat_ids, max_dets_per_image; the Python side has checked them). Results on images outside
// img_ids are left out; on images unknown to the ground truth they are an error (LVISResults' assert).
py::dict evaluate_lvis(const CocoDataset& gt, const DetectionResults& results, const py::dict& params,
                       unsigned threads) {
  LvisEvalOptions options;
  options.params.iou_thresholds = params["iou_thrs"].cast<std::vector<double>>();
  options.params.recall_thresholds = params["rec_thrs"].cast<std::vector<double>>();
  const auto ranges = params["area_rng"].cast<std::vector<std::vector<double>>>();
  const auto labels = params["area_rng_lbl"].cast<std::vector<std::string>>();
  options.params.area_ranges.clear();
  for (size_t a = 0; a < ranges.size(); ++a)
    options.params.area_ranges.push_back({labels.at(a), ranges[a].at(0), ranges[a].at(1)});
  options.params.max_dets_per_image = params["max_dets_per_image"].cast<int64_t>();
  options.num_threads = threads;
  const auto image_ids = params["img_ids"].cast<std::optional<std::vector<int64_t>>>();
  const auto category_ids = params["cat_ids"].cast<std::optional<std::vector<int64_t>>>();

  check_results_images(gt, results);
  CocoAccumulation acc;
  LvisSummary summary;
  std::vector<int64_t> k_axis;
  std::vector<char> frequency;
  {
    py::gil_scoped_release unlocked;
    const bool whole = !image_ids && !category_ids;
    const CocoDataset subset = whole ? CocoDataset{} : restrict_lvis(gt, image_ids, category_ids);
    const CocoDataset& used = whole ? gt : subset;
    options.unknown_image = UnknownImagePolicy::kUnknownImageSkip;  // only images outside img_ids remain
    LvisEvaluator evaluator(used, results, options);
    evaluator.accumulate();
    summary = summarize_lvis(evaluator, used);
    acc = evaluator.accumulation();
    k_axis.assign(evaluator.category_ids().begin(), evaluator.category_ids().end());
    for (auto f : evaluator.frequencies()) frequency.push_back("rcf"[f]);
  }
  using S = py::ssize_t;
  py::dict out;
  // M is 1 (the per-image cap): lvis-api's tables have no M axis.
  out["precision"] = array_of(acc.precision, {S(acc.T), S(acc.R), S(acc.K), S(acc.A)});
  out["recall"] = array_of(acc.recall, {S(acc.T), S(acc.K), S(acc.A)});
  out["stats"] = array_of(std::vector<double>(summary.stats.begin(), summary.stats.end()), {13});
  out["cat_ids"] = array_of(k_axis, {S(k_axis.size())});
  out["frequency"] = std::string(frequency.begin(), frequency.end());
  const auto& c = summary.counts;
  py::dict counts;
  counts["num_images"] = c.num_images;
  counts["num_categories"] = c.num_categories;
  counts["gt_used"] = c.gt_used;
  counts["gt_dropped_zero_area"] = c.gt_dropped_zero_area;
  counts["dt_used"] = c.dt_used;
  counts["dt_over_image_cap"] = c.dt_over_image_cap;
  counts["dt_dropped_unknown_category"] = c.dt_dropped_unknown_category;
  counts["dt_dropped_zero_area"] = c.dt_dropped_zero_area;
  counts["dt_not_federated"] = c.dt_not_federated;
  counts["dt_outside_img_ids"] = c.dt_skipped_unknown_image;
  out["counts"] = counts;
  return out;
}

}  // namespace

void bind_lvis(py::module_& m) {
  m.def("check_lvis_results", &check_results_images, py::arg("gt"), py::arg("results"));
  m.def("evaluate_lvis", &evaluate_lvis, py::arg("gt"), py::arg("results"), py::arg("params"),
        py::arg("threads") = 0);
}

}  // namespace coordexp::python
