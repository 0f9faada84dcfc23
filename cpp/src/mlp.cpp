/// \file mlp.cpp
/// The small-network engine of mlp.hpp. Small networks are dominated by per-operation
/// overhead, so a step is a handful of Eigen products on maps of preallocated, aligned per-thread
/// buffers plus fused element-wise loops; nothing is allocated inside the step loop.
#include "scalinglab/mlp.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "scalinglab/errors.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::mlp {
namespace {

using MatrixMap = Eigen::Map<RowMatrix<double>>;
using ConstMatrixMap = Eigen::Map<const RowMatrix<double>>;
using ArrayMap = Eigen::Map<Eigen::ArrayXd>;

constexpr double kPi = 3.14159265358979323846;
// Rows of the per-thread buffers used to evaluate losses on large sets (chunked).
constexpr Index kEvaluationChunk = 512;
// Work (multiply-adds) per thread between two polls of the run control: ~0.1-0.3 s.
constexpr double kWorkPerPoll = 1.5e8;

double integer_power(double x, int p) {
  double result = 1.0;
  for (int i = 0; i < p; ++i) result *= x;
  return result;
}

// Buffers for one forward/backward pass of up to `rows` samples through networks of at most the
// given widths. Eigen vectors are aligned allocations, and every map starts at a buffer's
// start, so a network's element-wise loops split into the same vector/scalar parts on any
// thread (bit-identical results for any n_threads).
struct Workspace {
  std::vector<Vector<double>> activations;  // [0] = inputs, [l] = hidden layer l
  std::vector<Vector<double>> derivatives;  // act'(z) of hidden layer l (index l)
  Vector<double> outputs, targets, delta, delta_previous, gradient;

  void reserve(Index rows, const Architecture& widest, Index max_parameters) {
    const Index L = widest.n_layers();
    activations.resize(L);
    derivatives.resize(L);
    Index max_width = std::max(widest.input_dim, widest.output_dim);
    for (Index l = 0; l < L; ++l) {
      const Index width = widest.fan_in(l);
      max_width = std::max(max_width, width);
      if (activations[l].size() < rows * width) activations[l].resize(rows * width);
      if (derivatives[l].size() < rows * width) derivatives[l].resize(rows * width);
    }
    const auto grow = [](Vector<double>& v, Index n) {
      if (v.size() < n) v.resize(n);
    };
    grow(outputs, rows * widest.output_dim);
    grow(targets, rows * widest.output_dim);
    grow(delta, rows * max_width);
    grow(delta_previous, rows * max_width);
    grow(gradient, max_parameters);
  }
};

// act(z) in place on `z`, and act'(z) into `derivative` (when not null).
void activate(Activation activation, double* z, double* derivative, Index size) {
  switch (activation) {
    case Activation::kSilu: {
      ArrayMap Z(z, size);
      if (derivative != nullptr) {
        ArrayMap D(derivative, size);
        D = (1.0 + (-Z).exp()).inverse();  // sigma(z), vectorised exp
        for (Index i = 0; i < size; ++i) {
          const double s = derivative[i], x = z[i];
          z[i] = x * s;
          derivative[i] = s * (1.0 + x * (1.0 - s));
        }
      } else {
        Z = Z / (1.0 + (-Z).exp());
      }
      break;
    }
    case Activation::kTanh:
      for (Index i = 0; i < size; ++i) {
        z[i] = std::tanh(z[i]);
        if (derivative != nullptr) derivative[i] = 1.0 - z[i] * z[i];
      }
      break;
    case Activation::kRelu:
      for (Index i = 0; i < size; ++i) {
        if (derivative != nullptr) derivative[i] = z[i] > 0.0 ? 1.0 : 0.0;
        z[i] = z[i] > 0.0 ? z[i] : 0.0;
      }
      break;
  }
}

// Forward pass of `n` rows whose inputs are in ws.activations[0]; outputs in ws.outputs.
void forward_pass(const Architecture& arch, const double* params, Index n, Workspace& ws,
                  bool keep_derivatives) {
  const Index L = arch.n_layers();
  for (Index l = 0; l < L; ++l) {
    const Index fan_in = arch.fan_in(l), fan_out = arch.fan_out(l);
    ConstMatrixMap W(params + arch.weight_offset(l), fan_in, fan_out);
    Eigen::Map<const Eigen::RowVectorXd> b(params + arch.bias_offset(l), fan_out);
    ConstMatrixMap A(ws.activations[l].data(), n, fan_in);
    const bool last = l + 1 == L;
    double* z = last ? ws.outputs.data() : ws.activations[l + 1].data();
    MatrixMap Z(z, n, fan_out);
    Z.noalias() = A * W;
    Z.rowwise() += b;
    if (!last)
      activate(arch.activation, z, keep_derivatives ? ws.derivatives[l + 1].data() : nullptr,
               n * fan_out);
  }
}

// Loss (1/n) sum (f - y)^2 and its gradient for the `n` rows in ws (inputs and targets set).
double backward_pass(const Architecture& arch, const double* params, Index n, Workspace& ws,
                     double* gradient) {
  const Index L = arch.n_layers(), k = arch.output_dim;
  forward_pass(arch, params, n, ws, true);
  double loss = 0.0;
  const double scale = 2.0 / static_cast<double>(n);
  for (Index i = 0; i < n * k; ++i) {
    const double e = ws.outputs[i] - ws.targets[i];
    loss += e * e;
    ws.delta[i] = scale * e;
  }
  double* delta = ws.delta.data();
  double* delta_previous = ws.delta_previous.data();
  for (Index l = L - 1; l >= 0; --l) {
    const Index fan_in = arch.fan_in(l), fan_out = arch.fan_out(l);
    ConstMatrixMap G(delta, n, fan_out);
    ConstMatrixMap A(ws.activations[l].data(), n, fan_in);
    MatrixMap dW(gradient + arch.weight_offset(l), fan_in, fan_out);
    Eigen::Map<Eigen::RowVectorXd> db(gradient + arch.bias_offset(l), fan_out);
    dW.noalias() = A.transpose() * G;
    db = G.colwise().sum();
    if (l > 0) {
      ConstMatrixMap W(params + arch.weight_offset(l), fan_in, fan_out);
      MatrixMap G_previous(delta_previous, n, fan_in);
      G_previous.noalias() = G * W.transpose();
      const double* derivative = ws.derivatives[l].data();
      for (Index i = 0; i < n * fan_in; ++i) delta_previous[i] *= derivative[i];
      std::swap(delta, delta_previous);
    }
  }
  return loss / static_cast<double>(n);
}

// Per-output sums of squared errors over a data set (X, Y), chunked through the workspace.
void accumulate_losses(const Architecture& arch, const double* params, const RowMatrix<double>& X,
                       const RowMatrix<double>& Y, Workspace& ws, double* per_output) {
  const Index n = X.rows(), d = arch.input_dim, k = arch.output_dim;
  for (Index o = 0; o < k; ++o) per_output[o] = 0.0;
  for (Index start = 0; start < n; start += kEvaluationChunk) {
    const Index rows = std::min(kEvaluationChunk, n - start);
    std::copy(X.data() + start * d, X.data() + (start + rows) * d, ws.activations[0].data());
    forward_pass(arch, params, rows, ws, false);
    for (Index r = 0; r < rows; ++r)
      for (Index o = 0; o < k; ++o) {
        const double e = ws.outputs[r * k + o] - Y(start + r, o);
        per_output[o] += e * e;
      }
  }
  for (Index o = 0; o < k; ++o) per_output[o] /= static_cast<double>(n);
}

// The persistent state of one network during training.
struct NetworkState {
  Architecture arch;
  const CompositeTask* task = nullptr;
  Vector<double> params, first_moment, second_moment;
  std::uint64_t data_key = 0;
  RowMatrix<double> train_X, train_Y;  // fixed training set (empty when online)
  std::vector<Index> order;            // current epoch's order of the training set
  std::vector<double> order_keys;
  Index order_epoch = -1;
  double work_per_step = 0.0;  // multiply-adds of one step
};

// The index into the training set of position `position` of the endless sequence of epochs.
Index training_index(NetworkState& net, const Training& training, Index position) {
  const Index P = training.train_size;
  const Index epoch = position / P;
  if (training.batch_size == P) return position % P;  // full batch: order is irrelevant
  if (epoch != net.order_epoch) {
    random::fill_uniform(net.data_key, random::kStreamMlpOrder,
                         static_cast<std::uint64_t>(epoch) * static_cast<std::uint64_t>(P),
                         net.order_keys.data(), static_cast<std::size_t>(P));
    std::iota(net.order.begin(), net.order.end(), Index(0));
    std::stable_sort(net.order.begin(), net.order.end(),
                     [&](Index a, Index b) { return net.order_keys[a] < net.order_keys[b]; });
    net.order_epoch = epoch;
  }
  return net.order[position % P];
}

// One optimiser step (step = number of steps taken before this one).
void train_step(NetworkState& net, const Training& training, Index step, Workspace& ws) {
  const Architecture& arch = net.arch;
  const Index B = training.batch_size, d = arch.input_dim, k = arch.output_dim;
  if (training.train_size == 0) {
    net.task->sample(net.data_key, random::kStreamMlpData,
                     static_cast<std::uint64_t>(step) * static_cast<std::uint64_t>(B), B,
                     ws.activations[0].data(), ws.targets.data());
  } else {
    for (Index b = 0; b < B; ++b) {
      const Index row = training_index(net, training, step * B + b);
      std::copy(net.train_X.data() + row * d, net.train_X.data() + (row + 1) * d,
                ws.activations[0].data() + b * d);
      std::copy(net.train_Y.data() + row * k, net.train_Y.data() + (row + 1) * k,
                ws.targets.data() + b * k);
    }
  }
  double* g = ws.gradient.data();
  backward_pass(arch, net.params.data(), B, ws, g);
  const double lr = training.learning_rate_at(step);
  double* p = net.params.data();
  double* m = net.first_moment.data();
  const Index n = arch.n_parameters();
  if (training.optimizer == Optimizer::kAdam) {
    double* v = net.second_moment.data();
    const double b1 = training.beta1, b2 = training.beta2, eps = training.epsilon;
    const double t = static_cast<double>(step + 1);
    const double step_size = lr / (1.0 - std::pow(b1, t));
    const double root_correction = std::sqrt(1.0 - std::pow(b2, t));
    for (Index i = 0; i < n; ++i) {
      m[i] = b1 * m[i] + (1.0 - b1) * g[i];
      v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
      p[i] -= step_size * m[i] / (std::sqrt(v[i]) / root_correction + eps);
    }
  } else if (training.momentum > 0.0) {
    const double mu = training.momentum;
    for (Index i = 0; i < n; ++i) {
      m[i] = mu * m[i] + g[i];
      p[i] -= lr * m[i];
    }
  } else {
    for (Index i = 0; i < n; ++i) p[i] -= lr * g[i];
  }
}

}  // namespace

// ---- Architecture --------------------------------------------------------------------------

Index Architecture::fan_in(Index layer) const {
  return layer == 0 ? input_dim : hidden[static_cast<std::size_t>(layer - 1)];
}

Index Architecture::fan_out(Index layer) const {
  return layer + 1 == n_layers() ? output_dim : hidden[static_cast<std::size_t>(layer)];
}

Index Architecture::weight_offset(Index layer) const {
  Index offset = 0;
  for (Index l = 0; l < layer; ++l) offset += (fan_in(l) + 1) * fan_out(l);
  return offset;
}

Index Architecture::n_hidden_units() const {
  return std::accumulate(hidden.begin(), hidden.end(), Index(0));
}

void Architecture::validate() const {
  require(input_dim >= 1, "input_dim", "must be >= 1, got " + std::to_string(input_dim));
  require(output_dim >= 1, "output_dim", "must be >= 1, got " + std::to_string(output_dim));
  require(!hidden.empty(), "hidden", "expected at least one hidden layer");
  for (Index width : hidden)
    require(width >= 1, "hidden", "widths must be >= 1, got " + std::to_string(width));
}

Vector<double> initial_parameters(const Architecture& arch, const Initialization& init,
                                  std::uint64_t init_key) {
  arch.validate();
  Vector<double> params = Vector<double>::Zero(arch.n_parameters());
  for (Index l = 0; l < arch.n_layers(); ++l) {
    const Index fan_in = arch.fan_in(l), fan_out = arch.fan_out(l);
    const std::uint64_t layer_bits = static_cast<std::uint64_t>(l) << 32;
    const double std_dev = l == 0 ? init.input_weight_std
                                  : init.weight_gain / std::sqrt(static_cast<double>(fan_in));
    double* W = params.data() + arch.weight_offset(l);
    for (Index i = 0; i < fan_in; ++i) {
      random::fill_normal(init_key, random::kStreamMlpWeights | layer_bits,
                          static_cast<std::uint64_t>(i) << 32, W + i * fan_out,
                          static_cast<std::size_t>(fan_out));
    }
    for (Index e = 0; e < fan_in * fan_out; ++e) W[e] *= std_dev;
    if (l + 1 < arch.n_layers()) {
      double* b = params.data() + arch.bias_offset(l);
      random::fill_uniform(init_key, random::kStreamMlpBiases | layer_bits, 0, b,
                           static_cast<std::size_t>(fan_out));
      for (Index j = 0; j < fan_out; ++j) b[j] = init.hidden_bias_range * (2.0 * b[j] - 1.0);
    }
  }
  return params;
}

// ---- CompositeTask -------------------------------------------------------------------------

Index CompositeTask::input_dim() const {
  Index d = 0;
  for (const Subtask& s : subtasks) d += s.n_inputs;
  return d;
}

void CompositeTask::validate() const {
  require(!subtasks.empty(), "subtasks", "expected at least one subtask");
  for (const Subtask& s : subtasks) {
    require(s.n_inputs >= 1, "subtasks", "n_inputs must be >= 1");
    require(std::isfinite(s.scale), "subtasks", "scale must be finite");
    require(std::isfinite(s.parameter), "subtasks", "parameter must be finite");
    if (s.kind == SubtaskKind::kPower)
      require(s.parameter >= 0 && s.parameter == std::floor(s.parameter) && s.parameter <= 64,
              "subtasks", "a power's exponent must be an integer in [0, 64]");
  }
}

void CompositeTask::targets(const double* X, Index n, double* Y) const {
  const Index d = input_dim(), k = output_dim();
  for (Index r = 0; r < n; ++r) {
    const double* x = X + r * d;
    double* y = Y + r * k;
    if (combine == Combine::kSum) y[0] = 0.0;
    Index first = 0;
    for (std::size_t i = 0; i < subtasks.size(); ++i) {
      const Subtask& s = subtasks[i];
      double value = 0.0;
      switch (s.kind) {
        case SubtaskKind::kPower: {
          const int p = static_cast<int>(s.parameter);
          for (Index m = 0; m < s.n_inputs; ++m) value += integer_power(x[first + m], p);
          break;
        }
        case SubtaskKind::kSine: {
          double sum = 0.0;
          for (Index m = 0; m < s.n_inputs; ++m) sum += x[first + m];
          value = std::sin(s.parameter * sum);
          break;
        }
        case SubtaskKind::kProduct:
          value = 1.0;
          for (Index m = 0; m < s.n_inputs; ++m) value *= x[first + m];
          break;
      }
      value *= s.scale;
      if (combine == Combine::kSeparate) {
        y[i] = value;
      } else {
        y[0] += value;
      }
      first += s.n_inputs;
    }
  }
}

void CompositeTask::sample(std::uint64_t key, std::uint64_t stream, std::uint64_t first, Index n,
                           double* X, double* Y) const {
  const Index d = input_dim();
  const std::uint64_t counter = first * static_cast<std::uint64_t>(d);
  const auto size = static_cast<std::size_t>(n * d);
  if (input == InputDistribution::kNormal) {
    random::fill_normal(key, stream, counter, X, size);
  } else {
    random::fill_uniform(key, stream, counter, X, size);
    for (std::size_t i = 0; i < size; ++i) X[i] = 2.0 * X[i] - 1.0;
  }
  targets(X, n, Y);
}

// ---- Training ------------------------------------------------------------------------------

double Training::learning_rate_at(Index step) const {
  if (step < warmup_steps)
    return learning_rate * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (decay == Decay::kConstant) return learning_rate;
  const Index span = std::max<Index>(1, steps - warmup_steps - 1);
  const double u = std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(span));
  switch (decay) {
    case Decay::kCosine:
      return final_learning_rate + (learning_rate - final_learning_rate) * 0.5 * (1.0 + std::cos(kPi * u));
    case Decay::kLinear:
      return learning_rate + (final_learning_rate - learning_rate) * u;
    case Decay::kGeometric:
      return learning_rate * std::pow(final_learning_rate / learning_rate, u);
    case Decay::kConstant:
      break;
  }
  return learning_rate;
}

void Training::validate() const {
  require(std::isfinite(learning_rate) && learning_rate > 0, "learning_rate", "must be > 0");
  require(std::isfinite(final_learning_rate) && final_learning_rate >= 0, "final_learning_rate",
          "must be >= 0");
  if (decay == Decay::kGeometric)
    require(final_learning_rate > 0, "final_learning_rate", "must be > 0 for geometric decay");
  require(warmup_steps >= 0, "warmup_steps", "must be >= 0");
  require(beta1 >= 0 && beta1 < 1, "beta1", "must be in [0, 1)");
  require(beta2 >= 0 && beta2 < 1, "beta2", "must be in [0, 1)");
  require(epsilon > 0, "epsilon", "must be > 0");
  require(momentum >= 0 && momentum < 1, "momentum", "must be in [0, 1)");
  require(steps >= 0, "steps", "must be >= 0");
  require(batch_size >= 1, "batch_size", "must be >= 1");
  require(train_size >= 0, "train_size", "must be >= 0 (0 = online)");
  if (train_size > 0)
    require(batch_size <= train_size, "batch_size", "must be <= train_size");
  require(eval_size >= 1, "eval_size", "must be >= 1");
  for (std::size_t c = 0; c < checkpoints.size(); ++c) {
    require(checkpoints[c] >= 0 && checkpoints[c] <= steps, "checkpoints",
            "must lie in [0, steps]");
    if (c > 0) require(checkpoints[c] > checkpoints[c - 1], "checkpoints", "must be increasing");
  }
}

// ---- forward / gradient on given data -------------------------------------------------------

RowMatrix<double> forward(const Architecture& arch, const double* params,
                          const Eigen::Ref<const RowMatrix<double>>& X) {
  arch.validate();
  require(X.cols() == arch.input_dim, "X", "expected input_dim columns");
  Workspace ws;
  ws.reserve(X.rows(), arch, arch.n_parameters());
  std::copy(X.data(), X.data() + X.size(), ws.activations[0].data());
  forward_pass(arch, params, X.rows(), ws, false);
  return ConstMatrixMap(ws.outputs.data(), X.rows(), arch.output_dim);
}

double loss_and_gradient(const Architecture& arch, const double* params,
                         const Eigen::Ref<const RowMatrix<double>>& X,
                         const Eigen::Ref<const RowMatrix<double>>& Y, double* gradient) {
  arch.validate();
  require(X.cols() == arch.input_dim, "X", "expected input_dim columns");
  require(Y.rows() == X.rows() && Y.cols() == arch.output_dim, "Y",
          "expected shape (n, output_dim) with the rows of X");
  require(X.rows() >= 1, "X", "expected at least one row");
  Workspace ws;
  ws.reserve(X.rows(), arch, arch.n_parameters());
  std::copy(X.data(), X.data() + X.size(), ws.activations[0].data());
  std::copy(Y.data(), Y.data() + Y.size(), ws.targets.data());
  return backward_pass(arch, params, X.rows(), ws, gradient);
}

// ---- many networks -------------------------------------------------------------------------

TrainingResult train_networks(const std::vector<CompositeTask>& tasks,
                              const std::vector<NetworkJob>& jobs, Activation activation,
                              const Initialization& init, const Training& training,
                              const RunControl& control) {
  training.validate();
  require(!tasks.empty(), "tasks", "expected at least one task");
  for (const CompositeTask& task : tasks) task.validate();
  const Index n_jobs = static_cast<Index>(jobs.size());
  const Index n_checkpoints = static_cast<Index>(training.checkpoints.size());
  Index max_outputs = 0;
  for (const CompositeTask& task : tasks) max_outputs = std::max(max_outputs, task.output_dim());

  // Evaluation sets, one per task, shared read-only by its networks.
  std::vector<RowMatrix<double>> eval_X(tasks.size()), eval_Y(tasks.size());
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    eval_X[t].resize(training.eval_size, tasks[t].input_dim());
    eval_Y[t].resize(training.eval_size, tasks[t].output_dim());
    tasks[t].sample(training.eval_key, random::kStreamMlpEval, 0, training.eval_size,
                    eval_X[t].data(), eval_Y[t].data());
  }

  std::vector<NetworkState> nets(static_cast<std::size_t>(n_jobs));
  Architecture widest;  // element-wise maximum of the architectures, for the workspaces
  Index max_parameters = 0;
  double work_per_step = 0.0;
  for (Index j = 0; j < n_jobs; ++j) {
    const NetworkJob& job = jobs[static_cast<std::size_t>(j)];
    require(job.task >= 0 && job.task < static_cast<Index>(tasks.size()), "jobs",
            "task index out of range");
    NetworkState& net = nets[static_cast<std::size_t>(j)];
    net.task = &tasks[static_cast<std::size_t>(job.task)];
    net.arch.input_dim = net.task->input_dim();
    net.arch.output_dim = net.task->output_dim();
    net.arch.hidden = job.hidden;
    net.arch.activation = activation;
    net.arch.validate();
    net.data_key = random::derive_seed(job.key, 1);
    Index macs = 0;
    for (Index l = 0; l < net.arch.n_layers(); ++l)
      macs += net.arch.fan_in(l) * net.arch.fan_out(l) + net.arch.fan_out(l);
    net.work_per_step = 3.0 * static_cast<double>(training.batch_size * macs);
    work_per_step += net.work_per_step;
    max_parameters = std::max(max_parameters, net.arch.n_parameters());
    widest.input_dim = std::max(widest.input_dim, net.arch.input_dim);
    widest.output_dim = std::max(widest.output_dim, net.arch.output_dim);
    if (widest.hidden.size() < job.hidden.size()) widest.hidden.resize(job.hidden.size(), 1);
    for (std::size_t l = 0; l < job.hidden.size(); ++l)
      widest.hidden[l] = std::max(widest.hidden[l], job.hidden[l]);
  }
  // Networks of fewer layers use the first layers' buffers; their last hidden width must fit
  // in the buffers of the layer it lands on: make every buffer as wide as the widest layer.
  if (!widest.hidden.empty()) {
    const Index widest_layer = *std::max_element(widest.hidden.begin(), widest.hidden.end());
    std::fill(widest.hidden.begin(), widest.hidden.end(), widest_layer);
  }

  TrainingResult result;
  result.test_loss = RowMatrix<double>::Constant(n_jobs, n_checkpoints * max_outputs,
                                                 std::numeric_limits<double>::quiet_NaN());
  result.train_loss = result.test_loss;

  // Largest networks first, so that dynamic scheduling balances the threads.
  std::vector<Index> schedule(static_cast<std::size_t>(n_jobs));
  std::iota(schedule.begin(), schedule.end(), Index(0));
  std::stable_sort(schedule.begin(), schedule.end(), [&](Index a, Index b) {
    return nets[static_cast<std::size_t>(a)].work_per_step > nets[static_cast<std::size_t>(b)].work_per_step;
  });

  const int threads = std::max(1, std::min<int>(control.threads(), static_cast<int>(std::max<Index>(n_jobs, 1))));
  const Index rows = std::max(training.batch_size, kEvaluationChunk);
  std::vector<Workspace> workspaces(static_cast<std::size_t>(threads));
  for (Workspace& ws : workspaces) ws.reserve(rows, widest, max_parameters);

  std::atomic<bool> failed{false};
  std::string failure;
  // Runs body(net_index, workspace) over all networks in parallel.
  const auto for_each_network = [&](auto&& body) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (Index s = 0; s < n_jobs; ++s) {
      if (failed.load()) continue;
      try {
        body(schedule[static_cast<std::size_t>(s)],
             workspaces[static_cast<std::size_t>(omp_get_thread_num())]);
      } catch (const std::exception& error) {
#pragma omp critical(scalinglab_mlp_failure)
        {
          if (!failed.load()) failure = error.what();
          failed.store(true);
        }
      }
    }
    if (failed.load()) throw std::runtime_error(failure);
  };

  // Initialisation and fixed training sets.
  for_each_network([&](Index j, Workspace&) {
    NetworkState& net = nets[static_cast<std::size_t>(j)];
    net.params = initial_parameters(net.arch, init,
                                    random::derive_seed(jobs[static_cast<std::size_t>(j)].key, 0));
    net.first_moment = Vector<double>::Zero(net.params.size());
    if (training.optimizer == Optimizer::kAdam)
      net.second_moment = Vector<double>::Zero(net.params.size());
    if (training.train_size > 0) {
      net.train_X.resize(training.train_size, net.arch.input_dim);
      net.train_Y.resize(training.train_size, net.arch.output_dim);
      net.task->sample(net.data_key, random::kStreamMlpTrainSet, 0, training.train_size,
                       net.train_X.data(), net.train_Y.data());
      net.order.resize(static_cast<std::size_t>(training.train_size));
      net.order_keys.resize(static_cast<std::size_t>(training.train_size));
    }
  });

  const auto evaluate = [&](Index j, Index checkpoint, Workspace& ws) {
    NetworkState& net = nets[static_cast<std::size_t>(j)];
    const Index task = jobs[static_cast<std::size_t>(j)].task;
    double* test = result.test_loss.row(j).data() + checkpoint * max_outputs;
    accumulate_losses(net.arch, net.params.data(), eval_X[static_cast<std::size_t>(task)],
                      eval_Y[static_cast<std::size_t>(task)], ws, test);
    if (training.train_size > 0) {
      double* train = result.train_loss.row(j).data() + checkpoint * max_outputs;
      accumulate_losses(net.arch, net.params.data(), net.train_X, net.train_Y, ws, train);
    }
  };

  const double total_work = std::max(1.0, work_per_step * static_cast<double>(training.steps));
  const Index steps_per_round = std::max<Index>(
      1, static_cast<Index>(kWorkPerPoll * threads / std::max(1.0, work_per_step)));
  Index step = 0, next_checkpoint = 0;
  control.poll();
  while (true) {
    Index round_end = std::min(training.steps, step + steps_per_round);
    const bool at_checkpoint_now =
        next_checkpoint < n_checkpoints && training.checkpoints[static_cast<std::size_t>(next_checkpoint)] == step;
    if (next_checkpoint < n_checkpoints)
      round_end = std::min(round_end, training.checkpoints[static_cast<std::size_t>(next_checkpoint)]);
    if (at_checkpoint_now) round_end = step;  // evaluate before stepping on
    const Index round_start = step;
    const Index checkpoint_here =
        (next_checkpoint < n_checkpoints &&
         training.checkpoints[static_cast<std::size_t>(next_checkpoint)] == round_end)
            ? next_checkpoint
            : -1;
    for_each_network([&](Index j, Workspace& ws) {
      NetworkState& net = nets[static_cast<std::size_t>(j)];
      for (Index s = round_start; s < round_end; ++s) train_step(net, training, s, ws);
      if (checkpoint_here >= 0) evaluate(j, checkpoint_here, ws);
    });
    step = round_end;
    if (checkpoint_here >= 0) ++next_checkpoint;
    control.progress(std::min(1.0, work_per_step * static_cast<double>(step) / total_work));
    if (step >= training.steps && next_checkpoint >= n_checkpoints) break;
    control.poll();
  }

  result.parameters.resize(static_cast<std::size_t>(n_jobs));
  for (Index j = 0; j < n_jobs; ++j)
    result.parameters[static_cast<std::size_t>(j)] = std::move(nets[static_cast<std::size_t>(j)].params);
  return result;
}

}  // namespace scalinglab::mlp
