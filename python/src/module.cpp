// coordexp._coordexp: the C++ parts the Python package (python/coordexp) wraps. The Python modules check
// and convert arguments (dtypes, shapes, devices) and give pycocotools' and scipy's interfaces; this file
// only moves numpy arrays in and out of the library, with the GIL released while it works. coordexp's
// InputError becomes ValueError with the library's message (the file, entry and field it names).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "coordexp/data/coco.hpp"
#include "coordexp/eval/coco_eval.hpp"
#include "coordexp/eval/coco_summary.hpp"
#include "coordexp/eval/detection_results.hpp"
#include "coordexp/matching/linear_assignment.hpp"
#include "coordexp/util/error.hpp"

namespace py = pybind11;

namespace coordexp::python {
namespace {

using CostArray = py::array_t<double, py::array::c_style>;

py::array_t<int64_t> to_numpy(const std::vector<int64_t>& v) {
  py::array_t<int64_t> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

py::array_t<double> to_numpy(const std::vector<double>& v, std::vector<py::ssize_t> shape) {
  py::array_t<double> out(shape);
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

CostMatrixView view_of(const CostArray& cost) {
  return {{cost.data(), static_cast<size_t>(cost.size())}, cost.shape(0), cost.shape(1)};
}

py::tuple assignment(const CostArray& cost, bool maximize) {
  const CostMatrixView v = view_of(cost);
  Assignment a;
  {
    py::gil_scoped_release unlocked;
    a = linear_sum_assignment(v.cost, v.num_rows, v.num_cols, maximize);
  }
  return py::make_tuple(to_numpy(a.rows), to_numpy(a.cols));
}

py::list assignment_batch(const std::vector<CostArray>& costs, bool maximize, int threads) {
  std::vector<CostMatrixView> views;
  for (const auto& c : costs) views.push_back(view_of(c));
  std::vector<Assignment> all;
  {
    py::gil_scoped_release unlocked;
    all = linear_sum_assignment_batch(views, threads, maximize);
  }
  py::list out;
  for (const auto& a : all) out.append(py::make_tuple(to_numpy(a.rows), to_numpy(a.cols)));
  return out;
}

// Detections from pycocotools' numpy form: rows [image_id, x, y, w, h, score, category_id].
DetectionResults results_from_array(const py::array_t<double, py::array::c_style>& rows,
                                    const std::string& source) {
  DetectionResults r;
  r.source = source;
  const double* d = rows.data();
  for (py::ssize_t i = 0; i < rows.shape(0); ++i, d += 7) {
    for (int c = 0; c < 7; ++c)
      if (!std::isfinite(d[c]))
        throw_input_error(source + "[" + std::to_string(i) + "][" + std::to_string(c) + "]",
                          "a finite number", std::to_string(d[c]));
    Detection det;
    det.image_id = static_cast<int64_t>(d[0]);
    det.bbox = {d[1], d[2], d[3], d[4]};
    det.score = d[5];
    det.category_id = static_cast<int64_t>(d[6]);
    det.index = i;
    r.detections.push_back(det);
  }
  return r;
}

// A number of a results entry: a Python float or int (not bool), or a numpy scalar of either kind.
bool number_of(PyObject* o, double& out) {
  if (!o || PyBool_Check(o)) return false;
  if (PyFloat_Check(o)) {
    out = PyFloat_AS_DOUBLE(o);
  } else if (PyLong_Check(o)) {
    out = PyLong_AsDouble(o);
    if (out == -1.0 && PyErr_Occurred()) return PyErr_Clear(), false;
  } else {
    return false;
  }
  return std::isfinite(out);
}

bool integer_of(PyObject* o, int64_t& out) {
  if (!o || PyBool_Check(o) || !PyIndex_Check(o)) return false;
  PyObject* i = PyNumber_Index(o);
  if (!i) return PyErr_Clear(), false;
  int overflow = 0;
  out = PyLong_AsLongLongAndOverflow(i, &overflow);
  Py_DECREF(i);
  if (overflow || (out == -1 && PyErr_Occurred())) return PyErr_Clear(), false;
  return true;
}

// Detections from a list of dicts in the plain form pycocotools users pass ({image_id, category_id, bbox,
// score}, extra keys other than description / label_rank ignored as the JSON reader ignores them), read
// without going through JSON. None when any entry is not plain: the caller then reads the list as JSON text,
// whose reader gives the command line's message for the bad entry.
std::optional<DetectionResults> results_from_list(const py::list& items, const std::string& source) {
  static PyObject* const kImage = PyUnicode_InternFromString("image_id");
  static PyObject* const kCategory = PyUnicode_InternFromString("category_id");
  static PyObject* const kBbox = PyUnicode_InternFromString("bbox");
  static PyObject* const kScore = PyUnicode_InternFromString("score");
  static PyObject* const kDescription = PyUnicode_InternFromString("description");
  static PyObject* const kRank = PyUnicode_InternFromString("label_rank");
  DetectionResults r;
  r.source = source;
  r.detections.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    PyObject* d = PyList_GET_ITEM(items.ptr(), static_cast<py::ssize_t>(i));
    if (!PyDict_Check(d) || PyDict_GetItem(d, kDescription) || PyDict_GetItem(d, kRank)) return std::nullopt;
    Detection det;
    PyObject* box = PyDict_GetItem(d, kBbox);
    if (!integer_of(PyDict_GetItem(d, kImage), det.image_id) ||
        !integer_of(PyDict_GetItem(d, kCategory), det.category_id) ||
        !number_of(PyDict_GetItem(d, kScore), det.score) || !box ||
        !(PyList_Check(box) || PyTuple_Check(box)) || PySequence_Fast_GET_SIZE(box) != 4)
      return std::nullopt;
    PyObject** xywh = PySequence_Fast_ITEMS(box);
    double v[4];
    for (int c = 0; c < 4; ++c)
      if (!number_of(xywh[c], v[c])) return std::nullopt;
    if (v[2] < 0 || v[3] < 0) return std::nullopt;  // the reader's error (or policy) for negative sizes
    det.bbox = {v[0], v[1], v[2], v[3]};
    det.index = static_cast<int64_t>(i);
    r.detections.push_back(det);
  }
  return r;
}

CocoEvalParams params_from(const py::dict& p) {
  CocoEvalParams params;
  params.iou_thresholds = p["iouThrs"].cast<std::vector<double>>();
  params.recall_thresholds = p["recThrs"].cast<std::vector<double>>();
  params.max_dets = p["maxDets"].cast<std::vector<int64_t>>();
  const auto ranges = p["areaRng"].cast<std::vector<std::vector<double>>>();
  const auto labels = p["areaRngLbl"].cast<std::vector<std::string>>();
  params.area_ranges.clear();
  for (size_t a = 0; a < ranges.size(); ++a)
    params.area_ranges.push_back({labels[a], ranges[a][0], ranges[a][1]});
  params.use_cats = p["useCats"].cast<bool>();
  return params;
}

// The ground truth restricted to `image_ids` and `category_ids` (pycocotools' params.imgIds / catIds).
CocoDataset restrict(const CocoDataset& gt, const std::vector<int64_t>& image_ids,
                     const std::vector<int64_t>& category_ids) {
  const std::unordered_set<int64_t> images(image_ids.begin(), image_ids.end());
  const std::unordered_set<int64_t> categories(category_ids.begin(), category_ids.end());
  CocoDataset out;
  out.source = gt.source;
  for (const auto& im : gt.images)
    if (images.count(im.id)) out.images.push_back(im);
  for (const auto& c : gt.categories)
    if (categories.count(c.id)) out.categories.push_back(c);
  for (const auto& a : gt.annotations)
    if (images.count(a.image_id) && categories.count(a.category_id)) out.annotations.push_back(a);
  return out;
}

// evaluate + accumulate + the 12 stats, as COCOeval does with `params`; detections on images of the ground
// truth but outside params.imgIds are left out, on images unknown to it are an error (loadRes's assert).
py::dict evaluate(const CocoDataset& gt, const DetectionResults& results, const py::dict& p,
                  unsigned threads) {
  const CocoEvalParams params = params_from(p);
  const auto image_ids = p["imgIds"].cast<std::vector<int64_t>>();
  const auto category_ids = p["catIds"].cast<std::vector<int64_t>>();
  CocoSummary summary;
  CocoAccumulation acc;
  std::vector<int64_t> k_axis;
  {
    py::gil_scoped_release unlocked;
    std::unordered_set<int64_t> known;
    for (const auto& im : gt.images) known.insert(im.id);
    for (const auto& d : results.detections)
      if (!known.count(d.image_id))
        throw_input_error(results.source + ": entry " + std::to_string(d.index) + ".image_id",
                          "an image id of the ground truth", std::to_string(d.image_id),
                          "pycocotools' loadRes refuses results on images it does not hold");
    const CocoDataset subset = restrict(gt, image_ids, category_ids);
    CocoEvalOptions options;
    options.params = params;
    options.unknown_image = UnknownImagePolicy::kUnknownImageSkip;
    options.num_threads = threads;
    CocoEvaluator evaluator(subset, results, options);
    evaluator.accumulate();
    summary = summarize_coco(evaluator, subset);
    acc = evaluator.accumulation();
    k_axis.assign(evaluator.category_ids().begin(), evaluator.category_ids().end());
  }
  using S = py::ssize_t;
  py::dict out;
  const std::vector<S> trkam{S(acc.T), S(acc.R), S(acc.K), S(acc.A), S(acc.M)};
  out["precision"] = to_numpy(acc.precision, trkam);
  out["recall"] = to_numpy(acc.recall, {S(acc.T), S(acc.K), S(acc.A), S(acc.M)});
  out["scores"] = to_numpy(acc.scores, trkam);
  out["stats"] = to_numpy(std::vector<double>(summary.stats.begin(), summary.stats.end()), {12});
  out["catIds"] = to_numpy(k_axis);
  out["summary"] = format_coco_summary_table(summary, params);
  return out;
}

}  // namespace

void bind_lvis(py::module_& m);   // module_lvis.cpp: evaluate_lvis for coordexp.lvis
void bind_codec(py::module_& m);  // module_codec.cpp: parse_answer / encode_answer for coordexp.codec

}  // namespace coordexp::python

PYBIND11_MODULE(_coordexp, m) {
  using namespace coordexp;
  using namespace coordexp::python;
  m.doc() = "coordexp's C++ library (see the coordexp package for the documented interfaces)";
  py::register_exception<InputError>(m, "InputError", PyExc_ValueError);

  m.def("linear_sum_assignment", &assignment, py::arg("cost"), py::arg("maximize") = false);
  m.def("linear_sum_assignment_batch", &assignment_batch, py::arg("costs"), py::arg("maximize") = false,
        py::arg("threads") = 0);

  py::class_<CocoDataset>(m, "CocoDataset")
      .def_static("load", &load_coco_dataset, py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def_static(
          "parse",
          [](const std::string& text, const std::string& source) { return parse_coco_dataset(text, source); },
          py::arg("text"), py::arg("source"), py::call_guard<py::gil_scoped_release>())
      .def("image_ids",
           [](const CocoDataset& d) {
             std::vector<int64_t> ids;
             for (const auto& im : d.images) ids.push_back(im.id);
             return to_numpy(ids);
           })
      .def("category_ids",
           [](const CocoDataset& d) {
             std::vector<int64_t> ids;
             for (const auto& c : d.categories) ids.push_back(c.id);
             return to_numpy(ids);
           })
      .def("num_annotations", [](const CocoDataset& d) { return d.annotations.size(); });

  py::class_<DetectionResults>(m, "DetectionResults")
      .def_static(
          "load",
          [](const std::string& path, unsigned threads) {
            ResultsLoadOptions o;
            o.num_threads = threads;
            return load_detection_results(path, o);
          },
          py::arg("path"), py::arg("threads") = 0, py::call_guard<py::gil_scoped_release>())
      .def_static(
          "parse",
          [](const std::string& text, const std::string& source) {
            return parse_detection_results(text, source);
          },
          py::arg("text"), py::arg("source"), py::call_guard<py::gil_scoped_release>())
      .def_static("from_array", &results_from_array, py::arg("rows"), py::arg("source"))
      .def_static("from_list", &results_from_list, py::arg("items"), py::arg("source"))
      .def("__len__", [](const DetectionResults& r) { return r.detections.size(); });

  m.def("evaluate_coco", &evaluate, py::arg("gt"), py::arg("results"), py::arg("params"),
        py::arg("threads") = 0);
  bind_lvis(m);
  bind_codec(m);
}
