/// \file bind_theory.cpp
#include "common.hpp"

namespace scalinglab::bindings {

void bind_theory(py::module_& m) { (void)m; }

}  // namespace scalinglab::bindings
