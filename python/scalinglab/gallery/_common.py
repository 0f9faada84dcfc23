"""Small helpers the BAP entries share: seed means, slopes, sim-vs-theory agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd


def seed_mean(table: pd.DataFrame, by, value: str = "test_loss") -> pd.DataFrame:
    """Mean and standard error over seeds of ``value``, grouped by the columns ``by``."""
    grouped = table.groupby(list(by))[value]
    out = grouped.agg(["mean", "sem", "count"]).reset_index()
    out["sem"] = out["sem"].fillna(0.0)
    return out


def log_slope(x, y) -> float:
    """Least-squares slope of log y against log x (positive finite values only)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def largest_z(mean, sem, theory) -> float:
    """max |sim - theory| / SE over points with a positive SE."""
    mean, sem, theory = (np.asarray(v, dtype=float) for v in (mean, sem, theory))
    keep = sem > 0
    return float(np.max(np.abs(mean[keep] - theory[keep]) / sem[keep])) if keep.any() else 0.0


def power_law_task(point):
    from scalinglab.tasks import PowerLawTask

    return PowerLawTask(point["a"], point["b"], int(point["M"]), point.get("noise", 0.0))


def size(value):
    return np.inf if value in ("inf", float("inf")) else value
