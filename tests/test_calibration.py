"""The per-machine eigen thread calibration: override, cache round trip, bad input, no effect on results."""

import json

import numpy as np
import pytest

from scalinglab import _calibration, solvers
from scalinglab._native import _core


@pytest.fixture
def fresh(monkeypatch):
    """A process state as before the first automatic use; the crossover restored afterwards."""
    previous = _core.solvers.parallel_eigen_dimension()
    monkeypatch.setattr(_calibration, "_done", False)
    yield
    _core.solvers.set_parallel_eigen_dimension(previous)


def test_env_override_sets_the_crossover(fresh, monkeypatch):
    monkeypatch.setenv(_calibration.ENV_DIMENSION, "1234")
    assert _calibration.ensure_calibrated() == 1234
    assert _core.solvers.parallel_eigen_dimension() == 1234


@pytest.mark.parametrize("value", ["-1", "many"])
def test_bad_env_override_names_the_variable(fresh, monkeypatch, value):
    monkeypatch.setenv(_calibration.ENV_DIMENSION, value)
    with pytest.raises(ValueError, match=_calibration.ENV_DIMENSION):
        _calibration.ensure_calibrated()


def test_negative_dimension_rejected_by_the_core():
    with pytest.raises(ValueError, match="dimension"):
        _core.solvers.set_parallel_eigen_dimension(-5)


def test_calibration_is_cached_per_machine_and_read_back(fresh, monkeypatch, tmp_path):
    monkeypatch.delenv(_calibration.ENV_DIMENSION, raising=False)
    monkeypatch.setenv(_calibration.ENV_CACHE_DIR, str(tmp_path))
    dimension = _calibration.ensure_calibrated()
    table = json.loads((tmp_path / "calibration.json").read_text())
    (entry,) = table.values()
    assert entry["parallel_eigen_dimension"] == dimension
    # The crossover is one of the measured sizes, or "never" when threads lost at the largest.
    assert dimension in (*_calibration._SIZES, _calibration._NEVER, 0)
    # A second process reads the cache instead of measuring: a planted value comes back.
    entry["parallel_eigen_dimension"] = 321
    (tmp_path / "calibration.json").write_text(json.dumps(table))
    monkeypatch.setattr(_calibration, "_done", False)
    assert _calibration.ensure_calibrated() == 321


def test_explicit_thread_count_results_do_not_depend_on_the_crossover(fresh):
    rng = np.random.default_rng(7)
    g = rng.standard_normal((300, 300))
    a = (g + g.T) / 2
    _core.solvers.set_parallel_eigen_dimension(0)
    v0, u0 = solvers.eigh(a, n_threads=1)
    _core.solvers.set_parallel_eigen_dimension(10**6)
    v1, u1 = solvers.eigh(a, n_threads=1)
    assert np.array_equal(v0, v1) and np.array_equal(u0, u1)


def test_expired_or_busy_entries_are_measured_again(fresh, monkeypatch, tmp_path):
    monkeypatch.delenv(_calibration.ENV_DIMENSION, raising=False)
    monkeypatch.setenv(_calibration.ENV_CACHE_DIR, str(tmp_path))
    _calibration.ensure_calibrated()
    path = tmp_path / "calibration.json"
    table = json.loads(path.read_text())
    (key,) = table
    entry = table[key]
    # The lifetime follows the contention seen: one hour if all cores lost to one thread by
    # more than 2x somewhere (or the load was at the core count), else 30 days.
    lifetime = entry["valid_until"] - _calibration.time.time()
    contended = entry["load_before"] >= entry["cores"] or any(
        many > 2.0 * one for one, many in entry["timings_s"].values())
    assert entry["contended"] == contended
    expected = _calibration._BUSY_LIFETIME_S if contended else _calibration._QUIET_LIFETIME_S
    assert expected - 60 < lifetime <= expected
    # An expired entry (or one without a lifetime, written by an older rule) is not used.
    for stale in ({**entry, "valid_until": 0.0}, {k: v for k, v in entry.items() if k != "valid_until"}):
        stale["parallel_eigen_dimension"] = 321
        path.write_text(json.dumps({key: stale}))
        monkeypatch.setattr(_calibration, "_done", False)
        assert _calibration.ensure_calibrated() != 321
        assert json.loads(path.read_text())[key]["parallel_eigen_dimension"] != 321
