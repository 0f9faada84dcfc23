#pragma once
/// \file errors.hpp
/// The exceptions of the core. Bad input throws std::invalid_argument (the message names the
/// argument); numerical failure throws LinAlgError; a stop requested through RunControl throws
/// Interrupted.
#include <stdexcept>
#include <string>

namespace scalinglab {

/// A LAPACK routine reported failure (info != 0), or a matrix was not positive definite.
class LinAlgError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The caller asked a long computation to stop (Ctrl-C in Python). Carries no result.
class Interrupted : public std::exception {
 public:
  const char* what() const noexcept override { return "computation interrupted"; }
};

/// Throws std::invalid_argument("`name`: message") when `condition` is false.
inline void require(bool condition, const char* name, const std::string& message) {
  if (!condition) throw std::invalid_argument(std::string("`") + name + "`: " + message);
}

}  // namespace scalinglab
