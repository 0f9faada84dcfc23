/// \file bind_volterra.cpp
/// _core.volterra: one-pass SGD risk theory (scalinglab/volterra.hpp): exact and deterministic spectra, the
/// blocked risk recursion, the Volterra form and the resolvent m(z). The Python API is
/// scalinglab.sgd_theory; these functions are its private back end.
#include <complex>
#include <cstdint>
#include <vector>

#include "common.hpp"
#include "scalinglab/volterra.hpp"

namespace scalinglab::bindings {
namespace {

using volterra::Complex;

bool is_complex_array(const py::array& a) {
  return py::isinstance<py::array_t<Complex>>(a);
}

/// A copy of a 1-D complex128 (or real, promoted) array; ValueError naming the argument.
Vector<Complex> complex_vector(const py::array& a, const char* name, Index size = -1) {
  if (a.ndim() != 1 || (size >= 0 && a.shape(0) != static_cast<py::ssize_t>(size)) ||
      !(is_complex_array(a) || py::isinstance<py::array_t<double>>(a))) {
    throw py::value_error(std::string("`") + name +
                          "`: expected a 1-D float64 or complex128 array" +
                          (size >= 0 ? " of length " + std::to_string(size) : std::string()) +
                          ", got " + py::str(a.dtype()).cast<std::string>() + " of shape " +
                          shape_string(a));
  }
  Vector<Complex> out(a.shape(0));
  if (is_complex_array(a)) {
    auto view = py::array_t<Complex, py::array::forcecast>(a).unchecked<1>();
    for (Index i = 0; i < out.size(); ++i) out[i] = view(i);
  } else {
    auto view = py::array_t<double, py::array::forcecast>(a).unchecked<1>();
    for (Index i = 0; i < out.size(); ++i) out[i] = Complex(view(i), 0.0);
  }
  return out;
}

std::vector<std::int64_t> int_vector(const py::array& a, const char* name) {
  if (a.ndim() != 1 || !(py::isinstance<py::array_t<std::int64_t>>(a)))
    throw py::value_error(std::string("`") + name + "`: expected a 1-D int64 array, got " +
                          py::str(a.dtype()).cast<std::string>() + " of shape " + shape_string(a));
  auto view = py::array_t<std::int64_t, py::array::forcecast>(a).unchecked<1>();
  std::vector<std::int64_t> out(static_cast<std::size_t>(a.shape(0)));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = view(static_cast<py::ssize_t>(i));
  return out;
}

volterra::TargetKind target_kind(bool target_is_variance) {
  return target_is_variance ? volterra::TargetKind::kPriorVariance
                            : volterra::TargetKind::kWeights;
}

template <class S>
py::dict spectrum_dict(const volterra::SgdSpectrum<S>& spectrum) {
  py::dict out;
  out["eigenvalues"] = spectrum.eigenvalues;
  out["forcing"] = spectrum.forcing;
  out["kernel"] = spectrum.kernel;
  out["limit_level"] = spectrum.limit_level;
  return out;
}

/// Calls `body(spectrum)` with a real or complex SgdSpectrum built from the arrays (complex as
/// soon as any of the three arrays is complex).
template <class Body>
auto with_spectrum(const py::array& eigenvalues, const py::array& forcing, const py::array& kernel,
                   double limit_level, Body&& body) {
  const Index n = eigenvalues.ndim() == 1 ? eigenvalues.shape(0) : -1;
  if (is_complex_array(eigenvalues) || is_complex_array(forcing) || is_complex_array(kernel)) {
    volterra::SgdSpectrum<Complex> spectrum;
    spectrum.eigenvalues = complex_vector(eigenvalues, "eigenvalues");
    spectrum.forcing = complex_vector(forcing, "forcing", spectrum.eigenvalues.size());
    spectrum.kernel = complex_vector(kernel, "kernel", spectrum.eigenvalues.size());
    spectrum.limit_level = limit_level;
    return body(spectrum);
  }
  volterra::SgdSpectrum<double> spectrum;
  spectrum.eigenvalues = vector_view<double>(eigenvalues, "eigenvalues");
  spectrum.forcing = vector_view<double>(forcing, "forcing", n);
  spectrum.kernel = vector_view<double>(kernel, "kernel", n);
  spectrum.limit_level = limit_level;
  return body(spectrum);
}

}  // namespace

void bind_volterra(py::module_& m) {
  m.def(
      "exact_spectrum",
      [](const py::array& W, const py::array& data_eigenvalues, const py::array& target,
         bool target_is_variance, int n_threads) {
        auto w = matrix_view<double>(W, "W");
        auto lambda = vector_view<double>(data_eigenvalues, "data_eigenvalues", w.rows());
        auto b = vector_view<double>(target, "target", w.rows());
        auto spectrum = without_gil(n_threads, [&](const RunControl& control) {
          return volterra::exact_spectrum(w, lambda, b, target_kind(target_is_variance), control);
        });
        return spectrum_dict(spectrum);
      },
      py::arg("W"), py::arg("data_eigenvalues"), py::arg("target"),
      py::arg("target_is_variance") = false, py::arg("n_threads") = 0,
      "Exact Volterra spectrum of K = W^T D W for a (v, d) projection W.");

  m.def(
      "exact_spectrum_seeded",
      [](std::uint64_t seed, std::uint64_t stream, Index d, const py::array& data_eigenvalues,
         const py::array& target, bool target_is_variance, int n_threads) {
        auto lambda = vector_view<double>(data_eigenvalues, "data_eigenvalues");
        auto b = vector_view<double>(target, "target", lambda.size());
        auto spectrum = without_gil(n_threads, [&](const RunControl& control) {
          return volterra::exact_spectrum_seeded(seed, stream, d, lambda, b,
                                                 target_kind(target_is_variance), control);
        });
        return spectrum_dict(spectrum);
      },
      py::arg("seed"), py::arg("stream"), py::arg("d"), py::arg("data_eigenvalues"),
      py::arg("target"), py::arg("target_is_variance") = false, py::arg("n_threads") = 0,
      "Exact Volterra spectrum for W[k, i] = normal(seed, stream, i*v + k) / sqrt(d).");

  m.def(
      "deterministic_spectrum",
      [](const py::array& data_eigenvalues, const py::array& target_power, Index d, double slope,
         int nodes_per_panel, double lower_factor, int n_threads) {
        auto lambda = vector_view<double>(data_eigenvalues, "data_eigenvalues");
        auto power = vector_view<double>(target_power, "target_power", lambda.size());
        const volterra::ContourOptions options{slope, nodes_per_panel, lower_factor};
        const auto spectrum = without_gil(n_threads, [&](const RunControl& control) {
          return volterra::deterministic_spectrum(lambda, power, d, options, control);
        });
        return spectrum_dict(spectrum);
      },
      py::arg("data_eigenvalues"), py::arg("target_power"), py::arg("d"), py::arg("slope") = 0.1,
      py::arg("nodes_per_panel") = 8, py::arg("lower_factor") = 1e-3, py::arg("n_threads") = 0,
      "Complex contour atoms of the deterministic-equivalent forcing and kernel measures.");

  m.def(
      "risk_curve",
      [](const py::array& eigenvalues, const py::array& forcing, const py::array& kernel,
         double limit_level, const py::array& schedule_starts, const py::array& learning_rates,
         Index batch_size, double noise, const py::array& steps, double block_fraction,
         std::int64_t exact_steps, int n_threads, py::object progress) {
        volterra::StepSchedule schedule;
        schedule.starts = int_vector(schedule_starts, "schedule_starts");
        auto rates = vector_view<double>(learning_rates, "learning_rates");
        schedule.learning_rates.assign(rates.data(), rates.data() + rates.size());
        const std::vector<std::int64_t> step_list = int_vector(steps, "steps");
        volterra::RecursionOptions options{block_fraction, exact_steps};
        return with_spectrum(eigenvalues, forcing, kernel, limit_level, [&](const auto& spectrum) {
          return without_gil(
              n_threads,
              [&](const RunControl& control) {
                return volterra::risk_curve(spectrum, schedule, batch_size, noise, step_list,
                                            options, control);
              },
              std::move(progress));
        });
      },
      py::arg("eigenvalues"), py::arg("forcing"), py::arg("kernel"), py::arg("limit_level"),
      py::arg("schedule_starts"), py::arg("learning_rates"), py::arg("batch_size"),
      py::arg("noise"), py::arg("steps"), py::arg("block_fraction") = 0.01,
      py::arg("exact_steps") = 1000, py::arg("n_threads") = 0,
      py::arg("progress") = py::none(),
      "Expected one-pass SGD risk at the given steps (blocked exact recursion).");

  m.def(
      "volterra_functions",
      [](const py::array& eigenvalues, const py::array& forcing, const py::array& kernel,
         double limit_level, double learning_rate, Index batch_size, Index n_steps,
         int n_threads) {
        volterra::VolterraFunctions out =
            with_spectrum(eigenvalues, forcing, kernel, limit_level, [&](const auto& spectrum) {
              return without_gil(n_threads, [&](const RunControl& control) {
                return volterra::volterra_functions(spectrum, learning_rate, batch_size, n_steps,
                                                    control);
              });
            });
        return py::make_tuple(out.forcing, out.kernel);
      },
      py::arg("eigenvalues"), py::arg("forcing"), py::arg("kernel"), py::arg("limit_level"),
      py::arg("learning_rate"), py::arg("batch_size"), py::arg("n_steps"), py::arg("n_threads") = 0,
      "Forcing F(r) and kernel K(r), r = 0..n_steps, of the Volterra equation.");

  m.def(
      "solve_volterra",
      [](const py::array& forcing, const py::array& kernel, double noise) {
        auto f = vector_view<double>(forcing, "forcing");
        auto k = vector_view<double>(kernel, "kernel");
        return without_gil(0, [&](const RunControl&) { return volterra::solve_volterra(f, k, noise); });
      },
      py::arg("forcing"), py::arg("kernel"), py::arg("noise") = 0.0,
      "Solves P(r) = F(r) + sum_{s<r} K(r-1-s) (P(s) + noise) by direct summation.");

  m.def(
      "kernel_norm",
      [](const py::array& eigenvalues, const py::array& forcing, const py::array& kernel,
         double limit_level, double learning_rate, Index batch_size) {
        return with_spectrum(eigenvalues, forcing, kernel, limit_level, [&](const auto& spectrum) {
          return volterra::kernel_norm(spectrum, learning_rate, batch_size);
        });
      },
      py::arg("eigenvalues"), py::arg("forcing"), py::arg("kernel"), py::arg("limit_level"),
      py::arg("learning_rate"), py::arg("batch_size"));

  m.def(
      "risk_limit",
      [](const py::array& eigenvalues, const py::array& forcing, const py::array& kernel,
         double limit_level, double learning_rate, Index batch_size, double noise) {
        return with_spectrum(eigenvalues, forcing, kernel, limit_level, [&](const auto& spectrum) {
          return volterra::risk_limit(spectrum, learning_rate, batch_size, noise);
        });
      },
      py::arg("eigenvalues"), py::arg("forcing"), py::arg("kernel"), py::arg("limit_level"),
      py::arg("learning_rate"), py::arg("batch_size"), py::arg("noise") = 0.0);

  m.def(
      "resolvent_m",
      [](const py::array& data_eigenvalues, Index d, const py::array& z, int n_threads) {
        auto lambda = vector_view<double>(data_eigenvalues, "data_eigenvalues");
        const Vector<Complex> points = complex_vector(z, "z");
        return without_gil(n_threads, [&](const RunControl& control) {
          return volterra::resolvent_m(lambda, d, points, control);
        });
      },
      py::arg("data_eigenvalues"), py::arg("d"), py::arg("z"), py::arg("n_threads") = 0,
      "PPXP's m(z) at each z (Im z >= 0; real z means z + i0).");

  m.def(
      "limit_level",
      [](const py::array& data_eigenvalues, const py::array& target_power, Index d) {
        auto lambda = vector_view<double>(data_eigenvalues, "data_eigenvalues");
        auto power = vector_view<double>(target_power, "target_power", lambda.size());
        const volterra::LimitLevel out = volterra::limit_level(lambda, power, d);
        return py::make_tuple(out.level, out.c);
      },
      py::arg("data_eigenvalues"), py::arg("target_power"), py::arg("d"),
      "(F_0, c) of PPXP's limit level (P12).");

  m.def(
      "spectral_densities",
      [](const py::array& data_eigenvalues, const py::array& target_power, Index d,
         const py::array& x, double relative_epsilon, int n_threads) {
        auto lambda = vector_view<double>(data_eigenvalues, "data_eigenvalues");
        auto power = vector_view<double>(target_power, "target_power", lambda.size());
        auto points = vector_view<double>(x, "x");
        auto out = without_gil(n_threads, [&](const RunControl& control) {
          return volterra::spectral_densities(lambda, power, d, points, relative_epsilon, control);
        });
        return py::make_tuple(out.eigenvalue, out.forcing, out.kernel);
      },
      py::arg("data_eigenvalues"), py::arg("target_power"), py::arg("d"), py::arg("x"),
      py::arg("relative_epsilon") = 1e-8, py::arg("n_threads") = 0,
      "Deterministic-equivalent densities (eigenvalues, forcing, kernel) of K at x (1 + i eps).");
}

}  // namespace scalinglab::bindings
