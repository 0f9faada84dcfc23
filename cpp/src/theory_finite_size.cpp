#include "scalinglab/theory_finite_size.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "scalinglab/errors.hpp"

namespace scalinglab::theory {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string number(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", x);
  return buffer;
}

enum class Side { None, Width, Samples, Both };

Side finite_side(double n_features, double n_samples) {
  require(n_features > 0 && !std::isnan(n_features), "n_features",
          "must be > 0 (or +inf), got " + number(n_features));
  require(n_samples > 0 && !std::isnan(n_samples), "n_samples",
          "must be > 0 (or +inf), got " + number(n_samples));
  const bool width = std::isfinite(n_features), samples = std::isfinite(n_samples);
  return width && samples ? Side::Both : width ? Side::Width : samples ? Side::Samples : Side::None;
}

// ---- sums over modes at one kappa -------------------------------------------------------------

// The weight vectors of every sum (m the multiplicity, p = lambda w*^2 the target power).
struct ModeWeights {
  Index M = 0;
  const double* lam = nullptr;
  const double* m_lam = nullptr;   // m lambda
  const double* m_lam2 = nullptr;  // m lambda^2
  const double* m_p = nullptr;     // m p
  const double* m_p_lam = nullptr;  // m p lambda
  std::vector<double> m_lam3, m_p_over_lam, m_p_lam2;
  // Tail sums (modes k..M-1, lambda decreasing) of m lambda, m lambda^2, m p, m p / lambda: the
  // kappa-independent z^0 terms of the tail recursions in samples_sums. Index M holds 0.
  std::vector<double> tail_lam, tail_lam2, tail_p, tail_p_over_lam;

  void prepare_tails() {
    const std::size_t size = static_cast<std::size_t>(M) + 1;
    tail_lam.assign(size, 0.0);
    tail_lam2.assign(size, 0.0);
    tail_p.assign(size, 0.0);
    tail_p_over_lam.assign(size, 0.0);
    for (Index k = M - 1; k >= 0; --k) {  // from the smallest eigenvalue up: fixed order
      tail_lam[k] = tail_lam[k + 1] + m_lam[k];
      tail_lam2[k] = tail_lam2[k + 1] + m_lam2[k];
      tail_p[k] = tail_p[k + 1] + m_p[k];
      tail_p_over_lam[k] = tail_p_over_lam[k + 1] + m_p_over_lam[k];
    }
  }

  explicit ModeWeights(const ModeSpectrum& modes)
      : M(modes.size()), lam(modes.lambda().data()), m_lam(modes.m_lambda().data()),
        m_lam2(modes.m_lambda2().data()), m_p(modes.m_power().data()),
        m_p_lam(modes.m_lambda_power().data()) {
    m_lam3.resize(static_cast<std::size_t>(M));
    m_p_over_lam.resize(static_cast<std::size_t>(M));
    m_p_lam2.resize(static_cast<std::size_t>(M));
    for (Index k = 0; k < M; ++k) {
      m_lam3[k] = m_lam2[k] * lam[k];
      m_p_over_lam[k] = m_p[k] / lam[k];
      m_p_lam2[k] = m_p_lam[k] * lam[k];
    }
    prepare_tails();
  }
};

// z_k^j, j = 1..4, of the modes [begin, end) at one kappa (real and imaginary parts apart, so
// that each sum below is two plain dot products). Callers walk the modes in chunks of kChunk so
// that the powers stay in L1 cache between the sums.
constexpr Index kChunk = 512;

class ZPowers {
 public:
  void compute(const ModeWeights& w, Complex kappa, Index begin, Index end) {
    begin_ = begin;
    size_ = end - begin;
    const double kr = kappa.real(), ki = kappa.imag(), ki2 = ki * ki;
    double *r1 = re_[0], *i1 = im_[0], *r2 = re_[1], *i2 = im_[1];
    double *r3 = re_[2], *i3 = im_[2], *r4 = re_[3], *i4 = im_[3];
    const double* lam = w.lam + begin;
#pragma omp simd
    for (Index k = 0; k < size_; ++k) {
      const double dr = kr + lam[k];
      const double inv = 1.0 / (dr * dr + ki2);
      const double zr = dr * inv, zi = -ki * inv;
      const double qr = zr * zr - zi * zi, qi = 2.0 * zr * zi;
      r1[k] = zr; i1[k] = zi;
      r2[k] = qr; i2[k] = qi;
      r3[k] = qr * zr - qi * zi; i3[k] = qr * zi + qi * zr;
      r4[k] = qr * qr - qi * qi; i4[k] = 2.0 * qr * qi;
    }
  }

  /// sum over the chunk of weight_k z_k^power (weight indexed by mode)
  Complex sum(const double* weight, int power) const {
    Complex out;
    sums(&weight, 1, power, &out);
    return out;
  }

  /// out[q] = sum over the chunk of weights[q]_k z_k^power, q < count: up to four sums per pass,
  /// so that their accumulators form independent chains (one sum per pass is bound by the
  /// latency of its FMA chain). Each sum is accumulated exactly as a pass of its own would.
  void sums(const double* const* weights, int count, int power, Complex* out) const {
    const double* r = re_[power - 1];
    const double* i = im_[power - 1];
    for (int q = 0; q < count; q += 4) {
      const int k = std::min(4, count - q);
      if (k == 4) dot4(r, i, weights + q, out + q);
      else if (k == 3) dot3(r, i, weights + q, out + q);
      else if (k == 2) dot2(r, i, weights + q, out + q);
      else dot1(r, i, weights + q, out + q);
    }
  }


 private:
  void dot1(const double* r, const double* i, const double* const* w, Complex* out) const {
    const double* f0 = w[0] + begin_;
    double a0 = 0, b0 = 0;
#pragma omp simd reduction(+ : a0, b0)
    for (Index k = 0; k < size_; ++k) {
      a0 += f0[k] * r[k];
      b0 += f0[k] * i[k];
    }
    out[0] = {a0, b0};
  }
  void dot2(const double* r, const double* i, const double* const* w, Complex* out) const {
    const double *f0 = w[0] + begin_, *f1 = w[1] + begin_;
    double a0 = 0, b0 = 0, a1 = 0, b1 = 0;
#pragma omp simd reduction(+ : a0, b0, a1, b1)
    for (Index k = 0; k < size_; ++k) {
      a0 += f0[k] * r[k];
      b0 += f0[k] * i[k];
      a1 += f1[k] * r[k];
      b1 += f1[k] * i[k];
    }
    out[0] = {a0, b0};
    out[1] = {a1, b1};
  }
  void dot3(const double* r, const double* i, const double* const* w, Complex* out) const {
    const double *f0 = w[0] + begin_, *f1 = w[1] + begin_, *f2 = w[2] + begin_;
    double a0 = 0, b0 = 0, a1 = 0, b1 = 0, a2 = 0, b2 = 0;
#pragma omp simd reduction(+ : a0, b0, a1, b1, a2, b2)
    for (Index k = 0; k < size_; ++k) {
      a0 += f0[k] * r[k];
      b0 += f0[k] * i[k];
      a1 += f1[k] * r[k];
      b1 += f1[k] * i[k];
      a2 += f2[k] * r[k];
      b2 += f2[k] * i[k];
    }
    out[0] = {a0, b0};
    out[1] = {a1, b1};
    out[2] = {a2, b2};
  }
  void dot4(const double* r, const double* i, const double* const* w, Complex* out) const {
    const double *f0 = w[0] + begin_, *f1 = w[1] + begin_, *f2 = w[2] + begin_,
                 *f3 = w[3] + begin_;
    double a0 = 0, b0 = 0, a1 = 0, b1 = 0, a2 = 0, b2 = 0, a3 = 0, b3 = 0;
#pragma omp simd reduction(+ : a0, b0, a1, b1, a2, b2, a3, b3)
    for (Index k = 0; k < size_; ++k) {
      a0 += f0[k] * r[k];
      b0 += f0[k] * i[k];
      a1 += f1[k] * r[k];
      b1 += f1[k] * i[k];
      a2 += f2[k] * r[k];
      b2 += f2[k] * i[k];
      a3 += f3[k] * r[k];
      b3 += f3[k] * i[k];
    }
    out[0] = {a0, b0};
    out[1] = {a1, b1};
    out[2] = {a2, b2};
    out[3] = {a3, b3};
  }

  Index begin_ = 0, size_ = 0;
  double re_[4][kChunk], im_[4][kChunk];
};

// The one-resolvent quantities at one Laplace variable s (finite side n).
struct Base {
  double n = 0;
  Complex s, kappa, df, D2, D3, E3, E4, R, Dn;
};

// A quadratic form a^T Q a: S_j = sum m a^2 z^j, A2 = sum m a^2 lambda z^2,
// A3 = sum m a^2 lambda^2 z^3, and the kappa-derivatives of A2, A3.
struct Form {
  Complex S1, S2, S3, A2, A3, dA2, dA3;
};

Base make_base(double n, Complex s, Complex kappa, Complex df, Complex D2, Complex D3, Complex E3,
               Complex E4) {
  Base b;
  b.n = n;
  b.s = s;
  b.kappa = kappa;
  b.df = df;
  b.D2 = D2;
  b.D3 = D3;
  b.E3 = E3;
  b.E4 = E4;
  // R = 1 - df/n = s/kappa; s/kappa keeps its relative precision when R is small (late times,
  // kappa -> kappa_c), where 1 - df/n cancels.
  b.R = s / kappa;
  b.Dn = b.R + kappa * D2 / n;
  return b;
}

// Deterministic equivalent g0 = S1/R and its s-derivatives.
struct Leading {
  Complex g, dg, ddg;
};

Leading leading(const Base& b, const Form& f) {
  const double n = b.n;
  const Complex R = b.R, R_k = b.D2 / n, R_kk = -2.0 * b.D3 / n;
  const Complex g = f.S1 / R;
  const Complex top = -f.S2 * R - f.S1 * R_k;
  const Complex g_k = top / (R * R);
  const Complex g_kk = (2.0 * f.S3 * R - f.S1 * R_kk) / (R * R) - 2.0 * top * R_k / (R * R * R);
  const Complex s_k = b.Dn, s_kk = 2.0 * R_k + b.kappa * R_kk;
  return {g, g_k / s_k, (g_kk * s_k - g_k * s_kk) / (s_k * s_k * s_k)};
}

Complex dR_ds(const Base& b) { return (b.D2 / b.n) / b.Dn; }

// Delta_g(s), the O(1/n) correction of E a^T Q a.
Complex correction(const Base& b, const Form& f) {
  const double n = b.n;
  return (f.A3 - b.kappa * b.E3 * f.A2 / (n * b.Dn)) / (n * b.R * b.Dn);
}

// d Delta_g / ds = (d Delta_g / d kappa) / D_n, analytic (every sum's kappa-derivative is the
// next power of z).
Complex correction_derivative(const Base& b, const Form& f) {
  const double n = b.n;
  const Complex kappa = b.kappa, Dn = b.Dn, R = b.R;
  const Complex dR = b.D2 / n;
  const Complex dDn = dR + (b.D2 - 2.0 * kappa * b.D3) / n;
  const Complex dE3 = -3.0 * b.E4;
  const Complex U = f.A3 - kappa * b.E3 * f.A2 / (n * Dn);
  const Complex dU = f.dA3 - (b.E3 * f.A2 + kappa * dE3 * f.A2 + kappa * b.E3 * f.dA2) / (n * Dn) +
                     kappa * b.E3 * f.A2 * dDn / (n * Dn * Dn);
  const Complex V = n * R * Dn;
  const Complex dV = n * (dR * Dn + R * dDn);
  return (dU * V - U * dV) / (V * V) / Dn;
}

// Every sum at one node, for one side.
struct NodeSums {
  Base base;
  Form power;   // a^2 = p (the N side: u^T e^{-2tG} u with u^2 = p); S_j unused
  Form target;  // a^2 = w*^2 = p / lambda (the P side)
  Form lam;     // a^2 = lambda
  Form ones;    // a^2 = 1; S_j unused
};

// out[p][c] += sum over modes [begin, end) of f_c z^p, p = 1..4, c = 0, 1: powers p and p + 1
// in one pass (eight independent accumulator chains), carrying z^(p+2).
void paired_power_sums(const double* lam, const double* f0, const double* f1, Index begin,
                       Index end, Complex kappa, Complex (&out)[5][2]) {
  const double kr = kappa.real(), ki = kappa.imag(), ki2 = ki * ki;
  double zr[kChunk], zi[kChunk], pr[kChunk], pi[kChunk];
  for (Index start = begin; start < end; start += kChunk) {  // fixed order: thread independent
    const Index size = std::min(end, start + kChunk) - start;
    const double *l = lam + start, *g0 = f0 + start, *g1 = f1 + start;
#pragma omp simd
    for (Index m = 0; m < size; ++m) {
      const double dr = kr + l[m];
      const double inv = 1.0 / (dr * dr + ki2);
      zr[m] = pr[m] = dr * inv;
      zi[m] = pi[m] = -ki * inv;
    }
    for (int p = 1; p <= 3; p += 2) {
      double a0 = 0, b0 = 0, a1 = 0, b1 = 0, c0 = 0, d0 = 0, c1 = 0, d1 = 0;
#pragma omp simd reduction(+ : a0, b0, a1, b1, c0, d0, c1, d1)
      for (Index m = 0; m < size; ++m) {
        const double xr = pr[m], xi = pi[m];
        const double yr = xr * zr[m] - xi * zi[m], yi = xr * zi[m] + xi * zr[m];
        a0 += g0[m] * xr;
        b0 += g0[m] * xi;
        a1 += g1[m] * xr;
        b1 += g1[m] * xi;
        c0 += g0[m] * yr;
        d0 += g0[m] * yi;
        c1 += g1[m] * yr;
        d1 += g1[m] * yi;
        pr[m] = yr * zr[m] - yi * zi[m];
        pi[m] = yr * zi[m] + yi * zr[m];
      }
      out[p][0] += Complex(a0, b0);
      out[p][1] += Complex(a1, b1);
      out[p + 1][0] += Complex(c0, d0);
      out[p + 1][1] += Complex(c1, d1);
    }
  }
}

// The 15 P-side sums (v[] of node_sums) from 8 sums over modes. Per mode lambda z + kappa z = 1;
// the modes split at lambda = |kappa| (lambda decreasing: a head [0, h) and a tail [h, M)):
//  - head (lambda >= |kappa|): sum m lambda^(j+1) z^p = sum m lambda^j z^(p-1) - kappa sum
//    m lambda^j z^p; per mode |kappa z| <= |lambda z| and 1 <= 2 |lambda z|, no cancellation;
//  - tail (lambda < |kappa|): sum m lambda^j z^p = (sum m lambda^j z^(p-1) - sum m lambda^(j+1)
//    z^p) / kappa, from the kappa-independent z^0 sums; |lambda z| < |kappa z|, 1 <= 2 |kappa z|.
// Each derived sum's rounding error stays within a small multiple of a direct sum's.
void samples_sums(const ModeWeights& w, Complex kappa, Complex (&v)[15]) {
  const double bound = std::abs(kappa);
  const Index h = std::partition_point(w.lam, w.lam + w.M, [&](double l) { return l >= bound; }) -
                  w.lam;
  // (m lambda^j z^p) as A[j][p], (m p lambda^j z^p) as B[j + 1][p]
  Complex A[4][5] = {}, B[3][5] = {};
  if (h > 0) {
    Complex s[5][2] = {};
    paired_power_sums(w.lam, w.m_lam, w.m_p_over_lam.data(), 0, h, kappa, s);
    for (int p = 1; p <= 4; ++p) {
      A[1][p] = s[p][0];
      B[0][p] = s[p][1];
    }
    for (int p = 2; p <= 4; ++p) {
      A[2][p] = A[1][p - 1] - kappa * A[1][p];
      B[1][p] = B[0][p - 1] - kappa * B[0][p];
    }
    for (int p = 3; p <= 4; ++p) {
      A[3][p] = A[2][p - 1] - kappa * A[2][p];
      B[2][p] = B[1][p - 1] - kappa * B[1][p];
    }
  }
  if (h < w.M) {
    Complex s[5][2] = {};
    paired_power_sums(w.lam, w.m_lam3.data(), w.m_p_lam, h, w.M, kappa, s);
    Complex a2 = w.tail_lam2[h], a1 = w.tail_lam[h], b1 = w.tail_p[h], b0 = w.tail_p_over_lam[h];
    const Complex inv = 1.0 / kappa;
    for (int p = 1; p <= 4; ++p) {
      A[3][p] += s[p][0];
      B[2][p] += s[p][1];
      a2 = (a2 - s[p][0]) * inv;  // tail sum m lambda^2 z^p
      a1 = (a1 - a2) * inv;       // tail sum m lambda z^p
      b1 = (b1 - s[p][1]) * inv;  // tail sum m p z^p
      b0 = (b0 - b1) * inv;       // tail sum m p / lambda z^p
      A[2][p] += a2;
      A[1][p] += a1;
      B[1][p] += b1;
      B[0][p] += b0;
    }
  }
  const Complex out[15] = {A[1][1], A[1][2], A[1][3], A[2][3], A[2][4], B[0][1], B[0][2], B[0][3],
                           B[1][2], B[1][3], B[2][3], B[2][4], A[2][2], A[3][3], A[3][4]};
  std::copy(out, out + 15, v);
}

NodeSums node_sums(const ModeWeights& w, ZPowers& z, Side side, double n, Complex s, Complex kappa) {
  const double* t = w.m_p_over_lam.data();
  // (weight, power) of every sum; the first five are shared by both sides.
  struct Term {
    const double* weight;
    int power;
  };
  const Term width[] = {{w.m_lam, 1}, {w.m_lam, 2}, {w.m_lam, 3}, {w.m_lam2, 3}, {w.m_lam2, 4},
                        {w.m_p_lam, 2}, {w.m_p_lam, 3}, {w.m_p_lam2.data(), 3},
                        {w.m_p_lam2.data(), 4}};
  const Term samples[] = {{w.m_lam, 1}, {w.m_lam, 2}, {w.m_lam, 3}, {w.m_lam2, 3}, {w.m_lam2, 4},
                          {t, 1}, {t, 2}, {t, 3}, {w.m_p, 2}, {w.m_p, 3}, {w.m_p_lam, 3},
                          {w.m_p_lam, 4}, {w.m_lam2, 2}, {w.m_lam3.data(), 3},
                          {w.m_lam3.data(), 4}};
  const Term* terms = side == Side::Width ? width : samples;
  const int count = side == Side::Width ? 9 : 15;
  // The terms grouped by power (several sums per pass over the chunk's z^power).
  int order[15], group_end[5] = {};
  const double* group_weights[15];
  int used = 0;
  for (int p = 1; p <= 4; ++p) {
    for (int q = 0; q < count; ++q)
      if (terms[q].power == p) {
        order[used] = q;
        group_weights[used++] = terms[q].weight;
      }
    group_end[p] = used;
  }
  Complex v[15] = {}, part[15];
  if (side == Side::Samples) samples_sums(w, kappa, v);
  else for (Index begin = 0; begin < w.M; begin += kChunk) {  // fixed order: thread independent
    z.compute(w, kappa, begin, std::min(w.M, begin + kChunk));
    for (int p = 1; p <= 4; ++p)
      z.sums(group_weights + group_end[p - 1], group_end[p] - group_end[p - 1], p,
             part + group_end[p - 1]);
    for (int u = 0; u < used; ++u) v[order[u]] += part[u];
  }
  NodeSums out;
  const Complex df = v[0], D2 = v[1], D3 = v[2], E3 = v[3], E4 = v[4];
  out.base = make_base(n, s, kappa, df, D2, D3, E3, E4);
  out.ones = {0, 0, 0, D2, E3, -2.0 * D3, -3.0 * E4};
  if (side == Side::Width) {
    out.power = {0, 0, 0, v[5], v[7], -2.0 * v[6], -3.0 * v[8]};
  } else {
    out.target = {v[5], v[6], v[7], v[8], v[10], -2.0 * v[9], -3.0 * v[11]};
    out.lam = {df, D2, D3, v[12], v[13], -2.0 * E3, -3.0 * v[14]};
  }
  return out;
}

NodeSums conj(const NodeSums& x) {
  auto c = [](Complex v) { return std::conj(v); };
  auto cf = [&](const Form& f) {
    return Form{c(f.S1), c(f.S2), c(f.S3), c(f.A2), c(f.A3), c(f.dA2), c(f.dA3)};
  };
  NodeSums y = x;
  Base& b = y.base;
  b.s = c(b.s); b.kappa = c(b.kappa); b.df = c(b.df); b.D2 = c(b.D2); b.D3 = c(b.D3);
  b.E3 = c(b.E3); b.E4 = c(b.E4); b.R = c(b.R); b.Dn = c(b.Dn);
  y.power = cf(x.power);
  y.target = cf(x.target);
  y.lam = cf(x.lam);
  y.ones = cf(x.ones);
  return y;
}

// ---- two resolvents (P side, test loss) -------------------------------------------------------

// What the two-point formula needs from one node, precomputed once per node.
struct NodeTerms {
  Complex s, R, dRds, E3, Dn;
  Leading g;          // target form
  Complex h, dh;      // Delta_g and its s-derivative, target form
  Leading gl;         // lambda form
  Complex hl, dhl;    // lambda form
};

NodeTerms node_terms(const NodeSums& x) {
  const Base& b = x.base;
  return {b.s, b.R, dR_ds(b), b.E3, b.Dn, leading(b, x.target), correction(b, x.target),
          correction_derivative(b, x.target), leading(b, x.lam), correction(b, x.lam),
          correction_derivative(b, x.lam)};
}

// (W0, W): the leading and the O(1/n)-corrected E w*^T Q(s1) Lambda Q(s2) w* plus the noise
// part sigma^2/(n s1 s2) E tr[Lambda Q1 S Q2], from the exact identity of the docs page. Its
// divided differences cancel when s1, s2 are small against kappa_c (late times) or large
// against the spectrum (early times): see the round-off estimate in correct_time.
std::pair<Complex, Complex> two_point(const NodeTerms& A, const NodeTerms& B, double n,
                                      double noise) {
  using C = Complex;
  using T = double;
  auto c = [](Complex v) { return v; };
  const C S1 = c(A.s), S2 = c(B.s);
  const bool same = std::abs(A.s - B.s) <= 1e-12 * std::abs(A.s);
  const C diff = same ? C(1) : S2 - S1;
  auto divided = [&](C f1, C f2, C d2) { return same ? d2 : (f2 - f1) / diff; };
  const C ga = c(A.g.g), dga = c(A.g.dg), gb = c(B.g.g), dgb = c(B.g.dg), ddgb = c(B.g.ddg);
  const C dd = divided(ga, gb, dgb);
  const C V0 = ga + S2 * dd;
  const C R1 = c(A.R), R2 = c(B.R);
  const C W0 = V0 / (R1 * R2);
  const C dV0 = same ? dgb + S2 * T(0.5) * ddgb : dd + S2 * (dgb * diff - (gb - ga)) / (diff * diff);
  const C dW0 = dV0 / (R1 * R2) - W0 * c(B.dRds) / R2;
  const C W11 = (ga + S1 * dga) / (R1 * R1);
  const C Y1 = W11 - S2 * (same ? -dW0 : (W11 - W0) / diff);
  const C Y2 = W0 + S2 * dW0;
  const C ha = c(A.h), hb = c(B.h), dhb = c(B.dh);
  const C Vf = V0 + ha + S2 * divided(ha, hb, dhb);
  const C t1 = (c(A.gl.g) + c(A.hl)) / n;
  // 1 - E tau(s2) = R2 + s2 E3 / (n^2 D_n^2), summed directly (R2 -> 0 at late times)
  const C one_minus_tau2 = R2 + S2 * c(B.E3) / (n * n * c(B.Dn) * c(B.Dn));
  C W = ((T(1) + t1) * Vf + (Y1 + Y2) / n) / one_minus_tau2;
  C W0_out = W0;
  if (noise > 0) {
    const C hA = c(A.gl.g), hB = c(B.gl.g), dhB = c(B.gl.dg);
    const C cA = c(A.hl), cB = c(B.hl), dcB = c(B.dhl);
    const C lead = hA + S2 * divided(hA, hB, dhB);
    const C full = lead + cA + S2 * divided(cA, cB, dcB);
    const C scale = static_cast<T>(noise) / (n * S1 * S2);
    W0_out += scale * lead;
    W += scale * full;
  }
  return {W0_out, W};
}

// Shifts every field by a relative 1e-15 x (a sign pattern that depends on the field and `seed`).
void perturb(NodeTerms& x, int seed) {
  Complex* fields[] = {&x.s, &x.R, &x.dRds, &x.E3, &x.Dn, &x.g.g, &x.g.dg, &x.g.ddg, &x.h,
                       &x.dh, &x.gl.g, &x.gl.dg, &x.gl.ddg, &x.hl, &x.dhl};
  int f = 0;
  for (Complex* v : fields) {
    const int sign = ((f * 5 + seed * 3) % 4) < 2 ? 1 : -1;
    *v *= 1.0 + sign * 1e-15;
    ++f;
  }
}

// ---- one time ---------------------------------------------------------------------------------

struct TimeCorrection {
  double test = 0, train = 0, roundoff = 0;
};

TimeCorrection correct_time(const ModeWeights& w, ZPowers& z, Side side, double n, double noise,
                            double t, int nodes, const std::vector<Complex>& kappa) {
  TimeCorrection out;
  if (t == 0.0 || side == Side::None) return out;
  const TalbotContour contour = talbot_contour(t, nodes);
  std::vector<NodeSums> sums(static_cast<std::size_t>(nodes));
  for (int j = 0; j < nodes; ++j)
    sums[j] = node_sums(w, z, side, n, contour.nodes[j], kappa[j]);
  // 1-D inversion at 2t on the contour of t: weights w_j(2t) = w_j(t) e^{t s_j}.
  auto invert_2t = [&](auto&& value) {
    double total = 0;
    for (int j = 0; j < nodes; ++j) {
      const Complex term = contour.weights[j] * std::exp(t * contour.nodes[j]) * value(sums[j]);
      total += (j == 0 ? 1.0 : 2.0) * term.real();
    }
    return total;
  };
  if (side == Side::Width) {
    out.test = out.train = invert_2t([](const NodeSums& x) { return correction(x.base, x.power); });
    return out;
  }
  out.train = invert_2t([&](const NodeSums& x) {
    return -x.base.s * correction(x.base, x.target) + noise / n * correction(x.base, x.ones);
  });
  // 2-D inversion: rows the upper nodes, columns the upper nodes and the conjugates of 1..n-1.
  std::vector<NodeTerms> rows(static_cast<std::size_t>(nodes)), cols;
  std::vector<Complex> col_weights;
  for (int j = 0; j < nodes; ++j) rows[j] = node_terms(sums[j]);
  for (int l = 0; l < 2 * nodes - 1; ++l) {
    const bool flip = l >= nodes;
    const int j = flip ? l - nodes + 1 : l;
    cols.push_back(flip ? node_terms(conj(sums[j])) : rows[j]);
    col_weights.push_back(flip ? std::conj(contour.weights[j]) : contour.weights[j]);
  }
  // Round-off estimate: the same algebra with every input shifted by a relative 1e-15
  // (independent signs), about the rounding error of the mode sums; the divided differences
  // amplify it at very early and very late times.
  std::vector<NodeTerms> rows_p = rows, cols_p = cols;
  for (int j = 0; j < nodes; ++j) perturb(rows_p[j], j);
  for (int l = 0; l < 2 * nodes - 1; ++l) perturb(cols_p[l], l + 7);
  Complex all = 0, row0 = 0, all_p = 0, row0_p = 0;
  for (int j = 0; j < nodes; ++j) {
    Complex row = 0, row_p = 0;
    for (int l = 0; l < 2 * nodes - 1; ++l) {
      const Complex weight = contour.weights[j] * col_weights[l];
      const auto [W0, W] = two_point(rows[j], cols[l], n, noise);
      const auto [W0p, Wp] = two_point(rows_p[j], cols_p[l], n, noise);
      row += weight * (W - W0);
      row_p += weight * (Wp - W0p);
    }
    all += row;
    all_p += row_p;
    if (j == 0) {
      row0 = row;
      row0_p = row_p;
    }
  }
  out.test = 2.0 * all.real() - row0.real();
  out.roundoff = std::abs(2.0 * all_p.real() - row0_p.real() - out.test);
  return out;
}

// ---- static -----------------------------------------------------------------------------------

// The corrections at real ridge r > 0 (s = s' = r): the time-domain forms times s^2.
FiniteSizeStatic static_at_kappa(const ModeWeights& w, Side side, double n, double ridge,
                                 double kappa, double noise) {
  ZPowers z;
  const NodeSums x = node_sums(w, z, side, n, ridge, kappa);
  const double r2 = ridge * ridge;
  FiniteSizeStatic out;
  if (side == Side::Width) {
    out.test_correction = out.train_correction =
        (-r2 * correction_derivative(x.base, x.power)).real();
    return out;
  }
  const NodeTerms terms = node_terms(x);
  const auto [W0, W] = two_point(terms, terms, n, noise);
  out.test_correction = r2 * (W - W0).real();
  const Complex train = r2 * (correction(x.base, x.target) +
                              ridge * correction_derivative(x.base, x.target)) -
                        noise / n * r2 * correction_derivative(x.base, x.ones);
  out.train_correction = train.real();
  return out;
}

FiniteSizeStatic static_at(const ModeSpectrum& modes, const ModeWeights& w, Side side, double n,
                           double ridge, double noise) {
  const double kappa = side == Side::Width ? renormalized_ridge(modes, n, kInf, ridge)
                                           : renormalized_ridge(modes, kInf, n, ridge);
  return static_at_kappa(w, side, n, ridge, kappa, noise);
}


// ---- both N and P finite (docs/theory-finite-size.md, "Both sides finite") --------------------
//
// Conditional on A the model is linear regression on the features' covariance C; every sum over
// the eigenvalues of C that the one-sided P-side expansion needs is a function of the N-side
// averages U(x) = E tr G (G + x)^-1 and Phi(x) = E u^T G (G + x)^-1 u at the P-side ridge x,
// each known as a truncated Taylor series in kappa (the M-mode renormalised ridge) reverted to a
// series in x. Port of the numpy version (tests/_finite_size_two_sided_reference.py), same
// operations in the same order.

constexpr int kOrder = 5;  // Taylor coefficients: derivatives up to 3 of U, Psi, plus the shift of x
using Series = std::array<Complex, kOrder>;

Series constant(Complex c) {
  Series out{};
  out[0] = c;
  return out;
}
Series operator+(const Series& a, const Series& b) {
  Series out;
  for (int i = 0; i < kOrder; ++i) out[i] = a[i] + b[i];
  return out;
}
Series operator-(const Series& a, const Series& b) {
  Series out;
  for (int i = 0; i < kOrder; ++i) out[i] = a[i] - b[i];
  return out;
}
Series operator*(Complex c, const Series& a) {
  Series out;
  for (int i = 0; i < kOrder; ++i) out[i] = a[i] * c;
  return out;
}
Series operator/(const Series& a, Complex c) {
  Series out;
  for (int i = 0; i < kOrder; ++i) out[i] = a[i] / c;
  return out;
}
// truncated Cauchy product, each coefficient summed from j = 0 up
Series mul(const Series& a, const Series& b) {
  Series out;
  for (int i = 0; i < kOrder; ++i) {
    Complex acc = 0;
    for (int j = 0; j <= i; ++j) acc += a[j] * b[i - j];
    out[i] = acc;
  }
  return out;
}
Series inv(const Series& a) {
  Series out{};
  out[0] = 1.0 / a[0];
  for (int k = 1; k < kOrder; ++k) {
    Complex acc = 0;
    for (int j = 0; j < k; ++j) acc += a[j + 1] * out[k - 1 - j];
    out[k] = -out[0] * acc;
  }
  return out;
}
Series div(const Series& a, const Series& b) { return mul(a, inv(b)); }
Series deriv(const Series& a) {
  Series out{};
  for (int k = 1; k < kOrder; ++k) out[k - 1] = a[k] * static_cast<double>(k);
  return out;
}
// f(g(e)) for g with g_0 = 0
Series compose(const Series& f, const Series& g) {
  Series out = constant(f[0]), power = constant(1.0);
  for (int k = 1; k < kOrder; ++k) {
    power = mul(power, g);
    out = out + f[k] * power;
  }
  return out;
}
// b with a(b(e)) = e, for a_0 = 0, a_1 != 0 (fixed-point iteration, exact after kOrder steps)
Series revert(const Series& a) {
  Series e{};
  e[1] = 1.0;
  const Complex a1 = a[1];
  Series b = e / a1;
  for (int it = 0; it < kOrder; ++it) {
    Series linear = a1 * b;
    b = (e - (compose(a, b) - linear)) / a1;
  }
  return b;
}
Complex evaluate(const Series& a, Complex e) {
  Complex out = 0, power = 1.0;
  for (int k = 0; k < kOrder; ++k) {
    out += a[k] * power;
    power *= e;
  }
  return out;
}

// sum_m weight_c(m) z^p, p = 1..kOrder + 2, for the weights m lambda, m lambda^2, m lambda p,
// m lambda^2 p (c = 0..3), at one kappa: sums[p][c]. Only c = 0 and 2 are summed over modes;
// lambda z = 1 - kappa z gives the others, sum w lambda z^p = sum w z^(p-1) - kappa sum w z^p
// (half the mode sums; it cancels only where |kappa| is above the whole spectrum, t << 1/lambda_1,
// where the 2-D inversion's own round-off is larger).
struct TwoSidedPowerSums {
  Complex v[kOrder + 4][4] = {};  // p = kOrder + 3: a by-product of the paired passes
};

TwoSidedPowerSums two_sided_power_sums(const ModeWeights& w, Complex kappa) {
  constexpr int kMax = kOrder + 2;
  TwoSidedPowerSums out;
  const double kr = kappa.real(), ki = kappa.imag(), ki2 = ki * ki;
  double zr[kChunk], zi[kChunk], pr[kChunk], pi[kChunk];
  for (Index begin = 0; begin < w.M; begin += kChunk) {  // fixed order: thread independent
    const Index size = std::min(w.M, begin + kChunk) - begin;
    const double* lam = w.lam + begin;
    const double *f0 = w.m_lam + begin, *f2 = w.m_p_lam + begin;
#pragma omp simd
    for (Index m = 0; m < size; ++m) {
      const double dr = kr + lam[m];
      const double inv = 1.0 / (dr * dr + ki2);
      zr[m] = pr[m] = dr * inv;
      zi[m] = pi[m] = -ki * inv;
    }
    // powers p and p + 1 in one pass (eight independent accumulator chains), carrying z^(p+2)
    for (int p = 1; p <= kMax; p += 2) {
      double a0 = 0, b0 = 0, a2 = 0, b2 = 0, c0 = 0, d0 = 0, c2 = 0, d2 = 0;
#pragma omp simd reduction(+ : a0, b0, a2, b2, c0, d0, c2, d2)
      for (Index m = 0; m < size; ++m) {
        const double xr = pr[m], xi = pi[m];
        const double yr = xr * zr[m] - xi * zi[m], yi = xr * zi[m] + xi * zr[m];
        a0 += f0[m] * xr;
        b0 += f0[m] * xi;
        a2 += f2[m] * xr;
        b2 += f2[m] * xi;
        c0 += f0[m] * yr;
        d0 += f0[m] * yi;
        c2 += f2[m] * yr;
        d2 += f2[m] * yi;
        pr[m] = yr * zr[m] - yi * zi[m];
        pi[m] = yr * zi[m] + yi * zr[m];
      }
      out.v[p][0] += Complex(a0, b0);
      out.v[p][2] += Complex(a2, b2);
      out.v[p + 1][0] += Complex(c0, d0);  // p + 1 = kMax + 1 for odd kMax: summed, unused
      out.v[p + 1][2] += Complex(c2, d2);
    }
  }
  for (int p = 2; p <= kMax; ++p) {
    out.v[p][1] = out.v[p - 1][0] - kappa * out.v[p][0];
    out.v[p][3] = out.v[p - 1][2] - kappa * out.v[p][2];
  }
  return out;
}

// U and Phi, plain (deterministic equivalent) and O(1/N)-corrected, as series in
// eps = x - x0 at the M-mode kappa; x0 the P-side ridge kappa (1 - df/N).
struct NSideSeries {
  Complex x0;
  Series U_plain, Phi_plain, U_full, Phi_full;
};

NSideSeries n_side_series(const ModeWeights& w, double N, Complex kappa) {
  const TwoSidedPowerSums sums = two_sided_power_sums(w, kappa);
  // sum w z(kappa + d)^p = sum_j C(p+j-1, j) (-d)^j sum w z^(p+j)
  auto series = [&](int col, int p) {
    Series out;
    for (int j = 0; j < kOrder; ++j) {
      double binom = 1;
      for (int i = 1; i <= j; ++i) binom = binom * (p + i - 1) / i;
      out[j] = sums.v[p + j][col] * binom * (j % 2 ? -1.0 : 1.0);
    }
    return out;
  };
  const Series df = series(0, 1), D2 = series(0, 2), E3 = series(1, 3);
  const Series Phi0 = series(2, 1), A2 = series(2, 2), A3 = series(3, 3);
  Series kap{};
  kap[0] = kappa;
  kap[1] = 1.0;
  const Series R = constant(1.0) - df / N;
  const Series Dn = R + mul(kap, D2) / N;
  const Series x = mul(kap, R);
  const Series U_full = df - div(mul(x, E3), mul(Dn, Dn)) / N;
  const Series Phi_full = Phi0 - div(mul(kap, A3 - div(mul(mul(kap, E3), A2), Dn) / N), Dn) / N;
  Series shift = x;
  NSideSeries out;
  out.x0 = shift[0];
  shift[0] = 0.0;
  const Series back = revert(shift);
  out.U_plain = compose(df, back);
  out.Phi_plain = compose(Phi0, back);
  out.U_full = compose(U_full, back);
  out.Phi_full = compose(Phi_full, back);
  return out;
}

// pi = E u^T P_null u and H0 = E beta^T beta = -Phi'(0), plain and corrected (at kappa_c).
struct TwoSidedConstants {
  double pi_plain = 0, H0_plain = 0, pi_full = 0, H0_full = 0, total = 0;
};

TwoSidedConstants two_sided_constants(const ModeSpectrum& modes, const ModeWeights& w, double N) {
  require(N < modes.rank(), "n_features",
          "the two-sided correction needs N below the number of modes (" + number(modes.rank()) +
              "); got N = " + number(N));
  const double kc = critical_kappa(modes, N);
  const NSideSeries ser = n_side_series(w, N, kc);
  TwoSidedConstants c;
  for (Index k = 0; k < w.M; ++k) c.total += w.m_p[k];  // sum m p, in mode order
  c.pi_plain = c.total - ser.Phi_plain[0].real();
  c.H0_plain = -ser.Phi_plain[1].real();
  c.pi_full = c.total - ser.Phi_full[0].real();
  c.H0_full = -ser.Phi_full[1].real();
  return c;
}

// The sums over the spectrum of C (the one-sided P-side NodeSums) at eps, from U and Phi.
NodeSums c_sums(const Series& U, const Series& Phi, Complex x0, double q, double H0, double P,
                Complex s, bool resolve) {
  Series X{};
  X[0] = x0;
  X[1] = 1.0;
  const Series dU = deriv(U), ddU = deriv(dU), dddU = deriv(ddU);
  const Series& df = U;
  const Series D2 = Complex(-1.0) * dU, D3 = ddU / 2.0, D4 = dddU / -6.0;
  const Series E3 = D2 - mul(X, D3), E4 = D3 - mul(X, D4);
  const Series L2 = df - mul(X, D2);
  const Series L3 = L2 - mul(X, E3), L4 = E3 - mul(X, E4);
  const Series Psi = div(constant(q) - Phi, X);
  const Series Om = div(constant(H0) - Psi, X);
  const Series dPsi = deriv(Psi), ddPsi = deriv(dPsi);
  const Series P2 = Complex(-1.0) * dPsi, P3 = ddPsi / 2.0, P4 = deriv(ddPsi) / -6.0;
  const Series dOm = deriv(Om);
  const Series S2 = Complex(-1.0) * dOm, S3 = deriv(dOm) / 2.0;
  Complex eps = 0;
  if (resolve) {  // re-solve s = x (1 - U(x)/P) with the corrected U (Newton on the series)
    for (int it = 0; it < 4; ++it) {
      const Complex u = evaluate(U, eps);
      const Complex f = (x0 + eps) * (1.0 - u / P) - s;
      const Complex fp = (1.0 - u / P) - (x0 + eps) * evaluate(dU, eps) / P;
      eps = eps - f / fp;
    }
  }
  auto at = [&](const Series& a) { return evaluate(a, eps); };
  NodeSums out;
  out.base = make_base(P, s, x0 + eps, at(df), at(D2), at(D3), at(E3), at(E4));
  out.target = {at(Om), at(S2), at(S3), at(P2), at(P2 - mul(X, P3)), at(-2.0 * P3),
                at(-3.0 * (P3 - mul(X, P4)))};
  out.lam = {at(df), at(D2), at(D3), at(L2), at(L3), at(-2.0 * E3), at(-3.0 * L4)};
  out.ones = {0, 0, 0, at(D2), at(E3), at(-2.0 * D3), at(-3.0 * E4)};
  return out;
}

struct TwoSidedNode {
  NodeSums plain, full;
};

// kappa: the DMFT's M-mode renormalised ridge at s (both N and P finite).
TwoSidedNode two_sided_node(const ModeWeights& w, const TwoSidedConstants& c, double N, double P,
                            Complex s, Complex kappa) {
  const NSideSeries ser = n_side_series(w, N, kappa);
  return {c_sums(ser.U_plain, ser.Phi_plain, ser.x0, c.total - c.pi_plain, c.H0_plain, P, s, false),
          c_sums(ser.U_full, ser.Phi_full, ser.x0, c.total - c.pi_full, c.H0_full, P, s, true)};
}

// H0 - s g + (sigma^2 + pi)/x: the Laplace transform of the P-side train loss (decays like 1/s)
Complex train_transform(const NodeSums& x, double H0, double noise) {
  return H0 - x.base.s * leading(x.base, x.target).g + noise / x.base.kappa;
}

TimeCorrection correct_time_two_sided(const ModeWeights& w, const TwoSidedConstants& c, double N,
                                      double P, double noise, double t, int nodes,
                                      const std::vector<Complex>& kappa) {
  TimeCorrection out;
  if (t == 0.0) return out;
  const TalbotContour contour = talbot_contour(t, nodes);
  std::vector<TwoSidedNode> x(static_cast<std::size_t>(nodes));
  for (int j = 0; j < nodes; ++j) x[j] = two_sided_node(w, c, N, P, contour.nodes[j], kappa[j]);
  const double noise_p = noise + c.pi_plain, noise_f = noise + c.pi_full;
  // 2-D inversion: rows the upper nodes, columns the upper nodes and the conjugates of 1..n-1
  std::vector<NodeTerms> rows_p(static_cast<std::size_t>(nodes)), rows_f(rows_p.size()), cols_p,
      cols_f;
  std::vector<Complex> col_weights;
  for (int j = 0; j < nodes; ++j) {
    rows_p[j] = node_terms(x[j].plain);
    rows_f[j] = node_terms(x[j].full);
  }
  for (int l = 0; l < 2 * nodes - 1; ++l) {
    const bool flip = l >= nodes;
    const int j = flip ? l - nodes + 1 : l;
    cols_p.push_back(flip ? node_terms(conj(x[j].plain)) : rows_p[j]);
    cols_f.push_back(flip ? node_terms(conj(x[j].full)) : rows_f[j]);
    col_weights.push_back(flip ? std::conj(contour.weights[j]) : contour.weights[j]);
  }
  Complex all = 0, row0 = 0;
  for (int j = 0; j < nodes; ++j) {
    Complex row = 0;
    for (int l = 0; l < 2 * nodes - 1; ++l) {
      const Complex weight = contour.weights[j] * col_weights[l];
      const auto [W0p, Wp] = two_point(rows_p[j], cols_p[l], P, noise_p);
      const Complex W0f = two_point(rows_f[j], cols_f[l], P, noise_f).first;
      row += weight * (W0f - W0p + Wp - W0p);
    }
    all += row;
    if (j == 0) row0 = row;
  }
  out.test = 2.0 * all.real() - row0.real() + (c.pi_full - c.pi_plain);
  // 1-D inversion at 2t on the contour of t
  double train = 0;
  for (int j = 0; j < nodes; ++j) {
    const NodeSums& p = x[j].plain;
    const Complex value = train_transform(x[j].full, c.H0_full, noise_f) -
                          train_transform(p, c.H0_plain, noise_p) -
                          p.base.s * correction(p.base, p.target) +
                          noise_p / P * correction(p.base, p.ones);
    const Complex term = contour.weights[j] * std::exp(t * contour.nodes[j]) * value;
    train += (j == 0 ? 1.0 : 2.0) * term.real();
  }
  out.train = train;
  return out;
}

// (test, train) corrections at real ridge r > 0, kappa the DMFT's renormalised ridge there.
FiniteSizeStatic two_sided_static_at(const ModeWeights& w, const TwoSidedConstants& c, double N,
                                     double P, double ridge, double kappa, double noise) {
  const TwoSidedNode x = two_sided_node(w, c, N, P, ridge, kappa);
  const double r2 = ridge * ridge;
  const double noise_p = noise + c.pi_plain, noise_f = noise + c.pi_full;
  const NodeTerms tp = node_terms(x.plain), tf = node_terms(x.full);
  const auto [W0p, Wp] = two_point(tp, tp, P, noise_p);
  const Complex W0f = two_point(tf, tf, P, noise_f).first;
  FiniteSizeStatic out;
  out.test_correction = (r2 * (W0f - W0p + Wp - W0p)).real() + c.pi_full - c.pi_plain;
  auto train_de = [&](const NodeSums& s, double pi) {
    const Leading g = leading(s.base, s.target);
    const Complex x_s = 1.0 / s.base.Dn;  // dx/ds on the P side
    return (r2 * (g.g + ridge * g.dg) + (noise + pi) * r2 * x_s / (s.base.kappa * s.base.kappa)).real();
  };
  const double train0 = train_de(x.plain, c.pi_plain);
  const NodeSums& p = x.plain;
  out.train_correction =
      train_de(x.full, c.pi_full) - train0 +
      (r2 * (correction(p.base, p.target) + ridge * correction_derivative(p.base, p.target)) -
       noise_p / P * r2 * correction_derivative(p.base, p.ones)).real();
  return out;
}
// Ridge r > 0 (kappa: the DMFT's renormalised ridge at r, NaN: solve it), or ridge 0 by
// Richardson from ridges h, 2h, 4h (error O(h^3)), h = 3e-4 kappa_c(min(N, P)). At ridge 0:
// N = P is the interpolation peak (the loss is +inf; zeros returned) and for P < N the train
// loss is exactly 0 (ridgeless interpolation; its correction is 0).
FiniteSizeStatic two_sided_static(const ModeSpectrum& modes, const ModeWeights& w,
                                  const TwoSidedConstants& c, double N, double P, double ridge,
                                  double noise, double kappa) {
  if (ridge > 0) {
    if (!std::isfinite(kappa)) kappa = renormalized_ridge(modes, N, P, ridge);
    return two_sided_static_at(w, c, N, P, ridge, kappa, noise);
  }
  if (N == P) return {};
  const double h = 3e-4 * critical_kappa(modes, std::min(N, P));
  FiniteSizeStatic f[3];
  const double scale[3] = {1.0, 2.0, 4.0};
  for (int i = 0; i < 3; ++i)
    f[i] = two_sided_static_at(w, c, N, P, scale[i] * h,
                               renormalized_ridge(modes, N, P, scale[i] * h), noise);
  FiniteSizeStatic out{(8.0 * f[0].test_correction - 6.0 * f[1].test_correction +
                        f[2].test_correction) / 3.0,
                       (8.0 * f[0].train_correction - 6.0 * f[1].train_correction +
                        f[2].train_correction) / 3.0};
  if (P < N) out.train_correction = 0;
  return out;
}

}  // namespace

FiniteSizeCurve finite_size_learning_curve(const ModeSpectrum& modes, double n_features,
                                           double n_samples,
                                           const Eigen::Ref<const Vector<double>>& times,
                                           const CurveOptions& options, const RunControl& control) {
  const Side side = finite_side(n_features, n_samples);
  require(options.optimizer == Optimizer::kGradientFlow, "optimizer",
          "the finite-size correction is derived for gradient flow");
  require(options.ensemble == 1.0, "ensemble",
          "the finite-size correction is derived for a single model (ensemble 1), got " +
              number(options.ensemble));
  require(options.learning_rate > 0 && std::isfinite(options.learning_rate), "learning_rate",
          "must be finite and > 0, got " + number(options.learning_rate));
  require(options.noise >= 0 && std::isfinite(options.noise), "noise",
          "must be finite and >= 0, got " + number(options.noise));
  require(options.talbot_nodes >= 4 && options.talbot_nodes <= 64, "talbot_nodes",
          "expected 4..64 (about 16 in double precision), got " + std::to_string(options.talbot_nodes));
  for (Index i = 0; i < times.size(); ++i)
    require(times[i] >= 0 && std::isfinite(times[i]), "times",
            "must be finite and >= 0, got " + number(times[i]));
  const double n = side == Side::Width ? n_features : n_samples;
  const ModeWeights weights(modes);
  const TwoSidedConstants constants =
      side == Side::Both ? two_sided_constants(modes, weights, n_features) : TwoSidedConstants{};
  const Index T = times.size();
  FiniteSizeCurve curve;
  curve.dmft.test_loss.resize(T);
  curve.dmft.train_loss.resize(T);
  curve.test_correction.resize(T);
  curve.train_correction.resize(T);
  curve.test_roundoff.resize(T);
  const int threads = control.threads();
  const Index block = std::max<Index>(4 * threads, (T + 7) / 8);
  for (Index start = 0; start < T; start += block) {
    control.poll();
    const Index end = std::min(T, start + block);
    std::exception_ptr error;
    Index error_index = T;
#pragma omp parallel num_threads(threads)
    {
      ZPowers z;  // per-thread scratch
#pragma omp for schedule(dynamic, 1)
      for (Index i = start; i < end; ++i) {
        try {
          const TimeSolution dmft =
              learning_curve_at(modes, n_features, n_samples, times[i], options);
          const double t = options.learning_rate * times[i];
          const TimeCorrection c =
              side == Side::Both
                  ? correct_time_two_sided(weights, constants, n_features, n_samples,
                                           options.noise, t, options.talbot_nodes, dmft.kappa)
                  : correct_time(weights, z, side, n, options.noise, t, options.talbot_nodes,
                                 dmft.kappa);
          curve.dmft.test_loss[i] = dmft.test_loss;
          curve.dmft.train_loss[i] = dmft.train_loss;
          curve.test_correction[i] = c.test;
          curve.train_correction[i] = c.train;
          curve.test_roundoff[i] = c.roundoff;
        } catch (...) {
#pragma omp critical(scalinglab_theory_finite_size_error)
          if (i < error_index) {  // report the earliest failing time, whatever the threads
            error_index = i;
            error = std::current_exception();
          }
        }
      }
    }
    if (error) std::rethrow_exception(error);
    control.progress(static_cast<double>(end) / static_cast<double>(T));
  }
  return curve;
}

FiniteSizeStatic finite_size_static(const ModeSpectrum& modes, double n_features,
                                    double n_samples, double ridge, double noise) {
  const Side side = finite_side(n_features, n_samples);
  require(ridge >= 0 && std::isfinite(ridge), "ridge", "must be finite and >= 0, got " + number(ridge));
  require(noise >= 0 && std::isfinite(noise), "noise", "must be finite and >= 0, got " + number(noise));
  if (side == Side::None) return {};
  const ModeWeights w(modes);
  if (side == Side::Both) {
    const TwoSidedConstants c = two_sided_constants(modes, w, n_features);
    return two_sided_static(modes, w, c, n_features, n_samples, ridge, noise, kInf);
  }
  const double n = side == Side::Width ? n_features : n_samples;
  if (ridge > 0) return static_at(modes, w, side, n, ridge, noise);
  if (side == Side::Width) {
    if (n >= modes.rank()) return {};  // G is invertible: the flow learns the target exactly
    const double kappa = critical_kappa(modes, n);
    double D2 = 0, E3 = 0, A2 = 0, A3 = 0;
    for (Index k = 0; k < w.M; ++k) {
      const double z = 1.0 / (w.lam[k] + kappa), z2 = z * z, z3 = z2 * z;
      D2 += w.m_lam[k] * z2;
      E3 += w.m_lam2[k] * z3;
      A2 += w.m_p_lam[k] * z2;
      A3 += w.m_p_lam2[k] * z3;
    }
    const double delta = (A3 - E3 * A2 / D2) / D2;
    return {delta, delta};
  }
  require(n < modes.rank(), "ridge",
          "the finite-size correction at ridge 0 needs P below the number of modes (" +
              number(modes.rank()) + "); got P = " + number(n));
  // f(0) from f(h), f(2h), f(4h), exact for quadratics: (8 f(h) - 6 f(2h) + f(4h)) / 3; the
  // corrected losses are analytic in the ridge at 0 while P is below the rank.
  const double h = 1e-2 * critical_kappa(modes, n);
  const FiniteSizeStatic f1 = static_at(modes, w, side, n, h, noise);
  const FiniteSizeStatic f2 = static_at(modes, w, side, n, 2 * h, noise);
  const FiniteSizeStatic f4 = static_at(modes, w, side, n, 4 * h, noise);
  return {(8.0 * f1.test_correction - 6.0 * f2.test_correction + f4.test_correction) / 3.0,
          (8.0 * f1.train_correction - 6.0 * f2.train_correction + f4.train_correction) / 3.0};
}

std::vector<FiniteSizeStatic> finite_size_static_grid(
    const ModeSpectrum& modes, const Eigen::Ref<const Vector<double>>& n_features,
    const Eigen::Ref<const Vector<double>>& n_samples, const Eigen::Ref<const Vector<double>>& ridge,
    const Eigen::Ref<const Vector<double>>& kappa, double noise) {
  const Index G = n_features.size();
  require(n_samples.size() == G && ridge.size() == G && kappa.size() == G, "n_samples",
          "expected n_features, n_samples, ridge and kappa of one length");
  require(noise >= 0 && std::isfinite(noise), "noise", "must be finite and >= 0, got " + number(noise));
  const ModeWeights w(modes);
  std::vector<FiniteSizeStatic> out(static_cast<std::size_t>(G));
  TwoSidedConstants constants;
  double constants_n = kInf;  // the N of `constants` (grids hold runs of one N)
  for (Index i = 0; i < G; ++i) {
    const double N = n_features[i], P = n_samples[i], r = ridge[i];
    const Side side = finite_side(N, P);
    if (side == Side::None) continue;
    require(r >= 0 && std::isfinite(r), "ridge", "must be finite and >= 0, got " + number(r));
    if (side == Side::Both) {
      if (N != constants_n) {
        constants = two_sided_constants(modes, w, N);
        constants_n = N;
      }
      out[static_cast<std::size_t>(i)] =
          two_sided_static(modes, w, constants, N, P, r, noise, kappa[i]);
      continue;
    }
    const double n = side == Side::Width ? N : P;
    if (r > 0 && std::isfinite(kappa[i])) {
      // the DMFT's kappa at (N, P, r) is the one-sided renormalised ridge (same solver)
      out[static_cast<std::size_t>(i)] = static_at_kappa(w, side, n, r, kappa[i], noise);
    } else {
      out[static_cast<std::size_t>(i)] = finite_size_static(modes, N, P, r, noise);
    }
  }
  return out;
}

ResolventExpansion resolvent_expansion(const ModeSpectrum& modes, double n, Complex s) {
  require(n > 0 && std::isfinite(n), "n", "must be finite and > 0, got " + number(n));
  const std::vector<OnePointSolution> solution = solve_one_point(modes, kInf, n, {s});
  const ModeWeights w(modes);
  ZPowers z;
  const NodeSums x = node_sums(w, z, Side::Samples, n, s, solution[0].kappa);
  return {leading(x.base, x.target).g, correction(x.base, x.target)};
}

}  // namespace scalinglab::theory
