/// \file bind_dynamics.cpp
/// _core.dynamics: learning dynamics (dynamics.hpp). Thin: argument conversion, shape checks
/// naming the argument, and the GIL released around pure compute (without_gil).
#include "common.hpp"
#include "scalinglab/dynamics.hpp"

namespace scalinglab::bindings {
namespace {

namespace dyn = scalinglab::dynamics;

dyn::LinearTask make_task(const py::array& spectrum, const py::array& target, double noise) {
  dyn::LinearTask task;
  task.spectrum = vector_view<double>(spectrum, "spectrum");
  task.target = vector_view<double>(target, "target", task.spectrum.size());
  task.noise = noise;
  return task;
}

dyn::Schedule make_schedule(const std::string& method, double learning_rate) {
  dyn::Schedule schedule;
  schedule.optimizer = parse_optimizer(method, "method");
  schedule.learning_rate = learning_rate;
  return schedule;
}

// Grid values as Index with -1 (kInfinite) for infinity.
std::vector<Index> grid_values(const std::vector<std::int64_t>& values) {
  return std::vector<Index>(values.begin(), values.end());
}

// Runs a grid engine, `engine(test, train, control)`, without the GIL on (n_points, n_times)
// outputs and returns them as (test, train).
template <class Engine>
py::tuple grid_curves(std::size_t n_points, std::size_t n_times, int n_threads,
                      py::object progress, Engine&& engine) {
  RowMatrix<double> test(static_cast<Index>(n_points), static_cast<Index>(n_times));
  RowMatrix<double> train(static_cast<Index>(n_points), static_cast<Index>(n_times));
  without_gil(
      n_threads, [&](const RunControl& control) { engine(test, train, control); },
      std::move(progress));
  return py::make_tuple(std::move(test), std::move(train));
}

}  // namespace

void bind_dynamics(py::module_& m) {
  m.attr("INFINITE") = static_cast<std::int64_t>(dyn::kInfinite);

  m.def(
      "linear_learning_curves",
      [](const py::array& spectrum, const py::array& target, double noise,
         const std::vector<std::int64_t>& N, const std::vector<std::int64_t>& P,
         const std::vector<double>& times, const std::string& method, double learning_rate,
         std::int64_t ensemble, bool wishart, bool independent, std::uint64_t seed, int n_threads,
         py::object progress) {
        dyn::GridSpec grid;
        grid.N = grid_values(N);
        grid.P = grid_values(P);
        grid.times = times;
        grid.schedule = make_schedule(method, learning_rate);
        grid.ensemble = ensemble;
        grid.wishart = wishart;
        grid.independent = independent;
        const dyn::LinearTask task = make_task(spectrum, target, noise);
        return grid_curves(N.size() * P.size(), times.size(), n_threads, std::move(progress),
                           [&](auto& test, auto& train, const RunControl& control) {
                             dyn::linear_learning_curves(task, grid, seed, test, train, control);
                           });
      },
      py::arg("spectrum"), py::arg("target"), py::arg("noise"), py::arg("N"), py::arg("P"),
      py::arg("times"), py::arg("method"), py::arg("learning_rate"), py::arg("ensemble"),
      py::arg("wishart"), py::arg("independent"), py::arg("seed"), py::arg("n_threads") = 0,
      py::arg("progress") = py::none(),
      "GF/GD learning curves on an (N, P) grid for one seed key (N, P: -1 = infinity). Returns "
      "(test, train), each (len(N) * len(P), len(times)), grid point (i, j) at row i * len(P) + j.");

  m.def(
      "sgd_learning_curves",
      [](const py::array& spectrum, const py::array& target, double noise,
         const std::vector<std::int64_t>& N, const std::vector<std::int64_t>& P,
         const std::vector<std::int64_t>& steps, std::int64_t batch_size, double learning_rate,
         std::int64_t ensemble, bool gaussian_shortcut, bool independent, std::uint64_t seed,
         int n_threads, py::object progress) {
        dyn::SgdSpec spec;
        spec.N = grid_values(N);
        spec.P = grid_values(P);
        spec.steps = steps;
        spec.batch_size = batch_size;
        spec.learning_rate = learning_rate;
        spec.ensemble = ensemble;
        spec.gaussian_shortcut = gaussian_shortcut;
        spec.independent = independent;
        const dyn::LinearTask task = make_task(spectrum, target, noise);
        return grid_curves(N.size() * P.size(), steps.size(), n_threads, std::move(progress),
                           [&](auto& test, auto& train, const RunControl& control) {
                             dyn::sgd_learning_curves(task, spec, seed, test, train, control);
                           });
      },
      py::arg("spectrum"), py::arg("target"), py::arg("noise"), py::arg("N"), py::arg("P"),
      py::arg("steps"), py::arg("batch_size"), py::arg("learning_rate"), py::arg("ensemble"),
      py::arg("gaussian_shortcut"), py::arg("independent"), py::arg("seed"),
      py::arg("n_threads") = 0, py::arg("progress") = py::none(),
      "Minibatch SGD learning curves (P = -1: one pass). Returns (test, train) like "
      "linear_learning_curves.");

  m.def(
      "kernel_learning_curves",
      [](const py::array& K_train, const py::array& K_test, const py::array& y_train,
         const py::array& y_test, const std::vector<std::int64_t>& P, const std::vector<double>& times,
         const std::string& method, double learning_rate, int n_threads, py::object progress) {
        const auto K = matrix_view<double>(K_train, "K_train");
        const auto K_cross = matrix_view<double>(K_test, "K_test");
        const auto y = vector_view<double>(y_train, "y_train", K.rows());
        const auto y_out = vector_view<double>(y_test, "y_test", K_cross.rows());
        const dyn::Schedule schedule = make_schedule(method, learning_rate);
        const std::vector<Index> grid = grid_values(P);
        return grid_curves(P.size(), times.size(), n_threads, std::move(progress),
                           [&](auto& test, auto& train, const RunControl& control) {
                             dyn::kernel_learning_curves(K, K_cross, y, y_out, grid, times,
                                                         schedule, test, train, control);
                           });
      },
      py::arg("K_train"), py::arg("K_test"), py::arg("y_train"), py::arg("y_test"), py::arg("P"),
      py::arg("times"), py::arg("method"), py::arg("learning_rate"), py::arg("n_threads") = 0,
      py::arg("progress") = py::none(),
      "Kernel GF/GD with a precomputed Gram: returns (test, train), each (len(P), len(times)).");

  m.def(
      "projection_rows",
      [](std::uint64_t seed, std::int64_t member, std::int64_t rows, std::int64_t M, int n_threads) {
        return without_gil(n_threads, [&](const RunControl& control) {
          return dyn::projection_rows(seed, member, rows, M, control);
        });
      },
      py::arg("seed"), py::arg("member"), py::arg("rows"), py::arg("M"), py::arg("n_threads") = 0,
      "The projection A (rows, M) of ensemble member `member` used by the simulator.");

  m.def(
      "data_rows",
      [](const py::array& spectrum, const py::array& target, double noise, std::uint64_t seed,
         std::int64_t first, std::int64_t rows, int n_threads) {
        const dyn::LinearTask task = make_task(spectrum, target, noise);
        RowMatrix<double> psi;
        Vector<double> eps;
        without_gil(n_threads, [&](const RunControl& control) {
          dyn::data_rows(task, seed, first, rows, psi, eps, control);
        });
        return py::make_tuple(std::move(psi), std::move(eps));
      },
      py::arg("spectrum"), py::arg("target"), py::arg("noise"), py::arg("seed"), py::arg("first"),
      py::arg("rows"), py::arg("n_threads") = 0,
      "The data rows (psi (rows, M), eps (rows)) used by the simulator.");
}

}  // namespace scalinglab::bindings
