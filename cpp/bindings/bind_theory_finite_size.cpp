/// \file bind_theory_finite_size.cpp
/// _core.theory_finite_size: the leading finite-size correction of the DMFT
/// (scalinglab.theory_finite_size is the API).
#include <complex>

#include "common.hpp"
#include "scalinglab/theory_finite_size.hpp"

namespace scalinglab::bindings {

namespace {


py::array_t<double> array(const Vector<double>& v) {
  return py::array_t<double>(v.size(), v.data());
}

}  // namespace

void bind_theory_finite_size(py::module_& m) {
  py::module_& t = m;  // module.cpp made the submodule _core.theory_finite_size

  t.def(
      "learning_curve",
      [](const py::array& eigenvalues, const py::array& target_power, const py::array& multiplicity,
         double n_features, double n_samples, const py::array& times, double learning_rate,
         double noise, int talbot_nodes, int n_threads, py::object progress) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, target_power, multiplicity);
        const auto time_view = vector_view<double>(times, "times");
        theory::CurveOptions options;
        options.learning_rate = learning_rate;
        options.noise = noise;
        options.talbot_nodes = talbot_nodes;
        const theory::FiniteSizeCurve c = without_gil(
            n_threads,
            [&](const RunControl& control) {
              return theory::finite_size_learning_curve(modes, n_features, n_samples, time_view,
                                                        options, control);
            },
            std::move(progress));
        return py::make_tuple(array(c.dmft.test_loss), array(c.dmft.train_loss),
                              array(c.test_correction), array(c.train_correction),
                              array(c.test_roundoff));
      },
      py::arg("eigenvalues"), py::arg("target_power"), py::arg("multiplicity"),
      py::arg("n_features"), py::arg("n_samples"), py::arg("times"), py::arg("learning_rate") = 1.0,
      py::arg("noise") = 0.0, py::arg("talbot_nodes") = 16, py::arg("n_threads") = 0,
      py::arg("progress") = py::none(),
      "(dmft_test, dmft_train, test_correction, train_correction, test_roundoff) at each time "
      "(gradient flow, one finite side).");

  t.def(
      "static",
      [](const py::array& eigenvalues, const py::array& target_power, const py::array& multiplicity,
         double n_features, double n_samples, double ridge, double noise) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, target_power, multiplicity);
        theory::FiniteSizeStatic out;
        {
          py::gil_scoped_release release;  // pure C++ below
          out = theory::finite_size_static(modes, n_features, n_samples, ridge, noise);
        }
        return py::make_tuple(out.test_correction, out.train_correction);
      },
      py::arg("eigenvalues"), py::arg("target_power"), py::arg("multiplicity"),
      py::arg("n_features"), py::arg("n_samples"), py::arg("ridge"), py::arg("noise") = 0.0,
      "(test_correction, train_correction) of the static (ridge) losses, one finite side.");

  t.def(
      "static_grid",
      [](const py::array& eigenvalues, const py::array& target_power, const py::array& multiplicity,
         const py::array& n_features, const py::array& n_samples, const py::array& ridge,
         const py::array& kappa, double noise) {
        const theory::ModeSpectrum modes = make_modes(eigenvalues, target_power, multiplicity);
        const Vector<double> n = vector_view<double>(n_features, "n_features");
        const Vector<double> p = vector_view<double>(n_samples, "n_samples", n.size());
        const Vector<double> r = vector_view<double>(ridge, "ridge", n.size());
        const Vector<double> k = vector_view<double>(kappa, "kappa", n.size());
        std::vector<theory::FiniteSizeStatic> out;
        {
          py::gil_scoped_release release;  // pure C++ below
          out = theory::finite_size_static_grid(modes, n, p, r, k, noise);
        }
        py::array_t<double> test(static_cast<py::ssize_t>(out.size())),
            train(static_cast<py::ssize_t>(out.size()));
        for (std::size_t i = 0; i < out.size(); ++i) {
          test.mutable_data()[i] = out[i].test_correction;
          train.mutable_data()[i] = out[i].train_correction;
        }
        return py::make_tuple(test, train);
      },
      py::arg("eigenvalues"), py::arg("target_power"), py::arg("multiplicity"),
      py::arg("n_features"), py::arg("n_samples"), py::arg("ridge"), py::arg("kappa"),
      py::arg("noise") = 0.0,
      "(test_correction, train_correction), each (G,), of the static losses at grid points "
      "with one finite side (zeros where both are finite), reusing the DMFT's kappa (G,) "
      "at ridge > 0 (NaN: solve it again).");

  t.def(
      "resolvent_expansion",
      [](const py::array& eigenvalues, const py::array& weights, const py::array& multiplicity,
         double n, std::complex<double> s) {
        // a^T Q a with a_k^2 = weights_k: the engine's target form has a^2 = power / lambda.
        const auto lam = vector_view<double>(eigenvalues, "eigenvalues");
        const auto a2 = vector_view<double>(weights, "weights", lam.size());
        const Vector<double> power = (a2.array() * lam.array()).matrix();
        const theory::ModeSpectrum modes(lam, power, vector_view<double>(multiplicity, "multiplicity"));
        const theory::ResolventExpansion e = theory::resolvent_expansion(modes, n, s);
        return py::make_tuple(e.leading, e.correction);
      },
      py::arg("eigenvalues"), py::arg("weights"), py::arg("multiplicity"), py::arg("n"),
      py::arg("s"),
      "(deterministic equivalent, O(1/n) correction) of E a^T (S + s)^-1 a, a^2 = weights.");
}

}  // namespace scalinglab::bindings
