#pragma once
/// \file check.hpp
/// A minimal assertion harness for the core's unit tests (one executable per concept, run by
/// ctest). CHECK records a failure and continues; main returns the number of failures.
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace scalinglab::test {
inline int& failures() {
  static int count = 0;
  return count;
}

/// True when `call()` throws std::invalid_argument (the core's bad-input error).
template <class Call>
bool throws_invalid_argument(Call&& call) {
  try {
    call();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}
}  // namespace scalinglab::test

#define CHECK(condition)                                                          \
  do {                                                                            \
    if (!(condition)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      ++scalinglab::test::failures();                                             \
    }                                                                             \
  } while (0)

#define CHECK_CLOSE(actual, expected, tolerance)                                         \
  do {                                                                                   \
    const double check_a_ = (actual), check_e_ = (expected);                             \
    if (!(std::abs(check_a_ - check_e_) <= (tolerance))) {                               \
      std::fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.17g, expected %.17g +- %g\n", \
                   __FILE__, __LINE__, #actual, check_a_, check_e_, double(tolerance));   \
      ++scalinglab::test::failures();                                                    \
    }                                                                                    \
  } while (0)

#define TEST_MAIN_RETURN()                                                    \
  do {                                                                        \
    if (scalinglab::test::failures() == 0) std::printf("all checks passed\n"); \
    return scalinglab::test::failures() == 0 ? 0 : 1;                         \
  } while (0)
