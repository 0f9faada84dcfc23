#pragma once
/// \file dynamics.hpp
/// Learning dynamics of linear random-feature models on Gaussian data: exact gradient flow (GF)
/// and gradient descent (GD) from one eigendecomposition evaluated at every time, minibatch SGD
/// by iteration, ensembles, label noise, nested (N, P) grids, and kernel gradient flow with a
/// precomputed Gram matrix.
///
/// Conventions (Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, "BAP"):
///  - features psi in R^M, psi ~ N(0, diag(lambda)); target y = w* . psi + eps, eps ~ N(0, s2);
///  - student f(x) = w . (A psi) / sqrt(N), A (N, M) i.i.d. N(0, 1), w(0) = 0;
///  - training loss Lhat = (1/2P) sum_mu (f(x_mu) - y_mu)^2; GF: dw/dt = -grad Lhat (learning
///    rate 1); GD: w <- w - eta grad Lhat, t counts steps; SGD: the batch mean of the same
///    gradient over B samples, w <- w + (eta/B) sum_mu (y_mu - f_mu) A psi_mu / sqrt(N);
///  - reported losses are mean squared errors: test L(t) = E_x (f - w* . psi)^2 = v^T Lambda v
///    with v = w* - A^T w / sqrt(N) (exact, clean target), train (1/P) sum_mu (y_mu - f_mu)^2.
///
/// With F = Psi A^T / sqrt(N) (P, N) the GF solution is w(t) = V diag((1 - e^{-mu t})/mu) V^T
/// F^T y / P for F^T F / P = V diag(mu) V^T (or the same through F F^T / P, whichever is
/// smaller); GD replaces e^{-mu t} by (1 - eta mu)^t. Every quantity reported is then a GEMM in
/// the eigenbasis (SpectralSolution + evaluate_losses).
///
/// Randomness (random.hpp), for one 64-bit key per seed:
///  - data row mu: psi_mu,k = sqrt(lambda_k) * normal(key, kStreamData, mu M + k), eps_mu =
///    sqrt(s2) * normal(key, kStreamNoise, mu); a smaller P is a prefix of a larger one;
///  - ensemble member e: A_e(j, k) = normal(derive_seed(key, e), kStreamProjection, j M + k);
///    a smaller N is a prefix (its first rows);
///  - independent grid points use key' = derive_seed(derive_seed(key, kIndependentSalt), point).
#include <cstdint>
#include <vector>

#include "scalinglab/optimizer.hpp"
#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::dynamics {

/// Marks an infinite width N or dataset size P in a grid.
inline constexpr Index kInfinite = -1;
/// Salt of the keys of independent grid points.
inline constexpr std::uint64_t kIndependentSalt = 0x1D3F0A5E11D1CEull;

/// How time advances: GF (continuous time, learning rate 1) or GD (t steps of size eta).
struct Schedule {
  Optimizer optimizer = Optimizer::kGradientFlow;
  double learning_rate = 1.0;  ///< eta, GD only
};

/// A linear Gaussian task (see the file comment).
struct LinearTask {
  Vector<double> spectrum;  ///< (M) lambda_k > 0
  Vector<double> target;    ///< (M) w*_k
  double noise = 0.0;       ///< label-noise variance sigma^2 >= 0
  Index M() const { return spectrum.size(); }
  /// Throws std::invalid_argument naming the field when the task is malformed.
  void validate() const;
};

/// The GF/GD solution from w(0) = 0 in the eigenbasis of the empirical kernel:
///   beta(t) = A^T w(t) / sqrt(N) = D c(t),  train predictions yhat(t) = Y c(t),
///   c_i(t) = phi_i(t) g_i,  phi_i(t) = (1 - decay_i(t)) / mu_i,
///   decay_i(t) = e^{-mu_i t} (GF) or (1 - eta mu_i)^t (GD);
///   train loss (E = 1) = residual_floor + sum_i z2_i decay_i(t)^2.
struct SpectralSolution {
  Vector<double> mu;             ///< (r) kernel eigenvalues, clipped at 0
  ColMatrix<double> D;           ///< (M, r) column-major; empty means the identity (r = M)
  ColMatrix<double> Y;           ///< (P, r) or empty when train predictions were not kept
  Vector<double> g;              ///< (r); 0 on numerically null modes
  Vector<double> z2;             ///< (r) squared train-residual components at t = 0
  double residual_floor = 0.0;   ///< (1/P)|y_perp|^2: the part of y no mode can fit
};

/// decay_i(t) and phi_i(t) of SpectralSolution for one mode; phi -> t (GF) or eta t (GD) as
/// mu -> 0, with expm1/log1p so that mu t << 1 keeps full precision.
void mode_factors(double mu, double t, const Schedule& schedule, double& decay, double& phi);

/// The map from a model's weights w to the latent coefficients beta: beta = scale *
/// matrix^T w for a finite width (matrix = the projection A (N, M) with scale 1/sqrt(N), or a
/// factor C^T with C C^T = A^T A), or the identity beta = w for the N = infinity model, whose
/// features are psi themselves. Views the matrix without copying it: the matrix must outlive
/// the Projection (pass a row-major matrix or a block of its rows).
class Projection {
 public:
  /// beta = scale * matrix^T w. \param matrix (n, M) row-major.
  Projection(const ConstRowRef<double>& matrix, double scale)
      : matrix_(matrix), scale_(scale), identity_(false) {}
  /// beta = w (N = infinity).
  static Projection identity() { return Projection(); }

  bool is_identity() const { return identity_; }
  /// (n, M); empty for the identity.
  const ConstRowRef<double>& matrix() const { return matrix_; }
  double scale() const { return scale_; }

 private:
  Projection() : matrix_(no_matrix()), scale_(1.0), identity_(true) {}
  static const RowMatrix<double>& no_matrix() {
    static const RowMatrix<double> empty;  // immutable: safe to share between threads
    return empty;
  }
  ConstRowRef<double> matrix_;
  double scale_;
  bool identity_;
};

/// Solution from explicit features.
/// \param F (P, n) row-major block of unscaled features; the model's features are
///        feature_scale * F (feature_scale = 1/sqrt(N) for F = Psi A^T).
/// \param projection w -> beta, with n rows (the identity: n = M, the features psi themselves).
/// \param y (P) training labels.
/// \param keep_predictions store Y (needed for the train loss of an ensemble).
SpectralSolution solve_from_features(const ConstRowRef<double>& F, double feature_scale,
                                     const Projection& projection,
                                     const Eigen::Ref<const Vector<double>>& y,
                                     bool keep_predictions, const RunControl& control);

/// Sufficient statistics of a training set for the covariance form: Sigma = Psi^T Psi / P,
/// q = Psi^T eps / P, e2 = eps^T eps / P. P = infinity is sigma = diag(spectrum), q = 0,
/// e2 = sigma^2.
struct CovarianceStats {
  ColMatrix<double> sigma;   ///< (M, M); empty means diagonal
  Vector<double> diagonal;   ///< (M) used when sigma is empty
  Vector<double> q;          ///< (M)
  double e2 = 0.0;
};

/// Solution from covariance statistics (no feature matrix: the Wishart path and P = infinity).
/// \param projection C^T (m, M) with B = A^T A / N = s^2 C C^T (s its scale), or the identity
///        (N = infinity).
SpectralSolution solve_from_covariance(const Projection& projection, const CovarianceStats& stats,
                                       const Eigen::Ref<const Vector<double>>& target,
                                       const RunControl& control);

/// Test and train losses of the averaged predictor of `members` at every time.
/// Train loss: one member -> the spectral formula; several -> from `train_labels` (P) and the
/// members' Y when given, else from `train_stats`.
/// \param test, train (T) outputs.
void evaluate_losses(const std::vector<SpectralSolution>& members, const LinearTask& task,
                     const std::vector<double>& times, const Schedule& schedule,
                     const Vector<double>* train_labels, const CovarianceStats* train_stats,
                     double* test, double* train, const RunControl& control);

/// A grid of GF/GD learning curves for one seed.
struct GridSpec {
  std::vector<Index> N;  ///< ascending widths; kInfinite allowed (last)
  std::vector<Index> P;  ///< ascending dataset sizes; kInfinite allowed (last)
  std::vector<double> times;
  Schedule schedule;
  Index ensemble = 1;
  bool wishart = false;      ///< sample A^T A / N and Psi^T Psi / P as Wishart matrices
  bool independent = false;  ///< fresh randomness per grid point instead of prefixes
};

/// Learning curves on the whole grid from one draw of randomness.
/// \param test, train (nN * nP, T) outputs; grid point (i, j) is row i * nP + j.
void linear_learning_curves(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                            Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                            const RunControl& control);

/// A grid of minibatch-SGD learning curves for one seed.
struct SgdSpec {
  std::vector<Index> N;             ///< ascending finite widths
  std::vector<Index> P;             ///< ascending dataset sizes; kInfinite = one pass (last)
  std::vector<std::int64_t> steps;  ///< ascending report steps >= 0
  Index batch_size = 1;
  double learning_rate = 0.1;
  Index ensemble = 1;
  /// Sample (A psi / sqrt(N), y) from their joint Gaussian law (dimension E N + 1) instead of
  /// drawing psi in R^M: exact in distribution, cheaper when E N + 1 < M.
  bool gaussian_shortcut = false;
  bool independent = false;
};

/// SGD curves. Multi-epoch (finite P): samples are visited in a fresh random order each epoch;
/// the train loss is the full-dataset MSE. One pass (P = infinity): every step draws fresh
/// samples; the train loss at step t is the MSE on the minibatch of step t before its update
/// (an unbiased estimate of test + sigma^2).
/// \param test, train (nN * nP, T) outputs as in linear_learning_curves.
void sgd_learning_curves(const LinearTask& task, const SgdSpec& spec, std::uint64_t key,
                         Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                         const RunControl& control);

/// Kernel gradient flow / descent with a precomputed Gram matrix K = Phi Phi^T / N of any
/// feature map: f(x) = w . phi(x) / sqrt(N), w(0) = 0, loss (1/2P) sum (f - y)^2, so the train
/// predictions follow d yhat/dt = -(K/P)(yhat - y).
/// \param K_train (P, P) Gram of the training inputs; a grid value P' uses its leading block.
/// \param K_test (Q, P) Gram between test and training inputs (Q may be 0).
/// \param P_grid ascending dataset sizes <= P.
/// \param test, train (nP, T) mean squared errors against y_test / y_train.
void kernel_learning_curves(const ConstRowRef<double>& K_train, const ConstRowRef<double>& K_test,
                            const Eigen::Ref<const Vector<double>>& y_train,
                            const Eigen::Ref<const Vector<double>>& y_test,
                            const std::vector<Index>& P_grid, const std::vector<double>& times,
                            const Schedule& schedule, Eigen::Ref<RowMatrix<double>> test,
                            Eigen::Ref<RowMatrix<double>> train, const RunControl& control);

/// The projection rows of ensemble member `member` (see the file comment): A (rows, M).
RowMatrix<double> projection_rows(std::uint64_t key, Index member, Index rows, Index M,
                                  const RunControl& control);

/// The data rows [first, first + rows): Psi (rows, M) and eps (rows) for `task`.
void data_rows(const LinearTask& task, std::uint64_t key, Index first, Index rows,
               RowMatrix<double>& psi, Vector<double>& eps, const RunControl& control);

}  // namespace scalinglab::dynamics
