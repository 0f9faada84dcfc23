"""Every curve producer returns the shared result schema (scalinglab.results), with these exact
columns; optimizer specs and shorthands give the same numbers; scalinglab.sgd_theory stays a
working import path. (The demo's table is checked in tests/test_demo.py, which runs it.)"""

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from scalinglab import dynamics, frontier, results, sgd_scaling, solvers, theory, volterra
from scalinglab.features import RandomFeatures
from scalinglab.optimizers import SGD, GradientDescent, GradientFlow
from scalinglab.tasks import PowerLawTask

TASK = PowerLawTask(2.0, 1.5, 200)
CURVE = ["N", "P", "t", "test_loss", "compute", "batch_size"]
FRONTIER = ["compute", "N", "t", "test_loss", "N_grid", "test_loss_grid", "interior"]


def _check(frame, columns, required=("test_loss",)):
    assert results.check_schema(frame, required=required) is frame
    assert list(frame.columns) == columns
    assert np.isfinite(frame["test_loss"]).all()


def test_simulation_producers():
    gf = sl.learning_curve(TASK, N=[10, 20], P=30, t=[0.0, 1.0], seeds=2, rng=0)
    _check(gf, ["seed", "N", "P", "t", "train_loss", "test_loss", "method", "ensemble",
                "learning_rate", "batch_size"], ("seed", "N", "P", "t", "train_loss", "test_loss"))
    sgd = sl.learning_curve(TASK, N=10, P=np.inf, t=[0, 5], optimizer=SGD(0.1, 2, one_pass=True),
                            rng=0)
    _check(sgd, ["seed", "N", "P", "t", "train_loss", "test_loss", "method", "ensemble",
                 "learning_rate", "batch_size", "epoch"])
    rng = np.random.default_rng(0)
    X, X_test = rng.standard_normal((12, 3)), rng.standard_normal((5, 3))
    y, y_test = X[:, 0], X_test[:, 0]
    kernel = sl.kernel_learning_curve(X, y, X_test, y_test, RandomFeatures(3, 40, "relu", rng=1),
                                      N=[20, 40], t=[1.0, 10.0])
    _check(kernel, ["seed", "N", "P", "t", "train_loss", "test_loss", "method"],
           ("seed", "N", "P", "t", "train_loss", "test_loss"))
    K = X @ X.T / 3
    path = solvers.ridge_path(K, y, [1e-3, 1e-1], gram_test=X_test @ X.T / 3, y_test=y_test)
    _check(path, ["ridge", "train_loss", "test_loss"], ("train_loss", "test_loss"))


def test_theory_producers():
    curve = sl.learning_curve_theory(TASK, [10, np.inf], 30, [0.0, 1.0], truncation="ignore")
    _check(curve, ["N", "P", "t", "train_loss", "test_loss"], ("N", "P", "t", "test_loss"))
    static = sl.static_loss(TASK, [10, 20], [np.inf, 30], truncation="ignore")
    _check(static, ["N", "P", "ridge", "kappa", "train_loss", "test_loss"])
    front = sl.compute_optimal_frontier_theory(TASK, [5, 10, 20, 40], np.logspace(0, 3, 7),
                                               truncation="ignore")
    _check(front, FRONTIER, ("compute", "N", "t", "test_loss"))
    np.testing.assert_allclose(front["t"], front["compute"] / front["N"], rtol=1e-14)
    generic = sl.compute_optimal_frontier(pd.DataFrame({
        "N": np.repeat([10.0, 20.0, 40.0], 3), "compute": np.tile([1.0, 10.0, 100.0], 3),
        "test_loss": [3.0, 2.0, 1.5, 3.5, 1.8, 1.0, 4.0, 2.5, 1.2]}), computes=[10.0])
    _check(generic, ["compute", "N", "test_loss", "N_grid", "test_loss_grid", "interior"],
           ("compute", "N", "test_loss"))
    # The grid minimum at C = 10 is N = 20 (1.8), interior, refined by the parabola.
    assert generic["N_grid"].item() == 20.0 and bool(generic["interior"].item())


def test_sgd_theory_producers():
    risk = volterra.sgd_risk_curve(TASK, 20, [0, 10, 100], learning_rate=0.2, batch_size=2, rng=0)
    _check(risk, CURVE, ("N", "P", "t", "test_loss", "compute"))
    np.testing.assert_array_equal(risk["compute"], 2 * 20 * risk["t"])
    assert risk["test_loss"].iloc[0] == pytest.approx(TASK.initial_loss, rel=1e-12)
    ppxp = sgd_scaling.ppxp_risk_curve(0.75, 0.25, 20, [1, 10], learning_rate=0.1, rng=0)
    _check(ppxp, CURVE + ["v"])
    lwkbl = sgd_scaling.lwkbl_risk_curve(2.0, 20, [1, 10], learning_rate=0.1, ambient_dim=200)
    _check(lwkbl, CURVE)
    front = sgd_scaling.sgd_compute_optimal_frontier(0.75, 0.25, [10, 20, 40, 80],
                                                     np.logspace(2, 4, 5))
    _check(front, FRONTIER)
    exponents = frontier.fit_frontier_exponents(front)
    assert isinstance(exponents, frontier.ComputeOptimalExponents)
    assert sgd_scaling.sgd_compute_optimal(0.75, 0.25).regime == "Ia"
    assert isinstance(theory.compute_optimal(2.0, 1.5), frontier.ComputeOptimalExponents)


def test_to_xarray_of_a_learning_curve():
    pytest.importorskip("xarray")
    frame = sl.learning_curve(TASK, N=[10, 20], P=[15, 30], t=[1.0, 2.0, 4.0], seeds=2, rng=0)
    dataset = sl.to_xarray(frame)
    assert dict(dataset.sizes) == {"seed": 2, "N": 2, "P": 2, "t": 3}
    row = frame.iloc[7]
    assert dataset["test_loss"].sel(seed=row.seed, N=row.N, P=row.P, t=row.t).item() == row.test_loss
    assert dataset.attrs["method"] == "gf"


def test_optimizer_specs_equal_the_shorthands():
    gd = dict(N=10, P=20, t=[1, 5], rng=3)
    spec = sl.learning_curve(TASK, optimizer=GradientDescent(0.5), **gd)
    short = sl.learning_curve(TASK, method="gd", learning_rate=0.5, **gd)
    pd.testing.assert_frame_equal(spec, short)
    flow = sl.learning_curve_theory(TASK, 10, 20, [1.0], optimizer=GradientFlow(),
                                    truncation="ignore")
    pd.testing.assert_frame_equal(flow, sl.learning_curve_theory(TASK, 10, 20, [1.0],
                                                                 truncation="ignore"))
    # One GF rule in simulation and theory: gradient flow has no learning rate.
    for function in (sl.learning_curve, sl.learning_curve_theory):
        with pytest.raises(ValueError, match="learning rate 1"):
            function(TASK, 10, 20, [1.0], learning_rate=0.5)
    with pytest.raises(ValueError, match="one of them"):
        sl.learning_curve(TASK, 10, 20, [1.0], optimizer="gf", method="gf")
    with pytest.raises(ValueError, match="one_pass=True"):
        sl.learning_curve(TASK, 10, 20, [1], optimizer=SGD(0.1, 2, one_pass=True))
    # The one-pass theory: an SGD spec (mean-gradient rate) equals the shorthand keywords.
    by_spec = volterra.sgd_risk_curve(TASK, 20, [10, 100], optimizer=SGD(0.2, 4, one_pass=True),
                                      rng=1)
    by_keywords = volterra.sgd_risk_curve(TASK, 20, [10, 100], learning_rate=0.2, batch_size=4,
                                          rng=1)
    pd.testing.assert_frame_equal(by_spec, by_keywords)
    with pytest.raises(ValueError, match="one_pass=True"):
        volterra.sgd_risk_curve(TASK, 20, [10], optimizer=SGD(0.2, 4), rng=1)
    with pytest.raises(ValueError, match="spectrum='deterministic'"):
        volterra.sgd_risk_curve(TASK, 20, [10], learning_rate=0.2, batch_size=4,
                                method="deterministic")


def test_sgd_theory_is_still_importable():
    from scalinglab import sgd_theory

    for name in sgd_theory.__all__:
        assert hasattr(sgd_theory, name), name
    assert sgd_theory.sgd_risk_curve is volterra.sgd_risk_curve
    assert sgd_theory.ppxp_phase is sgd_scaling.ppxp_phase
    assert sgd_theory.fit_frontier_exponents is frontier.fit_frontier_exponents
    # A PLRFProblem follows the Task protocol: it is a task for the BAP-notation engines.
    problem = sgd_theory.PLRFProblem(0.8, 0.4, 100)
    direct = sgd_theory.sgd_risk_curve(problem, 10, [5], learning_rate=0.1, batch_size=1, rng=0)
    via_task = sgd_theory.sgd_risk_curve(problem.to_task(), 10, [5], learning_rate=0.1,
                                         batch_size=1, rng=0)
    pd.testing.assert_frame_equal(direct, via_task)
