// Unit tests of solvers.hpp: eigh against a closed-form spectrum, the three ridge routes (dual
// Cholesky, primal normal equations, eigendecomposition path) against each other, the ridge = 0
// pseudo-inverse limit, argument checks and stop requests.
#include <cmath>
#include <limits>
#include <string>
#include <stdexcept>
#include <vector>

#include <Eigen/Cholesky>

#include "check.hpp"
#include "scalinglab/random.hpp"
#include "scalinglab/solvers.hpp"

using namespace scalinglab;

namespace {

RowMatrixXd normal_matrix(Index rows, Index cols, std::uint64_t seed) {
  RowMatrixXd M(rows, cols);
  random::fill_normal(seed, random::kStreamUser, 0, M.data(), static_cast<std::size_t>(M.size()));
  return M;
}

}  // namespace

int main() {
  RunControl control;
  control.n_threads = 2;

  // ---- eigh: the second-difference matrix tridiag(-1, 2, -1) of size n has eigenvalues
  // 2 - 2 cos(k pi / (n + 1)), k = 1..n (ascending in k).
  {
    const Index n = 200;
    RowMatrixXd A = RowMatrixXd::Zero(n, n);
    for (Index i = 0; i < n; ++i) {
      A(i, i) = 2;
      if (i + 1 < n) A(i, i + 1) = A(i + 1, i) = -1;
    }
    const SymmetricEigen<double> full = eigh<double>(A, true, control);
    const SymmetricEigen<double> values_only = eigh<double>(A, false, control);
    double worst = 0, worst_values_only = 0;
    for (Index k = 0; k < n; ++k) {
      const double exact = 2 - 2 * std::cos((k + 1) * M_PI / (n + 1));
      worst = std::max(worst, std::abs(full.values(k) - exact));
      worst_values_only = std::max(worst_values_only, std::abs(values_only.values(k) - exact));
    }
    CHECK(worst < 1e-13);             // a few ulps of the largest eigenvalue (4)
    CHECK(worst_values_only < 1e-13);
    CHECK(values_only.vectors.size() == 0);
    // A U = U diag(e) and U^T U = I to rounding.
    const Eigen::MatrixXd residual = A * full.vectors - full.vectors * full.values.asDiagonal();
    CHECK(residual.cwiseAbs().maxCoeff() < 1e-12);
    const Eigen::MatrixXd gram = full.vectors.transpose() * full.vectors;
    CHECK((gram - Eigen::MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff() < 1e-12);
  }

  // ---- ridge: dual Cholesky, primal normal equations and the eigen path agree.
  {
    const Index P = 120, N = 80, k = 3;
    const RowMatrixXd Phi = normal_matrix(P, N, 7);
    const RowMatrixXd Y = normal_matrix(P, k, 8);
    const RowMatrixXd K = Phi * Phi.transpose() / static_cast<double>(N);
    const double ridge = 0.05;

    const RowMatrixXd alpha = ridge_dual<double>(K, Y, ridge, control);
    // Residual of (K + P ridge I) alpha = Y.
    const RowMatrixXd shifted = K + P * ridge * RowMatrixXd::Identity(P, P);
    CHECK(((shifted * alpha - Y).cwiseAbs().maxCoeff()) < 1e-10);

    NormalEquations<double> normal(N, k);
    normal.add(Phi.topRows(50), Y.topRows(50), control);
    normal.add(Phi.bottomRows(P - 50), Y.bottomRows(P - 50), control);
    CHECK(normal.n_samples() == P);
    const RowMatrixXd G = normal.gram();
    CHECK(((G - Phi.transpose() * Phi / static_cast<double>(N)).cwiseAbs().maxCoeff()) < 1e-12);
    const RowMatrixXd w = normal.solve(ridge, control);
    // w = F^T alpha with F = Phi / sqrt(N) (push-through identity).
    const RowMatrixXd w_from_dual = Phi.transpose() * alpha / std::sqrt(static_cast<double>(N));
    CHECK(((w - w_from_dual).cwiseAbs().maxCoeff()) < 1e-10 * w.cwiseAbs().maxCoeff());

    const RidgePath<double> path(K, Y, control);
    const RowMatrixXd alpha_path = path.dual_coef(ridge, control);
    CHECK(((alpha_path - alpha).cwiseAbs().maxCoeff()) < 1e-10 * alpha.cwiseAbs().maxCoeff());
    const std::vector<double> ridges{ridge, 10 * ridge};
    const auto train = path.train_predictions(ridges, control);
    CHECK(((train[0] - K * alpha).cwiseAbs().maxCoeff()) < 1e-10);
    const RowMatrixXd K_test = K.topRows(7);
    const auto test = path.test_predictions(K_test, ridges, control);
    CHECK(test.size() == 2 && test[1].rows() == 7 && test[1].cols() == k);
    const RowMatrixXd alpha10 = ridge_dual<double>(K, Y, 10 * ridge, control);
    CHECK(((test[1] - K_test * alpha10).cwiseAbs().maxCoeff()) < 1e-10);

    // float path: same answer to single precision.
    const RowMatrixXf Kf = K.cast<float>(), Yf = Y.cast<float>();
    const RowMatrixXf alpha_f = ridge_dual<float>(Kf, Yf, ridge, control);
    CHECK(((alpha_f.cast<double>() - alpha).cwiseAbs().maxCoeff()) <
          1e-4 * alpha.cwiseAbs().maxCoeff());
  }

  // ---- ridge = 0 with a singular Gram (N < P): Cholesky fails with LinAlgError, the path
  // gives the minimum-norm interpolator, whose train predictions are the projection of Y onto
  // the column space of Phi: Phi (Phi^T Phi)^{-1} Phi^T Y.
  {
    const Index P = 60, N = 20;
    const RowMatrixXd Phi = normal_matrix(P, N, 11);
    const RowMatrixXd Y = normal_matrix(P, 1, 12);
    const RowMatrixXd K = Phi * Phi.transpose() / static_cast<double>(N);
    bool raised = false;
    try {
      ridge_dual<double>(K, Y, 0.0, control);
    } catch (const LinAlgError&) {
      raised = true;
    }
    CHECK(raised);
    const RidgePath<double> path(K, Y, control);
    const RowMatrixXd fitted = path.train_predictions({0.0}, control)[0];
    const Eigen::MatrixXd normal = Phi.transpose() * Phi;
    const Eigen::MatrixXd projection = Phi * normal.ldlt().solve(Eigen::MatrixXd(Phi.transpose() * Y));
    CHECK(((fitted - projection).cwiseAbs().maxCoeff()) < 1e-9);
  }

  // ---- argument checks name the argument; stop requests throw Interrupted.
  {
    const RowMatrixXd K = RowMatrixXd::Identity(4, 4);
    const RowMatrixXd Y = RowMatrixXd::Ones(4, 1);
    CHECK(test::throws_invalid_argument([&] { ridge_dual<double>(K, Y, -1.0, control); }));
    CHECK(test::throws_invalid_argument([&] { ridge_dual<double>(K, Y.topRows(3), 1.0, control); }));
    CHECK(test::throws_invalid_argument(
        [&] { ridge_dual<double>(K, Y, std::numeric_limits<double>::quiet_NaN(), control); }));
    CHECK(test::throws_invalid_argument([&] { eigh<double>(K.leftCols(3), true, control); }));
    RowMatrixXd asymmetric = K;
    asymmetric(0, 3) = 1e-3;
    CHECK(test::throws_invalid_argument([&] { require_symmetric<double>(asymmetric, "gram", 1e-8); }));
    require_symmetric<double>(asymmetric, "gram", 1e-2);  // within a loose tolerance: no throw
    try {
      require_symmetric<double>(asymmetric, "gram", 1e-8);
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("`gram`") == 0);
    }
    CHECK(test::throws_invalid_argument([] { NormalEquations<double>(0, 1); }));

    RunControl stopped;
    stopped.should_stop = [] { return true; };
    bool interrupted = false;
    try {
      eigh<double>(K, true, stopped);
    } catch (const Interrupted&) {
      interrupted = true;
    }
    CHECK(interrupted);
  }

  TEST_MAIN_RETURN();
}
