"""One million ReLU random features: the P = 4000, d = 784 Gram, its time and its peak memory.

Usage (each precision runs in a fresh subprocess so that its peak RSS is its own):

    PYTHONPATH=python python bench/million_features.py            # float64 then float32
    PYTHONPATH=python python bench/million_features.py --dtype float32 --progress

Targets on the 2-core development machine: <= 240 s (float64), <= 125 s (float32), peak memory
<= 0.5 GB. The script reports

* the wall time of ``RandomFeatures(784, 10**6, "relu").gram(X)``;
* the useful GFLOP/s, (2 P N d + P^2 N) / time;
* the peak resident set size of the process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``),
  and the RSS before the Gram (Python, numpy, the libraries and X);
* the memory the streamed Gram itself holds at its peak: the Gram (P^2), one feature block
  (P x block) and one weight block (block x d), in the chosen precision;
* a correctness check: the max error against the infinite-width arc-cosine kernel on the first
  200 inputs, which must be a few times N^-1/2 times the kernel's scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

N_INPUTS, D, N_FEATURES = 4000, 784, 1_000_000


def machine_description() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} logical CPUs, {model}, {platform.system()} {platform.release()}"


def rss_megabytes() -> float:
    """Current resident set size (Linux /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def run_one(dtype: str, n_inputs: int, d: int, n_features: int, progress: bool) -> dict:
    from scalinglab import _core
    from scalinglab.features import RandomFeatures
    from scalinglab.kernels import infinite_width_kernel

    X = np.random.default_rng(0).standard_normal((n_inputs, d)).astype(dtype)
    rf = RandomFeatures(d, n_features, "relu", rng=0, dtype=dtype)
    rss_before = rss_megabytes()
    start = time.perf_counter()
    K = rf.gram(X, progress=progress)
    seconds = time.perf_counter() - start
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux -> MB

    itemsize = np.dtype(dtype).itemsize
    block = _core.features.default_block_size(n_inputs, d, itemsize)
    engine_bytes = itemsize * (n_inputs**2 + n_inputs * block + block * d)
    limit = infinite_width_kernel("relu", X[:200].astype(np.float64))
    error = float(np.abs(K[:200, :200] - limit).max())
    flops = 2.0 * n_inputs * n_features * d + float(n_inputs) ** 2 * n_features
    return {
        "dtype": dtype,
        "n_inputs": n_inputs,
        "d": d,
        "n_features": n_features,
        "seconds": seconds,
        "useful_gflops": flops / seconds / 1e9,
        "peak_rss_mb": peak_rss,
        "rss_before_gram_mb": rss_before,
        "block_size": block,
        "gram_plus_blocks_mb": engine_bytes / 1e6,
        "max_error_vs_arccos_kernel": error,
        "error_times_sqrt_n_over_scale": error * np.sqrt(n_features) / float(np.abs(limit).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float64", "float32", "both"], default="both")
    parser.add_argument("--n-inputs", type=int, default=N_INPUTS)
    parser.add_argument("--d", type=int, default=D)
    parser.add_argument("--n-features", type=int, default=N_FEATURES)
    parser.add_argument("--progress", action="store_true", help="show a tqdm bar")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = run_one(args.dtype, args.n_inputs, args.d, args.n_features, args.progress)
        print("RESULT " + json.dumps(result), flush=True)
        return

    print(f"machine: {machine_description()}", flush=True)
    dtypes = ["float64", "float32"] if args.dtype == "both" else [args.dtype]
    for dtype in dtypes:
        command = [sys.executable, os.path.abspath(__file__), "--child", "--dtype", dtype,
                   "--n-inputs", str(args.n_inputs), "--d", str(args.d),
                   "--n-features", str(args.n_features)] + (["--progress"] if args.progress else [])
        completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        line = next(l for l in completed.stdout.splitlines() if l.startswith("RESULT "))
        result = json.loads(line[len("RESULT "):])
        print(
            f"{dtype}: P={result['n_inputs']} d={result['d']} N={result['n_features']}  "
            f"time {result['seconds']:.1f} s ({result['useful_gflops']:.1f} useful GFLOP/s)  "
            f"peak RSS {result['peak_rss_mb']:.0f} MB (before the Gram {result['rss_before_gram_mb']:.0f} MB)  "
            f"Gram + blocks {result['gram_plus_blocks_mb']:.0f} MB (block {result['block_size']})  "
            f"max error vs arc-cosine kernel {result['max_error_vs_arccos_kernel']:.2e} "
            f"(= {result['error_times_sqrt_n_over_scale']:.2f} x scale / sqrt(N))",
            flush=True,
        )
        print("JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
