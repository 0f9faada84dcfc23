/// \file bind_theory.cpp
/// _core.theory: the DMFT / deterministic-equivalent engine (scalinglab.theory is the API).
#include <complex>
#include <vector>

#include "common.hpp"
#include "scalinglab/theory.hpp"

namespace scalinglab::bindings {

namespace {

using theory::Complex;

theory::ModeSpectrum make_modes(const py::array& eigenvalues, const py::array& target_power,
                                const py::array& multiplicity) {
  const auto lam = vector_view<double>(eigenvalues, "eigenvalues");
  const auto power = vector_view<double>(target_power, "target_power", lam.size());
  const auto mult = vector_view<double>(multiplicity, "multiplicity");
  return theory::ModeSpectrum(lam, power, mult);
}

theory::Optimizer parse_optimizer(const std::string& name) {
  if (name == "gf") return theory::Optimizer::GradientFlow;
  if (name == "gd") return theory::Optimizer::GradientDescent;
  throw py::value_error("`optimizer`: expected 'gf' or 'gd', got '" + name + "'");
}

py::array_t<std::complex<double>> complex_array(const std::vector<Complex>& values) {
  py::array_t<std::complex<double>> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

}  // namespace

void bind_theory(py::module_& m) {
  py::module_ t = m.def_submodule("theory", "DMFT and deterministic equivalents (private).");

  t.def(
      "learning_curve",
      [](const py::array& eigenvalues, const py::array& target_power, const py::array& multiplicity,
         double n_features, double n_samples, const py::array& times, const std::string& optimizer,
         double learning_rate, double ensemble, double noise, int talbot_nodes, int n_threads,
         py::object progress) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, target_power, multiplicity);
        const auto time_view = vector_view<double>(times, "times");
        theory::CurveOptions options;
        options.optimizer = parse_optimizer(optimizer);
        options.learning_rate = learning_rate;
        options.ensemble = ensemble;
        options.noise = noise;
        options.talbot_nodes = talbot_nodes;
        const RunControl control = make_run_control(n_threads, std::move(progress));
        theory::LearningCurve curve;
        {
          py::gil_scoped_release release;  // pure C++ below; callbacks take the GIL themselves
          curve = theory::learning_curve(modes, n_features, n_samples, time_view, options, control);
        }
        return py::make_tuple(py::array_t<double>(curve.test_loss.size(), curve.test_loss.data()),
                              py::array_t<double>(curve.train_loss.size(), curve.train_loss.data()));
      },
      py::arg("eigenvalues"), py::arg("target_power"), py::arg("multiplicity"),
      py::arg("n_features"), py::arg("n_samples"), py::arg("times"), py::arg("optimizer") = "gf",
      py::arg("learning_rate") = 1.0, py::arg("ensemble") = 1.0, py::arg("noise") = 0.0,
      py::arg("talbot_nodes") = 16, py::arg("n_threads") = 0, py::arg("progress") = py::none(),
      "(test_loss, train_loss) of the DMFT learning curve at each time.");

  t.def(
      "ridge_errors",
      [](const py::array& eigenvalues, const py::array& target_power, const py::array& multiplicity,
         const py::array& n_features, const py::array& n_samples, const py::array& ridge,
         double noise, double ensemble) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, target_power, multiplicity);
        const auto n_view = vector_view<double>(n_features, "n_features");
        const auto p_view = vector_view<double>(n_samples, "n_samples", n_view.size());
        const auto ridge_view = vector_view<double>(ridge, "ridge", n_view.size());
        const py::ssize_t count = n_view.size();
        py::array_t<double> kappa(count), test(count), train(count);
        double* kappa_out = kappa.mutable_data();
        double* test_out = test.mutable_data();
        double* train_out = train.mutable_data();
        {
          py::gil_scoped_release release;  // pure C++ below, no Python object touched
          for (py::ssize_t i = 0; i < count; ++i) {
            const theory::RidgeErrors e =
                theory::ridge_errors(modes, n_view[i], p_view[i], ridge_view[i], noise, ensemble);
            kappa_out[i] = e.kappa;
            test_out[i] = e.test_loss;
            train_out[i] = e.train_loss;
          }
        }
        return py::make_tuple(kappa, test, train);
      },
      py::arg("eigenvalues"), py::arg("target_power"), py::arg("multiplicity"),
      py::arg("n_features"), py::arg("n_samples"), py::arg("ridge"), py::arg("noise") = 0.0,
      py::arg("ensemble") = 1.0,
      "(kappa, test_loss, train_loss) of RF ridge at each (N, P, ridge) triple (equal lengths).");

  t.def(
      "one_point",
      [](const py::array& eigenvalues, const py::array& multiplicity, double n_features,
         double n_samples, const py::array& points) {
        const auto lam = vector_view<double>(eigenvalues, "eigenvalues");
        const Vector<double> no_power = Vector<double>::Zero(lam.size());
        const theory::ModeSpectrum modes(lam, no_power, vector_view<double>(multiplicity, "multiplicity"));
        const auto view = py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>::ensure(points);
        if (!view || view.ndim() != 1)
          throw py::value_error("`points`: expected a 1-D array of (complex) Laplace variables");
        std::vector<Complex> s(view.data(), view.data() + view.size());
        std::vector<theory::OnePointSolution> solutions;
        {
          py::gil_scoped_release release;  // pure C++ below, no Python object touched
          solutions = theory::solve_one_point(modes, n_features, n_samples, s);
        }
        std::vector<Complex> kappa, r1, r3;
        for (const auto& x : solutions) {
          kappa.push_back(x.kappa);
          r1.push_back(x.R1);
          r3.push_back(x.R3);
        }
        return py::make_tuple(complex_array(kappa), complex_array(r1), complex_array(r3));
      },
      py::arg("eigenvalues"), py::arg("multiplicity"), py::arg("n_features"), py::arg("n_samples"),
      py::arg("points"), "(kappa, R1, R3) along a path of Laplace variables.");

  t.def(
      "critical_kappa",
      [](const py::array& eigenvalues, const py::array& multiplicity, double rank) {
        const auto lam = vector_view<double>(eigenvalues, "eigenvalues");
        const Vector<double> no_power = Vector<double>::Zero(lam.size());
        const theory::ModeSpectrum modes(lam, no_power, vector_view<double>(multiplicity, "multiplicity"));
        return theory::critical_kappa(modes, rank);
      },
      py::arg("eigenvalues"), py::arg("multiplicity"), py::arg("rank"),
      "kappa_c with df(kappa_c) = rank (0 if rank >= number of modes).");

  t.def(
      "spectrum_edge",
      [](const py::array& eigenvalues, const py::array& multiplicity, double n_features,
         double n_samples) {
        const auto lam = vector_view<double>(eigenvalues, "eigenvalues");
        const Vector<double> no_power = Vector<double>::Zero(lam.size());
        const theory::ModeSpectrum modes(lam, no_power, vector_view<double>(multiplicity, "multiplicity"));
        return theory::spectrum_edge(modes, n_features, n_samples);
      },
      py::arg("eigenvalues"), py::arg("multiplicity"), py::arg("n_features"), py::arg("n_samples"),
      "Top x_max of the deterministic-equivalent spectrum of the kernel B Sigma.");

  t.def(
      "talbot_contour",
      [](double time, int n, double r) {
        const theory::TalbotContour c = theory::talbot_contour(time, n, r);
        return py::make_tuple(complex_array(c.nodes), complex_array(c.weights), c.r);
      },
      py::arg("t"), py::arg("n"), py::arg("r") = 0.0,
      "(nodes, weights, r) of the fixed Talbot contour, upper half only.");
}

}  // namespace scalinglab::bindings
