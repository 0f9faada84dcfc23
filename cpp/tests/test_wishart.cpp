// Unit tests of wishart.hpp: chi-square moments, Bartlett structure, Wishart first moments.
#include <cmath>
#include <stdexcept>

#include "check.hpp"
#include "scalinglab/wishart.hpp"

using namespace scalinglab;

int main() {
  // chi^2_k: mean k and variance 2k, within 5 standard errors over 20000 draws, for both
  // branches of the gamma sampler (k/2 < 1 and >= 1) and a large k.
  for (double dof : {1.0, 3.0, 1e4}) {
    const int n = 20000;
    double m1 = 0, m2 = 0;
    for (int i = 0; i < n; ++i) {
      const double x = wishart::chi_square(17, static_cast<std::uint64_t>(i), dof);
      CHECK(x > 0);
      m1 += x;
      m2 += x * x;
    }
    m1 /= n;
    const double var = m2 / n - m1 * m1;
    CHECK_CLOSE(m1, dof, 5.0 * std::sqrt(2.0 * dof / n));
    // sd of the sample variance ~ sqrt((mu4 - var^2)/n), mu4 = 12 k (k + 4) for chi^2_k.
    CHECK_CLOSE(var, 2.0 * dof, 5.0 * std::sqrt((12.0 * dof * (dof + 4.0) - 4.0 * dof * dof) / n));
  }
  // Same (seed, index) -> same number.
  CHECK(wishart::chi_square(3, 7, 2.5) == wishart::chi_square(3, 7, 2.5));
  // The batch is chi_square at indices 0 .. count-1, so a shorter batch is a prefix.
  {
    const Vector<double> batch = wishart::chi_square_variates(3, 2.5, 9);
    CHECK(batch.size() == 9 && batch[7] == wishart::chi_square(3, 7, 2.5));
    CHECK(wishart::chi_square_variates(3, 2.5, 4) == batch.head(4));
    CHECK(wishart::chi_square_variates(3, 2.5, 0).size() == 0);
    CHECK(test::throws_invalid_argument([] { wishart::chi_square_variates(3, 2.5, -1); }));
  }

  // Bartlett factor: lower triangular with a positive diagonal; n < M rejected.
  const ColMatrix<double> L = wishart::bartlett_factor(5, 6, 9);
  bool lower = true, positive = true;
  for (Index i = 0; i < 6; ++i) {
    positive = positive && L(i, i) > 0;
    for (Index j = i + 1; j < 6; ++j) lower = lower && L(i, j) == 0.0;
  }
  CHECK(lower);
  CHECK(positive);
  bool threw = false;
  try {
    wishart::bartlett_factor(5, 6, 5);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);

  // E W = n I for n < M (explicit) and n >= M (Bartlett): 2000 draws, 5 standard errors
  // (Var W_ij = n (1 + delta_ij)).
  RunControl control;
  control.n_threads = 1;
  for (Index n : {2, 5}) {
    const Index M = 3;
    const int draws = 2000;
    ColMatrix<double> sum = ColMatrix<double>::Zero(M, M);
    for (int s = 0; s < draws; ++s) sum += wishart::sample_wishart(1000 + s, M, n, control);
    sum /= draws;
    for (Index i = 0; i < M; ++i)
      for (Index j = 0; j < M; ++j) {
        const double expected = i == j ? static_cast<double>(n) : 0.0;
        const double se = std::sqrt(static_cast<double>(n) * (i == j ? 2.0 : 1.0) / draws);
        CHECK_CLOSE(sum(i, j), expected, 5.0 * se);
      }
  }
  TEST_MAIN_RETURN();
}
