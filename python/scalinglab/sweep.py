"""Sweeps that survive and scale: a resumable experiment runner on Dask with an on-disk store.

A sweep is a function of (point, seed) returning a tidy table in the shared result schema
(:mod:`scalinglab.results`), a grid of points (products and zips of named axes), and a number of
seeds. The unit of work is one (point, seed); its seed is derived from the sweep's root seed and
the point's *identity* (its canonical JSON), never from a worker or the order of completion, so a
sweep gives bit-identical numbers for any number of workers, any executor and any order.

Execution (:func:`run`):

* ``client=None``: an embedded :class:`distributed.LocalCluster` of worker processes, sized so
  that workers x threads per task <= cores (tiny sweeps run in-process, with no cluster);
* a :class:`distributed.Client` (e.g. ``Client("tcp://host:8786")``, a real cluster) or any
  :class:`concurrent.futures.Executor` is used as given.

Each task calls the sweep function with an explicit ``n_threads`` so processes and OpenMP never
oversubscribe the cores.

Store (:class:`Store`): a directory with ``sweep.json`` (the sweep definition and its
fingerprint) and ``records/<point>-s<seed>.parquet``, one Parquet file per (point, seed), written
by the driver as each task finishes, atomically (temporary file, fsync, rename). Each record
carries its provenance in the Parquet metadata: point, seed, package version, git revision if
known, host, wall time, threads. Parquet rather than Zarr: one small self-describing file per
record needs no locking or consolidated metadata, a truncated file is detected by its missing
footer, and any Arrow reader (pandas, polars, DuckDB) reads the store.

Re-running with the same store resumes: valid records are skipped (never recomputed), missing
or corrupt ones are (re)computed, and a store made by a different sweep definition is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import itertools
import json
import math
import numbers
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglab._io import write_atomically
from scalinglab._progress import progress_reporter
from scalinglab._validation import positive_int

_RECORD_META_KEY = b"scalinglab.record"
_MANIFEST = "sweep.json"
_STORE_FORMAT = 1


# ---------------------------------------------------------------------------------------------
# Canonical identities
# ---------------------------------------------------------------------------------------------


def canonical(value):
    """A JSON-ready canonical form of a point value (exact floats, specs by their fields).

    Supports None, bool, int, float (``inf``/``nan`` as ``{"__float__": "inf"}``; finite floats
    are written by ``repr``, which round-trips exactly), str, lists/tuples, mappings with str keys, numpy scalars and
    arrays, and frozen dataclass specs (tasks, optimizers), which become
    ``{"__spec__": "module.Class", field: value, ...}``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return {"__float__": "nan"}
        if math.isinf(x):
            return {"__float__": "inf" if x > 0 else "-inf"}
        return x  # json writes floats by repr, which round-trips exactly
    if isinstance(value, np.ndarray):
        return {"__array__": [canonical(v) for v in value.tolist()], "dtype": str(value.dtype)}
    if isinstance(value, Mapping):
        keys = list(value)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError(f"point keys must be strings, got {keys!r}")
        return {k: canonical(value[k]) for k in sorted(keys)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        out = {"__spec__": f"{cls.__module__}.{cls.__qualname__}"}
        for item in dataclasses.fields(value):
            out[item.name] = canonical(getattr(value, item.name))
        return out
    raise TypeError(
        f"cannot use {type(value).__name__} {value!r} in a sweep point: use numbers, strings, "
        "lists, dicts or frozen dataclass specs"
    )


def _dumps(value) -> str:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))


def point_key(point: Mapping) -> str:
    """A stable 16-hex-digit identity of a point (the same in every process and session)."""
    return hashlib.sha256(_dumps(point).encode()).hexdigest()[:16]


def derive_seed(root_seed: int, point: Mapping, replicate: int) -> int:
    """The int seed of replicate ``replicate`` at ``point``: a function of identity only.

    ``numpy.random.SeedSequence(root_seed, spawn_key=(point words..., replicate))``: points and
    replicates get independent streams, and adding points or seeds never changes the others.
    """
    words = [int(w, 16) for w in _chunks(hashlib.sha256(_dumps(point).encode()).hexdigest(), 8)]
    sequence = np.random.SeedSequence(int(root_seed), spawn_key=(*words[:4], int(replicate)))
    state = sequence.generate_state(2, dtype=np.uint32)
    return int(state[0]) | (int(state[1] & 0x7FFFFFFF) << 32)


def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


# ---------------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """An ordered list of points (dicts of named axis values).

    Build with :meth:`product` (every combination) and :meth:`zip` (axes advanced together);
    combine with ``a * b`` (product of two grids) and ``a + b`` (concatenation).

    Examples
    --------
    >>> grid = Grid.product(N=[50, 100], P=[100, 200]) * Grid.zip(a=[2.0, 3.0], b=[1.5, 2.0])
    >>> len(grid)
    8
    """

    points: tuple = ()
    axes: tuple = ()

    @classmethod
    def product(cls, **axes) -> "Grid":
        """Every combination of the axes' values (the last axis varies fastest)."""
        names, values = cls._axes(axes)
        points = tuple(dict(zip(names, combo)) for combo in itertools.product(*values))
        return cls(points, tuple(names))

    @classmethod
    def zip(cls, **axes) -> "Grid":
        """The axes advanced together; all must have the same length."""
        names, values = cls._axes(axes)
        lengths = {len(v) for v in values}
        if len(lengths) != 1:
            raise ValueError(f"`axes`: zipped axes need equal lengths, got "
                             f"{dict(zip(names, map(len, values)))}")
        return cls(tuple(dict(zip(names, combo)) for combo in zip(*values)), tuple(names))

    @staticmethod
    def _axes(axes):
        if not axes:
            raise ValueError("`axes`: expected at least one named axis")
        names, values = [], []
        for name, axis in axes.items():
            array = list(axis) if isinstance(axis, (list, tuple, np.ndarray, range)) else [axis]
            if not array:
                raise ValueError(f"`{name}`: an axis needs at least one value")
            names.append(name)
            values.append(array)
        return names, values

    def __mul__(self, other: "Grid") -> "Grid":
        clash = set(self.axes) & set(other.axes)
        if clash:
            raise ValueError(f"`grid`: axes {sorted(clash)} appear in both factors")
        points = tuple({**p, **q} for p in self.points for q in other.points)
        return Grid(points, self.axes + other.axes)

    def __add__(self, other: "Grid") -> "Grid":
        axes = self.axes + tuple(a for a in other.axes if a not in self.axes)
        return Grid(self.points + other.points, axes)

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self):
        return iter(self.points)


# ---------------------------------------------------------------------------------------------
# Sweep definition
# ---------------------------------------------------------------------------------------------

#: Sweep functions known by name (for TOML specs and the CLI): name -> "module:function".
REGISTRY: dict[str, str] = {
    "learning_curve": "scalinglab.sweep:learning_curve_task",
    "learning_curve_theory": "scalinglab.sweep:learning_curve_theory_task",
    "null": "scalinglab.sweep:null_task",
}


def register(name: str, target: str) -> None:
    """Register a sweep function under ``name``; ``target`` is "module:function"."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name`: expected a non-empty string, got {name!r}")
    if not isinstance(target, str) or ":" not in target:
        raise ValueError(f"`target`: expected 'module:function', got {target!r}")
    REGISTRY[name] = target


def resolve_function(function) -> tuple[Callable, str]:
    """The callable and its importable name ("module:qualname") from a callable or a name."""
    if callable(function):
        module, qualname = function.__module__, function.__qualname__
        if "<locals>" in qualname or "<lambda>" in qualname:
            raise ValueError(
                f"`function`: {qualname} is not importable by worker processes; define it at "
                "module level"
            )
        return function, f"{module}:{qualname}"
    if not isinstance(function, str):
        raise TypeError(f"`function`: expected a callable or a name, got {type(function).__name__}")
    target = REGISTRY.get(function, function)
    if ":" not in target:
        raise ValueError(
            f"`function`: unknown sweep function {function!r}; registered: {sorted(REGISTRY)}, "
            "or give 'module:function'"
        )
    module_name, qualname = target.split(":", 1)
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"`function`: cannot import {target!r}: {error}") from None
    if not callable(obj):
        raise TypeError(f"`function`: {target!r} is not callable")
    return obj, target


@dataclass(frozen=True)
class Sweep:
    """A sweep: ``function(point, seed, n_threads) -> DataFrame`` over ``grid`` x ``seeds``.

    Parameters
    ----------
    function : callable or str
        A module-level function (importable by worker processes), or a registered name
        (:data:`REGISTRY`). It receives the point (a dict: the grid axes plus ``fixed``), an int
        seed (pass it as ``rng=``) and ``n_threads``, and returns a tidy DataFrame in the shared
        schema (its ``seed`` column, if any, is replaced by the replicate index).
    grid : Grid
        The points.
    seeds : int
        Replicates per point (>= 1).
    rng : int
        The root seed (>= 0). An int is required: a resumable sweep must derive the same seeds
        every time it is run.
    fixed : dict
        Parameters shared by every point (merged under the grid's axes).
    name : str
        A label for the store and the progress bar.
    """

    function: Callable | str
    grid: Grid
    seeds: int = 1
    rng: int = 0
    fixed: Mapping = field(default_factory=dict)
    name: str = "sweep"

    def __post_init__(self):
        resolve_function(self.function)
        if not isinstance(self.grid, Grid):
            raise TypeError(f"`grid`: expected a scalinglab.sweep.Grid, got {type(self.grid).__name__}")
        if len(self.grid) == 0:
            raise ValueError("`grid`: the sweep has no points")
        object.__setattr__(self, "seeds", positive_int(self.seeds, "seeds"))
        if isinstance(self.rng, (bool, np.bool_)) or not isinstance(self.rng, numbers.Integral) \
                or self.rng < 0:
            raise TypeError(
                f"`rng`: a sweep needs an int root seed >= 0 (so a rerun derives the same seeds), "
                f"got {self.rng!r}"
            )
        if not isinstance(self.fixed, Mapping):
            raise TypeError(f"`fixed`: expected a mapping, got {type(self.fixed).__name__}")
        clash = set(self.fixed) & set(self.grid.axes)
        if clash:
            raise ValueError(f"`fixed`: {sorted(clash)} are also grid axes")
        keys = [point_key(p) for p in self.points()]
        if len(set(keys)) != len(keys):
            raise ValueError("`grid`: the grid has repeated points")

    def points(self) -> list[dict]:
        """The full points (fixed parameters merged with each grid point), in grid order."""
        return [{**dict(self.fixed), **point} for point in self.grid]

    def work(self) -> list["WorkItem"]:
        """Every (point, replicate) unit of work, in grid order then replicate order."""
        items = []
        for index, point in enumerate(self.points()):
            key = point_key(point)
            for replicate in range(self.seeds):
                items.append(WorkItem(index, point, key, replicate,
                                      derive_seed(self.rng, point, replicate)))
        return items

    def definition(self) -> dict:
        """The JSON definition stored in ``sweep.json`` (what a resumed run must match)."""
        return {"function": resolve_function(self.function)[1],
                "points": [canonical(p) for p in self.points()],
                "axes": list(self.grid.axes), "seeds": self.seeds, "rng": int(self.rng)}

    def fingerprint(self) -> str:
        """sha256 of :meth:`definition`."""
        return hashlib.sha256(json.dumps(self.definition(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: the point, its index in the grid, the replicate and its seed."""

    index: int
    point: dict
    key: str
    replicate: int
    seed: int

    @property
    def record(self) -> str:
        """The record's file stem."""
        return f"{self.key}-s{self.replicate}"


# ---------------------------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------------------------


class StoreMismatchError(ValueError):
    """The store was made by a different sweep definition."""


class Store:
    """A directory of atomic Parquet records, one per (point, seed), with a sweep manifest."""

    def __init__(self, path):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"`store`: expected a directory path, got {type(path).__name__}")
        self.path = Path(path)
        self.records = self.path / "records"

    # -- manifest --
    def attach(self, sweep: Sweep, *, resume: bool = True) -> None:
        """Create the store for ``sweep``, or check that an existing one was made by it."""
        manifest = self.path / _MANIFEST
        definition = sweep.definition()
        fingerprint = sweep.fingerprint()
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError) as error:
                raise StoreMismatchError(f"`store`: {manifest} is unreadable ({error})") from None
            if stored.get("fingerprint") != fingerprint:
                raise StoreMismatchError(
                    f"`store`: {self.path} holds a different sweep "
                    f"({_describe_difference(stored.get('definition', {}), definition)}); "
                    "use a new store directory"
                )
            if not resume:
                raise ValueError(f"`store`: {self.path} already holds this sweep; pass resume=True "
                                 "(CLI: --resume) to continue it")
        else:
            if self.path.exists() and any(self.path.iterdir()):
                raise StoreMismatchError(f"`store`: {self.path} exists, is not empty and has no "
                                         f"{_MANIFEST}; use a new directory")
            self.records.mkdir(parents=True, exist_ok=True)
            payload = {"format": _STORE_FORMAT, "name": sweep.name, "fingerprint": fingerprint,
                       "definition": definition, "created": time.time()}
            write_atomically(manifest, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=1)))
        self.records.mkdir(parents=True, exist_ok=True)
        for leftover in self.records.glob(".tmp-*"):  # a write killed midway
            leftover.unlink(missing_ok=True)

    def definition(self) -> dict:
        manifest = self.path / _MANIFEST
        if not manifest.exists():
            raise ValueError(f"`store`: {self.path} is not a sweep store (no {_MANIFEST})")
        return json.loads(manifest.read_text())

    # -- records --
    def record_path(self, item: WorkItem) -> Path:
        return self.records / f"{item.record}.parquet"

    def is_valid(self, item: WorkItem) -> bool:
        """True when the record exists, is complete and belongs to this item."""
        path = self.record_path(item)
        if not path.exists():
            return False
        meta = self._metadata(path)
        return meta is not None and meta.get("record") == item.record and meta.get("seed") == item.seed

    @staticmethod
    def _metadata(path: Path) -> dict | None:
        import pyarrow.parquet as pq

        try:
            raw = pq.read_metadata(path).metadata or {}
            return json.loads(raw[_RECORD_META_KEY])
        except Exception:  # truncated, corrupt, or foreign file
            return None

    def write(self, item: WorkItem, frame: pd.DataFrame, provenance: dict) -> None:
        """Write one record atomically with its provenance in the Parquet metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_RECORD_META_KEY] = json.dumps(
            {"record": item.record, "point": canonical(item.point), "replicate": item.replicate,
             "seed": item.seed, **provenance}).encode()
        table = table.replace_schema_metadata(meta)
        write_atomically(self.record_path(item), lambda tmp: pq.write_table(table, tmp))

    def provenance(self) -> pd.DataFrame:
        """One row per record: record, replicate, seed, version, git, host, wall_s, n_threads."""
        rows = []
        for path in sorted(self.records.glob("[!.]*.parquet")):
            meta = self._metadata(path)
            if meta is not None:
                rows.append({k: v for k, v in meta.items() if k != "point"})
        return pd.DataFrame(rows)


def _describe_difference(old: dict, new: dict) -> str:
    parts = [name for name in ("function", "axes", "points", "seeds", "rng")
             if old.get(name) != new.get(name)]
    return "differs in " + ", ".join(parts) if parts else "different definition"


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------


_PROVENANCE_CACHE: dict = {}


def _static_provenance() -> dict:
    if not _PROVENANCE_CACHE:
        from scalinglab import __version__

        revision = None
        try:
            here = Path(__file__).resolve().parent
            revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                      text=True, timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            revision = None
        _PROVENANCE_CACHE.update(version=__version__, git=revision, host=socket.gethostname())
    return dict(_PROVENANCE_CACHE)


def execute(target: str, item: WorkItem, n_threads: int):
    """Run one unit of work (in a worker): returns (frame, provenance)."""
    function, _ = resolve_function(target)
    start = time.perf_counter()
    frame = function(dict(item.point), item.seed, n_threads)
    wall = time.perf_counter() - start
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"sweep function {target} returned {type(frame).__name__}, expected a DataFrame")
    frame = frame.reset_index(drop=True)
    return frame, {**_static_provenance(), "wall_s": wall, "n_threads": int(n_threads),
                   "pid": os.getpid()}


@dataclass
class RunSummary:
    """What :func:`run` did: records computed now, skipped as already valid, and redone as corrupt."""

    computed: int
    skipped: int
    corrupt: int
    store: Path
    wall_s: float


_IN_PROCESS_LIMIT = 4  # at most this many pending tasks run in-process when client is None


def run(sweep: Sweep, store, *, client=None, workers: int | None = None,
        n_threads: int | None = None, resume: bool = True, progress=None) -> RunSummary:
    """Run (or resume) ``sweep`` into ``store``.

    Parameters
    ----------
    sweep : Sweep
    store : str or path or Store
        The result directory (created if missing).
    client : None, distributed.Client or concurrent.futures.Executor
        None: an embedded LocalCluster of ``workers`` processes (default: one per core) with
        ``n_threads`` per task (default: cores // workers), or in-process for tiny sweeps; a
        Client or Executor is used as given (``n_threads`` per task defaults to 1 there).
    workers : int, optional
        Worker processes of the embedded cluster.
    n_threads : int, optional
        Threads each task passes to the core.
    resume : bool
        Continue a store made by the same sweep (default). False refuses an existing store.
    progress : None, bool
        A progress bar over the records (None: automatic on long sweeps).

    Returns
    -------
    RunSummary

    Raises
    ------
    StoreMismatchError
        The store holds a different sweep.
    KeyboardInterrupt
        On Ctrl-C, after cancelling pending work; finished records are kept.
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"`sweep`: expected a Sweep, got {type(sweep).__name__}")
    store = store if isinstance(store, Store) else Store(store)
    store.attach(sweep, resume=resume)
    _, target = resolve_function(sweep.function)
    items = sweep.work()
    started = time.perf_counter()
    pending, corrupt = [], 0
    for item in items:
        if store.is_valid(item):
            continue
        if store.record_path(item).exists():
            corrupt += 1
            store.record_path(item).unlink()
        pending.append(item)
    skipped = len(items) - len(pending)
    cores = os.cpu_count() or 1
    if workers is not None:
        workers = positive_int(workers, "workers")
    if n_threads is not None:
        n_threads = positive_int(n_threads, "n_threads", minimum=0)

    reporter = progress_reporter(progress, len(pending), desc=sweep.name, long=len(pending) >= 20,
                                 unit="record")
    done = 0

    def finished(item, result):
        nonlocal done
        frame, provenance = result
        store.write(item, frame, provenance)
        done += 1
        reporter.advance(1)

    try:
        if not pending:
            pass
        elif client is None and (len(pending) <= _IN_PROCESS_LIMIT or (workers or cores) == 1):
            threads = 0 if n_threads is None else n_threads
            for item in pending:
                finished(item, execute(target, item, threads))
        elif client is None:
            from distributed import Client, LocalCluster

            n_workers = min(workers or cores, len(pending))
            threads = n_threads if n_threads is not None else max(1, cores // n_workers)
            with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=40) as cluster, \
                    Client(cluster) as own_client:
                _run_on_dask(own_client, target, pending, threads, finished)
        elif _is_dask_client(client):
            _run_on_dask(client, target, pending, 1 if n_threads is None else n_threads, finished)
        elif isinstance(client, Executor):
            _run_on_executor(client, target, pending, 1 if n_threads is None else n_threads,
                             finished)
        else:
            raise TypeError(
                f"`client`: expected None, a distributed.Client or a concurrent.futures.Executor, "
                f"got {type(client).__name__}"
            )
    finally:
        reporter.close()
    return RunSummary(done, skipped, corrupt, store.path, time.perf_counter() - started)


def _is_dask_client(client) -> bool:
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(client, Client)


def _run_on_dask(client, target, pending, threads, finished):
    from distributed import as_completed

    futures = {}
    for item in pending:
        future = client.submit(execute, target, item, threads, pure=False,
                               key=f"scalinglab-{item.record}-{time.time_ns()}")
        futures[future] = item
    try:
        for future in as_completed(futures):
            finished(futures[future], future.result())
    except BaseException:
        client.cancel(list(futures))
        raise


def _run_on_executor(executor, target, pending, threads, finished):
    from concurrent.futures import as_completed

    futures = {executor.submit(execute, target, item, threads): item for item in pending}
    try:
        for future in as_completed(futures):
            finished(futures[future], future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        raise


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


def load(store, *, complete: bool = False) -> pd.DataFrame:
    """All records of a store as one DataFrame, in grid order then seed order.

    Each record's rows get the point's grid-axis values as columns and ``seed`` = the replicate
    index. Axis values that are not scalars are given as their canonical JSON text.

    Parameters
    ----------
    store : path or Store
    complete : bool
        Raise ValueError if any (point, seed) record is missing or corrupt.
    """
    import pyarrow.parquet as pq

    store = store if isinstance(store, Store) else Store(store)
    manifest = store.definition()
    definition = manifest["definition"]
    axes = definition["axes"]
    frames, missing = [], 0
    for index, point in enumerate(definition["points"]):
        key = hashlib.sha256(json.dumps(point, sort_keys=True, separators=(",", ":")).encode()
                             ).hexdigest()[:16]
        for replicate in range(definition["seeds"]):
            path = store.records / f"{key}-s{replicate}.parquet"
            meta = Store._metadata(path) if path.exists() else None
            if meta is None:
                missing += 1
                continue
            frame = pq.read_table(path).to_pandas()
            frame["seed"] = replicate
            for axis in axes:
                frame[axis] = _plain(point[axis])
            frames.append(frame)
    if complete and missing:
        raise ValueError(f"`store`: {missing} records are missing or corrupt; run the sweep again")
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    front = [c for c in axes if c in table.columns] + ["seed"]
    return table[front + [c for c in table.columns if c not in front]]


def _plain(value):
    """Undo :func:`canonical` for a scalar axis value (floats exactly)."""
    if isinstance(value, dict) and set(value) == {"__float__"}:
        return float(value["__float__"])
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def to_xarray(store, **kwargs):
    """The store as an :class:`xarray.Dataset` (see :func:`scalinglab.results.to_xarray`)."""
    from scalinglab.results import to_xarray as frame_to_xarray

    return frame_to_xarray(load(store), **kwargs)


# ---------------------------------------------------------------------------------------------
# Built-in sweep functions (registered names)
# ---------------------------------------------------------------------------------------------


def _times_from(point):
    t = point.get("t")
    if isinstance(t, Mapping):  # {"logspace": [lo, hi, n]} or {"linspace": [...]} in TOML
        (kind, args), = t.items()
        if kind not in ("logspace", "linspace", "geomspace"):
            raise ValueError(f"`t`: expected logspace/linspace/geomspace, got {kind!r}")
        return getattr(np, kind)(*args)
    if t is None:
        raise ValueError("`t`: the point needs times t")
    return np.asarray(t, dtype=np.float64)


def _power_law_task(point):
    from scalinglab.tasks import PowerLawTask

    for name in ("a", "b", "M"):
        if name not in point:
            raise ValueError(f"`{name}`: the point needs the power-law task parameter {name!r}")
    return PowerLawTask(point["a"], point["b"], int(point["M"]), point.get("noise", 0.0))


def _size(value):
    return np.inf if value in ("inf", float("inf")) else value


def learning_curve_task(point: Mapping, seed: int, n_threads: int) -> pd.DataFrame:
    """Sweep function: one seed of :func:`scalinglab.learning_curve` on a power-law task.

    Point keys: ``a``, ``b``, ``M``, ``noise`` (task); ``N``, ``P`` (ints or "inf"); ``t``
    (a list, or ``{"logspace": [lo, hi, n]}``); optional ``method``, ``learning_rate``,
    ``batch_size``, ``ensemble``, ``wishart``.
    """
    from scalinglab.dynamics import learning_curve

    options = {k: point[k] for k in ("method", "learning_rate", "batch_size", "ensemble",
                                     "wishart") if k in point}
    frame = learning_curve(_power_law_task(point), _size(point["N"]), _size(point["P"]),
                           _times_from(point), seeds=1, rng=seed, n_threads=n_threads,
                           progress=False, **options)
    return frame


def learning_curve_theory_task(point: Mapping, seed: int, n_threads: int) -> pd.DataFrame:
    """Sweep function: :func:`scalinglab.learning_curve_theory` (the seed is unused)."""
    from scalinglab.theory import learning_curve_theory

    options = {k: point[k] for k in ("method", "learning_rate", "truncation") if k in point}
    options.setdefault("truncation", "ignore")
    return learning_curve_theory(_power_law_task(point), _size(point["N"]), _size(point["P"]),
                                 _times_from(point), n_threads=n_threads, **options)


def null_task(point: Mapping, seed: int, n_threads: int) -> pd.DataFrame:
    """Sweep function that does no work: one row with a number drawn from the seed.

    Measures the runner's own overhead (scheduling, transfer, record writes) in bench_sweep.py
    and makes resume tests cheap.
    """
    value = np.random.default_rng(seed).random()
    return pd.DataFrame({"test_loss": [value], "n_threads_seen": [int(n_threads)]})


# ---------------------------------------------------------------------------------------------
# TOML specs
# ---------------------------------------------------------------------------------------------

_SPEC_SECTIONS = {"sweep", "fixed", "grid", "zip"}


def sweep_from_spec(spec: Mapping) -> Sweep:
    """A :class:`Sweep` from a parsed TOML spec (see :func:`load_spec` for the format)."""
    if not isinstance(spec, Mapping):
        raise TypeError("spec: expected a table")
    unknown = set(spec) - _SPEC_SECTIONS
    if unknown:
        raise ValueError(f"spec: unknown section(s) {sorted(unknown)}; expected {sorted(_SPEC_SECTIONS)}")
    head = spec.get("sweep")
    if not isinstance(head, Mapping):
        raise ValueError("spec: missing the [sweep] section")
    allowed = {"function", "seeds", "rng", "name"}
    extra = set(head) - allowed
    if extra:
        raise ValueError(f"[sweep]: unknown field(s) {sorted(extra)}; expected {sorted(allowed)}")
    if "function" not in head:
        raise ValueError("[sweep].function: required (a registered name or 'module:function')")
    grid = None
    for section, build in (("grid", Grid.product), ("zip", Grid.zip)):
        axes = spec.get(section)
        if axes is None:
            continue
        if not isinstance(axes, Mapping) or not axes:
            raise ValueError(f"[{section}]: expected named axes (name = [values])")
        for name, values in axes.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"[{section}].{name}: expected a non-empty list of values")
        part = build(**axes)
        grid = part if grid is None else grid * part
    if grid is None:
        raise ValueError("spec: needs a [grid] (product) or [zip] section")
    fixed = spec.get("fixed", {})
    if not isinstance(fixed, Mapping):
        raise ValueError("[fixed]: expected a table of parameters")
    try:
        return Sweep(head["function"], grid, seeds=head.get("seeds", 1), rng=head.get("rng", 0),
                     fixed=dict(fixed), name=head.get("name", "sweep"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"[sweep]: {error}") from None


def load_spec(path) -> Sweep:
    """Read a sweep spec from a TOML file.

    Format::

        [sweep]
        function = "learning_curve"   # registered name or "module:function"
        seeds = 8                      # replicates per point
        rng = 0                        # root seed
        name = "bap-model-size"

        [fixed]                        # parameters of every point
        a = 2.0
        b = 1.5
        M = 1500
        P = "inf"
        t = { logspace = [0, 4, 41] }

        [grid]                         # product of these axes
        N = [25, 50, 100, 200]

        [zip]                          # optional: axes advanced together (product with [grid])
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            spec = tomllib.load(handle)
    except OSError as error:
        raise ValueError(f"`spec`: cannot read {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"`spec`: {path} is not valid TOML: {error}") from None
    return sweep_from_spec(spec)


__all__ = ["Grid", "REGISTRY", "RunSummary", "Store", "StoreMismatchError", "Sweep", "WorkItem",
           "canonical", "derive_seed", "execute", "learning_curve_task",
           "learning_curve_theory_task", "load", "load_spec", "null_task", "point_key", "register",
           "resolve_function", "run", "sweep_from_spec", "to_xarray"]

