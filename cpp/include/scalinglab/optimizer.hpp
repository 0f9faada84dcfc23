#pragma once
/// \file optimizer.hpp
/// The full-batch optimizers shared by the simulation (dynamics.hpp) and the theory
/// (theory.hpp): one enum, so that both engines and their bindings speak of the same thing.
/// Minibatch SGD has its own engines (dynamics.hpp SgdSpec, volterra.hpp) and is not listed.

namespace scalinglab {

/// Gradient flow (continuous time, dw/dt = -eta grad L) or gradient descent (t steps of size
/// eta). The learning rate travels next to it (dynamics::Schedule, theory::CurveOptions).
enum class Optimizer { kGradientFlow, kGradientDescent };

}  // namespace scalinglab
