"""The shared vocabulary: result schema, frontier, optimizer specs, progress, task protocol."""

import numpy as np
import pandas as pd
import pytest

from scalinglab import frontier, optimizers, results, tasks
from scalinglab._progress import progress_flag, progress_reporter


def _analytic_table(alpha=1.0, beta=1.0):
    # L(N, t) = N^-alpha + t^-beta with compute C = N t: the optimum is known in closed form.
    Ns = np.logspace(1, 4, 25)
    ts = np.logspace(0, 6, 49)
    N, t = np.meshgrid(Ns, ts, indexing="ij")
    return pd.DataFrame({"N": N.ravel(), "t": t.ravel(), "compute": (N * t).ravel(),
                         "test_loss": (N ** -alpha + t ** -beta).ravel()})


def test_frontier_matches_the_closed_form_optimum():
    table = _analytic_table()
    front = frontier.compute_optimal_frontier(table, computes=np.logspace(3, 6, 13))
    inside = front[front["interior"]]
    assert len(inside) == 13
    # min_N 1/N + N/C: N* = sqrt(C), L* = 2 / sqrt(C).
    C = inside["compute"].to_numpy()
    np.testing.assert_allclose(inside["test_loss"], 2 / np.sqrt(C), rtol=2e-3)
    np.testing.assert_allclose(inside["N"], np.sqrt(C), rtol=0.03)
    fitted = frontier.fit_frontier_exponents(front)
    assert fitted.loss == pytest.approx(-0.5, abs=2e-3)
    assert fitted.N == pytest.approx(0.5, abs=0.01)
    assert fitted.t == pytest.approx(0.5, abs=0.01)
    assert fitted.regime == "fit" and fitted.n_points == 13


def test_frontier_asymmetric_exponents_and_edges():
    # L = N^-1 + t^-0.5: N* ~ C^(1/3), L* ~ C^(-1/3).
    table = _analytic_table(1.0, 0.5)
    front = frontier.compute_optimal_frontier(table)
    fitted = frontier.fit_frontier_exponents(front, compute_range=(1e3, 1e7))
    assert fitted.loss == pytest.approx(-1 / 3, abs=5e-3)
    assert fitted.N == pytest.approx(1 / 3, abs=0.02)
    # At the smallest computes the optimum sits at the edge of the size grid: not interior.
    assert not front["interior"].iloc[0]
    assert (front["N"] >= front["N_grid"].min() * 0.999).all()


def test_frontier_refuses_bad_tables():
    with pytest.raises(ValueError, match="size"):
        frontier.compute_optimal_frontier(pd.DataFrame({"x": [1.0]}))
    table = _analytic_table().query("N < 15")
    with pytest.raises(ValueError, match=">= 3 distinct"):
        frontier.compute_optimal_frontier(table)
    with pytest.raises(ValueError, match="compute_range"):
        frontier.fit_frontier_exponents(frontier.compute_optimal_frontier(_analytic_table()),
                                        compute_range=(10.0, 1.0))


def test_schema_check_and_xarray():
    frame = pd.DataFrame({"seed": [0, 0, 1, 1], "N": [10.0, 20.0, 10.0, 20.0],
                          "t": [1.0] * 4, "test_loss": [0.4, 0.3, 0.5, 0.2], "method": "gf"})
    assert results.check_schema(frame) is frame
    with pytest.raises(ValueError, match="test_loss"):
        results.check_schema(frame.rename(columns={"test_loss": "risk"}))
    with pytest.raises(ValueError, match="missing"):
        results.check_schema(frame, required=("train_loss",))
    pytest.importorskip("xarray")
    dataset = results.to_xarray(frame)
    assert dict(dataset.sizes) == {"seed": 2, "N": 2}
    assert dataset["test_loss"].sel(seed=1, N=20.0).item() == 0.2
    assert dataset.attrs["method"] == "gf" and dataset.attrs["t"] == 1.0
    with pytest.raises(ValueError, match="uniquely"):
        results.to_xarray(frame, dims=["N"])


def test_optimizer_specs_and_shorthands():
    assert optimizers.as_optimizer("gf") == optimizers.GradientFlow()
    assert optimizers.as_optimizer("gd", 0.5) == optimizers.GradientDescent(0.5)
    sgd = optimizers.as_optimizer("sgd", 0.4, 8)
    assert sgd == optimizers.SGD(0.4, 8) and sgd.batch_sum_learning_rate == pytest.approx(0.05)
    assert hash(sgd) == hash(optimizers.SGD(0.4, 8))
    with pytest.raises(ValueError, match="learning rate 1"):
        optimizers.as_optimizer("gf", 0.1)
    with pytest.raises(ValueError, match="`learning_rate`: required"):
        optimizers.as_optimizer("gd")
    with pytest.raises(ValueError, match="`batch_size`: required"):
        optimizers.as_optimizer("sgd", 0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.GradientDescent(-1.0)
    with pytest.raises(ValueError, match="carries its own"):
        optimizers.as_optimizer(optimizers.GradientDescent(0.1), 0.2)
    with pytest.raises(ValueError, match="`method`"):
        optimizers.as_optimizer("adam")


def test_progress_keyword():
    assert progress_flag(None) is None and progress_flag(np.bool_(True)) is True
    with pytest.raises(TypeError, match="progress"):
        progress_flag("yes")
    with progress_reporter(False, 10, desc="x", long=True) as quiet:
        assert quiet.stage(5) is None and not quiet.active
    with progress_reporter(True, 10, desc="x", long=False) as shown:
        first, second = shown.stage(4), None
        first(0.5)
        first(1.0)
        second = shown.stage(6)
        second(0.5)
        assert shown._bar.n == pytest.approx(7.0)


def test_task_protocol_and_value_equality():
    power = tasks.PowerLawTask(2.0, 1.5, 50)
    linear = power.as_linear()
    assert isinstance(power, tasks.Task) and isinstance(linear, tasks.Task)
    twin = tasks.LinearGaussianTask(linear.spectrum.copy(), linear.target.copy(), 0.0)
    assert twin == linear and hash(twin) == hash(linear)
    assert twin.fingerprint == linear.fingerprint
    assert tasks.LinearGaussianTask(linear.spectrum, linear.target, 0.1) != linear
    assert len({twin, linear}) == 1
    np.testing.assert_array_equal(tasks.power_law_spectrum(1.5, 4), np.arange(1, 5.0) ** -1.5)

    class Custom:
        def as_linear(self):
            return linear

    assert tasks.as_linear_task(Custom()) is linear
    with pytest.raises(TypeError, match="as_linear"):
        tasks.as_linear_task(object())
