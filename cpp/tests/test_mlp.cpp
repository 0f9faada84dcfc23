// Unit tests of mlp.hpp: gradient vs central differences, schedules, init prefix property,
// task sampling, bit-identical training for 1 and 2 threads, and learning y = x^2.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "scalinglab/mlp.hpp"
#include "scalinglab/random.hpp"

using namespace scalinglab;

namespace {

mlp::CompositeTask toy_task() {
  mlp::CompositeTask task;
  for (double s : {1.0, 2.0, 4.0}) task.subtasks.push_back({mlp::SubtaskKind::kPower, 1, s, 2.0});
  return task;
}

}  // namespace

int main() {
  const mlp::CompositeTask task = toy_task();

  // Targets: y_i = s_i x_i^2 on the sampled inputs, inputs in (-1, 1).
  RowMatrix<double> X(40, 3), Y(40, 3);
  task.sample(9, random::kStreamMlpEval, 0, 40, X.data(), Y.data());
  bool in_range = true, targets_right = true;
  for (Index r = 0; r < 40; ++r)
    for (Index i = 0; i < 3; ++i) {
      in_range = in_range && std::abs(X(r, i)) < 1.0;
      targets_right = targets_right && std::abs(Y(r, i) - task.subtasks[i].scale * X(r, i) * X(r, i)) < 1e-15;
    }
  CHECK(in_range);
  CHECK(targets_right);

  // Gradient vs central differences for each activation, two hidden layers.
  for (auto activation : {mlp::Activation::kSilu, mlp::Activation::kTanh, mlp::Activation::kRelu}) {
    mlp::Architecture arch;
    arch.input_dim = 3;
    arch.hidden = {6, 4};
    arch.output_dim = 3;
    arch.activation = activation;
    Vector<double> params = mlp::initial_parameters(arch, mlp::Initialization{}, 17);
    CHECK(params.size() == arch.n_parameters() && arch.n_parameters() == (3 * 6 + 6) + (6 * 4 + 4) + (4 * 3 + 3));
    Vector<double> gradient(arch.n_parameters()), scratch(arch.n_parameters());
    mlp::loss_and_gradient(arch, params.data(), X, Y, gradient.data());
    double worst = 0.0, scale = gradient.cwiseAbs().maxCoeff();
    const double h = 1e-6;
    for (Index p = 0; p < params.size(); ++p) {
      Vector<double> shifted = params;
      shifted[p] += h;
      const double up = mlp::loss_and_gradient(arch, shifted.data(), X, Y, scratch.data());
      shifted[p] -= 2 * h;
      const double down = mlp::loss_and_gradient(arch, shifted.data(), X, Y, scratch.data());
      worst = std::max(worst, std::abs((up - down) / (2 * h) - gradient[p]));
    }
    CHECK(worst < 1e-7 * scale);
  }

  // Init: the width-8 network's first-layer weights are a prefix of the width-16 network's.
  {
    mlp::Architecture narrow{3, {8}, 3, mlp::Activation::kSilu}, wide{3, {16}, 3, mlp::Activation::kSilu};
    const Vector<double> a = mlp::initial_parameters(narrow, {}, 5), b = mlp::initial_parameters(wide, {}, 5);
    bool prefix = true;
    for (Index i = 0; i < 3; ++i)
      for (Index j = 0; j < 8; ++j) prefix = prefix && a[i * 8 + j] == b[i * 16 + j];
    CHECK(prefix);
  }

  // Schedules.
  mlp::Training training;
  training.steps = 101;
  training.learning_rate = 1e-2;
  training.final_learning_rate = 1e-4;
  CHECK_CLOSE(training.learning_rate_at(50), 1e-3, 1e-15);
  CHECK_CLOSE(training.learning_rate_at(100), 1e-4, 1e-17);
  training.decay = mlp::Decay::kCosine;
  CHECK_CLOSE(training.learning_rate_at(50), 0.5 * (1e-2 + 1e-4), 1e-15);
  training.warmup_steps = 10;
  CHECK_CLOSE(training.learning_rate_at(4), 5e-3, 1e-17);

  // Training: identical for 1 and 2 threads; learns y = x^2 (MSE far below Var = 4/45).
  mlp::CompositeTask single;
  single.subtasks.push_back({mlp::SubtaskKind::kPower, 1, 1.0, 2.0});
  mlp::Training run;
  run.steps = 3000;  // 1500 left width 16 or 33 optimisation-limited for some draws
  run.batch_size = 64;
  run.checkpoints = {0, 3000};
  run.eval_size = 2000;
  run.eval_key = 3;
  std::vector<mlp::NetworkJob> jobs;
  for (Index width : {4, 16, 33}) jobs.push_back({0, {width}, random::derive_seed(1, static_cast<std::uint64_t>(width))});
  std::vector<mlp::TrainingResult> results;
  for (int threads : {1, 2}) {
    RunControl control;
    control.n_threads = threads;
    results.push_back(mlp::train_networks({single}, jobs, mlp::Activation::kSilu, {}, run, control));
  }
  bool identical = true;
  for (std::size_t j = 0; j < jobs.size(); ++j)
    identical = identical && (results[0].parameters[j].array() == results[1].parameters[j].array()).all();
  CHECK(identical);
  CHECK((results[0].test_loss.array() == results[1].test_loss.array()).all());
  for (Index j = 1; j < 3; ++j) {
    CHECK(results[0].test_loss(j, 1) < 4.0 / 45.0 / 50.0);
    CHECK(results[0].test_loss(j, 1) < 0.05 * results[0].test_loss(j, 0));
  }
  CHECK(std::isnan(results[0].train_loss(0, 0)));  // online: no training-set loss

  // Bad input names the field.
  mlp::Training bad = run;
  bad.checkpoints = {10, 5};
  CHECK(test::throws_invalid_argument([&] { bad.validate(); }));
  mlp::Architecture no_hidden{3, {}, 3, mlp::Activation::kSilu};
  CHECK(test::throws_invalid_argument([&] { no_hidden.validate(); }));

  TEST_MAIN_RETURN();
}
