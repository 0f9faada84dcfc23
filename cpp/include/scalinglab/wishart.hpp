#pragma once
/// \file wishart.hpp
/// Exact Gaussian shortcuts: Wishart matrices W_M(n, I) = G^T G (G an n x M matrix of i.i.d.
/// standard normals) sampled at a cost that does not grow with n.
///
/// For n >= M the Bartlett decomposition (Bartlett 1933; e.g. Anderson, "An Introduction to
/// Multivariate Statistical Analysis", Thm 7.2.1) gives W = L L^T with L lower triangular,
/// L_ii^2 ~ chi^2_{n-i} (0-based i) and L_ij ~ N(0, 1) for i > j, all independent: O(M^2)
/// random numbers and O(M^3) flops whatever n is. For n < M the Wishart matrix is singular (rank
/// n) and has no Bartlett factor; it is then sampled as G^T G from an explicit G, which costs
/// O(n M^2) < O(M^3), so the cost bound O(M^3) holds for every n.
///
/// Randomness is keyed like the rest of the core (random.hpp): a matrix is a pure function of
/// (seed, M, n), identical for any n_threads.
#include <cstdint>

#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::wishart {

/// A chi-square variate with `dof` > 0 degrees of freedom (2 x Gamma(dof/2), Marsaglia & Tsang
/// 2000, "A simple method for generating gamma variables", ACM TOMS 26(3)), exact up to
/// rounding. A pure function of (seed, index): the normals and uniforms of its rejection loop
/// come from a key derived from both.
double chi_square(std::uint64_t seed, std::uint64_t index, double dof);

/// The chi-square variates number 0 .. count-1 of `seed`: out[i] = chi_square(seed, i, dof).
/// \param count >= 0
/// \return (count) variates; a smaller count is a prefix of a larger one.
Vector<double> chi_square_variates(std::uint64_t seed, double dof, Index count);

/// The Bartlett factor: lower-triangular L with L L^T ~ W_M(n, I).
/// \param seed 64-bit key
/// \param M dimension, >= 1
/// \param n degrees of freedom, >= M
/// \return L (M, M) column-major, zero above the diagonal, positive diagonal.
ColMatrix<double> bartlett_factor(std::uint64_t seed, Index M, Index n);

/// W ~ W_M(n, I) for any n >= 1: Bartlett L L^T when n >= M, explicit G^T G when n < M.
/// \return W (M, M) column-major, symmetric (both triangles filled).
ColMatrix<double> sample_wishart(std::uint64_t seed, Index M, Index n, const RunControl& control);

/// The n x M Gaussian matrix behind sample_wishart for n < M: entry (j, k) is normal number
/// j * M + k of (seed, kStreamWishart), so a matrix with fewer rows is a prefix.
/// \return G (n, M) row-major
RowMatrix<double> gaussian_rows(std::uint64_t seed, Index n, Index M, const RunControl& control);

}  // namespace scalinglab::wishart
