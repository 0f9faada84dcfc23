// Embedding the scalinglab core in another simulator: stream the Gram matrix of 20000 ReLU random
// features of 200 Gaussian inputs (the features themselves are never stored), take snapshots at
// three widths in the same pass, and compare them with the infinite-width arc-cosine kernel.
// Built and run by ctest (test example_find_package); exits 0 when the error shrinks like N^-1/2.
#include <cmath>
#include <cstdio>
#include <vector>

#include "scalinglab/kernel.hpp"
#include "scalinglab/random.hpp"

int main() {
  namespace sl = scalinglab;
  const sl::Index n = 200, d = 50;
  const std::uint64_t seed = 2024;

  // Inputs from a Philox stream of our own (kStreamUser is free for embedding programs).
  sl::RowMatrix<double> X(n, d);
  sl::random::fill_normal(seed, sl::random::kStreamUser, 0, X.data(),
                          static_cast<std::size_t>(X.size()));

  const std::vector<std::uint64_t> widths = {1250, 5000, 20000};
  const sl::RandomFeatureMap features(d, widths.back(), sl::Activation::kRelu, seed);
  sl::RunControl control;  // all cores, no interruption, no progress reports
  const sl::RowMatrix<double> no_cross(0, d);
  const auto grams = sl::streamed_grams<double>(features, X, no_cross, /*with_gram=*/true, widths,
                                                /*block_size=*/0, control);

  const sl::RowMatrix<double> limit =
      sl::infinite_width_kernel(sl::Activation::kRelu, features.lengthscale(), X, X);
  std::vector<double> errors;
  for (std::size_t k = 0; k < widths.size(); ++k) {
    errors.push_back((grams.gram[k] - limit).cwiseAbs().maxCoeff());
    std::printf("N = %6llu: max |K_N - K_inf| = %.5f\n",
                static_cast<unsigned long long>(widths[k]), errors.back());
  }
  // Quadrupling N should halve the error (N^-1/2); allow the scatter of a maximum over entries.
  bool ok = true;
  for (std::size_t k = 1; k < errors.size(); ++k) {
    const double ratio = errors[k - 1] / errors[k];
    ok = ok && ratio > 1.3 && ratio < 3.2;
  }
  std::printf("%s\n", ok ? "error shrinks like N^-1/2" : "unexpected convergence");
  return ok ? 0 : 1;
}
