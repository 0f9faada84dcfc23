"""What every benchmark file shares: one recording convention and one thread-count setting.

Recording (the ``record`` fixture): ``record(benchmark, key, baseline=())`` stores the best
round of ``benchmark`` (seconds; the machines are shared, so the best round is the one with the
least foreign load) under ``key`` and, when ``baseline`` was measured earlier in the same run,
stores and prints (for each baseline, when several are named)

    ratio = ours / baseline        (below 1: faster than the baseline)

as ``extra_info["ratio_to_<baseline>"]``. This is the one ratio convention of ``bench/``;
bench/README.md quotes the same ratios. Timings live in a session-wide table, so a baseline in
another file of the same run counts too; run a whole group for its ratios.

Threads (the ``bench_threads`` fixture): ``SCALINGLAB_BENCH_THREADS`` (0 = all cores) if set,
else the module's ``DEFAULT_BENCH_THREADS`` (0 if it has none). The same count is given to
scalinglab's ``n_threads`` (by the tests, from the fixture) and to numpy/scipy's BLAS (through
threadpoolctl, when installed), so the baselines run on as many threads as we do.
"""

from __future__ import annotations

import os

import pytest

_RESULTS: dict[str, float] = {}


def _threads(module) -> int:
    value = os.environ.get("SCALINGLAB_BENCH_THREADS")
    if value is not None:
        return int(value)
    return int(getattr(module, "DEFAULT_BENCH_THREADS", 0))


@pytest.fixture(scope="module")
def bench_threads(request) -> int:
    """The thread count of this module's measurements (0 = all cores)."""
    return _threads(request.module)


@pytest.fixture(scope="module", autouse=True)
def same_blas_threads(request):
    """numpy/scipy's BLAS limited to the module's thread count while its benchmarks run."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy and scipy keep their defaults (all cores)
        yield
        return
    with threadpool_limits(_threads(request.module) or os.cpu_count()):
        yield


@pytest.fixture(scope="session")
def bench_results() -> dict[str, float]:
    """Best-round seconds of every measurement recorded in this run, by key."""
    return _RESULTS


@pytest.fixture
def record(bench_results, bench_threads):
    """``record(benchmark, key, baseline=()) -> seconds``: see the module docstring."""

    def record_best(benchmark, key: str, baseline: str | tuple[str, ...] = ()) -> float:
        seconds = float(benchmark.stats.stats.min)
        bench_results[key] = seconds
        benchmark.extra_info["best_s"] = seconds
        benchmark.extra_info["threads"] = bench_threads
        line = f"\n{key}: {seconds:.3f} s"
        for name in (baseline,) if isinstance(baseline, str) else baseline:
            if name in bench_results:
                ratio = seconds / bench_results[name]
                benchmark.extra_info[f"ratio_to_{name}"] = ratio
                line += f"; {ratio:.3g} x {name} ({bench_results[name]:.3f} s)"
        print(line)
        return seconds

    return record_best
