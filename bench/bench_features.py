"""Streamed random-feature Gram vs numpy by hand and vs numpy's own GEMM rate, in one run.

Run (about two minutes on 2 cores; -s prints the ratios):

    PYTHONPATH=python python -m pytest bench/bench_features.py -s --benchmark-only \
        --benchmark-columns=min,median,rounds

Groups
------
gram-relu-float64 / gram-relu-float32
    K = Phi Phi^T / N for N = 1e5 ReLU features of P = 2000 inputs in d = 784.
    * ``numpy_gemm_rate``: numpy's own matmul of two 2048 x 2048 matrices (the machine's GEMM
      rate through numpy's OpenBLAS, measured in this run).
    * ``numpy_by_hand``: the best blocked numpy version: numpy's Generator.standard_normal for W,
      ``np.matmul(..., out=)``, in-place ``np.maximum``, ``K += Z @ Z.T`` (numpy runs Z @ Z.T as a
      syrk), 4096 features per block (faster than 2048; scipy's ?syrk wrapper was slower because
      it copies to Fortran order).
    * ``scalinglab``: ``RandomFeatures(...).gram(X)``.
    Useful flops are 2 P N d (pre-activations) + P^2 N (the symmetric accumulation); the
    fraction of the GEMM rate (useful GFLOP/s / GEMM rate) and the time ratios, ours / baseline
    (to numpy by hand, float32 to float64; bench/conftest.py), go to the benchmark's extra_info
    and are printed.
preactivation-float64 / preactivation-float32
    The pre-activation kernel (one FMA chain per entry, bit-identical for any shape, thread
    count or CPU) against BLAS on the same shape: ``numpy_matmul`` is numpy's X @ W^T (its
    OpenBLAS dgemm/sgemm) for P = 2000 inputs, d = 784 and one default block of 3008 features;
    ``scalinglab_linear`` is ``RandomFeatures(..., "linear").transform`` of the same block, which
    also generates W (Philox, ~5 ms). The time ratio (ours / numpy) goes to extra_info and is
    printed.
checkpoint-grid
    The Grams at 8 widths N = 1e3 ... 1e5 from one pass, against the single N = 1e5 Gram of the
    float64 group (measured again here if that group did not run).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from scalinglab.features import RandomFeatures

P, D, N = 2000, 784, 100_000
NUMPY_BLOCK = 4096
GRID = [int(round(x)) for x in np.logspace(3, 5, 8)]
DTYPES = ["float64", "float32"]

# Rounds of each Gram timing; the best round is reported (the machines are shared: the best
# round is the one with the least foreign load).
ROUNDS = int(os.environ.get("SCALINGLAB_BENCH_ROUNDS", "3"))


def useful_flops(n_inputs: int, n_features: int, d: int) -> float:
    return 2.0 * n_inputs * n_features * d + float(n_inputs) ** 2 * n_features


@pytest.fixture(scope="module")
def inputs():
    X = np.random.default_rng(0).standard_normal((P, D))
    return {"float64": X, "float32": X.astype(np.float32)}


def numpy_relu_gram(X: np.ndarray, n_features: int, block: int, seed: int) -> np.ndarray:
    """ReLU random-feature Gram the best way numpy alone can do it (W never stored whole)."""
    dtype = X.dtype.type
    generator = np.random.default_rng(seed)
    n, d = X.shape
    K = np.zeros((n, n), dtype=dtype)
    Xs = X * dtype(1.0 / np.sqrt(d))
    Z = np.empty((n, block), dtype=dtype)
    for start in range(0, n_features, block):
        width = min(block, n_features - start)
        W = generator.standard_normal((width, d), dtype=dtype)
        z = Z[:, :width]
        np.matmul(Xs, W.T, out=z)
        np.maximum(z, 0, out=z)
        K += z @ z.T
    K *= dtype(1.0 / n_features)
    return K


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_gemm_rate(benchmark, dtype, record):
    benchmark.group = f"gram-relu-{dtype}"
    generator = np.random.default_rng(1)
    n = 2048
    A = generator.standard_normal((n, n)).astype(dtype)
    B = generator.standard_normal((n, n)).astype(dtype)
    benchmark.pedantic(np.matmul, args=(A, B), rounds=5, warmup_rounds=1)
    seconds = record(benchmark, f"gemm-{dtype}")
    benchmark.extra_info["gflops"] = 2.0 * n**3 / seconds / 1e9


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_by_hand(benchmark, inputs, dtype, record):
    benchmark.group = f"gram-relu-{dtype}"
    X = inputs[dtype]
    K = benchmark.pedantic(numpy_relu_gram, args=(X, N, NUMPY_BLOCK, 2), rounds=ROUNDS, warmup_rounds=0)
    assert K.shape == (P, P) and np.isfinite(K).all()
    seconds = record(benchmark, f"numpy-{dtype}")
    benchmark.extra_info["useful_gflops"] = useful_flops(P, N, D) / seconds / 1e9


@pytest.mark.parametrize("dtype", DTYPES)
def test_scalinglab(benchmark, inputs, dtype, record, bench_results):
    benchmark.group = f"gram-relu-{dtype}"
    X = inputs[dtype]
    rf = RandomFeatures(D, N, "relu", rng=3, dtype=dtype)
    K = benchmark.pedantic(rf.gram, args=(X,), rounds=ROUNDS, warmup_rounds=0)
    assert K.shape == (P, P) and K.dtype == np.dtype(dtype)
    # ratio_to_numpy-<dtype>: ours / numpy by hand; float32 also ratio_to_scalinglab-float64.
    baselines = (f"numpy-{dtype}",) + (("scalinglab-float64",) if dtype == "float32" else ())
    seconds = record(benchmark, f"scalinglab-{dtype}", baselines)
    info = benchmark.extra_info
    info["useful_gflops"] = useful_flops(P, N, D) / seconds / 1e9
    lines = [f"[{dtype}] scalinglab Gram P={P} d={D} N={N}: {seconds:.2f} s, "
             f"{info['useful_gflops']:.1f} useful GFLOP/s"]
    if f"gemm-{dtype}" in bench_results:
        gemm_rate = 2.0 * 2048**3 / bench_results[f"gemm-{dtype}"] / 1e9
        info["fraction_of_numpy_gemm_rate"] = info["useful_gflops"] / gemm_rate
        lines.append(f"  numpy GEMM rate {gemm_rate:.1f} GFLOP/s -> fraction "
                     f"{info['fraction_of_numpy_gemm_rate']:.3f}")
    print("\n" + "\n".join(lines))


PRE_BLOCK = 3008  # default_block_size(2000, 784, 8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_preactivation_numpy_matmul(benchmark, inputs, dtype, record):
    benchmark.group = f"preactivation-{dtype}"
    X = inputs[dtype]
    W = RandomFeatures(D, PRE_BLOCK, "linear", rng=4, dtype=dtype).weights()
    benchmark.pedantic(np.matmul, args=(X, W.T), rounds=5 * ROUNDS, warmup_rounds=1)
    seconds = record(benchmark, f"matmul-{dtype}")
    benchmark.extra_info["gflops"] = 2.0 * P * D * PRE_BLOCK / seconds / 1e9


@pytest.mark.parametrize("dtype", DTYPES)
def test_preactivation_scalinglab_linear(benchmark, inputs, dtype, record):
    benchmark.group = f"preactivation-{dtype}"
    X = inputs[dtype]
    rf = RandomFeatures(D, PRE_BLOCK, "linear", rng=4, dtype=dtype)
    benchmark.pedantic(rf.transform, args=(X,), rounds=5 * ROUNDS, warmup_rounds=1)
    seconds = record(benchmark, f"preactivation-{dtype}", f"matmul-{dtype}")
    benchmark.extra_info["gflops"] = 2.0 * P * D * PRE_BLOCK / seconds / 1e9


def test_checkpoint_grid(benchmark, inputs, record, bench_results):
    benchmark.group = "checkpoint-grid"
    X = inputs["float64"]
    rf = RandomFeatures(D, N, "relu", rng=3)
    grams = benchmark.pedantic(rf.gram, args=(X,), kwargs={"checkpoints": GRID}, rounds=ROUNDS,
                               warmup_rounds=0)
    assert sorted(grams) == GRID
    seconds = record(benchmark, "checkpoint-grid", "scalinglab-float64")
    single = bench_results.get("scalinglab-float64")
    if single is None:  # the float64 group was deselected: time the single Gram here
        import time

        single = min(_timed(rf.gram, X, time) for _ in range(ROUNDS))
    benchmark.extra_info["grid_over_single"] = seconds / single
    print(f"\n[checkpoint grid] {len(GRID)} Grams N={GRID[0]}..{GRID[-1]}: {seconds:.2f} s, "
          f"single N={N} Gram: {single:.2f} s -> ratio {seconds / single:.3f}")


def _timed(function, argument, time_module) -> float:
    start = time_module.perf_counter()
    function(argument)
    return time_module.perf_counter() - start
