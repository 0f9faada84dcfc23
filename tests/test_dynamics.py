"""scalinglab.dynamics: learning curves of linear random-feature models (and kernel GF).

Reference values are from the theory digest (shared/reference/theory-dynamics.md, section 1(d),
"standard instance" a=2, b=1.5, M=1500, the BAP conventions of scalinglab.tasks). Simulation
means are compared with them within 3 standard errors over seeds (fixed seeds throughout).
"""

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

from scalinglab import _core
from scalinglab._rng import seed_from_rng
from scalinglab.dynamics import kernel_learning_curve, learning_curve
from scalinglab.features import RandomFeatures
from scalinglab.tasks import LinearGaussianTask, PowerLawTask
from scalinglab.theory import bottleneck_exponents

STANDARD = PowerLawTask(2.0, 1.5, 1500)
# Heavier statistical tests pass n_threads=1: results are the same for any thread count (tested
# below), and the test machine's few cores are usually shared with other jobs.


def mean_sem(frame, by, column="test_loss"):
    grouped = frame.groupby(by)[column]
    return grouped.mean().to_numpy(), grouped.sem().to_numpy()


def loglog_slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


# ---------------------------------------------------------------------------------------------
# Exactness of the eigenbasis evaluation
# ---------------------------------------------------------------------------------------------


def test_infinite_limit_is_the_closed_form():
    # N = P = infinity: v_k(t) = e^{-lambda_k t} w*_k, so L = sum lambda w*^2 e^{-2 lambda t}.
    # The engine evaluates it as w* - D (phi .* g); cancellation costs at most ~1e-15 relative.
    t = np.logspace(-1, 5, 25)
    task = PowerLawTask(2.0, 1.5, 1500, noise=0.3)
    frame = learning_curve(task, N=np.inf, P=np.inf, t=t)
    expected = task.infinite_width_loss(t)
    np.testing.assert_allclose(frame["test_loss"], expected, rtol=1e-10, atol=0)
    # Infinite data: the train loss is the population loss with noisy labels.
    np.testing.assert_allclose(frame["train_loss"], expected + 0.3, rtol=1e-10)
    steps = np.array([0, 1, 10, 100, 1000])
    gd = learning_curve(task, N=np.inf, P=np.inf, t=steps, method="gd", learning_rate=0.5)
    lam, power = task.spectrum, task.target_power
    exact_gd = [(power * (1 - 0.5 * lam) ** (2 * s)).sum() for s in steps]
    np.testing.assert_allclose(gd["test_loss"], exact_gd, rtol=1e-10)


def test_large_N_and_P_converge_to_the_infinite_limit():
    # Finite N, P perturb the infinite-width curve by O(1/sqrt(N) + 1/sqrt(P)) per draw (a fixed
    # linear functional of a Wishart fluctuation; the mean shift is O(1/N), digest 1(b)). The
    # Wishart path reaches N = P = 1e7 at the cost of M = 60.
    task = PowerLawTask(2.0, 1.5, 60)
    t = np.array([1.0, 10.0])
    exact = task.infinite_width_loss(t)
    sizes = np.array([1e4, 1e5, 1e6, 1e7])
    errors = []
    for size in sizes:
        frame = learning_curve(task, N=int(size), P=int(size), t=t, seeds=8, rng=3, wishart=True)
        relative = np.abs(frame["test_loss"].to_numpy() / np.tile(exact, 8) - 1)
        errors.append(relative.mean())
    errors = np.array(errors)
    assert errors[-1] < 1e-3, errors  # measured 5.9e-4 = ~1.9 / sqrt(N)
    # log-log slope -0.5 (+-0.2: 8 seeds x 2 times per size).
    assert -0.7 < loglog_slope(sizes, errors) < -0.3, errors


def _direct(task, N, P, t, method, eta, E, rng, label=0):
    """Integrate GF with scipy (or iterate GD) on the simulator's own random draws."""
    key = _core.random.derive_seed(seed_from_rng(rng), label)
    psi, eps = _core.dynamics.data_rows(task.spectrum, task.target, task.noise, key, 0, P)
    y = psi @ task.target + eps
    lam, ws = task.spectrum, task.target
    tests, trains = [], []
    betas, preds = np.zeros((len(t), task.M)), np.zeros((len(t), P))
    for e in range(E):
        A = _core.dynamics.projection_rows(key, e, N, task.M)
        F = psi @ A.T / np.sqrt(N)
        if method == "gf":
            def rhs(_, w):
                return F.T @ (y - F @ w) / P
            sol = solve_ivp(rhs, (0, max(t)), np.zeros(N), t_eval=t, rtol=1e-12, atol=1e-14,
                            method="DOP853")
            W = sol.y.T
        else:
            W, w, step = [], np.zeros(N), 0
            for target_step in t:
                while step < target_step:
                    w = w + eta * F.T @ (y - F @ w) / P
                    step += 1
                W.append(w.copy())
            W = np.array(W)
        betas += W @ A / np.sqrt(N) / E
        preds += W @ F.T / E
    for b, p in zip(betas, preds):
        v = ws - b
        tests.append(lam @ v**2)
        trains.append(np.mean((y - p) ** 2))
    return np.array(tests), np.array(trains)


@pytest.mark.parametrize(
    "N, P, method, E",
    [(20, 30, "gf", 1), (40, 25, "gf", 1), (20, 30, "gd", 1), (40, 25, "gd", 1), (15, 30, "gf", 3),
     (40, 25, "gd", 2), (90, 120, "gf", 1), (90, 120, "gd", 2)],
)
def test_matches_direct_integration_of_the_dynamics(N, P, method, E):
    # Independent check of the whole engine (both eigenbasis sides, train loss, noise,
    # ensembles): an ODE solver at rtol 1e-12 / explicit GD iteration on the same random draws.
    # N, P > M = 60 exercises the M x M covariance form (A^T A and Psi^T Psi).
    task = PowerLawTask(2.0, 1.5, 60, noise=0.1)
    t = np.array([0.0, 1.0, 7.0, 30.0, 200.0])
    frame = learning_curve(task, N=N, P=P, t=t, method=method,
                           learning_rate=None if method == "gf" else 0.5, ensemble=E, rng=11)
    test, train = _direct(task, N, P, t, method, 0.5, E, rng=11)
    # ODE tolerance 1e-12 relative, accumulated over ~100 adaptive steps: 1e-8 is loose.
    np.testing.assert_allclose(frame["test_loss"], test, rtol=1e-8)
    np.testing.assert_allclose(frame["train_loss"], train, rtol=1e-8)


@pytest.mark.parametrize("N", [80, 400])
def test_infinite_data_is_the_population_gradient_flow(N):
    # P = infinity: dw/dt = -(A Lambda A^T / N) w + A Lambda w* / sqrt(N). N = 400 > M = 300 goes
    # through the M x M Cholesky factor of A^T A, N = 80 through A itself.
    task = PowerLawTask(2.0, 1.5, 300, noise=0.2)
    t = np.array([0.0, 1.0, 30.0, 1e3, 1e6])
    frame = learning_curve(task, N=N, P=np.inf, t=t, rng=31)
    A = _core.dynamics.projection_rows(_core.random.derive_seed(seed_from_rng(31), 0), 0, N, task.M)
    lam, w_star = task.spectrum, task.target
    K = (A * lam) @ A.T / N
    mu, V = np.linalg.eigh(K)
    mu = np.maximum(mu, 0)
    g = V.T @ (A @ (lam * w_star)) / np.sqrt(N)
    expected = []
    for time in t:
        with np.errstate(divide="ignore", invalid="ignore"):
            phi = np.where(mu > 1e-12 * mu.max(), -np.expm1(-mu * time) / mu, 0.0)
        v = w_star - A.T @ (V @ (phi * g)) / np.sqrt(N)
        expected.append(lam @ v**2)
    # N > M fits w* exactly at late times (L -> 4e-14): there the error vector is a difference of
    # O(1) numbers, so agreement is absolute, ~1e-15 of L(0).
    np.testing.assert_allclose(frame["test_loss"], expected, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(frame["train_loss"], np.array(expected) + 0.2, rtol=1e-9)


def test_gradient_descent_matches_gradient_flow_at_eta_t():
    # With eta = 0.5 the fast modes (eta mu ~ 1) differ between GD and GF but have converged by
    # t = 100 steps; the slow modes follow (1 - eta mu)^t ~ e^{-eta mu t}. Same draws (same rng).
    steps = np.array([100, 300, 1000, 3000, 10000])
    gd = learning_curve(STANDARD, N=100, P=400, t=steps, method="gd", learning_rate=0.5,
                        seeds=5, rng=2)
    gf = learning_curve(STANDARD, N=100, P=400, t=0.5 * steps, seeds=5, rng=2)
    rel = np.abs(gd["test_loss"].to_numpy() / gf["test_loss"].to_numpy() - 1)
    assert rel.max() < 0.01
    rel_train = np.abs(gd["train_loss"].to_numpy() / gf["train_loss"].to_numpy() - 1)
    assert rel_train.max() < 0.01


def test_gradient_descent_reference_numbers():
    # Digest 1(b) "Discrete GD": contour-integral theory 0.7853 / 0.2176 / 0.0778 at t = 1/10/100
    # for (N, P, eta) = (100, 400, 0.5).
    frame = learning_curve(STANDARD, N=100, P=400, t=[1, 10, 100], method="gd",
                           learning_rate=0.5, seeds=40, rng=4)
    mean, sem = mean_sem(frame, "t")
    theory = np.array([0.7853, 0.2176, 0.0778])
    assert np.all(np.abs(mean - theory) < 3 * sem), (mean, sem)


# ---------------------------------------------------------------------------------------------
# Theory reference values (digest 1(d)) and the shape of the curves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "N, P, t, theory",
    [
        (100, 400, 1e5, 0.05944315),        # (B16) under-parameterised plateau = DMFT at 1e5
        (100, np.inf, 1e9, 0.04458236),     # (B14) model bottleneck, projection residual
        (np.inf, 100, 1e9, 0.02590633),     # (B15) data bottleneck, ridgeless KRR
        (200, 200, 1e3, 0.039),             # N = P: DMFT 0.039 -> 0.062 (late-time blow-up)
        (200, 200, 1e4, 0.062),
    ],
)
def test_reference_plateaus_and_interpolation_peak(N, P, t, theory):
    frame = learning_curve(STANDARD, N=N, P=P, t=[t], seeds=40, rng=5, n_threads=1)
    mean, sem = frame["test_loss"].mean(), frame["test_loss"].sem()
    assert abs(mean - theory) < 3 * sem, (mean, sem, theory)


def test_interpolation_peak_grows_at_late_times():
    frame = learning_curve(STANDARD, N=200, P=200, t=[1e3, 1e4, 1e5], seeds=20, rng=6)
    mean, _ = mean_sem(frame, "t")
    assert mean[0] < mean[1] < mean[2]
    assert mean[2] > 2 * mean[0]  # DMFT: 0.039 -> 0.150


def test_overparameterised_noiseless_train_to_zero_test_plateaus():
    # N = 400 > P = 100, sigma = 0: the model interpolates (train -> 0) while the test loss
    # plateaus at the DMFT value 0.0408 (digest 5, check 7).
    t = np.array([1.0, 1e2, 1e4, 1e6, 1e8])
    frame = learning_curve(STANDARD, N=400, P=100, t=t, seeds=40, rng=7)
    train, _ = mean_sem(frame, "t", "train_loss")
    test, test_sem = mean_sem(frame, "t")
    assert train[-1] < 1e-12 and train[-2] < 1e-6
    assert np.all(np.diff(train[:3]) < 0) and np.all(np.diff(train) <= 0)
    assert abs(test[-1] - 0.0408) < 3 * test_sem[-1]
    assert abs(test[-1] - test[-2]) < 1e-3 * test[-1]  # plateau
    # The gap L - Lhat is small at early times and grows (digest check 7).
    gap = test - train
    assert gap[0] < 0.1 * test[0] and gap[-1] > 0.99 * test[-1]


def test_label_noise_enters_train_loss_and_test_variance():
    noisy = PowerLawTask(2.0, 1.5, 1500, noise=0.1)
    frame = learning_curve(noisy, N=400, P=100, t=[0.0, 1e6], seeds=20, rng=8)
    # At t = 0 the train loss is (1/P)|y|^2, whose mean is L(0) + sigma^2.
    start = frame[frame["t"] == 0]
    assert abs(start["train_loss"].mean() - (noisy.initial_loss + 0.1)) < 3 * start["train_loss"].sem()
    # Digest 4(d): RF ridge (400, 100, 1e-3, 0.1) = 0.0915; ridgeless is larger (no ridge on the
    # interpolated noise), and far above the noiseless plateau 0.0408.
    late = frame[frame["t"] == 1e6]["test_loss"]
    assert late.mean() > 0.09


def test_ensembles_reference_numbers_and_averaging():
    # Digest 1(d), P = infinity: E = 4, N = 100 -> 0.040595 (t=100), 0.023029 (t=1e4);
    # E = 1, N = 400 -> 0.008922 (t=1e4) < 0.023029: widening beats ensembling at equal compute.
    four = learning_curve(STANDARD, N=100, P=np.inf, t=[100, 1e4], ensemble=4, seeds=20, rng=9)
    mean, sem = mean_sem(four, "t")
    assert np.all(np.abs(mean - [0.040595, 0.023029]) < 3 * sem), (mean, sem)
    wide = learning_curve(STANDARD, N=400, P=np.inf, t=[1e4], seeds=20, rng=9)
    assert abs(wide["test_loss"].mean() - 0.008922) < 3 * wide["test_loss"].sem()
    # Finite shared data with noise: (N, P, E, sigma^2) = (200, 150, 2, 0.05) at t = 1e4 -> 0.1113.
    noisy = PowerLawTask(2.0, 1.5, 1500, noise=0.05)
    two = learning_curve(noisy, N=200, P=150, t=[1e4], ensemble=2, seeds=40, rng=10, n_threads=1)
    assert abs(two["test_loss"].mean() - 0.1113) < 3 * two["test_loss"].sem()
    # The averaged predictor is never worse than its members on average (convexity).
    one = learning_curve(noisy, N=200, P=150, t=[1e4], ensemble=1, seeds=40, rng=10, n_threads=1)
    assert two["test_loss"].mean() < one["test_loss"].mean()


# ---------------------------------------------------------------------------------------------
# Scaling exponents (compare with the theory issue's bottleneck exponents)
# ---------------------------------------------------------------------------------------------
# Until scalinglab.theory is merged these are written out here; switch to
# theory.bottleneck_exponents(a, b) then.
def test_time_bottleneck_slope():
    # (a, b) = (2, 1.5): L ~ t^{-(a-1)/b} = t^{-2/3} while t^{1/b} << N, P, M. N = P = 1e5 via
    # the Wishart path; M = 1000 >> t_max^{1/b} = 21.5. Fit over t in [3, 100].
    t = np.logspace(0.5, 2, 7)
    frame = learning_curve(PowerLawTask(2.0, 1.5, 1000), N=10**5, P=10**5, t=t, seeds=2, rng=12,
                           wishart=True)
    mean, _ = mean_sem(frame, "t")
    slope = loglog_slope(t, mean)
    # Measured -0.674; the M = 1000 truncation steepens it by ~1% (missing tail sum_{k>M} k^-2).
    assert abs(slope + bottleneck_exponents(2.0, 1.5).time) < 0.05, slope


@pytest.mark.parametrize("a, b, M", [(2.0, 1.5, 8000), (3.5, 1.0, 12000)])
def test_model_bottleneck_slope(a, b, M):
    # P = infinity, t -> infinity: L ~ N^{-min(a-1, b)}. At (3.5, 1) this is -1, not BAP's
    # bias-only -min(a-1, 2b) = -2 (digest 1(b)). M >> N_max so truncation stays below ~5%.
    Ns = [25, 50, 100, 200, 400]
    frame = learning_curve(PowerLawTask(a, b, M), N=Ns, P=np.inf, t=[1e9], seeds=12, rng=13,
                           n_threads=1)
    mean, _ = mean_sem(frame, "N")
    slope = loglog_slope(Ns, mean)
    # Measured (12 seeds): -0.97 at (2, 1.5), -1.04 at (3.5, 1) (the B14 theory slope is -1.05
    # there: preasymptotic). 0.1 covers the seed noise (~2.5% per point) and the preasymptotics.
    assert abs(slope + bottleneck_exponents(a, b).model) < 0.1, slope


@pytest.mark.parametrize("a, b, M", [(2.0, 1.5, 4000), (4.0, 1.0, 12000)])
def test_data_bottleneck_slope(a, b, M):
    # N = infinity, t -> infinity: L ~ P^{-min(a-1, 2b)}; (4, 1) shows the 2b saturation (-2, not
    # -3).
    Ps = [25, 50, 100, 200, 400]
    frame = learning_curve(PowerLawTask(a, b, M), N=np.inf, P=Ps, t=[1e9], seeds=12, rng=14,
                           n_threads=1)
    mean, _ = mean_sem(frame, "P")
    slope = loglog_slope(Ps, mean)
    # Measured (12 seeds) -1.05 at (2, 1.5) and -1.99 at (4, 1); the (4, 1) loss is carried by
    # few modes, so its seed noise is larger (~4% per point).
    assert abs(slope + bottleneck_exponents(a, b).data) < 0.12, slope


# ---------------------------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------------------------


def test_multi_epoch_sgd_overfits_and_one_pass_does_not():
    task = PowerLawTask(2.0, 1.5, 400)
    steps = np.array([0, 50, 200, 1000, 3000])
    multi = learning_curve(task, N=200, P=50, t=steps, method="sgd", learning_rate=0.5,
                           batch_size=10, seeds=10, rng=15)
    train, _ = mean_sem(multi, "t", "train_loss")
    test, _ = mean_sem(multi, "t")
    epochs = multi.groupby("t")["epoch"].first().to_numpy()
    np.testing.assert_allclose(epochs, steps * 10 / 50)
    ratio = train / test
    # Data reuse: the gap opens with the epochs (train -> 0 while test plateaus).
    assert abs(ratio[0] - 1) < 0.15  # t = 0: train is the loss of f = 0 on 50 samples
    assert np.all(np.diff(ratio[1:]) < 0)
    assert ratio[-1] < 0.05 and test[-1] > 0.05
    # One pass: every batch is fresh, so the pre-update batch loss is an unbiased estimate of
    # the test loss (sigma = 0). Pooled over seeds and times t >= 50, the mean of
    # (train - test) / test is within 3 standard errors of 0.
    online = learning_curve(task, N=200, P=np.inf, t=steps, method="sgd", learning_rate=0.5,
                            batch_size=10, seeds=10, rng=15, wishart=True)
    late = online[online["t"] >= 50]
    gap = (late["train_loss"] - late["test_loss"]) / late["test_loss"]
    assert abs(gap.mean()) < 3 * gap.sem(), (gap.mean(), gap.sem())
    assert online["epoch"].isna().all()


def _volterra_risk(A, lam, w_star, gamma, batch, steps):
    """PPXP's exact expected risk of one-pass SGD given the projection (digest (P7))."""
    W = A.T / np.sqrt(A.shape[0])  # (M, N)
    K = W.T @ (lam[:, None] * W)
    kappa, U = np.linalg.eigh(K)
    theta_star = np.linalg.lstsq(K, W.T @ (lam * w_star), rcond=None)[0]
    residual = w_star - W @ theta_star
    p_star = lam @ residual**2
    rho = (U.T @ theta_star) ** 2
    g = 1 - 2 * gamma * batch * kappa + gamma**2 * batch * (batch + 1) * kappa**2
    out, r = [], 0
    risk = p_star + kappa @ rho
    for target in steps:
        while r < target:
            rho = g * rho + gamma**2 * batch * kappa * risk
            risk = p_star + kappa @ rho
            r += 1
        out.append(risk)
    return np.array(out)


def test_one_pass_sgd_matches_the_volterra_equation():
    # PPXP's PLRF is BAP's model under one-pass SGD: (alpha, beta) = (0.8, 0.4) -> b = 1.6,
    # a = 2.4; v = M = 400, d = N = 100, batch-sum step gamma = eta / B. The Volterra recursion is
    # the exact E[risk | A] (digest 2(b), verified there against SGD to 3 SE), so the paired
    # difference SGD - Volterra(A) over seeds must average to 0 within 3 SE.
    task = PowerLawTask.from_ppxp(0.8, 0.4, 400)
    batch = 4
    gamma = 0.5 / ((batch + 1) * task.spectrum.sum())
    steps = np.array([10, 100, 1000])
    frame = learning_curve(task, N=100, P=np.inf, t=steps, method="sgd",
                           learning_rate=gamma * batch, batch_size=batch, seeds=30, rng=16,
                           wishart=True)
    base = seed_from_rng(16)
    diffs = []
    for label, group in frame.groupby("seed"):
        A = _core.dynamics.projection_rows(_core.random.derive_seed(base, int(label)), 0, 100, task.M)
        exact = _volterra_risk(A, task.spectrum, task.target, gamma, batch, steps)
        diffs.append(group["test_loss"].to_numpy() / exact - 1)
    diffs = np.array(diffs)
    mean, sem = diffs.mean(axis=0), diffs.std(axis=0, ddof=1) / np.sqrt(len(diffs))
    assert np.all(np.abs(mean) < 3 * sem), (mean, sem)
    # (The digest's table 2(d) is for one draw of W; across draws the Volterra risk itself varies
    # by ~15% at d = 100, so it is not a reference for an average over seeds.)


def test_explicit_and_shortcut_sgd_agree_in_distribution():
    task = PowerLawTask(2.0, 1.5, 300, noise=0.05)
    kwargs = dict(N=[20, 60], P=[40, np.inf], t=[5, 50, 200], method="sgd", learning_rate=0.4,
                  batch_size=8, ensemble=2, seeds=30)
    explicit = learning_curve(task, rng=17, **kwargs)
    shortcut = learning_curve(task, rng=18, wishart=True, **kwargs)
    for column in ("test_loss", "train_loss"):
        a = explicit.groupby(["N", "P", "t"])[column]
        b = shortcut.groupby(["N", "P", "t"])[column]
        z = (a.mean() - b.mean()) / np.sqrt(a.sem() ** 2 + b.sem() ** 2)
        assert np.all(np.abs(z) < 3.5), z  # 24 comparisons: 3.5 SE keeps the family-wise rate < 1%


def test_full_batch_sgd_is_gradient_descent():
    # B = P: every step is the full-batch mean gradient whatever the order, i.e. GD.
    task = PowerLawTask(2.0, 1.5, 200, noise=0.1)
    steps = np.array([0, 1, 10, 100])
    sgd = learning_curve(task, N=30, P=40, t=steps, method="sgd", learning_rate=0.5,
                         batch_size=40, rng=19)
    gd = learning_curve(task, N=30, P=40, t=steps, method="gd", learning_rate=0.5, rng=19)
    np.testing.assert_allclose(sgd["test_loss"], gd["test_loss"], rtol=1e-10)
    np.testing.assert_allclose(sgd["train_loss"], gd["train_loss"], rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# Grids, seeds, threads, output
# ---------------------------------------------------------------------------------------------


def test_nested_grid_points_equal_single_runs_and_seeds_are_stable():
    task = PowerLawTask(2.0, 1.5, 300, noise=0.05)
    t = [1.0, 100.0]
    grid = learning_curve(task, N=[30, 80], P=[50, 120, np.inf], t=t, ensemble=2, seeds=2, rng=20)
    assert len(grid) == 2 * 2 * 3 * 2
    for (N, P), _ in grid.groupby(["N", "P"]):
        single = learning_curve(task, N=N, P=P, t=t, ensemble=2, seeds=2, rng=20)
        mine = grid[(grid["N"] == N) & (grid["P"] == P)]
        np.testing.assert_allclose(mine["test_loss"], single["test_loss"], rtol=1e-12)
        np.testing.assert_allclose(mine["train_loss"], single["train_loss"], rtol=1e-12)
    # Adding seeds never changes the earlier ones; labels pick the randomness.
    three = learning_curve(task, N=30, P=50, t=t, seeds=3, rng=20)
    picked = learning_curve(task, N=30, P=50, t=t, seeds=[2], rng=20)
    np.testing.assert_array_equal(three[three["seed"] == 2]["test_loss"], picked["test_loss"])
    two = learning_curve(task, N=30, P=50, t=t, seeds=2, rng=20)
    np.testing.assert_allclose(three[three["seed"] < 2]["test_loss"], two["test_loss"], rtol=1e-12)


def test_independent_grid_points_differ_but_agree_in_distribution():
    task = PowerLawTask(2.0, 1.5, 300)
    kwargs = dict(N=[40, 100], P=[60, 200], t=[10.0, 1000.0], seeds=30)
    nested = learning_curve(task, rng=21, **kwargs)
    independent = learning_curve(task, rng=21, independent=True, **kwargs)
    assert not np.allclose(nested["test_loss"], independent["test_loss"])
    a = nested.groupby(["N", "P", "t"])["test_loss"]
    b = independent.groupby(["N", "P", "t"])["test_loss"]
    z = (a.mean() - b.mean()) / np.sqrt(a.sem() ** 2 + b.sem() ** 2)
    assert np.all(np.abs(z) < 3.5), z  # 8 comparisons


def test_results_do_not_depend_on_n_threads():
    # Large enough (2 T r M ~ 2e9 flops) that the evaluation GEMMs really run threaded.
    task = PowerLawTask(2.0, 1.5, 2500, noise=0.1)
    t = np.logspace(0, 5, 1500)
    one = learning_curve(task, N=200, P=300, t=t, ensemble=2, rng=22, n_threads=1)
    two = learning_curve(task, N=200, P=300, t=t, ensemble=2, rng=22, n_threads=2)
    np.testing.assert_allclose(one["test_loss"], two["test_loss"], rtol=1e-12)
    np.testing.assert_allclose(one["train_loss"], two["train_loss"], rtol=1e-12)


def test_progress_bar_runs():
    frame = learning_curve(STANDARD, N=[20, 40], P=30, t=[1.0], seeds=2, rng=0, progress=True)
    assert len(frame) == 4


def test_dataframe_layout():
    frame = learning_curve(STANDARD, N=[50, 20], P=[np.inf, 30], t=[2.0, 1.0], seeds=[5, 3], rng=0)
    assert list(frame.columns[:6]) == ["seed", "N", "P", "t", "train_loss", "test_loss"]
    assert len(frame) == 2 * 2 * 2 * 2
    # Grids are sorted; seeds keep the given order; times keep the given order.
    assert list(frame["seed"].unique()) == [5, 3]
    assert list(frame["N"].unique()) == [20.0, 50.0]
    assert list(frame["P"].unique()) == [30.0, np.inf]
    assert list(frame["t"][:2]) == [2.0, 1.0]
    assert (frame["method"] == "gf").all() and (frame["ensemble"] == 1).all()
    assert frame["learning_rate"].isna().all() and (frame["batch_size"] == 0).all()
    sgd = learning_curve(STANDARD, N=20, P=30, t=[0, 3], method="sgd", learning_rate=0.1,
                         batch_size=3, rng=0)
    assert list(sgd["epoch"]) == [0.0, 0.3]


def test_argument_validation():
    with pytest.raises(ValueError, match="method"):
        learning_curve(STANDARD, N=10, P=10, t=[1.0], method="adam")
    with pytest.raises(ValueError, match="learning_rate"):
        learning_curve(STANDARD, N=10, P=10, t=[1.0], learning_rate=0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        learning_curve(STANDARD, N=10, P=10, t=[1], method="gd")
    with pytest.raises(ValueError, match="batch_size"):
        learning_curve(STANDARD, N=10, P=10, t=[1], method="sgd", learning_rate=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        learning_curve(STANDARD, N=10, P=10, t=[1], method="sgd", learning_rate=0.1, batch_size=11)
    with pytest.raises(ValueError, match="`N`"):
        learning_curve(STANDARD, N=np.inf, P=10, t=[1], method="sgd", learning_rate=0.1,
                       batch_size=2)
    with pytest.raises(ValueError, match="`N`"):
        learning_curve(STANDARD, N=0, P=10, t=[1.0])
    with pytest.raises(TypeError, match="`P`"):
        learning_curve(STANDARD, N=10, P=2.5, t=[1.0])
    with pytest.raises(ValueError, match="`t`"):
        learning_curve(STANDARD, N=10, P=10, t=[-1.0])
    with pytest.raises(ValueError, match="`t`"):
        learning_curve(STANDARD, N=10, P=10, t=[1.5], method="gd", learning_rate=0.1)
    with pytest.raises(ValueError, match="seeds"):
        learning_curve(STANDARD, N=10, P=10, t=[1.0], seeds=[1, 1])
    with pytest.raises(TypeError, match="task"):
        learning_curve("power law", N=10, P=10, t=[1.0])


def test_theory_helper_call_is_fast_and_shaped():
    # The contract the theory tests use: 30 seeds, three (N, P), t in [1, 1e4].
    t = np.logspace(0, 4, 41)
    frames = [learning_curve(STANDARD, N=N, P=P, t=t, method="gf", seeds=30, rng=0)
              for N, P in [(100, 400), (400, 100), (200, 200)]]
    for frame in frames:
        assert len(frame) == 30 * 41
        assert frame["test_loss"].notna().all()


# ---------------------------------------------------------------------------------------------
# Kernel gradient flow with a precomputed Gram / random features
# ---------------------------------------------------------------------------------------------


def _linear_rf_problem(task, N, P, Q, rng):
    key = _core.random.derive_seed(seed_from_rng(rng), 0)
    psi, eps = _core.dynamics.data_rows(task.spectrum, task.target, task.noise, key, 0, P + Q)
    A = _core.dynamics.projection_rows(key, 0, N, task.M)
    features = psi @ A.T / np.sqrt(N)  # rows phi(x) / sqrt(N)... Gram = features features^T
    y = psi @ task.target + eps
    K = features @ features.T
    clean_test = psi[P:] @ task.target
    return K[:P, :P].copy(), K[P:, :P].copy(), y[:P], clean_test


@pytest.mark.parametrize("method", ["gf", "gd"])
def test_kernel_curve_with_linear_gram_matches_learning_curve(method):
    # Linear random features are a special case: the Gram Psi A^T A Psi^T / N reproduces the
    # training dynamics exactly; the test loss on Q clean held-out labels is an unbiased estimate
    # of the exact test loss v^T Lambda v.
    task = PowerLawTask(2.0, 1.5, 300, noise=0.1)
    N, P, Q = 60, 80, 6000
    K_train, K_test, y_train, y_test = _linear_rf_problem(task, N, P, Q, rng=23)
    t = np.array([0, 1, 10, 100, 1000])
    eta = None if method == "gf" else 0.5
    X_dummy_train = np.zeros((P, 1))
    X_dummy_test = np.zeros((Q, 1))
    kernel = kernel_learning_curve(X_dummy_train, y_train, X_dummy_test, y_test, (K_train, K_test),
                                   N=N, t=t, P=[40, 80], method=method, learning_rate=eta)
    exact = learning_curve(task, N=N, P=[40, 80], t=t, method=method, learning_rate=eta, rng=23)
    np.testing.assert_allclose(kernel["train_loss"], exact["train_loss"], rtol=1e-9)
    # Held-out MSE vs exact: relative SE of a mean of Q squared Gaussian errors is sqrt(2/Q) = 1.8%.
    rel = kernel["test_loss"].to_numpy() / exact["test_loss"].to_numpy() - 1
    assert np.all(np.abs(rel) < 3 * np.sqrt(2 / Q)), rel
    assert (kernel["N"] == N).all() and list(kernel["P"].unique()) == [40.0, 80.0]


def test_kernel_curve_with_random_features():
    rng = np.random.default_rng(24)
    d, P, Q = 8, 120, 400
    X = rng.standard_normal((P + Q, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1 * rng.standard_normal(P + Q)
    rf = RandomFeatures(d, 400, "relu", rng=25)
    t = np.logspace(-1, 4, 12)
    frame = kernel_learning_curve(X[:P], y[:P], X[P:], y[P:], rf, N=[100, 400], t=t)
    assert list(frame["N"].unique()) == [100.0, 400.0]
    for _, curve in frame.groupby("N"):
        train = curve["train_loss"].to_numpy()
        assert np.all(np.diff(train) <= 1e-12)          # GF never increases the train loss
        assert train[0] == pytest.approx(np.mean(y[:P] ** 2), rel=0.05)
        assert curve["test_loss"].min() < 0.8 * np.var(y[P:]) + np.mean(y[P:]) ** 2
    # Same numbers as the precomputed Gram of the same features.
    K = rf.gram(np.concatenate([X[:P], X[P:]]), checkpoints=[400])[400]
    direct = kernel_learning_curve(X[:P], y[:P], X[P:], y[P:], (K[:P, :P], K[P:, :P]), N=400, t=t)
    np.testing.assert_allclose(frame[frame["N"] == 400]["test_loss"], direct["test_loss"], rtol=1e-9)

    # An object with only the contract's .gram (no train_test_gram) gives the same curves.
    class GramOnly:
        def __init__(self, features):
            self.gram = features.gram

    minimal = kernel_learning_curve(X[:P], y[:P], X[P:], y[P:], GramOnly(rf), N=[100, 400], t=t)
    np.testing.assert_allclose(minimal["test_loss"], frame["test_loss"], rtol=1e-9)
    np.testing.assert_allclose(minimal["train_loss"], frame["train_loss"], rtol=1e-9)
    # A factory gives one draw of features per seed.
    factory = lambda key: RandomFeatures(d, 100, "relu", rng=key)  # noqa: E731
    seeded = kernel_learning_curve(X[:P], y[:P], X[P:], y[P:], factory, N=100, t=t, seeds=2, rng=0)
    assert set(seeded["seed"]) == {0, 1}
    a, b = (g["test_loss"].to_numpy() for _, g in seeded.groupby("seed"))
    assert not np.allclose(a, b)


def test_kernel_curve_validation():
    K = np.eye(4)
    X, Xt = np.zeros((4, 2)), np.zeros((3, 2))
    with pytest.raises(ValueError, match="K_test"):
        kernel_learning_curve(X, np.zeros(4), Xt, np.zeros(3), (K, np.zeros((2, 4))), t=[1.0])
    with pytest.raises(ValueError, match="K_train"):
        kernel_learning_curve(X, np.zeros(4), Xt, np.zeros(3), (np.eye(3), np.zeros((3, 4))), t=[1.0])
    with pytest.raises(ValueError, match="seeds"):
        kernel_learning_curve(X, np.zeros(4), Xt, np.zeros(3), (K, np.zeros((3, 4))), t=[1.0], seeds=2)
    with pytest.raises(ValueError, match="`P`"):
        kernel_learning_curve(X, np.zeros(4), Xt, np.zeros(3), (K, np.zeros((3, 4))), t=[1.0], P=5)
    with pytest.raises(ValueError, match="y_train"):
        kernel_learning_curve(X, np.zeros(5), Xt, np.zeros(3), (K, np.zeros((3, 4))), t=[1.0])
    frame = kernel_learning_curve(X, np.ones(4), Xt, np.ones(3), (K, np.zeros((3, 4))), t=[0.0, 1e9])
    # K = I: train residual e^{-t/P}, test predictions K_test = 0 -> test MSE 1.
    np.testing.assert_allclose(frame["train_loss"], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(frame["test_loss"], [1.0, 1.0])
    assert isinstance(frame, pd.DataFrame)
