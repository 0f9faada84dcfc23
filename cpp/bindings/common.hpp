#pragma once
/// \file common.hpp
/// The one place that includes pybind11. Every bind_<area>.cpp includes this file and defines
/// `void bind_<area>(py::module_&)`, which fills the submodule `_core.<area>`; module.cpp only
/// creates the submodules and calls them. Why one header: every translation unit must see the
/// same pybind11 headers and type casters (eigen, numpy, stl, functional), or the one-definition
/// rule breaks silently (a caster defined in one file and not in another).
#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sstream>
#include <string>

#include "scalinglab/errors.hpp"
#include "scalinglab/optimizer.hpp"
#include "scalinglab/parallel.hpp"
#include "scalinglab/theory.hpp"
#include "scalinglab/types.hpp"

namespace py = pybind11;

namespace scalinglab::bindings {

void bind_random(py::module_& m);
void bind_features(py::module_& m);
void bind_kernels(py::module_& m);
void bind_solvers(py::module_& m);
void bind_dynamics(py::module_& m);
void bind_wishart(py::module_& m);
void bind_theory(py::module_& m);

/// The DMFT mode arrays from numpy (the one conversion, for bind_theory and
/// bind_theory_finite_size); defined in bind_theory.cpp.
theory::ModeSpectrum make_modes(const py::array& eigenvalues, const py::array& target_power,
                                const py::array& multiplicity);
void bind_theory_finite_size(py::module_& m);
void bind_volterra(py::module_& m);
void bind_scaling_fit(py::module_& m);
void bind_latent(py::module_& m);
void bind_mlp(py::module_& m);
void bind_topk(py::module_& m);

template <class T>
inline const char* dtype_name() {
  return std::is_same<T, float>::value ? "float32" : "float64";
}

/// True for a float32 array (which takes the float path of the templated cores).
inline bool is_float32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }

/// The optimizer of the GF/GD engines (dynamics and theory) from its Python name.
/// \param argument the keyword, named in the error ("method", "optimizer").
inline Optimizer parse_optimizer(const std::string& name, const char* argument) {
  if (name == "gf") return Optimizer::kGradientFlow;
  if (name == "gd") return Optimizer::kGradientDescent;
  throw py::value_error(std::string("`") + argument + "`: expected 'gf' or 'gd', got '" + name +
                        "'");
}

inline std::string shape_string(const py::array& a) {
  std::ostringstream out;
  out << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) out << (i ? ", " : "") << a.shape(i);
  out << (a.ndim() == 1 ? ",)" : ")");
  return out.str();
}

/// A no-copy view of a C-contiguous 2-D array of T. Throws ValueError naming the argument when
/// the array has the wrong rank, dtype, layout, or (if cols >= 0) number of columns. The view
/// borrows the array's memory: keep `a` alive while it is used.
template <class T>
Eigen::Map<const RowMatrix<T>> matrix_view(const py::array& a, const char* name, Index cols = -1) {
  const bool right_dtype = py::isinstance<py::array_t<T>>(a);
  const bool contiguous = (a.flags() & py::array::c_style) != 0;
  if (a.ndim() != 2 || !right_dtype || !contiguous ||
      (cols >= 0 && a.shape(1) != static_cast<py::ssize_t>(cols))) {
    std::ostringstream msg;
    msg << "`" << name << "`: expected a C-contiguous " << dtype_name<T>() << " array of shape (n, "
        << (cols >= 0 ? std::to_string(cols) : std::string("d")) << "), got "
        << py::str(a.dtype()).cast<std::string>() << " of shape " << shape_string(a)
        << (contiguous ? "" : " (not C-contiguous)");
    throw py::value_error(msg.str());
  }
  return Eigen::Map<const RowMatrix<T>>(static_cast<const T*>(a.data()), a.shape(0), a.shape(1));
}

/// A no-copy view of a contiguous 1-D array of T (optionally of length `size`).
template <class T>
Eigen::Map<const Vector<T>> vector_view(const py::array& a, const char* name, Index size = -1) {
  const bool right_dtype = py::isinstance<py::array_t<T>>(a);
  const bool contiguous = (a.flags() & py::array::c_style) != 0;
  if (a.ndim() != 1 || !right_dtype || !contiguous ||
      (size >= 0 && a.shape(0) != static_cast<py::ssize_t>(size))) {
    std::ostringstream msg;
    msg << "`" << name << "`: expected a contiguous " << dtype_name<T>() << " array of shape ("
        << (size >= 0 ? std::to_string(size) : std::string("n")) << ",), got "
        << py::str(a.dtype()).cast<std::string>() << " of shape " << shape_string(a);
    throw py::value_error(msg.str());
  }
  return Eigen::Map<const Vector<T>>(static_cast<const T*>(a.data()), a.shape(0));
}

/// A RunControl whose stop check is Ctrl-C (PyErr_CheckSignals) and whose progress goes to an
/// optional Python callable `progress(fraction)`. Both callbacks take the GIL themselves, so the
/// computation may (and should) run with the GIL released.
inline RunControl make_run_control(int n_threads, py::object progress = py::none()) {
  RunControl control;
  control.n_threads = n_threads;
  control.should_stop = [] {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  };
  if (!progress.is_none()) {
    // Hold a reference that outlives the Python argument, released under the GIL.
    auto callback = std::make_shared<py::object>(std::move(progress));
    control.on_progress = [callback](double fraction) {
      py::gil_scoped_acquire gil;
      (*callback)(fraction);
    };
    control.should_stop = [callback] {  // keeps `callback` alive as long as the control
      py::gil_scoped_acquire gil;
      return PyErr_CheckSignals() != 0;
    };
  }
  return control;
}

/// Runs `compute(control)` with the GIL released (pure C++: it must touch no Python object) and
/// returns its result. The control carries n_threads, Ctrl-C polling and the optional progress
/// callback; the GIL is re-acquired before the control (and its Python references) is destroyed.
/// Every binding that computes goes through here, so that the GIL is released around pure C++
/// and Ctrl-C reaches the loops that poll the control.
template <class Compute>
auto without_gil(int n_threads, Compute&& compute, py::object progress = py::none()) {
  const RunControl control = make_run_control(n_threads, std::move(progress));
  py::gil_scoped_release release;  // pure C++ in compute: no Python object is touched there
  return compute(control);
}

}  // namespace scalinglab::bindings
