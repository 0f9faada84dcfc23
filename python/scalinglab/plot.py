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


# ==== MRS latent power-law model (issue 10; scalinglab.latent) ====================================


def plot_latent_learning_curve(simulation, theory, *, vary="P", M=None, ax=None):
    """Simulated loss against N or P with the theory overlaid and the latent plateau marked.

    Parameters
    ----------
    simulation : pandas.DataFrame or None
        From :func:`scalinglab.latent.latent_learning_curve` (one fixed value of the other
        resource and of the ridge); points are seed means with standard-error bars.
    theory : pandas.DataFrame
        From :func:`scalinglab.latent.latent_test_loss` over a fine grid of ``vary``.
    vary : {"N", "P"}
        The resource on the horizontal axis.
    M : int, optional
        Latent dimension: a vertical line where min(N, P) reaches M (plateau / zero loss).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if vary not in ("N", "P"):
        raise ValueError(f"`vary`: expected 'N' or 'P', got {vary!r}")
    ax = _axes(ax)
    curve = theory.sort_values(vary)
    finite = np.isfinite(curve["test_loss"]) & (curve["test_loss"] > 0)
    ax.plot(curve[vary][finite], curve["test_loss"][finite], color="k", label="theory")
    if simulation is not None:
        stats = simulation.groupby(vary)["test_loss"].agg(["mean", "sem"]).reset_index()
        ax.errorbar(stats[vary], stats["mean"], yerr=stats["sem"].fillna(0), marker="o",
                    linestyle="none", label="simulation")
    if M is not None:
        ax.axvline(M, color="gray", linestyle=":", label=f"{vary} = M (plateau)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(vary)
    ax.set_ylabel("test loss")
    ax.legend()
    return ax


def plot_feature_spectrum(spectra, *, M=None, latent=None, ax=None):
    """Rank-ordered spectra of random features against the latent power law.

    Parameters
    ----------
    spectra : dict {label: ndarray}
        Descending eigenvalues, e.g. from :func:`scalinglab.latent.feature_kernel_spectrum`
        and :func:`scalinglab.latent.sampled_feature_spectrum`.
    M : int, optional
        Latent dimension (a vertical line: linear features have rank M).
    latent : ndarray, optional
        The latent spectrum lambda_I / M (the linear-feature kernel's spectrum), dashed.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    for label, values in spectra.items():
        values = np.asarray(values)
        rank = np.arange(1, values.size + 1)
        keep = values > 0
        ax.plot(rank[keep], values[keep], label=label)
    if latent is not None:
        latent = np.asarray(latent)
        ax.plot(np.arange(1, latent.size + 1), latent, "k--", label="latent power law")
    if M is not None:
        ax.axvline(M, color="gray", linestyle=":", label="rank M")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rank k")
    ax.set_ylabel("eigenvalue")
    ax.legend()
    return ax


def plot_equiparameterization(table, frontier=None, *, ax=None):
    """The equiparameterization valley: optimal-ridge loss against N / sqrt(C) at fixed C = N P.

    Parameters
    ----------
    table, frontier : pandas.DataFrame
        From :func:`scalinglab.latent.latent_equiparameterization`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    for compute, group in table.groupby("compute"):
        group = group.sort_values("N")
        ax.plot(group["N"] / np.sqrt(compute), group["test_loss"], marker=".",
                label=f"C = {compute:.3g}")
    if frontier is not None:
        ax.plot(frontier["N"] / np.sqrt(frontier["compute"]), frontier["test_loss"], "k*",
                markersize=10, label="optimum")
    ax.axvline(1.0, color="gray", linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N / sqrt(N P)")
    ax.set_ylabel("test loss at the optimal ridge")
    ax.legend()
    return ax


# ==== end of the MRS latent section ===============================================================


# ---- resource model (scalinglab.resource; SLTG arXiv 2402.05164) ---------------------------
# Appended section: plots of scalinglab.resource.resource_experiment results.

__all__ += ["plot_resource_experiment", "plot_resource_losses", "plot_resource_shares"]


def _geometric_mean(values):
    values = np.asarray(values, dtype=float)
    return float(np.exp(np.mean(np.log(values))))


def plot_resource_losses(experiment, *, ax=None):
    """Loss against width N: each subtask l_i and the composite l (geometric means over seeds,
    seeds as faint points), with the composite power-law fit and the resource-model prediction
    l(N) = sum_i l_i(r_i N) from the subtask laws and the widest size's shares.

    Parameters
    ----------
    experiment : scalinglab.resource.ResourceExperiment
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from scalinglab.resource import COMPOSITE

    ax = _axes(ax)
    table = experiment.table
    last = table[table["t"] == table["t"].max()]
    widths = np.sort(last["N"].unique())
    grid = np.geomspace(widths.min(), widths.max(), 100)
    for label in sorted(last["subtask"].unique(), key=lambda s: (s == COMPOSITE, s)):
        rows = last[last["subtask"] == label]
        name = "composite $\\ell$" if label == COMPOSITE else f"subtask {label}"
        means = [_geometric_mean(rows[rows["N"] == n]["test_loss"]) for n in widths]
        (line,) = ax.plot(widths, means, marker="o", label=name)
        ax.plot(rows["N"], rows["test_loss"], linestyle="none", marker=".", alpha=0.3,
                color=line.get_color())
        if label == COMPOSITE:
            fit = experiment.composite_fit
            ax.plot(grid, fit(grid), linestyle="--", color=line.get_color(),
                    label=f"fit $N^{{-{fit.exponent:.2f}\\pm{fit.exponent_stderr:.2f}}}$")
            ax.plot(grid, experiment.predict(grid), linestyle=":", color="k",
                    label="$\\sum_i \\ell_i(r_i N)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel("test MSE")
    ax.set_title(f"pooled subtask exponent {experiment.pooled_fit.exponent:.2f}")
    ax.legend(fontsize="small")
    return ax


def plot_resource_shares(experiment, *, ax=None, hard: bool = False):
    """Allocation shares r_i = N_i / N against width (soft shares; ``hard=True`` for argmax
    counts), mean over seeds with the seeds' range; flat lines are homogeneous growth.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    column = "share_hard" if hard else "share"
    table = experiment.table
    last = table[(table["t"] == table["t"].max()) & (table["subtask"] >= 0)]
    for label, rows in last.groupby("subtask"):
        summary = rows.groupby("N")[column].agg(["mean", "min", "max"])
        (line,) = ax.plot(summary.index, summary["mean"], marker="o", label=f"subtask {label}")
        ax.fill_between(summary.index, summary["min"], summary["max"], alpha=0.2,
                        color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel(("hard" if hard else "soft") + " share $r_i$")
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    return ax


def plot_resource_experiment(experiment, *, axes=None):
    """Two panels: losses against width (per subtask and composite, with fits) and shares
    against width. ``axes``: two matplotlib Axes (default: a new 1 x 2 figure).

    Returns
    -------
    array of two matplotlib Axes
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(10, 4))
    plot_resource_losses(experiment, ax=axes[0])
    plot_resource_shares(experiment, ax=axes[1])
    return axes


# ---- Bahri regimes (scalinglab.regimes) ---------------------------------------------------------
# Four panels: the variance-limited and resolution-limited curves in N and in P, with their fits
# and predictions (slope -1, or the exponents predicted from the kernel spectrum).

_REGIME_PANELS = (
    ("variance_width", "N", "variance-limited in width (N >> P)"),
    ("variance_data", "P", "variance-limited in data (P >> N)"),
    ("resolution_width", "N", "resolution-limited in width (P = inf)"),
    ("resolution_data", "P", "resolution-limited in data (N = inf)"),
)


def plot_regime_curve(table, regime, *, classification=None, predicted_exponent=None, ax=None):
    """One regime curve: seed means with standard errors, its fit and the predicted slope.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of one regime (``scalinglab.regimes`` tables; column ``regime`` selects them when
        several are present). Variance-limited curves are drawn as L - L_inf when the table has
        ``test_loss_limit``.
    regime : str
        One of ``variance_width``, ``variance_data``, ``resolution_width``, ``resolution_data``.
    classification : scalinglab.regimes.RegimeClassification, optional
        Its fitted exponent and interval are drawn as a dashed line through the data.
    predicted_exponent : float, optional
        Drawn as a dotted line of that slope (1 for the variance-limited regimes by default).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    panels = {name: (resource, title) for name, resource, title in _REGIME_PANELS}
    if regime not in panels:
        raise ValueError(f"`regime`: expected one of {list(panels)}, got {regime!r}")
    resource, title = panels[regime]
    rows = table[table["regime"] == regime] if "regime" in table else table
    if "ridge" in rows and rows["ridge"].nunique() > 1:
        rows = rows[rows["ridge"] == rows["ridge"].min()]
    variance = regime.startswith("variance")
    value = rows["test_loss"] - rows["test_loss_limit"] if (
        variance and "test_loss_limit" in rows) else rows["test_loss"]
    grouped = value.groupby(rows[resource])
    x = grouped.mean().index.to_numpy(dtype=float)
    mean, sem = grouped.mean().to_numpy(), grouped.sem().fillna(0.0).to_numpy()
    keep = mean > 0
    ax.errorbar(x[keep], mean[keep], yerr=sem[keep], fmt="o", ms=4,
                label="L - L$_\\infty$" if variance else "L")
    if classification is not None and np.isfinite(classification.exponent):
        fit = classification.fit
        grid = np.geomspace(x.min(), x.max(), 100)
        curve = fit.prefactor * grid ** (-fit.exponent)
        lo, hi = classification.interval
        ax.plot(grid, curve, "--", label=f"fit $\\alpha$ = {classification.exponent:.2f} "
                                         f"[{lo:.2f}, {hi:.2f}]")
    expected = 1.0 if (variance and predicted_exponent is None) else predicted_exponent
    if expected is not None and keep.any():
        anchor_x, anchor_y = x[keep][0], mean[keep][0]
        grid = np.geomspace(x.min(), x.max(), 100)
        ax.plot(grid, anchor_y * (grid / anchor_x) ** (-expected), ":", color="k",
                label=f"predicted slope -{expected:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(resource)
    ax.set_ylabel("test loss" + (" - limit" if variance else ""))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax


def plot_regimes(table, *, classifications=None, prediction=None, axes=None):
    """The four-panel figure of Bahri et al. (arXiv 2102.06701): one panel per regime.

    Parameters
    ----------
    table : pandas.DataFrame
        ``scalinglab.regimes.four_regimes`` output (column ``regime``), any number of seeds.
    classifications : dict, optional
        regime name -> RegimeClassification (fits drawn as dashed lines).
    prediction : scalinglab.regimes.ExponentPrediction, optional
        Its alpha_N / alpha_P are drawn on the resolution-limited panels.
    axes : sequence of 4 matplotlib Axes, optional
        Default: a new 2 x 2 pyplot figure.

    Returns
    -------
    list of matplotlib Axes
    """
    if axes is None:
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError(
                "scalinglab.plot needs matplotlib: pip install 'scalinglab[plot]'"
            ) from error
        _, grid = plt.subplots(2, 2, figsize=(9, 7), layout="constrained")
        axes = list(grid.ravel())
    axes = list(axes)
    if len(axes) != 4:
        raise ValueError(f"`axes`: expected 4 Axes, got {len(axes)}")
    classifications = classifications or {}
    for ax, (regime, resource, _) in zip(axes, _REGIME_PANELS):
        predicted = None
        if prediction is not None and regime.startswith("resolution"):
            predicted = prediction.alpha_N if resource == "N" else prediction.alpha_P
        plot_regime_curve(table, regime, classification=classifications.get(regime),
                          predicted_exponent=predicted, ax=ax)
    return axes
