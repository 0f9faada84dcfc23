// Unit tests of volterra.hpp: the exact recursion against a hand-written loop, the Volterra form
// against the recursion, the blocked recursion, ||K|| and the limit, m(z) and F_0 reference
// values (theory digest 2(d)), the deterministic equivalent and thread independence.
#include <cmath>
#include <complex>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalinglab/random.hpp"
#include "scalinglab/volterra.hpp"

using namespace scalinglab;
using namespace scalinglab::volterra;

namespace {

Vector<double> power_law(Index v, double exponent) {
  Vector<double> out(v);
  for (Index j = 0; j < v; ++j) out[j] = std::pow(double(j + 1), -exponent);
  return out;
}

std::vector<std::int64_t> range_steps(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t r = 0; r <= n; ++r) out.push_back(r);
  return out;
}

}  // namespace

int main() {
  RunControl control;
  control.n_threads = 2;

  // The digest's Volterra = SGD instance: v = 400, d = 100, alpha = 0.8, beta = 0.4, B = 4.
  const Index v = 400, d = 100, batch = 4;
  const Vector<double> lambda = power_law(v, 1.6);
  const Vector<double> b = power_law(v, 0.4);
  const double gamma = 0.5 / (double(batch + 1) * lambda.sum());
  const SgdSpectrum<double> spectrum =
      exact_spectrum_seeded(11, random::kStreamProjection, d, lambda, b, TargetKind::kWeights,
                            control);

  // 1. The recursion is P7 itself: a plain per-mode loop gives the same numbers.
  {
    const std::int64_t n_steps = 300;
    std::vector<double> rho(d), expected;
    for (Index i = 0; i < d; ++i)
      rho[i] = spectrum.eigenvalues[i] > 0 ? spectrum.forcing[i] / spectrum.eigenvalues[i] : 0.0;
    for (std::int64_t r = 0; r <= n_steps; ++r) {
      double risk = spectrum.limit_level;
      for (Index i = 0; i < d; ++i) risk += spectrum.eigenvalues[i] * rho[i];
      expected.push_back(risk);
      for (Index i = 0; i < d; ++i) {
        const double k = spectrum.eigenvalues[i];
        const double g = 1 - 2 * gamma * batch * k + gamma * gamma * batch * (batch + 1) * k * k;
        rho[i] = g * rho[i] + gamma * gamma * batch * k * risk;
      }
    }
    RecursionOptions exact;
    exact.block_fraction = 0.0;
    const Vector<double> risk = risk_curve(spectrum, StepSchedule::constant(gamma), batch, 0.0,
                                           range_steps(n_steps), exact, control);
    double worst = 0;
    for (std::int64_t r = 0; r <= n_steps; ++r)
      worst = std::max(worst, std::abs(risk[r] / expected[r] - 1));
    CHECK(worst < 1e-13);
  }

  // 2. Volterra form (P8) = recursion (P7) to 1e-12, with label noise.
  {
    const Index n_steps = 2000;
    const double noise = 0.01;
    RecursionOptions exact;
    exact.block_fraction = 0.0;
    const Vector<double> recursion = risk_curve(spectrum, StepSchedule::constant(gamma), batch,
                                                noise, range_steps(n_steps), exact, control);
    const VolterraFunctions fk = volterra_functions(spectrum, gamma, batch, n_steps, control);
    const Vector<double> volterra = solve_volterra(fk.forcing, fk.kernel, noise);
    double worst = 0;
    for (Index r = 0; r <= n_steps; ++r)
      worst = std::max(worst, std::abs(volterra[r] / recursion[r] - 1));
    CHECK(worst < 1e-12);
    // F(0) = b^T D b (theta_0 = 0), K(0) = gamma^2 B tr K^2.
    CHECK_CLOSE(fk.forcing[0], (lambda.array() * b.array().square()).sum(), 1e-12);
    CHECK_CLOSE(fk.kernel[0], gamma * gamma * batch * spectrum.eigenvalues.squaredNorm(), 1e-15);

    // 3. ||K|| = sum_r K(r) (P9) and the limit P*/(1 - ||K||) (here with noise).
    const double norm = kernel_norm(spectrum, gamma, batch);
    double direct = 0;
    for (Index i = 0; i < d; ++i)
      direct += gamma * spectrum.eigenvalues[i] / (2 - gamma * (batch + 1) * spectrum.eigenvalues[i]);
    CHECK_CLOSE(norm, direct, 1e-14);
    CHECK(norm > 0.0 && norm < 1.0);
    const VolterraFunctions long_kernel =
        volterra_functions(spectrum, gamma, batch, 4000000, control);
    CHECK_CLOSE(long_kernel.kernel.sum(), norm, 1e-6 * norm);
    const Vector<double> late = risk_curve(spectrum, StepSchedule::constant(gamma), batch, noise,
                                           {100000000}, RecursionOptions{}, control);
    CHECK_CLOSE(late[0], risk_limit(spectrum, gamma, batch, noise), 1e-8);
  }

  // 4. Log-time blocking: within 1e-4 of the step-by-step recursion up to 10^5 steps, and
  //    independent of the thread count (bitwise).
  {
    std::vector<std::int64_t> steps;
    for (double s = 1; s <= 1e5; s *= 1.5) steps.push_back(static_cast<std::int64_t>(s));
    RecursionOptions exact;
    exact.block_fraction = 0.0;
    RecursionOptions blocked;
    blocked.exact_steps = 10;
    const Vector<double> a = risk_curve(spectrum, StepSchedule::constant(gamma), batch, 0.0, steps,
                                        exact, control);
    const Vector<double> c = risk_curve(spectrum, StepSchedule::constant(gamma), batch, 0.0, steps,
                                        blocked, control);
    double worst = 0;
    for (Index i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(c[i] / a[i] - 1));
    CHECK(worst < 1e-4);
    RunControl one = control;
    one.n_threads = 1;
    const Vector<double> c1 = risk_curve(spectrum, StepSchedule::constant(gamma), batch, 0.0,
                                         steps, blocked, one);
    CHECK(c1 == c);

    // A piecewise-constant schedule equals running the pieces one after the other; halving the
    // learning rate at step 500 lowers the late risk (less SGD noise).
    StepSchedule decay{{0, 500}, {gamma, 0.5 * gamma}};
    const Vector<double> scheduled = risk_curve(spectrum, decay, batch, 0.0, {499, 500, 20000},
                                                exact, control);
    const Vector<double> constant = risk_curve(spectrum, StepSchedule::constant(gamma), batch, 0.0,
                                               {499, 500, 20000}, exact, control);
    CHECK(scheduled[0] == constant[0] && scheduled[1] == constant[1]);
    CHECK(scheduled[2] != constant[2]);
  }

  // 5. The seeded projection is W = A^T / sqrt(d) with A's row i at counters [i v, (i+1) v).
  {
    RowMatrix<double> W(v, d);
    std::vector<double> row(v);
    for (Index i = 0; i < d; ++i) {
      random::fill_normal(11, random::kStreamProjection, static_cast<std::uint64_t>(i) * v,
                          row.data(), row.size());
      for (Index k = 0; k < v; ++k) W(k, i) = row[k] / std::sqrt(double(d));
    }
    const SgdSpectrum<double> explicit_w = exact_spectrum(W, lambda, b, TargetKind::kWeights,
                                                          control);
    CHECK_CLOSE((explicit_w.eigenvalues - spectrum.eigenvalues).cwiseAbs().maxCoeff(), 0.0, 1e-13);
    CHECK_CLOSE(explicit_w.limit_level, spectrum.limit_level, 1e-13);
    // Forcing + P* = b^T D b: the risk at theta = 0.
    CHECK_CLOSE(spectrum.forcing.sum() + spectrum.limit_level,
                (lambda.array() * b.array().square()).sum(), 1e-12);
    // Prior b ~ N(0, diag(b^2)): same total, and P* equals the W-conditional average of the
    // fixed-target P* over random signs of b (exact: cross terms vanish), checked by 200 signs.
    const Vector<double> variance = b.array().square();
    const SgdSpectrum<double> prior = exact_spectrum(W, lambda, variance,
                                                     TargetKind::kPriorVariance, control);
    CHECK_CLOSE(prior.forcing.sum() + prior.limit_level, variance.dot(lambda), 1e-12);
    double mean_p_star = 0;
    const int n_signs = 200;
    for (int s = 0; s < n_signs; ++s) {
      std::vector<double> u(v);
      random::fill_uniform(5, random::kStreamUser, static_cast<std::uint64_t>(s) * v, u.data(), v);
      Vector<double> signed_b(v);
      for (Index k = 0; k < v; ++k) signed_b[k] = u[k] < 0.5 ? -b[k] : b[k];
      mean_p_star += exact_spectrum(W, lambda, signed_b, TargetKind::kWeights, control).limit_level;
    }
    mean_p_star /= n_signs;
    // Sign-flip standard error is a few percent of P* here; 10% is > 3 SE.
    CHECK(std::abs(mean_p_star / prior.limit_level - 1) < 0.1);
  }

  // 6. m(z) reference values (digest 2(d): alpha = 1, v = 2000, d = 200).
  {
    const Vector<double> lam = power_law(2000, 2.0);
    const Complex m1 = resolvent_m(lam, 200, Complex(0.01, 0.001));
    CHECK_CLOSE(m1.real(), 0.9954936748, 1e-9);
    CHECK_CLOSE(m1.imag(), -0.0784895938, 1e-9);
    const Complex m2 = resolvent_m(lam, 200, Complex(0.3, 0.01));
    CHECK_CLOSE(m2.real(), 1.0291754655, 1e-9);
    CHECK_CLOSE(m2.imag(), -0.0087699823, 1e-9);
    const Complex m3 = resolvent_m(lam, 200, Complex(-0.5, 0.0));
    CHECK_CLOSE(m3.real(), 0.991442198, 1e-9);
    CHECK_CLOSE(m3.imag(), 0.0, 1e-14);
    CHECK(test::throws_invalid_argument([&] { resolvent_m(lam, 200, Complex(0.1, -1.0)); }));
  }

  // 7. F_0 reference values (P12).
  {
    struct Case {
      double alpha, beta;
      Index d, v;
      double level, c;
    };
    const Case cases[] = {{1.0, 0.75, 200, 2000, 1.362149e-4, 5.628873e-5},
                          {0.75, 0.25, 400, 4000, 1.113562e-2, 3.446327e-4},
                          {1.25, 0.75, 200, 2000, 8.372988e-6, -1.0}};
    for (const Case& c : cases) {
      const Vector<double> lam = power_law(c.v, 2 * c.alpha);
      const Vector<double> power = power_law(c.v, 2 * c.alpha + 2 * c.beta);
      const LimitLevel level = limit_level(lam, power, c.d);
      CHECK_CLOSE(level.level, c.level, 1e-6 * c.level);
      if (c.c > 0) CHECK_CLOSE(level.c, c.c, 1e-6 * c.c);
    }
  }

  // 8. Deterministic equivalent at the digest instance: the contour atoms carry the target power;
  //    the risk does not depend on the contour (a finer, lower wedge agrees to 1e-8); and it
  //    matches an independent numpy quadrature of the same integral (0.24502072, 0.04592895,
  //    0.01518033, 0.01156989 at r = 10, 100, 1000, 3000) to 1e-5, the spread of that numpy
  //    version itself over its own contour parameters.
  {
    const Vector<double> power = lambda.array() * b.array().square();
    const SgdSpectrum<Complex> de = deterministic_spectrum(lambda, power, d, ContourOptions{},
                                                           control);
    double captured = de.limit_level;
    for (Index i = 0; i < de.forcing.size(); ++i) captured += de.forcing[i].real();
    CHECK_CLOSE(captured, power.sum(), 1e-7 * power.sum());
    RecursionOptions exact;
    exact.block_fraction = 0.0;
    const std::vector<std::int64_t> steps{10, 100, 1000, 3000};
    const Vector<double> risk =
        risk_curve(de, StepSchedule::constant(gamma), batch, 0.0, steps, exact, control);
    const SgdSpectrum<Complex> fine = deterministic_spectrum(lambda, power, d,
                                                             ContourOptions{0.05, 16, 1e-5}, control);
    const Vector<double> risk_fine =
        risk_curve(fine, StepSchedule::constant(gamma), batch, 0.0, steps, exact, control);
    const double reference[] = {0.24502072, 0.04592895, 0.01518033, 0.01156989};
    for (int i = 0; i < 4; ++i) {
      CHECK_CLOSE(risk[i], risk_fine[i], 1e-8 * risk[i]);
      CHECK_CLOSE(risk[i], reference[i], 1e-5 * reference[i]);
    }
    RunControl one = control;
    one.n_threads = 1;
    const SgdSpectrum<Complex> de1 = deterministic_spectrum(lambda, power, d, ContourOptions{}, one);
    CHECK(de1.forcing == de.forcing && de1.kernel == de.kernel);
  }

  // 9. Input validation names the argument.
  CHECK(test::throws_invalid_argument([&] {
    risk_curve(spectrum, StepSchedule::constant(gamma), 0, 0.0, {1}, RecursionOptions{}, control);
  }));
  CHECK(test::throws_invalid_argument([&] {
    risk_curve(spectrum, StepSchedule::constant(gamma), 1, 0.0, {5, 2}, RecursionOptions{},
               control);
  }));
  CHECK(test::throws_invalid_argument([&] {
    risk_curve(spectrum, StepSchedule{{1}, {gamma}}, 1, 0.0, {5}, RecursionOptions{}, control);
  }));
  CHECK(test::throws_invalid_argument([&] {
    exact_spectrum_seeded(1, 0, 10, lambda, Vector<double>::Ones(3), TargetKind::kWeights, control);
  }));
  CHECK(test::throws_invalid_argument([&] {
    deterministic_spectrum(power_law(50, 2.0), power_law(50, 3.0), 60, ContourOptions{}, control);
  }));

  TEST_MAIN_RETURN();
}
