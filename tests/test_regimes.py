"""Bahri's four regimes (arXiv 2102.06701; digest mrs-bahri.md sections 2 and 3, checks 9-12).

Set-up: the digest's T2 (ReLU features with a Gaussian bias on the flat 2-torus grid, GP teacher
from the student's own infinite-width kernel, the grid as the population) and the linear-Gaussian
random-feature model for the exact variance-limited prefactors.
"""

import numpy as np
import pandas as pd
import pytest

from scalinglab import datasets as ds
from scalinglab import regimes as rg
from scalinglab.fit import fit_power_law


def _mean_curve(table, resource):
    return table.groupby(resource)[["test_loss", "test_loss_limit"]].mean()


def _slope(x, y):
    return fit_power_law(np.asarray(x, float), np.asarray(y, float)).exponent


def _gaussian_population(n, M, b, rng):
    """Gaussian inputs with covariance diag(k^-b) and an isotropic linear teacher (a = b)."""
    g = np.random.default_rng(rng)
    X = g.standard_normal((n, M)) * np.arange(1, M + 1) ** (-b / 2)
    y = X @ g.standard_normal(M)
    return rg.Population(X, y, name="gaussian")


LINEAR = rg.Student("linear", bias=None)


@pytest.mark.slow
def test_linear_gaussian_width_variance_prefactor():
    """Check 9b: ridgeless linear RF, isotropic target, N > P: L / L_K = 1 / (1 - P/N) within 2%.

    The law is the deterministic equivalent (large P, M): at P = 24, M = 48 the measured ratio
    was 3-4% above it at N/P = 4-16 (120 seeds; finite-size corrections ~ 1/P); at P = 64,
    M = 256 it is within 0.7% (ratio of seed means, as here).
    """
    P, widths = 64, [256, 1024, 4096]
    losses, limits = {N: [] for N in widths}, []
    for seed in range(32):
        population = _gaussian_population(1024, 256, 1.5, rng=seed)
        table = rg.variance_limited_width(population, P, widths, student=LINEAR,
                                          seed=seed).set_index("N")
        limits.append(table["test_loss_limit"].iloc[0])
        for N in widths:
            losses[N].append(table.loc[N, "test_loss"])
    for N in widths:
        measured = np.mean(losses[N]) / np.mean(limits)
        assert abs(measured * (1 - P / N) - 1) < 0.02, (N, measured, 1 / (1 - P / N))


def test_linear_gaussian_data_variance_prefactor():
    """Check 10b: OLS on N Gaussian features: L - L_inf = L_inf N / (P - N - 1)."""
    N, sizes = 8, [64, 128, 256, 512]
    frames = [rg.variance_limited_data(_gaussian_population(8192, 32, 1.5, rng=seed), N, sizes,
                                       student=LINEAR, seed=seed) for seed in range(30)]
    table = pd.concat(frames)
    table["excess"] = table["test_loss"] - table["test_loss_limit"]
    table["theory"] = table["test_loss_limit"] * N / (table["P"] - N - 1)
    means = table.groupby("P")[["excess", "theory"]].mean()
    sem = table.groupby("P")["excess"].sem()
    # The pool is a finite sample of a Gaussian (sampling with replacement from 8192 points):
    # allow 3 standard errors or 8%.
    for P in sizes:
        gap = abs(means.loc[P, "excess"] - means.loc[P, "theory"])
        assert gap < max(3 * sem.loc[P], 0.08 * means.loc[P, "theory"]), (P, means.loc[P])
    # The Gaussian formula's own local slope over this range is about -1.09 (digest 2(d)).
    assert _slope(sizes, means["excess"]) == pytest.approx(_slope(sizes, means["theory"]), abs=0.1)


@pytest.fixture(scope="module")
def torus64():
    return ds.torus_grid(64, 2)


@pytest.mark.slow
def test_torus_width_variance_slope(torus64):
    """Check 9a: slope of L(N) - L_K in [-1.2, -0.9] for N/P in [4, 64] (ReLU, d = 2).

    The digest's 2(d) recipe: P = 128, N = 512..8192, each N paired with the exact-kernel
    solution on the same training set and labels, 4096 test points (here the 64^2 grid, the
    population itself). The excess is a small difference of two losses: per seed it carries a
    cross term 2 <f_K - y, f_N - f_K> of mean O(1/N) but spread O(N^-1/2), so at N/P >= 16 the
    seed spread exceeds the mean (single seeds go negative) and 16 seeds give a slope within
    about +-0.3 (95%): the earlier set-up (P = 64, 16 seeds) measured -0.83 and, after the
    stream renumbering, -1.28 -- both noise. Hence 48 seeds and a fit weighted by the seed
    standard errors (additive-noise power law, which tolerates a noisy tail); measured
    -1.09, seed-bootstrap 95% interval [-1.35, -0.91] (unweighted log fit -1.02; the digest
    -1.04 from 16 seeds).
    """
    P, widths = 128, [512, 1024, 2048, 4096, 8192]
    frames = [rg.variance_limited_width(rg.make_population(torus64, rng=1000 + s), P, widths,
                                        seed=s) for s in range(48)]
    table = pd.concat(frames)
    table["excess"] = table["test_loss"] - table["test_loss_limit"]
    grouped = table.groupby("N")["excess"]
    fit = fit_power_law(np.asarray(widths, float), grouped.mean().to_numpy(),
                        sigma=grouped.sem().to_numpy())
    slope = -fit.exponent
    # The ratio L / L_K approaches 1 like the digest's (1.61, 1.31, 1.11, 1.06, 1.04).
    ratio = table.groupby("N")["test_loss"].mean() / table.groupby("N")["test_loss_limit"].mean()
    assert ratio.is_monotonic_decreasing and 1.0 < ratio.iloc[-1] < 1.1, ratio
    assert -1.2 <= slope <= -0.9, (slope, grouped.mean(), grouped.sem())


@pytest.mark.slow
def test_torus_data_variance_slope(torus64):
    """Check 10a: slope of L(P) - L_inf(N) in [-1.2, -0.95] (N = 32, P = 256..4096)."""
    N, sizes = 32, [256, 512, 1024, 2048, 4096]
    frames = [rg.variance_limited_data(rg.make_population(torus64, rng=2000 + s), N, sizes,
                                       seed=s) for s in range(24)]
    means = _mean_curve(pd.concat(frames), "P")
    slope = -_slope(sizes, means["test_loss"] - means["test_loss_limit"])
    assert -1.2 <= slope <= -0.95, slope


@pytest.fixture(scope="module")
def torus128_resolution():
    """Resolution-limited curves on the G = 128 grid (16384 points): the digest's 2(d) set-up,
    m = 32..1024 (1.5 decades), 12 seeds."""
    data = ds.torus_grid(128, 2)
    sizes = [32, 64, 128, 256, 512, 1024]
    frames = []
    for s in range(12):
        population = rg.make_population(data, rng=3000 + s)
        frames.append(rg.resolution_limited_width(population, sizes, seed=s))
        frames.append(rg.resolution_limited_data(population, sizes, seed=s))
    spectrum = rg.population_spectrum(population)
    prediction = rg.predict_exponents(spectrum, k_min=sizes[0], k_max=sizes[-1], sizes=sizes,
                                      intrinsic_dimension=2)
    return pd.concat(frames), prediction, sizes


def _seed_bootstrap_slopes(curves, n_bootstrap=400, rng=0):
    """Slopes of the seed-mean curve over seed resamples; curves: (seeds, sizes) DataFrame."""
    g = np.random.default_rng(rng)
    values = curves.to_numpy()
    x = curves.columns.to_numpy(dtype=float)
    picks = g.integers(0, values.shape[0], (n_bootstrap, values.shape[0]))
    return np.array([_slope(x, values[p].mean(axis=0)) for p in picks])


@pytest.mark.slow
def test_torus_resolution_exponents(torus128_resolution):
    """Check 11: alpha_N and alpha_P within 0.1 of the DE-curve slope, > 0.3 from 4/d.

    Digest 2(d) (same set-up): alpha_N = 1.527 +- 0.021, alpha_P = 1.551 +- 0.030 against the
    DE-curve slope 1.541 and alpha_K = 1.542 over ranks 32-1024. A window ending at 512 moves
    alpha_K to 1.61 (the torus spectrum's staircase, digest 2(c)), hence the full 1.5 decades.
    Measured here: alpha_N = 1.505 [1.474, 1.537], alpha_P = 1.543 [1.467, 1.610] (95%, seed
    bootstrap), alpha_K = 1.549, DE slope 1.541. About 11 minutes on 2 loaded cores.
    """
    table, prediction, sizes = torus128_resolution
    assert prediction.alpha_K == pytest.approx(prediction.de_alpha_N, abs=0.1)
    assert abs(prediction.alpha_K - prediction.four_over_d) > 0.3
    assert prediction.duality
    for regime, resource in (("resolution_width", "N"), ("resolution_data", "P")):
        part = table[table["regime"] == regime]
        curve = part.groupby(resource)["test_loss"].mean()
        alpha = _slope(curve.index, curve.to_numpy())
        spread = _seed_bootstrap_slopes(part.pivot(index="seed", columns=resource,
                                                   values="test_loss"))
        lower, upper = np.percentile(spread, [2.5, 97.5])
        print(f"{regime}: alpha = {alpha:.3f} [{lower:.3f}, {upper:.3f}] (seed bootstrap), "
              f"alpha_K = {prediction.alpha_K:.3f}, DE slope = {prediction.de_alpha_N:.3f}, "
              f"4/d = {prediction.four_over_d}")
        assert abs(alpha - prediction.de_alpha_N) < 0.1, (regime, alpha, prediction)
        assert abs(alpha - prediction.alpha_K) < 0.1, (regime, alpha, prediction)
        assert abs(alpha - prediction.four_over_d) > 0.3, (regime, alpha)


def test_classifier_four_corners(torus64):
    """Check 12: the classifier returns the four corners of an (N, P) sweep and the crossover."""
    population = rg.make_population(torus64, rng=7)
    sizes = rg.RegimeSizes(variance_width_P=16, variance_width_N=(128, 256, 512, 1024),
                           variance_data_N=8, variance_data_P=(64, 128, 256, 512),
                           resolution_width_N=(8, 16, 32, 64, 128),
                           resolution_data_P=(8, 16, 32, 64, 128))
    table = pd.concat([rg.four_regimes(population, sizes, seed=s) for s in range(6)])
    spectrum = rg.population_spectrum(population)
    prediction = rg.predict_exponents(spectrum, k_min=8, k_max=128)
    corners = rg.classify_regime(table, predicted=prediction, n_bootstrap=100).set_index("corner")
    assert list(corners.index) == ["variance_width", "resolution_width", "resolution_data",
                                   "variance_data"]
    assert corners.loc["variance_width", "regime"] == "variance-limited"
    assert corners.loc["variance_data", "regime"] == "variance-limited"
    assert corners.loc["resolution_width", "regime"] == "resolution-limited"
    assert corners.loc["resolution_data", "regime"] == "resolution-limited"
    assert corners.loc["variance_data", "fixed"] == 8 and np.isinf(corners.loc["resolution_width", "fixed"])
    # The data-variance exponent is consistent with 1; resolution-limited ones well above it.
    # The width-variance exponent is not asserted here: at P = 16 with 6 seeds the paired excess
    # is noise (seed standard error ~ its mean at every N: the O(N^-1/2) cross term of check 9),
    # and a usable width-variance slope needs P = 128 and ~48 seeds (test_torus_width_variance_
    # slope, slow). Only its label and a finite fit are checked.
    assert corners.loc["variance_width", "n_points"] >= 3
    assert np.isfinite(corners.loc["variance_width", "exponent"])
    for corner in ("variance_data",):
        assert corners.loc[corner, "consistent"], corners.loc[corner, "evidence"]
        assert corners.loc[corner, "lower"] < 1.0 + 0.1 and corners.loc[corner, "upper"] > 0.9
    for corner in ("resolution_width", "resolution_data"):
        assert corners.loc[corner, "exponent"] > 1.2, corners.loc[corner, "evidence"]
    # A curve that never leaves the band around N = P is a crossover.
    near = rg.variance_limited_width(population, 64, [32, 64, 128, 200], seed=0)
    result = rg.classify_regime(near)
    assert result.regime == "crossover" and result.crossover_points == 4
    # A single curve: a classification with an interval that contains its exponent.
    single = rg.classify_regime(table[table["regime"] == "variance_data"])
    assert single.regime == "variance-limited" and single.resource == "P"
    assert single.interval[0] <= single.exponent <= single.interval[1]


def test_schema_and_nesting(torus64):
    """Tables follow the shared schema; N-prefix and P-prefix engines agree with direct solves."""
    from scalinglab.results import check_schema

    population = rg.make_population(torus64, rng=11, noise=1e-4)
    width = rg.resolution_limited_width(population, [8, 16], ridges=[0.0, 1e-3], seed=2)
    check_schema(width, required=("N", "P", "seed", "test_loss", "train_loss"))
    assert set(width["ridge"]) == {0.0, 1e-3} and np.isinf(width["P"]).all()
    # The N = 8 model from the nested normal equations equals a direct least-squares fit.
    features = rg.Student().features(population.X.shape[1], 16, rg._key(2, rg._FEATURES))
    phi = features.transform(rg.Student().inputs(population.X), 0, 8)
    w, *_ = np.linalg.lstsq(phi, population.y, rcond=None)
    direct = np.mean((phi @ w - population.y) ** 2)
    nested = width[(width["N"] == 8) & (width["ridge"] == 0)]["test_loss"].iloc[0]
    assert nested == pytest.approx(direct, rel=1e-6)
    # Data prefixes: the P = 20 kernel fit from the prefix equals a fit on the first 20 samples.
    data = rg.resolution_limited_data(population, [20, 40], seed=2)
    indices = population.sample(40, rg._key(2, rg._SAMPLES))[:20]
    labels = population.labels(population.sample(40, rg._key(2, rg._SAMPLES)),
                               rg._key(2, rg._NOISE))[:20]
    K = rg.Student().kernel(population.X[indices])
    prediction = rg.Student().kernel(population.X, population.X[indices]) @ np.linalg.pinv(K) @ labels
    expected = np.mean((prediction - population.y) ** 2)
    assert data[data["P"] == 20]["test_loss"].iloc[0] == pytest.approx(expected, rel=1e-5)


def test_random_network_teacher_is_gp_like():
    """A wide network teacher's empirical covariance approaches the infinite-width kernel."""
    data = ds.torus(60, 2, rng=3)
    samples = np.stack([rg.random_network_teacher(data.X, n_features=4096, rng=s)
                        for s in range(300)])
    empirical = samples.T @ samples / samples.shape[0]
    kernel = rg.Student().kernel(data.X)
    assert np.abs(empirical - kernel).max() < 0.2 * kernel.max()
    # Deterministic and evaluable point by point (to rounding: BLAS blocks follow the row count).
    np.testing.assert_allclose(rg.random_network_teacher(data.X[:7], n_features=4096, rng=1),
                               rg.random_network_teacher(data.X, n_features=4096, rng=1)[:7],
                               rtol=1e-13)


def test_gp_teacher_grid_matches_dense():
    """The FFT GP sample on a grid has the kernel's covariance (checked through its spectrum)."""
    data = ds.torus_grid(16, 2)
    spectrum = rg.population_spectrum(rg.Population(data.X, np.zeros(data.n),
                                                    grid_shape=data.grid_shape))
    from scalinglab.spectra import kernel_spectrum

    dense = kernel_spectrum(rg.Student().kernel(data.X))
    np.testing.assert_allclose(spectrum[:50], dense[:50], rtol=1e-9, atol=1e-14)
    samples = np.stack([rg.gaussian_process_teacher(data, rng=s) for s in range(400)])
    assert np.mean(samples**2) == pytest.approx(np.mean(np.diag(rg.Student().kernel(data.X))),
                                                rel=0.1)


def test_bad_arguments(torus64):
    population = rg.make_population(torus64, rng=0)
    with pytest.raises(ValueError, match="`N`"):
        rg.variance_limited_width(population, 8, [64, 32])
    with pytest.raises(ValueError, match="`teacher`"):
        rg.make_population(torus64, teacher="labels")
    with pytest.raises(ValueError, match="`ridges`"):
        rg.resolution_limited_data(population, [8, 16], ridges=[-1.0])
    with pytest.raises(ValueError, match="both constant"):
        rg.classify_regime(pd.DataFrame({"N": [1.0, 1.0], "P": [2.0, 2.0], "test_loss": [1.0, 1.0]}))
