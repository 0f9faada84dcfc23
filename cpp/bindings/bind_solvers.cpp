/// \file bind_solvers.cpp
#include "common.hpp"

namespace scalinglab::bindings {

void bind_solvers(py::module_& m) { (void)m; }

}  // namespace scalinglab::bindings
