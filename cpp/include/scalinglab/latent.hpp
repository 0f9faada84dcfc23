#pragma once
/// \file latent.hpp
/// The latent power-law data model of Maloney, Roberts & Sully (arXiv 2210.16859, "MRS"):
/// latent vectors x in R^M with independent coordinates x_I ~ N(0, lambda_I), drawn from the
/// counter-based streams of random.hpp, and the streamed second moments that random-feature
/// ridge regression on that data needs.
///
/// Sample s of a stream is the row (sqrt(lambda_I) g_{s M + I})_{I < M}, g_c the standard normal
/// number c of (seed, stream): the same for any number of samples, block of coordinates or
/// n_threads. Feature weights follow features.hpp (entry (j, I) of W is normal j M + I of
/// (feature_seed, kStreamFeatureWeights)), so the pre-activations u_j . x with u = W / sqrt(M)
/// are exactly those of RandomFeatureMap(M, N, ., feature_seed) applied to the samples.
#include <cstdint>

#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::latent {

/// Latent samples [start, stop) of (seed, stream).
/// \param seed 64-bit Philox key
/// \param stream random::kStreamLatentData (training) or random::kStreamLatentTest (held out)
/// \param std_devs (M) sqrt(lambda_I) > 0
/// \param start, stop sample range, start <= stop
/// \return (stop - start, M) row-major; row r is sample start + r
RowMatrix<double> samples(std::uint64_t seed, std::uint64_t stream, const Vector<double>& std_devs,
                          std::uint64_t start, std::uint64_t stop, const RunControl& control);

/// Every second moment that ridge regression on random features of latent data needs, averaged
/// over a Gaussian teacher w ~ N(0, T), T = diag(teacher_power), for n = n_train + n_test samples
/// (training samples 0 .. n_train - 1 of kStreamLatentData, then held-out samples 0 .. n_test - 1
/// of kStreamLatentTest) and features j < n_features with u_j = W_j / sqrt(M). X is the (n, M)
/// sample matrix, Lambda = diag(lambda). By the sign symmetry x_I -> -x_I of the data, the
/// expected loss for a fixed teacher equals that of the Gaussian teacher with T_I = w_I^2.
struct Moments {
  RowMatrix<double> preactivations;  ///< (n, N): X u^T, entry (s, j) = u_j . x_s
  RowMatrix<double> teacher_cross;   ///< (n, N): X T Lambda u^T = E_w[(X w)(u Lambda w)^T]
  RowMatrix<double> teacher_gram;    ///< (n, n): X T X^T = E_w[(X w)(X w)^T]
  RowMatrix<double> feature_covariance;  ///< (N, N): u Lambda u^T = Cov_x(u_j . x, u_k . x)
};

/// Streams over blocks of latent coordinates: each block of X and W is generated (Philox,
/// parallel over rows), multiplied in by BLAS (gemm, syrk) and dropped, so memory is
/// O((n + N)^2 + (n + N) block) and neither X nor W is ever held whole (M up to 1e5 and more).
/// \param data_seed key of the sample streams
/// \param std_devs (M) sqrt(lambda_I) > 0
/// \param teacher_power (M) T_I = E w_I^2 >= 0
/// \param n_train, n_test numbers of training and held-out samples (n_train + n_test >= 1)
/// \param feature_seed key of the feature weights (RandomFeatureMap's seed)
/// \param n_features N >= 1
/// \param block_size latent coordinates per block (0 = automatic)
/// \param control threads, Ctrl-C polling (between blocks) and progress
Moments moments(std::uint64_t data_seed, const Vector<double>& std_devs,
                const Vector<double>& teacher_power, Index n_train, Index n_test,
                std::uint64_t feature_seed, Index n_features, Index block_size,
                const RunControl& control);

}  // namespace scalinglab::latent
