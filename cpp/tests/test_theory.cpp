// Unit tests of theory.hpp: the one-point solver, the 2-D Talbot inversion on the exactly
// solvable infinite limit, the two-point equations against reference numbers of the project's
// theory digest (standard instance a = 2, b = 1.5, M = 1500), thread independence, bad input.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalinglab/theory.hpp"

using namespace scalinglab;
using theory::Complex;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

theory::ModeSpectrum power_law(double a, double b, int M) {
  Vector<double> lam(M), power(M);
  for (int k = 1; k <= M; ++k) {
    lam[k - 1] = std::pow(k, -b);
    power[k - 1] = std::pow(k, -a);
  }
  return theory::ModeSpectrum(lam, power, Vector<double>());
}

double infinite_limit(const theory::ModeSpectrum& modes, double t) {
  double sum = 0;
  for (Index k = 0; k < modes.size(); ++k)
    sum += modes.m_power()[k] * std::exp(-2.0 * modes.lambda()[k] * t);
  return sum;
}

}  // namespace

int main() {
  const theory::ModeSpectrum modes = power_law(2.0, 1.5, 1500);

  // One-point reference values (digest 1(d), 10 decimals).
  CHECK_CLOSE(theory::renormalized_ridge(modes, 100, 400, 1e-3), 0.0047546963, 1e-9);
  CHECK_CLOSE(theory::renormalized_ridge(modes, kInf, 100, 0.01), 0.0154271246, 1e-9);
  CHECK_CLOSE(theory::renormalized_ridge(modes, 200, 200, 1e-4), 0.0015181653, 1e-9);
  const auto complex_point = theory::solve_one_point(modes, 100, 400, {Complex(0.01, 0.01)});
  CHECK_CLOSE(complex_point[0].kappa.real(), 0.016928858, 1e-9);
  CHECK_CLOSE(complex_point[0].kappa.imag(), 0.0116599683, 1e-9);
  CHECK_CLOSE(complex_point[0].R1.real(), 0.9322750801, 1e-9);
  CHECK_CLOSE(complex_point[0].R3.imag(), 0.1118795062, 1e-9);
  // Ridgeless edge of the branch: df(kappa_c) = N = 100, kappa_c = 2.930636e-3 (B14).
  const double kappa_c = theory::critical_kappa(modes, 100);
  CHECK_CLOSE(kappa_c, 2.930636e-3, 1e-9);
  CHECK_CLOSE(theory::degrees_of_freedom(modes, kappa_c), 100.0, 1e-9);
  CHECK(theory::critical_kappa(modes, 2000) == 0.0);  // more capacity than modes

  // Infinite N, P: the inversion reproduces sum_k lambda_k w*_k^2 exp(-2 lambda_k t) to 1e-9.
  const RunControl control;
  {
    Vector<double> times(7);
    times << 0.1, 1, 10, 100, 1e3, 1e4, 1e5;
    const auto curve = theory::learning_curve(modes, kInf, kInf, times, {}, control);
    for (Index i = 0; i < times.size(); ++i) {
      const double exact = infinite_limit(modes, times[i]);
      CHECK_CLOSE(curve.test_loss[i] / exact, 1.0, 1e-9);
      CHECK(curve.train_loss[i] == curve.test_loss[i]);
    }
  }

  // Static plateaus (B14-B16) and the DMFT at t = 1e5 on the (B16) plateau.
  CHECK_CLOSE(theory::ridge_errors(modes, 100, kInf, 0, 0, 1).test_loss, 0.04458236, 6e-9);
  CHECK_CLOSE(theory::ridge_errors(modes, kInf, 100, 0, 0, 1).test_loss, 0.02590633, 6e-9);
  CHECK_CLOSE(theory::ridge_errors(modes, 100, 400, 0, 0, 1).test_loss, 0.05944315, 6e-9);
  CHECK_CLOSE(theory::ridge_errors(modes, 100, kInf, 0, 0, kInf).test_loss, 0.01584472, 6e-9);
  CHECK(std::isinf(theory::ridge_errors(modes, 200, 200, 0, 0, 1).test_loss));
  // AZP ridge table (digest 4(d)).
  CHECK_CLOSE(theory::ridge_errors(modes, 100, 400, 1e-3, 0.0, 1).test_loss, 0.05481097, 6e-9);
  CHECK_CLOSE(theory::ridge_errors(modes, 400, 100, 1e-3, 0.1, 1).test_loss, 0.09153566, 6e-9);
  CHECK_CLOSE(theory::ridge_errors(modes, 200, 200, 1e-2, 0.1, 1).test_loss, 0.07088147, 6e-9);
  {
    // The batched form is the scalar form at each triple.
    Vector<double> n(3), p(3), ridge(3);
    n << 100, 400, 200;
    p << 400, 100, 200;
    ridge << 1e-3, 1e-3, 1e-2;
    const std::vector<theory::RidgeErrors> each = theory::ridge_errors(modes, n, p, ridge, 0.1, 1);
    CHECK(each.size() == 3);
    for (Index i = 0; i < 3; ++i)
      CHECK(each[i].test_loss == theory::ridge_errors(modes, n[i], p[i], ridge[i], 0.1, 1).test_loss);
    CHECK_CLOSE(each[1].test_loss, 0.09153566, 6e-9);
    CHECK(test::throws_invalid_argument([&] { theory::ridge_errors(modes, n, p.head(2), ridge, 0.1, 1); }));
  }
  {
    Vector<double> late(1);
    late << 1e5;
    const auto curve = theory::learning_curve(modes, 100, 400, late, {}, control);
    CHECK_CLOSE(curve.test_loss[0], 0.05944315, 6e-9);
  }

  // N = P blow-up (digest: 0.039 -> 0.062 -> 0.150), ensembles, gradient descent.
  {
    Vector<double> times(3);
    times << 1e3, 1e4, 1e5;
    const auto curve = theory::learning_curve(modes, 200, 200, times, {}, control);
    CHECK_CLOSE(curve.test_loss[0], 0.039128, 1e-6);
    CHECK_CLOSE(curve.test_loss[2], 0.150194, 1e-6);
    CHECK(curve.test_loss[0] < curve.test_loss[1] && curve.test_loss[1] < curve.test_loss[2]);

    theory::CurveOptions ensemble;
    ensemble.ensemble = 4;
    Vector<double> t2(2);
    t2 << 100, 1e4;
    const auto e4 = theory::learning_curve(modes, 100, kInf, t2, ensemble, control);
    CHECK_CLOSE(e4.test_loss[0], 0.040595, 1e-6);
    CHECK_CLOSE(e4.test_loss[1], 0.023029, 1e-6);

    theory::CurveOptions gd;
    gd.optimizer = Optimizer::kGradientDescent;
    gd.learning_rate = 0.5;
    Vector<double> steps(3);
    steps << 1, 10, 100;
    const auto g = theory::learning_curve(modes, 100, 400, steps, gd, control);
    CHECK_CLOSE(g.test_loss[0], 0.7853, 1e-4);
    CHECK_CLOSE(g.test_loss[1], 0.2176, 1e-4);
    CHECK_CLOSE(g.test_loss[2], 0.0778, 1e-4);
    CHECK(theory::spectrum_edge(modes, kInf, kInf) == 1.0);
    CHECK(theory::spectrum_edge(modes, 100, 400) > 1.2);
  }

  // Identical results for any thread count (times are independent work items).
  {
    Vector<double> times(9);
    for (int i = 0; i < 9; ++i) times[i] = std::pow(10.0, 0.5 * i);
    RunControl one, two;
    one.n_threads = 1;
    two.n_threads = 2;
    theory::CurveOptions noisy;
    noisy.noise = 0.1;
    const auto a = theory::learning_curve(modes, 300, 200, times, noisy, one);
    const auto b = theory::learning_curve(modes, 300, 200, times, noisy, two);
    CHECK(a.test_loss == b.test_loss && a.train_loss == b.train_loss);
  }

  // Bad input names the argument.
  CHECK(test::throws_invalid_argument([&] { theory::renormalized_ridge(modes, 0, 100, 1e-3); }));
  CHECK(test::throws_invalid_argument([&] { theory::ridge_errors(modes, 100, 100, -1, 0, 1); }));
  CHECK(test::throws_invalid_argument([&] {
    Vector<double> t(1);
    t << 1.5;
    theory::CurveOptions gd;
    gd.optimizer = Optimizer::kGradientDescent;
    gd.learning_rate = 0.1;
    theory::learning_curve(modes, 100, 400, t, gd, RunControl());
  }));
  CHECK(test::throws_invalid_argument([&] {
    Vector<double> lam(2), power(3);
    lam << 1, 0.5;
    power << 1, 1, 1;
    theory::ModeSpectrum(lam, power, Vector<double>());
  }));
  TEST_MAIN_RETURN();
}
