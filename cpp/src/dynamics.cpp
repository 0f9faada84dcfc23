/// \file dynamics.cpp
/// Exact GF/GD learning curves in an eigenbasis, nested grids, the Wishart path, SGD by
/// iteration, and kernel gradient flow. See dynamics.hpp for the conventions.
#include "scalinglab/dynamics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/random.hpp"
#include "scalinglab/wishart.hpp"

namespace scalinglab::dynamics {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
// Key salt of the data-side Wishart increments.
constexpr std::uint64_t kDataWishartSalt = 0xDA7A5157ull;
// Times evaluated per GEMM in evaluate_losses (bounds the (M, chunk) work matrices).
constexpr Index kTimeChunk = 64;

int to_int(Index value) { return static_cast<int>(value); }

// Threads for a piece of work of about `flops` floating-point operations (or random numbers).
// Below ~2e8 (a few tens of ms on one core) thread start-up and synchronisation cost more than
// they save. The thread count never changes which random numbers are drawn.
constexpr double kParallelWork = 2e8;
// Symmetric eigendecompositions only go parallel from dimension ~2700 on: LAPACK's syevd makes
// many small BLAS calls, and when the cores are shared with other work, spinning BLAS threads
// slow it down by 10-100x (measured on a loaded 2-core machine, one thread against two: n = 300,
// 20 ms against 3.9 s; n = 1000, 0.42 s against 2.6 s; n = 1500, 1.2 s against 16 s), while an
// idle machine gains well under 2x at these sizes.
constexpr double kParallelEigenWork = 2e11;
int threads_for(const RunControl& control, double flops) {
  return flops < kParallelWork ? 1 : control.n_threads;
}
int omp_threads_for(const RunControl& control, double count) {
  return count < kParallelWork / 100.0 ? 1 : control.threads();
}
double cube(Index n) { return static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n); }

// Symmetric eigendecomposition with its own thread count: LAPACK's many small internal BLAS
// calls are where oversubscribed threads hurt most.
void eigen_decompose(ColMatrix<double>& K, Vector<double>& mu, const RunControl& control) {
  const double flops = 10.0 * cube(K.rows());
  BlasThreadScope blas_threads(flops < kParallelEigenWork ? 1 : control.n_threads);
  blas::syevd(K, mu, true);
}

// Eigenvalues below this are indistinguishable from 0 in double precision (syevd's absolute
// error is O(eps ||K||) per eigenvalue, times a modest factor in the dimension): such modes are
// treated as null, i.e. they never move.
double null_threshold(const Vector<double>& mu) {
  if (mu.size() == 0) return 0.0;
  return std::max(mu.maxCoeff(), 0.0) * static_cast<double>(mu.size()) * kEps;
}

// The (test, train) outputs of a grid engine: one row per grid point, one column per time.
void check_curve_outputs(const Eigen::Ref<RowMatrix<double>>& test,
                         const Eigen::Ref<RowMatrix<double>>& train, Index points, Index times) {
  require(test.rows() == points && test.cols() == times, "test", "expected shape (nN * nP, T)");
  require(train.rows() == points && train.cols() == times, "train", "expected shape (nN * nP, T)");
}

void check_grid_values(const std::vector<Index>& values, const char* name, bool allow_empty) {
  require(allow_empty || !values.empty(), name, "expected at least one value");
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Index v = values[i];
    const bool infinite = v == kInfinite;
    require(infinite || v >= 1, name, "values must be >= 1 or infinite, got " + std::to_string(v));
    require(!infinite || i + 1 == values.size(), name, "infinity must come last");
    if (i > 0 && !infinite)
      require(v > values[i - 1], name, "values must be strictly ascending");
  }
}

Index finite_max(const std::vector<Index>& values) {
  Index out = 0;
  for (Index v : values)
    if (v != kInfinite) out = std::max(out, v);
  return out;
}

void check_times(const std::vector<double>& times) {
  for (double t : times)
    require(std::isfinite(t) && t >= 0.0, "times", "must be finite and >= 0, got " + std::to_string(t));
}

void check_schedule(const Schedule& schedule) {
  if (schedule.method == Method::kGradientDescent)
    require(std::isfinite(schedule.learning_rate) && schedule.learning_rate > 0.0,
            "learning_rate", "must be > 0, got " + std::to_string(schedule.learning_rate));
}

// The diagonal statistics of an infinite dataset: Sigma = Lambda, q = 0, e2 = sigma^2.
CovarianceStats population_stats(const LinearTask& task) {
  CovarianceStats stats;
  stats.diagonal = task.spectrum;
  stats.q = Vector<double>::Zero(task.M());
  stats.e2 = task.noise;
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Wishart path: the covariance statistics of nested datasets and the projection factors of
// nested widths, sampled with a cost independent of N and P.
// ---------------------------------------------------------------------------------------------

// Augmented data Gram [Z, xi]^T [Z, xi] with Z (P, M) and xi (P) i.i.d. N(0, 1): its blocks are
// Z^T Z, Z^T xi and xi^T xi, which is everything the training set contributes (Psi = Z
// Lambda^{1/2}, eps = sigma xi). Nested sizes add independent Wishart increments.
std::vector<CovarianceStats> wishart_data_stats(const LinearTask& task,
                                                const std::vector<Index>& P_values,
                                                std::uint64_t key, const RunControl& control) {
  const Index M = task.M();
  const Index Ma = M + 1;
  const Vector<double> root = task.spectrum.array().sqrt();
  const double sigma = std::sqrt(task.noise);
  const std::uint64_t data_key = random::derive_seed(key, kDataWishartSalt);
  std::vector<CovarianceStats> out;
  ColMatrix<double> W = ColMatrix<double>::Zero(Ma, Ma);
  Index accumulated = 0;
  for (std::size_t j = 0; j < P_values.size(); ++j) {
    const Index P = P_values[j];
    if (P == kInfinite) {
      out.push_back(population_stats(task));
      continue;
    }
    W += wishart::sample_wishart(random::derive_seed(data_key, j), Ma, P - accumulated, control);
    accumulated = P;
    CovarianceStats stats;
    stats.sigma = root.asDiagonal() * W.topLeftCorner(M, M) * root.asDiagonal();
    stats.sigma /= static_cast<double>(P);
    stats.q = (sigma / static_cast<double>(P)) * root.cwiseProduct(W.col(M).head(M));
    stats.e2 = task.noise * W(M, M) / static_cast<double>(P);
    out.push_back(std::move(stats));
    control.poll();
  }
  return out;
}

// C^T (M, M) row-major with C C^T = W (lower triangle of W read): the Cholesky factor, or the
// eigen factor diag(sqrt(d)) Q^T if W is numerically singular.
RowMatrix<double> cholesky_factor_t(const ColMatrix<double>& W, const RunControl& control) {
  const Index M = W.rows();
  ColMatrix<double> L = W;
  try {
    BlasThreadScope blas_threads(threads_for(control, cube(M) / 3.0));
    blas::potrf(L);
    L.triangularView<Eigen::StrictlyUpper>().setZero();
    return Eigen::Map<const RowMatrix<double>>(L.data(), M, M);
  } catch (const LinAlgError&) {
    ColMatrix<double> Q = W;
    Vector<double> d;
    eigen_decompose(Q, d, control);
    RowMatrix<double> Ct(M, M);
    for (Index i = 0; i < M; ++i) Ct.row(i) = std::sqrt(std::max(d[i], 0.0)) * Q.col(i).transpose();
    return Ct;
  }
}

// The Gram A^T A (M, M) of the first N rows of A (lower triangle).
ColMatrix<double> projection_gram(const RowMatrix<double>& A, Index N, const RunControl& control) {
  const Index M = A.cols();
  ColMatrix<double> W(M, M);
  BlasThreadScope blas_threads(threads_for(control, static_cast<double>(N) * M * M));
  // Row-major A (N, M) is column-major A^T (M, N): W = A^T A = (A^T)(A^T)^T.
  blas::syrk('L', 'N', to_int(M), to_int(N), 1.0, A.data(), to_int(M), 0.0, W.data(), to_int(M));
  return W;
}

// Covariance statistics of the first P explicit samples: Psi^T Psi / P, Psi^T eps / P, |eps|^2/P.
CovarianceStats explicit_data_stats(const RowMatrix<double>& psi, const Vector<double>& eps, Index P,
                                    const RunControl& control) {
  const Index M = psi.cols();
  CovarianceStats stats;
  stats.sigma.resize(M, M);
  {
    BlasThreadScope blas_threads(threads_for(control, static_cast<double>(P) * M * M));
    blas::syrk('L', 'N', to_int(M), to_int(P), 1.0 / static_cast<double>(P), psi.data(), to_int(M), 0.0,
               stats.sigma.data(), to_int(M));
  }
  for (Index j = 0; j < M; ++j)
    for (Index i = 0; i < j; ++i) stats.sigma(i, j) = stats.sigma(j, i);
  stats.q = psi.topRows(P).transpose() * eps.head(P) / static_cast<double>(P);
  stats.e2 = eps.head(P).squaredNorm() / static_cast<double>(P);
  return stats;
}

// The factor C^T (rows, M) of B = A^T A (unscaled) for nested widths of one ensemble member:
// explicit Gaussian rows while N < M (B is singular there), then the Cholesky factor of the
// accumulated Wishart matrix (Bartlett for the first full-rank increment).
class WishartProjection {
 public:
  WishartProjection(std::uint64_t key, Index M) : key_(key), M_(M) {}

  // C^T for width N (> the previous call's N). Row-major (rows, M), rows = min(N, M).
  const RowMatrix<double>& factor(Index N, const RunControl& control) {
    BlasThreadScope blas_threads(threads_for(control, cube(M_)));
    const int m = to_int(M_);
    if (N < M_) {
      factor_ = wishart::gaussian_rows(key_, N, M_, control);
    } else if (accumulated_ == 0) {
      const ColMatrix<double> L =
          wishart::bartlett_factor(random::derive_seed(key_, increment_), M_, N);
      factor_ = Eigen::Map<const RowMatrix<double>>(L.data(), M_, M_);  // L^T row-major = C^T
    } else {
      if (!have_gram_) {
        // A^T A of what was drawn so far, from its factor: row-major C^T (k, M) is column-major
        // C (M, k), and C C^T = A^T A (explicit rows G: G^T G; Bartlett L: L L^T).
        W_.resize(M_, M_);
        blas::syrk('L', 'N', m, to_int(factor_.rows()), 1.0, factor_.data(), m, 0.0, W_.data(), m);
        have_gram_ = true;
      }
      const ColMatrix<double> increment = wishart::sample_wishart(
          random::derive_seed(key_, increment_), M_, N - accumulated_, control);
      W_.triangularView<Eigen::Lower>() += increment;
      factor_ = cholesky_factor_t(W_, control);
    }
    accumulated_ = N;
    ++increment_;
    return factor_;
  }

 private:
  std::uint64_t key_;
  Index M_;
  Index accumulated_ = 0;
  std::uint64_t increment_ = 0;
  bool have_gram_ = false;
  ColMatrix<double> W_;        // accumulated A^T A once needed (lower triangle valid)
  RowMatrix<double> factor_;   // C^T
};

// ---------------------------------------------------------------------------------------------
// One seed, nested grid.
// ---------------------------------------------------------------------------------------------

// Explicit draws of A and Psi. Each grid point is solved in the cheaper of two exact forms:
// from the features F = Psi A^T (eigendecomposition of dimension min(N, P)), or, when N and P
// both exceed M, from the M x M statistics A^T A and Psi^T Psi (dimension M).
void nested_explicit(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                     Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                     const RunControl& control) {
  const Index M = task.M();
  const Index E = grid.ensemble;
  const Index Nmax = finite_max(grid.N);
  const Index Pmax = finite_max(grid.P);
  const Index nP = static_cast<Index>(grid.P.size());
  const Index n_points = static_cast<Index>(grid.N.size()) * nP;
  const auto covariance_point = [M](Index N, Index P) {
    return N != kInfinite && N > M && (P == kInfinite || P > M);
  };

  RowMatrix<double> psi;
  Vector<double> eps, y;
  if (Pmax > 0) {
    data_rows(task, key, 0, Pmax, psi, eps, control);
    y = psi * task.target + eps;
  }
  // Unscaled features U = Psi A^T of the feature-form points, all from one product.
  Index feature_rows = 0, feature_cols = 0;
  for (Index N : grid.N)
    for (Index P : grid.P)
      if (N != kInfinite && P != kInfinite && !covariance_point(N, P)) {
        feature_rows = std::max(feature_rows, P);
        feature_cols = std::max(feature_cols, N);
      }
  std::vector<RowMatrix<double>> A(static_cast<std::size_t>(E)), U(static_cast<std::size_t>(E));
  for (Index e = 0; e < E && Nmax > 0; ++e) {
    A[e] = projection_rows(key, e, Nmax, M, control);
    if (feature_cols > 0) {
      BlasThreadScope blas_threads(
          threads_for(control, 2.0 * static_cast<double>(feature_rows) * feature_cols * M));
      U[e].resize(feature_rows, feature_cols);
      blas::gemm_rowmajor(false, true, 1.0, psi.topRows(feature_rows), A[e].topRows(feature_cols),
                          0.0, U[e]);
    }
    control.poll();
  }
  const CovarianceStats population = population_stats(task);
  std::vector<CovarianceStats> data_stats(static_cast<std::size_t>(nP));
  std::vector<RowMatrix<double>> factors(static_cast<std::size_t>(E));  // C^T of A^T A, per member
  const RowMatrix<double> no_projection;

  Index done = 0;
  for (std::size_t i = 0; i < grid.N.size(); ++i) {
    const Index N = grid.N[i];
    bool have_factors = false;
    for (std::size_t j = 0; j < grid.P.size(); ++j) {
      const Index P = grid.P[j];
      std::vector<SpectralSolution> members;
      Vector<double> labels;
      const Vector<double>* train_labels = nullptr;
      const CovarianceStats* train_stats = nullptr;
      const double scale = N == kInfinite ? 1.0 : 1.0 / std::sqrt(static_cast<double>(N));
      if (covariance_point(N, P)) {
        if (!have_factors) {
          for (Index e = 0; e < E; ++e) factors[e] = cholesky_factor_t(projection_gram(A[e], N, control), control);
          have_factors = true;
        }
        const CovarianceStats* stats = &population;
        if (P != kInfinite) {
          if (data_stats[j].q.size() == 0) data_stats[j] = explicit_data_stats(psi, eps, P, control);
          stats = &data_stats[j];
        }
        for (Index e = 0; e < E; ++e)
          members.push_back(solve_from_covariance(factors[e], scale, false, *stats, task.target, control));
        train_stats = stats;
      } else if (N != kInfinite && P != kInfinite) {
        for (Index e = 0; e < E; ++e)
          members.push_back(solve_from_features(U[e].topLeftCorner(P, N), scale, A[e].topRows(N),
                                                scale, false, y.head(P), E > 1, control));
        labels = y.head(P);
        train_labels = &labels;
      } else if (N == kInfinite && P != kInfinite) {
        // Infinite width: the features are psi itself; every member is the same model.
        members.push_back(solve_from_features(psi.topRows(P), 1.0, no_projection, 1.0, true,
                                              y.head(P), false, control));
      } else if (N != kInfinite) {
        for (Index e = 0; e < E; ++e)
          members.push_back(solve_from_covariance(A[e].topRows(N), scale, false, population,
                                                  task.target, control));
        train_stats = &population;
      } else {
        members.push_back(
            solve_from_covariance(no_projection, 1.0, true, population, task.target, control));
      }
      const Index row = static_cast<Index>(i) * nP + static_cast<Index>(j);
      evaluate_losses(members, task, grid.times, grid.schedule, train_labels, train_stats,
                      test.row(row).data(), train.row(row).data(), control);
      control.poll();
      control.progress(static_cast<double>(++done) / static_cast<double>(n_points));
    }
  }
}

void nested_wishart(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                    Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                    const RunControl& control) {
  const Index M = task.M();
  const Index E = grid.ensemble;
  const Index nP = static_cast<Index>(grid.P.size());
  const Index n_points = static_cast<Index>(grid.N.size()) * nP;
  const std::vector<CovarianceStats> stats = wishart_data_stats(task, grid.P, key, control);
  std::vector<WishartProjection> projections;
  for (Index e = 0; e < E; ++e)
    projections.emplace_back(random::derive_seed(random::derive_seed(key, e), random::kStreamWishart), M);
  const RowMatrix<double> no_projection;
  std::vector<RowMatrix<double>> factors(static_cast<std::size_t>(E));

  Index done = 0;
  for (std::size_t i = 0; i < grid.N.size(); ++i) {
    const Index N = grid.N[i];
    const bool infinite_width = N == kInfinite;
    if (!infinite_width)
      for (Index e = 0; e < E; ++e) factors[e] = projections[e].factor(N, control);
    const double scale = infinite_width ? 1.0 : 1.0 / std::sqrt(static_cast<double>(N));
    const Index members_needed = infinite_width ? 1 : E;
    for (std::size_t j = 0; j < grid.P.size(); ++j) {
      std::vector<SpectralSolution> members;
      for (Index e = 0; e < members_needed; ++e)
        members.push_back(solve_from_covariance(infinite_width ? no_projection : factors[e], scale,
                                                infinite_width, stats[j], task.target, control));
      const Index row = static_cast<Index>(i) * nP + static_cast<Index>(j);
      evaluate_losses(members, task, grid.times, grid.schedule, nullptr, &stats[j],
                      test.row(row).data(), train.row(row).data(), control);
      control.poll();
      control.progress(static_cast<double>(++done) / static_cast<double>(n_points));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SGD
// ---------------------------------------------------------------------------------------------

// Produces the rows (A_cat psi_s, y_s) of samples s, where A_cat stacks the ensemble's
// projections (E Nmax, M): explicitly from psi, or from the joint Gaussian law of (A_cat psi,
// w* . psi) when gaussian_shortcut is set.
class FeatureSampler {
 public:
  FeatureSampler(const LinearTask& task, const RowMatrix<double>& A_cat, std::uint64_t key,
                 bool shortcut, const RunControl& control)
      : task_(task), A_cat_(A_cat), key_(key), shortcut_(shortcut) {
    if (!shortcut_) return;
    // Joint covariance of x = (A_cat psi, w* . psi): J = B Lambda B^T with B = [A_cat; w*^T].
    const Index M = task.M();
    const Index d = A_cat.rows() + 1;
    RowMatrix<double> B(d, M);
    B.topRows(A_cat.rows()) = A_cat;
    B.row(d - 1) = task.target.transpose();
    B *= task.spectrum.array().sqrt().matrix().asDiagonal();
    ColMatrix<double> J(d, d);
    BlasThreadScope blas_threads(threads_for(control, static_cast<double>(d) * d * M));
    // Row-major B (d x M) is column-major B^T (M x d): J = (B^T)^T B^T.
    blas::syrk('L', 'T', to_int(d), to_int(M), 1.0, B.data(), to_int(M), 0.0, J.data(), to_int(d));
    Vector<double> ev;
    eigen_decompose(J, ev, control);
    // x = R z with R = Q diag(sqrt(ev)); J may be singular (d > M), hence the eigen factor.
    root_t_.resize(d, d);  // R^T, row-major: rows = modes
    for (Index i = 0; i < d; ++i) root_t_.row(i) = std::sqrt(std::max(ev[i], 0.0)) * J.col(i).transpose();
  }

  Index width() const { return A_cat_.rows(); }

  /// Rows [first, first + count): features (count, width) and labels (count).
  void rows(Index first, Index count, RowMatrix<double>& features, Vector<double>& labels,
            const RunControl& control) const {
    const Index width = A_cat_.rows();
    features.resize(count, width);
    labels.resize(count);
    BlasThreadScope blas_threads(
        threads_for(control, 2.0 * static_cast<double>(count) * width * (shortcut_ ? width : task_.M())));
    if (!shortcut_) {
      RowMatrix<double> psi;
      Vector<double> eps;
      data_rows(task_, key_, first, count, psi, eps, control);
      blas::gemm_rowmajor(false, true, 1.0, psi, A_cat_, 0.0, features);
      labels = psi * task_.target + eps;
      return;
    }
    const Index d = width + 1;
    RowMatrix<double> Z(count, d);
#pragma omp parallel for num_threads(omp_threads_for(control, static_cast<double>(count) * d)) schedule(static)
    for (Index s = 0; s < count; ++s)
      random::fill_normal(key_, random::kStreamData,
                          static_cast<std::uint64_t>(first + s) * static_cast<std::uint64_t>(d),
                          Z.row(s).data(), static_cast<std::size_t>(d));
    RowMatrix<double> X(count, d);
    blas::gemm_rowmajor(false, false, 1.0, Z, root_t_, 0.0, X);  // rows x_s^T = z_s^T R^T
    features = X.leftCols(width);
    Vector<double> eps(count);
    random::fill_normal(key_, random::kStreamNoise, static_cast<std::uint64_t>(first), eps.data(),
                        static_cast<std::size_t>(count));
    labels = X.col(width) + std::sqrt(task_.noise) * eps;
  }

 private:
  const LinearTask& task_;
  const RowMatrix<double>& A_cat_;
  std::uint64_t key_;
  bool shortcut_;
  RowMatrix<double> root_t_;
};

struct SgdModel {
  Index width_index;  // index into spec.N
  Index N;
  Index member;
  Vector<double> w;
};

// The SGD run on one dataset (finite P) or the sample stream (P = infinity), all widths and
// members at once on the same minibatches.
void sgd_run(const LinearTask& task, const SgdSpec& spec, Index P, Index p_index,
             const FeatureSampler& sampler, const RowMatrix<double>& A_cat,
             const RowMatrix<double>& data_features, const Vector<double>& data_labels,
             std::uint64_t key, Eigen::Ref<RowMatrix<double>> test,
             Eigen::Ref<RowMatrix<double>> train, const RunControl& control) {
  const Index E = spec.ensemble;
  const Index B = spec.batch_size;
  const Index Nmax = finite_max(spec.N);
  const Index nP = static_cast<Index>(spec.P.size());
  const Index width = sampler.width();
  const bool one_pass = P == kInfinite;
  const double eta = spec.learning_rate;

  std::vector<SgdModel> models;
  for (std::size_t i = 0; i < spec.N.size(); ++i)
    for (Index e = 0; e < E; ++e)
      models.push_back({static_cast<Index>(i), spec.N[i], e, Vector<double>::Zero(spec.N[i])});
  const Index n_models = static_cast<Index>(models.size());

  const std::int64_t t_max = spec.steps.back();
  // One pass: batches are generated for a block of steps at once.
  const Index block_steps = std::max<Index>(1, 2048 / B);
  RowMatrix<double> block_features;
  Vector<double> block_labels;
  Index block_first_step = -1;
  // Multi-epoch: the order of the current epoch.
  std::vector<Index> order;
  std::int64_t order_epoch = -1;
  Vector<double> uniforms;

  RowMatrix<double> batch(B, width);
  Vector<double> batch_labels(B);
  std::size_t next_report = 0;
  // Per-step work is tiny; threads only pay off with many wide models.
  const int threads = omp_threads_for(control, 2.0 * static_cast<double>(B) * Nmax * n_models * 100.0);

  for (std::int64_t step = 0; step <= t_max; ++step) {
    const bool report = next_report < spec.steps.size() && spec.steps[next_report] == step;
    const bool update = step < t_max;
    const bool need_batch = update || (report && one_pass);
    if (need_batch) {
      if (one_pass) {
        if (block_first_step < 0 || step >= block_first_step + block_steps) {
          block_first_step = step;
          sampler.rows(step * B, block_steps * B, block_features, block_labels, control);
        }
        const Index offset = (step - block_first_step) * B;
        batch = block_features.middleRows(offset, B);
        batch_labels = block_labels.segment(offset, B);
      } else {
        for (Index b = 0; b < B; ++b) {
          const std::int64_t position = step * B + b;
          const std::int64_t epoch = position / P;
          if (epoch != order_epoch) {
            // A fresh order per epoch: argsort of P uniforms keyed by (key, epoch).
            uniforms.resize(P);
            random::fill_uniform(key, random::kStreamSgd, static_cast<std::uint64_t>(epoch) *
                                                              static_cast<std::uint64_t>(P),
                                 uniforms.data(), static_cast<std::size_t>(P));
            order.resize(static_cast<std::size_t>(P));
            std::iota(order.begin(), order.end(), Index{0});
            std::stable_sort(order.begin(), order.end(),
                             [&](Index a, Index c) { return uniforms[a] < uniforms[c]; });
            order_epoch = epoch;
          }
          const Index sample = order[static_cast<std::size_t>(position % P)];
          batch.row(b) = data_features.row(sample);
          batch_labels[b] = data_labels[sample];
        }
      }
    }
    for (; next_report < spec.steps.size() && spec.steps[next_report] == step; ++next_report) {
      // Losses of the averaged predictor of each width, before this step's update.
      for (std::size_t i = 0; i < spec.N.size(); ++i) {
        const Index N = spec.N[i];
        const double scale = 1.0 / std::sqrt(static_cast<double>(N));
        Vector<double> v = task.target;
        Vector<double> residual = one_pass ? batch_labels : data_labels.head(P).eval();
        for (const SgdModel& model : models) {
          if (model.width_index != static_cast<Index>(i)) continue;
          const Index e = model.member;
          v.noalias() -= (scale / E) * (A_cat.middleRows(e * Nmax, N).transpose() * model.w);
          if (one_pass)
            residual.noalias() -= (scale / E) * (batch.middleCols(e * Nmax, N) * model.w);
          else
            residual.noalias() -=
                (scale / E) * (data_features.block(0, e * Nmax, P, N) * model.w);
        }
        const Index row = static_cast<Index>(i) * nP + p_index;
        test(row, static_cast<Index>(next_report)) = v.cwiseAbs2().dot(task.spectrum);
        train(row, static_cast<Index>(next_report)) =
            residual.squaredNorm() / static_cast<double>(residual.size());
      }
    }
    if (update) {
      // Each model's update touches only its own weights: the result is the same for any
      // number of threads. No BLAS in here (Eigen matrix-vector products only).
#pragma omp parallel for num_threads(threads) schedule(dynamic) if (n_models > 1)
      for (Index m = 0; m < n_models; ++m) {
        SgdModel& model = models[static_cast<std::size_t>(m)];
        const double scale = 1.0 / std::sqrt(static_cast<double>(model.N));
        const auto X = batch.middleCols(model.member * Nmax, model.N);
        const Vector<double> residual = batch_labels - scale * (X * model.w);
        model.w.noalias() += (eta * scale / static_cast<double>(B)) * (X.transpose() * residual);
      }
    }
    if ((step & 255) == 0) {
      control.poll();
      control.progress(static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(t_max, 1)));
    }
  }
}

void sgd_nested(const LinearTask& task, const SgdSpec& spec, std::uint64_t key,
                Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                const RunControl& control) {
  const Index M = task.M();
  const Index E = spec.ensemble;
  const Index Nmax = finite_max(spec.N);
  RowMatrix<double> A_cat(E * Nmax, M);
  for (Index e = 0; e < E; ++e) A_cat.middleRows(e * Nmax, Nmax) = projection_rows(key, e, Nmax, M, control);
  const FeatureSampler sampler(task, A_cat, key, spec.gaussian_shortcut, control);
  const Index Pmax = finite_max(spec.P);
  RowMatrix<double> data_features;
  Vector<double> data_labels;
  if (Pmax > 0) sampler.rows(0, Pmax, data_features, data_labels, control);
  for (std::size_t j = 0; j < spec.P.size(); ++j)
    sgd_run(task, spec, spec.P[j], static_cast<Index>(j), sampler, A_cat, data_features,
            data_labels, key, test, train, control);
}

// Independent draws per grid point: every (N_i, P_j) is a nested run of its own (one N, one P)
// under the key derive_seed(derive_seed(key, kIndependentSalt), row), row = i * nP + j.
// `solve(point, point_key, test_row, train_row, control)` runs one point.
template <class Spec, class Solve>
void for_each_independent_point(const Spec& spec, std::uint64_t key,
                                Eigen::Ref<RowMatrix<double>> test,
                                Eigen::Ref<RowMatrix<double>> train, const RunControl& control,
                                Solve&& solve) {
  const Index nN = static_cast<Index>(spec.N.size());
  const Index nP = static_cast<Index>(spec.P.size());
  const std::uint64_t salted = random::derive_seed(key, kIndependentSalt);
  RunControl quiet = control;
  quiet.on_progress = nullptr;
  for (Index i = 0; i < nN; ++i) {
    for (Index j = 0; j < nP; ++j) {
      Spec point = spec;
      point.N = {spec.N[static_cast<std::size_t>(i)]};
      point.P = {spec.P[static_cast<std::size_t>(j)]};
      point.independent = false;
      const Index row = i * nP + j;
      const std::uint64_t point_key = random::derive_seed(salted, static_cast<std::uint64_t>(row));
      solve(point, point_key, test.middleRows(row, 1), train.middleRows(row, 1), quiet);
      control.progress(static_cast<double>(row + 1) / static_cast<double>(nN * nP));
    }
  }
}

}  // namespace

// -------------------------------------------------------------------------------------------
// Public functions
// -------------------------------------------------------------------------------------------

void LinearTask::validate() const {
  require(spectrum.size() >= 1, "spectrum", "expected at least one mode");
  require(target.size() == spectrum.size(), "target",
          "expected " + std::to_string(spectrum.size()) + " weights, got " + std::to_string(target.size()));
  require(spectrum.allFinite() && (spectrum.array() > 0.0).all(), "spectrum",
          "eigenvalues must be finite and > 0");
  require(target.allFinite(), "target", "contains NaN or infinity");
  require(std::isfinite(noise) && noise >= 0.0, "noise", "must be >= 0, got " + std::to_string(noise));
}

void mode_factors(double mu, double t, const Schedule& schedule, double& decay, double& phi) {
  if (schedule.method == Method::kGradientFlow) {
    if (mu <= 0.0) {
      decay = 1.0;
      phi = t;
      return;
    }
    const double x = -mu * t;
    decay = std::exp(x);
    phi = -std::expm1(x) / mu;
    return;
  }
  const double eta = schedule.learning_rate;
  if (mu <= 0.0) {
    decay = 1.0;
    phi = eta * t;
    return;
  }
  const double a = eta * mu;
  if (a < 1.0) {
    const double x = t * std::log1p(-a);
    decay = std::exp(x);
    phi = -std::expm1(x) / mu;
  } else {
    decay = std::pow(1.0 - a, t);
    phi = (1.0 - decay) / mu;
  }
}

RowMatrix<double> projection_rows(std::uint64_t key, Index member, Index rows, Index M,
                                  const RunControl& control) {
  require(rows >= 0, "rows", "must be >= 0");
  const std::uint64_t member_key = random::derive_seed(key, static_cast<std::uint64_t>(member));
  RowMatrix<double> A(rows, M);
#pragma omp parallel for num_threads(omp_threads_for(control, static_cast<double>(rows) * M)) schedule(static)
  for (Index j = 0; j < rows; ++j)
    random::fill_normal(member_key, random::kStreamProjection,
                        static_cast<std::uint64_t>(j) * static_cast<std::uint64_t>(M),
                        A.row(j).data(), static_cast<std::size_t>(M));
  return A;
}

void data_rows(const LinearTask& task, std::uint64_t key, Index first, Index rows,
               RowMatrix<double>& psi, Vector<double>& eps, const RunControl& control) {
  const Index M = task.M();
  psi.resize(rows, M);
  eps.resize(rows);
  const Eigen::Array<double, 1, Eigen::Dynamic> root = task.spectrum.array().sqrt().transpose();
#pragma omp parallel for num_threads(omp_threads_for(control, static_cast<double>(rows) * M)) schedule(static)
  for (Index i = 0; i < rows; ++i) {
    random::fill_normal(key, random::kStreamData,
                        static_cast<std::uint64_t>(first + i) * static_cast<std::uint64_t>(M),
                        psi.row(i).data(), static_cast<std::size_t>(M));
    psi.row(i).array() *= root;
  }
  random::fill_normal(key, random::kStreamNoise, static_cast<std::uint64_t>(first), eps.data(),
                      static_cast<std::size_t>(rows));
  eps *= std::sqrt(task.noise);
}

// Width side (the kernel K on the m model coordinates): eigendecomposes K in place (V becomes
// its eigenvectors) and fills the targets' spectral coordinates from h = the projected targets:
// g = V^T h and z2 = g^2 / mu; modes with mu at or below null_threshold are null (never move).
void width_side_spectrum(ColMatrix<double>& V, const Vector<double>& h, const RunControl& control,
                         SpectralSolution& sol) {
  const Index m = V.rows();
  eigen_decompose(V, sol.mu, control);
  sol.mu = sol.mu.cwiseMax(0.0);
  sol.g.resize(m);
  blas::gemm('T', 'N', to_int(m), 1, to_int(m), 1.0, V.data(), to_int(m), h.data(), to_int(m), 0.0,
             sol.g.data(), to_int(m));
  const double tol = null_threshold(sol.mu);
  sol.z2.resize(m);
  for (Index i = 0; i < m; ++i) {
    if (sol.mu[i] <= tol) {
      sol.mu[i] = 0.0;
      sol.g[i] = 0.0;
      sol.z2[i] = 0.0;
    } else {
      sol.z2[i] = sol.g[i] * sol.g[i] / sol.mu[i];
    }
  }
}

// The eigenvectors in latent coordinates, D = s A^T V (M, m), where the row-major projection
// A (m, M) is read as column-major A^T; with the identity projection D is V itself.
void latent_eigenvectors(ColMatrix<double>&& V, const ConstRowRef<double>& projection,
                         double projection_scale, bool identity_projection, Index M,
                         SpectralSolution& sol) {
  if (identity_projection) {
    sol.D = std::move(V);
    return;
  }
  const Index m = V.cols();
  sol.D.resize(M, m);
  blas::gemm('N', 'N', to_int(M), to_int(m), to_int(m), projection_scale, projection.data(),
             to_int(projection.outerStride()), V.data(), to_int(m), 0.0, sol.D.data(), to_int(M));
}

SpectralSolution solve_from_features(const ConstRowRef<double>& F, double feature_scale,
                                     const ConstRowRef<double>& projection,
                                     double projection_scale, bool identity_projection,
                                     const Eigen::Ref<const Vector<double>>& y,
                                     bool keep_predictions, const RunControl& control) {
  const Index P = F.rows();
  const Index n = F.cols();
  require(P >= 1 && n >= 1, "F", "expected a non-empty (P, n) matrix");
  require(y.size() == P, "y", "expected " + std::to_string(P) + " labels, got " + std::to_string(y.size()));
  require(identity_projection || projection.rows() == n, "projection",
          "expected " + std::to_string(n) + " rows (one per feature), got " + std::to_string(projection.rows()));
  const Index M = identity_projection ? n : projection.cols();
  const Index r = std::min(n, P);
  BlasThreadScope blas_threads(threads_for(
      control, static_cast<double>(P) * n * r + 2.0 * static_cast<double>(M) * n * r));
  const int ldF = to_int(F.outerStride());
  const int ldA = identity_projection ? 1 : to_int(projection.outerStride());
  const double inv_P = 1.0 / static_cast<double>(P);
  SpectralSolution sol;
  const double yy = y.squaredNorm() * inv_P;

  if (n <= P) {
    // Width side: K = F^T F / P (n, n). Row-major F (P, n) is column-major F^T (n, P).
    ColMatrix<double> V(n, n);
    blas::syrk('L', 'N', to_int(n), to_int(P), feature_scale * feature_scale * inv_P, F.data(), ldF,
               0.0, V.data(), to_int(n));
    Vector<double> h(n);  // F^T y / P
    blas::gemm('N', 'N', to_int(n), 1, to_int(P), feature_scale * inv_P, F.data(), ldF, y.data(),
               to_int(P), 0.0, h.data(), to_int(n));
    width_side_spectrum(V, h, control, sol);
    if (keep_predictions) {
      sol.Y.resize(P, n);
      blas::gemm('T', 'N', to_int(P), to_int(n), to_int(n), feature_scale, F.data(), ldF, V.data(),
                 to_int(n), 0.0, sol.Y.data(), to_int(P));
    }
    latent_eigenvectors(std::move(V), projection, projection_scale, identity_projection, M, sol);
    sol.residual_floor = std::max(0.0, yy - sol.z2.sum());
    return sol;
  }

  // Data side: K = F F^T / P (P, P).
  ColMatrix<double> U(P, P);
  blas::syrk('L', 'T', to_int(P), to_int(n), feature_scale * feature_scale * inv_P, F.data(), ldF, 0.0,
             U.data(), to_int(P));
  eigen_decompose(U, sol.mu, control);
  sol.mu = sol.mu.cwiseMax(0.0);
  sol.g.resize(P);  // z = U^T y / sqrt(P)
  blas::gemm('T', 'N', to_int(P), 1, to_int(P), std::sqrt(inv_P), U.data(), to_int(P), y.data(),
             to_int(P), 0.0, sol.g.data(), to_int(P));
  sol.z2 = sol.g.cwiseAbs2();
  const double tol = null_threshold(sol.mu);
  for (Index i = 0; i < P; ++i) {
    if (sol.mu[i] <= tol) {
      // A null mode never moves: its residual stays (z2 kept, decay 1), its weight is 0.
      sol.mu[i] = 0.0;
      sol.g[i] = 0.0;
    }
  }
  ColMatrix<double> FtU(n, P);  // F^T U (scaled)
  blas::gemm('N', 'N', to_int(n), to_int(P), to_int(P), feature_scale, F.data(), ldF, U.data(),
             to_int(P), 0.0, FtU.data(), to_int(n));
  const double root_inv_P = std::sqrt(inv_P);
  if (identity_projection) {
    sol.D = FtU * root_inv_P;
  } else {
    sol.D.resize(M, P);
    blas::gemm('N', 'N', to_int(M), to_int(P), to_int(n), projection_scale * root_inv_P,
               projection.data(), ldA, FtU.data(), to_int(n), 0.0, sol.D.data(), to_int(M));
  }
  if (keep_predictions) sol.Y = std::sqrt(static_cast<double>(P)) * U * sol.mu.asDiagonal();
  sol.residual_floor = 0.0;
  return sol;
}

SpectralSolution solve_from_covariance(const ConstRowRef<double>& projection,
                                       double projection_scale, bool identity_projection,
                                       const CovarianceStats& stats,
                                       const Eigen::Ref<const Vector<double>>& target,
                                       const RunControl& control) {
  const Index M = target.size();
  const bool diagonal = stats.sigma.size() == 0;
  require(diagonal ? stats.diagonal.size() == M : (stats.sigma.rows() == M && stats.sigma.cols() == M),
          "stats", "expected covariance statistics of dimension " + std::to_string(M));
  require(stats.q.size() == M, "stats", "expected q of length " + std::to_string(M));
  require(identity_projection || projection.cols() == M, "projection",
          "expected " + std::to_string(M) + " columns, got " + std::to_string(projection.cols()));
  const Index m_work = identity_projection ? M : projection.rows();
  BlasThreadScope blas_threads(threads_for(control, 2.0 * static_cast<double>(M) * M * m_work));
  SpectralSolution sol;
  Vector<double> sigma_w = diagonal ? stats.diagonal.cwiseProduct(target).eval()
                                    : (stats.sigma * target).eval();
  const Vector<double> r = sigma_w + stats.q;  // Psi^T y / P
  const double yy = target.dot(sigma_w) + 2.0 * target.dot(stats.q) + stats.e2;

  if (identity_projection && diagonal) {
    // N = P = infinity: the kernel is Lambda itself and the eigenbasis is the standard basis.
    sol.mu = stats.diagonal;
    sol.g = r;
    sol.z2 = r.cwiseAbs2().cwiseQuotient(sol.mu);
    sol.residual_floor = std::max(0.0, yy - sol.z2.sum());
    return sol;
  }
  const Index m = identity_projection ? M : projection.rows();
  const int ldA = identity_projection ? 1 : to_int(projection.outerStride());
  ColMatrix<double> V(m, m);
  if (identity_projection) {
    V = stats.sigma;
  } else if (diagonal) {
    // K = s^2 C^T Lambda C = X X^T with X = s C^T Lambda^{1/2} (m, M) row-major.
    RowMatrix<double> X = projection_scale * projection * stats.diagonal.cwiseSqrt().asDiagonal();
    blas::syrk('L', 'T', to_int(m), to_int(M), 1.0, X.data(), to_int(M), 0.0, V.data(), to_int(m));
  } else {
    // K = s^2 C^T Sigma C; row-major C^T (m, M) is column-major C (M, m).
    ColMatrix<double> SC(M, m);
    blas::gemm('N', 'N', to_int(M), to_int(m), to_int(M), projection_scale, stats.sigma.data(),
               to_int(M), projection.data(), ldA, 0.0, SC.data(), to_int(M));
    blas::gemm('T', 'N', to_int(m), to_int(m), to_int(M), projection_scale, projection.data(), ldA,
               SC.data(), to_int(M), 0.0, V.data(), to_int(m));
  }
  Vector<double> h(m);  // s C^T r
  if (identity_projection) {
    h = r;
  } else {
    blas::gemm('T', 'N', to_int(m), 1, to_int(M), projection_scale, projection.data(), ldA, r.data(),
               to_int(M), 0.0, h.data(), to_int(m));
  }
  width_side_spectrum(V, h, control, sol);
  latent_eigenvectors(std::move(V), projection, projection_scale, identity_projection, M, sol);
  sol.residual_floor = std::max(0.0, yy - sol.z2.sum());
  return sol;
}

void evaluate_losses(const std::vector<SpectralSolution>& members, const LinearTask& task,
                     const std::vector<double>& times, const Schedule& schedule,
                     const Vector<double>* train_labels, const CovarianceStats* train_stats,
                     double* test, double* train, const RunControl& control) {
  require(!members.empty(), "members", "expected at least one solution");
  const Index M = task.M();
  const Index E = static_cast<Index>(members.size());
  const Index T = static_cast<Index>(times.size());
  const bool by_labels = E > 1 && train_labels != nullptr;
  require(E == 1 || by_labels || train_stats != nullptr, "train_stats",
          "an ensemble's train loss needs the training labels or the covariance statistics");
  for (const SpectralSolution& s : members) {
    require(s.D.size() == 0 ? s.mu.size() == M : s.D.rows() == M, "members",
            "solution dimension does not match the task");
    require(!by_labels || s.Y.cols() == s.mu.size(), "members",
            "ensemble solutions must keep their train predictions (Y)");
  }
  double work = 0.0;
  for (const SpectralSolution& s : members)
    work += 2.0 * static_cast<double>(T) * s.mu.size() * (M + s.Y.rows());
  if (E > 1 && !by_labels && train_stats->sigma.size() > 0) work += 2.0 * static_cast<double>(T) * M * M;
  BlasThreadScope blas_threads(threads_for(control, work));
  const double inv_E = 1.0 / static_cast<double>(E);
  const int threads = omp_threads_for(control, 20.0 * work / static_cast<double>(M));

  for (Index t0 = 0; t0 < T; t0 += kTimeChunk) {
    const Index tc = std::min(kTimeChunk, T - t0);
    ColMatrix<double> Vt = task.target.replicate(1, tc);  // error vectors v(t) as columns
    ColMatrix<double> Rt;                                  // train residuals (ensemble)
    if (by_labels) Rt = train_labels->replicate(1, tc);
    Vector<double> member_train(tc);
    for (const SpectralSolution& s : members) {
      const Index r = s.mu.size();
      ColMatrix<double> C(r, tc), decay2(r, tc);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (Index j = 0; j < tc; ++j) {
        for (Index i = 0; i < r; ++i) {
          double decay, phi;
          mode_factors(s.mu[i], times[static_cast<std::size_t>(t0 + j)], schedule, decay, phi);
          C(i, j) = phi * s.g[i];
          decay2(i, j) = decay * decay;
        }
      }
      if (s.D.size() == 0) {
        Vt.noalias() -= inv_E * C;
      } else {
        blas::gemm('N', 'N', to_int(M), to_int(tc), to_int(r), -inv_E, s.D.data(), to_int(M), C.data(),
                   to_int(r), 1.0, Vt.data(), to_int(M));
      }
      if (by_labels) {
        const Index P = s.Y.rows();
        blas::gemm('N', 'N', to_int(P), to_int(tc), to_int(r), -inv_E, s.Y.data(), to_int(P), C.data(),
                   to_int(r), 1.0, Rt.data(), to_int(P));
      }
      if (E == 1)
        for (Index j = 0; j < tc; ++j) member_train[j] = s.residual_floor + s.z2.dot(decay2.col(j));
    }
    for (Index j = 0; j < tc; ++j) test[t0 + j] = Vt.col(j).cwiseAbs2().dot(task.spectrum);
    if (E == 1) {
      for (Index j = 0; j < tc; ++j) train[t0 + j] = member_train[j];
    } else if (by_labels) {
      for (Index j = 0; j < tc; ++j)
        train[t0 + j] = Rt.col(j).squaredNorm() / static_cast<double>(Rt.rows());
    } else {
      // (1/P)|Psi v + eps|^2 = v^T Sigma v + 2 v . q + e2.
      ColMatrix<double> SV(M, tc);
      if (train_stats->sigma.size() == 0) {
        SV = train_stats->diagonal.asDiagonal() * Vt;
      } else {
        blas::gemm('N', 'N', to_int(M), to_int(tc), to_int(M), 1.0, train_stats->sigma.data(), to_int(M),
                   Vt.data(), to_int(M), 0.0, SV.data(), to_int(M));
      }
      for (Index j = 0; j < tc; ++j)
        train[t0 + j] = Vt.col(j).dot(SV.col(j)) + 2.0 * Vt.col(j).dot(train_stats->q) + train_stats->e2;
    }
    control.poll();
  }
}

void linear_learning_curves(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                            Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                            const RunControl& control) {
  task.validate();
  check_grid_values(grid.N, "N", false);
  check_grid_values(grid.P, "P", false);
  check_times(grid.times);
  check_schedule(grid.schedule);
  require(grid.ensemble >= 1, "ensemble", "must be >= 1, got " + std::to_string(grid.ensemble));
  const Index nN = static_cast<Index>(grid.N.size());
  const Index nP = static_cast<Index>(grid.P.size());
  const Index T = static_cast<Index>(grid.times.size());
  check_curve_outputs(test, train, nN * nP, T);
  if (T == 0) return;
  if (!grid.independent) {
    if (grid.wishart)
      nested_wishart(task, grid, key, test, train, control);
    else
      nested_explicit(task, grid, key, test, train, control);
    return;
  }
  for_each_independent_point(grid, key, test, train, control,
                             [&](const GridSpec& point, std::uint64_t point_key,
                                 Eigen::Ref<RowMatrix<double>> test_row,
                                 Eigen::Ref<RowMatrix<double>> train_row, const RunControl& quiet) {
                               linear_learning_curves(task, point, point_key, test_row, train_row,
                                                      quiet);
                             });
}

void sgd_learning_curves(const LinearTask& task, const SgdSpec& spec, std::uint64_t key,
                         Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                         const RunControl& control) {
  task.validate();
  check_grid_values(spec.N, "N", false);
  require(spec.N.back() != kInfinite, "N", "SGD needs finite widths");
  check_grid_values(spec.P, "P", false);
  require(!spec.steps.empty(), "steps", "expected at least one report step");
  for (std::size_t i = 0; i < spec.steps.size(); ++i) {
    require(spec.steps[i] >= 0, "steps", "must be >= 0");
    require(i == 0 || spec.steps[i] >= spec.steps[i - 1], "steps", "must be ascending");
  }
  require(spec.batch_size >= 1, "batch_size", "must be >= 1, got " + std::to_string(spec.batch_size));
  for (Index P : spec.P)
    require(P == kInfinite || P >= spec.batch_size, "batch_size",
            "must be <= every finite P (got batch_size = " + std::to_string(spec.batch_size) +
                ", P = " + std::to_string(P) + ")");
  require(std::isfinite(spec.learning_rate) && spec.learning_rate > 0.0, "learning_rate",
          "must be > 0, got " + std::to_string(spec.learning_rate));
  require(spec.ensemble >= 1, "ensemble", "must be >= 1, got " + std::to_string(spec.ensemble));
  const Index nN = static_cast<Index>(spec.N.size());
  const Index nP = static_cast<Index>(spec.P.size());
  const Index T = static_cast<Index>(spec.steps.size());
  check_curve_outputs(test, train, nN * nP, T);
  if (!spec.independent) {
    sgd_nested(task, spec, key, test, train, control);
    return;
  }
  for_each_independent_point(spec, key, test, train, control,
                             [&](const SgdSpec& point, std::uint64_t point_key,
                                 Eigen::Ref<RowMatrix<double>> test_row,
                                 Eigen::Ref<RowMatrix<double>> train_row, const RunControl& quiet) {
                               sgd_nested(task, point, point_key, test_row, train_row, quiet);
                             });
}

void kernel_learning_curves(const ConstRowRef<double>& K_train, const ConstRowRef<double>& K_test,
                            const Eigen::Ref<const Vector<double>>& y_train,
                            const Eigen::Ref<const Vector<double>>& y_test,
                            const std::vector<Index>& P_grid, const std::vector<double>& times,
                            const Schedule& schedule, Eigen::Ref<RowMatrix<double>> test,
                            Eigen::Ref<RowMatrix<double>> train, const RunControl& control) {
  const Index P = K_train.rows();
  require(P >= 1 && K_train.cols() == P, "K_train", "expected a square (P, P) Gram matrix");
  require(y_train.size() == P, "y_train", "expected " + std::to_string(P) + " labels");
  const Index Q = K_test.rows();
  require(Q == 0 || K_test.cols() == P, "K_test", "expected shape (Q, " + std::to_string(P) + ")");
  require(y_test.size() == Q, "y_test", "expected " + std::to_string(Q) + " labels");
  check_grid_values(P_grid, "P", false);
  require(P_grid.back() != kInfinite && P_grid.back() <= P, "P",
          "grid values must be <= the Gram size " + std::to_string(P));
  check_times(times);
  check_schedule(schedule);
  const Index T = static_cast<Index>(times.size());
  const Index nP = static_cast<Index>(P_grid.size());
  require(test.rows() == nP && test.cols() == T && train.rows() == nP && train.cols() == T, "test",
          "expected output shape (nP, T)");
  BlasThreadScope blas_threads(threads_for(control, 2.0 * static_cast<double>(Q) * P * P));
  for (Index j = 0; j < nP; ++j) {
    const Index p = P_grid[static_cast<std::size_t>(j)];
    const double inv_p = 1.0 / static_cast<double>(p);
    ColMatrix<double> U = K_train.topLeftCorner(p, p) * inv_p;
    Vector<double> mu;
    eigen_decompose(U, mu, control);
    mu = mu.cwiseMax(0.0);
    const Vector<double> projected = U.transpose() * y_train.head(p);  // U^T y
    Vector<double> a = projected * inv_p;                              // U^T y / P
    const double tol = null_threshold(mu);
    for (Index i = 0; i < p; ++i)
      if (mu[i] <= tol) {
        mu[i] = 0.0;
        a[i] = 0.0;
      }
    ColMatrix<double> KU;  // K_test U (Q, p)
    if (Q > 0) {
      KU.resize(Q, p);
      // Row-major K_test block (Q, p) is column-major (p, Q) = K_test^T.
      blas::gemm('T', 'N', to_int(Q), to_int(p), to_int(p), 1.0, K_test.data(),
                 to_int(K_test.outerStride()), U.data(), to_int(p), 0.0, KU.data(), to_int(Q));
    }
    for (Index t0 = 0; t0 < T; t0 += kTimeChunk) {
      const Index tc = std::min(kTimeChunk, T - t0);
      ColMatrix<double> C(p, tc);
      for (Index k = 0; k < tc; ++k) {
        double train_sum = 0.0;
        for (Index i = 0; i < p; ++i) {
          double decay, phi;
          mode_factors(mu[i], times[static_cast<std::size_t>(t0 + k)], schedule, decay, phi);
          C(i, k) = phi * a[i];
          train_sum += projected[i] * projected[i] * decay * decay;
        }
        train(j, t0 + k) = train_sum * inv_p;
      }
      if (Q > 0) {
        ColMatrix<double> predictions(Q, tc);
        blas::gemm('N', 'N', to_int(Q), to_int(tc), to_int(p), 1.0, KU.data(), to_int(Q), C.data(),
                   to_int(p), 0.0, predictions.data(), to_int(Q));
        for (Index k = 0; k < tc; ++k)
          test(j, t0 + k) = (y_test - predictions.col(k)).squaredNorm() / static_cast<double>(Q);
      } else {
        for (Index k = 0; k < tc; ++k) test(j, t0 + k) = std::numeric_limits<double>::quiet_NaN();
      }
    }
    control.poll();
    control.progress(static_cast<double>(j + 1) / static_cast<double>(nP));
  }
}

}  // namespace scalinglab::dynamics
