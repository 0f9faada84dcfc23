#pragma once
/// \file kernel.hpp
/// Kernel (Gram) matrices: streamed random-feature Grams and the analytic infinite-width limits.
///
/// Streamed Grams. For a RandomFeatureMap with features phi_j, the Gram at width N is
///     K_N(x, y) = (1/N) sum_{j < N} phi_j(x) phi_j(y).
/// streamed_grams() generates the features in blocks (weights from Philox, pre-activations and
/// activation, features.hpp) and accumulates Phi(X) Phi(X)^T (upper triangle) and
/// Phi(Z) Phi(X)^T with accumulate_products (preactivation.hpp): each entry is one FMA chain over
/// the features, continued from block to block, so the Grams are bit-identical for any block
/// size, checkpoint list, thread count, row subset or CPU, and the snapshot at checkpoint N is
/// the Gram of the first N features bit for bit. The feature matrix is never stored (memory
/// O(n^2 + n * block)). Blocks are split at the
/// checkpoints, where a scaled (and symmetrised) copy of the running sum is taken, so the Grams
/// at every N in a grid cost one pass to the largest N.
///
/// Analytic kernels. With u = x / (lengthscale sqrt(d)) and w ~ N(0, I_d), the N -> infinity
/// limit of K_N is E_w[sigma(w.u_x + b) sigma(w.u_y + b)]; in terms of q_x = |u_x|^2,
/// q_y = |u_y|^2 and c = u_x . u_y:
///   linear : c
///   relu   : arc-cosine kernel of degree 1 (Cho & Saul, NIPS 2009), sqrt(q_x q_y) J_1(theta) / (2 pi),
///            cos(theta) = c / sqrt(q_x q_y), J_1 = sin(theta) + (pi - theta) cos(theta)
///   erf    : arcsine kernel (Williams, NIPS 1997), (2/pi) asin(2c / sqrt((1 + 2 q_x)(1 + 2 q_y)))
///   cos    : exp(-(q_x + q_y)/2) cosh(c)
///   sin    : exp(-(q_x + q_y)/2) sinh(c)
///   fourier: exp(-(q_x + q_y - 2c)/2) = exp(-|x - y|^2 / (2 d lengthscale^2))  (RBF)
///   tanh   : no closed form (std::invalid_argument).
#include <cstdint>
#include <vector>

#include "scalinglab/features.hpp"
#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab {

/// Grams at every checkpoint of one streamed pass.
template <class T>
struct StreamedGrams {
  std::vector<std::uint64_t> checkpoints;  ///< the widths N, increasing
  std::vector<RowMatrix<T>> gram;   ///< (n, n) Phi(X) Phi(X)^T / N per checkpoint (if requested)
  std::vector<RowMatrix<T>> cross;  ///< (m, n) Phi(Z) Phi(X)^T / N per checkpoint (if Z has rows)
};

/// One pass over the features [0, checkpoints.back()) of `map`.
/// \param X (n, d) inputs of the symmetric Gram (and the columns of the cross Gram)
/// \param Z (m, d) inputs of the rows of the cross Gram; m = 0 for none
/// \param with_gram whether to accumulate Phi(X) Phi(X)^T
/// \param checkpoints strictly increasing widths in [1, map.n_features()]; empty = {n_features}
/// \param block_size features per block (0 = default_block_size)
/// Memory: the running sums (n^2 [+ m n]) + one snapshot per earlier checkpoint + the feature
/// blocks ((n + m) * block) and one weight block (block * d). The last snapshot is the running
/// sum itself. Polls `control` between blocks; reports the fraction of features done.
template <class T>
StreamedGrams<T> streamed_grams(const RandomFeatureMap& map, ConstRowRef<T> X, ConstRowRef<T> Z,
                                bool with_gram, std::vector<std::uint64_t> checkpoints,
                                Index block_size, const RunControl& control);

/// K (n, n) = Phi(X) Phi(X)^T / N with all N = map.n_features() features.
template <class T>
RowMatrix<T> streamed_gram(const RandomFeatureMap& map, ConstRowRef<T> X,
                           const RunControl& control);

/// K (m, n) = Phi(Z) Phi(X)^T / N with all N = map.n_features() features.
template <class T>
RowMatrix<T> streamed_cross_gram(const RandomFeatureMap& map, ConstRowRef<T> Z, ConstRowRef<T> X,
                                 const RunControl& control);

// ---- analytic kernels (double precision), K (n, m) for X (n, d) and Y (m, d) ----------------
// When Y is X itself (same data pointer and shape) the Gram is computed with syrk and is exactly
// symmetric.

/// K = X Y^T.
RowMatrix<double> linear_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, int n_threads = 0);
/// K = exp(-|x - y|^2 / (2 lengthscale^2)).
RowMatrix<double> rbf_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, double lengthscale,
                             int n_threads = 0);
/// K = E_{w ~ N(0, I)}[Theta(w.x) Theta(w.y) (w.x)^n (w.y)^n] = |x|^n |y|^n J_n(theta) / (2 pi),
/// which is half of Cho & Saul's k_n (NIPS 2009, eq. 1-3). degree n in {0, 1, 2}; degree 1 is
/// E[relu(w.x) relu(w.y)].
RowMatrix<double> arccos_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, int degree,
                                int n_threads = 0);
/// K = E_{w ~ N(0, I)}[erf(w.x) erf(w.y)] = (2/pi) asin(2 x.y / sqrt((1 + 2|x|^2)(1 + 2|y|^2)))
/// (Williams, NIPS 1997, with the input covariance I).
RowMatrix<double> arcsin_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, int n_threads = 0);
/// The N -> infinity limit of the Gram of RandomFeatureMap(d, N, activation, seed, lengthscale)
/// (see the table at the top of this file). Throws std::invalid_argument naming `activation`
/// for tanh.
RowMatrix<double> infinite_width_kernel(Activation activation, double lengthscale,
                                        ConstRowRef<double> X, ConstRowRef<double> Y,
                                        int n_threads = 0);

}  // namespace scalinglab
