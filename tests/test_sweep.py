"""The sweep runner: identity-keyed seeds, atomic records, resume, executors, kills."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")
from scalinglab import sweep as sw  # noqa: E402

FIXED = {"a": 2.0, "b": 1.5, "M": 300, "P": 200, "t": {"logspace": [0, 3, 8]}}


def _sweep(seeds=2, N=(20, 40, 80), **fixed):
    return sw.Sweep("learning_curve", sw.Grid.product(N=list(N)), seeds=seeds, rng=7,
                    fixed={**FIXED, **fixed}, name="test")


def _reference(tmp_path, sweep):
    store = tmp_path / "reference"
    sw.run(sweep, store, client=None, workers=1, n_threads=1, progress=False)
    return sw.load(store, complete=True)


def test_grid_product_zip_and_identity_seeds():
    grid = sw.Grid.product(N=[1, 2], P=[3, 4]) * sw.Grid.zip(a=[2.0, 3.0], b=[1.0, 1.5])
    assert len(grid) == 8 and grid.axes == ("N", "P", "a", "b")
    assert grid.points[1] == {"N": 1, "P": 3, "a": 3.0, "b": 1.5}
    assert grid.points[2] == {"N": 1, "P": 4, "a": 2.0, "b": 1.0}
    with pytest.raises(ValueError, match="equal lengths"):
        sw.Grid.zip(a=[1, 2], b=[1])
    point = {"N": 10, "a": 2.0, "t": [1.0, 2.0]}
    # The seed is a function of the point's identity: key order and insertion order don't matter.
    assert sw.derive_seed(3, point, 1) == sw.derive_seed(3, dict(reversed(point.items())), 1)
    seeds = {sw.derive_seed(3, point, r) for r in range(50)}
    assert len(seeds) == 50
    assert sw.derive_seed(3, point, 0) != sw.derive_seed(3, {**point, "N": 11}, 0)
    assert sw.derive_seed(3, point, 0) != sw.derive_seed(4, point, 0)
    assert sw.point_key({"x": float("inf")}) != sw.point_key({"x": 1e308})


def test_in_process_thread_pool_and_dask_give_identical_stores(tmp_path):
    sweep = _sweep()
    reference = _reference(tmp_path, sweep)
    assert len(reference) == 3 * 2 * 8
    assert list(reference.columns[:2]) == ["N", "seed"]
    assert np.isfinite(reference["test_loss"]).all()
    # Seeds differ by replicate: the two replicates of a point are different draws.
    first = reference[reference["N"] == 20]
    assert not np.array_equal(first[first.seed == 0]["test_loss"], first[first.seed == 1]["test_loss"])
    with ThreadPoolExecutor(3) as pool:
        sw.run(sweep, tmp_path / "threads", client=pool, progress=False)
    pd.testing.assert_frame_equal(sw.load(tmp_path / "threads"), reference, check_exact=True)
    for workers in (1, 2, 4):
        store = tmp_path / f"dask{workers}"
        summary = sw.run(sweep, store, workers=workers, n_threads=1, progress=False)
        assert summary.computed == 6 and summary.skipped == 0
        pd.testing.assert_frame_equal(sw.load(store), reference, check_exact=True)
    # Provenance in every record.
    provenance = sw.Store(tmp_path / "dask2").provenance()
    assert len(provenance) == 6
    assert set(provenance.columns) >= {"record", "seed", "version", "git", "host", "wall_s", "n_threads"}
    assert (provenance["n_threads"] == 1).all() and (provenance["wall_s"] > 0).all()


def test_resume_skips_finished_and_redoes_truncated_records(tmp_path):
    sweep = _sweep()
    reference = _reference(tmp_path, sweep)
    store = tmp_path / "store"
    sw.run(sweep, store, progress=False, workers=1)
    records = sorted((store / "records").glob("[!.]*.parquet"))
    assert len(records) == 6
    # Truncate one record (a crash mid-copy) and delete another.
    data = records[0].read_bytes()
    records[0].write_bytes(data[: len(data) // 2])
    records[1].unlink()
    untouched = {p: p.stat().st_mtime_ns for p in records[2:]}
    summary = sw.run(sweep, store, progress=False, workers=1)
    assert (summary.computed, summary.skipped, summary.corrupt) == (2, 4, 1)
    assert {p: p.stat().st_mtime_ns for p in records[2:]} == untouched
    pd.testing.assert_frame_equal(sw.load(store, complete=True), reference, check_exact=True)
    # A run with nothing left computes nothing.
    assert sw.run(sweep, store, progress=False).computed == 0


def test_a_changed_sweep_is_refused(tmp_path):
    store = tmp_path / "store"
    sw.run(_sweep(), store, progress=False, workers=1)
    with pytest.raises(sw.StoreMismatchError, match="differs in points"):
        sw.run(_sweep(M=301), store, progress=False)
    with pytest.raises(sw.StoreMismatchError, match="seeds"):
        sw.run(_sweep(seeds=3), store, progress=False)
    with pytest.raises(ValueError, match="resume"):
        sw.run(_sweep(), store, resume=False, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("not a store")
    with pytest.raises(sw.StoreMismatchError, match="not empty"):
        sw.run(_sweep(), tmp_path / "other", progress=False)


def test_bad_sweeps_name_the_argument():
    with pytest.raises(TypeError, match="`rng`"):
        sw.Sweep("learning_curve", sw.Grid.product(N=[1]), rng=None)
    with pytest.raises(ValueError, match="unknown sweep function"):
        sw.Sweep("nope", sw.Grid.product(N=[1]))
    with pytest.raises(ValueError, match="not importable"):
        sw.Sweep(lambda p, s, n: None, sw.Grid.product(N=[1]))
    with pytest.raises(ValueError, match="also grid axes"):
        sw.Sweep("learning_curve", sw.Grid.product(N=[1]), fixed={"N": 2})
    with pytest.raises(ValueError, match="repeated points"):
        sw.Sweep("learning_curve", sw.Grid.product(N=[1, 1]))
    with pytest.raises(ValueError, match=r"\[grid\].N"):
        sw.sweep_from_spec({"sweep": {"function": "learning_curve"}, "grid": {"N": []}})
    with pytest.raises(ValueError, match="unknown field"):
        sw.sweep_from_spec({"sweep": {"function": "learning_curve", "seed": 3},
                            "grid": {"N": [1]}})
    with pytest.raises(ValueError, match="unknown section"):
        sw.sweep_from_spec({"sweep": {"function": "x"}, "grids": {}})


SPEC = """
[sweep]
function = "learning_curve"
seeds = 3
rng = 11
name = "kill-test"

[fixed]
a = 2.0
b = 1.5
M = 1200
P = 400
t = { logspace = [0, 3, 6] }

[grid]
N = [100, 150, 200, 250, 300, 350, 400, 450]
"""


def _cli(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "scalinglab.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


def test_sigkill_of_the_driver_loses_nothing_and_recomputes_nothing(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    sweep = sw.load_spec(spec)
    reference = _reference(tmp_path, sweep)
    store = tmp_path / "store"
    process = _cli("sweep", str(spec), "--store", str(store), "--workers", "2", "--n-threads", "1",
                   "--no-progress")
    records = store / "records"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records.exists() and len(list(records.glob("[!.]*.parquet"))) >= 6:
            break
        if process.poll() is not None:
            pytest.fail(f"the sweep ended before it could be killed: {process.communicate()}")
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)  # the driver only
    process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # then its orphaned cluster processes
    except ProcessLookupError:
        pass
    done = {p: p.stat().st_mtime_ns for p in records.glob("[!.]*.parquet")}
    total = len(sweep.work())
    assert 6 <= len(done) < total
    rerun = _cli("sweep", str(spec), "--store", str(store), "--resume", "--workers", "2",
                 "--n-threads", "1", "--no-progress")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"{total - len(done)} records computed, {len(done)} already done" in out
    assert {p: p.stat().st_mtime_ns for p in done} == done  # none rewritten
    pd.testing.assert_frame_equal(sw.load(store, complete=True), reference, check_exact=True)
    # Refusing a different sweep from the command line, with the field named.
    spec.write_text(SPEC.replace("seeds = 3", "seeds = 4"))
    refused = _cli("sweep", str(spec), "--store", str(store), "--resume")
    out, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and "different sweep" in err and "seeds" in err


def test_a_worker_killed_mid_task_is_replaced(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    sweep = sw.load_spec(spec)
    reference = _reference(tmp_path, sweep)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        killed = []

        def kill_one():
            # Kill a worker once a few records are on disk, i.e. while tasks are running.
            records = tmp_path / "store" / "records"
            while not (records.exists() and len(list(records.glob("[!.]*.parquet"))) >= 3):
                time.sleep(0.01)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

        killer = threading.Thread(target=kill_one, daemon=True)
        killer.start()
        summary = sw.run(sweep, tmp_path / "store", client=client, n_threads=1, progress=False)
        killer.join(timeout=60)
    assert killed, "the worker was never killed"
    assert summary.computed == len(sweep.work())
    pd.testing.assert_frame_equal(sw.load(tmp_path / "store", complete=True), reference,
                                  check_exact=True)


def test_to_xarray_of_a_store(tmp_path):
    pytest.importorskip("xarray")
    sweep = _sweep()
    sw.run(sweep, tmp_path / "s", progress=False, workers=1)
    dataset = sw.to_xarray(tmp_path / "s", dims=["N", "seed", "t"], values=["test_loss", "train_loss"])
    assert dict(dataset.sizes) == {"N": 3, "seed": 2, "t": 8}
    assert np.isfinite(dataset["test_loss"].values).all()


def test_ctrl_c_stops_cleanly_and_keeps_finished_records(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    store = tmp_path / "store"
    process = _cli("sweep", str(spec), "--store", str(store), "--workers", "1", "--n-threads", "1",
                   "--no-progress")
    records = store / "records"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (records.exists()
                                               and len(list(records.glob("[!.]*.parquet"))) >= 2):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - start < 20
    assert process.returncode == 130, (out, err)
    assert "interrupted" in err
    sweep = sw.load_spec(spec)
    kept = [item for item in sweep.work() if sw.Store(store).is_valid(item)]
    assert 2 <= len(kept) < len(sweep.work())
    assert sw.run(sweep, store, workers=1, n_threads=1, progress=False).skipped == len(kept)


def test_null_task_overhead_path_runs_many_records(tmp_path):
    sweep = sw.Sweep("null", sw.Grid.product(i=list(range(60))), seeds=1, rng=0)
    summary = sw.run(sweep, tmp_path / "s", workers=2, progress=False)
    assert summary.computed == 60
    table = sw.load(tmp_path / "s", complete=True)
    assert len(table) == 60 and table["test_loss"].between(0, 1).all()
    assert (table["n_threads_seen"] == 1).all()  # 2 workers on 2 cores: 1 thread each
