/// \file bind_latent.cpp
/// The latent power-law data model of MRS (latent.hpp): samples and streamed moments.
/// Thin: arguments are converted, then the GIL is released around the compute. Meaning is
/// validated in python/scalinglab/latent.py.
#include <cstdint>
#include <utility>

#include "common.hpp"
#include "scalinglab/latent.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::bindings {
namespace {

template <class Matrix>
py::array to_numpy(Matrix&& matrix) {
  return py::cast(std::forward<Matrix>(matrix)).template cast<py::array>();
}

}  // namespace

void bind_latent(py::module_& m) {
  py::module_& latent = m;  // module.cpp made the submodule _core.latent
  latent.def(
      "samples",
      [](std::uint64_t seed, std::uint64_t stream, const py::array& std_devs, std::uint64_t start,
         std::uint64_t stop, int n_threads) {
        const Vector<double> sd = vector_view<double>(std_devs, "std_devs");
        auto out = without_gil(n_threads, [&](const RunControl& control) {
          return latent::samples(seed, stream, sd, start, stop, control);
        });
        return to_numpy(std::move(out));
      },
      py::arg("seed"), py::arg("stream"), py::arg("std_devs"), py::arg("start"), py::arg("stop"),
      py::arg("n_threads") = 0,
      "Latent samples [start, stop) of (seed, stream): (stop - start, M), scaled by std_devs.");
  latent.def(
      "moments",
      [](std::uint64_t data_seed, const py::array& std_devs, const py::array& teacher_power,
         Index n_train, Index n_test,
         std::uint64_t feature_seed, Index n_features, Index block_size, int n_threads,
         py::object progress) {
        const Vector<double> sd = vector_view<double>(std_devs, "std_devs");
        const Vector<double> power = vector_view<double>(teacher_power, "teacher_power");
        auto out = without_gil(
            n_threads,
            [&](const RunControl& control) {
              return latent::moments(data_seed, sd, power, n_train, n_test, feature_seed, n_features,
                                     block_size, control);
            },
            std::move(progress));
        return py::make_tuple(to_numpy(std::move(out.preactivations)),
                              to_numpy(std::move(out.teacher_cross)),
                              to_numpy(std::move(out.teacher_gram)),
                              to_numpy(std::move(out.feature_covariance)));
      },
      py::arg("data_seed"), py::arg("std_devs"), py::arg("teacher_power"), py::arg("n_train"), py::arg("n_test"),
      py::arg("feature_seed"), py::arg("n_features"), py::arg("block_size") = 0,
      py::arg("n_threads") = 0, py::arg("progress") = py::none(),
      "(X u^T, X T Lambda u^T, X T X^T, u Lambda u^T) for n_train training then n_test held-out "
      "samples, streamed over blocks of latent coordinates.");
  latent.attr("STREAM_DATA") = static_cast<std::uint64_t>(random::kStreamLatentData);
  latent.attr("STREAM_TEST") = static_cast<std::uint64_t>(random::kStreamLatentTest);
  latent.attr("STREAM_NOISE") = static_cast<std::uint64_t>(random::kStreamLatentNoise);
  latent.attr("STREAM_TEACHER") = static_cast<std::uint64_t>(random::kStreamLatentTeacher);
}

}  // namespace scalinglab::bindings
