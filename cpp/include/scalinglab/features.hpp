#pragma once
/// \file features.hpp
/// Random feature maps generated block by block from the Philox streams of random.hpp.
///
/// Feature j of a map with input dimension d is
///     phi_j(x) = sigma(w_j . x / (lengthscale * sqrt(d)) + b_j),
/// where w_j in R^d is row j of a Gaussian matrix W (n_features x d) whose entry (j, i) is normal
/// number j * d + i of (seed, kStreamFeatureWeights), and b_j = 2 pi u_j with u_j uniform number j
/// of (seed, kStreamFeaturePhases) for the `fourier` activation (b_j = 0 otherwise). W is never
/// stored: any block of rows is regenerated on demand, by any number of threads, with the same
/// values, and the pre-activation w_j . x is one FMA chain (preactivation.hpp), so feature j
/// of input x is bit-identical whatever the block size, the block boundaries, the start/stop
/// range, the other rows of X, n_threads, the BLAS library or the CPU (AVX2, AVX-512).
///
/// Activations (sigma): linear z, relu max(z, 0), erf, tanh, cos, sin, and `fourier`:
/// sqrt(2) cos(z + b_j), the random Fourier features of Rahimi & Recht (NIPS 2007) whose kernel
/// is exp(-|x - y|^2 / (2 d lengthscale^2)). Infinite-width kernels are in kernel.hpp.
#include <cstdint>
#include <string>

#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab {

/// While alive, OpenBLAS runs the jobs of its threaded calls on OpenMP threads instead of its own
/// pthreads pool. The streamed loops alternate BLAS calls with OpenMP loops; with two pools, the
/// idle threads of one spin on the cores the other needs.
class BlasOnOpenMPScope {
 public:
  BlasOnOpenMPScope();
  ~BlasOnOpenMPScope();
  BlasOnOpenMPScope(const BlasOnOpenMPScope&) = delete;
  BlasOnOpenMPScope& operator=(const BlasOnOpenMPScope&) = delete;
};

/// The nonlinearity sigma of a random feature map.
enum class Activation { kLinear, kRelu, kErf, kTanh, kCos, kSin, kFourier };

/// Activation from its name ("linear", "relu", "erf", "tanh", "cos", "sin", "fourier"); throws
/// std::invalid_argument naming `activation` and listing the valid names otherwise.
Activation parse_activation(const std::string& name);
/// The name parse_activation accepts for `activation`.
const char* activation_name(Activation activation);
/// The valid names, comma separated (for error messages).
const char* activation_names();

/// A random feature map x -> (phi_j(x))_{j < n_features}, described by a handful of numbers.
/// Cheap to copy; holds no weights.
class RandomFeatureMap {
 public:
  /// \param d input dimension (>= 1)
  /// \param n_features number of features N (>= 1)
  /// \param activation the nonlinearity sigma
  /// \param seed the 64-bit Philox key of W (and of the phases b)
  /// \param lengthscale pre-activations are w . x / (lengthscale sqrt(d)); must be > 0
  RandomFeatureMap(Index d, std::uint64_t n_features, Activation activation, std::uint64_t seed,
                   double lengthscale = 1.0);

  Index d() const { return d_; }
  std::uint64_t n_features() const { return n_features_; }
  Activation activation() const { return activation_; }
  std::uint64_t seed() const { return seed_; }
  double lengthscale() const { return lengthscale_; }
  /// The factor 1 / (lengthscale sqrt(d)) applied to W x.
  double input_scale() const { return input_scale_; }

  /// Rows [start, stop) of W, generated in parallel over rows.
  /// \param out (stop - start, d), row-major, resized if needed.
  template <class T>
  void weights(std::uint64_t start, std::uint64_t stop, RowMatrix<T>& out, int n_threads) const;

  /// Phases b_j for j in [start, stop) (zeros unless the activation is `fourier`).
  /// \param out (stop - start) values in [0, 2 pi).
  template <class T>
  void phases(std::uint64_t start, std::uint64_t stop, Vector<T>& out) const;

  /// Features of X given the weight rows W of features [first, first + W.rows()):
  /// out = sigma(X W^T * input_scale + b). The pre-activations come from preactivations()
  /// (preactivation.hpp): entry (i, j) is one FMA chain over k, so it is bit-identical for any
  /// number of rows of X, any block of features, any thread count and any SIMD level; then
  /// sigma is applied in parallel over rows (element-wise, so the same holds for out).
  /// \param X (n, d) inputs
  /// \param W (B, d) rows of the weight matrix, from weights()
  /// \param b (B) phases, from phases() (only read for `fourier`)
  /// \param out (n, B) output; may be a block of a wider row-major matrix
  template <class T>
  void features_from_weights(ConstRowRef<T> X, const RowMatrix<T>& W, const Vector<T>& b,
                             Eigen::Ref<RowMatrix<T>> out, int n_threads) const;

  /// Applies sigma in place to pre-activations Z (n, B) of features with phases b (B).
  template <class T>
  void activate(Eigen::Ref<RowMatrix<T>> Z, const Vector<T>& b, int n_threads) const;

  /// Explicit features phi_j(x_i) for j in [start, stop), generated block by block.
  /// \param X (n, d) inputs
  /// \return (n, stop - start), column c is feature start + c
  /// \param block_size features per block (0 = automatic)
  template <class T>
  RowMatrix<T> transform(ConstRowRef<T> X, std::uint64_t start, std::uint64_t stop,
                         const RunControl& control, Index block_size = 0) const;

 private:
  Index d_;
  std::uint64_t n_features_;
  Activation activation_;
  std::uint64_t seed_;
  double lengthscale_;
  double input_scale_;
};

/// The number of features per block for a pass over `rows` inputs (sum of the rows of every
/// input matrix) in dimension d with `scalar_bytes`-byte scalars: large enough for BLAS to
/// run near its peak (up to 4096), small enough that the feature and weight blocks together
/// stay within about 64 MiB (never below 256), and a multiple of 64.
Index default_block_size(Index rows, Index d, std::size_t scalar_bytes);

}  // namespace scalinglab
