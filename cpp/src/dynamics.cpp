/// \file dynamics.cpp
/// The public entry points of the learning dynamics: argument checks, dispatch to the engines
/// (dynamics_explicit.cpp, dynamics_wishart.cpp, dynamics_sgd.cpp; kernel GF in
/// dynamics_kernel.cpp), independent grid points, and the data and projection draws every
/// engine shares. See dynamics.hpp for the conventions.
#include "scalinglab/dynamics.hpp"

#include <cmath>
#include <string>

#include "dynamics_internal.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::dynamics {
namespace detail {

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

void check_times(const std::vector<double>& times) {
  for (double t : times)
    require(std::isfinite(t) && t >= 0.0, "times", "must be finite and >= 0, got " + std::to_string(t));
}

void check_schedule(const Schedule& schedule) {
  if (schedule.optimizer == Optimizer::kGradientDescent)
    require(std::isfinite(schedule.learning_rate) && schedule.learning_rate > 0.0,
            "learning_rate", "must be > 0, got " + std::to_string(schedule.learning_rate));
}

}  // namespace detail

namespace {

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

using detail::omp_threads_for;

void LinearTask::validate() const {
  require(spectrum.size() >= 1, "spectrum", "expected at least one mode");
  require(target.size() == spectrum.size(), "target",
          "expected " + std::to_string(spectrum.size()) + " weights, got " + std::to_string(target.size()));
  require(spectrum.allFinite() && (spectrum.array() > 0.0).all(), "spectrum",
          "eigenvalues must be finite and > 0");
  require(target.allFinite(), "target", "contains NaN or infinity");
  require(std::isfinite(noise) && noise >= 0.0, "noise", "must be >= 0, got " + std::to_string(noise));
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

void linear_learning_curves(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                            Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                            const RunControl& control) {
  task.validate();
  detail::check_grid_values(grid.N, "N", false);
  detail::check_grid_values(grid.P, "P", false);
  detail::check_times(grid.times);
  detail::check_schedule(grid.schedule);
  require(grid.ensemble >= 1, "ensemble", "must be >= 1, got " + std::to_string(grid.ensemble));
  const Index nN = static_cast<Index>(grid.N.size());
  const Index nP = static_cast<Index>(grid.P.size());
  const Index T = static_cast<Index>(grid.times.size());
  detail::check_curve_outputs(test, train, nN * nP, T);
  if (T == 0) return;
  if (!grid.independent) {
    if (grid.wishart)
      detail::nested_wishart(task, grid, key, test, train, control);
    else
      detail::nested_explicit(task, grid, key, test, train, control);
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
  detail::check_grid_values(spec.N, "N", false);
  require(spec.N.back() != kInfinite, "N", "SGD needs finite widths");
  detail::check_grid_values(spec.P, "P", false);
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
  detail::check_curve_outputs(test, train, nN * nP, T);
  if (!spec.independent) {
    detail::sgd_nested(task, spec, key, test, train, control);
    return;
  }
  for_each_independent_point(spec, key, test, train, control,
                             [&](const SgdSpec& point, std::uint64_t point_key,
                                 Eigen::Ref<RowMatrix<double>> test_row,
                                 Eigen::Ref<RowMatrix<double>> train_row, const RunControl& quiet) {
                               detail::sgd_nested(task, point, point_key, test_row, train_row, quiet);
                             });
}

}  // namespace scalinglab::dynamics
