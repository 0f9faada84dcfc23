// Unit tests of theory_finite_size.hpp: the grid entry point (reusing the DMFT's kappa) equals
// the per-point engine; the two-sided correction is thread independent, vanishes as N, P grow
// at fixed ratios (O(1/N + 1/P)), and its static value at a ridge is the ridge loss's.
#include <cmath>
#include <limits>
#include <vector>

#include "check.hpp"
#include "scalinglab/theory.hpp"
#include "scalinglab/theory_finite_size.hpp"

using namespace scalinglab;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

theory::ModeSpectrum power_law(double a, double b, int M) {
  Vector<double> lam(M), power(M);
  for (int k = 1; k <= M; ++k) {
    lam[k - 1] = std::pow(k, -b);   // lambda_k = k^-1.5 ... as test_theory.cpp's instance
    power[k - 1] = std::pow(k, -a);
  }
  return theory::ModeSpectrum(lam, power, Vector<double>());
}

}  // namespace

int main() {
  const theory::ModeSpectrum modes = power_law(3.0, 2.0, 1500);  // lambda = k^-2, p = k^-3
  const double noise = 0.1;

  // Grid (kappa from ridge_errors) == point by point (own kappa solve), bit for bit one-sided.
  {
    const double Ns[] = {40, kInf, 30, 80}, Ps[] = {kInf, 40, 90, 30};
    const double ridges[] = {0.0, 1e-3, 0.3};
    Vector<double> n(12), p(12), r(12), kappa(12);
    int g = 0;
    for (int i = 0; i < 4; ++i)
      for (double ridge : ridges) {
        n[g] = Ns[i];
        p[g] = Ps[i];
        r[g] = ridge;
        kappa[g] = theory::ridge_errors(modes, Ns[i], Ps[i], ridge, noise, 1.0).kappa;
        ++g;
      }
    const auto grid = theory::finite_size_static_grid(modes, n, p, r, kappa, noise);
    for (int i = 0; i < 12; ++i) {
      const auto one = theory::finite_size_static(modes, n[i], p[i], r[i], noise);
      const bool two_sided = std::isfinite(n[i]) && std::isfinite(p[i]);
      const double tol_test = two_sided ? 1e-12 * std::abs(one.test_correction) : 0.0;
      const double tol_train = two_sided ? 1e-12 * std::abs(one.train_correction) + 1e-18 : 0.0;
      CHECK_CLOSE(grid[i].test_correction, one.test_correction, tol_test);
      CHECK_CLOSE(grid[i].train_correction, one.train_correction, tol_train);
      CHECK(one.test_correction != 0.0);
    }
  }

  // Two-sided curve: thread independent; at late times it tends to the ridge-0 static value;
  // it scales as 1/N at fixed N/P (x4: the correction relative to the DMFT's L(t) falls ~4x).
  {
    Vector<double> times(6);
    for (int i = 0; i < 6; ++i) times[i] = std::pow(10.0, i - 0.5);
    theory::CurveOptions options;
    options.noise = noise;
    RunControl one, two;
    one.n_threads = 1;
    two.n_threads = 2;
    const auto a = theory::finite_size_learning_curve(modes, 30, 90, times, options, one);
    const auto b = theory::finite_size_learning_curve(modes, 30, 90, times, options, two);
    CHECK(a.test_correction == b.test_correction && a.train_correction == b.train_correction);
    CHECK(a.dmft.test_loss == b.dmft.test_loss);
    Vector<double> late(1);
    late << 1e6;
    const auto plateau = theory::finite_size_learning_curve(modes, 30, 90, late, options, one);
    const auto fixed = theory::finite_size_static(modes, 30, 90, 0.0, noise);
    CHECK_CLOSE(plateau.test_correction[0], fixed.test_correction,
                1e-4 * std::abs(fixed.test_correction));
    const auto big = theory::finite_size_learning_curve(modes, 120, 360, times, options, one);
    for (int i = 1; i < 6; ++i) {
      const double small_rel = a.test_correction[i] / a.dmft.test_loss[i];
      const double big_rel = big.test_correction[i] / big.dmft.test_loss[i];
      CHECK(std::abs(big_rel) < 0.4 * std::abs(small_rel));
    }
  }
  TEST_MAIN_RETURN();
}
