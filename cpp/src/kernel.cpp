/// \file kernel.cpp
/// Streamed random-feature Grams (syrk / gemm accumulation with checkpoint snapshots) and the
/// analytic kernels of the infinite-width limit.
#include "scalinglab/kernel.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/preactivation.hpp"

namespace scalinglab {
namespace {

constexpr double kPi = 3.14159265358979323846264338327950288;
constexpr Index kTile = 64;

// out = scale * S where S is the symmetric matrix whose upper triangle is that of `upper`.
// `out` may be `upper` itself. Each row tile reads only the upper triangle and writes only its
// own rows, so tiles run in parallel; tiles keep the transposed reads in cache.
template <class T>
void symmetric_scaled_copy(const RowMatrix<T>& upper, T scale, RowMatrix<T>& out,
                           int n_threads) {
  const Index n = upper.rows();
  const bool in_place = &out == &upper;
  // In place, the upper triangle must stay unscaled until every lower entry has been read off
  // it: copy first, scale afterwards.
  const T copy_scale = in_place ? T(1) : scale;
  if (!in_place) out.resize(n, n);
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
  for (Index i0 = 0; i0 < n; i0 += kTile) {
    const Index i1 = std::min(n, i0 + kTile);
    if (!in_place)
      for (Index i = i0; i < i1; ++i) out.row(i).tail(n - i) = scale * upper.row(i).tail(n - i);
    for (Index j0 = 0; j0 < i1; j0 += kTile) {
      const Index j1 = std::min(i1, j0 + kTile);
      for (Index i = i0; i < i1; ++i)
        for (Index j = j0; j < std::min(j1, i); ++j) out(i, j) = copy_scale * upper(j, i);
    }
  }
  if (in_place && scale != T(1)) {
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (Index i = 0; i < n; ++i) out.row(i) *= scale;
  }
}

// Flops of one update between two polls: ~0.2 s at the 100 GFLOP/s of two cores, so Ctrl-C
// is answered within about a second even when one block's update of a huge Gram is long.
constexpr double kFlopsPerPoll = 2e10;

Index panel_count(double flops, Index rows) {
  const double wanted = std::ceil(flops / kFlopsPerPoll);
  return static_cast<Index>(std::max(1.0, std::min(wanted, static_cast<double>(rows) / 256.0)));
}

// K (upper triangle) += phi phi^T, in row panels of K when the update is long, polling in
// between. accumulate_products continues each entry's FMA chain over the features from the
// stored sum (not BLAS syrk: its summation order changes with the kernel OpenBLAS picks, the
// thread split and the block boundaries), so K at width N is the same chain over features
// 0 .. N-1 for any block size, checkpoint list, thread count or CPU.
template <class T, class Block>
void accumulate_gram(const Block& phi, RowMatrix<T>& K, const RunControl& control) {
  const Index n = phi.rows();
  const Index panels = panel_count(static_cast<double>(n) * n * phi.cols(), n);
  const Index height = (n + panels - 1) / panels;
  for (Index r0 = 0; r0 < n; r0 += height) {
    if (r0 > 0) control.poll();
    const Index h = std::min(height, n - r0);
    accumulate_products<T>(phi.middleRows(r0, h), phi.middleRows(r0, n - r0),
                           K.block(r0, r0, h, n - r0), true, control.threads());
  }
}

// cross (m, n) += phi_z phi_x^T (the same chains), in row panels when long.
template <class T, class BlockZ, class BlockX>
void accumulate_cross(const BlockZ& phi_z, const BlockX& phi_x, RowMatrix<T>& cross,
                      const RunControl& control) {
  const Index m = phi_z.rows();
  const Index panels =
      panel_count(2.0 * static_cast<double>(m) * phi_x.rows() * phi_x.cols(), m);
  const Index height = (m + panels - 1) / panels;
  for (Index r0 = 0; r0 < m; r0 += height) {
    if (r0 > 0) control.poll();
    const Index h = std::min(height, m - r0);
    accumulate_products<T>(phi_z.middleRows(r0, h), phi_x, cross.middleRows(r0, h), false,
                           control.threads());
  }
}

// Checks and normalises the checkpoint list: strictly increasing, in [1, n_features].
std::vector<std::uint64_t> checked_checkpoints(std::vector<std::uint64_t> checkpoints,
                                               std::uint64_t n_features) {
  if (checkpoints.empty()) checkpoints.push_back(n_features);
  for (std::size_t i = 0; i < checkpoints.size(); ++i) {
    require(checkpoints[i] >= 1 && checkpoints[i] <= n_features, "checkpoints",
            "every checkpoint must be in [1, n_features = " + std::to_string(n_features) +
                "], got " + std::to_string(checkpoints[i]));
    require(i == 0 || checkpoints[i] > checkpoints[i - 1], "checkpoints",
            "must be strictly increasing");
  }
  return checkpoints;
}

}  // namespace

template <class T>
StreamedGrams<T> streamed_grams(const RandomFeatureMap& map, ConstRowRef<T> X, ConstRowRef<T> Z,
                                bool with_gram, std::vector<std::uint64_t> checkpoints,
                                Index block_size, const RunControl& control) {
  const Index d = map.d();
  require(X.cols() == d, "X",
          "expected shape (n, " + std::to_string(d) + "), got (" + std::to_string(X.rows()) +
              ", " + std::to_string(X.cols()) + ")");
  require(Z.rows() == 0 || Z.cols() == d, "Z",
          "expected shape (m, " + std::to_string(d) + "), got (" + std::to_string(Z.rows()) +
              ", " + std::to_string(Z.cols()) + ")");
  require(with_gram || Z.rows() > 0, "Z", "no Gram requested: Z is empty and with_gram is false");
  require(block_size >= 0, "block_size", "must be >= 0 (0 = automatic)");
  StreamedGrams<T> result;
  result.checkpoints = checked_checkpoints(std::move(checkpoints), map.n_features());
  const auto& marks = result.checkpoints;

  const Index n = X.rows();
  const Index m = Z.rows();
  const std::uint64_t total = marks.back();
  const Index block = static_cast<Index>(std::min<std::uint64_t>(
      total, static_cast<std::uint64_t>(block_size > 0 ? block_size
                                                       : default_block_size(n + m, d, sizeof(T)))));
  const int threads = control.threads();
  BlasThreadScope blas_threads(threads);
  BlasOnOpenMPScope blas_on_openmp;

  RowMatrix<T> gram_sum, cross_sum;
  if (with_gram) gram_sum.setZero(n, n);
  if (m > 0) cross_sum.setZero(m, n);
  RowMatrix<T> weights, phi_x(n, block), phi_z(m, block);
  Vector<T> phases;

  std::uint64_t done = 0;
  std::size_t next = 0;
  while (done < total) {
    control.poll();
    const std::uint64_t stop = std::min<std::uint64_t>(done + block, marks[next]);
    const Index width = static_cast<Index>(stop - done);
    map.weights<T>(done, stop, weights, threads);
    map.phases<T>(done, stop, phases);
    auto block_x = phi_x.leftCols(width);
    map.features_from_weights<T>(X, weights, phases, block_x, threads);
    if (with_gram) accumulate_gram(block_x, gram_sum, control);
    if (m > 0) {
      auto block_z = phi_z.leftCols(width);
      map.features_from_weights<T>(Z, weights, phases, block_z, threads);
      accumulate_cross(block_z, block_x, cross_sum, control);
    }
    done = stop;
    if (done == marks[next]) {
      const T scale = static_cast<T>(1.0 / static_cast<double>(done));
      const bool last = next + 1 == marks.size();
      if (with_gram) {
        if (last) {
          symmetric_scaled_copy(gram_sum, scale, gram_sum, threads);
          result.gram.push_back(std::move(gram_sum));
        } else {
          RowMatrix<T> snapshot;
          symmetric_scaled_copy(gram_sum, scale, snapshot, threads);
          result.gram.push_back(std::move(snapshot));
        }
      }
      if (m > 0) {
        if (last) {
          cross_sum *= scale;
          result.cross.push_back(std::move(cross_sum));
        } else {
          result.cross.emplace_back(scale * cross_sum);
        }
      }
      ++next;
    }
    control.progress(static_cast<double>(done) / static_cast<double>(total));
  }
  return result;
}

template <class T>
RowMatrix<T> streamed_gram(const RandomFeatureMap& map, ConstRowRef<T> X,
                           const RunControl& control) {
  RowMatrix<T> none(0, map.d());
  auto grams = streamed_grams<T>(map, X, none, true, {}, 0, control);
  return std::move(grams.gram.back());
}

template <class T>
RowMatrix<T> streamed_cross_gram(const RandomFeatureMap& map, ConstRowRef<T> Z, ConstRowRef<T> X,
                                 const RunControl& control) {
  require(Z.rows() > 0, "Z", "expected at least one row");
  auto grams = streamed_grams<T>(map, X, Z, false, {}, 0, control);
  return std::move(grams.cross.back());
}

template StreamedGrams<float> streamed_grams<float>(const RandomFeatureMap&, ConstRowRef<float>,
                                                    ConstRowRef<float>, bool,
                                                    std::vector<std::uint64_t>, Index,
                                                    const RunControl&);
template StreamedGrams<double> streamed_grams<double>(const RandomFeatureMap&,
                                                      ConstRowRef<double>, ConstRowRef<double>,
                                                      bool, std::vector<std::uint64_t>, Index,
                                                      const RunControl&);
template RowMatrix<float> streamed_gram<float>(const RandomFeatureMap&, ConstRowRef<float>,
                                               const RunControl&);
template RowMatrix<double> streamed_gram<double>(const RandomFeatureMap&, ConstRowRef<double>,
                                                 const RunControl&);
template RowMatrix<float> streamed_cross_gram<float>(const RandomFeatureMap&, ConstRowRef<float>,
                                                     ConstRowRef<float>, const RunControl&);
template RowMatrix<double> streamed_cross_gram<double>(const RandomFeatureMap&,
                                                       ConstRowRef<double>, ConstRowRef<double>,
                                                       const RunControl&);

// ---- analytic kernels -------------------------------------------------------------------------

namespace {

// K(i, j) = f(q_x[i], q_y[j], c_ij) with c = scale2 * X Y^T and q = scale2 * |row|^2. When Y is X
// the Gram comes from syrk and q is read off its diagonal, so c_ii == q_i exactly.
template <class F>
RowMatrix<double> dot_product_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, double scale2,
                                     int n_threads, F f) {
  require(X.cols() == Y.cols(), "Y",
          "expected " + std::to_string(X.cols()) + " columns (those of X), got " +
              std::to_string(Y.cols()));
  // BLAS refuses k = 0 (DSYRK "parameter 7 had an illegal value") and leaves K uninitialised.
  require(X.cols() >= 1, "X", "expected at least one column, got shape (" +
                                  std::to_string(X.rows()) + ", 0)");
  const Index n = X.rows(), m = Y.rows();
  const bool same = X.data() == Y.data() && n == m && X.outerStride() == Y.outerStride();
  const int threads = resolve_threads(n_threads);
  RowMatrix<double> K(n, m);
  Vector<double> qx(n), qy(m);
  {
    BlasThreadScope blas_threads(threads);
    BlasOnOpenMPScope blas_on_openmp;  // the elementwise loop below then finds no spinning BLAS
    if (same) {
      blas::syrk_rowmajor_upper(scale2, X, 0.0, K);
      symmetric_scaled_copy(K, 1.0, K, threads);
      qx = K.diagonal();
      qy = qx;
    } else {
      blas::gemm_rowmajor(false, true, scale2, X, Y, 0.0, K);
      qx = scale2 * X.rowwise().squaredNorm();
      qy = scale2 * Y.rowwise().squaredNorm();
    }
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < m; ++j) K(i, j) = f(qx[i], qy[j], K(i, j));
  return K;
}

double arccos_value(int degree, double qx, double qy, double c) {
  // sqrt(qx) sqrt(qy), not sqrt(qx qy): the product overflows for |x| |y| > 1e154.
  const double norms = std::sqrt(qx) * std::sqrt(qy);
  if (norms == 0.0) return 0.0;  // Theta(0) = 0: a zero input has zero features
  const double cosine = std::clamp(c / norms, -1.0, 1.0);
  const double theta = std::acos(cosine);
  const double sine = std::sqrt(std::max(0.0, 1.0 - cosine * cosine));
  switch (degree) {
    case 0:
      return (kPi - theta) / (2 * kPi);
    case 1:
      return norms * (sine + (kPi - theta) * cosine) / (2 * kPi);
    default:
      return norms * norms *
             (3 * sine * cosine + (kPi - theta) * (1 + 2 * cosine * cosine)) / (2 * kPi);
  }
}

double arcsin_value(double qx, double qy, double c) {
  // asin(u), u = 2c / (s_x s_y), s = sqrt(1 + 2q), as atan2(u, sqrt(1 - u^2)) with
  //   1 - u^2 = [1 + 2 qx + 2 qy + 4 (qx qy - c^2)] / (s_x s_y)^2
  // formed without the cancellation of 1 - u^2: asin near 1 turns a rounding of u into its
  // square root (|x| = |y| = 1e17 gave K(x, x) = 1 - 1e-8). On the diagonal c == qx == qy
  // exactly (syrk), so qx qy - c^2 vanishes exactly and K(x, x) comes out 1 - O(1/|x|^2).
  // Two square roots and scaled products, not the product of the roots' squares, which
  // overflows for |x| |y| > 1e154. A non-finite Gram entry stays NaN: the caller refuses it.
  const double den = std::sqrt(1 + 2 * qx) * std::sqrt(1 + 2 * qy);
  const double u = 2 * c / den;
  const double ax = qx / den, ay = qy / den, ac = c / den;
  // 1 + 2 (qx + qy), not 1 + 2 qx + 2 qy: symmetric in (x, y) to the last bit, so K == K^T.
  const double w = (1 + 2 * (qx + qy)) / den / den + 4 * std::max(0.0, ax * ay - ac * ac);
  return (2 / kPi) * std::atan2(u, std::sqrt(w));
}

// exp(-|u - v|^2 / 2) and exp(-|u + v|^2 / 2) with the squared distances clamped at 0 against
// rounding.
double gaussian_minus(double qx, double qy, double c) {
  return std::exp(-0.5 * std::max(0.0, qx + qy - 2 * c));
}
double gaussian_plus(double qx, double qy, double c) {
  return std::exp(-0.5 * std::max(0.0, qx + qy + 2 * c));
}

void check_lengthscale(double lengthscale) {
  require(std::isfinite(lengthscale) && lengthscale > 0, "lengthscale",
          "must be finite and > 0, got " + std::to_string(lengthscale));
}

}  // namespace

RowMatrix<double> linear_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, int n_threads) {
  return dot_product_kernel(X, Y, 1.0, n_threads, [](double, double, double c) { return c; });
}

RowMatrix<double> rbf_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, double lengthscale,
                             int n_threads) {
  check_lengthscale(lengthscale);
  return dot_product_kernel(X, Y, 1.0 / (lengthscale * lengthscale), n_threads, gaussian_minus);
}

RowMatrix<double> arccos_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, int degree,
                                int n_threads) {
  require(degree >= 0 && degree <= 2, "degree",
          "must be 0, 1 or 2, got " + std::to_string(degree));
  return dot_product_kernel(X, Y, 1.0, n_threads, [degree](double qx, double qy, double c) {
    return arccos_value(degree, qx, qy, c);
  });
}

RowMatrix<double> arcsin_kernel(ConstRowRef<double> X, ConstRowRef<double> Y, int n_threads) {
  return dot_product_kernel(X, Y, 1.0, n_threads, arcsin_value);
}

RowMatrix<double> infinite_width_kernel(Activation activation, double lengthscale,
                                        ConstRowRef<double> X, ConstRowRef<double> Y,
                                        int n_threads) {
  check_lengthscale(lengthscale);
  require(X.cols() >= 1, "X", "expected at least one column");
  const double scale2 = 1.0 / (lengthscale * lengthscale * static_cast<double>(X.cols()));
  switch (activation) {
    case Activation::kLinear:
      return dot_product_kernel(X, Y, scale2, n_threads,
                                [](double, double, double c) { return c; });
    case Activation::kRelu:
      return dot_product_kernel(X, Y, scale2, n_threads, [](double qx, double qy, double c) {
        return arccos_value(1, qx, qy, c);
      });
    case Activation::kErf:
      return dot_product_kernel(X, Y, scale2, n_threads, arcsin_value);
    case Activation::kCos:
      return dot_product_kernel(X, Y, scale2, n_threads, [](double qx, double qy, double c) {
        return 0.5 * (gaussian_minus(qx, qy, c) + gaussian_plus(qx, qy, c));
      });
    case Activation::kSin:
      return dot_product_kernel(X, Y, scale2, n_threads, [](double qx, double qy, double c) {
        return 0.5 * (gaussian_minus(qx, qy, c) - gaussian_plus(qx, qy, c));
      });
    case Activation::kFourier:
      return dot_product_kernel(X, Y, scale2, n_threads, gaussian_minus);
    case Activation::kTanh:
      break;
  }
  throw std::invalid_argument(std::string("`activation`: '") + activation_name(activation) +
                              "' has no closed-form infinite-width kernel; the ones with one are "
                              "linear, relu, erf, cos, sin, fourier");
}

}  // namespace scalinglab
