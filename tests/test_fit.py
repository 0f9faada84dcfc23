"""scalinglab.fit: known exponents are recovered from noisy synthetic curves, and the stated
errors have the coverage they claim (pulls distributed like Student t with n - p dof)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scalinglab.fit import PowerLawFit, fit_power_law

X = np.logspace(1, 4, 12)  # 12 resource values over three decades
ALPHA, C, E = 0.6, 3.0, 0.05


def _coverage_check(pulls, dof):
    """Pulls (estimate - truth) / stderr of a linear(ised) Gaussian model follow Student t(dof).

    With R replicates the fraction inside +-1 has a binomial standard error
    sqrt(p (1 - p) / R); we allow 4 of them. The pull standard deviation must match the t
    distribution's sqrt(dof / (dof - 2)) to 15% (its sampling error at R = 300 is ~6%, plus
    the non-linearity of the offset model).
    """
    pulls = np.asarray(pulls)
    expected_inside = stats.t.cdf(1, dof) - stats.t.cdf(-1, dof)
    inside = np.mean(np.abs(pulls) < 1)
    assert abs(inside - expected_inside) < 4 * np.sqrt(expected_inside * (1 - expected_inside)
                                                        / pulls.size), inside
    assert abs(np.std(pulls) / np.sqrt(dof / (dof - 2)) - 1) < 0.15, np.std(pulls)
    assert abs(np.mean(pulls)) < 4 / np.sqrt(pulls.size) * np.std(pulls)


def test_power_law_without_offset_recovers_exponent_with_calibrated_errors():
    rng = np.random.default_rng(1)
    pulls = []
    for _ in range(300):
        y = C * X**-ALPHA * np.exp(0.05 * rng.standard_normal(X.size))
        fit = fit_power_law(X, y)
        pulls.append((fit.exponent - ALPHA) / fit.exponent_stderr)
    _coverage_check(pulls, dof=X.size - 2)
    # Noise-free data: exact.
    exact = fit_power_law(X, C * X**-ALPHA)
    assert abs(exact.exponent - ALPHA) < 1e-12 and abs(exact.prefactor - C) < 1e-10
    assert exact.offset == 0.0 and not exact.with_offset


def test_power_law_with_offset_recovers_all_parameters_with_calibrated_errors():
    rng = np.random.default_rng(2)
    pulls = {"exponent": [], "prefactor": [], "offset": []}
    truth = {"exponent": ALPHA, "prefactor": C, "offset": E}
    for _ in range(300):
        y = (E + C * X**-ALPHA) * np.exp(0.03 * rng.standard_normal(X.size))
        fit = fit_power_law(X, y, offset=True)
        for name in pulls:
            pulls[name].append((getattr(fit, name) - truth[name]) / getattr(fit, f"{name}_stderr"))
    for name in pulls:
        _coverage_check(pulls[name], dof=X.size - 3)
    exact = fit_power_law(X, E + C * X**-ALPHA, offset=True)
    assert abs(exact.exponent - ALPHA) < 1e-8 and abs(exact.offset - E) < 1e-9


def test_absolute_sigma_errors_are_calibrated():
    rng = np.random.default_rng(3)
    sigma = 0.01 * np.ones(X.size)
    pulls, scales = [], []
    for _ in range(300):
        y = E + C * X**-ALPHA + sigma * rng.standard_normal(X.size)
        fit = fit_power_law(X, y, offset=True, sigma=sigma)
        pulls.append((fit.exponent - ALPHA) / fit.exponent_stderr)
        scales.append(fit.residual_scale)
    # Known sigma: pulls are standard normal (no estimated scale), i.e. t with infinite dof.
    pulls = np.asarray(pulls)
    inside = np.mean(np.abs(pulls) < 1)
    assert abs(inside - 0.6827) < 4 * np.sqrt(0.6827 * 0.3173 / 300)
    assert abs(np.std(pulls) - 1) < 0.12
    # residual_scale^2 is chi^2(9)/9: mean 1.
    assert abs(np.mean(np.square(scales)) - 1) < 4 * np.sqrt(2 / 9 / 300)


def test_bootstrap_intervals_agree_with_linearised_errors():
    rng = np.random.default_rng(4)
    y = (E + C * X**-ALPHA) * np.exp(0.03 * rng.standard_normal(X.size))
    fit = fit_power_law(X, y, offset=True, n_bootstrap=300, rng=5, confidence=0.9)
    table = fit.to_frame()
    assert list(table["parameter"]) == ["exponent", "prefactor", "offset"]
    for row in table.itertuples():
        assert row.lower < row.value < row.upper
        # Residual bootstrap and Gauss-Newton errors estimate the same spread; with 12 points
        # and 300 replicates they agree to well within 35%.
        assert 0.65 < row.bootstrap_stderr / row.stderr < 1.35, row
    # Same rng, same intervals.
    again = fit_power_law(X, y, offset=True, n_bootstrap=300, rng=5, confidence=0.9)
    pd.testing.assert_frame_equal(again.intervals, fit.intervals)


def test_fit_object():
    fit = fit_power_law(X, E + C * X**-ALPHA, offset=True)
    assert isinstance(fit, PowerLawFit)
    np.testing.assert_allclose(fit(X), E + C * X**-ALPHA, rtol=1e-9)
    assert "alpha = 0.6" in str(fit)
    assert fit.covariance.shape == (3, 3)
    with pytest.raises(AttributeError):
        fit.exponent = 1.0  # frozen


def test_bad_input():
    with pytest.raises(ValueError, match="`x`"):
        fit_power_law([1, 2, -3, 4], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="`y`"):
        fit_power_law([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="`y`"):
        fit_power_law([1, 2, 3, 4], [1, np.nan, 3, 4])
    with pytest.raises(ValueError, match="`y`.*> 0"):
        fit_power_law([1, 2, 3, 4], [1, 0, 3, 4])
    with pytest.raises(ValueError, match="`x`.*at least 4"):
        fit_power_law([1, 2, 3], [3, 2, 1], offset=True)
    with pytest.raises(ValueError, match="`sigma`"):
        fit_power_law([1, 2, 3, 4], [4, 3, 2, 1], sigma=[1, 1, 0, 1])
    with pytest.raises(ValueError, match="`confidence`"):
        fit_power_law(X, X**-1.0, n_bootstrap=10, confidence=1.0)
    with pytest.raises(ValueError, match="`n_bootstrap`"):
        fit_power_law(X, X**-1.0, n_bootstrap=-1)


def test_plot_scaling_curve_draws_data_and_fit():
    figure_module = pytest.importorskip("matplotlib.figure")
    from scalinglab.plot import plot_scaling_curve

    fit = fit_power_law(X, E + C * X**-ALPHA, offset=True)
    ax = figure_module.Figure().add_subplot()
    assert plot_scaling_curve(X, E + C * X**-ALPHA, fit=fit, ax=ax, label="data") is ax
    data, curve = ax.get_lines()
    np.testing.assert_allclose(data.get_ydata(), E + C * X**-ALPHA)
    np.testing.assert_allclose(curve.get_ydata(), fit(curve.get_xdata()), rtol=1e-12)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    ax = figure_module.Figure().add_subplot()
    plot_scaling_curve(X, E + C * X**-ALPHA, fit=fit, ax=ax, subtract_offset=True)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), C * X**-ALPHA, rtol=1e-8)
