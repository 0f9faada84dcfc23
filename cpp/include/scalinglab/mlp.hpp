#pragma once
/// \file mlp.hpp
/// Many small fully connected networks trained at once on composite regression tasks, for the
/// resource model of neural scaling (Song, Liu, Tegmark & Gore 2024, arXiv 2402.05164).
///
/// Network: x (d) -> h_1 = act(x W_1 + b_1) -> ... -> h_L -> f = h_L W_{L+1} + b_{L+1} (k
/// outputs, linear read-out), act in {tanh, ReLU, SiLU}. Loss on a batch of B samples:
///   L = (1/B) sum_b sum_o (f_bo - y_bo)^2,
/// i.e. the sum over outputs of the per-output mean squared errors (so that a composite task of
/// k separate subtasks has L = sum_i L_i exactly).
///
/// Parameter layout (one flat vector per network): for each layer l = 1 .. L+1, the weights W_l
/// as a (fan_in, fan_out) row-major block (entry (i, j) connects unit i of layer l-1 to unit j
/// of layer l), then the biases b_l (fan_out).
///
/// Randomness (random.hpp): a network's 64-bit key K gives the initialisation key
/// derive_seed(K, 0) and the data key derive_seed(K, 1); see the kStreamMlp* stream ids. Weight
/// (i, j) of layer l is keyed by (i, j) itself, so a narrower network's initial weights are a
/// prefix of a wider one's, and networks with the same key see the same data whatever their
/// width. Each network's arithmetic runs on one thread in a fixed order, so results are
/// bit-identical for any n_threads.
#include <cstdint>
#include <vector>

#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::mlp {

enum class Activation { kTanh, kRelu, kSilu };

/// Widths of a fully connected network.
struct Architecture {
  Index input_dim = 1;
  std::vector<Index> hidden;  ///< widths of the hidden layers (at least one)
  Index output_dim = 1;
  Activation activation = Activation::kSilu;

  Index n_layers() const { return static_cast<Index>(hidden.size()) + 1; }  ///< weight layers
  Index fan_in(Index layer) const;   ///< layer in [0, n_layers)
  Index fan_out(Index layer) const;
  Index weight_offset(Index layer) const;  ///< offset of W_layer in the flat parameters
  Index bias_offset(Index layer) const { return weight_offset(layer) + fan_in(layer) * fan_out(layer); }
  Index n_parameters() const { return weight_offset(n_layers()); }
  Index n_hidden_units() const;
  /// Throws std::invalid_argument naming the field when a width is < 1 or no hidden layer.
  void validate() const;
};

/// Initial distribution (the defaults are the digest's toy, resource-and-fitting.md A(d)).
struct Initialization {
  double input_weight_std = 1.0;   ///< W_1 ~ N(0, s^2), absolute (not divided by fan_in)
  double weight_gain = 1.0;        ///< W_l, l > 1 ~ N(0, gain^2 / fan_in)
  double hidden_bias_range = 1.0;  ///< hidden biases ~ U(-r, r); output biases are 0
};

/// Initial parameters of `arch` for initialisation key `init_key` (= derive_seed(K, 0)).
Vector<double> initial_parameters(const Architecture& arch, const Initialization& init,
                                  std::uint64_t init_key);

// ---- composite tasks -----------------------------------------------------------------------

enum class InputDistribution { kUniform, kNormal };  ///< U[-1, 1] or N(0, 1) per input
enum class SubtaskKind {
  kPower,    ///< scale * sum_m x_m^parameter (parameter a non-negative integer)
  kSine,     ///< scale * sin(parameter * sum_m x_m)
  kProduct,  ///< scale * prod_m x_m
};
enum class Combine { kSeparate, kSum };  ///< one output per subtask, or one output = the sum

/// A function of its own block of inputs (blocks are consecutive: subtask i reads the n_inputs
/// inputs after those of subtasks 0 .. i-1).
struct Subtask {
  SubtaskKind kind = SubtaskKind::kPower;
  Index n_inputs = 1;
  double scale = 1.0;
  double parameter = 2.0;
};

/// k subtasks composed in parallel.
struct CompositeTask {
  std::vector<Subtask> subtasks;
  Combine combine = Combine::kSeparate;
  InputDistribution input = InputDistribution::kUniform;

  Index input_dim() const;
  Index output_dim() const { return combine == Combine::kSeparate ? static_cast<Index>(subtasks.size()) : 1; }
  void validate() const;
  /// Y (n, output_dim) = targets of inputs X (n, input_dim), both row-major.
  void targets(const double* X, Index n, double* Y) const;
  /// Samples first .. first + n - 1 of (key, stream): X (n, input_dim) and Y (n, output_dim).
  void sample(std::uint64_t key, std::uint64_t stream, std::uint64_t first, Index n, double* X,
              double* Y) const;
};

// ---- training ------------------------------------------------------------------------------

enum class Optimizer { kAdam, kSgd };
/// Learning rate after warm-up, with u = (step - warmup) / (steps - warmup) in [0, 1):
/// constant: peak; cosine: final + (peak - final)(1 + cos(pi u))/2; linear: peak + (final -
/// peak) u; geometric: peak (final / peak)^u. During warm-up: peak (step + 1) / warmup.
enum class Decay { kConstant, kCosine, kLinear, kGeometric };

struct Training {
  Optimizer optimizer = Optimizer::kAdam;
  double learning_rate = 3e-3;        ///< peak rate
  double final_learning_rate = 3e-5;  ///< reached at the last step (ignored by kConstant)
  Decay decay = Decay::kGeometric;
  Index warmup_steps = 0;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  ///< Adam (PyTorch's update form)
  double momentum = 0.0;                              ///< SGD heavy-ball momentum
  Index steps = 1000;
  Index batch_size = 128;
  Index train_size = 0;            ///< 0: online (B fresh samples per step); else a fixed set
  std::vector<Index> checkpoints;  ///< ascending steps in [0, steps] at which losses are measured
  Index eval_size = 20000;         ///< fresh evaluation samples (shared by all networks of a task)
  std::uint64_t eval_key = 0;

  double learning_rate_at(Index step) const;
  void validate() const;
};

/// One network to train: which task, its hidden widths and its key K.
struct NetworkJob {
  Index task = 0;
  std::vector<Index> hidden;
  std::uint64_t key = 0;
};

struct TrainingResult {
  std::vector<Vector<double>> parameters;  ///< final parameters of each network
  /// (n_networks, n_checkpoints * output_dim): per-output MSE on the evaluation set at each
  /// checkpoint (checkpoint c, output o at column c * output_dim + o; output_dim of the task,
  /// unused columns of narrower tasks are NaN).
  RowMatrix<double> test_loss;
  /// Same layout: per-output MSE on the fixed training set (NaN for online training).
  RowMatrix<double> train_loss;
};

/// Trains every job (parallel over networks; each network single-threaded, so bit-identical
/// for any thread count). Polls `control` between rounds of steps (Ctrl-C within a second on
/// the reference machine) and reports the fraction of the work done.
TrainingResult train_networks(const std::vector<CompositeTask>& tasks,
                              const std::vector<NetworkJob>& jobs, Activation activation,
                              const Initialization& init, const Training& training,
                              const RunControl& control);

/// Outputs f (n, output_dim) of the network with parameters `params` on inputs X (n, d).
RowMatrix<double> forward(const Architecture& arch, const double* params,
                          const Eigen::Ref<const RowMatrix<double>>& X);

/// Loss L = (1/n) sum_b sum_o (f_bo - y_bo)^2 and its gradient (same layout as the parameters).
double loss_and_gradient(const Architecture& arch, const double* params,
                         const Eigen::Ref<const RowMatrix<double>>& X,
                         const Eigen::Ref<const RowMatrix<double>>& Y, double* gradient);

}  // namespace scalinglab::mlp
