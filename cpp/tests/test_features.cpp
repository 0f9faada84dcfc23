// Unit tests of features.hpp: activation names, weight streams independent of range and threads,
// explicit features against the definition, block sizes.
#include <cmath>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "scalinglab/features.hpp"
#include "scalinglab/random.hpp"

using namespace scalinglab;

namespace {

bool throws_invalid_argument_naming(const char* name, void (*call)()) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return std::string(e.what()).find(std::string("`") + name + "`") != std::string::npos;
  }
  return false;
}

}  // namespace

int main() {
  // Names round trip; an unknown name lists the valid ones.
  for (auto a : {Activation::kLinear, Activation::kRelu, Activation::kErf, Activation::kTanh,
                 Activation::kCos, Activation::kSin, Activation::kFourier})
    CHECK(parse_activation(activation_name(a)) == a);
  CHECK(throws_invalid_argument_naming("activation", [] { parse_activation("gelu"); }));
  CHECK(throws_invalid_argument_naming("d", [] { RandomFeatureMap(0, 10, Activation::kRelu, 1); }));
  CHECK(throws_invalid_argument_naming("n_features",
                                       [] { RandomFeatureMap(3, 0, Activation::kRelu, 1); }));
  CHECK(throws_invalid_argument_naming(
      "lengthscale", [] { RandomFeatureMap(3, 5, Activation::kRelu, 1, -1.0); }));

  // Weight rows: entry (j, i) is normal j*d + i; identical for any range and thread count.
  const Index d = 13;
  RandomFeatureMap map(d, 5000, Activation::kRelu, 77);
  RowMatrix<double> all, part;
  map.weights<double>(0, 5000, all, 1);
  bool same = true;
  for (auto range : {std::pair<int, int>{0, 1}, {3, 700}, {699, 5000}, {4999, 5000}}) {
    for (int threads : {1, 2, 3}) {
      map.weights<double>(range.first, range.second, part, threads);
      same = same && part == all.middleRows(range.first, range.second - range.first);
    }
  }
  CHECK(same);
  std::vector<double> reference(1024);
  random::fill_normal(77, random::kStreamFeatureWeights, 1024, reference.data(), 1024);
  CHECK(all(1024 / d, 1024 % d) == reference[0]);
  RowMatrix<float> single;
  map.weights<float>(10, 20, single, 2);
  CHECK(single == all.middleRows(10, 10).cast<float>());

  // Explicit features against the definition sigma(X W^T / (l sqrt(d)) + b).
  RowMatrix<double> X(4, d);
  random::fill_normal(5, random::kStreamUser, 0, X.data(), static_cast<std::size_t>(X.size()));
  for (auto activation : {Activation::kRelu, Activation::kErf, Activation::kFourier}) {
    RandomFeatureMap features(d, 300, activation, 9, 0.8);
    RunControl control;
    control.n_threads = 2;
    const RowMatrix<double> phi = features.transform<double>(X, 0, 300, control, 64);
    RowMatrix<double> W;
    Vector<double> b;
    features.weights<double>(0, 300, W, 1);
    features.phases<double>(0, 300, b);
    double max_error = 0;
    for (Index i = 0; i < X.rows(); ++i)
      for (Index j = 0; j < 300; ++j) {
        const double z = X.row(i).dot(W.row(j)) / (0.8 * std::sqrt(double(d))) + b[j];
        const double expected = activation == Activation::kRelu  ? std::max(z, 0.0)
                                : activation == Activation::kErf ? std::erf(z)
                                                                 : std::sqrt(2.0) * std::cos(z);
        max_error = std::max(max_error, std::abs(phi(i, j) - expected));
      }
    CHECK_CLOSE(max_error, 0.0, 1e-12);
    // A sub-range with another block size gives the same columns.
    const RowMatrix<double> middle = features.transform<double>(X, 100, 250, control, 7);
    CHECK(middle == phi.middleCols(100, 150));
  }
  // Phases: only fourier has them, all in [0, 2 pi).
  Vector<double> phases;
  RandomFeatureMap(3, 1000, Activation::kFourier, 4).phases<double>(0, 1000, phases);
  CHECK(phases.minCoeff() >= 0.0 && phases.maxCoeff() < 2 * M_PI && phases.maxCoeff() > 6.0);
  RandomFeatureMap(3, 10, Activation::kCos, 4).phases<double>(0, 10, phases);
  CHECK(phases.isZero());

  // Block sizes: 4096 for small inputs, ~64 MiB of blocks for large ones, never below 256.
  CHECK(default_block_size(20, 10, 8) == 4096);
  CHECK(default_block_size(2000, 784, 8) == 3008);
  CHECK(default_block_size(4000, 784, 8) == 1728);
  CHECK(default_block_size(4000, 784, 4) == 3456);
  CHECK(default_block_size(100000, 784, 8) == 256);
  TEST_MAIN_RETURN();
}
