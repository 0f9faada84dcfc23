"""``scalinglab reproduce``: a gallery of the source papers' headline results.

Each entry (one module here) reproduces one claim on the sweep runner
(:mod:`scalinglab.sweep`, so an interrupted gallery resumes) and writes into ``OUT/<name>/``:
``figure.png`` (simulation against theory where there is theory), ``data.csv`` and
``provenance.json`` (claim, measured numbers, package version, git revision, host, sweep
fingerprints). :func:`reproduce` also writes ``OUT/index.md`` and ``OUT/index.html``: every
figure with its one-line claim and the numbers measured in that run.

``quick=True`` uses small sizes (the whole gallery in a few minutes on 2 cores, used by the
tests); ``quick=False`` uses paper-scale sizes.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from scalinglab._io import write_atomically
from scalinglab.gallery import (
    bahri_regimes,
    bap_bottlenecks,
    bap_convergence,
    bap_ensembles,
    bap_frontier,
    bap_time,
    bap_train_test_gap,
    digits,
    mrs_duality,
    mrs_equiparameterization,
    mrs_plateau,
    ppxp_phases,
    resource_model,
    scaling_fit,
)
from scalinglab.gallery._context import Context, Entry, Outcome

#: Every entry, in the order of the index page.
ENTRIES: dict[str, Entry] = {entry.name: entry for entry in (
    bap_time.ENTRY,
    bap_bottlenecks.MODEL,
    bap_bottlenecks.DATA,
    bap_frontier.ENTRY,
    bap_convergence.ENTRY,
    bap_train_test_gap.ENTRY,
    bap_ensembles.ENTRY,
    digits.ENTRY,
    scaling_fit.ENTRY,
    bahri_regimes.ENTRY,
    ppxp_phases.ENTRY,
    mrs_plateau.ENTRY,
    mrs_duality.ENTRY,
    mrs_equiparameterization.ENTRY,
    resource_model.ENTRY,
)}


def reproduce(names=None, *, out="scalinglab-gallery", quick: bool = False, client=None,
              workers: int | None = None, progress=None, log=None) -> dict[str, Outcome]:
    """Run gallery entries and write their files and the index pages.

    Parameters
    ----------
    names : sequence of str, optional
        Entry names (default: all, see :data:`ENTRIES`).
    out : str or path
        Output folder.
    quick : bool
        Small sizes (minutes for the whole gallery) instead of paper scale.
    client : None, distributed.Client or concurrent.futures.Executor
        Passed to :func:`scalinglab.sweep.run` (None: embedded cluster or in-process).
    workers : int, optional
        Worker processes of the embedded cluster.
    progress : None or bool
        Progress bars of the sweeps.
    log : callable, optional
        Called with one line per finished entry (the CLI prints them).

    Returns
    -------
    dict
        name -> :class:`Outcome` (numbers, summary, file paths, wall time).
    """
    if names is None or len(names) == 0:
        names = list(ENTRIES)
    unknown = [name for name in names if name not in ENTRIES]
    if unknown:
        raise ValueError(f"`names`: unknown entries {unknown}; available: {list(ENTRIES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = Context(out, quick=quick, client=client, workers=workers, progress=progress)
    outcomes = {}
    for name in names:
        start = time.perf_counter()
        outcome = ENTRIES[name].run(context)
        outcome.wall_s = time.perf_counter() - start
        outcomes[name] = outcome
        if log is not None:
            log(f"{name}: {outcome.summary} [{outcome.wall_s:.1f} s]")
    write_index(out, outcomes, quick=quick)
    return outcomes


def write_index(out: Path, outcomes: dict[str, Outcome], *, quick: bool) -> None:
    """``index.md`` and a static ``index.html`` with every figure, claim and measured numbers."""
    mode = "quick" if quick else "full"
    lines = [f"# scalinglab gallery ({mode} mode)", ""]
    cards = []
    for name, outcome in outcomes.items():
        entry = ENTRIES[name]
        figure = f"{name}/figure.png" if outcome.figure is not None else None
        lines += [f"## {entry.title} (`{name}`)", "", f"**Claim.** {entry.claim}", "",
                  f"**Measured.** {outcome.summary}", "", f"*Source:* {entry.source}", ""]
        if figure:
            lines += [f"![{entry.title}]({figure})", ""]
        lines += [f"Data: `{name}/data.csv`; provenance: `{name}/provenance.json`; "
                  f"{outcome.wall_s:.1f} s.", ""]
        image = f'<img src="{html.escape(figure)}" alt="{html.escape(entry.title)}">' if figure else ""
        cards.append(
            f"<section><h2>{html.escape(entry.title)} <code>{html.escape(name)}</code></h2>"
            f"<p><b>Claim.</b> {html.escape(entry.claim)}</p>"
            f"<p><b>Measured.</b> {html.escape(outcome.summary)}</p>"
            f"<p><i>Source:</i> {html.escape(entry.source)}</p>{image}"
            f'<p><a href="{html.escape(name)}/data.csv">data</a> · '
            f'<a href="{html.escape(name)}/provenance.json">provenance</a></p></section>')
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>scalinglab gallery</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto}img{max-width:100%}"
            "section{border-top:1px solid #ccc;padding:1em 0}</style></head><body>"
            f"<h1>scalinglab gallery ({mode} mode)</h1>{''.join(cards)}</body></html>")
    write_atomically(out / "index.md", lambda tmp: Path(tmp).write_text("\n".join(lines)))
    write_atomically(out / "index.html", lambda tmp: Path(tmp).write_text(page))


__all__ = ["ENTRIES", "Context", "Entry", "Outcome", "reproduce", "write_index"]
