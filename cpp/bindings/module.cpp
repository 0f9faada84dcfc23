/// \file module.cpp
/// scalinglab._core: registers the exceptions and fills one submodule per area
/// (_core.random, .features, .kernels, .solvers, .dynamics, .wishart, .theory, .volterra,
/// .scaling_fit, .latent, .mlp, .topk, .theory_finite_size).
#include "common.hpp"

// Free-threaded Python (3.13t): the module declares that it does not rely on the GIL, because
// nothing of ours is protected by it. Every computation already runs with the GIL released
// (without_gil), so the GIL never guarded the core; the binding code that holds it touches only
// its own arguments and results. The core's process-wide state is: the OpenBLAS threads
// callback of BlasOnOpenMPScope (a mutex-guarded user count, features.cpp), the immutable
// static of dynamics::Projection::identity(), and the OpenBLAS thread count that
// BlasThreadScope sets and restores. The last is not synchronised, but it races in the same way
// today between two Python threads calling the core with the GIL released, and it changes
// speed only: results do not depend on any thread count. The static LinAlgError type below is
// created once, at import.
PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  namespace sb = scalinglab::bindings;
  m.doc() = "scalinglab's compiled core (private: use the scalinglab package).";

  // scalinglab.LinAlgError derives from numpy.linalg.LinAlgError (itself a ValueError) so that
  // code catching numpy's error also catches ours.
  static py::exception<scalinglab::LinAlgError> lin_alg_error(
      m, "LinAlgError", py::module_::import("numpy.linalg").attr("LinAlgError"));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const scalinglab::Interrupted&) {
      // PyErr_CheckSignals already set KeyboardInterrupt; keep it if present.
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const scalinglab::LinAlgError& e) {
      py::set_error(lin_alg_error, e.what());
    }
  });

  // One submodule per area, filled by its bind_<area>.cpp (as boost-histogram does).
  const auto area = [&m](const char* name, const char* doc, void (*bind)(py::module_&)) {
    py::module_ sub = m.def_submodule(name, doc);
    bind(sub);
  };
  area("random", "Philox streams and their stream ids.", sb::bind_random);
  area("features", "Random feature maps and streamed Grams.", sb::bind_features);
  area("kernels", "Analytic kernels.", sb::bind_kernels);
  area("solvers", "Eigendecomposition and ridge solvers.", sb::bind_solvers);
  area("dynamics", "GF/GD/SGD learning dynamics and kernel gradient flow.", sb::bind_dynamics);
  area("wishart", "Wishart, Bartlett and chi-square draws.", sb::bind_wishart);
  area("theory", "DMFT and deterministic equivalents.", sb::bind_theory);
  area("volterra", "One-pass SGD risk theory (Volterra).", sb::bind_volterra);
  area("scaling_fit", "Scaling-law fitting core.", sb::bind_scaling_fit);
  area("latent", "Latent power-law data (MRS, arXiv 2210.16859).", sb::bind_latent);
  area("mlp", "Small fully connected networks trained many at once.", sb::bind_mlp);
  area("topk", "Matrix-free top-k spectra of streamed random-feature Grams.", sb::bind_topk);
  area("theory_finite_size", "The leading O(1/N), O(1/P) correction to the DMFT.", sb::bind_theory_finite_size);

#ifdef SCALINGLAB_VERSION
  m.attr("__version__") = SCALINGLAB_VERSION;
#endif
}
