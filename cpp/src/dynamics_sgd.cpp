/// \file dynamics_sgd.cpp
/// The SGD engine: minibatch SGD by iteration on every width and ensemble member of a grid at
/// once, on the same minibatches: a batch source (fresh samples, or epochs of a dataset), the
/// loss reports and the update. See dynamics.hpp (SgdSpec, sgd_learning_curves).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "dynamics_internal.hpp"
#include "scalinglab/blas.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::dynamics::detail {
namespace {

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

// One model of the run: width spec.N[width_index], ensemble member `member`, weights w (N).
struct SgdModel {
  Index width_index;  // index into spec.N
  Index N;
  Index member;
  Vector<double> w;
};

// The minibatch of each step. One pass (P = infinity): fresh samples, generated for a block of
// steps at once. Multi-epoch (finite P): the samples of the dataset, visited in a fresh random
// order each epoch (the argsort of P uniforms keyed by (key, epoch)).
class BatchSource {
 public:
  BatchSource(const FeatureSampler& sampler, Index P, Index batch_size,
              const RowMatrix<double>& data_features, const Vector<double>& data_labels,
              std::uint64_t key)
      : sampler_(sampler),
        P_(P),
        B_(batch_size),
        block_steps_(std::max<Index>(1, 2048 / batch_size)),
        data_features_(data_features),
        data_labels_(data_labels),
        key_(key) {}

  /// The minibatch of `step` (asked for in increasing order of steps): features (B, width) and
  /// labels (B), both already of that size.
  void fill(std::int64_t step, RowMatrix<double>& features, Vector<double>& labels,
            const RunControl& control) {
    if (P_ == kInfinite) {
      if (block_first_step_ < 0 || step >= block_first_step_ + block_steps_) {
        block_first_step_ = step;
        sampler_.rows(step * B_, block_steps_ * B_, block_features_, block_labels_, control);
      }
      const Index offset = (step - block_first_step_) * B_;
      features = block_features_.middleRows(offset, B_);
      labels = block_labels_.segment(offset, B_);
      return;
    }
    for (Index b = 0; b < B_; ++b) {
      const std::int64_t position = step * B_ + b;
      const std::int64_t epoch = position / P_;
      if (epoch != order_epoch_) shuffle(epoch);
      const Index sample = order_[static_cast<std::size_t>(position % P_)];
      features.row(b) = data_features_.row(sample);
      labels[b] = data_labels_[sample];
    }
  }

 private:
  void shuffle(std::int64_t epoch) {
    uniforms_.resize(P_);
    random::fill_uniform(key_, random::kStreamSgd,
                         static_cast<std::uint64_t>(epoch) * static_cast<std::uint64_t>(P_),
                         uniforms_.data(), static_cast<std::size_t>(P_));
    order_.resize(static_cast<std::size_t>(P_));
    std::iota(order_.begin(), order_.end(), Index{0});
    std::stable_sort(order_.begin(), order_.end(),
                     [&](Index a, Index c) { return uniforms_[a] < uniforms_[c]; });
    order_epoch_ = epoch;
  }

  const FeatureSampler& sampler_;
  Index P_;
  Index B_;
  Index block_steps_;  // one pass: steps generated at once
  const RowMatrix<double>& data_features_;
  const Vector<double>& data_labels_;
  std::uint64_t key_;
  // One pass: the current block of samples.
  RowMatrix<double> block_features_;
  Vector<double> block_labels_;
  Index block_first_step_ = -1;
  // Multi-epoch: the order of the current epoch.
  std::vector<Index> order_;
  std::int64_t order_epoch_ = -1;
  Vector<double> uniforms_;
};

// Losses of the averaged predictor of each width, before this step's update, into column
// `column` of the rows of dataset `p_index`: test exactly, train as the MSE on the first `rows`
// rows of (features, labels) (the minibatch for one pass, the whole dataset otherwise).
void report_losses(const LinearTask& task, const SgdSpec& spec, const std::vector<SgdModel>& models,
                   const RowMatrix<double>& A_cat, const RowMatrix<double>& features,
                   const Vector<double>& labels, Index rows, Index p_index, Index column,
                   Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train) {
  const Index E = spec.ensemble;
  const Index Nmax = finite_max(spec.N);
  const Index nP = static_cast<Index>(spec.P.size());
  for (std::size_t i = 0; i < spec.N.size(); ++i) {
    const Index N = spec.N[i];
    const double scale = 1.0 / std::sqrt(static_cast<double>(N));
    Vector<double> v = task.target;
    Vector<double> residual = labels.head(rows);
    for (const SgdModel& model : models) {
      if (model.width_index != static_cast<Index>(i)) continue;
      const Index e = model.member;
      v.noalias() -= (scale / E) * (A_cat.middleRows(e * Nmax, N).transpose() * model.w);
      residual.noalias() -= (scale / E) * (features.block(0, e * Nmax, rows, N) * model.w);
    }
    const Index row = static_cast<Index>(i) * nP + p_index;
    test(row, column) = v.cwiseAbs2().dot(task.spectrum);
    train(row, column) = residual.squaredNorm() / static_cast<double>(residual.size());
  }
}

// One SGD step of every model on the minibatch (batch (B, E Nmax), labels (B)). Each model's
// update touches only its own weights: the result is the same for any number of threads. No
// BLAS in here (Eigen matrix-vector products only).
void update_models(std::vector<SgdModel>& models, const RowMatrix<double>& batch,
                   const Vector<double>& batch_labels, Index Nmax, double eta, int threads) {
  const Index n_models = static_cast<Index>(models.size());
  const double B = static_cast<double>(batch.rows());
#pragma omp parallel for num_threads(threads) schedule(dynamic) if (n_models > 1)
  for (Index m = 0; m < n_models; ++m) {
    SgdModel& model = models[static_cast<std::size_t>(m)];
    const double scale = 1.0 / std::sqrt(static_cast<double>(model.N));
    const auto X = batch.middleCols(model.member * Nmax, model.N);
    const Vector<double> residual = batch_labels - scale * (X * model.w);
    model.w.noalias() += (eta * scale / B) * (X.transpose() * residual);
  }
}

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
  const bool one_pass = P == kInfinite;

  std::vector<SgdModel> models;
  for (std::size_t i = 0; i < spec.N.size(); ++i)
    for (Index e = 0; e < E; ++e)
      models.push_back({static_cast<Index>(i), spec.N[i], e, Vector<double>::Zero(spec.N[i])});
  const Index n_models = static_cast<Index>(models.size());

  const std::int64_t t_max = spec.steps.back();
  BatchSource batches(sampler, P, B, data_features, data_labels, key);
  RowMatrix<double> batch(B, sampler.width());
  Vector<double> batch_labels(B);
  std::size_t next_report = 0;
  // Per-step work is tiny; threads only pay off with many wide models.
  const int threads = omp_threads_for(control, 2.0 * static_cast<double>(B) * Nmax * n_models * 100.0);

  for (std::int64_t step = 0; step <= t_max; ++step) {
    const bool report = next_report < spec.steps.size() && spec.steps[next_report] == step;
    const bool update = step < t_max;
    if (update || (report && one_pass)) batches.fill(step, batch, batch_labels, control);
    for (; next_report < spec.steps.size() && spec.steps[next_report] == step; ++next_report) {
      const Index column = static_cast<Index>(next_report);
      if (one_pass)
        report_losses(task, spec, models, A_cat, batch, batch_labels, B, p_index, column, test, train);
      else
        report_losses(task, spec, models, A_cat, data_features, data_labels, P, p_index, column,
                      test, train);
    }
    if (update) update_models(models, batch, batch_labels, Nmax, spec.learning_rate, threads);
    if ((step & 255) == 0) {
      control.poll();
      control.progress(static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(t_max, 1)));
    }
  }
}

}  // namespace

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

}  // namespace scalinglab::dynamics::detail
