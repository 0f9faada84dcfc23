"""scalinglab against its peers on the same work, interleaved, with the machine load per round.

Rows (issue 17): the GF learning curve on a fixed kernel (train + test loss at T times), a ridge
path from the Gram, eigh, the ReLU random-feature Gram (float64, float32) and the random
Fourier Gram. Peers: numpy/scipy by hand, scikit-learn (RBFSampler, KernelRidge, Ridge,
RidgeCV) and neural-tangents (``gradient_descent_mse``; column skipped if not installed). Every
contender runs with the library defaults, i.e. on all cores (scalinglab with ``n_threads=0``,
the automatic, calibrated rule). Each round runs every contender of every row once, in a
rotating order, and records ``os.getloadavg()``; the best round per contender is kept (the
machine is shared). ``ratio = scalinglab / best peer`` (bench/conftest.py's convention). A
correctness cross-check (max relative difference to the first peer) is printed beside the
times.

    PYTHONPATH=python python bench/bench_peers.py [--rounds 3] [--readme]

Sizes: ``SCALINGLAB_PEERS_SCALE`` (default 1 = the issue's sizes) multiplies P of every row
and N of the Gram rows (N by scale^2, so that the Gram rows shrink like the others); the run
prints the sizes it used.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.linalg

import scalinglab as sl
from scalinglab import solvers

SCALE = float(os.environ.get("SCALINGLAB_PEERS_SCALE", "1"))
# --threads: 0 = library defaults (scalinglab automatic, numpy/scipy/sklearn all cores); n > 0 =
# scalinglab n_threads=n and numpy/scipy's BLAS limited to n through threadpoolctl (JAX's XLA
# pool is not limited).
THREADS = 0


def _size(n: float) -> int:
    return max(16, int(round(n * SCALE)))


P_CURVE, T_CURVE, Q_CURVE = _size(2000), 200, _size(500)
P_RIDGE, N_RIDGES = _size(3000), 20
P_EIGH = _size(4000)
P_GRAM, D_GRAM, N_GRAM = _size(2000), 784, max(64, int(round(1e5 * SCALE * SCALE)))

try:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import neural_tangents as nt

    HAVE_NT = True
except Exception as error:  # noqa: BLE001 - any import failure skips the column
    HAVE_NT = False
    NT_ERROR = f"{type(error).__name__}: {error}"


def _rel(a, b) -> float:
    """max |a - b| / max |b| over the entries both give (a peer may leave some NaN)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = np.isfinite(a) & np.isfinite(b)
    a, b = a[both], b[both]
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ---- inputs --------------------------------------------------------------------------------


def _curve_inputs():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((P_CURVE + Q_CURVE, 50))
    K = X @ X.T / 50 + 0.1 * sl.kernels.rbf_kernel(X, lengthscale=5.0)  # PSD
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(len(X))
    Ktr = np.ascontiguousarray(K[:P_CURVE, :P_CURVE])
    Kte = np.ascontiguousarray(K[P_CURVE:, :P_CURVE])
    t = np.logspace(-1, 5, T_CURVE)
    return Ktr, Kte, y[:P_CURVE].copy(), y[P_CURVE:].copy(), t


# ---- row 1: GF learning curve on a fixed kernel ----------------------------------------------


def curve_scalinglab(Ktr, Kte, ytr, yte, t):
    frame = sl.kernel_learning_curve(np.zeros((len(ytr), 1)), ytr, np.zeros((len(yte), 1)), yte,
                                     (Ktr, Kte), t=t, progress=False, n_threads=THREADS)
    return frame["train_loss"].to_numpy(), frame["test_loss"].to_numpy()


def _curve_eigenbasis(mu, U, Kte, ytr, yte, t):
    """Losses at every t as GEMMs: (T, P) decay matrices times projected targets."""
    P = len(ytr)
    mu = np.maximum(mu / P, 0.0)
    proj = U.T @ ytr
    decay = np.exp(-np.outer(t, mu))                 # (T, P)
    train = (decay**2) @ (proj**2) / P
    keep = mu > mu.max() * P * np.finfo(float).eps
    coef = np.where(keep, proj / np.where(keep, mu, 1.0) / P, 0.0)  # (K/P)^-1 y / P in the basis
    KU = Kte @ U                                     # (Q, P)
    pred = ((1.0 - decay) * coef) @ KU.T            # (T, Q)
    test = np.mean((yte[None, :] - pred) ** 2, axis=1)
    return train, test


def curve_scipy_evd(Ktr, Kte, ytr, yte, t):
    mu, U = scipy.linalg.eigh(Ktr, driver="evd", check_finite=False)
    return _curve_eigenbasis(mu, U, Kte, ytr, yte, t)


def curve_scipy_evr(Ktr, Kte, ytr, yte, t):
    mu, U = scipy.linalg.eigh(Ktr, check_finite=False)
    return _curve_eigenbasis(mu, U, Kte, ytr, yte, t)


def curve_nt(Ktr, Kte, ytr, yte, t):
    # NT's flow is df/dt = -lr K (f - y) / n with its loss 0.5 mean((f - y)^2): lr = 1 is ours.
    predict = nt.predict.gradient_descent_mse(jnp.asarray(Ktr), jnp.asarray(ytr[:, None]),
                                              learning_rate=1.0, diag_reg=0.0)
    fx_train, fx_test = predict(jnp.asarray(t), jnp.zeros((len(ytr), 1)),
                                jnp.zeros((len(yte), 1)), jnp.asarray(Kte))
    fx_train, fx_test = np.asarray(fx_train)[..., 0], np.asarray(fx_test)[..., 0]
    return (np.mean((fx_train - ytr) ** 2, axis=1), np.mean((fx_test - yte) ** 2, axis=1))


# ---- row 2: ridge path from the Gram ---------------------------------------------------------


def _ridge_inputs():
    # The Gram of explicit ReLU features Phi (P x F, F > P), so that the feature-space
    # estimators of scikit-learn (Ridge, RidgeCV) do the same regression as the Gram path.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((P_RIDGE, 100))
    F = _size(4000)
    Phi = np.maximum(X @ rng.standard_normal((100, F)), 0.0) / np.sqrt(100.0 * F)
    K = Phi @ Phi.T
    y = X[:, 0] + 0.1 * rng.standard_normal(P_RIDGE)
    return K, y, np.logspace(-6, 0, N_RIDGES), Phi


def ridge_scalinglab(K, y, ridges, Phi):
    return solvers.RidgePath(K, y, n_threads=THREADS).predict_train(ridges)


def ridge_scipy(K, y, ridges, Phi):
    e, U = scipy.linalg.eigh(K, driver="evd", check_finite=False)
    proj = U.T @ y
    P = len(y)
    factors = e[None, :] / (e[None, :] + P * ridges[:, None])  # (R, P)
    return (factors * proj) @ U.T


def ridge_sklearn_kernelridge(K, y, ridges, Phi):
    from sklearn.kernel_ridge import KernelRidge

    P = len(y)
    return np.stack([KernelRidge(alpha=P * r, kernel="precomputed").fit(K, y).predict(K)
                     for r in ridges])


def ridge_sklearn_ridge(K, y, ridges, Phi):
    # Ridge on the features: sum (Phi w - y)^2 + alpha |w|^2 with alpha = P * ridge is the same
    # estimator (F > P: scikit-learn's cholesky solver works in the kernel form, one Gram and
    # one factorisation per ridge).
    from sklearn.linear_model import Ridge

    P = len(y)
    return np.stack([Ridge(alpha=P * r, solver="cholesky", fit_intercept=False).fit(Phi, y)
                     .predict(Phi) for r in ridges])


def ridge_sklearn_ridgecv(K, y, ridges, Phi):
    # RidgeCV does less than the others: generalised cross-validation over all the ridges (one
    # eigendecomposition) but predictions at the selected ridge only; the other rows are NaN
    # and the cross-check compares the selected one.
    from sklearn.linear_model import RidgeCV

    P = len(y)
    model = RidgeCV(alphas=P * ridges, fit_intercept=False).fit(Phi, y)
    out = np.full((len(ridges), P), np.nan)
    out[int(np.argmin(np.abs(P * ridges - model.alpha_)))] = model.predict(Phi)
    return out


# ---- row 3: eigh -----------------------------------------------------------------------------


def _eigh_inputs():
    rng = np.random.default_rng(3)
    g = rng.standard_normal((P_EIGH, P_EIGH))
    return ((g + g.T) / 2,)


def eigh_scalinglab(A):
    return solvers.eigh(A, n_threads=THREADS)[0]


def eigh_scipy_evd(A):
    return scipy.linalg.eigh(A, driver="evd", check_finite=False)[0]


def eigh_scipy_evr(A):
    return scipy.linalg.eigh(A, check_finite=False)[0]


def eigh_numpy(A):
    return np.linalg.eigh(A)[0]


# ---- rows 4-5: random-feature Grams ----------------------------------------------------------


def _gram_inputs(dtype):
    rng = np.random.default_rng(4)
    return (rng.standard_normal((P_GRAM, D_GRAM)).astype(dtype),)


def _numpy_gram(X, act, block=4096, seed=5):
    P, d = X.shape
    rng = np.random.default_rng(seed)
    K = np.zeros((P, P), X.dtype)
    Z = np.empty((P, block), X.dtype)
    for start in range(0, N_GRAM, block):
        b = min(block, N_GRAM - start)
        W = rng.standard_normal((d, b), dtype=X.dtype)
        Zb = Z[:, :b]
        np.matmul(X, W, out=Zb)
        act(Zb)
        K += Zb @ Zb.T
    K /= N_GRAM
    return K


def relu_gram_scalinglab(X):
    return sl.RandomFeatures(X.shape[1], N_GRAM, "relu", rng=0, dtype=X.dtype.name).gram(X, n_threads=THREADS)


def relu_gram_numpy(X):
    scale = 1.0 / np.sqrt(X.shape[1])

    def relu(Z):
        Z *= scale
        np.maximum(Z, 0, out=Z)

    return _numpy_gram(X, relu)


def rff_gram_scalinglab(X):
    return sl.RandomFeatures(X.shape[1], N_GRAM, "fourier", rng=0).gram(X, n_threads=THREADS)


def rff_gram_sklearn(X):
    from sklearn.kernel_approximation import RBFSampler

    gamma = 1.0 / (2.0 * X.shape[1])  # exp(-|x-y|^2 / (2 d)): scalinglab's lengthscale 1
    Z = RBFSampler(gamma=gamma, n_components=N_GRAM, random_state=0).fit_transform(X)
    return Z @ Z.T


def rff_gram_numpy(X):
    rng = np.random.default_rng(6)
    K = np.zeros((len(X), len(X)))
    scale = 1.0 / np.sqrt(X.shape[1])
    for start in range(0, N_GRAM, 4096):
        b = min(4096, N_GRAM - start)
        Z = X @ rng.standard_normal((X.shape[1], b))
        Z *= scale
        Z += rng.uniform(0, 2 * np.pi, b)
        np.cos(Z, out=Z)
        K += Z @ Z.T
    return K * (2.0 / N_GRAM)


# ---- the table -------------------------------------------------------------------------------


def rows():
    curve = _curve_inputs()
    out = [
        ("kernel GF curve P=%d, T=%d, Q=%d" % (P_CURVE, T_CURVE, Q_CURVE), curve,
         curve_scalinglab,
         {"scipy evd + numpy GEMMs": curve_scipy_evd, "scipy evr + numpy GEMMs": curve_scipy_evr,
          **({"neural-tangents gradient_descent_mse": curve_nt} if HAVE_NT else {})},
         lambda r: np.concatenate(r)),
        ("ridge path %d ridges, P=%d (train predictions)" % (N_RIDGES, P_RIDGE), _ridge_inputs(),
         ridge_scalinglab,
         {"scipy evd once + numpy reuse": ridge_scipy,
          "sklearn KernelRidge(precomputed) x%d" % N_RIDGES: ridge_sklearn_kernelridge,
          "sklearn Ridge(cholesky) x%d on the features" % N_RIDGES: ridge_sklearn_ridge,
          "sklearn RidgeCV on the features (best ridge only)": ridge_sklearn_ridgecv},
         lambda r: r),
        ("eigh P=%d (values + vectors)" % P_EIGH, _eigh_inputs(), eigh_scalinglab,
         {"scipy evd": eigh_scipy_evd, "scipy evr": eigh_scipy_evr, "numpy eigh": eigh_numpy},
         lambda r: r),
    ]
    for dtype in (np.float64, np.float32):
        out.append((f"ReLU Gram P={P_GRAM}, d={D_GRAM}, N={N_GRAM}, {np.dtype(dtype).name}",
                    _gram_inputs(dtype), relu_gram_scalinglab, {"numpy by hand": relu_gram_numpy},
                    None))
    out.append((f"random Fourier Gram P={P_GRAM}, d={D_GRAM}, N={N_GRAM}",
                _gram_inputs(np.float64), rff_gram_scalinglab,
                {"sklearn RBFSampler + Z Z^T": rff_gram_sklearn, "numpy by hand": rff_gram_numpy},
                None))
    return out


def _check(name, ours, peers_results, flatten, inputs):
    """Cross-check: exact work agrees to rounding; Monte-Carlo Grams are compared with the exact
    infinite-width kernel (relative Frobenius error, O(1/sqrt(N)) for every contender)."""
    if flatten is not None:
        return "max rel diff: " + ", ".join(
            f"{label} {_rel(flatten(ours), flatten(out)):.1e}" for label, out in peers_results.items())
    X = np.asarray(inputs[0], np.float64)
    exact = (sl.kernels.rbf_kernel(X, lengthscale=np.sqrt(X.shape[1])) if name.startswith("random Fourier")
             else sl.kernels.arccos_kernel(X, degree=1) / X.shape[1])

    def err(K):
        return np.linalg.norm(np.asarray(K, np.float64) - exact) / np.linalg.norm(exact)

    peers = ", ".join(f"{label} {err(K):.2e}" for label, K in peers_results.items())
    return f"rel error vs exact kernel: scalinglab {err(ours):.2e}, {peers}"


README_BEGIN = "<!-- bench_peers table: begin -->"
README_END = "<!-- bench_peers table: end -->"


def _table_lines(table, best, results, rounds_done, loads):
    """The Markdown table of the run (with its load averages), one line per row of work."""
    end_load = os.getloadavg()
    lines = [f"Best of {rounds_done} interleaved round(s); load average (1 min) per round "
             + ", ".join(f"{load:.2f}" for load in loads) + f", at the end {end_load[0]:.2f}; "
             f"cores {os.cpu_count()}; threads {THREADS or 'library defaults'}; scale {SCALE}.",
             "",
             "| work | scalinglab s | best peer | peer s | ratio | cross-check |",
             "|---|---|---|---|---|---|"]
    for name, inputs, _, peers, flatten in table:
        ours_s = best[(name, "scalinglab")]
        peer_label = min(peers, key=lambda p: best[(name, p)])
        peer_s = best[(name, peer_label)]
        check = _check(name, results[(name, "scalinglab")],
                       {p: results[(name, p)] for p in peers}, flatten, inputs)
        others = "; ".join(f"{p} {best[(name, p)]:.3f} s" for p in peers if p != peer_label)
        lines.append(f"| {name} | {ours_s:.3f} | {peer_label} | {peer_s:.3f} | "
                     f"**{ours_s / peer_s:.2f}** | {check}{'; ' + others if others else ''} |")
    return lines


def _write_readme(lines, path=None) -> None:
    """Replace the table between the README markers (atomically: temp file, then rename)."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"{path}: no '{README_BEGIN}' ... '{README_END}' block to replace")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = "\n".join([README_BEGIN, f"(written by `bench_peers.py --readme`, {stamp})", "",
                       *lines, README_END])
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(head + block + tail)
    os.replace(tmp, path)
    print(f"wrote the table into {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated row-name prefixes")
    parser.add_argument("--threads", type=int, default=0,
                        help="0: library defaults; n: every library limited to n BLAS threads")
    parser.add_argument("--readme", action="store_true",
                        help="write the final table into bench/README.md (between its markers)")
    args = parser.parse_args(argv)
    global THREADS
    THREADS = args.threads
    if THREADS > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(THREADS)
    from scalinglab._calibration import ensure_calibrated

    print(f"cores {os.cpu_count()}; threads {THREADS or 'library defaults'}; scale {SCALE}; automatic eigen crossover dimension "
          f"{ensure_calibrated()}; neural-tangents: "
          f"{'yes ' + nt.__version__ if HAVE_NT else 'not available (' + NT_ERROR + ')'}")
    table = rows()
    if args.only:
        prefixes = args.only.split(",")
        table = [r for r in table if any(r[0].startswith(p) for p in prefixes)]
    best: dict[tuple[str, str], float] = {}
    results: dict[tuple[str, str], object] = {}
    loads = []
    lines = []
    for rnd in range(args.rounds):
        load = os.getloadavg()
        loads.append(load[0])
        print(f"round {rnd + 1}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
              flush=True)
        for name, inputs, ours, peers, _ in table:
            contenders = [("scalinglab", ours), *peers.items()]
            shift = rnd % len(contenders)  # rotate the order: no contender always runs first
            for label, fn in contenders[shift:] + contenders[:shift]:
                start = time.perf_counter()
                out = fn(*inputs)
                seconds = time.perf_counter() - start
                best[(name, label)] = min(best.get((name, label), np.inf), seconds)
                results[(name, label)] = out
                print(f"  {name} | {label}: {seconds:.3f} s", flush=True)
        lines = _table_lines(table, best, results, rnd + 1, loads)
        print("\n" + "\n".join(lines), flush=True)
    if args.readme:
        _write_readme(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
