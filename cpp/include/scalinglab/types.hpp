#pragma once
/// \file types.hpp
/// Matrix aliases shared by the whole core.
///
/// Data matrices (samples x features) are row-major so that numpy's default C order crosses the
/// Python boundary without a copy; LAPACK-facing matrices (eigenvectors, factors) are
/// column-major, as LAPACK wants them.
#include <Eigen/Core>
#include <cstdint>

namespace scalinglab {

using Index = Eigen::Index;

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

using RowMatrixXd = RowMatrix<double>;
using RowMatrixXf = RowMatrix<float>;

template <class T>
using ConstRowRef = Eigen::Ref<const RowMatrix<T>>;

}  // namespace scalinglab
