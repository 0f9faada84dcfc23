"""The resource model of neural scaling: composite tasks, neuron allocation, and its laws.

Song, Liu, Tegmark & Gore 2024, *A Resource Model for Neural Scaling Law*, arXiv 2402.05164
("SLTG"). A composite task is k subtasks; N_i neurons ("resources") of a width-N network serve
subtask i. SLTG's claims (abstract): (R1) the loss of a subtask falls as its resources grow,
l_i = c_i / N_i; (R2) homogeneous growth: N_i = r_i N with shares r_i independent of N; so (R3)
the composite loss l = sum_i l_i scales with the subtask exponent. Implemented here in the
general form of the project's digest (``resource-and-fitting.md`` Part A)::

    l_i(N_i) = l_i_inf + c_i N_i^-gamma_i,     N_i = r_i N,     l = sum_i l_i,

with the optimal allocation (N_i proportional to sqrt(c_i) at gamma = 1, our addition, not
claimed by SLTG) and the width-depth argument that maps l ~ 1/width onto l ~ N_params^-1/3.

Reconstruction, not replication
-------------------------------
SLTG's experimental details were not available to us. The experiment here follows the digest's
faithful reconstruction (A(d)): k = 3 parallel subtasks y_i = s_i x_i^2, s = (1, 2, 4),
x ~ U[-1, 1]^3, a 3 -> N (SiLU) -> 3 network, W1 ~ N(0, 1), b1 ~ U(-1, 1), W2 ~ N(0, 1/N),
b2 = 0, Adam (0.9, 0.999, 1e-8) at 3e-3 decaying geometrically to 3e-5, 128 fresh samples per
step, 20,000 fresh evaluation points. Choices of ours where the digest is silent:

* the loss is sum_o mean_b (f_bo - y_bo)^2 (so l = sum_i l_i exactly for separate outputs);
  PyTorch's ``MSELoss`` would divide by k, which with Adam only rescales epsilon;
* networks with the same seed label see the same data stream and, at init, narrower networks
  are prefixes of wider ones (common random numbers across widths reduce the scatter of the
  fitted exponents; it does not bias them);
* for ``combine="sum"`` (one output, the sum of the subtasks) the loss of subtask i is measured
  on evaluation points whose other inputs are set to 0 (every subtask kind here vanishes at 0,
  so the target there is subtask i's alone); additivity l = sum l_i then holds only
  approximately;
* resources are measured by zero ablation by default (``ablation="mean"`` replaces h_j by its
  mean instead, which removes less signal); see :func:`measure_allocation` for the pitfalls.

The digest measured (2 seeds, numpy): shares flat within about +-0.05 from width 8 to 128 and
one exponent for subtasks and composite, 0.58 at 6k steps and 1.49 at 20k, i.e. *not* SLTG's 1:
the exponent depends on the training budget. Nothing here asserts gamma = 1.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalinglab._native import _core
from scalinglab._rng import seed_from_rng
from scalinglab._validation import n_threads_arg, positive_int, real_number
from scalinglab.fit import PowerLawFit, fit_power_law

__all__ = [
    "COMPOSITE",
    "Allocation",
    "CompositeTask",
    "MLPInit",
    "MLPTraining",
    "Network",
    "PooledExponentFit",
    "ResourceExperiment",
    "Subtask",
    "SubtaskLaw",
    "TrainedNetworks",
    "ablation_increments",
    "allocation_gap",
    "composite_prediction",
    "fit_pooled_exponent",
    "fit_subtask_laws",
    "measure_allocation",
    "optimal_allocation",
    "parameter_exponent",
    "resource_experiment",
    "subtask_losses",
    "train_networks",
    "transformer_parameters",
]

#: The ``subtask`` label of the rows of a table that describe the whole composite task.
COMPOSITE = -1

_KINDS = ("power", "sine", "product")
_COMBINES = ("separate", "sum")
_INPUTS = ("uniform", "normal")
_ACTIVATIONS = ("tanh", "relu", "silu")
_OPTIMIZERS = ("adam", "sgd")
_DECAYS = ("constant", "cosine", "linear", "geometric")
# Salts of the keys derived from rng (network keys use the seed label itself).
_EVAL_SALT = 0xE7A1
_AUTO_PROGRESS_WORK = 5e9  # multiply-adds above which a progress bar is shown automatically


def _choice(value, name, options):
    if value not in options:
        raise ValueError(f"`{name}`: expected one of {options}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subtask:
    """One subtask: a function of its own block of ``n_inputs`` inputs.

    Parameters
    ----------
    kind : {"power", "sine", "product"}
        ``power``: scale * sum_m x_m^parameter (integer parameter in [0, 64]);
        ``sine``: scale * sin(parameter * sum_m x_m); ``product``: scale * prod_m x_m.
    scale : float
        s_i; the harder subtask of SLTG's toy is the one with the larger scale.
    parameter : float
        The exponent of ``power`` or the frequency of ``sine`` (unused by ``product``).
    n_inputs : int
    """

    kind: str = "power"
    scale: float = 1.0
    parameter: float = 2.0
    n_inputs: int = 1

    def __post_init__(self):
        _choice(self.kind, "kind", _KINDS)
        object.__setattr__(self, "scale", real_number(self.scale, "scale"))
        object.__setattr__(self, "parameter", real_number(self.parameter, "parameter"))
        object.__setattr__(self, "n_inputs", positive_int(self.n_inputs, "n_inputs"))
        if self.kind == "power" and not (self.parameter.is_integer() and 0 <= self.parameter <= 64):
            raise ValueError(f"`parameter`: a power must be an integer in [0, 64], got {self.parameter}")

    def __call__(self, x) -> np.ndarray:
        """Values (n,) on this subtask's inputs x (n, n_inputs)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "power":
            return self.scale * np.sum(x ** int(self.parameter), axis=1)
        if self.kind == "sine":
            return self.scale * np.sin(self.parameter * np.sum(x, axis=1))
        return self.scale * np.prod(x, axis=1)


@dataclass(frozen=True)
class CompositeTask:
    """k subtasks composed in parallel (SLTG's composite task), a frozen, hashable spec.

    Subtask i reads its own consecutive block of inputs; with ``combine="separate"`` the network
    has one output per subtask (l = sum_i l_i exactly), with ``"sum"`` a single output that is
    the sum of the subtasks.

    Parameters
    ----------
    subtasks : tuple of Subtask
    combine : {"separate", "sum"}
    input_dist : {"uniform", "normal"}
        Each input U[-1, 1] or N(0, 1), independent.
    """

    subtasks: tuple = (Subtask(scale=1.0), Subtask(scale=2.0), Subtask(scale=4.0))
    combine: str = "separate"
    input_dist: str = "uniform"

    def __post_init__(self):
        subtasks = tuple(self.subtasks)
        if not subtasks or not all(isinstance(s, Subtask) for s in subtasks):
            raise TypeError("`subtasks`: expected a non-empty sequence of Subtask")
        object.__setattr__(self, "subtasks", subtasks)
        _choice(self.combine, "combine", _COMBINES)
        _choice(self.input_dist, "input_dist", _INPUTS)

    @classmethod
    def parallel_powers(cls, scales=(1.0, 2.0, 4.0), power: int = 2, combine: str = "separate",
                        input_dist: str = "uniform") -> CompositeTask:
        """y_i = s_i x_i^power, one input each (the digest's toy; k = 1 is Liu & Tegmark's y = x^2,
        arXiv 2310.02258)."""
        return cls(tuple(Subtask("power", s, power) for s in scales), combine, input_dist)

    @property
    def k(self) -> int:
        return len(self.subtasks)

    @property
    def input_dim(self) -> int:
        return sum(s.n_inputs for s in self.subtasks)

    @property
    def output_dim(self) -> int:
        return self.k if self.combine == "separate" else 1

    def input_slice(self, i: int) -> slice:
        start = sum(s.n_inputs for s in self.subtasks[:i])
        return slice(start, start + self.subtasks[i].n_inputs)

    def targets(self, X) -> np.ndarray:
        """Targets (n, output_dim) of inputs X (n, input_dim)."""
        X = np.asarray(X, dtype=float)
        values = np.stack([s(X[:, self.input_slice(i)]) for i, s in enumerate(self.subtasks)], 1)
        return values if self.combine == "separate" else values.sum(axis=1, keepdims=True)

    def sample(self, n: int, key: int, stream: str = "eval", first: int = 0):
        """(X, Y) of samples first .. first + n - 1 exactly as the engine draws them.

        ``key`` is the 64-bit key (the evaluation key, or a network's data key derive_seed(K, 1)),
        ``stream`` one of "eval", "data" (online batches: step s is samples s B .. s B + B - 1),
        "train_set".
        """
        stream_id = _core.mlp.STREAMS[_choice(stream, "stream", tuple(_core.mlp.STREAMS))]
        return _core.mlp.sample_task(self._core(), int(key), stream_id, int(first),
                                    positive_int(n, "n"))

    def _core(self) -> dict:
        return {
            "kinds": [s.kind for s in self.subtasks],
            "n_inputs": [s.n_inputs for s in self.subtasks],
            "scales": [s.scale for s in self.subtasks],
            "parameters": [s.parameter for s in self.subtasks],
            "combine": self.combine,
            "input_dist": self.input_dist,
        }


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MLPInit:
    """Initial distribution: W_1 ~ N(0, input_weight_std^2) (absolute), later W_l ~
    N(0, weight_gain^2 / fan_in), hidden biases ~ U(-hidden_bias_range, hidden_bias_range),
    output biases 0. Defaults: the digest's toy (resource-and-fitting.md A(d))."""

    input_weight_std: float = 1.0
    weight_gain: float = 1.0
    hidden_bias_range: float = 1.0

    def __post_init__(self):
        for name in ("input_weight_std", "weight_gain", "hidden_bias_range"):
            object.__setattr__(self, name, real_number(getattr(self, name), name, minimum=0.0))

    def _core(self) -> dict:
        return {"input_weight_std": self.input_weight_std, "weight_gain": self.weight_gain,
                "hidden_bias_range": self.hidden_bias_range}


@dataclass(frozen=True)
class MLPTraining:
    """How the networks are trained (a frozen spec).

    Parameters
    ----------
    steps, batch_size : int
        Optimiser steps and samples per step.
    optimizer : {"adam", "sgd"}
        Adam in PyTorch's form, p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps),
        or SGD with optional heavy-ball ``momentum``.
    learning_rate, final_learning_rate : float
        Peak rate and the rate at the last step.
    decay : {"constant", "cosine", "linear", "geometric"}
        Shape of the decay from the peak to the final rate after warm-up.
    warmup_steps : int
        Linear warm-up lr (s + 1) / warmup for s < warmup.
    train_size : int or None
        None: online learning, ``batch_size`` fresh samples every step (P = inf). An int P: a
        fixed training set visited in a fresh random order every epoch (full batch when
        batch_size = P).
    """

    steps: int = 6000
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 3e-3
    final_learning_rate: float = 3e-5
    decay: str = "geometric"
    warmup_steps: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    momentum: float = 0.0
    train_size: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "steps", positive_int(self.steps, "steps", minimum=0))
        object.__setattr__(self, "batch_size", positive_int(self.batch_size, "batch_size"))
        _choice(self.optimizer, "optimizer", _OPTIMIZERS)
        _choice(self.decay, "decay", _DECAYS)
        object.__setattr__(self, "learning_rate",
                           real_number(self.learning_rate, "learning_rate", 0.0, strict=True))
        object.__setattr__(self, "final_learning_rate",
                           real_number(self.final_learning_rate, "final_learning_rate", 0.0,
                                       strict=self.decay == "geometric"))
        object.__setattr__(self, "warmup_steps", positive_int(self.warmup_steps, "warmup_steps", 0))
        for name in ("beta1", "beta2", "momentum"):
            value = real_number(getattr(self, name), name, minimum=0.0)
            if value >= 1:
                raise ValueError(f"`{name}`: must be < 1, got {value}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "epsilon", real_number(self.epsilon, "epsilon", 0.0, strict=True))
        if self.train_size is not None:
            size = positive_int(self.train_size, "train_size")
            if size < self.batch_size:
                raise ValueError(f"`train_size`: must be >= batch_size = {self.batch_size}, got {size}")
            object.__setattr__(self, "train_size", size)

    def learning_rate_at(self, step) -> np.ndarray:
        """The rate used by step ``step`` (0-based), as the engine computes it."""
        step = np.asarray(step, dtype=float)
        peak, final, warm = self.learning_rate, self.final_learning_rate, self.warmup_steps
        span = max(1, self.steps - warm - 1)
        u = np.clip((step - warm) / span, 0.0, 1.0)
        if self.decay == "constant":
            rate = np.full_like(u, peak)
        elif self.decay == "cosine":
            rate = final + (peak - final) * 0.5 * (1 + np.cos(np.pi * u))
        elif self.decay == "linear":
            rate = peak + (final - peak) * u
        else:
            rate = peak * (final / peak) ** u
        return np.where(step < warm, peak * (step + 1) / max(warm, 1), rate)

    def _core(self, checkpoints, eval_size, eval_key) -> dict:
        return {
            "optimizer": self.optimizer, "decay": self.decay,
            "learning_rate": self.learning_rate, "final_learning_rate": self.final_learning_rate,
            "warmup_steps": self.warmup_steps, "beta1": self.beta1, "beta2": self.beta2,
            "epsilon": self.epsilon, "momentum": self.momentum, "steps": self.steps,
            "batch_size": self.batch_size, "train_size": self.train_size or 0,
            "checkpoints": list(checkpoints), "eval_size": eval_size, "eval_key": eval_key,
        }


@dataclass(frozen=True, eq=False)
class Network:
    """A trained (or initial) fully connected network; ``params`` in the engine's flat layout
    (per layer W (fan_in, fan_out) row-major, then b)."""

    input_dim: int
    hidden: tuple
    output_dim: int
    activation: str
    params: np.ndarray = field(repr=False)

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W_l (fan_in, fan_out), b_l (fan_out,))] as views of ``params``."""
        widths = (self.input_dim, *self.hidden, self.output_dim)
        out, offset = [], 0
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            W = self.params[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out)
            offset += fan_in * fan_out
            out.append((W, self.params[offset:offset + fan_out]))
            offset += fan_out
        return out

    @property
    def n_parameters(self) -> int:
        return int(self.params.size)

    def forward(self, X) -> np.ndarray:
        """Outputs (n, output_dim) from the compiled core."""
        X = np.ascontiguousarray(X, dtype=float)
        return _core.mlp.forward(self.input_dim, list(self.hidden), self.output_dim,
                                self.activation, self.params, X)

    def hidden_activations(self, X, *, replace=None) -> tuple[list[np.ndarray], np.ndarray]:
        """(activations of each hidden layer, outputs) in numpy.

        ``replace=(layer, unit, value)`` sets unit ``unit`` of hidden layer ``layer`` (0-based)
        to ``value`` (a scalar) before the next layer reads it (an ablation).
        """
        a = np.asarray(X, dtype=float)
        hidden = []
        layers = self.layers()
        for l, (W, b) in enumerate(layers):
            z = a @ W + b
            if l + 1 == len(layers):
                return hidden, z
            a = _activate(self.activation, z)
            if replace is not None and replace[0] == l:
                a = a.copy()
                a[:, replace[1]] = replace[2]
            hidden.append(a)
        raise AssertionError("unreachable")


def _activate(name, z):
    if name == "silu":
        return z / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    return np.maximum(z, 0.0)


@dataclass(frozen=True, eq=False)
class TrainedNetworks:
    """The result of :func:`train_networks`.

    Attributes
    ----------
    networks : list of Network
    jobs : pandas.DataFrame
        One row per network: ``task`` (index into ``tasks``), ``N`` (width), ``seed``, ``key``.
    tasks : tuple of CompositeTask
    checkpoints : ndarray of int
    test_loss, train_loss : ndarray, shape (n_networks, n_checkpoints, max_outputs)
        Per-output MSE on the evaluation set / the fixed training set (NaN when online).
    eval_key : int
        Key of the shared evaluation set (``task.sample(n, eval_key, "eval")``).
    """

    networks: list
    jobs: pd.DataFrame
    tasks: tuple
    checkpoints: np.ndarray
    test_loss: np.ndarray
    train_loss: np.ndarray
    eval_key: int
    training: MLPTraining


def _seed_labels(seeds) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, (bool, np.bool_)):
        return list(range(positive_int(seeds, "seeds")))
    labels = [positive_int(s, "seeds", minimum=0) for s in seeds]
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"`seeds`: expected distinct labels, got {labels}")
    return labels


def _progress_callback(progress, work, desc):
    if progress is None:
        progress = work >= _AUTO_PROGRESS_WORK
        disable = None
    else:
        disable = False
    if not progress:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=1000, desc=desc, disable=disable, leave=False)
    state = {"done": 0}

    def report(fraction):
        target = int(1000 * fraction)
        if target > state["done"]:
            bar.update(target - state["done"])
            state["done"] = target

    return report, bar


def train_networks(task, widths, seeds=1, *, hidden_layers: int = 1, activation: str = "silu",
                   training: MLPTraining | None = None, init: MLPInit | None = None,
                   checkpoints=None, eval_size: int = 20000, rng=0, n_threads: int = 0,
                   progress: bool | None = None) -> TrainedNetworks:
    """Train widths x seeds x tasks fully connected networks at once (compiled core, OpenMP over
    networks, bit-identical for any ``n_threads``).

    Parameters
    ----------
    task : CompositeTask or sequence of CompositeTask
    widths : int or sequence of int
        N, the width of every hidden layer.
    seeds : int or sequence of int
        A count (labels 0..n-1) or labels. Network (task, N, seed) has key
        derive_seed(seed_from_rng(rng), seed): the same data for every width and task.
    hidden_layers : int
        Depth (number of hidden layers of width N).
    activation : {"silu", "tanh", "relu"}
    training : MLPTraining
    init : MLPInit
    checkpoints : sequence of int, optional
        Steps at which the losses are measured (default: the last step only).
    eval_size : int
        Fresh evaluation samples (one set per task, shared by its networks).
    rng : None, int or numpy.random.Generator
    n_threads : int
        0 = all cores.
    progress : bool or None
        A tqdm bar (None: automatically for long runs).

    Returns
    -------
    TrainedNetworks
    """
    tasks = (task,) if isinstance(task, CompositeTask) else tuple(task)
    if not tasks or not all(isinstance(t, CompositeTask) for t in tasks):
        raise TypeError("`task`: expected a CompositeTask or a sequence of them")
    widths = sorted({positive_int(w, "widths") for w in np.atleast_1d(widths).tolist()})
    labels = _seed_labels(seeds)
    hidden_layers = positive_int(hidden_layers, "hidden_layers")
    _choice(activation, "activation", _ACTIVATIONS)
    training = MLPTraining() if training is None else training
    init = MLPInit() if init is None else init
    if not isinstance(training, MLPTraining):
        raise TypeError(f"`training`: expected an MLPTraining, got {type(training).__name__}")
    if not isinstance(init, MLPInit):
        raise TypeError(f"`init`: expected an MLPInit, got {type(init).__name__}")
    if checkpoints is None:
        checkpoints = [training.steps]
    checkpoints = sorted({positive_int(c, "checkpoints", minimum=0) for c in np.atleast_1d(checkpoints).tolist()})
    if checkpoints[-1] > training.steps:
        raise ValueError(f"`checkpoints`: must be <= steps = {training.steps}, got {checkpoints[-1]}")
    eval_size = positive_int(eval_size, "eval_size")
    n_threads = n_threads_arg(n_threads)
    root = seed_from_rng(rng)
    eval_key = int(_core.random.derive_seed(root, _EVAL_SALT))

    rows = []
    for t in range(len(tasks)):
        for width in widths:
            for seed in labels:
                rows.append({"task": t, "N": width, "seed": seed, "key": int(_core.random.derive_seed(root, seed))})
    jobs = pd.DataFrame(rows)
    hidden = [[int(w)] * hidden_layers for w in jobs["N"]]
    work = sum(3.0 * training.batch_size * training.steps * (hidden_layers * w * w + 8 * w)
               for w in jobs["N"])
    report, bar = _progress_callback(progress, work, "training networks")
    try:
        params, test, train = _core.mlp.train(
            [t._core() for t in tasks], jobs["task"].tolist(), hidden, jobs["key"].astype(object).tolist(),
            activation, init._core(), training._core(checkpoints, eval_size, eval_key),
            n_threads, report)
    finally:
        if bar is not None:
            bar.close()
    n_ckpt = len(checkpoints)
    max_outputs = test.shape[1] // n_ckpt if n_ckpt else 0
    networks = [
        Network(tasks[t].input_dim, tuple(h), tasks[t].output_dim, activation, np.asarray(p))
        for t, h, p in zip(jobs["task"], hidden, params)
    ]
    return TrainedNetworks(
        networks=networks, jobs=jobs, tasks=tasks, checkpoints=np.array(checkpoints),
        test_loss=test.reshape(len(jobs), n_ckpt, max_outputs),
        train_loss=train.reshape(len(jobs), n_ckpt, max_outputs),
        eval_key=eval_key, training=training,
    )


# ---------------------------------------------------------------------------------------------
# Resources: ablation increments and allocation
# ---------------------------------------------------------------------------------------------


def _subtask_sets(task: CompositeTask, X, Y):
    """[(X_i, y_i, output index)] on which subtask i's loss is measured."""
    if task.combine == "separate":
        return [(X, Y[:, i], i) for i in range(task.k)]
    sets = []
    for i, s in enumerate(task.subtasks):
        X_i = np.zeros_like(X)
        part = task.input_slice(i)
        X_i[:, part] = X[:, part]
        sets.append((X_i, s(X_i[:, part]), 0))
    return sets


def _evaluation_data(task, X, eval_size, key):
    if X is None:
        return task.sample(eval_size, key, "eval")
    X = np.ascontiguousarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != task.input_dim:
        raise ValueError(f"`X`: expected shape (n, {task.input_dim}), got {X.shape}")
    return X, task.targets(X)


def subtask_losses(network: Network, task: CompositeTask, X=None, *, eval_size: int = 20000,
                   key: int = 0) -> np.ndarray:
    """l_i, the MSE of each subtask (k,) on evaluation inputs X (default: ``eval_size`` fresh
    samples under ``key``). Separate outputs: the MSE of output i; ``combine="sum"``: the MSE
    on points whose other subtasks' inputs are 0 (module docstring)."""
    X, Y = _evaluation_data(task, X, eval_size, key)
    return np.array([np.mean((network.forward(X_i)[:, o] - y_i) ** 2)
                     for X_i, y_i, o in _subtask_sets(task, X, Y)])


def ablation_increments(network: Network, task: CompositeTask, X=None, *,
                        ablation: str = "zero", method: str = "auto", eval_size: int = 20000,
                        key: int = 0) -> np.ndarray:
    """Delta_ij: the rise of subtask i's loss when hidden unit j is ablated, shape (k, units).

    Units are all hidden units, layer by layer. With one hidden layer (activations h, read-out
    W2, residual e = f - y on subtask i's output o) the rise is, in closed form (digest A(c)),

        Delta_ij = -2 W2[j, o] E[e h'_j] + W2[j, o]^2 E[h'_j^2],   h'_j = h_j - a_j,

    exact, with a_j = 0 (``ablation="zero"``) or the mean of h_j (``"mean"``). For deeper
    networks (or ``method="recompute"``) each unit's ablated forward pass is recomputed.
    Delta can be negative (removing the unit helps); :func:`measure_allocation` clips it.

    Parameters
    ----------
    network : Network
    task : CompositeTask
    X : array_like, shape (n, d), optional
        Evaluation inputs (default: ``eval_size`` fresh samples under ``key``).
    ablation : {"zero", "mean"}
    method : {"auto", "closed_form", "recompute"}

    Returns
    -------
    ndarray, shape (k, n_hidden_units)
    """
    _choice(ablation, "ablation", ("zero", "mean"))
    _choice(method, "method", ("auto", "closed_form", "recompute"))
    if method == "auto":
        method = "closed_form" if len(network.hidden) == 1 else "recompute"
    if method == "closed_form" and len(network.hidden) != 1:
        raise ValueError("`method`: the closed form needs one hidden layer; use 'recompute'")
    X, Y = _evaluation_data(task, X, eval_size, key)
    sets = _subtask_sets(task, X, Y)
    # The ablation value a_j is fixed on the composite evaluation set (the network's data).
    hidden_full, _ = network.hidden_activations(X)
    values = [np.zeros(h.shape[1]) if ablation == "zero" else h.mean(axis=0) for h in hidden_full]
    increments = np.empty((task.k, sum(network.hidden)))
    for i, (X_i, y_i, o) in enumerate(sets):
        hidden, outputs = network.hidden_activations(X_i)
        residual = outputs[:, o] - y_i
        base = np.mean(residual**2)
        if method == "closed_form":
            W_out = network.layers()[-1][0][:, o]
            shifted = hidden[0] - values[0]
            increments[i] = (-2.0 * W_out * (residual @ shifted) / len(y_i)
                             + W_out**2 * np.mean(shifted**2, axis=0))
            continue
        column = 0
        for layer, width in enumerate(network.hidden):
            for unit in range(width):
                _, ablated = network.hidden_activations(X_i, replace=(layer, unit, values[layer][unit]))
                increments[i, column] = np.mean((ablated[:, o] - y_i) ** 2) - base
                column += 1
    return increments


@dataclass(frozen=True, eq=False)
class Allocation:
    """Neurons allocated to each subtask, from ablation increments (digest A(c)).

    Attributes
    ----------
    increments : ndarray (k, units)
        Delta_ij as measured (may be negative).
    alive : ndarray of bool (units,)
        sum_i max(Delta_ij, 0) > threshold * max_j of the same sum.
    hard : ndarray (k,)
        Alive units whose argmax_i Delta_ij is i (a polysemantic unit counts once).
    soft : ndarray (k,)
        sum_j over alive units of max(Delta_ij, 0) / sum_i' max(Delta_i'j, 0) (splits
        polysemantic units; sums to the number of alive units).
    shares, hard_shares : ndarray (k,)
        soft / n_alive and hard / n_alive (each sums to 1).
    negative_fraction : float
        Fraction of (i, alive j) with Delta_ij < 0: removal helps that subtask.
    polysemantic_fraction : float
        Fraction of alive units whose largest soft share is below 0.9.
    """

    increments: np.ndarray
    alive: np.ndarray
    hard: np.ndarray
    soft: np.ndarray
    shares: np.ndarray
    hard_shares: np.ndarray
    negative_fraction: float
    polysemantic_fraction: float

    @property
    def n_alive(self) -> int:
        return int(self.alive.sum())


def measure_allocation(increments, *, threshold: float = 1e-6) -> Allocation:
    """Hard and soft resources N_i and shares r_i from Delta (k, units).

    Pitfalls handled (digest A(c)): a threshold relative to l_i would count fewer neurons as N
    grows (single-unit effects shrink like 1/N_i^2 under redundancy), so a unit is assigned by
    argmax (hard) or split in proportion to its positive increments (soft), never by a
    loss-relative cut; negative increments are clipped at 0 (and counted); polysemantic units
    are split by the soft count and reported; one-at-a-time ablation ignores interactions.
    """
    delta = np.asarray(increments, dtype=float)
    if delta.ndim != 2 or delta.shape[1] == 0:
        raise ValueError(f"`increments`: expected shape (k, units), got {delta.shape}")
    threshold = real_number(threshold, "threshold", minimum=0.0)
    positive = np.maximum(delta, 0.0)
    importance = positive.sum(axis=0)
    alive = importance > threshold * importance.max() if importance.max() > 0 else np.zeros(delta.shape[1], bool)
    k = delta.shape[0]
    split = positive[:, alive] / importance[alive]
    soft = split.sum(axis=1)
    hard = np.bincount(np.argmax(delta[:, alive], axis=0), minlength=k).astype(float)
    n_alive = max(int(alive.sum()), 1)
    return Allocation(
        increments=delta, alive=alive, hard=hard, soft=soft, shares=soft / n_alive,
        hard_shares=hard / n_alive,
        negative_fraction=float(np.mean(delta[:, alive] < 0)) if alive.any() else 0.0,
        polysemantic_fraction=float(np.mean(split.max(axis=0) < 0.9)) if alive.any() else 0.0,
    )


# ---------------------------------------------------------------------------------------------
# The resource model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubtaskLaw:
    """l_i(N_i) = offset + prefactor * N_i^-exponent (SLTG's R1 has offset 0, exponent 1)."""

    prefactor: float
    exponent: float = 1.0
    offset: float = 0.0

    def __call__(self, resources) -> np.ndarray:
        return self.offset + self.prefactor * np.asarray(resources, dtype=float) ** (-self.exponent)

    @classmethod
    def from_fit(cls, fit: PowerLawFit) -> SubtaskLaw:
        return cls(fit.prefactor, fit.exponent, fit.offset)


def composite_prediction(laws: Sequence[SubtaskLaw], shares, N) -> np.ndarray:
    """l(N) = sum_i l_i(r_i N) (SLTG's R3 in the general form). Shape of N."""
    shares = np.asarray(shares, dtype=float)
    if shares.shape != (len(laws),):
        raise ValueError(f"`shares`: expected shape ({len(laws)},), got {shares.shape}")
    N = np.asarray(N, dtype=float)
    return sum(law(r * N) for law, r in zip(laws, shares))


def optimal_allocation(prefactors, exponents=1.0, N: float = 1.0):
    """Resources minimising sum_i c_i N_i^-gamma_i subject to sum_i N_i = N.

    Lagrange: gamma_i c_i N_i^-(gamma_i + 1) = lambda, so N_i = (gamma_i c_i / lambda)^(1/(1 +
    gamma_i)); at a common gamma, N_i is proportional to c_i^(1/(1+gamma)) (sqrt(c_i) at gamma
    = 1, where l* = (sum_i sqrt(c_i))^2 / N). Unequal exponents: lambda by bisection.

    Returns
    -------
    (shares (k,), loss) : the optimal r_i = N_i / N and the minimal reducible loss.
    """
    c = np.asarray(prefactors, dtype=float)
    gamma = np.broadcast_to(np.asarray(exponents, dtype=float), c.shape)
    if c.ndim != 1 or not (c > 0).all():
        raise ValueError("`prefactors`: expected a 1-D array of values > 0")
    if not (gamma > 0).all():
        raise ValueError("`exponents`: must be > 0")
    N = real_number(N, "N", 0.0, strict=True)

    def resources(log_lambda):
        return np.exp((np.log(gamma * c) - log_lambda) / (1 + gamma))

    if np.all(gamma == gamma[0]):
        weights = c ** (1 / (1 + gamma[0]))
        shares = weights / weights.sum()
    else:
        low, high = -200.0, 200.0  # total resources decrease in log lambda
        for _ in range(200):
            middle = 0.5 * (low + high)
            low, high = (middle, high) if resources(middle).sum() > N else (low, middle)
        shares = resources(0.5 * (low + high))
        shares = shares / shares.sum()
    return shares, float(np.sum(c * (shares * N) ** (-gamma)))


def allocation_gap(laws: Sequence[SubtaskLaw], shares, N: float = 1.0) -> dict:
    """How far the network's shares are from the optimum of its own fitted subtask laws.

    Returns a dict: ``loss`` (reducible part, sum_i c_i (r_i N)^-gamma_i), ``optimal_loss``,
    ``ratio`` (>= 1), ``optimal_shares``, ``share_distance`` (max_i |r_i - r*_i|).
    Homogeneous growth holds for any scale-free rule, so R2 alone does not show optimality.
    """
    shares = np.asarray(shares, dtype=float)
    c = np.array([law.prefactor for law in laws])
    gamma = np.array([law.exponent for law in laws])
    optimal, best = optimal_allocation(c, gamma, N)
    loss = float(np.sum(c * (shares * N) ** (-gamma)))
    return {"loss": loss, "optimal_loss": best, "ratio": loss / best,
            "optimal_shares": optimal, "share_distance": float(np.max(np.abs(shares - optimal)))}


def transformer_parameters(width, *, aspect_ratio=None, n_layers=None) -> np.ndarray:
    """N_p = 12 n_layer d^2 (non-embedding parameters of a transformer of width d; Kaplan et
    al. 2020, arXiv 2001.08361, sec. 2.1), with n_layer = d / aspect_ratio or given."""
    d = np.asarray(width, dtype=float)
    if (aspect_ratio is None) == (n_layers is None):
        raise ValueError("`aspect_ratio`/`n_layers`: give exactly one")
    layers = d / real_number(aspect_ratio, "aspect_ratio", 0.0, strict=True) if n_layers is None \
        else np.asarray(n_layers, dtype=float)
    return 12.0 * layers * d**2


def parameter_exponent(resource_exponent: float = 1.0, scaling: str = "width_depth") -> float:
    """Exponent of l in N_p when l ~ resources^-gamma (SLTG's Chinchilla argument, R4).

    ``"width_depth"``: the paper's hypothesis (as summarised; its text was not available):
    the resource is the width d, depth grows with it (n_layer = d / rho), N_p ~ d^3, so
    l ~ N_p^-gamma/3 (1/3 at gamma = 1, vs Chinchilla's alpha ~ 0.34). ``"all_neurons"``:
    every neuron of every layer is a resource, N ~ d n_layer ~ d^2, giving 2 gamma / 3.
    ``"fixed_depth"``: width-only scaling, N_p ~ d^2, giving gamma / 2.
    """
    gamma = real_number(resource_exponent, "resource_exponent", 0.0, strict=True)
    factors = {"width_depth": 1 / 3, "all_neurons": 2 / 3, "fixed_depth": 1 / 2}
    return gamma * factors[_choice(scaling, "scaling", tuple(factors))]


# ---------------------------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PooledExponentFit:
    """log l_i = a_i - gamma log N_i with one intercept per subtask (least squares).

    Attributes: ``exponent`` gamma, ``exponent_stderr``, ``prefactors`` exp(a_i) (k,),
    ``n_points``."""

    exponent: float
    exponent_stderr: float
    prefactors: tuple
    n_points: int


def _subtask_rows(table, min_width):
    rows = table[(table["subtask"] != COMPOSITE) & (table["t"] == table["t"].max())]
    rows = rows[(rows["N"] >= min_width) & (rows["resource"] > 0) & (rows["test_loss"] > 0)]
    return rows


def fit_pooled_exponent(table: pd.DataFrame, *, resource: str = "resource",
                        min_width: int = 1) -> PooledExponentFit:
    """Pooled exponent of l_i against N_i (soft resources by default), a fixed effect per
    subtask, from a :func:`resource_experiment` table (final step)."""
    rows = _subtask_rows(table, min_width)
    labels = np.sort(rows["subtask"].unique())
    if rows.empty or len(rows) < len(labels) + 2:
        raise ValueError("`table`: too few subtask rows to fit a pooled exponent")
    design = np.zeros((len(rows), len(labels) + 1))
    design[:, 0] = -np.log(rows[resource].to_numpy(float))
    for col, label in enumerate(labels):
        design[:, col + 1] = rows["subtask"].to_numpy() == label
    target = np.log(rows["test_loss"].to_numpy(float))
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ solution
    dof = len(rows) - design.shape[1]
    covariance = np.linalg.pinv(design.T @ design) * (residual @ residual / dof)
    return PooledExponentFit(float(solution[0]), float(np.sqrt(covariance[0, 0])),
                             tuple(np.exp(solution[1:])), int(len(rows)))


def fit_subtask_laws(table: pd.DataFrame, *, resource: str = "resource", offset: bool = False,
                     min_width: int = 1) -> list[PowerLawFit]:
    """l_i = l_i_inf + c_i N_i^-gamma_i per subtask with :func:`scalinglab.fit.fit_power_law`
    (``offset=True`` fits l_i_inf as well; it needs >= 4 points per subtask)."""
    rows = _subtask_rows(table, min_width)
    return [fit_power_law(group[resource].to_numpy(float), group["test_loss"].to_numpy(float),
                          offset=offset)
            for _, group in rows.groupby("subtask", sort=True)]


# ---------------------------------------------------------------------------------------------
# The experiment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ResourceExperiment:
    """The result of :func:`resource_experiment`.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy, one row per (N, seed, t, subtask): ``N`` (width), ``P`` (inf: online), ``t``
        (steps), ``seed``, ``subtask`` (0..k-1, or COMPOSITE = -1 for the whole task),
        ``test_loss`` (the subtask's MSE l_i, or l = sum_i l_i), ``train_loss`` (NaN online),
        ``compute`` (6 n_params B t), ``n_params``; at the final step also ``resource`` (soft
        N_i; alive units for the composite), ``resource_hard``, ``share`` (soft r_i),
        ``share_hard``, ``negative_fraction``, ``polysemantic_fraction``.
    composite_fit : PowerLawFit
        l against N (widths >= ``min_fit_width``, all seeds).
    pooled_fit : PooledExponentFit
        l_i against soft N_i with a fixed effect per subtask.
    subtask_laws : list of SubtaskLaw
        Per-subtask fits of l_i against N_i.
    mean_shares : pandas.DataFrame
        Soft and hard shares averaged over seeds, per (N, subtask).
    gap : dict
        :func:`allocation_gap` of the mean shares at the widest N.
    task : CompositeTask
    trained : TrainedNetworks
    """

    table: pd.DataFrame
    composite_fit: PowerLawFit
    pooled_fit: PooledExponentFit
    subtask_laws: list
    mean_shares: pd.DataFrame
    gap: dict
    task: CompositeTask
    trained: TrainedNetworks = field(repr=False)

    def predict(self, N) -> np.ndarray:
        """Composite loss from the subtask laws and the widest size's mean soft shares."""
        widest = self.mean_shares[self.mean_shares["N"] == self.mean_shares["N"].max()]
        return composite_prediction(self.subtask_laws, widest["share"].to_numpy(), N)


def resource_experiment(task: CompositeTask | None = None, widths=(8, 16, 32, 64, 128),
                        seeds=4, *, training: MLPTraining | None = None,
                        init: MLPInit | None = None, hidden_layers: int = 1,
                        activation: str = "silu", checkpoints=None, eval_size: int = 20000,
                        ablation: str = "zero", min_fit_width: int = 16, rng=0,
                        n_threads: int = 0, progress: bool | None = None) -> ResourceExperiment:
    """Run the resource-model experiment (digest A(d), SLTG arXiv 2402.05164) over widths and
    seeds: train, measure per-subtask losses and allocations, fit the laws.

    Parameters
    ----------
    task : CompositeTask, default ``CompositeTask.parallel_powers((1, 2, 4))``
    widths : sequence of int
        Hidden widths N.
    seeds : int or sequence of int
        >= 4 recommended (seed scatter is 0.1-0.6 decades at one width).
    training, init, hidden_layers, activation, checkpoints, eval_size, rng, n_threads, progress
        As in :func:`train_networks` (default training: Adam 3e-3 -> 3e-5 geometric, 6000 steps,
        batch 128 online).
    ablation : {"zero", "mean"}
        How resources are measured (:func:`ablation_increments`).
    min_fit_width : int
        Exponents are fitted on widths >= this (the smallest widths are often off the law).

    Returns
    -------
    ResourceExperiment
    """
    task = CompositeTask.parallel_powers() if task is None else task
    if not isinstance(task, CompositeTask):
        raise TypeError(f"`task`: expected a CompositeTask, got {type(task).__name__}")
    trained = train_networks(task, widths, seeds, hidden_layers=hidden_layers,
                             activation=activation, training=training, init=init,
                             checkpoints=checkpoints, eval_size=eval_size, rng=rng,
                             n_threads=n_threads, progress=progress)
    training = trained.training
    X_eval, _ = task.sample(eval_size, trained.eval_key, "eval")
    P = np.inf if training.train_size is None else float(training.train_size)
    final = int(trained.checkpoints[-1])
    rows = []
    for j, (job, network) in enumerate(zip(trained.jobs.itertuples(), trained.networks)):
        base = {"N": job.N, "P": P, "seed": job.seed, "n_params": network.n_parameters}
        final_losses = None
        if final == training.steps:
            allocation = measure_allocation(
                ablation_increments(network, task, X_eval, ablation=ablation))
            final_losses = subtask_losses(network, task, X_eval)
        for c, t in enumerate(trained.checkpoints):
            if task.combine == "separate":
                losses = trained.test_loss[j, c, :task.k]
                train = trained.train_loss[j, c, :task.k]
            else:  # the engine measures the one output; subtask losses only at the end
                losses = final_losses if (t == final and final_losses is not None) else np.full(task.k, np.nan)
                train = np.full(task.k, np.nan)
            common = {**base, "t": int(t), "compute": 6.0 * network.n_parameters * training.batch_size * t}
            composite_test = (float(np.sum(losses)) if task.combine == "separate"
                              else float(trained.test_loss[j, c, 0]))
            composite_train = (float(np.sum(train)) if task.combine == "separate"
                               else float(trained.train_loss[j, c, 0]))
            extra = [{} for _ in range(task.k)]
            extra_composite = {}
            if t == final and final_losses is not None:
                for i in range(task.k):
                    extra[i] = {"resource": allocation.soft[i], "resource_hard": allocation.hard[i],
                                "share": allocation.shares[i], "share_hard": allocation.hard_shares[i]}
                extra_composite = {"resource": float(allocation.n_alive),
                                   "resource_hard": float(allocation.n_alive),
                                   "share": 1.0, "share_hard": 1.0,
                                   "negative_fraction": allocation.negative_fraction,
                                   "polysemantic_fraction": allocation.polysemantic_fraction}
            for i in range(task.k):
                rows.append({**common, "subtask": i, "test_loss": float(losses[i]),
                             "train_loss": float(train[i]), **extra[i]})
            rows.append({**common, "subtask": COMPOSITE, "test_loss": composite_test,
                         "train_loss": composite_train, **extra_composite})
    columns = ["N", "P", "t", "seed", "subtask", "test_loss", "train_loss", "compute", "n_params",
               "resource", "resource_hard", "share", "share_hard", "negative_fraction",
               "polysemantic_fraction"]
    table = pd.DataFrame(rows).reindex(columns=columns)

    last = table[table["t"] == final]
    composite = last[(last["subtask"] == COMPOSITE) & (last["N"] >= min_fit_width)]
    composite_fit = fit_power_law(composite["N"].to_numpy(float), composite["test_loss"].to_numpy(float))
    pooled = fit_pooled_exponent(table, min_width=min_fit_width)
    laws = [SubtaskLaw.from_fit(f) for f in fit_subtask_laws(table, min_width=min_fit_width)]
    mean_shares = (last[last["subtask"] != COMPOSITE].groupby(["N", "subtask"], as_index=False)
                   [["share", "share_hard", "resource"]].mean())
    widest = mean_shares[mean_shares["N"] == mean_shares["N"].max()]
    gap = allocation_gap(laws, widest["share"].to_numpy(), float(widest["N"].iloc[0]))
    return ResourceExperiment(table=table, composite_fit=composite_fit, pooled_fit=pooled,
                              subtask_laws=laws, mean_shares=mean_shares, gap=gap, task=task,
                              trained=trained)
