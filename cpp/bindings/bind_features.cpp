/// \file bind_features.cpp
/// _core.features: random feature maps and their streamed Grams (features.hpp, kernel.hpp).
/// Thin: arguments are converted (no copies of the data), then the GIL is released around the
/// compute (without_gil). Meaning is validated in python/scalinglab/features.py.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "scalinglab/features.hpp"
#include "scalinglab/kernel.hpp"

namespace scalinglab::bindings {
namespace {

// Hands an Eigen matrix to numpy without copying it (the array owns the moved matrix).
template <class Matrix>
py::array to_numpy(Matrix&& matrix) {
  return py::cast(std::forward<Matrix>(matrix)).template cast<py::array>();
}

template <class T>
py::array transform_impl(const RandomFeatureMap& map, const py::array& X, std::uint64_t start,
                         std::uint64_t stop, int n_threads, Index block_size) {
  auto x = matrix_view<T>(X, "X", map.d());
  auto out = without_gil(n_threads, [&](const RunControl& control) {
    return map.transform<T>(x, start, stop, control, block_size);
  });
  return to_numpy(std::move(out));
}

template <class T>
py::tuple grams_impl(const RandomFeatureMap& map, const py::array& X, const py::object& Z,
                     bool with_gram, std::vector<std::uint64_t> checkpoints, Index block_size,
                     int n_threads, py::object progress) {
  auto x = matrix_view<T>(X, "X", map.d());
  // No Z: an empty (0, d) array. The holder keeps a converted Z alive while it is viewed.
  const py::array z_array =
      Z.is_none() ? py::array(py::array_t<T>(std::vector<py::ssize_t>{0, map.d()}))
                  : Z.cast<py::array>();
  auto z = matrix_view<T>(z_array, "Z", map.d());
  StreamedGrams<T> grams = without_gil(
      n_threads,
      [&](const RunControl& control) {
        return streamed_grams<T>(map, x, z, with_gram, std::move(checkpoints), block_size, control);
      },
      std::move(progress));
  py::list gram_list, cross_list;
  for (auto& g : grams.gram) gram_list.append(to_numpy(std::move(g)));
  for (auto& c : grams.cross) cross_list.append(to_numpy(std::move(c)));
  return py::make_tuple(grams.checkpoints, gram_list, cross_list);
}

}  // namespace

void bind_features(py::module_& m) {
  py::class_<RandomFeatureMap>(m, "RandomFeatureMap",
                               "Random feature map phi_j(x) = sigma(w_j . x / (lengthscale "
                               "sqrt(d)) + b_j); W is regenerated from Philox, never stored.")
      .def(py::init([](Index d, std::uint64_t n_features, const std::string& activation,
                       std::uint64_t seed, double lengthscale) {
             return RandomFeatureMap(d, n_features, parse_activation(activation), seed,
                                     lengthscale);
           }),
           py::arg("d"), py::arg("n_features"), py::arg("activation"), py::arg("seed"),
           py::arg("lengthscale") = 1.0)
      .def_property_readonly("d", &RandomFeatureMap::d)
      .def_property_readonly("n_features", &RandomFeatureMap::n_features)
      .def_property_readonly("activation",
                             [](const RandomFeatureMap& self) {
                               return std::string(activation_name(self.activation()));
                             })
      .def_property_readonly("seed", &RandomFeatureMap::seed)
      .def_property_readonly("lengthscale", &RandomFeatureMap::lengthscale)
      .def(
          "weights",
          [](const RandomFeatureMap& self, std::uint64_t start, std::uint64_t stop,
             bool single_precision, int n_threads) -> py::array {
            if (single_precision) {
              RowMatrix<float> W;
              without_gil(n_threads, [&](const RunControl&) { self.weights<float>(start, stop, W, n_threads); });
              return to_numpy(std::move(W));
            }
            RowMatrix<double> W;
            without_gil(n_threads, [&](const RunControl&) { self.weights<double>(start, stop, W, n_threads); });
            return to_numpy(std::move(W));
          },
          py::arg("start"), py::arg("stop"), py::arg("single_precision") = false,
          py::arg("n_threads") = 0, "Rows [start, stop) of W, shape (stop - start, d).")
      .def(
          "phases",
          [](const RandomFeatureMap& self, std::uint64_t start, std::uint64_t stop) {
            Vector<double> b;
            self.phases<double>(start, stop, b);
            return to_numpy(std::move(b));
          },
          py::arg("start"), py::arg("stop"),
          "Phases b_j for j in [start, stop) (zeros unless the activation is 'fourier').")
      .def(
          "transform",
          [](const RandomFeatureMap& self, const py::array& X, std::uint64_t start,
             std::uint64_t stop, int n_threads, Index block_size) {
            if (is_float32(X)) return transform_impl<float>(self, X, start, stop, n_threads,
                                                            block_size);
            return transform_impl<double>(self, X, start, stop, n_threads, block_size);
          },
          py::arg("X"), py::arg("start"), py::arg("stop"), py::arg("n_threads") = 0,
          py::arg("block_size") = 0,
          "Features phi_j(X) for j in [start, stop), shape (n, stop - start), in X's dtype.")
      .def(
          "grams",
          [](const RandomFeatureMap& self, const py::array& X, const py::object& Z,
             bool with_gram, std::vector<std::uint64_t> checkpoints, Index block_size,
             int n_threads, py::object progress) {
            if (is_float32(X))
              return grams_impl<float>(self, X, Z, with_gram, std::move(checkpoints), block_size,
                                       n_threads, std::move(progress));
            return grams_impl<double>(self, X, Z, with_gram, std::move(checkpoints), block_size,
                                      n_threads, std::move(progress));
          },
          py::arg("X"), py::arg("Z") = py::none(), py::arg("with_gram") = true,
          py::arg("checkpoints") = std::vector<std::uint64_t>{}, py::arg("block_size") = 0,
          py::arg("n_threads") = 0, py::arg("progress") = py::none(),
          "One streamed pass: returns (checkpoints, [Phi(X) Phi(X)^T / N], [Phi(Z) Phi(X)^T / N]) "
          "with one (n, n) / (m, n) matrix per checkpoint N (lists empty when not requested).");

  m.def("default_block_size", &default_block_size, py::arg("rows"), py::arg("d"),
        py::arg("scalar_bytes"));
  m.def(
      "activation_names", [] { return std::string(activation_names()); },
      "The activations the core knows, comma-separated (scalinglab._activations reads it).");

}

}  // namespace scalinglab::bindings
