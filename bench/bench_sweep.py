"""Sweep runner overhead and scaling (issue 14).

* ``null``: 2,000 tasks that do no work through an embedded LocalCluster (2 workers) into a
  fresh store: records per second of the runner itself (scheduling, transfer, atomic Parquet
  writes). Scale with SCALINGLAB_BENCH_NULL_TASKS (the issue's figure is 10,000).
* ``theory``: a 200-point DMFT theory sweep (learning_curve_theory over N x P) with 1 and with 2
  workers; the ratio is t(2 workers) / t(1 worker).
"""

import os
import time

import pytest

from scalinglab import sweep as sw

NULL_TASKS = int(os.environ.get("SCALINGLAB_BENCH_NULL_TASKS", "2000"))


def _theory_sweep():
    # N, P >= 64: no FiniteSizeWarning (the uncorrected DMFT below 50)
    grid = sw.Grid.product(N=[64 * 2**k for k in range(10)], P=[64 * 2**k for k in range(20)])
    return sw.Sweep("learning_curve_theory", grid, seeds=1, rng=0, name="bench-theory",
                    fixed={"a": 2.0, "b": 1.5, "M": 2000, "t": {"logspace": [0, 4, 21]}})


@pytest.mark.benchmark(group="sweep-null")
def test_null_tasks_records_per_second(benchmark, tmp_path):
    sweep = sw.Sweep("null", sw.Grid.product(i=list(range(NULL_TASKS))), seeds=1, rng=0)
    counter = iter(range(1000))

    def once():
        return sw.run(sweep, tmp_path / f"s{next(counter)}", workers=2, progress=False)

    summary = benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info["records_per_s"] = summary.computed / summary.wall_s
    assert summary.computed == NULL_TASKS


@pytest.mark.benchmark(group="sweep-theory-200")
@pytest.mark.parametrize("workers", [1, 2])
def test_theory_sweep_workers(benchmark, tmp_path, workers, record):
    sweep = _theory_sweep()
    assert len(sweep.work()) == 200
    counter = iter(range(1000))

    def once():
        start = time.perf_counter()
        sw.run(sweep, tmp_path / f"s{next(counter)}", workers=workers, progress=False)
        return time.perf_counter() - start

    benchmark.pedantic(once, rounds=1, iterations=1)
    # ratio_to_sweep-theory-workers1 on the 2-worker run: t(2 workers) / t(1 worker).
    record(benchmark, f"sweep-theory-workers{workers}", "sweep-theory-workers1" if workers > 1 else ())
