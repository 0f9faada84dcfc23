/// \file bind_features.cpp
#include "common.hpp"

namespace scalinglab::bindings {

void bind_features(py::module_& m) { (void)m; }

}  // namespace scalinglab::bindings
