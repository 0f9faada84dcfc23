"""Optimizer specs shared by simulation and theory: one meaning of ``learning_rate``.

Every engine and theory that trains the model takes an ``optimizer`` (one of the frozen specs
below, or the shorthand strings ``"gf"``, ``"gd"``, ``"sgd"`` together with ``learning_rate`` /
``batch_size`` keywords). The unit is stated once, here:

* the training loss is the batch mean L_B(w) = (1 / 2B) sum_{i in batch} (f(x_i) - y_i)^2 (B = P
  for full-batch methods);
* one step is w <- w - learning_rate * grad L_B(w), i.e. ``learning_rate`` multiplies the *mean*
  gradient over the batch;
* gradient flow is the limit learning_rate -> 0 with t = learning_rate x steps: it has no learning
  rate, and ``t`` is its time. Gradient descent with rate eta at step k follows gradient flow at
  time eta k while eta is small.

Paquette, Paquette, Xiao & Pennington 2024 (arXiv 2405.15074) write SGD with a rate gamma that
multiplies the *sum* of the per-sample gradients: gamma = learning_rate / batch_size
(:attr:`SGD.batch_sum_learning_rate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from scalinglab._validation import positive_int, real_number


@dataclass(frozen=True)
class GradientFlow:
    """Gradient flow dw/dt = -grad L(w) on the full training set; ``t`` is time."""

    #: Short name used in result tables (column ``method``).
    name = "gf"

    @property
    def learning_rate(self) -> float:
        """1: gradient-flow time is measured in units of the learning rate."""
        return 1.0


@dataclass(frozen=True)
class GradientDescent:
    """Full-batch gradient descent w <- w - learning_rate * grad L(w); ``t`` counts steps.

    Parameters
    ----------
    learning_rate : float
        eta > 0, multiplying the mean gradient. Stable for eta < 2 / mu_max, mu_max the top
        eigenvalue of the (mean) training Hessian.
    """

    learning_rate: float
    name = "gd"

    def __post_init__(self):
        object.__setattr__(self, "learning_rate",
                           real_number(self.learning_rate, "learning_rate", minimum=0.0, strict=True))


@dataclass(frozen=True)
class SGD:
    """Minibatch SGD w <- w - learning_rate * (mean gradient of B samples); ``t`` counts steps.

    Parameters
    ----------
    learning_rate : float
        eta > 0, multiplying the mean gradient of the batch.
    batch_size : int
        B >= 1 samples per step.
    one_pass : bool
        True: every step draws B fresh samples (online SGD; P = inf). False: multi-epoch SGD
        over a fixed training set of P samples, visited in a fresh random order every epoch.
    """

    learning_rate: float
    batch_size: int
    one_pass: bool = False
    name = "sgd"

    def __post_init__(self):
        object.__setattr__(self, "learning_rate",
                           real_number(self.learning_rate, "learning_rate", minimum=0.0, strict=True))
        object.__setattr__(self, "batch_size", positive_int(self.batch_size, "batch_size"))
        if not isinstance(self.one_pass, bool):
            raise TypeError(f"`one_pass`: expected a bool, got {self.one_pass!r}")

    @property
    def batch_sum_learning_rate(self) -> float:
        """gamma = learning_rate / batch_size, PPXP's rate on the summed gradient."""
        return self.learning_rate / self.batch_size


Optimizer = GradientFlow | GradientDescent | SGD
_SHORTHANDS = ("gf", "gd", "sgd")


def as_optimizer(optimizer, learning_rate=None, batch_size=None, *,
                 name: str = "method") -> GradientFlow | GradientDescent | SGD:
    """Normalise an optimizer argument: a spec, or a shorthand string plus keywords.

    Parameters
    ----------
    optimizer : GradientFlow, GradientDescent, SGD or {"gf", "gd", "sgd"}
        The spec, or its shorthand.
    learning_rate, batch_size : optional
        Only with a shorthand: ``"gd"`` needs ``learning_rate``; ``"sgd"`` needs both; ``"gf"``
        accepts neither (its rate is 1 and ``t`` is its time).
    name : str
        The argument name used in error messages.

    Returns
    -------
    GradientFlow, GradientDescent or SGD
    """
    if isinstance(optimizer, (GradientFlow, GradientDescent, SGD)):
        if learning_rate is not None or batch_size is not None:
            raise ValueError(
                f"`{name}`: an optimizer spec carries its own learning_rate and batch_size; "
                "do not pass them as keywords too"
            )
        return optimizer
    if not isinstance(optimizer, str) or optimizer not in _SHORTHANDS:
        raise ValueError(
            f"`{name}`: expected GradientFlow(), GradientDescent(lr), SGD(lr, batch_size) or one "
            f"of {_SHORTHANDS}, got {optimizer!r}"
        )
    if optimizer == "gf":
        if learning_rate is not None:
            raise ValueError(
                "`learning_rate`: gradient flow has learning rate 1 (t is its time); use "
                "method='gd' for a finite step"
            )
        if batch_size is not None:
            raise ValueError(f"`batch_size`: only used by method='sgd', got {name}='gf'")
        return GradientFlow()
    if learning_rate is None:
        raise ValueError(f"`learning_rate`: required for {name}={optimizer!r}")
    if optimizer == "gd":
        if batch_size is not None:
            raise ValueError(f"`batch_size`: only used by method='sgd', got {name}='gd'")
        return GradientDescent(learning_rate)
    if batch_size is None:
        raise ValueError(f"`batch_size`: required for {name}='sgd'")
    return SGD(learning_rate, batch_size)
