/// \file bind_solvers.cpp
/// _core.solvers: eigendecomposition and ridge solvers (solvers.hpp). float32 arrays take the float path,
/// everything else must be float64 (the Python layer converts); shapes are checked here and in
/// the core, meaning (ridge >= 0, symmetry tolerance) in Python.
#include <vector>

#include "common.hpp"
#include "scalinglab/solvers.hpp"

namespace scalinglab::bindings {
namespace {

/// Stacks equally shaped row-major matrices into a C-ordered array (count, rows, cols).
template <class T>
py::array_t<T> stack(const std::vector<RowMatrix<T>>& matrices, Index rows, Index cols) {
  py::array_t<T> out({static_cast<py::ssize_t>(matrices.size()), static_cast<py::ssize_t>(rows),
                      static_cast<py::ssize_t>(cols)});
  T* data = out.mutable_data();
  const std::size_t size = static_cast<std::size_t>(rows * cols);
  for (std::size_t i = 0; i < matrices.size(); ++i)
    std::copy(matrices[i].data(), matrices[i].data() + size, data + i * size);
  return out;
}

template <class T>
void require_symmetric_impl(const py::array& a, const std::string& name, double tolerance) {
  auto A = matrix_view<T>(a, name.c_str());
  without_gil(0, [&](const RunControl&) { require_symmetric<T>(A, name.c_str(), tolerance); });
}

template <class T>
py::object eigh_impl(const py::array& a, bool compute_vectors, int n_threads) {
  auto A = matrix_view<T>(a, "a");
  auto result = without_gil(n_threads, [&](const RunControl& control) {
    return eigh<T>(A, compute_vectors, control);
  });
  py::object values = py::cast(std::move(result.values));
  if (!compute_vectors) return values;
  // Column-major (n, n): numpy sees an F-ordered array whose columns are the eigenvectors.
  return py::make_tuple(values, py::cast(std::move(result.vectors)));
}

template <class T>
py::object ridge_dual_impl(const py::array& gram, const py::array& y, double ridge,
                           int n_threads) {
  auto K = matrix_view<T>(gram, "gram");
  auto Y = matrix_view<T>(y, "y");
  auto alpha = without_gil(n_threads, [&](const RunControl& control) {
    return ridge_dual<T>(K, Y, ridge, control);
  });
  return py::cast(std::move(alpha));
}

template <class T>
py::object ridge_primal_impl(const py::array& G, const py::array& B, Index n_samples,
                             double ridge, int n_threads) {
  auto gram = matrix_view<T>(G, "G");
  auto rhs = matrix_view<T>(B, "B");
  auto w = without_gil(n_threads, [&](const RunControl& control) {
    return ridge_primal<T>(gram, rhs, n_samples, ridge, control);
  });
  return py::cast(std::move(w));
}

template <class T>
void bind_normal_equations(py::module_& m, const char* name) {
  using Class = NormalEquations<T>;
  py::class_<Class>(m, name,
                    "Primal normal equations G = F^T F, B = F^T Y accumulated over sample blocks.")
      .def(py::init<Index, Index>(), py::arg("n_features"), py::arg("n_outputs"))
      .def(
          "add",
          [](Class& self, const py::array& features, const py::array& y, int n_threads) {
            auto Phi = matrix_view<T>(features, "features");
            auto Y = matrix_view<T>(y, "y");
            without_gil(n_threads, [&](const RunControl& control) { self.add(Phi, Y, control); });
          },
          py::arg("features"), py::arg("y"), py::arg("n_threads") = 0)
      .def(
          "solve",
          [](const Class& self, double ridge, int n_threads) {
            auto w = without_gil(n_threads, [&](const RunControl& control) {
              return self.solve(ridge, control);
            });
            return w;
          },
          py::arg("ridge"), py::arg("n_threads") = 0)
      .def("gram", &Class::gram)
      .def_property_readonly("rhs", &Class::rhs, py::return_value_policy::reference_internal)
      .def_property_readonly("n_samples", &Class::n_samples)
      .def_property_readonly("n_features", &Class::n_features)
      .def_property_readonly("n_outputs", &Class::n_outputs);
}

template <class T>
void bind_ridge_path(py::module_& m, const char* name) {
  using Class = RidgePath<T>;
  py::class_<Class>(m, name, "Ridge regression at many ridges from one eigendecomposition.")
      .def(py::init([](const py::array& gram, const py::array& y, int n_threads) {
             auto K = matrix_view<T>(gram, "gram");
             auto Y = matrix_view<T>(y, "y");
             return without_gil(n_threads, [&](const RunControl& control) {
               return std::make_unique<Class>(K, Y, control);
             });
           }),
           py::arg("gram"), py::arg("y"), py::arg("n_threads") = 0)
      .def_property_readonly("eigenvalues", &Class::eigenvalues,
                             py::return_value_policy::reference_internal)
      .def_property_readonly("eigenvectors", &Class::eigenvectors,
                             py::return_value_policy::reference_internal)
      .def_property_readonly("projected_targets", &Class::projected_targets,
                             py::return_value_policy::reference_internal)
      .def_property_readonly("n_samples", &Class::n_samples)
      .def_property_readonly("n_outputs", &Class::n_outputs)
      .def_property_readonly("cutoff", &Class::cutoff)
      .def(
          "dual_coef",
          [](const Class& self, double ridge, int n_threads) {
            auto alpha = without_gil(n_threads, [&](const RunControl& control) {
              return self.dual_coef(ridge, control);
            });
            return alpha;
          },
          py::arg("ridge"), py::arg("n_threads") = 0)
      .def(
          "train_predictions",
          [](const Class& self, const std::vector<double>& ridges, int n_threads) {
            auto predictions = without_gil(n_threads, [&](const RunControl& control) {
              return self.train_predictions(ridges, control);
            });
            return stack<T>(predictions, self.n_samples(), self.n_outputs());
          },
          py::arg("ridges"), py::arg("n_threads") = 0,
          "K alpha(r) for each ridge: array (n_ridges, P, k).")
      .def(
          "test_predictions",
          [](const Class& self, const py::array& gram_test, const std::vector<double>& ridges,
             int n_threads) {
            auto K_test = matrix_view<T>(gram_test, "gram_test");
            auto predictions = without_gil(n_threads, [&](const RunControl& control) {
              return self.test_predictions(K_test, ridges, control);
            });
            return stack<T>(predictions, K_test.rows(), self.n_outputs());
          },
          py::arg("gram_test"), py::arg("ridges"), py::arg("n_threads") = 0,
          "K_test alpha(r) for each ridge: array (n_ridges, m, k).");
}

}  // namespace

void bind_solvers(py::module_& m) {
  m.def("parallel_eigen_dimension", &scalinglab::parallel_eigen_dimension,
        "Dimension from which an automatic (n_threads=0) eigendecomposition uses all cores.");
  m.def("set_parallel_eigen_dimension", &scalinglab::set_parallel_eigen_dimension,
        py::arg("dimension"),
        "Sets that dimension (process-wide; scalinglab._calibration sets it per machine).");
  m.def(
      "require_symmetric",
      [](const py::array& a, const std::string& name, double tolerance) {
        if (is_float32(a)) return require_symmetric_impl<float>(a, name, tolerance);
        require_symmetric_impl<double>(a, name, tolerance);
      },
      py::arg("a"), py::arg("name"), py::arg("tolerance"),
      "ValueError naming `name` unless a is square, finite and |a - a^T| <= tolerance max|a|.");
  m.def(
      "eigh",
      [](const py::array& a, bool compute_vectors, int n_threads) {
        if (is_float32(a)) return eigh_impl<float>(a, compute_vectors, n_threads);
        return eigh_impl<double>(a, compute_vectors, n_threads);
      },
      py::arg("a"), py::arg("compute_vectors") = true, py::arg("n_threads") = 0,
      "LAPACK ?syevd of a symmetric matrix (upper triangle read): values ascending, and the "
      "eigenvectors as columns when compute_vectors.");
  m.def(
      "ridge_dual",
      [](const py::array& gram, const py::array& y, double ridge, int n_threads) {
        if (is_float32(gram)) return ridge_dual_impl<float>(gram, y, ridge, n_threads);
        return ridge_dual_impl<double>(gram, y, ridge, n_threads);
      },
      py::arg("gram"), py::arg("y"), py::arg("ridge"), py::arg("n_threads") = 0,
      "alpha = (gram + P ridge I)^{-1} y by Cholesky; y is (P, k).");
  m.def(
      "ridge_primal",
      [](const py::array& G, const py::array& B, Index n_samples, double ridge, int n_threads) {
        if (is_float32(G)) return ridge_primal_impl<float>(G, B, n_samples, ridge, n_threads);
        return ridge_primal_impl<double>(G, B, n_samples, ridge, n_threads);
      },
      py::arg("G"), py::arg("B"), py::arg("n_samples"), py::arg("ridge"),
      py::arg("n_threads") = 0, "w = (G + n_samples ridge I)^{-1} B by Cholesky.");
  bind_normal_equations<double>(m, "NormalEquationsF64");
  bind_normal_equations<float>(m, "NormalEquationsF32");
  bind_ridge_path<double>(m, "RidgePathF64");
  bind_ridge_path<float>(m, "RidgePathF32");
}

}  // namespace scalinglab::bindings
