// Unit tests of parallel.hpp: parallel_for_collect runs every index, and reports the exception of
// the smallest failing index with its original type, for any thread count.
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/parallel.hpp"

using namespace scalinglab;

int main() {
  for (int threads : {1, 2, 4}) {
    // Every index runs once.
    std::vector<int> visits(100, 0);
    parallel_for_collect(0, 100, threads, [&](Index i) { ++visits[static_cast<std::size_t>(i)]; });
    bool once = true;
    for (int v : visits) once = once && v == 1;
    CHECK(once);

    // Failures at 70 (LinAlgError) and 30 (invalid_argument) within [10, 90): the earliest (30)
    // is reported with its own type, and the other indices still ran.
    std::vector<int> ran(100, 0);
    bool caught_invalid = false, caught_other = false;
    std::string message;
    try {
      parallel_for_collect(10, 90, threads, [&](Index i) {
        ran[static_cast<std::size_t>(i)] = 1;
        if (i == 70) throw LinAlgError("seventy");
        if (i == 30) throw std::invalid_argument("thirty");
      });
    } catch (const std::invalid_argument& e) {
      caught_invalid = true;
      message = e.what();
    } catch (...) {
      caught_other = true;
    }
    CHECK(caught_invalid && !caught_other);
    CHECK(message == "thirty");
    int count = 0;
    for (int r : ran) count += r;
    CHECK(count == 80);

    // A LinAlgError alone stays a LinAlgError.
    bool lin_alg = false;
    try {
      parallel_for_collect(0, 8, threads, [&](Index i) {
        if (i >= 5) throw LinAlgError("index " + std::to_string(i));
      });
    } catch (const LinAlgError& e) {
      lin_alg = std::string(e.what()) == "index 5";
    }
    CHECK(lin_alg);
  }
  TEST_MAIN_RETURN();
}
