/// \file bind_scaling_fit.cpp
/// Scaling-law fitting (scalinglab/scaling_fit.hpp): predictions, the Huber objective, multi-start
/// L-BFGS and bootstrap refits. The Python API is scalinglab.scaling_laws; these functions live in
/// the private submodule _core.scaling_fit.
#include <cmath>
#include <cstdint>
#include <vector>

#include "common.hpp"
#include "scalinglab/scaling_fit.hpp"

namespace scalinglab::bindings {
namespace {

namespace sf = scaling_fit;

/// The arrays of one problem, kept alive (as contiguous float64 copies or views) while it is used.
struct ProblemArrays {
  py::array_t<double, py::array::c_style | py::array::forcecast> x, y, target, weights;
  sf::Problem problem;
};

ProblemArrays make_problem(int form, int n_breaks, int residual, const py::array& x,
                           const py::object& y, const py::array& target, const py::object& weights,
                           double delta, double scale) {
  ProblemArrays out;
  out.x = x;
  out.target = target;
  if (out.x.ndim() != 1) throw py::value_error("`x`: expected a 1-D array, got shape " + shape_string(x));
  const Index n = out.x.shape(0);
  auto check = [n](const py::array& a, const char* name) {
    if (a.ndim() != 1 || a.shape(0) != n)
      throw py::value_error(std::string("`") + name + "`: expected shape (" + std::to_string(n) +
                            ",) like `x`, got " + shape_string(a));
  };
  check(out.target, "target");
  if (form < 0 || form > 4) throw py::value_error("`form`: expected 0..4, got " + std::to_string(form));
  if (residual < 0 || residual > 1) throw py::value_error("`residual`: expected 0 (log) or 1 (linear)");
  out.problem.form = sf::Form(form);
  out.problem.n_breaks = n_breaks;
  out.problem.residual = sf::Residual(residual);
  out.problem.n = n;
  out.problem.delta = delta;
  out.problem.scale = scale;
  out.problem.x = out.x.data();
  out.problem.target = out.target.data();
  if (!y.is_none()) {
    out.y = py::array_t<double, py::array::c_style | py::array::forcecast>(y);
    check(out.y, "y");
    out.problem.y = out.y.data();
  }
  if (!weights.is_none()) {
    out.weights = py::array_t<double, py::array::c_style | py::array::forcecast>(weights);
    check(out.weights, "weights");
    out.problem.weights = out.weights.data();
  }
  out.problem.validate();
  return out;
}

sf::MinimizeOptions options_from(py::tuple t) {
  if (t.size() != 5)
    throw py::value_error("`options`: expected (max_iterations, history, ftol, gtol, xtol)");
  sf::MinimizeOptions o;
  o.max_iterations = t[0].cast<int>();
  o.history = t[1].cast<int>();
  o.ftol = t[2].cast<double>();
  o.gtol = t[3].cast<double>();
  o.xtol = t[4].cast<double>();
  return o;
}

std::vector<std::int64_t> int64_list(const py::array& a, const char* name) {
  auto arr = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>(a);
  if (arr.ndim() != 1) throw py::value_error(std::string("`") + name + "`: expected a 1-D array");
  return std::vector<std::int64_t>(arr.data(), arr.data() + arr.shape(0));
}

}  // namespace

void bind_scaling_fit(py::module_& root) {
  py::module_ m = root.def_submodule("scaling_fit", "Scaling-law fitting core (private).");

  m.def("n_parameters", &sf::n_parameters, py::arg("form"), py::arg("n_breaks") = 0);

  m.def(
      "log_prediction",
      [](int form, int n_breaks, const py::array& x, const py::object& y, const py::array& theta) {
        ProblemArrays data = make_problem(form, n_breaks, 0, x, y, x, py::none(), 1.0, 1.0);
        const Index p = sf::n_parameters(data.problem.form, n_breaks);
        auto th = vector_view<double>(theta, "theta", p);
        Vector<double> pred(data.problem.n);
        RowMatrix<double> jac(data.problem.n, p);
        sf::log_prediction(data.problem, th.data(), pred.data(), jac.data());
        return py::make_tuple(pred, jac);
      },
      py::arg("form"), py::arg("n_breaks"), py::arg("x"), py::arg("y"), py::arg("theta"),
      "log L-hat at every point and its Jacobian (n, p).");

  m.def(
      "objective",
      [](int form, int n_breaks, int residual, const py::array& x, const py::object& y,
         const py::array& target, const py::object& weights, double delta, double scale,
         const py::array& theta, const py::object& multiplicity) {
        ProblemArrays data =
            make_problem(form, n_breaks, residual, x, y, target, weights, delta, scale);
        const Index p = sf::n_parameters(data.problem.form, n_breaks);
        auto th = vector_view<double>(theta, "theta", p);
        py::array_t<double, py::array::c_style | py::array::forcecast> mult;
        const double* mult_ptr = nullptr;
        if (!multiplicity.is_none()) {
          mult = py::array_t<double, py::array::c_style | py::array::forcecast>(multiplicity);
          if (mult.ndim() != 1 || mult.shape(0) != data.problem.n)
            throw py::value_error("`multiplicity`: expected one value per point");
          mult_ptr = mult.data();
        }
        sf::Workspace ws(data.problem);
        Vector<double> grad(p);
        const double f = sf::objective(data.problem, th.data(), grad.data(), mult_ptr, ws);
        return py::make_tuple(f, grad);
      },
      py::arg("form"), py::arg("n_breaks"), py::arg("residual"), py::arg("x"), py::arg("y"),
      py::arg("target"), py::arg("weights"), py::arg("delta"), py::arg("scale"), py::arg("theta"),
      py::arg("multiplicity") = py::none(), "Objective value and gradient.");

  m.def(
      "fit_multistart",
      [](int form, int n_breaks, int residual, const py::array& x, const py::object& y,
         const py::array& target, const py::object& weights, double delta, double scale,
         const py::array& starts, py::tuple options, py::tuple polish_options, int n_polish,
         int n_threads, py::object progress) {
        ProblemArrays data =
            make_problem(form, n_breaks, residual, x, y, target, weights, delta, scale);
        const Index p = sf::n_parameters(data.problem.form, n_breaks);
        const RowMatrix<double> start_matrix = matrix_view<double>(starts, "starts", p);
        const sf::MinimizeOptions first = options_from(options), tight = options_from(polish_options);
        sf::MultiStartResult r = without_gil(
            n_threads,
            [&](const RunControl& control) {  // pure C++: no Python object touched
              return sf::fit_multistart(data.problem, start_matrix, first, tight, n_polish, control);
            },
            std::move(progress));
        py::dict out;
        out["theta"] = r.theta;
        out["objective"] = r.objective;
        out["iterations"] = r.iterations;
        out["status"] = r.status;
        out["best_theta"] = r.best_theta;
        out["best_objective"] = r.best_objective;
        out["best_start"] = r.best_start;
        return out;
      },
      py::arg("form"), py::arg("n_breaks"), py::arg("residual"), py::arg("x"), py::arg("y"),
      py::arg("target"), py::arg("weights"), py::arg("delta"), py::arg("scale"),
      py::arg("starts"), py::arg("options"), py::arg("polish_options"), py::arg("n_polish") = 25,
      py::arg("n_threads") = 0, py::arg("progress") = py::none(),
      "L-BFGS from every start (OpenMP), then polish the n_polish best.");

  m.def(
      "bootstrap_counts",
      [](std::uint64_t seed, const py::array& group, const py::array& stratum, Index n_resamples,
         int n_threads) {
        const std::vector<std::int64_t> g = int64_list(group, "group");
        const std::vector<std::int64_t> s = int64_list(stratum, "stratum");
        return without_gil(n_threads, [&](const RunControl& control) {
          return sf::bootstrap_counts(seed, g, s, n_resamples, control);
        });
      },
      py::arg("seed"), py::arg("group"), py::arg("stratum"), py::arg("n_resamples"),
      py::arg("n_threads") = 0, "Resampling counts (B, n) of a (cluster, stratified) bootstrap.");

  m.def(
      "bootstrap_refits",
      [](int form, int n_breaks, int residual, const py::array& x, const py::object& y,
         const py::array& target, const py::object& weights, double delta, double scale,
         const py::array& start, const py::array& counts, py::tuple options, int n_threads,
         py::object progress) {
        ProblemArrays data =
            make_problem(form, n_breaks, residual, x, y, target, weights, delta, scale);
        const Index p = sf::n_parameters(data.problem.form, n_breaks);
        const Vector<double> start_vector = vector_view<double>(start, "start", p);
        auto c = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>(counts);
        if (c.ndim() != 2 || c.shape(1) != data.problem.n)
          throw py::value_error("`counts`: expected shape (B, n) with n = len(x), got " +
                                shape_string(c));
        const RowMatrix<std::int32_t> count_matrix =
            Eigen::Map<const RowMatrix<std::int32_t>>(c.data(), c.shape(0), c.shape(1));
        const sf::MinimizeOptions opts = options_from(options);
        sf::BootstrapResult r = without_gil(
            n_threads,
            [&](const RunControl& control) {  // pure C++: no Python object touched
              return sf::bootstrap_refits(data.problem, start_vector, count_matrix, opts, control);
            },
            std::move(progress));
        py::dict out;
        out["theta"] = r.theta;
        out["objective"] = r.objective;
        out["status"] = r.status;
        return out;
      },
      py::arg("form"), py::arg("n_breaks"), py::arg("residual"), py::arg("x"), py::arg("y"),
      py::arg("target"), py::arg("weights"), py::arg("delta"), py::arg("scale"), py::arg("start"),
      py::arg("counts"), py::arg("options"), py::arg("n_threads") = 0,
      py::arg("progress") = py::none(), "Refit every bootstrap resample from `start` (OpenMP).");
}

}  // namespace scalinglab::bindings
