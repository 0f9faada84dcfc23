/// \file scaling_fit.cpp
/// Scaling-law forms, the Huber objective, L-BFGS with a strong-Wolfe line search, multi-start
/// fits and bootstrap refits (see scaling_fit.hpp).
#include "scalinglab/scaling_fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "scalinglab/random.hpp"

namespace scalinglab::scaling_fit {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool two_variable(Form form) { return form == Form::kChinchilla || form == Form::kKaplanND; }

/// log(1 + e^z) without overflow, and its derivative 1 / (1 + e^-z).
inline double softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))); }
inline double logistic(double z) {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

/// Fills ws.prediction (log L-hat) and ws.jacobian (d log L-hat / d theta).
void predict(const Problem& pb, const double* th, Workspace& ws) {
  const Index n = pb.n;
  Eigen::Map<const Eigen::ArrayXd> x(pb.x, n);
  auto& pred = ws.prediction;
  auto& J = ws.jacobian;
  switch (pb.form) {
    case Form::kChinchilla: {
      // Vectorised: the columns of J serve as scratch for the three LSE terms.
      Eigen::Map<const Eigen::ArrayXd> y(pb.y, n);
      const double u_a = th[0], u_b = th[1], u_e = th[2], alpha = th[3], beta = th[4];
      J.col(0) = u_a - alpha * x;
      J.col(1) = u_b - beta * y;
      pred = J.col(0).max(J.col(1)).max(u_e);  // m = max of the three terms
      J.col(0) = (J.col(0) - pred).exp();
      J.col(1) = (J.col(1) - pred).exp();
      J.col(2) = (u_e - pred).exp();
      J.col(3) = J.col(0) + J.col(1) + J.col(2);  // s >= 1
      pred += J.col(3).log();
      J.col(4) = J.col(3).inverse();
      J.col(0) *= J.col(4);  // softmax weights p_k
      J.col(1) *= J.col(4);
      J.col(2) *= J.col(4);
      J.col(3) = -J.col(0) * x;
      J.col(4) = -J.col(1) * y;
      return;
    }
    case Form::kKaplanND: {
      const double log_nc = th[0], log_dc = th[1], a_n = th[2], a_d = th[3];
      const double ratio = a_n / a_d;
      for (Index i = 0; i < n; ++i) {
        const double v1 = ratio * (log_nc - pb.x[i]), v2 = log_dc - pb.y[i];
        const double m = std::max(v1, v2);
        const double e1 = std::exp(v1 - m), e2 = std::exp(v2 - m), s = e1 + e2;
        const double lse = m + std::log(s), p1 = e1 / s, p2 = e2 / s;
        pred[i] = a_d * lse;
        J(i, 0) = p1 * a_n;
        J(i, 1) = a_d * p2;
        J(i, 2) = p1 * (log_nc - pb.x[i]);
        J(i, 3) = lse - p1 * v1;
      }
      return;
    }
    case Form::kPowerLaw:
      pred = th[0] - th[1] * x;
      J.col(0).setOnes();
      J.col(1) = -x;
      return;
    case Form::kPowerLawOffset: {
      J.col(0) = th[0] - th[2] * x;
      pred = J.col(0).max(th[1]);
      J.col(0) = (J.col(0) - pred).exp();
      J.col(1) = (th[1] - pred).exp();
      J.col(2) = J.col(0) + J.col(1);
      pred += J.col(2).log();
      J.col(0) /= J.col(2);
      J.col(1) /= J.col(2);
      J.col(2) = -J.col(0) * x;
      return;
    }
    case Form::kBrokenPowerLaw: {
      const int nb = pb.n_breaks;
      for (Index i = 0; i < n; ++i) {
        const double xi = pb.x[i];
        // T = u_b - c0 x - sum_i c_i f_i softplus(z_i), z_i = (x - log d_i) / f_i.
        double t = th[1] - th[2] * xi;
        J(i, 2) = -xi;
        for (int k = 0; k < nb; ++k) {
          const double c = th[3 + 3 * k], log_d = th[4 + 3 * k], f = std::exp(th[5 + 3 * k]);
          const double z = (xi - log_d) / f, sp = softplus(z), sg = logistic(z);
          t -= c * f * sp;
          J(i, 3 + 3 * k) = -f * sp;
          J(i, 4 + 3 * k) = c * sg;
          J(i, 5 + 3 * k) = -c * f * (sp - z * sg);
        }
        const double m = std::max(th[0], t);
        const double e_a = std::exp(th[0] - m), e_t = std::exp(t - m), s = e_a + e_t;
        pred[i] = m + std::log(s);
        const double p_a = e_a / s, p_t = e_t / s;
        J(i, 0) = p_a;
        J(i, 1) = p_t;
        for (Index j = 2; j < J.cols(); ++j) J(i, j) *= p_t;
      }
      return;
    }
  }
}

double max_abs(const Vector<double>& v) { return v.size() ? v.cwiseAbs().maxCoeff() : 0.0; }

/// One trial point of the line search: step a, value f, directional derivative d, and the point.
struct Trial {
  double a = 0, f = 0, d = 0;
  Vector<double> theta, gradient;
};

class LineSearch {
 public:
  LineSearch(const Problem& pb, const double* mult, Workspace& ws, int& evaluations)
      : pb_(pb), mult_(mult), ws_(ws), evaluations_(evaluations) {}

  /// Strong-Wolfe step along `dir` from (theta, f0, g0); returns false when none was found
  /// (then `out` is untouched).
  bool search(const Vector<double>& theta, double f0, const Vector<double>& g0,
              const Vector<double>& dir, double a_init, Trial& out) {
    theta_ = &theta;
    dir_ = &dir;
    f0_ = f0;
    d0_ = g0.dot(dir);
    Trial prev;
    prev.a = 0;
    prev.f = f0;
    prev.d = d0_;
    double a = a_init;
    for (int i = 0; i < kMaxBracket; ++i) {
      Trial cur = evaluate(a);
      if (!std::isfinite(cur.f) || cur.f > f0_ + kC1 * a * d0_ || (i > 0 && cur.f >= prev.f))
        return zoom(prev, cur, out);
      if (std::abs(cur.d) <= -kC2 * d0_) {
        out = std::move(cur);
        return true;
      }
      if (cur.d >= 0) return zoom(cur, prev, out);
      prev = std::move(cur);
      a *= 4;
    }
    if (prev.a > 0) {
      out = std::move(prev);
      return true;
    }
    return false;
  }

 private:
  static constexpr double kC1 = 1e-4, kC2 = 0.9;
  static constexpr int kMaxBracket = 40, kMaxZoom = 50;

  Trial evaluate(double a) {
    Trial t;
    t.a = a;
    t.theta = *theta_ + a * *dir_;
    t.gradient.resize(t.theta.size());
    t.f = objective(pb_, t.theta.data(), t.gradient.data(), mult_, ws_);
    ++evaluations_;
    t.d = std::isfinite(t.f) ? t.gradient.dot(*dir_) : kInf;
    if (!std::isfinite(t.d)) t.f = kInf;
    return t;
  }

  /// Minimiser of the cubic through (a1, f1, d1), (a2, f2, d2), or NaN.
  static double cubic_minimum(const Trial& p, const Trial& q) {
    const double d1 = p.d + q.d - 3 * (p.f - q.f) / (p.a - q.a);
    const double disc = d1 * d1 - p.d * q.d;
    if (!(disc >= 0)) return std::nan("");
    const double d2 = (q.a > p.a ? 1.0 : -1.0) * std::sqrt(disc);
    const double denom = q.d - p.d + 2 * d2;
    if (denom == 0) return std::nan("");
    return q.a - (q.a - p.a) * (q.d + d2 - d1) / denom;
  }

  /// N&W Alg. 3.6: `lo` satisfies sufficient decrease with the lowest f so far.
  bool zoom(Trial lo, Trial hi, Trial& out) {
    for (int j = 0; j < kMaxZoom; ++j) {
      const double left = std::min(lo.a, hi.a), right = std::max(lo.a, hi.a);
      const double width = right - left;
      if (width <= 1e-16 * right) break;
      double a;
      if (std::isfinite(hi.f)) {
        a = cubic_minimum(lo, hi);
        if (!std::isfinite(a) || a < left + 0.1 * width || a > right - 0.1 * width)
          a = 0.5 * (left + right);
      } else {
        a = lo.a + 0.2 * (hi.a - lo.a);  // a non-finite value: the step was far too long
      }
      Trial t = evaluate(a);
      if (!std::isfinite(t.f) || t.f > f0_ + kC1 * a * d0_ || t.f >= lo.f) {
        hi = std::move(t);
      } else {
        if (std::abs(t.d) <= -kC2 * d0_) {
          out = std::move(t);
          return true;
        }
        if (t.d * (hi.a - lo.a) >= 0) hi = lo;
        lo = std::move(t);
      }
    }
    if (lo.a > 0 && lo.f < f0_) {  // sufficient decrease without the curvature condition
      out = std::move(lo);
      return true;
    }
    return false;
  }

  const Problem& pb_;
  const double* mult_;
  Workspace& ws_;
  int& evaluations_;
  const Vector<double>* theta_ = nullptr;
  const Vector<double>* dir_ = nullptr;
  double f0_ = 0, d0_ = 0;
};

template <class Body>
void chunked_parallel(Index total, const RunControl& control, double progress_from,
                      double progress_to, Body&& body) {
  const int threads = control.threads();
  const Index chunk = std::max<Index>(64, 16 * Index(threads));
  for (Index begin = 0; begin < total; begin += chunk) {
    const Index end = std::min(total, begin + chunk);
    body(begin, end, threads);
    control.poll();
    control.progress(progress_from +
                     (progress_to - progress_from) * double(end) / double(std::max<Index>(1, total)));
  }
}

}  // namespace

int n_parameters(Form form, int n_breaks) {
  switch (form) {
    case Form::kChinchilla: return 5;
    case Form::kKaplanND: return 4;
    case Form::kPowerLaw: return 2;
    case Form::kPowerLawOffset: return 3;
    case Form::kBrokenPowerLaw: return 3 + 3 * n_breaks;
  }
  throw std::invalid_argument("`form`: unknown scaling-law form");
}

void Problem::validate() const {
  require(int(form) >= 0 && int(form) <= 4, "form", "unknown scaling-law form");
  require(n_breaks >= 0, "n_breaks", "must be >= 0");
  require(n > 0, "x", "expected at least one point");
  require(x != nullptr && target != nullptr, "x", "data pointers must be set");
  require(!two_variable(form) || y != nullptr, "y", "this form needs a second variable");
  require(delta > 0, "delta", "must be > 0 (inf for least squares)");
  require(std::isfinite(scale) && scale > 0, "scale", "must be finite and > 0");
  for (Index i = 0; i < n; ++i) {
    require(std::isfinite(x[i]), "x", "contains NaN or infinity");
    require(!two_variable(form) || std::isfinite(y[i]), "y", "contains NaN or infinity");
    require(std::isfinite(target[i]), "target", "contains NaN or infinity");
    require(weights == nullptr || (std::isfinite(weights[i]) && weights[i] >= 0), "weights",
            "must be finite and >= 0");
  }
}

Workspace::Workspace(const Problem& problem)
    : prediction(problem.n),
      residual(problem.n),
      psi(problem.n),
      factor(problem.n),
      jacobian(problem.n, n_parameters(problem.form, problem.n_breaks)) {}

void log_prediction(const Problem& problem, const double* theta, double* out, double* jacobian) {
  Workspace ws(problem);
  predict(problem, theta, ws);
  std::copy(ws.prediction.data(), ws.prediction.data() + problem.n, out);
  if (jacobian != nullptr) {
    // Row-major (n, p) output for the caller.
    const Index p = ws.jacobian.cols();
    for (Index i = 0; i < problem.n; ++i)
      for (Index j = 0; j < p; ++j) jacobian[i * p + j] = ws.jacobian(i, j);
  }
}

double objective(const Problem& pb, const double* theta, double* gradient,
                 const double* multiplicity, Workspace& ws) {
  const Index n = pb.n;
  predict(pb, theta, ws);
  Eigen::Map<const Eigen::ArrayXd> target(pb.target, n);
  if (pb.residual == Residual::kLog) {
    ws.residual = ws.prediction - target;
    ws.factor.setConstant(1.0);
  } else {
    ws.factor = ws.prediction.exp();  // dL/d log L
    ws.residual = ws.factor - target;
  }
  ws.psi = ws.residual.max(-pb.delta).min(pb.delta);  // Huber derivative
  // Huber(r) = psi (r - psi / 2); the weighted terms reuse `residual` as scratch.
  ws.residual = ws.psi * (ws.residual - 0.5 * ws.psi);
  if (pb.weights != nullptr) {
    Eigen::Map<const Eigen::ArrayXd> w(pb.weights, n);
    ws.residual *= w;
    ws.psi *= w;
  }
  if (multiplicity != nullptr) {
    Eigen::Map<const Eigen::ArrayXd> m(multiplicity, n);
    ws.residual *= m;
    ws.psi *= m;
  }
  const double f = pb.scale * ws.residual.sum();
  if (gradient != nullptr) {
    ws.psi *= ws.factor * pb.scale;
    const Index p = ws.jacobian.cols();
    for (Index j = 0; j < p; ++j) gradient[j] = (ws.jacobian.col(j) * ws.psi).sum();
  }
  return std::isfinite(f) ? f : kInf;
}

MinimizeResult minimize(const Problem& pb, const Vector<double>& start,
                        const MinimizeOptions& opt, const double* mult, Workspace& ws) {
  const Index p = start.size();
  MinimizeResult res;
  res.theta = start;
  Vector<double> g(p);
  double f = objective(pb, res.theta.data(), g.data(), mult, ws);
  res.evaluations = 1;
  res.objective = f;
  if (!std::isfinite(f) || !g.allFinite()) {
    res.status = Status::kNonFinite;
    res.objective = kInf;
    return res;
  }
  const double g0 = max_abs(g);
  if (g0 == 0) {
    res.status = Status::kConvergedG;
    return res;
  }
  const int m = std::max(1, opt.history);
  ColMatrix<double> S(p, m), Y(p, m);
  Vector<double> rho(m), alpha_coef(m), dir(p);
  int stored = 0, newest = -1;
  LineSearch search(pb, mult, ws, res.evaluations);
  res.status = Status::kMaxIterations;
  for (int it = 0; it < opt.max_iterations; ++it) {
    // Two-loop recursion: dir = -H g.
    dir = -g;
    for (int k = 0; k < stored; ++k) {
      const int j = (newest - k + m) % m;
      alpha_coef[j] = rho[j] * S.col(j).dot(dir);
      dir -= alpha_coef[j] * Y.col(j);
    }
    double a_init = 1.0;
    if (stored > 0) {
      dir *= S.col(newest).dot(Y.col(newest)) / Y.col(newest).squaredNorm();
      for (int k = stored - 1; k >= 0; --k) {
        const int j = (newest - k + m) % m;
        const double beta = rho[j] * Y.col(j).dot(dir);
        dir += (alpha_coef[j] - beta) * S.col(j);
      }
    } else {
      a_init = std::min(1.0, 1.0 / max_abs(g));  // first step moves theta by at most 1
    }
    if (!(g.dot(dir) < 0)) {  // not a descent direction: forget the curvature model
      stored = 0;
      dir = -g;
      a_init = std::min(1.0, 1.0 / max_abs(g));
    }
    Trial next;
    if (!search.search(res.theta, f, g, dir, a_init, next)) {
      res.status = Status::kLineSearchFailed;
      break;
    }
    res.iterations = it + 1;
    const Vector<double> s = next.theta - res.theta;
    const Vector<double> yv = next.gradient - g;
    const double f_prev = f;
    res.theta = next.theta;
    g = next.gradient;
    f = next.f;
    res.objective = f;
    if (max_abs(s) <= opt.xtol * (1 + max_abs(res.theta))) {
      res.status = Status::kConvergedX;
      break;
    }
    if (f_prev - f <= opt.ftol * std::max(std::abs(f), std::abs(f_prev))) {
      res.status = Status::kConvergedF;
      break;
    }
    if (max_abs(g) <= opt.gtol * g0) {
      res.status = Status::kConvergedG;
      break;
    }
    const double sy = s.dot(yv);
    if (sy > 1e-12 * std::sqrt(s.squaredNorm() * yv.squaredNorm()) && std::isfinite(sy)) {
      newest = (newest + 1) % m;
      S.col(newest) = s;
      Y.col(newest) = yv;
      rho[newest] = 1.0 / sy;
      stored = std::min(stored + 1, m);
    }
  }
  return res;
}

MinimizeResult polish(const Problem& pb, const Vector<double>& start, const MinimizeOptions& opt,
                      const double* mult, Workspace& ws, int rounds) {
  MinimizeResult best = minimize(pb, start, opt, mult, ws);
  for (int r = 1; r < rounds && best.status != Status::kNonFinite; ++r) {
    MinimizeResult again = minimize(pb, best.theta, opt, mult, ws);
    again.iterations += best.iterations;
    again.evaluations += best.evaluations;
    const bool improved = again.objective < best.objective - 1e-15 * std::abs(best.objective);
    if (again.objective <= best.objective) best = std::move(again);
    if (!improved) break;
  }
  return best;
}

MultiStartResult fit_multistart(const Problem& pb, const RowMatrix<double>& starts,
                                const MinimizeOptions& options,
                                const MinimizeOptions& polish_options, int n_polish,
                                const RunControl& control) {
  pb.validate();
  const Index p = n_parameters(pb.form, pb.n_breaks);
  require(starts.cols() == p, "starts",
          "expected " + std::to_string(p) + " columns, got " + std::to_string(starts.cols()));
  require(starts.rows() > 0, "starts", "expected at least one start");
  require(n_polish >= 1, "n_polish", "must be >= 1");
  const Index n_starts = starts.rows();
  MultiStartResult out;
  out.theta.resize(n_starts, p);
  out.objective.resize(n_starts);
  out.iterations.assign(std::size_t(n_starts), 0);
  out.status.assign(std::size_t(n_starts), 0);
  const Index n_best = std::min<Index>(n_polish, n_starts);
  const double first_share = double(n_starts) / double(n_starts + n_best);

  chunked_parallel(n_starts, control, 0.0, first_share, [&](Index begin, Index end, int threads) {
#pragma omp parallel num_threads(threads)
    {
      Workspace ws(pb);
#pragma omp for schedule(dynamic, 1)
      for (Index s = begin; s < end; ++s) {
        const MinimizeResult r = minimize(pb, starts.row(s).transpose(), options, nullptr, ws);
        out.theta.row(s) = r.theta.transpose();
        out.objective[s] = std::isnan(r.objective) ? kInf : r.objective;
        out.iterations[std::size_t(s)] = r.iterations;
        out.status[std::size_t(s)] = int(r.status);
      }
    }
  });

  // Polish the n_best lowest end points (ties by index: deterministic).
  std::vector<Index> order(static_cast<std::size_t>(n_starts));
  std::iota(order.begin(), order.end(), Index(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](Index a, Index b) { return out.objective[a] < out.objective[b]; });
  std::vector<MinimizeResult> polished(static_cast<std::size_t>(n_best));
#pragma omp parallel num_threads(control.threads())
  {
    Workspace ws(pb);
#pragma omp for schedule(dynamic, 1)
    for (Index k = 0; k < n_best; ++k) {
      polished[std::size_t(k)] =
          polish(pb, out.theta.row(order[std::size_t(k)]).transpose(), polish_options, nullptr, ws);
    }
  }
  control.poll();
  Index winner = 0;
  for (Index k = 1; k < n_best; ++k)
    if (polished[std::size_t(k)].objective < polished[std::size_t(winner)].objective) winner = k;
  out.best_theta = polished[std::size_t(winner)].theta;
  out.best_objective = polished[std::size_t(winner)].objective;
  out.best_start = int(order[std::size_t(winner)]);
  control.progress(1.0);
  return out;
}

RowMatrix<std::int32_t> bootstrap_counts(std::uint64_t seed, const std::vector<std::int64_t>& group,
                                         const std::vector<std::int64_t>& stratum,
                                         Index n_resamples, const RunControl& control) {
  require(n_resamples >= 0, "n_resamples", "must be >= 0");
  require(!group.empty(), "group", "expected at least one row");
  const Index n_groups = Index(stratum.size());
  for (std::int64_t g : group)
    require(g >= 0 && g < n_groups, "group", "ids must lie in [0, number of groups)");
  std::int64_t n_strata = 0;
  for (std::int64_t s : stratum) {
    require(s >= 0, "stratum", "ids must be >= 0");
    n_strata = std::max(n_strata, s + 1);
  }
  // Members of each stratum in group order; strata taken in id order.
  std::vector<std::vector<Index>> members(static_cast<std::size_t>(n_strata));
  for (Index g = 0; g < n_groups; ++g) members[std::size_t(stratum[std::size_t(g)])].push_back(g);
  const Index n = Index(group.size());
  RowMatrix<std::int32_t> counts(n_resamples, n);
  chunked_parallel(n_resamples, control, 0.0, 1.0, [&](Index begin, Index end, int threads) {
#pragma omp parallel num_threads(threads)
    {
      std::vector<double> u(static_cast<std::size_t>(n_groups));
      std::vector<std::int32_t> drawn(static_cast<std::size_t>(n_groups));
#pragma omp for schedule(static)
      for (Index b = begin; b < end; ++b) {
        random::fill_uniform(seed, random::kStreamBootstrap, std::uint64_t(b) * std::uint64_t(n_groups),
                             u.data(), u.size());
        std::fill(drawn.begin(), drawn.end(), 0);
        std::size_t k = 0;
        for (const auto& list : members) {
          const Index m = Index(list.size());
          for (Index j = 0; j < m; ++j, ++k) {
            const Index pick = std::min<Index>(m - 1, Index(u[k] * double(m)));
            ++drawn[std::size_t(list[std::size_t(pick)])];
          }
        }
        for (Index i = 0; i < n; ++i) counts(b, i) = drawn[std::size_t(group[std::size_t(i)])];
      }
    }
  });
  return counts;
}

BootstrapResult bootstrap_refits(const Problem& pb, const Vector<double>& start,
                                 const RowMatrix<std::int32_t>& counts,
                                 const MinimizeOptions& options, const RunControl& control) {
  pb.validate();
  const Index p = n_parameters(pb.form, pb.n_breaks);
  require(start.size() == p, "start", "expected " + std::to_string(p) + " parameters");
  require(counts.cols() == pb.n, "counts", "expected one column per data point");
  const Index n_resamples = counts.rows();
  BootstrapResult out;
  out.theta.resize(n_resamples, p);
  out.objective.resize(n_resamples);
  out.status.assign(std::size_t(n_resamples), 0);
  chunked_parallel(n_resamples, control, 0.0, 1.0, [&](Index begin, Index end, int threads) {
#pragma omp parallel num_threads(threads)
    {
      Workspace ws(pb);
      Vector<double> mult(pb.n);
#pragma omp for schedule(dynamic, 4)
      for (Index b = begin; b < end; ++b) {
        mult = counts.row(b).cast<double>().transpose();
        const MinimizeResult r = polish(pb, start, options, mult.data(), ws);
        out.theta.row(b) = r.theta.transpose();
        out.objective[b] = r.objective;
        out.status[std::size_t(b)] = int(r.status);
      }
    }
  });
  return out;
}

}  // namespace scalinglab::scaling_fit
