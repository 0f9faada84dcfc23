/// \file random.cpp
/// Philox4x32-10 and the Gaussian/uniform fills built on it (kept in its own translation unit so
/// that the hot loop is compiled once, with the vectorised math of Eigen's array functions).
#include "scalinglab/random.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>

namespace scalinglab::random {
namespace {

constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1
constexpr double kTwoPi = 6.283185307179586476925286766559;
// Maps a 32-bit word to the open interval (0, 1): (x + 1/2) / 2^32.
constexpr double kWordToUnit = 1.0 / 4294967296.0;

inline void philox_block(std::uint32_t key0, std::uint32_t key1, std::uint32_t c0,
                         std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                         std::uint32_t* out) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kWeyl0;
      key1 += kWeyl1;
    }
    const std::uint64_t product0 = static_cast<std::uint64_t>(kMultiplier0) * c0;
    const std::uint64_t product1 = static_cast<std::uint64_t>(kMultiplier1) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(product0 >> 32);
    const std::uint32_t lo0 = static_cast<std::uint32_t>(product0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(product1 >> 32);
    const std::uint32_t lo1 = static_cast<std::uint32_t>(product1);
    c0 = hi1 ^ c1 ^ key0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ key1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// Philox words for blocks [first_block, first_block + n_blocks), 4 words per block.
void philox_words(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block,
                  std::size_t n_blocks, std::uint32_t* words) {
  const auto key0 = static_cast<std::uint32_t>(seed);
  const auto key1 = static_cast<std::uint32_t>(seed >> 32);
  const auto c2 = static_cast<std::uint32_t>(stream);
  const auto c3 = static_cast<std::uint32_t>(stream >> 32);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const std::uint64_t block = first_block + b;
    philox_block(key0, key1, static_cast<std::uint32_t>(block),
                 static_cast<std::uint32_t>(block >> 32), c2, c3, words + 4 * b);
  }
}

// Normals for whole blocks: words (w0, w1) -> Box-Muller pair, (w2, w3) -> next pair:
// z = sqrt(-2 log u) (cos, sin)(2 pi v) with u = (w_even + 1/2) / 2^32, v = (w_odd + 1/2) / 2^32.
// Every step is computed lane by lane on fixed-size arrays (no scalar tail), so a number's bits
// never depend on where it sits in a chunk, i.e. on where a fill starts.
constexpr std::size_t kChunkBlocks = 256;
constexpr std::size_t kGroupBlocks = 64;  // blocks per vectorised group (a multiple of 16)
constexpr std::size_t kGroupPairs = 2 * kGroupBlocks;

// Philox4x32-10 on kGroupBlocks consecutive counters at once (structure of arrays, so the
// compiler vectorises the 32x32 -> 64-bit products).
void philox_group(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block,
                  std::uint32_t (&c0)[kGroupBlocks], std::uint32_t (&c1)[kGroupBlocks],
                  std::uint32_t (&c2)[kGroupBlocks], std::uint32_t (&c3)[kGroupBlocks]) {
  for (std::size_t b = 0; b < kGroupBlocks; ++b) {
    const std::uint64_t block = first_block + b;
    c0[b] = static_cast<std::uint32_t>(block);
    c1[b] = static_cast<std::uint32_t>(block >> 32);
    c2[b] = static_cast<std::uint32_t>(stream);
    c3[b] = static_cast<std::uint32_t>(stream >> 32);
  }
  std::uint32_t key0 = static_cast<std::uint32_t>(seed);
  std::uint32_t key1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kWeyl0;
      key1 += kWeyl1;
    }
    for (std::size_t b = 0; b < kGroupBlocks; ++b) {
      const std::uint64_t product0 = static_cast<std::uint64_t>(kMultiplier0) * c0[b];
      const std::uint64_t product1 = static_cast<std::uint64_t>(kMultiplier1) * c2[b];
      const std::uint32_t next0 = static_cast<std::uint32_t>(product1 >> 32) ^ c1[b] ^ key0;
      const std::uint32_t next2 = static_cast<std::uint32_t>(product0 >> 32) ^ c3[b] ^ key1;
      c1[b] = static_cast<std::uint32_t>(product1);
      c3[b] = static_cast<std::uint32_t>(product0);
      c0[b] = next0;
      c2[b] = next2;
    }
  }
}

// (cos, sin)(2 pi (w + 1/2) / 2^32) for 32-bit words w. The angle is reduced exactly in integer
// arithmetic to the nearest quarter turn q and a remainder |x| <= pi/4; the Taylor polynomials of
// degree 17 (sin) and 16 (cos) are accurate to ~1e-17 there.
void sincos_turns(const std::uint32_t* w, double* cosine, double* sine) {
  double x[kGroupPairs], swap[kGroupPairs], negate_cos[kGroupPairs], negate_sin[kGroupPairs];
  for (std::size_t p = 0; p < kGroupPairs; ++p) {
    const std::uint32_t quarter = (w[p] + 0x20000000u) >> 30;  // nearest quarter turn, mod 4
    const auto remainder = static_cast<std::int32_t>(w[p] - (quarter << 30));  // in [-2^29, 2^29)
    x[p] = (static_cast<double>(remainder) + 0.5) * (kTwoPi * kWordToUnit);
    swap[p] = static_cast<double>(quarter & 1u);
    negate_cos[p] = static_cast<double>(((quarter + 1u) >> 1) & 1u);
    negate_sin[p] = static_cast<double>(quarter >> 1);
  }
  for (std::size_t p = 0; p < kGroupPairs; ++p) {
    const double x2 = x[p] * x[p];
    const double s =
        x[p] * (1.0 + x2 * (-1.0 / 6 + x2 * (1.0 / 120 + x2 * (-1.0 / 5040 + x2 * (1.0 / 362880 +
        x2 * (-1.0 / 39916800 + x2 * (1.0 / 6227020800.0 + x2 * (-1.0 / 1307674368000.0 +
        x2 * (1.0 / 355687428096000.0)))))))));
    const double c =
        1.0 + x2 * (-0.5 + x2 * (1.0 / 24 + x2 * (-1.0 / 720 + x2 * (1.0 / 40320 +
        x2 * (-1.0 / 3628800 + x2 * (1.0 / 479001600 + x2 * (-1.0 / 87178291200.0 +
        x2 * (1.0 / 20922789888000.0))))))));
    const double cos_abs = swap[p] != 0.0 ? s : c;
    const double sin_abs = swap[p] != 0.0 ? c : s;
    cosine[p] = negate_cos[p] != 0.0 ? -cos_abs : cos_abs;
    sine[p] = negate_sin[p] != 0.0 ? -sin_abs : sin_abs;
  }
}

void normal_blocks(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block,
                   std::size_t n_blocks, double* out) {
  std::uint32_t c0[kGroupBlocks], c1[kGroupBlocks], c2[kGroupBlocks], c3[kGroupBlocks];
  std::uint32_t even[kGroupPairs], odd[kGroupPairs];
  Eigen::Array<double, kGroupPairs, 1> radius;
  double cosine[kGroupPairs], sine[kGroupPairs];
  // Whole groups only: the last group may compute a few blocks that are not returned.
  for (std::size_t done = 0; done < n_blocks; done += kGroupBlocks) {
    philox_group(seed, stream, first_block + done, c0, c1, c2, c3);
    for (std::size_t b = 0; b < kGroupBlocks; ++b) {
      even[2 * b] = c0[b];
      odd[2 * b] = c1[b];
      even[2 * b + 1] = c2[b];
      odd[2 * b + 1] = c3[b];
    }
    for (std::size_t p = 0; p < kGroupPairs; ++p)
      // Unsigned -> double through a signed int (which vectorises): exact.
      radius[p] = (static_cast<double>(static_cast<std::int32_t>(even[p] ^ 0x80000000u)) +
                   2147483648.5) * kWordToUnit;
    radius = (-2.0 * radius.log()).sqrt();
    sincos_turns(odd, cosine, sine);
    const std::size_t blocks = std::min(kGroupBlocks, n_blocks - done);
    double* dst = out + 4 * done;
    for (std::size_t p = 0; p < 2 * blocks; ++p) {
      dst[2 * p] = radius[p] * cosine[p];
      dst[2 * p + 1] = radius[p] * sine[p];
    }
  }
}

template <class Real>
void fill_normal_impl(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start,
                      Real* out, std::size_t n) {
  if (n == 0) return;
  // Work in whole Philox blocks of 4 numbers so a number never depends on where a fill starts.
  const std::uint64_t first_block = counter_start / 4;
  const std::uint64_t last_block = (counter_start + n - 1) / 4;
  const std::size_t offset = static_cast<std::size_t>(counter_start - 4 * first_block);
  std::size_t written = 0;
  std::array<double, 4 * kChunkBlocks> buffer;
  for (std::uint64_t block = first_block; block <= last_block; block += kChunkBlocks) {
    const std::size_t blocks =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunkBlocks, last_block - block + 1));
    normal_blocks(seed, stream, block, blocks, buffer.data());
    const std::size_t skip = (block == first_block) ? offset : 0;
    const std::size_t take = std::min(4 * blocks - skip, n - written);
    for (std::size_t i = 0; i < take; ++i) out[written + i] = static_cast<Real>(buffer[skip + i]);
    written += take;
  }
}

}  // namespace

void philox4x32(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter,
                std::uint32_t out[4]) {
  philox_words(seed, stream, counter, 1, out);
}

void fill_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start,
                 double* out, std::size_t n) {
  fill_normal_impl(seed, stream, counter_start, out, n);
}

void fill_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start,
                 float* out, std::size_t n) {
  fill_normal_impl(seed, stream, counter_start, out, n);
}

void fill_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter_start,
                  double* out, std::size_t n) {
  if (n == 0) return;
  const std::uint64_t first_block = counter_start / 4;
  const std::uint64_t last_block = (counter_start + n - 1) / 4;
  std::size_t written = 0;
  std::uint32_t words[4];
  for (std::uint64_t block = first_block; block <= last_block; ++block) {
    philox_words(seed, stream, block, 1, words);
    for (int lane = 0; lane < 4; ++lane) {
      const std::uint64_t counter = 4 * block + lane;
      if (counter < counter_start || written == n) continue;
      out[written++] = (static_cast<double>(words[lane]) + 0.5) * kWordToUnit;
    }
  }
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  // A stream id no caller uses, so derived seeds never collide with data streams.
  constexpr std::uint64_t kDeriveStream = 0xD1CE5EEDull;
  std::uint32_t words[4];
  philox_words(seed, kDeriveStream, index, 1, words);
  return (static_cast<std::uint64_t>(words[1]) << 32) | words[0];
}

}  // namespace scalinglab::random
