"""The Maloney-Roberts-Sully solvable model (scalinglab.latent): digest mrs-bahri.md section 3,
checks 1-8. Reference numbers are the digest's (1(d) D1-D4, 1(b)6), derived and simulated there."""

import math

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from scalinglab._rng import seed_from_rng
from scalinglab.fit import fit_power_law
from scalinglab.latent import (
    LatentPowerLawTask,
    _feature_map,
    critical_kappa,
    feature_kernel_spectrum,
    feature_second_moment,
    gaussian_equivalent_loss,
    gaussian_equivalent_task,
    latent_asymptotic_loss,
    latent_continuum_loss,
    latent_equiparameterization,
    latent_learning_curve,
    latent_optimal_ridge,
    latent_ridgeless_loss,
    latent_test_loss,
    mrs_to_bap_ridge,
    power_law_constant,
    sampled_feature_spectrum,
)
from scalinglab.results import check_schema
from scalinglab.solvers import ridge_path
from scalinglab.tasks import as_linear_task


def _loss(task, N, P, ridge=0.0):
    return latent_test_loss(task, N, P, ridge)["test_loss"].to_numpy()


# ---- the task --------------------------------------------------------------------------------


def test_task_is_a_frozen_hashable_value_with_the_bap_map():
    task = LatentPowerLawTask(1.0, 100, noise=0.1, scale=2.0)
    assert task == LatentPowerLawTask(1.0, 100, noise=0.1, scale=2.0)
    assert hash(task) == hash(LatentPowerLawTask(1.0, 100, noise=0.1, scale=2.0))
    assert task != LatentPowerLawTask(1.0, 100, noise=0.2, scale=2.0)
    weights = np.arange(1, 101.0) ** -0.5
    explicit = LatentPowerLawTask(1.0, 100, teacher=weights)
    assert explicit == LatentPowerLawTask(1.0, 100, teacher=weights.copy())
    assert explicit != LatentPowerLawTask(1.0, 100)
    assert len({task, explicit, LatentPowerLawTask(1.0, 100, noise=0.1, scale=2.0)}) == 2
    with pytest.raises(AttributeError):
        task.alpha = 2.0
    assert task.b == 2.0 and task.a == 2.0 and explicit.a is None
    np.testing.assert_allclose(task.spectrum, 2.0 * np.arange(1, 101.0) ** -2.0, rtol=1e-15)
    linear = as_linear_task(task)
    np.testing.assert_allclose(linear.target_power, 2.0 * np.arange(1, 101.0) ** -2.0 / 100)
    assert isinstance(task, sl.tasks.Task)


@pytest.mark.parametrize("kwargs, name", [
    (dict(alpha=0.0, M=10), "alpha"), (dict(alpha=1.0, M=0), "M"),
    (dict(alpha=1.0, M=10, noise=-1.0), "noise"), (dict(alpha=1.0, M=10, teacher="x"), "teacher"),
    (dict(alpha=1.0, M=10, teacher=np.ones(9)), "teacher"),
    (dict(alpha=1.0, M=10, scale=0.0), "scale"),
])
def test_task_rejects_bad_arguments_by_name(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        LatentPowerLawTask(**kwargs)


def test_samples_are_keyed_by_sample_index_and_match_the_feature_map():
    task = LatentPowerLawTask(0.5, 700)
    X = task.samples(30, rng=3)
    np.testing.assert_array_equal(task.samples(10, rng=3, start=12, n_threads=1), X[12:22])
    # Columns have variance lambda_I.
    big = task.samples(4000, rng=4)
    np.testing.assert_allclose(big.var(axis=0)[:3], task.spectrum[:3], rtol=0.1)
    assert not np.allclose(task.samples(5, rng=3, held_out=True), X[:5])
    # The streamed pre-activations are RandomFeatures(M, N, ...) of the same samples, for any
    # block size; the noise-free teacher draw has variance 1/M.
    from scalinglab._native import _core
    seed = seed_from_rng(9)
    Z, cross, gram, q = _core.latent.moments(seed_from_rng(3), task.std_devs, task.teacher_power,
                                            30, 0, seed, 40, 128, 0, None)
    rf = _feature_map(700, 40, "linear", seed, 1.0)
    np.testing.assert_allclose(Z, rf.transform(X), atol=1e-13)
    u = rf.weights() / math.sqrt(700)
    np.testing.assert_allclose(q, u @ np.diag(task.spectrum) @ u.T, atol=1e-14)
    np.testing.assert_allclose(gram, X @ X.T / 700, rtol=1e-12, atol=1e-15)
    Z2, *_ = _core.latent.moments(seed_from_rng(3), task.std_devs, task.teacher_power, 30, 0,
                                 seed, 40, 0, 1, None)
    np.testing.assert_allclose(Z2, Z, atol=1e-13)
    assert abs(task.draw_teacher(rng=1).var() * 700 - 1) < 0.15


# ---- check 1: the ridge map ------------------------------------------------------------------


def test_ridge_map_theory_agrees_with_bap_static_loss():
    task = LatentPowerLawTask(1.0, 2000)
    frame = latent_test_loss(task, 200, 200, [1e-4, 1e-3, 1.2337e-3, 1e-2, 1.0])
    check_schema(frame)
    # The digest's D3 deterministic equivalent (x 1e-5).
    np.testing.assert_allclose(frame["test_loss"] / 1e-5, [1.6189, 1.1616, 1.1624, 1.5534,
                                                           9.3123], rtol=2e-4)
    np.testing.assert_allclose(frame["bap_ridge"], frame["ridge"] * 2000 / 200**2)
    bap = sl.static_loss(task, 200, 200, ridge=frame["bap_ridge"].to_numpy(),
                         truncation="ignore")
    np.testing.assert_allclose(bap["test_loss"], frame["test_loss"], rtol=1e-12)
    assert mrs_to_bap_ridge(1.0, np.inf, 10, 100) == 0.0


def test_ridge_map_simulation_in_mrs_units_matches_theory():
    # D3-like at M = 1000, N = P = 100 (finite-size bias ~ +0.6% at m = 100).
    task = LatentPowerLawTask(1.0, 1000)
    ridges = [1e-4, 1e-3, 1e-2, 1e-1]
    sim = latent_learning_curve(task, 100, 100, ridges, seeds=12, rng=11, n_threads=1)
    check_schema(sim, required=("seed", "N", "P", "test_loss", "train_loss"))
    stats = sim.groupby("ridge")["test_loss"].agg(["mean", "sem"])
    theory = _loss(task, 100, 100, ridges)
    z = (stats["mean"].to_numpy() - theory) / stats["sem"].to_numpy()
    assert np.all(np.abs(z) < 3.5) or np.all(np.abs(stats["mean"] / theory - 1) < 0.02), z


# ---- check 2: duality ------------------------------------------------------------------------


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 1.0])
def test_isotropic_loss_is_symmetric_in_n_and_p(ridge):
    task = LatentPowerLawTask(1.0, 2000)
    forward, backward = _loss(task, 150, 450, ridge)[0], _loss(task, 450, 150, ridge)[0]
    assert abs(forward / backward - 1) < 1e-12
    # and equals the isotropic closed form M4
    frame = latent_test_loss(task, 150, 450, ridge)
    kappa = frame["kappa"][0]
    lam = task.spectrum
    df1, df2 = np.sum(lam / (lam + kappa)), np.sum((lam / (lam + kappa)) ** 2)
    m4 = kappa * (df1 - df2) * 150 * 450 / ((450 - df2) * (150 - df2) - (df1 - df2) ** 2) / 2000
    assert abs(m4 / forward - 1) < 1e-10


def test_duality_breaks_for_a_different_from_b_and_for_noise():
    weights = np.arange(1, 2001.0) ** -0.5  # lambda w^2 = I^-3: a = 3, b = 2
    task = LatentPowerLawTask(1.0, 2000, teacher=weights)
    ratio = _loss(task, 150, 450)[0] / _loss(task, 450, 150)[0]
    assert abs(ratio - 2.147) < 0.001
    noisy = LatentPowerLawTask(1.0, 2000, noise=1e-4)
    assert abs(_loss(noisy, 150, 450, 1e-3)[0] / _loss(noisy, 450, 150, 1e-3)[0] - 1) > 0.01


# ---- check 3: ridgeless reduction -------------------------------------------------------------


def test_ridgeless_closed_form_equals_the_deterministic_equivalent():
    task = LatentPowerLawTask(1.0, 2000)
    N, P = [50, 150, 400], [60, 200, 1000]
    de = latent_test_loss(task, N, P, 0.0)
    closed = latent_ridgeless_loss(task, N, P)
    np.testing.assert_allclose(closed["test_loss"], de["test_loss"], rtol=1e-8)
    tiny = latent_test_loss(task, N, P, 1e-13)
    np.testing.assert_allclose(tiny["test_loss"], de["test_loss"], rtol=1e-6)
    assert np.isinf(latent_ridgeless_loss(task, 100, 100)["test_loss"][0])
    noisy = LatentPowerLawTask(1.0, 2000, noise=1e-5)
    np.testing.assert_allclose(latent_ridgeless_loss(noisy, [100, 300], [200, 150])["test_loss"],
                               latent_test_loss(noisy, [100, 300], [200, 150])["test_loss"],
                               rtol=1e-8)


# ---- check 4: asymptotes ---------------------------------------------------------------------


def test_power_law_constants_and_the_continuum():
    assert abs(power_law_constant(1.0) - math.pi**2 / 4) < 1e-12
    assert abs(power_law_constant(0.5) - 3.760902) < 1e-6
    assert abs(power_law_constant(2.0) - 1.768048) < 1e-6
    task = LatentPowerLawTask(1.0, 400_000)
    m = np.array([100.0, 300.0, 1000.0])
    # L M / (sigma_w^2 lambda_+) = kappa_0(m) m -> C_alpha m^-alpha (the digest's M7)
    scaled = critical_kappa(task, m) * m
    np.testing.assert_allclose(scaled, power_law_constant(1.0) / m, rtol=0.015)
    N, P = [100, 300, 1000], [3000, 600, 1e5]
    for ridge in (0.0, 1e-6):
        finite = latent_test_loss(task, N, P, ridge)["test_loss"]
        continuum = latent_continuum_loss(task, N, P, ridge)["test_loss"]
        np.testing.assert_allclose(continuum, finite, rtol=0.015)
    np.testing.assert_allclose(latent_asymptotic_loss(task, N, P)["test_loss"],
                               latent_continuum_loss(task, N, P, 0.0)["test_loss"], rtol=1e-9)


# ---- check 5: theory against Monte Carlo (D1) -------------------------------------------------


def test_simulation_matches_theory_at_small_size():
    task = LatentPowerLawTask(1.0, 1000)
    sim = latent_learning_curve(task, 300, [25, 100], seeds=8, rng=2, n_threads=1)
    mean = sim.groupby("P")["test_loss"].mean().to_numpy()
    ratio = mean / _loss(task, 300, [25, 100])
    assert abs(ratio[0] - 1) < 0.04 and abs(ratio[1] - 1) < 0.015, ratio


@pytest.mark.slow
def test_d1_simulation_within_one_percent_and_exponent():
    task = LatentPowerLawTask(1.0, 4000)
    P = [25, 50, 100, 200, 400]
    sim = latent_learning_curve(task, 800, P, seeds=16, rng=5)
    stats = sim.groupby("P")["test_loss"].agg(["mean", "sem"])
    theory = _loss(task, 800, P)
    ratio = stats["mean"].to_numpy() / theory
    assert abs(ratio[0] - 1) < 0.025
    assert np.all(np.abs(ratio[2:] - 1) < 0.01), ratio
    m = np.asarray(P, dtype=float)
    corrected = stats["mean"].to_numpy() * (1 - m / 800)
    fit = fit_power_law(m, corrected, sigma=stats["sem"].to_numpy() * (1 - m / 800),
                        n_bootstrap=200, rng=0)
    local = fit_power_law(m, theory * (1 - m / 800)).exponent
    assert abs(local - 1.015) < 0.01
    assert abs(fit.exponent - local) < 0.05, (fit.exponent, local)
    lower, upper = fit.intervals.set_index("parameter").loc["exponent", ["lower", "upper"]]
    assert lower < fit.exponent < upper and upper - lower < 0.05


# ---- check 6: finite latent dimension (D2) ---------------------------------------------------


def test_finite_m_theory():
    task = LatentPowerLawTask(1.0, 200)
    assert np.all(_loss(task, 400, [210, 250, 800]) == 0)
    noisy = LatentPowerLawTask(1.0, 200, noise=1e-5)
    np.testing.assert_allclose(_loss(noisy, 400, [250, 800]), [1e-5 * 200 / 49, 1e-5 * 200 / 599])
    assert np.isinf(_loss(noisy, 400, 200)[0])
    np.testing.assert_allclose(_loss(task, 400, [50, 100, 150, 190]),
                               [2.1701e-4, 8.947e-5, 3.772e-5, 7.387e-6], rtol=5e-4)
    crossing = _loss(task, [150, 190, 210, 400], 100)
    np.testing.assert_allclose(crossing, [2.0130e-4, 1.4166e-4, 1.2810e-4, 8.947e-5], rtol=5e-4)


@pytest.mark.slow
def test_finite_m_simulation():
    task = LatentPowerLawTask(1.0, 200)
    sim = latent_learning_curve(task, 400, [250], seeds=4, rng=6, n_threads=1)
    assert sim["test_loss"].abs().max() < 1e-12
    noisy = LatentPowerLawTask(1.0, 200, noise=1e-5)
    sim = latent_learning_curve(noisy, 400, [250, 800], seeds=16, rng=6, n_threads=1)
    stats = sim.groupby("P")["test_loss"].agg(["mean", "sem"])
    exact = np.array([1e-5 * 200 / 49, 1e-5 * 200 / 599])
    assert np.all(np.abs(stats["mean"].to_numpy() - exact) < 3 * stats["sem"].to_numpy()), stats


# ---- check 7: optimal ridge and equiparameterization ------------------------------------------


def test_optimal_ridge_continuum_and_finite_m():
    task = LatentPowerLawTask(1.0, 2000)
    best = latent_optimal_ridge(task, 200, 200)
    assert abs(best["ridge"][0] / 1.0835e-3 - 1) < 2e-3
    assert abs(best["test_loss"][0] / 1.16114e-5 - 1) < 2e-4
    plateau = _loss(task, np.inf, 200)[0]
    assert abs(plateau / 5.62887e-6 - 1) < 2e-4
    sweep = latent_optimal_ridge(task, [50, 100, 200, 400, 800, 1600, 3200], 200)
    np.testing.assert_allclose(sweep["test_loss"], [2.963e-5, 1.768e-5, 1.161e-5, 8.576e-6,
                                                    7.079e-6, 6.345e-6, 5.984e-6], rtol=1e-3)
    assert np.all(np.diff(sweep["test_loss"]) < 0)
    # Continuum, alpha = 1: gamma* M = pi^2/4 and L_opt = 2 L(inf, m).
    big = LatentPowerLawTask(1.0, 400_000)
    m = 1000.0
    ridges = np.geomspace(0.3, 10, 401) / big.M
    values = latent_continuum_loss(big, m, m, ridges)["test_loss"].to_numpy()
    i = int(np.argmin(values))
    assert abs(ridges[i] * big.M / (math.pi**2 / 4) - 1) < 0.01
    limit = latent_continuum_loss(big, np.inf, m, 0.0)["test_loss"][0]
    assert abs(values[i] / limit - 2) < 1e-3


def test_equiparameterization_valley():
    task = LatentPowerLawTask(1.0, 2000)
    computes = [1e3, 1e4, 1e5]
    table, frontier = latent_equiparameterization(task, computes, sizes_per_decade=4, span=10)
    check_schema(table, required=("N", "P", "compute", "test_loss"))
    np.testing.assert_allclose(frontier["N"], np.sqrt(computes), rtol=0.02)
    assert frontier["interior"].all()
    # L* ~ C^(-alpha/2): each decade of C lowers L* by ~ sqrt(10) (finite-M steepens it a bit).
    slopes = np.diff(np.log10(frontier["test_loss"]))
    assert np.all(np.abs(slopes + 0.5) < 0.06), slopes


# ---- check 8: spectra of nonlinear features (D4) --------------------------------------------


def test_linear_features_have_rank_m_and_relu_a_tail():
    task = LatentPowerLawTask(1.0, 50)
    linear = feature_kernel_spectrum(task, 1000, "linear", rng=1)
    assert linear[50] / linear[49] < 1e-10
    head = sl.spectrum_exponent(linear, k_min=2, k_max=20)
    assert abs(head.exponent - 2.0) < 0.02
    relu = feature_kernel_spectrum(task, 1000, "relu", rng=1, centered=True)
    assert relu[50] / relu[49] > 0.9
    k = np.arange(1, relu.size + 1)
    window = (k >= 50) & (k <= 200)
    slope = np.polyfit(np.log(k[window]), np.log(relu[window]), 1)[0]
    assert -1.95 < slope < -1.65, slope
    assert relu[50:].sum() / relu.sum() > 0.02
    # The population spectrum is the limit of the sampled one (same features).
    sampled = sampled_feature_spectrum(task, 200, "relu", 8000, rng=1, data_rng=2)
    population = feature_kernel_spectrum(task, 200, "relu", rng=1)
    np.testing.assert_allclose(sampled[:10], population[:10], rtol=0.05)


@pytest.mark.parametrize("activation", ["linear", "relu", "erf", "cos", "sin"])
def test_population_moments_match_the_infinite_width_kernels(activation):
    rng = np.random.default_rng(0)
    V = rng.standard_normal((6, 5)) * 0.7
    q = V @ V.T
    expected = sl.infinite_width_kernel(activation, V, lengthscale=1 / math.sqrt(5))
    np.testing.assert_allclose(feature_second_moment(activation, q), expected, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", pytest.param("erf", marks=pytest.mark.slow),
                                        pytest.param("fourier", marks=pytest.mark.slow)])
def test_population_simulation_agrees_with_held_out(activation):
    task = LatentPowerLawTask(1.0, 80)
    kwargs = dict(seeds=2, rng=3, n_threads=1, feature_scale=3.0)
    population = latent_learning_curve(task, 60, 100, 1e-3, activation=activation, **kwargs)
    held_out = latent_learning_curve(task, 60, 100, 1e-3, activation=activation, n_test=8000,
                                     **kwargs)
    assert held_out["evaluation"][0] == "held_out"
    # 8000 held-out points: a ~2% sampling error on the test average.
    np.testing.assert_allclose(held_out["test_loss"], population["test_loss"], rtol=0.06)
    np.testing.assert_allclose(held_out["train_loss"], population["train_loss"], rtol=1e-10)


def test_gaussian_equivalence_for_a_nonlinear_target():
    # Target: a random combination of 600 ReLU features of the latent data (nonlinear content).
    # Gaussian equivalence is an approximation: measured ratios sim/GE are 1.11 (N = 20) and
    # 1.21 (N = 100) at M = 30, P = 400, gamma = 1e-2 (ReLU features fluctuate more than
    # Gaussian ones); the test allows 35%.
    task = LatentPowerLawTask(1.0, 30)
    pool = 600
    v = np.random.default_rng(0).standard_normal(pool) / math.sqrt(pool)
    equivalent = gaussian_equivalent_task(task, "relu", pool, teacher_weights=v, rng=5)
    teacher = _feature_map(30, pool, "relu", seed_from_rng(5), 1.0)
    P, gamma = 400, 1e-2
    for N in (20, 100):
        losses = []
        for s in range(3):
            X, X_test = task.samples(P, rng=100 + s), task.samples(2000, rng=100 + s,
                                                                    held_out=True)
            student = _feature_map(30, N, "relu", seed_from_rng(1000 + s), 1.0)
            gram, gram_test = student.train_test_gram(X, X_test)
            errors = ridge_path(gram, teacher.transform(X) @ v, [gamma / (N * P)],
                                gram_test=gram_test, y_test=teacher.transform(X_test) @ v)
            losses.append(errors["test_loss"][0])
        predicted = gaussian_equivalent_loss(equivalent, N, P, gamma)["test_loss"][0]
        assert 0.9 < np.mean(losses) / predicted < 1.35, (N, np.mean(losses), predicted)
    # a linear student cannot go below the part of the target outside the latent span
    linear_floor = gaussian_equivalent_loss(equivalent, 1e6, 1e6, 0.0)["test_loss"][0]
    assert linear_floor < 0.2 * equivalent.initial_loss


def test_learning_curve_engines_accept_the_task():
    task = LatentPowerLawTask(1.0, 300)
    frame = sl.learning_curve(task, 50, 100, [1e6], seeds=1, rng=0)
    assert np.isfinite(frame["test_loss"]).all()
    with pytest.raises(TypeError, match="`task`"):
        latent_test_loss(sl.PowerLawTask(2.0, 2.0, 100), 10, 10)
    with pytest.raises(ValueError, match="`ridge`"):
        latent_test_loss(task, 10, 10, -1.0)
    with pytest.raises(ValueError, match="`activation`"):
        latent_learning_curve(task, 10, 10, activation="gelu")


def test_latent_plots_draw():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scalinglab import plot

    task = LatentPowerLawTask(1.0, 200)
    theory = latent_test_loss(task, 400, np.geomspace(20, 1000, 30))
    sim = pd.DataFrame({"P": [50.0, 50.0], "test_loss": [1e-4, 1.2e-4], "seed": [0, 1]})
    ax = plot.plot_latent_learning_curve(sim, theory, vary="P", M=200, ax=plt.subplots()[1])
    assert len(ax.lines) >= 2
    ax = plot.plot_feature_spectrum({"relu": np.geomspace(1, 1e-4, 50)}, M=20,
                                    latent=task.spectrum[:50] / 200, ax=plt.subplots()[1])
    assert len(ax.lines) == 3
    table = pd.DataFrame({"N": [10.0, 100.0, 1000.0], "P": [1000.0, 100.0, 10.0],
                          "compute": [1e4] * 3, "test_loss": [2.0, 1.0, 2.0]})
    ax = plot.plot_equiparameterization(table, ax=plt.subplots()[1])
    assert ax.get_xlabel().startswith("N")
    plt.close("all")
