// Unit tests of random.hpp: Philox known answers, counter independence, moments.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "scalinglab/random.hpp"

using namespace scalinglab;

int main() {
  // Known-answer vectors of Philox4x32-10 (Random123 kat_vectors): counter and key all zero,
  // and the digits of pi.
  std::uint32_t words[4];
  random::philox4x32(0, 0, 0, words);
  CHECK(words[0] == 0x6627e8d5u && words[1] == 0xe169c58du);
  CHECK(words[2] == 0xbc57ac4cu && words[3] == 0x9b00dbd8u);
  // counter = (243f6a88, 85a308d3, 13198a2e, 03707344), key = (a4093822, 299f31d0)
  random::philox4x32(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, words);
  CHECK(words[0] == 0xd16cfe09u && words[1] == 0x94fdccebu);
  CHECK(words[2] == 0x5001e420u && words[3] == 0x24126ea1u);

  // A number depends on its counter only, not on where the fill started or how long it is.
  std::vector<double> whole(1000), part(137);
  random::fill_normal(42, 7, 0, whole.data(), whole.size());
  random::fill_normal(42, 7, 333, part.data(), part.size());
  bool same = true;
  for (std::size_t i = 0; i < part.size(); ++i) same = same && part[i] == whole[333 + i];
  CHECK(same);

  // float fills are the double numbers rounded.
  std::vector<float> single(1000);
  random::fill_normal(42, 7, 0, single.data(), single.size());
  CHECK(single[10] == static_cast<float>(whole[10]));

  // Moments of 2^20 normals: mean 0 +- 5 SE, variance 1 +- 5 SE, kurtosis 3.
  const std::size_t n = 1u << 20;
  std::vector<double> z(n);
  random::fill_normal(1, 0, 0, z.data(), n);
  double m1 = 0, m2 = 0, m4 = 0;
  for (double v : z) {
    m1 += v;
    m2 += v * v;
    m4 += v * v * v * v;
  }
  m1 /= n;
  m2 /= n;
  m4 /= n;
  CHECK_CLOSE(m1, 0.0, 5.0 / std::sqrt(double(n)));
  CHECK_CLOSE(m2, 1.0, 5.0 * std::sqrt(2.0 / n));
  CHECK_CLOSE(m4, 3.0, 5.0 * std::sqrt(96.0 / n));

  // Different streams and seeds give different numbers; derived seeds differ.
  std::vector<double> other(8);
  random::fill_normal(42, 8, 0, other.data(), other.size());
  CHECK(other[0] != whole[0]);
  CHECK(random::derive_seed(1, 0) != random::derive_seed(1, 1));
  CHECK(random::derive_seed(1, 0) != random::derive_seed(2, 0));

  std::vector<double> u(100000);
  random::fill_uniform(3, 0, 0, u.data(), u.size());
  double umin = 1, umax = 0, usum = 0;
  for (double v : u) {
    umin = std::min(umin, v);
    umax = std::max(umax, v);
    usum += v;
  }
  CHECK(umin > 0.0 && umax < 1.0);
  CHECK_CLOSE(usum / u.size(), 0.5, 5.0 * std::sqrt(1.0 / 12.0 / u.size()));
  TEST_MAIN_RETURN();
}
