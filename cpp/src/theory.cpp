#include "scalinglab/theory.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <numeric>
#include <string>

#include "scalinglab/errors.hpp"

namespace scalinglab::theory {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kPi = 3.14159265358979323846;

// For gradient descent the Talbot contour lives in u = log(1 + eta s), where the integrand is
// 2 pi i-periodic: the contour's imaginary extent r pi must stay well below 2 pi (see
// evaluate_time), so r is capped here and compensated with twice the nodes.
constexpr double kGdMaxR = 1.5;

// Pairs (kappa, kappa') whose partial-fraction difference would lose more than this factor
// of precision are summed directly (see pair_sums).
constexpr double kMaxAmplification = 100.0;
// Modes with lambda above this multiple of the smallest node separation are summed directly.
constexpr double kHeadFactor = 1.5;

std::string number(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", x);
  return buffer;
}

double inverse(double x) { return std::isinf(x) ? 0.0 : 1.0 / x; }

void check_capacity(double value, const char* name) {
  require(value > 0 && !std::isnan(value), name,
          "must be > 0 (or +inf for the infinite limit), got " + number(value));
}

// ---- sums over modes ------------------------------------------------------------------------

struct RealSums {
  double df = 0;   // sum m lambda / (lambda + kappa)
  double ddf = 0;  // sum m lambda / (lambda + kappa)^2   (= -d df / d kappa)
};

RealSums real_sums(const ModeSpectrum& modes, double kappa) {
  const double* lam = modes.lambda().data();
  const double* ml = modes.m_lambda().data();
  const Index M = modes.size();
  double df = 0, ddf = 0;
#pragma omp simd reduction(+ : df, ddf)
  for (Index k = 0; k < M; ++k) {
    const double z = 1.0 / (lam[k] + kappa);
    df += ml[k] * z;
    ddf += ml[k] * z * z;
  }
  return {df, ddf};
}

struct ComplexSums {
  Complex df;   // sum m lambda z,   z = 1 / (lambda + kappa)
  Complex ddf;  // sum m lambda z^2
};

ComplexSums complex_sums(const ModeSpectrum& modes, Complex kappa) {
  const double* lam = modes.lambda().data();
  const double* ml = modes.m_lambda().data();
  const Index M = modes.size();
  const double kr = kappa.real(), ki = kappa.imag(), ki2 = ki * ki;
  double ar = 0, ai = 0, br = 0, bi = 0;
#pragma omp simd reduction(+ : ar, ai, br, bi)
  for (Index k = 0; k < M; ++k) {
    const double dr = kr + lam[k];
    const double inv = 1.0 / (dr * dr + ki2);
    const double zr = dr * inv, zi = -ki * inv;
    ar += ml[k] * zr;
    ai += ml[k] * zi;
    br += ml[k] * (zr * zr - zi * zi);
    bi += ml[k] * (2.0 * zr * zi);
  }
  return {Complex(ar, ai), Complex(br, bi)};
}

// ---- the one-point equation on its physical branch -------------------------------------------

struct Residual {
  Complex value;       // kappa (1 - df/N)(1 - df/P) - s
  Complex derivative;  // d value / d kappa
  Complex df;
};

// e^u - 1 without cancellation for small |u|.
Complex expm1_complex(Complex u) {
  const double x = u.real(), y = u.imag();
  const double half = std::sin(0.5 * y);
  return {std::expm1(x) * std::cos(y) - 2.0 * half * half, std::exp(x) * std::sin(y)};
}

class BranchSolver {
 public:
  BranchSolver(const ModeSpectrum& modes, double n_features, double n_samples)
      : modes_(modes), inv_n_(inverse(n_features)), inv_p_(inverse(n_samples)) {
    const double capacity = std::min(n_features, n_samples);
    kappa_c_ = std::isinf(capacity) ? 0.0 : critical_kappa(modes, capacity);
  }

  double inv_n() const { return inv_n_; }
  double inv_p() const { return inv_p_; }
  double kappa_c() const { return kappa_c_; }
  bool trivial() const { return inv_n_ == 0 && inv_p_ == 0; }

  Residual residual(Complex s, Complex kappa) const {
    const ComplexSums sums = complex_sums(modes_, kappa);
    const Complex a = 1.0 - sums.df * inv_n_, b = 1.0 - sums.df * inv_p_;
    return {kappa * a * b - s, a * b + kappa * sums.ddf * (inv_n_ * b + inv_p_ * a), sums.df};
  }

  /// Real root on (kappa_c, inf): F(kappa) = kappa (1 - df/N)(1 - df/P) - s is increasing there.
  double real_root(double s) const {
    if (trivial()) return s;
    auto F = [&](double kappa, double& derivative) {
      const RealSums sums = real_sums(modes_, kappa);
      const double a = 1.0 - sums.df * inv_n_, b = 1.0 - sums.df * inv_p_;
      derivative = a * b + kappa * sums.ddf * (inv_n_ * b + inv_p_ * a);
      return kappa * a * b - s;
    };
    double lo = kappa_c_, hi = s + modes_.trace() * (inv_n_ + inv_p_) + s, derivative = 0;
    for (int grow = 0; F(hi, derivative) <= 0; ++grow) {
      if (grow > 200) throw LinAlgError("one-point equation: no bracket for s = " + number(s));
      hi *= 2.0;
    }
    double kappa = hi;
    for (int iteration = 0; iteration < 400; ++iteration) {
      const double value = F(kappa, derivative);
      if (value == 0.0) return kappa;
      if (value > 0) hi = kappa;
      else lo = kappa;
      double next = kappa - value / derivative;
      const bool newton_ok = next > lo && next < hi && std::isfinite(next);
      if (!newton_ok) next = lo > 0 ? std::sqrt(lo * hi) : 0.5 * hi;
      if (newton_ok && std::abs(next - kappa) <= 2.0 * kEps * kappa) return next;
      if (hi - lo <= 4.0 * kEps * hi) return next;
      kappa = next;
    }
    throw LinAlgError("one-point equation: the real root did not converge for s = " + number(s));
  }

  /// Newton at fixed s from `kappa`; on success `kappa` is the root and `at_root` the residual
  /// there (its df and derivative are used by the caller).
  bool newton(Complex s, Complex& kappa, Residual& at_root) const {
    Complex current = kappa;
    for (int iteration = 0; iteration < 60; ++iteration) {
      const Residual r = residual(s, current);
      const Complex step = r.value / r.derivative;
      if (!std::isfinite(step.real()) || !std::isfinite(step.imag())) return false;
      current -= step;
      if (std::abs(step) <= 1e-14 * std::abs(current)) {
        at_root = residual(s, current);
        kappa = current;
        return true;
      }
    }
    return false;
  }

  /// The physical branch keeps Im kappa of the sign of Im s (kappa maps the upper half-plane
  /// into itself); a Newton iterate on another root shows up as a sign flip.
  static bool on_branch(Complex s, Complex kappa) {
    if (!std::isfinite(kappa.real()) || !std::isfinite(kappa.imag())) return false;
    const bool s_off_axis = std::abs(s.imag()) > 1e-12 * std::abs(s);
    const bool kappa_off_axis = std::abs(kappa.imag()) > 1e-12 * std::abs(kappa);
    return !(s_off_axis && kappa_off_axis && (s.imag() > 0) != (kappa.imag() > 0));
  }

  /// Continues the root from (u_from, kappa) to u_to along the straight segment in the contour
  /// variable u, with s = map(u). Returns the residual at the end (kappa, df).
  template <class Map>
  Residual follow(Complex u_from, Complex u_to, Complex& kappa, const Map& map) const {
    if (trivial()) {  // kappa = s
      kappa = map(u_to);
      return residual(kappa, kappa);
    }
    Complex s_current = map(u_from);
    Residual at = residual(s_current, kappa);
    double done = 0.0, step = 1.0;
    while (done < 1.0) {
      const double h = std::min(step, 1.0 - done);
      const bool last = done + h >= 1.0;
      const Complex u = last ? u_to : u_from + (done + h) * (u_to - u_from);
      const Complex s = map(u);
      Complex trial = kappa + (s - s_current) / at.derivative;  // first-order predictor
      Residual at_trial;
      if (newton(s, trial, at_trial) && on_branch(s, trial)) {
        kappa = trial;
        at = at_trial;
        s_current = s;
        done = last ? 1.0 : done + h;
        step = 2.0 * h;
      } else {
        step = 0.5 * h;
        if (step < 1e-9)
          throw LinAlgError("one-point equation: continuation failed near s = (" +
                            number(s.real()) + ", " + number(s.imag()) + ")");
      }
    }
    return at;
  }

 private:
  const ModeSpectrum& modes_;
  double inv_n_, inv_p_, kappa_c_ = 0;
};

// ---- two-point sums -------------------------------------------------------------------------

// The four weights f of the two-point sums sum_k f_k z_k z'_k, z = 1/(kappa + lambda):
// m p (S1w), m lambda p (S2w), m lambda (T1), m lambda^2 (T2).
constexpr int kWeights = 4;

// Raw views of lambda and the four weights, in the order above.
struct WeightedModes {
  const double* lam;
  const double* f[kWeights];
  Index size;
};

WeightedModes weighted_modes(const ModeSpectrum& modes) {
  return {modes.lambda().data(),
          {modes.m_power().data(), modes.m_lambda_power().data(), modes.m_lambda().data(),
           modes.m_lambda2().data()},
          modes.size()};
}

struct NodeTailSums {
  Complex first[kWeights];   // sum f z over tail modes
  Complex second[kWeights];  // sum f z^2 over tail modes
};

NodeTailSums tail_sums(const ModeSpectrum& modes, Index begin, Complex kappa) {
  const WeightedModes w = weighted_modes(modes);
  const double *lam = w.lam, *f0 = w.f[0], *f1 = w.f[1], *f2 = w.f[2], *f3 = w.f[3];
  const Index M = w.size;
  const double kr = kappa.real(), ki = kappa.imag(), ki2 = ki * ki;
  double g0r = 0, g0i = 0, g1r = 0, g1i = 0, g2r = 0, g2i = 0, g3r = 0, g3i = 0;
  double d0r = 0, d0i = 0, d1r = 0, d1i = 0, d2r = 0, d2i = 0, d3r = 0, d3i = 0;
#pragma omp simd reduction(+ : g0r, g0i, g1r, g1i, g2r, g2i, g3r, g3i, d0r, d0i, d1r, d1i, d2r, \
                               d2i, d3r, d3i)
  for (Index k = begin; k < M; ++k) {
    const double dr = kr + lam[k];
    const double inv = 1.0 / (dr * dr + ki2);
    const double zr = dr * inv, zi = -ki * inv;
    const double qr = zr * zr - zi * zi, qi = 2.0 * zr * zi;
    g0r += f0[k] * zr; g0i += f0[k] * zi; d0r += f0[k] * qr; d0i += f0[k] * qi;
    g1r += f1[k] * zr; g1i += f1[k] * zi; d1r += f1[k] * qr; d1i += f1[k] * qi;
    g2r += f2[k] * zr; g2i += f2[k] * zi; d2r += f2[k] * qr; d2i += f2[k] * qi;
    g3r += f3[k] * zr; g3i += f3[k] * zi; d3r += f3[k] * qr; d3i += f3[k] * qi;
  }
  NodeTailSums out;
  out.first[0] = {g0r, g0i}; out.first[1] = {g1r, g1i};
  out.first[2] = {g2r, g2i}; out.first[3] = {g3r, g3i};
  out.second[0] = {d0r, d0i}; out.second[1] = {d1r, d1i};
  out.second[2] = {d2r, d2i}; out.second[3] = {d3r, d3i};
  return out;
}

// sum_k f_k z_k z'_k over tail modes, directly (the fallback for close pairs).
void direct_tail_pair(const ModeSpectrum& modes, Index begin, Complex kappa, Complex kappa_prime,
                      Complex out[kWeights]) {
  const WeightedModes w = weighted_modes(modes);
  const double *lam = w.lam, *f0 = w.f[0], *f1 = w.f[1], *f2 = w.f[2], *f3 = w.f[3];
  const Index M = w.size;
  const double ar = kappa.real(), ai = kappa.imag(), br = kappa_prime.real(), bi = kappa_prime.imag();
  double s0r = 0, s0i = 0, s1r = 0, s1i = 0, s2r = 0, s2i = 0, s3r = 0, s3i = 0;
#pragma omp simd reduction(+ : s0r, s0i, s1r, s1i, s2r, s2i, s3r, s3i)
  for (Index k = begin; k < M; ++k) {
    const double xr = ar + lam[k], yr = br + lam[k];
    const double inv = 1.0 / ((xr * xr + ai * ai) * (yr * yr + bi * bi));
    // 1/((xr + i ai)(yr + i bi)) = conj((xr + i ai)(yr + i bi)) / (|.|^2 |.|^2)
    const double pr = (xr * yr - ai * bi) * inv, pi = -(xr * bi + ai * yr) * inv;
    s0r += f0[k] * pr; s0i += f0[k] * pi;
    s1r += f1[k] * pr; s1i += f1[k] * pi;
    s2r += f2[k] * pr; s2i += f2[k] * pi;
    s3r += f3[k] * pr; s3i += f3[k] * pi;
  }
  out[0] = {s0r, s0i}; out[1] = {s1r, s1i}; out[2] = {s2r, s2i}; out[3] = {s3r, s3i};
}

struct TimeLosses {
  double test = 0, train = 0;
};

// Test and train loss at one time: one-point solves on the Talbot nodes, then the two-point
// system on every pair of nodes, then the 2-D inversion.
//
// Two-point sums. With z = 1/(kappa + lambda), H_k(s) = (kappa/s) z, q = s/kappa, the BAP sums
// are S1w = (kappa kappa'/(s s')) sum m p z z', S2w = (...) sum m lambda p z z',
// q q' T1 = sum m lambda z z', q q' T2 = sum m lambda^2 z z'. Multiplying the 2x2 system by s s'
// gives, for X = s s' C0 and Y = s s' C3,
//   (1 - B2/P) X - (B1/N) Y = kk' A0 + sigma^2 B2 / P
//   -(kk' B1/P) X + (1 - B2/N) Y = kk' (A1 + sigma^2 B1 / P)
// (A0, A1, B1, B2 the sums with weights m p, m lambda p, m lambda, m lambda^2). The pair sums are
// one-point sums in disguise: z z' = (z - z')/(kappa' - kappa), so sum f z z' = (G(kappa) -
// G(kappa'))/(kappa' - kappa) with G(kappa) = sum f z, O(nodes x M) instead of O(nodes^2 x M).
// The difference cancels for modes with lambda >> |kappa - kappa'| (both terms ~ f/lambda), so
// modes above kHeadFactor x the smallest node separation are summed directly (a small complex
// matrix product), and so is any pair whose worst-case amplification exceeds kMaxAmplification.
TimeLosses evaluate_time(const ModeSpectrum& modes, const BranchSolver& solver, double t,
                         const CurveOptions& options, std::vector<Complex>* kappa_out = nullptr) {
  const double sigma2 = options.noise;
  if (t == 0.0) return {modes.initial_loss(), modes.initial_loss() + sigma2};
  const bool gd = options.optimizer == Optimizer::kGradientDescent;
  const double eta = options.learning_rate;
  int n = options.talbot_nodes;
  double r = 0.0;  // 0 = Talbot's own r = 2n/(5t)
  double t_contour = gd ? t : eta * t;
  if (gd && 2.0 * n / (5.0 * t) > kGdMaxR) {
    r = kGdMaxR;
    n *= 2;
  }
  const TalbotContour contour = talbot_contour(t_contour, n, r);

  // Contour variable u -> Laplace variable s, and the inversion weight per node divided by s.
  auto map = [&](Complex u) { return gd ? expm1_complex(u) / eta : u; };
  std::vector<Complex> s(n), weight(n), kappa(n), r1(n);
  for (int j = 0; j < n; ++j) {
    const Complex u = contour.nodes[j];
    s[j] = map(u);
    const Complex jacobian = gd ? std::exp(u) / eta : Complex(1.0);
    weight[j] = contour.weights[j] * jacobian / s[j];
  }

  // One-point: bracketed root at the real node, then continuation node to node.
  const double inv_n = solver.inv_n(), inv_p = solver.inv_p();
  {
    const double k0 = solver.real_root(s[0].real());
    kappa[0] = k0;
    r1[0] = 1.0 - degrees_of_freedom(modes, k0) * inv_p;
  }
  for (int j = 1; j < n; ++j) {
    Complex k = kappa[j - 1];
    const Residual at = solver.follow(contour.nodes[j - 1], contour.nodes[j], k, map);
    kappa[j] = k;
    r1[j] = 1.0 - at.df * inv_p;
  }
  if (kappa_out) *kappa_out = kappa;  // for corrections at the same nodes (learning_curve_at)

  // Columns: the n nodes, then the conjugates of nodes 1..n-1.
  const int nr = n, nc = 2 * n - 1;
  std::vector<Complex> kc(nc), wc(nc), r1c(nc);
  for (int l = 0; l < nc; ++l) {
    const bool conj = l >= nr;
    const int j = conj ? l - nr + 1 : l;
    kc[l] = conj ? std::conj(kappa[j]) : kappa[j];
    wc[l] = conj ? std::conj(weight[j]) : weight[j];
    r1c[l] = conj ? std::conj(r1[j]) : r1[j];
  }
  auto same_node = [nr](int j, int l) { return l < nr && l == j; };

  double separation = kInf;
  for (int j = 0; j < nr; ++j)
    for (int l = 0; l < nc; ++l)
      if (!same_node(j, l)) separation = std::min(separation, std::abs(kappa[j] - kc[l]));
  const double cut = kHeadFactor * separation;
  const Index head = modes.count_above(cut);

  // Pair sums sums[f](j, l).
  Eigen::MatrixXcd sums[kWeights];
  for (auto& m : sums) m = Eigen::MatrixXcd::Zero(nr, nc);
  // Head modes in chunks (bounded memory per thread whatever the head size).
  constexpr Index kChunk = 2048;
  for (Index begin = 0; begin < head; begin += kChunk) {
    const Index width = std::min(kChunk, head - begin);
    const WeightedModes all = weighted_modes(modes);
    const double* lam = all.lam + begin;
    const double* weights[kWeights] = {all.f[0] + begin, all.f[1] + begin, all.f[2] + begin,
                                       all.f[3] + begin};
    Eigen::MatrixXcd z(nr, width);
    for (int j = 0; j < nr; ++j)
      for (Index k = 0; k < width; ++k) z(j, k) = 1.0 / (kappa[j] + lam[k]);
    Eigen::MatrixXcd rows(kWeights * nr, width), cols(width, nc);
    for (int f = 0; f < kWeights; ++f)
      for (int j = 0; j < nr; ++j)
        for (Index k = 0; k < width; ++k) rows(f * nr + j, k) = z(j, k) * weights[f][k];
    for (int l = 0; l < nc; ++l) {
      const bool conj = l >= nr;
      const int j = conj ? l - nr + 1 : l;
      for (Index k = 0; k < width; ++k) cols(k, l) = conj ? std::conj(z(j, k)) : z(j, k);
    }
    // Eigen's own (single-threaded) product: this runs inside an OpenMP region, where BLAS
    // must not be called.
    const Eigen::MatrixXcd product = rows * cols;
    for (int f = 0; f < kWeights; ++f) sums[f] += product.middleRows(f * nr, nr);
  }
  if (head < modes.size()) {
    std::vector<NodeTailSums> tails(nr);
    for (int j = 0; j < nr; ++j) tails[j] = tail_sums(modes, head, kappa[j]);
    for (int j = 0; j < nr; ++j) {
      for (int l = 0; l < nc; ++l) {
        Complex value[kWeights];
        if (same_node(j, l)) {
          for (int f = 0; f < kWeights; ++f) value[f] = tails[j].second[f];
        } else {
          const Complex difference = kc[l] - kappa[j];
          const double amplification =
              (std::abs(kappa[j]) + std::abs(kc[l]) + 2.0 * cut) / std::abs(difference);
          if (amplification > kMaxAmplification) {
            direct_tail_pair(modes, head, kappa[j], kc[l], value);
          } else {
            const bool conj = l >= nr;
            const int jl = conj ? l - nr + 1 : l;
            for (int f = 0; f < kWeights; ++f) {
              const Complex g_col = conj ? std::conj(tails[jl].first[f]) : tails[jl].first[f];
              value[f] = (tails[j].first[f] - g_col) / difference;
            }
          }
        }
        for (int f = 0; f < kWeights; ++f) sums[f](j, l) += value[f];
      }
    }
  }

  // 2x2 system per pair and the 2-D inversion. Re of the full (2n-1)^2 sum = 2 Re(sum over
  // rows 0..n-1) - Re(sum over row 0), since the rows of the conjugate nodes are conjugates.
  const double inv_e = std::isinf(options.ensemble) ? 0.0 : 1.0 / options.ensemble;
  Complex test_all = 0, train_all = 0, test_row0 = 0, train_row0 = 0;
  for (int j = 0; j < nr; ++j) {
    Complex test_row = 0, train_row = 0;
    for (int l = 0; l < nc; ++l) {
      const Complex A0 = sums[0](j, l), A1 = sums[1](j, l), B1 = sums[2](j, l), B2 = sums[3](j, l);
      const Complex kk = kappa[j] * kc[l];
      const Complex a11 = 1.0 - B2 * inv_p, a12 = -B1 * inv_n;
      const Complex a21 = -kk * B1 * inv_p, a22 = 1.0 - B2 * inv_n;
      const Complex b1 = kk * A0 + sigma2 * B2 * inv_p, b2 = kk * (A1 + sigma2 * B1 * inv_p);
      Complex X = (b1 * a22 - a12 * b2) / (a11 * a22 - a12 * a21);
      if (inv_e != 1.0) {
        const Complex cross = b1 / a11;  // two members with independent projections
        X = cross + (X - cross) * inv_e;
      }
      const Complex w = weight[j] * wc[l];
      test_row += w * X;
      train_row += w * r1[j] * r1c[l] * (X + sigma2);
    }
    test_all += test_row;
    train_all += train_row;
    if (j == 0) {
      test_row0 = test_row;
      train_row0 = train_row;
    }
  }
  return {2.0 * test_all.real() - test_row0.real(), 2.0 * train_all.real() - train_row0.real()};
}

}  // namespace

// ---- ModeSpectrum --------------------------------------------------------------------------

ModeSpectrum::ModeSpectrum(const Eigen::Ref<const Vector<double>>& eigenvalues,
                           const Eigen::Ref<const Vector<double>>& target_power,
                           const Eigen::Ref<const Vector<double>>& multiplicity) {
  const Index M = eigenvalues.size();
  require(M > 0, "eigenvalues", "expected at least one mode");
  require(target_power.size() == M, "target_power",
          "expected " + std::to_string(M) + " values (one per mode), got " +
              std::to_string(target_power.size()));
  require(multiplicity.size() == 0 || multiplicity.size() == M, "multiplicity",
          "expected 0 or " + std::to_string(M) + " values, got " + std::to_string(multiplicity.size()));
  // The messages are formatted only on failure (formatting 2 M numbers on every construction
  // cost ~10 ms at M = 1e4, a tenth of a whole DMFT curve).
  for (Index k = 0; k < M; ++k) {
    if (!(std::isfinite(eigenvalues[k]) && eigenvalues[k] > 0))
      require(false, "eigenvalues", "must be finite and > 0, got " + number(eigenvalues[k]));
    if (!(std::isfinite(target_power[k]) && target_power[k] >= 0))
      require(false, "target_power", "must be finite and >= 0, got " + number(target_power[k]));
    if (multiplicity.size() > 0 && !(std::isfinite(multiplicity[k]) && multiplicity[k] > 0))
      require(false, "multiplicity", "must be finite and > 0, got " + number(multiplicity[k]));
  }
  std::vector<Index> order(static_cast<std::size_t>(M));
  std::iota(order.begin(), order.end(), Index(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](Index i, Index j) { return eigenvalues[i] > eigenvalues[j]; });
  lambda_.resize(M);
  m_lambda_.resize(M);
  m_power_.resize(M);
  m_lambda_power_.resize(M);
  m_lambda2_.resize(M);
  for (Index k = 0; k < M; ++k) {
    const Index i = order[static_cast<std::size_t>(k)];
    const double lam = eigenvalues[i], m = multiplicity.size() > 0 ? multiplicity[i] : 1.0;
    lambda_[k] = lam;
    m_lambda_[k] = m * lam;
    m_power_[k] = m * target_power[i];
    m_lambda_power_[k] = m * lam * target_power[i];
    m_lambda2_[k] = m * lam * lam;
    rank_ += m;
    trace_ += m * lam;
    initial_loss_ += m * target_power[i];
  }
}

Index ModeSpectrum::count_above(double threshold) const {
  const double* begin = lambda_.data();
  const double* end = begin + lambda_.size();
  return std::partition_point(begin, end, [threshold](double lam) { return lam > threshold; }) - begin;
}

// ---- public functions -------------------------------------------------------------------------

double degrees_of_freedom(const ModeSpectrum& modes, double kappa) {
  return real_sums(modes, kappa).df;
}

double critical_kappa(const ModeSpectrum& modes, double rank) {
  require(rank > 0 && !std::isnan(rank), "rank", "must be > 0, got " + number(rank));
  if (rank >= modes.rank()) return 0.0;
  // df is decreasing from rank() at 0 to 0 at infinity; df(kappa) <= trace/kappa.
  double hi = modes.trace() / rank, lo = hi;
  for (int shrink = 0; real_sums(modes, lo).df <= rank; ++shrink) {
    if (shrink > 300) throw LinAlgError("critical_kappa: no bracket (rank " + number(rank) + ")");
    lo /= 16.0;
  }
  // Safeguarded Newton in u = log kappa: g(u) = df(e^u) - rank, g'(u) = -kappa ddf.
  double u_lo = std::log(lo), u_hi = std::log(hi), u = 0.5 * (u_lo + u_hi);
  for (int iteration = 0; iteration < 400; ++iteration) {
    const double kappa = std::exp(u);
    const RealSums sums = real_sums(modes, kappa);
    const double g = sums.df - rank;
    if (g == 0.0) return kappa;
    if (g > 0) u_lo = u;
    else u_hi = u;
    double next = u + g / (kappa * sums.ddf);
    const bool newton_ok = next > u_lo && next < u_hi && std::isfinite(next);
    if (!newton_ok) next = 0.5 * (u_lo + u_hi);
    const double tolerance = 4.0 * kEps * std::max(1.0, std::abs(u));
    if ((newton_ok && std::abs(next - u) <= tolerance) || u_hi - u_lo <= tolerance)
      return std::exp(next);
    u = next;
  }
  throw LinAlgError("critical_kappa did not converge (rank " + number(rank) + ")");
}

double renormalized_ridge(const ModeSpectrum& modes, double n_features, double n_samples, double s) {
  check_capacity(n_features, "n_features");
  check_capacity(n_samples, "n_samples");
  require(s > 0 && std::isfinite(s), "s", "must be finite and > 0, got " + number(s));
  return BranchSolver(modes, n_features, n_samples).real_root(s);
}

std::vector<OnePointSolution> solve_one_point(const ModeSpectrum& modes, double n_features,
                                              double n_samples, const std::vector<Complex>& points) {
  check_capacity(n_features, "n_features");
  check_capacity(n_samples, "n_samples");
  const BranchSolver solver(modes, n_features, n_samples);
  auto identity = [](Complex u) { return u; };
  auto solution = [&](Complex s, Complex kappa, Complex df) {
    return OnePointSolution{s, kappa, 1.0 - df * solver.inv_p(), 1.0 - df * solver.inv_n()};
  };
  std::vector<OnePointSolution> out;
  out.reserve(points.size());
  Complex previous_s = 0, previous_kappa = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Complex s = points[i];
    require(std::isfinite(s.real()) && std::isfinite(s.imag()), "points", "must be finite");
    require(s.imag() != 0.0 || s.real() >= 0.0, "points",
            "real points must be >= 0 (the negative axis holds the spectrum), got " + number(s.real()));
    if (s == 0.0) {  // the ridgeless limit: kappa -> kappa_c
      const double k = solver.kappa_c();
      out.push_back(solution(s, k, k > 0 ? std::min(n_features, n_samples) : modes.rank()));
      continue;  // s = 0 cannot seed a continuation
    }
    Complex start_s = previous_s, kappa = previous_kappa;
    if (previous_s == 0.0) {  // start afresh on the positive axis at |s|
      start_s = std::abs(s);
      kappa = solver.real_root(start_s.real());
    }
    const Residual at = solver.follow(start_s, s, kappa, identity);
    out.push_back(solution(s, kappa, at.df));
    previous_s = s;
    previous_kappa = kappa;
  }
  return out;
}

TalbotContour talbot_contour(double t, int n, double r) {
  require(t > 0 && std::isfinite(t), "t", "must be finite and > 0, got " + number(t));
  require(n >= 2, "n", "expected at least 2 Talbot nodes, got " + std::to_string(n));
  TalbotContour contour;
  contour.r = r > 0 ? r : 2.0 * n / (5.0 * t);
  const double rr = contour.r;
  contour.nodes.resize(n);
  contour.weights.resize(n);
  contour.nodes[0] = rr;
  contour.weights[0] = rr / (2.0 * n) * std::exp(rr * t);
  for (int j = 1; j < n; ++j) {
    const double theta = j * kPi / n;
    const double cot = std::cos(theta) / std::sin(theta);
    const Complex node(rr * theta * cot, rr * theta);
    const double sigma = theta + (theta * cot - 1.0) * cot;
    contour.nodes[j] = node;
    contour.weights[j] = rr / (2.0 * n) * std::exp(t * node) * Complex(1.0, sigma);
  }
  return contour;
}

double spectrum_edge(const ModeSpectrum& modes, double n_features, double n_samples) {
  check_capacity(n_features, "n_features");
  check_capacity(n_samples, "n_samples");
  const double inv_n = inverse(n_features), inv_p = inverse(n_samples), top = modes.top();
  if (inv_n == 0 && inv_p == 0) return top;
  // s(kappa) on kappa = -top (1 + e^v) < -lambda_1 tends to -inf at both ends; its maximum is
  // the right end -x_max of the spectrum of -K.
  auto s_of = [&](double v) {
    const double kappa = -top * (1.0 + std::exp(v));
    const double df = real_sums(modes, kappa).df;
    return kappa * (1.0 - df * inv_n) * (1.0 - df * inv_p);
  };
  // v >= -30 keeps kappa off the pole at -lambda_1 (1 + e^-30 > 1 in double precision).
  double best_v = 40.0, best = s_of(best_v);
  for (double v = -30.0; v <= 40.0; v += 0.125) {
    const double value = s_of(v);
    if (std::isfinite(value) && value > best) {
      best = value;
      best_v = v;
    }
  }
  // Golden-section refinement around the best grid point.
  const double golden = 0.5 * (std::sqrt(5.0) - 1.0);
  double a = best_v - 0.125, b = best_v + 0.125;
  double c = b - golden * (b - a), d = a + golden * (b - a), fc = s_of(c), fd = s_of(d);
  for (int iteration = 0; iteration < 80; ++iteration) {
    if (fc > fd) {
      b = d; d = c; fd = fc; c = b - golden * (b - a); fc = s_of(c);
    } else {
      a = c; c = d; fc = fd; d = a + golden * (b - a); fd = s_of(d);
    }
  }
  for (double value : {fc, fd})
    if (std::isfinite(value)) best = std::max(best, value);
  return -best;
}

LearningCurve learning_curve(const ModeSpectrum& modes, double n_features, double n_samples,
                             const Eigen::Ref<const Vector<double>>& times,
                             const CurveOptions& options, const RunControl& control) {
  check_capacity(n_features, "n_features");
  check_capacity(n_samples, "n_samples");
  require(options.learning_rate > 0 && std::isfinite(options.learning_rate), "learning_rate",
          "must be finite and > 0, got " + number(options.learning_rate));
  require(options.ensemble >= 1.0, "ensemble",
          "must be >= 1 (or +inf), got " + number(options.ensemble));
  require(options.noise >= 0 && std::isfinite(options.noise), "noise",
          "must be finite and >= 0, got " + number(options.noise));
  require(options.talbot_nodes >= 4 && options.talbot_nodes <= 64, "talbot_nodes",
          "expected 4..64 (about 16 in double precision), got " + std::to_string(options.talbot_nodes));
  const bool gd = options.optimizer == Optimizer::kGradientDescent;
  for (Index i = 0; i < times.size(); ++i) {
    require(times[i] >= 0 && std::isfinite(times[i]), "times",
            "must be finite and >= 0, got " + number(times[i]));
    if (gd)
      require(times[i] == std::floor(times[i]), "times",
              "gradient descent needs whole numbers of steps, got " + number(times[i]));
  }
  if (gd) {
    const double edge = spectrum_edge(modes, n_features, n_samples);
    require(options.learning_rate * edge < 1.0, "learning_rate",
            "the contour inversion of gradient descent needs learning_rate * x_max < 1 (no "
            "oscillating modes); here x_max = " + number(edge) + " and learning_rate * x_max = " +
                number(options.learning_rate * edge));
  }
  const BranchSolver solver(modes, n_features, n_samples);
  const Index T = times.size();
  LearningCurve curve;
  curve.test_loss.resize(T);
  curve.train_loss.resize(T);
  const int threads = control.threads();
  // About eight blocks: each ends with a barrier (and a Ctrl-C poll), which costs when a
  // thread is descheduled on a busy machine.
  const Index block = std::max<Index>(4 * threads, (T + 7) / 8);
  for (Index start = 0; start < T; start += block) {
    control.poll();
    const Index end = std::min(T, start + block);
    // The earliest failing time is reported, whatever the threads.
    parallel_for_collect(start, end, threads, [&](Index i) {
      const TimeLosses losses = evaluate_time(modes, solver, times[i], options);
      curve.test_loss[i] = losses.test;
      curve.train_loss[i] = losses.train;
    });
    control.progress(static_cast<double>(end) / static_cast<double>(T));
  }
  return curve;
}

TimeSolution learning_curve_at(const ModeSpectrum& modes, double n_features, double n_samples,
                               double t, const CurveOptions& options) {
  check_capacity(n_features, "n_features");
  check_capacity(n_samples, "n_samples");
  require(t >= 0 && std::isfinite(t), "t", "must be finite and >= 0, got " + number(t));
  const BranchSolver solver(modes, n_features, n_samples);
  TimeSolution out;
  const TimeLosses losses = evaluate_time(modes, solver, t, options, &out.kappa);
  out.test_loss = losses.test;
  out.train_loss = losses.train;
  return out;
}

RidgeErrors ridge_errors(const ModeSpectrum& modes, double n_features, double n_samples,
                         double ridge, double noise, double ensemble) {
  check_capacity(n_features, "n_features");
  check_capacity(n_samples, "n_samples");
  require(ridge >= 0 && std::isfinite(ridge), "ridge", "must be finite and >= 0, got " + number(ridge));
  require(noise >= 0 && std::isfinite(noise), "noise", "must be finite and >= 0, got " + number(noise));
  require(ensemble >= 1.0, "ensemble", "must be >= 1 (or +inf), got " + number(ensemble));
  const BranchSolver solver(modes, n_features, n_samples);
  const double inv_n = solver.inv_n(), inv_p = solver.inv_p();
  const double kappa = ridge > 0 ? solver.real_root(ridge) : solver.kappa_c();
  // Real sums at kappa (kappa = 0 is allowed: every lambda > 0).
  const double* lam = modes.lambda().data();
  const Index M = modes.size();
  double A0 = 0, A1 = 0, B1 = 0, B2 = 0, df = 0;
  for (Index k = 0; k < M; ++k) {
    const double z = 1.0 / (kappa + lam[k]), z2 = z * z;
    A0 += modes.m_power()[k] * z2;
    A1 += modes.m_lambda_power()[k] * z2;
    B1 += modes.m_lambda()[k] * z2;
    B2 += modes.m_lambda2()[k] * z2;
    df += modes.m_lambda()[k] * z;
  }
  // The two-point system at s = s' = ridge times s^2 (see evaluate_time); with kappa B1 =
  // df1 - df2 it is AZP's linear random-feature formula (A5-A6).
  const double kk = kappa * kappa;
  const double a11 = 1.0 - B2 * inv_p, a12 = -B1 * inv_n, a21 = -kk * B1 * inv_p,
               a22 = 1.0 - B2 * inv_n;
  const double b1 = kk * A0 + noise * B2 * inv_p, b2 = kk * (A1 + noise * B1 * inv_p);
  const double det = a11 * a22 - a12 * a21;
  RidgeErrors out;
  out.kappa = kappa;
  const double r1 = 1.0 - df * inv_p;
  // det -> 0 at the interpolation peak (ridge 0, N = P below the rank): the test error
  // diverges while the train error is 0 (the flow interpolates).
  if (!(det > 64.0 * kEps)) {
    out.test_loss = kInf;
    out.train_loss = 0.0;
    return out;
  }
  double X = (b1 * a22 - a12 * b2) / det;
  const double inv_e = std::isinf(ensemble) ? 0.0 : 1.0 / ensemble;
  if (inv_e != 1.0) {
    const double cross = b1 / a11;
    X = cross + (X - cross) * inv_e;
  }
  out.test_loss = X;
  out.train_loss = r1 * r1 * (X + noise);  // R1 = 0 when the flow interpolates (P <= N)
  return out;
}

std::vector<RidgeErrors> ridge_errors(const ModeSpectrum& modes,
                                      const Eigen::Ref<const Vector<double>>& n_features,
                                      const Eigen::Ref<const Vector<double>>& n_samples,
                                      const Eigen::Ref<const Vector<double>>& ridge, double noise,
                                      double ensemble) {
  require(n_samples.size() == n_features.size(), "n_samples",
          "expected " + std::to_string(n_features.size()) + " values (one per n_features)");
  require(ridge.size() == n_features.size(), "ridge",
          "expected " + std::to_string(n_features.size()) + " values (one per n_features)");
  std::vector<RidgeErrors> out;
  out.reserve(static_cast<std::size_t>(n_features.size()));
  for (Index i = 0; i < n_features.size(); ++i)
    out.push_back(ridge_errors(modes, n_features[i], n_samples[i], ridge[i], noise, ensemble));
  return out;
}

}  // namespace scalinglab::theory
