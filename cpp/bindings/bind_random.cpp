/// \file bind_random.cpp
/// Philox streams and thread settings.
#include "common.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::bindings {

void bind_random(py::module_& m) {
  m.def(
      "normal",
      [](std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start, py::ssize_t n,
         bool single_precision) -> py::array {
        if (n < 0) throw py::value_error("`n`: must be >= 0, got " + std::to_string(n));
        if (single_precision) {
          py::array_t<float> out(n);
          float* data = out.mutable_data();
          py::gil_scoped_release release;  // pure C++ below, no Python object touched
          random::fill_normal(seed, stream, counter_start, data, static_cast<std::size_t>(n));
          return std::move(out);
        }
        py::array_t<double> out(n);
        double* data = out.mutable_data();
        py::gil_scoped_release release;  // pure C++ below, no Python object touched
        random::fill_normal(seed, stream, counter_start, data, static_cast<std::size_t>(n));
        return std::move(out);
      },
      py::arg("seed"), py::arg("stream"), py::arg("counter_start"), py::arg("n"),
      py::arg("single_precision") = false,
      "Standard normal numbers counter_start .. counter_start+n-1 of (seed, stream).");
  m.def(
      "uniform",
      [](std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start, py::ssize_t n) {
        if (n < 0) throw py::value_error("`n`: must be >= 0, got " + std::to_string(n));
        py::array_t<double> out(n);
        random::fill_uniform(seed, stream, counter_start, out.mutable_data(),
                             static_cast<std::size_t>(n));
        return out;
      },
      py::arg("seed"), py::arg("stream"), py::arg("counter_start"), py::arg("n"),
      "Uniform numbers in (0, 1) at counters counter_start .. counter_start+n-1.");
  m.def(
      "philox4x32",
      [](std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
        std::uint32_t words[4];
        random::philox4x32(seed, stream, counter, words);
        return py::make_tuple(words[0], words[1], words[2], words[3]);
      },
      py::arg("seed"), py::arg("stream"), py::arg("counter"),
      "The four 32-bit words of one Philox4x32-10 block.");
  m.def("derive_seed", &random::derive_seed, py::arg("seed"), py::arg("index"));
  m.def("resolve_threads", &resolve_threads, py::arg("n_threads"));
  m.def("blas_threads", &get_blas_threads);
  m.def("set_blas_threads", &set_blas_threads, py::arg("n_threads"));

  py::module_ streams = m.def_submodule("streams", "Stream ids of the core's randomness.");
  streams.attr("FEATURE_WEIGHTS") = static_cast<std::uint64_t>(random::kStreamFeatureWeights);
  streams.attr("FEATURE_PHASES") = static_cast<std::uint64_t>(random::kStreamFeaturePhases);
  streams.attr("PROJECTION") = static_cast<std::uint64_t>(random::kStreamProjection);
  streams.attr("DATA") = static_cast<std::uint64_t>(random::kStreamData);
  streams.attr("NOISE") = static_cast<std::uint64_t>(random::kStreamNoise);
  streams.attr("SGD") = static_cast<std::uint64_t>(random::kStreamSgd);
  streams.attr("WISHART") = static_cast<std::uint64_t>(random::kStreamWishart);
  streams.attr("BOOTSTRAP") = static_cast<std::uint64_t>(random::kStreamBootstrap);
  streams.attr("USER") = static_cast<std::uint64_t>(random::kStreamUser);
}

}  // namespace scalinglab::bindings
