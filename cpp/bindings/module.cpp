/// \file module.cpp
/// scalinglab._core: registers the exceptions and calls one bind_<area>() per concept.
#include "common.hpp"

PYBIND11_MODULE(_core, m) {
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

  sb::bind_random(m);
  sb::bind_features(m);
  sb::bind_solvers(m);
  sb::bind_dynamics(m);
  sb::bind_theory(m);
  sb::bind_volterra(m);
  sb::bind_scaling_fit(m);

#ifdef SCALINGLAB_VERSION
  m.attr("__version__") = SCALINGLAB_VERSION;
#endif
}
