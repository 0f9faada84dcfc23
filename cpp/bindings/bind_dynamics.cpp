/// \file bind_dynamics.cpp
#include "common.hpp"

namespace scalinglab::bindings {

void bind_dynamics(py::module_& m) { (void)m; }

}  // namespace scalinglab::bindings
