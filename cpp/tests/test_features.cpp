// Unit tests of features.hpp: activation names, weight streams independent of range and threads,
// explicit features against the definition, block sizes.
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "scalinglab/features.hpp"
#include "scalinglab/preactivation.hpp"
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

  // Pre-activations: every entry is the scalar std::fma chain, at every SIMD level, for shapes
  // with edge tiles in both directions and k blocks (d = 1100 > the kernels' k block).
  {
    bool exact = true, accumulated = true;
    for (Index d_in : {1, 13, 1100}) {
      RowMatrix<double> A(23, d_in), B(37, d_in);
      random::fill_normal(6, random::kStreamUser, 0, A.data(), static_cast<std::size_t>(A.size()));
      random::fill_normal(7, random::kStreamUser, 0, B.data(), static_cast<std::size_t>(B.size()));
      RowMatrix<double> reference(23, 37);
      for (Index i = 0; i < 23; ++i)
        for (Index j = 0; j < 37; ++j) {
          double acc = 0;
          for (Index k = 0; k < d_in; ++k) acc = std::fma(A(i, k), B(j, k), acc);
          reference(i, j) = acc * 0.3;
        }
      const RowMatrix<float> Af = A.cast<float>(), Bf = B.cast<float>();
      RowMatrix<float> reference_f(23, 37);
      for (Index i = 0; i < 23; ++i)
        for (Index j = 0; j < 37; ++j) {
          float acc = 0;
          for (Index k = 0; k < d_in; ++k) acc = std::fma(Af(i, k), Bf(j, k), acc);
          reference_f(i, j) = acc * 0.3f;
        }
      for (auto level : {SimdLevel::kGeneric, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
        for (int threads : {1, 3}) {
          RowMatrix<double> Z(23, 40);
          Z.setConstant(-1.0);
          preactivations<double>(A, B, 0.3, Z.leftCols(37), threads, level);
          exact = exact && Z.leftCols(37) == reference && (Z.col(38).array() == -1.0).all();
          RowMatrix<float> Zf(23, 37);
          preactivations<float>(Af, Bf, 0.3f, Zf, threads, level);
          exact = exact && Zf == reference_f;
          // The chain continued over two column blocks of A and B is the chain over all.
          RowMatrix<double> C = RowMatrix<double>::Zero(23, 37);
          const Index half = d_in / 2;
          accumulate_products<double>(A.leftCols(half), B.leftCols(half), C, false, threads, level);
          accumulate_products<double>(A.rightCols(d_in - half), B.rightCols(d_in - half), C, false,
                                      threads, level);
          accumulated = accumulated && (0.3 * C.array() == reference.array()).all();
        }
      }
    }
    CHECK(exact);
    CHECK(accumulated);
    std::printf("pre-activation kernel: %s\n", simd_level_name(default_simd_level()));
  }

  // Block sizes: 4096 for small inputs, ~64 MiB of blocks for large ones, never below 256.
  CHECK(default_block_size(20, 10, 8) == 4096);
  CHECK(default_block_size(2000, 784, 8) == 3008);
  CHECK(default_block_size(4000, 784, 8) == 1728);
  CHECK(default_block_size(4000, 784, 4) == 3456);
  CHECK(default_block_size(100000, 784, 8) == 256);
  TEST_MAIN_RETURN();
}
