"""Matplotlib figures of scaling curves, spectra and ridge paths.

matplotlib is optional (``pip install scalinglab[plot]``) and imported only inside these
functions. Every function draws on ``ax`` (default: the current Axes of pyplot) and returns it;
none calls ``show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_ridge_path", "plot_scaling_curve", "plot_spectrum"]


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
    ax = _axes(ax)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
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
    ax = _axes(ax)
    values = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
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
        Columns ``ridge``, ``train_mse`` and optionally ``test_mse``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    ordered = table.sort_values("ridge")
    ax.plot(ordered["ridge"], ordered["train_mse"], marker="o", label="train")
    if "test_mse" in ordered:
        ax.plot(ordered["ridge"], ordered["test_mse"], marker="s", label="test")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ridge")
    ax.set_ylabel("mean squared error")
    ax.legend()
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
