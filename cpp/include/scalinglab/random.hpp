#pragma once
/// \file random.hpp
/// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers:
/// as easy as 1, 2, 3").
///
/// A number is a pure function of (seed, stream, counter): nothing is carried between calls, so
/// a block of numbers can be produced by any thread, in any order, with the same result. The
/// core keys its randomness as follows (the `stream` argument):
///   - kStreamFeatureWeights: entry (j, i) of a random-feature weight matrix W (n_features x d)
///     is normal number j * d + i; feature j is therefore the same for any block size and any
///     n_threads, and a model with N' < N features is a prefix of the model with N.
///   - kStreamFeaturePhases: phase b_j of random Fourier features is uniform number j.
///   - kStreamProjection: row j of ensemble member e's projection A (N x M) is normal numbers
///     j * M .. j * M + M - 1 under key derive_seed(key, e), so N' < N is a prefix of N.
///   - kStreamData: sample s of the dynamics simulator (its M latent features, or for SGD the
///     joint Gaussian row (features, label) of width + 1 numbers) starts at normal s * width.
///   - kStreamNoise: label noise of sample s is normal number s.
///   - kStreamSgd: the minibatch order of epoch e is the argsort of uniforms e * P .. e * P + P - 1.
///   - kStreamWishart: Wishart shortcut draws (Bartlett factor entry (i, j) is normal
///     i (i - 1) / 2 + j; Gaussian rows j * M ..); the chi-square rejection loops use the
///     sub-stream kStreamWishart | 2^32 for their uniforms, under keys derive_seed(seed, i).
///   - kStreamBootstrap: resample b of a bootstrap draws its G groups from uniforms
///     b * G .. b * G + G - 1 (scaling_fit.hpp, bootstrap_counts).
///   - kStreamUser and above: free for embedding programs.
#include <cstddef>
#include <cstdint>

namespace scalinglab::random {

enum Stream : std::uint64_t {
  kStreamFeatureWeights = 0,
  kStreamFeaturePhases = 1,
  kStreamProjection = 2,
  kStreamData = 3,
  kStreamNoise = 4,
  kStreamSgd = 5,
  kStreamWishart = 6,
  kStreamBootstrap = 7,
  kStreamUser = 1024,
};

/// One Philox4x32-10 block: 4 independent 32-bit words for a 128-bit counter and 64-bit key.
/// counter = (counter_lo, counter_hi, stream_lo, stream_hi), key = (seed_lo, seed_hi).
void philox4x32(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter,
                std::uint32_t out[4]);

/// out[i] = standard normal number (counter_start + i) of (seed, stream), i in [0, n).
/// Numbers come from Box-Muller on consecutive Philox words, so the value at a counter does not
/// depend on counter_start or n.
void fill_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start,
                 double* out, std::size_t n);
void fill_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start,
                 float* out, std::size_t n);

/// out[i] = uniform number in the open interval (0, 1) at counter (counter_start + i).
void fill_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start,
                  double* out, std::size_t n);

/// Derives an independent 64-bit seed for sub-task `index` of `seed` (e.g. one per ensemble
/// member or per grid point), by hashing through Philox itself.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index);

}  // namespace scalinglab::random
