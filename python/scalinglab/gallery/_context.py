"""What every gallery entry shares: a sweep runner, a place to write, provenance, an outcome."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scalinglab import sweep as sweeps
from scalinglab._io import write_atomically


@dataclass(frozen=True)
class Entry:
    """A headline result of a source paper, reproducible by one function.

    Attributes
    ----------
    name : str
        The command-line name (``scalinglab reproduce NAME``).
    title : str
        A short title.
    claim : str
        The paper's claim in one line (what the figure shows).
    source : str
        Paper (authors, year, arXiv id) and the figure or section reproduced.
    run : callable
        ``run(context) -> Outcome``.
    """

    name: str
    title: str
    claim: str
    source: str
    run: object


@dataclass
class Outcome:
    """What an entry measured: named numbers and a one-line summary of them."""

    numbers: dict
    summary: str
    figure: Path | None = None
    data: Path | None = None
    provenance: Path | None = None
    wall_s: float = 0.0

    def check_finite(self) -> None:
        bad = {k: v for k, v in self.numbers.items() if not math.isfinite(float(v))}
        if bad:
            raise ValueError(f"non-finite measured numbers: {bad}")


@dataclass
class Context:
    """Run-time settings of one gallery run, shared by its entries.

    ``sweep`` runs an entry's work through :func:`scalinglab.sweep.run` into a store under the
    entry's folder, so an interrupted gallery resumes where it stopped.
    """

    out: Path
    quick: bool = True
    client: object = None
    workers: int | None = None
    progress: object = None
    _sweeps: list = field(default_factory=list)

    def folder(self, entry: Entry) -> Path:
        path = Path(self.out) / entry.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sweep(self, entry: Entry, label: str, function, grid: sweeps.Grid, *, seeds: int = 1,
              rng: int = 0, fixed: dict | None = None) -> pd.DataFrame:
        """Run one sweep of ``entry`` (resumable) and return its table."""
        definition = sweeps.Sweep(function, grid, seeds=seeds, rng=rng, fixed=fixed or {},
                                  name=f"{entry.name}:{label}")
        mode = "quick" if self.quick else "full"
        store = self.folder(entry) / f"store-{label}-{mode}"
        summary = sweeps.run(definition, store, client=self.client, workers=self.workers,
                             progress=self.progress)
        self._sweeps.append({"label": label, "store": str(store.name),
                             "fingerprint": definition.fingerprint(),
                             "records_computed": summary.computed,
                             "records_reused": summary.skipped})
        return sweeps.load(store, complete=True)

    def write_outputs(self, entry: Entry, outcome: Outcome, table: pd.DataFrame, figure) -> Outcome:
        """Write ``data.csv``, ``figure.png`` (if matplotlib is there) and ``provenance.json``."""
        folder = self.folder(entry)
        outcome.check_finite()
        data = folder / "data.csv"
        write_atomically(data, lambda tmp: table.to_csv(tmp, index=False))
        outcome.data = data
        if figure is not None:
            path = folder / "figure.png"
            write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, format="png"))
            outcome.figure = path
        from scalinglab.sweep import _static_provenance

        provenance = {"entry": entry.name, "title": entry.title, "claim": entry.claim,
                      "source": entry.source, "mode": "quick" if self.quick else "full",
                      "numbers": {k: float(v) for k, v in outcome.numbers.items()},
                      "summary": outcome.summary, "sweeps": list(self._sweeps),
                      "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **_static_provenance()}
        path = folder / "provenance.json"
        write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(provenance, indent=1)))
        outcome.provenance = path
        self._sweeps.clear()
        return outcome


def new_figure(n_panels: int = 1, width: float = 4.6, height: float = 3.6):
    """A matplotlib Figure (not pyplot: no global state) with ``n_panels`` axes, or None."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None, None
    figure = Figure(figsize=(width * n_panels, height), layout="constrained")
    axes = figure.subplots(1, n_panels, squeeze=False)[0]
    return figure, list(axes)
