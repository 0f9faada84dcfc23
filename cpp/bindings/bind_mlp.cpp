/// \file bind_mlp.cpp
/// Small-network training engine (mlp.hpp). Thin: converts the task / training dictionaries
/// built by scalinglab.resource, checks shapes naming the argument, releases the GIL.
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "scalinglab/mlp.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::bindings {
namespace {

namespace mlp = scalinglab::mlp;

template <class T>
T item(const py::dict& d, const char* key, const char* argument) {
  if (!d.contains(key))
    throw py::value_error(std::string("`") + argument + "`: missing key '" + key + "'");
  return d[key].cast<T>();
}

mlp::Activation parse_activation(const std::string& name) {
  if (name == "tanh") return mlp::Activation::kTanh;
  if (name == "relu") return mlp::Activation::kRelu;
  if (name == "silu") return mlp::Activation::kSilu;
  throw py::value_error("`activation`: expected 'tanh', 'relu' or 'silu', got '" + name + "'");
}

mlp::CompositeTask parse_task(const py::dict& d) {
  mlp::CompositeTask task;
  const auto kinds = item<std::vector<std::string>>(d, "kinds", "task");
  const auto n_inputs = item<std::vector<std::int64_t>>(d, "n_inputs", "task");
  const auto scales = item<std::vector<double>>(d, "scales", "task");
  const auto parameters = item<std::vector<double>>(d, "parameters", "task");
  if (n_inputs.size() != kinds.size() || scales.size() != kinds.size() ||
      parameters.size() != kinds.size())
    throw py::value_error("`task`: kinds, n_inputs, scales and parameters must have one entry per subtask");
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    mlp::Subtask s;
    if (kinds[i] == "power") {
      s.kind = mlp::SubtaskKind::kPower;
    } else if (kinds[i] == "sine") {
      s.kind = mlp::SubtaskKind::kSine;
    } else if (kinds[i] == "product") {
      s.kind = mlp::SubtaskKind::kProduct;
    } else {
      throw py::value_error("`task`: unknown subtask kind '" + kinds[i] + "'");
    }
    s.n_inputs = n_inputs[i];
    s.scale = scales[i];
    s.parameter = parameters[i];
    task.subtasks.push_back(s);
  }
  const auto combine = item<std::string>(d, "combine", "task");
  if (combine == "separate") {
    task.combine = mlp::Combine::kSeparate;
  } else if (combine == "sum") {
    task.combine = mlp::Combine::kSum;
  } else {
    throw py::value_error("`task`: combine must be 'separate' or 'sum', got '" + combine + "'");
  }
  const auto input = item<std::string>(d, "input_dist", "task");
  if (input == "uniform") {
    task.input = mlp::InputDistribution::kUniform;
  } else if (input == "normal") {
    task.input = mlp::InputDistribution::kNormal;
  } else {
    throw py::value_error("`task`: input_dist must be 'uniform' or 'normal', got '" + input + "'");
  }
  task.validate();
  return task;
}

mlp::Initialization parse_init(const py::dict& d) {
  mlp::Initialization init;
  init.input_weight_std = item<double>(d, "input_weight_std", "init");
  init.weight_gain = item<double>(d, "weight_gain", "init");
  init.hidden_bias_range = item<double>(d, "hidden_bias_range", "init");
  return init;
}

mlp::Training parse_training(const py::dict& d) {
  mlp::Training t;
  const auto optimizer = item<std::string>(d, "optimizer", "training");
  if (optimizer == "adam") {
    t.optimizer = mlp::Optimizer::kAdam;
  } else if (optimizer == "sgd") {
    t.optimizer = mlp::Optimizer::kSgd;
  } else {
    throw py::value_error("`training`: optimizer must be 'adam' or 'sgd', got '" + optimizer + "'");
  }
  const auto decay = item<std::string>(d, "decay", "training");
  if (decay == "constant") {
    t.decay = mlp::Decay::kConstant;
  } else if (decay == "cosine") {
    t.decay = mlp::Decay::kCosine;
  } else if (decay == "linear") {
    t.decay = mlp::Decay::kLinear;
  } else if (decay == "geometric") {
    t.decay = mlp::Decay::kGeometric;
  } else {
    throw py::value_error("`training`: unknown decay '" + decay + "'");
  }
  t.learning_rate = item<double>(d, "learning_rate", "training");
  t.final_learning_rate = item<double>(d, "final_learning_rate", "training");
  t.warmup_steps = item<std::int64_t>(d, "warmup_steps", "training");
  t.beta1 = item<double>(d, "beta1", "training");
  t.beta2 = item<double>(d, "beta2", "training");
  t.epsilon = item<double>(d, "epsilon", "training");
  t.momentum = item<double>(d, "momentum", "training");
  t.steps = item<std::int64_t>(d, "steps", "training");
  t.batch_size = item<std::int64_t>(d, "batch_size", "training");
  t.train_size = item<std::int64_t>(d, "train_size", "training");
  const auto checkpoints = item<std::vector<std::int64_t>>(d, "checkpoints", "training");
  t.checkpoints.assign(checkpoints.begin(), checkpoints.end());
  t.eval_size = item<std::int64_t>(d, "eval_size", "training");
  t.eval_key = item<std::uint64_t>(d, "eval_key", "training");
  t.validate();
  return t;
}

mlp::Architecture make_architecture(std::int64_t input_dim, const std::vector<std::int64_t>& hidden,
                                    std::int64_t output_dim, const std::string& activation) {
  mlp::Architecture arch;
  arch.input_dim = input_dim;
  arch.hidden.assign(hidden.begin(), hidden.end());
  arch.output_dim = output_dim;
  arch.activation = parse_activation(activation);
  arch.validate();
  return arch;
}

}  // namespace

void bind_mlp(py::module_& m) {
  py::dict streams;
  streams["data"] = static_cast<std::uint64_t>(random::kStreamMlpData);
  streams["train_set"] = static_cast<std::uint64_t>(random::kStreamMlpTrainSet);
  streams["eval"] = static_cast<std::uint64_t>(random::kStreamMlpEval);
  m.attr("STREAMS") = streams;

  m.def(
      "train",
      [](const std::vector<py::dict>& task_dicts, const std::vector<std::int64_t>& job_tasks,
         const std::vector<std::vector<std::int64_t>>& job_hidden,
         const std::vector<std::uint64_t>& job_keys, const std::string& activation,
         const py::dict& init_dict, const py::dict& training_dict, int n_threads,
         py::object progress) {
        std::vector<mlp::CompositeTask> tasks;
        for (const py::dict& d : task_dicts) tasks.push_back(parse_task(d));
        if (job_hidden.size() != job_tasks.size() || job_keys.size() != job_tasks.size())
          throw py::value_error("`jobs`: tasks, hidden and keys must have one entry per network");
        std::vector<mlp::NetworkJob> jobs(job_tasks.size());
        for (std::size_t j = 0; j < jobs.size(); ++j) {
          jobs[j].task = job_tasks[j];
          jobs[j].hidden.assign(job_hidden[j].begin(), job_hidden[j].end());
          jobs[j].key = job_keys[j];
        }
        const mlp::Activation act = parse_activation(activation);
        const mlp::Initialization init = parse_init(init_dict);
        const mlp::Training training = parse_training(training_dict);
        mlp::TrainingResult result = without_gil(
            n_threads,
            [&](const RunControl& control) {
              return mlp::train_networks(tasks, jobs, act, init, training, control);
            },
            std::move(progress));
        py::list parameters;
        for (auto& p : result.parameters) parameters.append(py::cast(std::move(p)));
        return py::make_tuple(parameters, std::move(result.test_loss), std::move(result.train_loss));
      },
      py::arg("tasks"), py::arg("job_tasks"), py::arg("job_hidden"), py::arg("job_keys"),
      py::arg("activation"), py::arg("init"), py::arg("training"), py::arg("n_threads") = 0,
      py::arg("progress") = py::none(),
      "Trains many networks at once. Returns (parameters: list of flat vectors, test_loss, "
      "train_loss), the losses (n_networks, n_checkpoints * max_outputs).");

  m.def(
      "initial_parameters",
      [](std::int64_t input_dim, const std::vector<std::int64_t>& hidden, std::int64_t output_dim,
         const py::dict& init_dict, std::uint64_t init_key) {
        const mlp::Architecture arch = make_architecture(input_dim, hidden, output_dim, "silu");
        return mlp::initial_parameters(arch, parse_init(init_dict), init_key);
      },
      py::arg("input_dim"), py::arg("hidden"), py::arg("output_dim"), py::arg("init"),
      py::arg("init_key"), "Initial flat parameters for init key derive_seed(K, 0).");

  m.def(
      "forward",
      [](std::int64_t input_dim, const std::vector<std::int64_t>& hidden, std::int64_t output_dim,
         const std::string& activation, const py::array& params, const py::array& X) {
        const mlp::Architecture arch = make_architecture(input_dim, hidden, output_dim, activation);
        const auto p = vector_view<double>(params, "params", arch.n_parameters());
        const auto x = matrix_view<double>(X, "X", arch.input_dim);
        py::gil_scoped_release release;  // pure C++ below
        return mlp::forward(arch, p.data(), x);
      },
      py::arg("input_dim"), py::arg("hidden"), py::arg("output_dim"), py::arg("activation"),
      py::arg("params"), py::arg("X"), "Network outputs (n, output_dim).");

  m.def(
      "loss_and_gradient",
      [](std::int64_t input_dim, const std::vector<std::int64_t>& hidden, std::int64_t output_dim,
         const std::string& activation, const py::array& params, const py::array& X,
         const py::array& Y) {
        const mlp::Architecture arch = make_architecture(input_dim, hidden, output_dim, activation);
        const auto p = vector_view<double>(params, "params", arch.n_parameters());
        const auto x = matrix_view<double>(X, "X", arch.input_dim);
        const auto y = matrix_view<double>(Y, "Y", arch.output_dim);
        if (y.rows() != x.rows()) throw py::value_error("`Y`: expected as many rows as `X`");
        Vector<double> gradient(arch.n_parameters());
        double loss;
        {
          py::gil_scoped_release release;  // pure C++
          loss = mlp::loss_and_gradient(arch, p.data(), x, y, gradient.data());
        }
        return py::make_tuple(loss, std::move(gradient));
      },
      py::arg("input_dim"), py::arg("hidden"), py::arg("output_dim"), py::arg("activation"),
      py::arg("params"), py::arg("X"), py::arg("Y"),
      "Loss (1/n) sum (f - y)^2 and its gradient with respect to the flat parameters.");

  m.def(
      "sample_task",
      [](const py::dict& task_dict, std::uint64_t key, std::uint64_t stream, std::uint64_t first,
         std::int64_t n) {
        const mlp::CompositeTask task = parse_task(task_dict);
        if (n < 1) throw py::value_error("`n`: must be >= 1");
        RowMatrix<double> X(n, task.input_dim()), Y(n, task.output_dim());
        task.sample(key, stream, first, n, X.data(), Y.data());
        return py::make_tuple(std::move(X), std::move(Y));
      },
      py::arg("task"), py::arg("key"), py::arg("stream"), py::arg("first"), py::arg("n"),
      "Samples first .. first+n-1 of a composite task under (key, stream): (X, Y).");

  m.def(
      "task_targets",
      [](const py::dict& task_dict, const py::array& X) {
        const mlp::CompositeTask task = parse_task(task_dict);
        const auto x = matrix_view<double>(X, "X", task.input_dim());
        RowMatrix<double> Y(x.rows(), task.output_dim());
        task.targets(x.data(), x.rows(), Y.data());
        return Y;
      },
      py::arg("task"), py::arg("X"), "Targets (n, output_dim) of a composite task.");
}

}  // namespace scalinglab::bindings
