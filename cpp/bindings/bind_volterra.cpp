/// \file bind_volterra.cpp
#include "common.hpp"

namespace scalinglab::bindings {

void bind_volterra(py::module_& m) { (void)m; }

}  // namespace scalinglab::bindings
