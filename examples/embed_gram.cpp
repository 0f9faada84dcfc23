// Embedding the scalinglab core in another simulator: draw reproducible Gaussian data from a
// Philox stream and report a few numbers. Built and run by ctest (test example_find_package).
#include <cstdio>
#include <vector>

#include "scalinglab/random.hpp"

int main() {
  const std::uint64_t seed = 2024;
  std::vector<double> data(4000);
  scalinglab::random::fill_normal(seed, scalinglab::random::kStreamUser, 0, data.data(), data.size());
  double second_moment = 0;
  for (double v : data) second_moment += v * v;
  second_moment /= data.size();
  std::printf("mean square of 4000 normals: %.4f\n", second_moment);
  return (second_moment > 0.9 && second_moment < 1.1) ? 0 : 1;
}
