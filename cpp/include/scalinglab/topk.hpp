#pragma once
/// \file topk.hpp
/// Matrix-free top-k eigenpairs of a random-feature Gram K = Phi Phi^T / N that never forms K.
///
/// Randomized block subspace iteration with a Rayleigh-Ritz step after every product
/// (Halko, Martinsson & Tropp 2011, arXiv 0909.4061, Alg. 4.4; Saad, "Numerical Methods for
/// Large Eigenvalue Problems", 2nd ed., Sec. 5.1): with an orthonormal block Q (P x b),
///     W = K Q = sum over feature blocks B of Phi_B (Phi_B^T Q) / N,
///     H = Q^T W = S Theta S^T (b x b),  Ritz pairs (theta_i, Q s_i),
///     residual r_i = |W s_i - theta_i Q s_i|,   next Q = qr(W).
/// Each product regenerates the features block by block from the Philox streams of the map
/// (RandomFeatureMap::weights / features_from_weights), so memory is O(P b + P d + P B) for the
/// block size B of the feature stream, never O(P^2) or O(P N). The eigenvalue of index i < k
/// converges like (lambda_{b+1} / lambda_i)^{2 q} after q products, its residual like the square
/// root of that: oversampling (b > k) is what makes the last requested pairs converge.
///
/// Non-convergence is a status (TopKStatus::kMaxIterations) with the residuals, not an
/// exception. The start block is normal numbers of (seed, kStreamTopK) (random.hpp), so the
/// result is the same for any n_threads and feature block size up to summation order.
#include <cstdint>

#include "scalinglab/features.hpp"
#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab {

/// How a top-k solve ended.
enum class TopKStatus {
  kConverged,      ///< every requested pair met the residual tolerance
  kMaxIterations,  ///< stopped after max_iterations products; see residuals / n_converged
};

/// "converged" or "max_iterations".
const char* topk_status_name(TopKStatus status);

/// Settings of feature_gram_topk.
struct TopKOptions {
  Index k = 10;               ///< number of eigenpairs wanted (1 <= k <= P)
  Index oversample = -1;      ///< extra block columns; -1 = max(16, k / 4); b = min(k + oversample, P)
  int max_iterations = 100;   ///< products K Q at most (each is one pass over the features)
  double tol = 1e-6;          ///< converged when r_i <= tol * max(theta_i, 1e-8 theta_1)
  bool vectors = false;       ///< also return the Ritz vectors
  std::uint64_t seed = 0;     ///< key of the start block (stream kStreamTopK)
  Index block_size = 0;       ///< features per streamed block (0 = default_block_size)
};

/// Result of feature_gram_topk.
struct TopKResult {
  Vector<double> eigenvalues;  ///< (k) Ritz values theta_1 >= ... >= theta_k of K
  ColMatrix<double> vectors;   ///< (P, k) orthonormal Ritz vectors (empty unless requested)
  Vector<double> residuals;    ///< (k) |K v_i - theta_i v_i| (absolute, units of K)
  Index n_converged = 0;       ///< how many of the k pairs meet the tolerance
  int iterations = 0;          ///< products K Q done (= passes over the features)
  Index block = 0;             ///< b, the block width used
  TopKStatus status = TopKStatus::kMaxIterations;
};

/// Top-k eigenpairs of K = Phi(X) Phi(X)^T / N for the N = map.n_features() features of `map`.
/// Computed in float64.
/// \param map the random feature map (its weights are regenerated, never stored)
/// \param X (P, d) inputs, row-major
/// \param options see TopKOptions
/// \param control threads, Ctrl-C polling (between feature blocks), progress (fraction of
///        max_iterations passes)
TopKResult feature_gram_topk(const RandomFeatureMap& map, ConstRowRef<double> X,
                             const TopKOptions& options, const RunControl& control);

}  // namespace scalinglab
