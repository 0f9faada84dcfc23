/// \file bind_wishart.cpp
/// _core.wishart: the Wishart shortcut's draws (wishart.hpp), with the GIL released.
#include "common.hpp"
#include "scalinglab/wishart.hpp"

namespace scalinglab::bindings {

void bind_wishart(py::module_& m) {
  m.def(
      "sample_wishart",
      [](std::uint64_t seed, std::int64_t M, std::int64_t n, int n_threads) {
        return without_gil(n_threads, [&](const RunControl& control) {
          return wishart::sample_wishart(seed, M, n, control);
        });
      },
      py::arg("seed"), py::arg("M"), py::arg("n"), py::arg("n_threads") = 0,
      "W ~ Wishart_M(n, I): Bartlett for n >= M, explicit G^T G for n < M.");

  m.def(
      "bartlett_factor",
      [](std::uint64_t seed, std::int64_t M, std::int64_t n) {
        return without_gil(0, [&](const RunControl&) { return wishart::bartlett_factor(seed, M, n); });
      },
      py::arg("seed"), py::arg("M"), py::arg("n"),
      "Lower-triangular L (M, M) with L L^T ~ Wishart_M(n, I); needs n >= M.");

  m.def(
      "chi_square",
      [](std::uint64_t seed, double dof, std::int64_t count) {
        return without_gil(0, [&](const RunControl&) {
          return wishart::chi_square_variates(seed, dof, count);
        });
      },
      py::arg("seed"), py::arg("dof"), py::arg("count"),
      "chi^2_dof variates number 0 .. count-1 of `seed`.");
}

}  // namespace scalinglab::bindings
