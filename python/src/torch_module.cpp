// coordexp._coordexp_torch: CoordExp, the box losses and the set criterion (torch_criterion.cpp) as PyTorch
// operations, on the same LibTorch as Debian's python3-torch. The Python module coordexp.torch checks
// arguments (tensors, dtypes, devices, shapes) before calling these; coordexp's InputError (non-finite
// logits, bad tau) becomes ValueError.
#include <torch/extension.h>

#include "coordexp/loss/box_loss.hpp"
#include "coordexp/loss/coord_expectation.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp::python {
void bind_criterion(pybind11::module_& m);  // torch_criterion.cpp
}

PYBIND11_MODULE(_coordexp_torch, m) {
  m.doc() = "coordexp's CoordExp and box losses (see coordexp.torch for the documented interface)";
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const coordexp::InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.def(
      "coord_expectation",
      [](const torch::Tensor& hidden, const torch::Tensor& weight, const c10::optional<torch::Tensor>& bias,
         double tau) {
        return coordexp::coord_expectation(hidden, weight, bias ? *bias : torch::Tensor(), tau);
      },
      pybind11::arg("hidden"), pybind11::arg("coord_weight"), pybind11::arg("coord_bias"),
      pybind11::arg("tau"));
  m.def("coord_expectation_from_logits", &coordexp::coord_expectation_from_logits,
        pybind11::arg("coord_logits"), pybind11::arg("tau"));
  m.def("box_l1_loss", &coordexp::box_l1_loss, pybind11::arg("pred"), pybind11::arg("target"));
  m.def("box_giou_loss", &coordexp::box_giou_loss, pybind11::arg("pred"), pybind11::arg("target"));
  m.def("box_pair_cost", &coordexp::box_pair_cost, pybind11::arg("pred"), pybind11::arg("target"),
        pybind11::arg("l1_weight"), pybind11::arg("giou_weight"));
  coordexp::python::bind_criterion(m);
}
