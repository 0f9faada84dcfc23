"""Per-machine calibration of the automatic (``n_threads=0``) thread rule for eigendecompositions.

LAPACK's ``?syevd`` makes many small BLAS calls; below some dimension threads cost more than
they save, and where that crossover lies depends on the machine (cores, SIMD, OpenBLAS build)
and on its load. An explicit ``n_threads > 0`` is always honoured; for ``n_threads=0`` the core
uses all cores from ``_core.solvers.parallel_eigen_dimension()`` on and one thread below. This
module measures that crossover once per machine and library version and caches it:

* ``SCALINGLAB_PARALLEL_EIGEN_DIM`` (an int >= 0) overrides everything (0 = always all cores);
* otherwise the cache file ``$SCALINGLAB_CACHE_DIR/calibration.json`` (default
  ``~/.cache/scalinglab``) holds one entry per key (CPU model, core count, scalinglab version,
  OpenBLAS config); a missing or expired entry is measured (about 1-2 s on 2 cores) and written.

An entry lives 30 days, or one hour when the measurement shows contention: all cores slower
than one thread by more than 2x at some size (threads spinning while a core is taken by another
process: on the loaded 2-core development machine two threads lost to one by 12-50x at n = 768,
where on the quiet machine they win by 1.45x), or a 1-minute load average at or above the core
count before measuring. The outcome under foreign load is the opposite of the quiet one, so a
measurement taken in a busy moment must not decide for the next month. (The load average alone
is not the test: it counts this process's own work before the first eigendecomposition.)

The calibration never changes results for an explicit thread count; for ``n_threads=0`` it fixes
the thread count per (machine, dimension), and an eigendecomposition is bit-identical only for a
fixed thread count (ARCHITECTURE.md, "Reproducibility guarantees"): pin the env var, or pass
``n_threads``, for bit-identical results across machines with different calibrations.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np

from scalinglab._native import _core

__all__ = ["ensure_calibrated", "calibrate_eigen_dimension", "cache_path"]

ENV_DIMENSION = "SCALINGLAB_PARALLEL_EIGEN_DIM"
ENV_CACHE_DIR = "SCALINGLAB_CACHE_DIR"
# Dimensions measured, ascending: the crossover is the smallest of them from which all cores
# beat one thread at every larger measured size too. If threads lose at the largest, automatic
# mode never goes parallel (_NEVER): on the loaded 2-core development machine threads that lost
# at n = 768 also lost at n = 2500 (syevd 18-26 s on 2 threads against 3.1 s on one), so the old
# fixed default 2700 was not a safe extrapolation.
_SIZES = (192, 384, 768)
_ROUNDS = 3
# Extra rounds (within the time budget) at a size where all cores lost by more than 2x.
_EXTRA_ROUNDS = 6
_BUDGET_S = 5.0
# All cores must beat one thread by this factor (noise margin: a shared machine jitters by a few %).
_MARGIN = 0.95
_NEVER = 2**31 - 1
# Bumped when the rule changes, so that entries cached by an older rule are measured again.
_RULE_VERSION = 3
# Lifetime of a cached entry measured on a quiet / a busy machine (seconds); see the docstring.
_QUIET_LIFETIME_S = 30 * 24 * 3600.0
_BUSY_LIFETIME_S = 3600.0

_lock = threading.Lock()
_done = False


def cache_path() -> Path:
    """The calibration cache file."""
    base = os.environ.get(ENV_CACHE_DIR)
    root = Path(base) if base else Path.home() / ".cache" / "scalinglab"
    return root / "calibration.json"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine_key() -> str:
    version = getattr(_core, "__version__", "unknown")
    try:
        import scipy_openblas32

        blas = scipy_openblas32.get_openblas_config()
    except Exception:  # noqa: BLE001 - any failure only makes the key less specific
        blas = "unknown-blas"
    return f"{_cpu_model()}|{os.cpu_count()}|scalinglab {version}|{blas}|rule {_RULE_VERSION}"


def calibrate_eigen_dimension(sizes=_SIZES, rounds: int = _ROUNDS,
                              budget_s: float = _BUDGET_S) -> dict:
    """Measure syevd (vectors) on one thread against all cores; return the crossover and timings.

    Rounds are interleaved (1 thread, all cores, 1 thread, ...) and the best of each count is
    kept, so one round disturbed by another process does not decide. A size where all cores
    lose by more than 2x (the sign of a core taken by another process) gets extra rounds, as
    long as the whole measurement stays within ``budget_s`` seconds.
    """
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    timings = {}
    dimension = _NEVER if cores > 1 else 0
    if cores > 1:
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        # Largest size first: the crossover needs all cores to win at every larger size, so
        # the first size where they lose ends the measurement.
        for n in sorted(sizes, reverse=True):
            g = rng.standard_normal((n, n))
            a = (g + g.T) / 2.0
            best = {1: np.inf, cores: np.inf}
            done = 0

            def another_round() -> bool:
                if done == 0:
                    return True
                if time.perf_counter() - started >= budget_s:
                    return False
                return done < rounds or (best[cores] > 2.0 * best[1]
                                         and done < rounds + _EXTRA_ROUNDS)

            while another_round():
                if done >= 1 and best[cores] > 2.0 * best[1]:
                    time.sleep(0.2)  # let a burst of foreign work pass before the next round
                for threads in (1, cores):
                    start = time.perf_counter()
                    _core.solvers.eigh(a, True, threads)
                    best[threads] = min(best[threads], time.perf_counter() - start)
                done += 1
            timings[int(n)] = (best[1], best[cores])
            if not best[cores] < _MARGIN * best[1]:
                break
            dimension = int(n)
    contended = bool(load_before >= cores
                     or any(all_cores > 2.0 * one for one, all_cores in timings.values()))
    return {
        "parallel_eigen_dimension": int(dimension),
        "cores": cores,
        "timings_s": {str(n): list(v) for n, v in timings.items()},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "load_before": load_before,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "contended": contended,
        "valid_until": time.time() + (_BUSY_LIFETIME_S if contended else _QUIET_LIFETIME_S),
    }


def _usable(entry) -> bool:
    """A cached entry of the current rule that has not expired."""
    return (isinstance(entry, dict) and "parallel_eigen_dimension" in entry
            and isinstance(entry.get("valid_until"), (int, float))
            and time.time() < entry["valid_until"])


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, table: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)  # atomic: concurrent processes never read a half-written file
    except OSError:
        pass  # a read-only home: calibrate again next process, results are unaffected


def ensure_calibrated() -> int:
    """Set the core's automatic eigen crossover for this process (once); return it."""
    global _done
    if _done:
        return int(_core.solvers.parallel_eigen_dimension())
    with _lock:
        if not _done:
            override = os.environ.get(ENV_DIMENSION)
            if override is not None:
                try:
                    dimension = int(override)
                except ValueError:
                    raise ValueError(
                        f"`{ENV_DIMENSION}`: expected an int >= 0, got {override!r}"
                    ) from None
                if dimension < 0:
                    raise ValueError(f"`{ENV_DIMENSION}`: expected an int >= 0, got {dimension}")
            else:
                path = cache_path()
                key = _machine_key()
                table = _read_cache(path)
                entry = table.get(key)
                if not _usable(entry):
                    entry = calibrate_eigen_dimension()
                    table = _read_cache(path)  # another process may have written meanwhile
                    table[key] = entry
                    _write_cache(path, table)
                dimension = int(entry["parallel_eigen_dimension"])
            _core.solvers.set_parallel_eigen_dimension(dimension)
            _done = True
    return int(_core.solvers.parallel_eigen_dimension())
