"""Matplotlib figures of scaling curves, spectra and ridge paths.

matplotlib is optional (``pip install scalinglab[plot]``) and imported only inside these
functions. Every function draws on ``ax`` (default: the current Axes of pyplot) and returns it;
none calls ``show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_fitter_calibration", "plot_ridge_path", "plot_scaling_curve",
           "plot_scaling_law_fit", "plot_spectrum"]


def _axes(ax):
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "scalinglab.plot needs matplotlib: pip install 'scalinglab[plot]'"
        ) from error
    return plt.gca()


def _curve_arrays(x, y):
    """x, y as equal-length finite 1-D float arrays (validated before any figure is made)."""
    from scalinglab._validation import as_vector

    x = as_vector(x, "x")
    y = as_vector(y, "y", length=x.size)
    return x, y


def _table(table, columns, name: str = "table"):
    """A DataFrame that has ``columns`` (validated before any figure is made)."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"`{name}`: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"`{name}`: missing column(s) {', '.join(map(repr, missing))}; got columns "
            f"{list(table.columns)}"
        )
    if len(table) == 0:
        raise ValueError(f"`{name}`: has no rows")
    return table


def plot_scaling_curve(x, y, *, fit=None, subtract_offset: bool = False, ax=None, label=None,
                       xlabel: str = "N", ylabel: str = "test error", **style):
    """Log-log plot of a measured curve y(x) and, optionally, its power-law fit.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Resource values and measurements (y > 0 where plotted).
    fit : scalinglab.fit.PowerLawFit, optional
        Drawn as a dashed curve over the range of x, labelled with alpha +- its error.
    subtract_offset : bool
        Plot ``y - E`` (and the fit without its offset), where the power law is a straight line
        of slope -alpha. Points with ``y <= E`` are left out.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label of the data.
    xlabel, ylabel : str
    **style
        Passed to ``ax.plot`` for the data markers.

    Returns
    -------
    matplotlib Axes
    """
    x, y = _curve_arrays(x, y)
    if fit is not None and not all(hasattr(fit, a) for a in ("exponent", "offset", "with_offset")):
        raise TypeError(f"`fit`: expected a scalinglab.fit.PowerLawFit, got {type(fit).__name__}")
    ax = _axes(ax)
    offset = fit.offset if (fit is not None and subtract_offset) else 0.0
    shown = y - offset
    keep = shown > 0
    style = {"marker": "o", "linestyle": "none", **style}
    (points,) = ax.plot(x[keep], shown[keep], label=label, **style)
    if fit is not None:
        grid = np.geomspace(x.min(), x.max(), 200)
        curve = fit(grid) - offset
        text = f"fit: $\\alpha$ = {fit.exponent:.3f} $\\pm$ {fit.exponent_stderr:.3f}"
        if fit.with_offset and not subtract_offset:
            text += f", E = {fit.offset:.3g}"
        ax.plot(grid, curve, linestyle="--", color=points.get_color(), label=text)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} - E" if offset else ylabel)
    if label is not None or fit is not None:
        ax.legend()
    return ax


def plot_spectrum(eigenvalues, *, fit=None, ax=None, label=None, **style):
    """Rank plot lambda_k against k on log-log axes, with an optional exponent fit.

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        Spectrum (sorted descending here; non-positive values are not drawn).
    fit : scalinglab.spectra.SpectrumExponent, optional
        Drawn as a dashed line over its rank window.
    ax : matplotlib Axes, optional
    label : str, optional

    Returns
    -------
    matplotlib Axes
    """
    from scalinglab._validation import as_vector

    values = np.sort(as_vector(eigenvalues, "eigenvalues"))[::-1]
    if fit is not None and not all(hasattr(fit, a) for a in ("k_min", "k_max", "prefactor")):
        raise TypeError(
            f"`fit`: expected a scalinglab.spectra.SpectrumExponent, got {type(fit).__name__}"
        )
    ax = _axes(ax)
    rank = np.arange(1, values.size + 1)
    keep = values > 0
    (line,) = ax.plot(rank[keep], values[keep], label=label, **style)
    if fit is not None:
        window = np.geomspace(fit.k_min, fit.k_max, 50)
        ax.plot(window, fit.prefactor * window ** (-fit.exponent), linestyle="--",
                color=line.get_color(),
                label=f"$k^{{-b}}$, b = {fit.exponent:.3f} $\\pm$ {fit.stderr:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rank k")
    ax.set_ylabel("eigenvalue $\\lambda_k$")
    if label is not None or fit is not None:
        ax.legend()
    return ax


def plot_ridge_path(table, *, ax=None):
    """Train and test MSE against the ridge, from :func:`scalinglab.solvers.ridge_path`.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``ridge``, ``train_loss`` and optionally ``test_loss``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    _table(table, ("ridge", "train_loss"))
    ax = _axes(ax)
    ordered = table.sort_values("ridge")
    ax.plot(ordered["ridge"], ordered["train_loss"], marker="o", label="train")
    if "test_loss" in ordered:
        ax.plot(ordered["ridge"], ordered["test_loss"], marker="s", label="test")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ridge")
    ax.set_ylabel("mean squared error")
    ax.legend()
    return ax


# ---- scaling-law fits (scalinglab.scaling_laws) ------------------------------------------------
# Appended section: figures of fitted L(N, D) laws and of the fitters' calibration.


def plot_scaling_law_fit(fit, *, ax=None, n_contours: int = 8, compute_range=None, cmap="viridis"):
    """Data, iso-loss contours of a fitted Chinchilla law and its compute-optimal line in the
    (N, D) plane (log-log).

    Parameters
    ----------
    fit : scalinglab.scaling_laws.ScalingLawFit
        A fit with form "chinchilla" or "kaplan".
    ax : matplotlib Axes, optional
    n_contours : int
        Iso-loss levels, log-spaced over the range of the data's losses.
    compute_range : (float, float), optional
        Budgets of the compute-optimal line (default: the data's C = k N D range).
    cmap : str

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    data = fit.data
    n_lo, n_hi = data["N"].min() / 3, data["N"].max() * 3
    d_lo, d_hi = data["D"].min() / 3, data["D"].max() * 3
    n_grid, d_grid = np.meshgrid(np.geomspace(n_lo, n_hi, 120), np.geomspace(d_lo, d_hi, 120))
    surface = fit.predict(n_grid, d_grid)
    levels = np.geomspace(data["loss"].min(), data["loss"].max(), n_contours)
    contours = ax.contour(n_grid, d_grid, surface, levels=levels, cmap=cmap, linewidths=0.8)
    ax.clabel(contours, fmt="%.3g", fontsize=7)
    points = ax.scatter(data["N"], data["D"], c=data["loss"], cmap=cmap, s=14,
                        norm=_log_norm(levels), edgecolors="none")
    ax.figure.colorbar(points, ax=ax, label="loss")
    if fit.form == "chinchilla":
        compute = fit.compute_factor * data["N"] * data["D"]
        lo, hi = compute_range if compute_range is not None else (compute.min(), compute.max())
        allocation = fit.compute_optimal(np.geomspace(lo, hi, 50))
        table = allocation.table
        ax.plot(table["N_opt"], table["D_opt"], "k-", lw=1.5,
                label=f"compute-optimal: N ~ C^{allocation.a:.3f}")
        if table["N_opt_lower"].notna().all():
            ax.fill_betweenx(table["D_opt"], table["N_opt_lower"], table["N_opt_upper"],
                             color="k", alpha=0.12, lw=0)
        ax.legend(loc="best", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(n_lo, n_hi)
    ax.set_ylim(d_lo, d_hi)
    ax.set_xlabel("N (parameters)")
    ax.set_ylabel("D (tokens)")
    return ax


def _log_norm(levels):
    from matplotlib.colors import LogNorm

    return LogNorm(vmin=float(np.min(levels)), vmax=float(np.max(levels)))


def plot_fitter_calibration(table, *, ax=None):
    """Bias of each estimator (point, with its replicate SD as an error bar) per parameter, from
    :func:`scalinglab.scaling_laws.fitter_calibration`; the coverage is written next to it.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    labels = [f"{row.approach}\n{row.parameter}" for row in table.itertuples()]
    positions = np.arange(len(table))
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.errorbar(positions, table["bias"], yerr=table["sd"], fmt="o", capsize=3)
    for x, row in zip(positions, table.itertuples()):
        ax.annotate(f"cov {row.coverage:.2f}", (x, row.bias), textcoords="offset points",
                    xytext=(6, 6), fontsize=7)
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("estimate - theory exponent")
    return ax
