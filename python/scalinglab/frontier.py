"""Compute-optimal frontiers and their exponents: one implementation for every model.

Given losses measured or predicted at several model sizes and computes, the compute-optimal
frontier is L*(C) = min over size of L(size, C). :func:`~scalinglab.frontier.compute_optimal_frontier` computes it
from any long table of (size, compute, loss) rows, and :func:`~scalinglab.frontier.fit_frontier_exponents` fits its
power laws L* ~ C^loss, size* ~ C^size. The DMFT theory
(:func:`scalinglab.theory.compute_optimal_frontier_theory`), the one-pass SGD theory
(:func:`scalinglab.sgd_scaling.sgd_compute_optimal_frontier`), empirical scaling-law fits and
regime analyses all call these two functions.

Algorithm (Hoffmann et al. 2022's IsoFLOP idea on a grid, arXiv 2203.15556): for each size, log L
is interpolated linearly in log C between that size's own points (never extrapolated); at each
requested compute the grid minimum over sizes is found, and when it has finite neighbours on both
sides ("interior") it is refined by the vertex of the parabola through the three points in
(log size, log L). With the middle point the lowest of the three, a convex parabola's vertex
always lies between the outer two, so the refinement never leaves the bracket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab._validation import check_memory, real_number
from scalinglab.fit import least_squares_line


@dataclass(frozen=True)
class ComputeOptimalExponents:
    """Compute-optimal scaling L* ~ C^loss, N* ~ C^N, t* ~ C^t.

    Closed forms come from the theories (:func:`scalinglab.theory.compute_optimal`,
    :func:`scalinglab.sgd_scaling.sgd_compute_optimal`); fitted ones from
    :func:`~scalinglab.frontier.fit_frontier_exponents`.

    Attributes
    ----------
    loss : float
        Signed exponent of C for the optimal loss (< 0 when the loss falls).
    N : float
        Exponent of C for the optimal model size (PPXP's d).
    t : float
        Exponent of C for the optimal training time or step count (``N + t = 1`` when
        compute = N t, as in both theories).
    regime : str
        Which closed form applies ("hard", "easy", "boundary" for BAP; the phase name "Ia",
        "II", ... for PPXP), or "fit" for fitted slopes.
    n_points : int or None
        Frontier points used by a fit (None for closed forms).
    """

    loss: float
    N: float
    t: float
    regime: str
    n_points: int | None = None


def _column(table: pd.DataFrame, name: str, role: str) -> np.ndarray:
    if name not in table.columns:
        raise ValueError(f"`{role}`: column {name!r} is not in the table {list(table.columns)}")
    values = np.asarray(table[name], dtype=np.float64)
    return values


def compute_optimal_frontier(table: pd.DataFrame, *, size: str = "N", compute: str = "compute",
                             loss: str = "test_loss", computes=None,
                             points_per_decade: float = 8.0) -> pd.DataFrame:
    """The compute-optimal frontier L*(C) = min over size of L(size, C) from a long table.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (size, compute) with the loss there, e.g. a learning curve with a
        ``compute`` column. Rows with non-finite or non-positive loss are ignored; every size
        is interpolated between its own computes (a size with one row counts only at that
        compute), and a size may not have two rows at one compute.
    size, compute, loss : str
        Column names of the model size, the compute and the loss.
    computes : array_like of float, optional
        Compute values at which to evaluate the frontier. Default: ``points_per_decade`` per
        decade over the table's compute range.
    points_per_decade : float
        Density of the default compute grid.

    Returns
    -------
    pandas.DataFrame
        One row per compute value reached by at least one size: ``compute``, ``<size>`` (the
        refined optimal size), ``<loss>`` (L*), ``<size>_grid`` and ``<loss>_grid`` (the grid
        minimum before refinement) and ``interior`` (True when the optimum has finite grid
        neighbours on both sides; only interior rows are trustworthy).
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"`table`: expected a pandas DataFrame, got {type(table).__name__}")
    sizes_all = _column(table, size, "size")
    computes_all = _column(table, compute, "compute")
    losses_all = _column(table, loss, "loss")
    keep = (np.isfinite(sizes_all) & (sizes_all > 0) & np.isfinite(computes_all)
            & (computes_all > 0) & np.isfinite(losses_all) & (losses_all > 0))
    sizes = np.unique(sizes_all[keep])
    if sizes.size < 3:
        raise ValueError(f"`table`: need >= 3 distinct finite sizes with positive losses, got {sizes.size}")
    curves = []
    for value in sizes:
        rows = keep & (sizes_all == value)
        c, ell = computes_all[rows], losses_all[rows]
        order = np.argsort(c, kind="stable")
        log_c, log_l = np.log(c[order]), np.log(ell[order])
        if np.unique(log_c).size != log_c.size:
            raise ValueError(f"`table`: size {value:g} has two rows at the same compute")
        curves.append((log_c, log_l))
    if computes is None:
        points_per_decade = real_number(points_per_decade, "points_per_decade", minimum=0.0,
                                        strict=True)
        lo = np.log10(computes_all[keep].min())
        hi = np.log10(computes_all[keep].max())
        count = math.ceil(points_per_decade * (hi - lo)) + 1 if hi > lo else 1
        check_memory(8.0 * 8.0 * count, "the frontier's compute grid", "points_per_decade")
        computes = np.logspace(lo, hi, count)
    targets = np.atleast_1d(np.asarray(computes, dtype=np.float64))
    if targets.ndim != 1 or not np.isfinite(targets).all() or (targets <= 0).any():
        raise ValueError("`computes`: expected finite compute values > 0")

    log_size = np.log(sizes)
    rows = []
    for target in targets:
        log_target = np.log(target)
        values = np.full(sizes.size, np.inf)
        for i, (log_c, log_l) in enumerate(curves):
            if log_c[0] <= log_target <= log_c[-1]:
                values[i] = np.interp(log_target, log_c, log_l)
        if not np.isfinite(values).any():
            continue
        i = int(np.argmin(values))
        interior = bool(0 < i < sizes.size - 1 and np.isfinite(values[i - 1])
                        and np.isfinite(values[i + 1]))
        best_log_size, best_log_loss = log_size[i], values[i]
        if interior:
            x, y = log_size[i - 1:i + 2], values[i - 1:i + 2]
            curvature = np.polyfit(x, y, 2)
            if curvature[0] > 0:
                vertex = -curvature[1] / (2 * curvature[0])
                if x[0] <= vertex <= x[2]:
                    best_log_size, best_log_loss = vertex, np.polyval(curvature, vertex)
        rows.append({"compute": float(target), size: float(np.exp(best_log_size)),
                     loss: float(np.exp(best_log_loss)), f"{size}_grid": float(sizes[i]),
                     f"{loss}_grid": float(np.exp(values[i])), "interior": interior})
    columns = ["compute", size, loss, f"{size}_grid", f"{loss}_grid", "interior"]
    return pd.DataFrame(rows, columns=columns)


def fit_frontier_exponents(frontier: pd.DataFrame, *, size: str = "N", loss: str = "test_loss",
                           compute: str = "compute", compute_range=None,
                           min_points: int = 3) -> ComputeOptimalExponents:
    """Least-squares slopes of log L* and log size* against log C on a frontier.

    Parameters
    ----------
    frontier : pandas.DataFrame
        The output of :func:`~scalinglab.frontier.compute_optimal_frontier`; only ``interior`` rows are used.
    size, loss, compute : str
        Column names.
    compute_range : (float, float), optional
        Fit only rows with compute_range[0] <= C <= compute_range[1] (inclusive).
    min_points : int
        Fewest interior rows accepted.

    Returns
    -------
    ComputeOptimalExponents
        ``loss`` and ``N`` the fitted slopes, ``t = 1 - N`` (compute = size x time), regime
        ``"fit"`` and the number of points used.
    """
    if not isinstance(frontier, pd.DataFrame):
        raise TypeError(f"`frontier`: expected a pandas DataFrame, got {type(frontier).__name__}")
    for name in ("interior", size, loss, compute):
        if name not in frontier.columns:
            raise ValueError(f"`frontier`: missing column {name!r}")
    rows = frontier[frontier["interior"].astype(bool)]
    if compute_range is not None:
        lo, hi = compute_range
        if not lo <= hi:
            raise ValueError(f"`compute_range`: expected (low, high) with low <= high, got {compute_range}")
        rows = rows[(rows[compute] >= lo) & (rows[compute] <= hi)]
    if len(rows) < min_points:
        raise ValueError(
            f"`frontier`: need >= {min_points} interior rows in the compute range, got {len(rows)}"
        )
    log_c = np.log(rows[compute].to_numpy(dtype=np.float64))
    loss_slope = least_squares_line(log_c, np.log(rows[loss].to_numpy(dtype=np.float64)))[0]
    size_slope = least_squares_line(log_c, np.log(rows[size].to_numpy(dtype=np.float64)))[0]
    return ComputeOptimalExponents(loss_slope, size_slope, 1.0 - size_slope, "fit", int(len(rows)))
