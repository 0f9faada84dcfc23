/// \file bind_topk.cpp
/// The matrix-free top-k eigensolver of random-feature Grams (topk.hpp).
#include "common.hpp"
#include "scalinglab/topk.hpp"

namespace scalinglab::bindings {

void bind_topk(py::module_& m) {
  m.def(
      "feature_gram",
      [](const RandomFeatureMap& map, const py::array& X, Index k, Index oversample,
         int max_iterations, double tol, bool vectors, std::uint64_t seed, Index block_size,
         int n_threads, py::object progress) {
        const auto x = matrix_view<double>(X, "X", map.d());
        TopKOptions options;
        options.k = k;
        options.oversample = oversample;
        options.max_iterations = max_iterations;
        options.tol = tol;
        options.vectors = vectors;
        options.seed = seed;
        options.block_size = block_size;
        TopKResult result = without_gil(
            n_threads,
            [&](const RunControl& control) { return feature_gram_topk(map, x, options, control); },
            std::move(progress));
        py::dict out;
        out["eigenvalues"] = py::array_t<double>(result.eigenvalues.size(),
                                                 result.eigenvalues.data());
        out["residuals"] = py::array_t<double>(result.residuals.size(), result.residuals.data());
        if (vectors) {
          // Column-major (P, k) -> a Fortran-ordered numpy array (one copy).
          py::array_t<double, py::array::f_style> V({result.vectors.rows(), result.vectors.cols()});
          std::copy(result.vectors.data(), result.vectors.data() + result.vectors.size(),
                    V.mutable_data());
          out["vectors"] = V;
        } else {
          out["vectors"] = py::none();
        }
        out["n_converged"] = result.n_converged;
        out["iterations"] = result.iterations;
        out["block"] = result.block;
        out["status"] = std::string(topk_status_name(result.status));
        return out;
      },
      py::arg("map"), py::arg("X"), py::arg("k"), py::arg("oversample") = -1,
      py::arg("max_iterations") = 100, py::arg("tol") = 1e-6, py::arg("vectors") = false,
      py::arg("seed") = 0, py::arg("block_size") = 0, py::arg("n_threads") = 0,
      py::arg("progress") = py::none(),
      "Top-k eigenpairs of Phi(X) Phi(X)^T / N by block subspace iteration, never forming the "
      "Gram: dict(eigenvalues, residuals, vectors, n_converged, iterations, block, status).");
}

}  // namespace scalinglab::bindings
