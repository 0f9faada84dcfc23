/// \file bind_kernels.cpp
/// _core.kernels: analytic kernels (kernel.hpp), each computed with the GIL released. Meaning
/// is validated in python/scalinglab/kernels.py.
#include <string>
#include <utility>

#include "common.hpp"
#include "scalinglab/features.hpp"
#include "scalinglab/kernel.hpp"

namespace scalinglab::bindings {
namespace {

// Analytic kernel of X (and Y, or X again when Y is None) computed with the GIL released.
template <class F>
py::array analytic_kernel(const py::array& X, const py::object& Y, F kernel) {
  auto x = matrix_view<double>(X, "X");
  // Y = None is X itself: the same memory, which the core turns into a syrk.
  const py::array y_array = Y.is_none() ? X : Y.cast<py::array>();
  auto y = matrix_view<double>(y_array, "Y", x.cols());
  RowMatrix<double> K = without_gil(0, [&](const RunControl&) { return kernel(x, y); });
  // Handed to numpy without a copy (the array owns the moved matrix).
  return py::cast(std::move(K)).cast<py::array>();
}

}  // namespace

void bind_kernels(py::module_& m) {
  m.def(
      "linear_kernel",
      [](const py::array& X, const py::object& Y, int n_threads) {
        return analytic_kernel(X, Y, [&](auto& x, auto& y) { return linear_kernel(x, y, n_threads); });
      },
      py::arg("X"), py::arg("Y") = py::none(), py::arg("n_threads") = 0);
  m.def(
      "rbf_kernel",
      [](const py::array& X, const py::object& Y, double lengthscale, int n_threads) {
        return analytic_kernel(
            X, Y, [&](auto& x, auto& y) { return rbf_kernel(x, y, lengthscale, n_threads); });
      },
      py::arg("X"), py::arg("Y") = py::none(), py::arg("lengthscale") = 1.0,
      py::arg("n_threads") = 0);
  m.def(
      "arccos_kernel",
      [](const py::array& X, const py::object& Y, int degree, int n_threads) {
        return analytic_kernel(
            X, Y, [&](auto& x, auto& y) { return arccos_kernel(x, y, degree, n_threads); });
      },
      py::arg("X"), py::arg("Y") = py::none(), py::arg("degree") = 1, py::arg("n_threads") = 0);
  m.def(
      "arcsin_kernel",
      [](const py::array& X, const py::object& Y, int n_threads) {
        return analytic_kernel(X, Y, [&](auto& x, auto& y) { return arcsin_kernel(x, y, n_threads); });
      },
      py::arg("X"), py::arg("Y") = py::none(), py::arg("n_threads") = 0);
  m.def(
      "infinite_width_kernel",
      [](const std::string& activation, const py::array& X, const py::object& Y,
         double lengthscale, int n_threads) {
        const Activation parsed = parse_activation(activation);
        return analytic_kernel(X, Y, [&](auto& x, auto& y) {
          return infinite_width_kernel(parsed, lengthscale, x, y, n_threads);
        });
      },
      py::arg("activation"), py::arg("X"), py::arg("Y") = py::none(),
      py::arg("lengthscale") = 1.0, py::arg("n_threads") = 0);
}

}  // namespace scalinglab::bindings
