/// \file bind_theory.cpp
/// _core.theory: the DMFT / deterministic-equivalent engine (scalinglab.theory is the API).
/// Unbound on purpose: spectrum_edge and talbot_contour (used inside the core only).
#include <complex>
#include <vector>

#include "common.hpp"
#include "scalinglab/theory.hpp"

namespace scalinglab::bindings {

namespace {

using theory::Complex;

// The modes without target power: the one-point quantities depend on the spectrum only.
theory::ModeSpectrum make_modes(const py::array& eigenvalues, const py::array& multiplicity) {
  const auto lam = vector_view<double>(eigenvalues, "eigenvalues");
  const Vector<double> no_power = Vector<double>::Zero(lam.size());
  return theory::ModeSpectrum(lam, no_power, vector_view<double>(multiplicity, "multiplicity"));
}

py::array_t<std::complex<double>> complex_array(const std::vector<Complex>& values) {
  py::array_t<std::complex<double>> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

}  // namespace

theory::ModeSpectrum make_modes(const py::array& eigenvalues, const py::array& target_power,
                                const py::array& multiplicity) {
  const auto lam = vector_view<double>(eigenvalues, "eigenvalues");
  const auto power = vector_view<double>(target_power, "target_power", lam.size());
  const auto mult = vector_view<double>(multiplicity, "multiplicity");
  return theory::ModeSpectrum(lam, power, mult);
}

void bind_theory(py::module_& m) {
  m.def(
      "learning_curve",
      [](const py::array& eigenvalues, const py::array& target_power, const py::array& multiplicity,
         double n_features, double n_samples, const py::array& times, const std::string& optimizer,
         double learning_rate, double ensemble, double noise, int talbot_nodes, int n_threads,
         py::object progress) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, target_power, multiplicity);
        const auto time_view = vector_view<double>(times, "times");
        theory::CurveOptions options;
        options.optimizer = parse_optimizer(optimizer, "optimizer");
        options.learning_rate = learning_rate;
        options.ensemble = ensemble;
        options.noise = noise;
        options.talbot_nodes = talbot_nodes;
        const theory::LearningCurve curve = without_gil(
            n_threads,
            [&](const RunControl& control) {
              return theory::learning_curve(modes, n_features, n_samples, time_view, options,
                                            control);
            },
            std::move(progress));
        return py::make_tuple(py::array_t<double>(curve.test_loss.size(), curve.test_loss.data()),
                              py::array_t<double>(curve.train_loss.size(), curve.train_loss.data()));
      },
      py::arg("eigenvalues"), py::arg("target_power"), py::arg("multiplicity"),
      py::arg("n_features"), py::arg("n_samples"), py::arg("times"), py::arg("optimizer") = "gf",
      py::arg("learning_rate") = 1.0, py::arg("ensemble") = 1.0, py::arg("noise") = 0.0,
      py::arg("talbot_nodes") = 16, py::arg("n_threads") = 0, py::arg("progress") = py::none(),
      "(test_loss, train_loss) of the DMFT learning curve at each time.");

  m.def(
      "ridge_errors",
      [](const py::array& eigenvalues, const py::array& target_power, const py::array& multiplicity,
         const py::array& n_features, const py::array& n_samples, const py::array& ridge,
         double noise, double ensemble) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, target_power, multiplicity);
        const auto n_view = vector_view<double>(n_features, "n_features");
        const auto p_view = vector_view<double>(n_samples, "n_samples", n_view.size());
        const auto ridge_view = vector_view<double>(ridge, "ridge", n_view.size());
        const std::vector<theory::RidgeErrors> errors = without_gil(0, [&](const RunControl&) {
          return theory::ridge_errors(modes, n_view, p_view, ridge_view, noise, ensemble);
        });
        const py::ssize_t count = static_cast<py::ssize_t>(errors.size());
        py::array_t<double> kappa(count), test(count), train(count);
        for (py::ssize_t i = 0; i < count; ++i) {
          kappa.mutable_at(i) = errors[static_cast<std::size_t>(i)].kappa;
          test.mutable_at(i) = errors[static_cast<std::size_t>(i)].test_loss;
          train.mutable_at(i) = errors[static_cast<std::size_t>(i)].train_loss;
        }
        return py::make_tuple(kappa, test, train);
      },
      py::arg("eigenvalues"), py::arg("target_power"), py::arg("multiplicity"),
      py::arg("n_features"), py::arg("n_samples"), py::arg("ridge"), py::arg("noise") = 0.0,
      py::arg("ensemble") = 1.0,
      "(kappa, test_loss, train_loss) of RF ridge at each (N, P, ridge) triple (equal lengths).");

  m.def(
      "one_point",
      [](const py::array& eigenvalues, const py::array& multiplicity, double n_features,
         double n_samples, const py::array& points) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, multiplicity);
        const auto view = py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>::ensure(points);
        if (!view || view.ndim() != 1)
          throw py::value_error("`points`: expected a 1-D array of (complex) Laplace variables");
        std::vector<Complex> s(view.data(), view.data() + view.size());
        const std::vector<theory::OnePointSolution> solutions = without_gil(
            0, [&](const RunControl&) { return theory::solve_one_point(modes, n_features, n_samples, s); });
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

  m.def(
      "critical_kappa",
      [](const py::array& eigenvalues, const py::array& multiplicity, double rank) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, multiplicity);
        return theory::critical_kappa(modes, rank);
      },
      py::arg("eigenvalues"), py::arg("multiplicity"), py::arg("rank"),
      "kappa_c with df(kappa_c) = rank (0 if rank >= number of modes).");
}

}  // namespace scalinglab::bindings
