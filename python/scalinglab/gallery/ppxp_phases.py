"""PPXP's phase diagram of one-pass SGD on power-law random features, with frontier checks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

#: Phases in the order of the colour map; "degenerate" is alpha + beta <= 1/2.
PHASES = ("Ia", "Ib", "Ic", "II", "III", "IV", "degenerate")

#: One point per verified phase: (alpha, beta). Each is well inside its phase.
POINTS = {"Ia": (0.75, 0.25), "II": (1.25, 0.75), "III": (1.0, 2.0)}


def frontier(point, seed, n_threads):
    """Sweep function: the Volterra frontier (deterministic spectrum) at one (alpha, beta)."""
    from scalinglab.sgd_scaling import sgd_compute_optimal_frontier

    grid = np.unique(np.round(np.logspace(np.log10(point["d_min"]), np.log10(point["d_max"]),
                                          point["n_sizes"])).astype(int))
    computes = np.logspace(point["log_f_min"], point["log_f_max"], point["n_computes"])
    table = sgd_compute_optimal_frontier(point["alpha"], point["beta"], grid, computes,
                                         n_threads=n_threads)
    return table.astype({"interior": bool})


def phase_map(alphas, betas):
    """Phase index (into :data:`PHASES`) and closed-form loss exponent (NaN where not shipped)."""
    from scalinglab.sgd_scaling import ppxp_phase, sgd_compute_optimal

    index = np.empty((betas.size, alphas.size), dtype=int)
    exponent = np.full((betas.size, alphas.size), np.nan)
    for i, beta in enumerate(betas):
        for j, alpha in enumerate(alphas):
            phase = ppxp_phase(alpha, beta)
            index[i, j] = PHASES.index(phase)
            if phase in ("Ia", "II", "III"):
                exponent[i, j] = sgd_compute_optimal(alpha, beta).loss
    return index, exponent


def run(context) -> Outcome:
    from scalinglab.frontier import fit_frontier_exponents
    from scalinglab.sgd_scaling import sgd_compute_optimal

    # Quick: d in [25, 400], f in [1e3, 1e6] (the test-suite's fast grid, ~3 s per point); full:
    # d up to 12800 and f up to 1e10 (the slow tests' windows, where the slopes are asymptotic).
    sizes = (dict(d_min=25, d_max=400, n_sizes=9, log_f_min=3, log_f_max=6, n_computes=13)
             if context.quick else
             dict(d_min=25, d_max=12800, n_sizes=19, log_f_min=3, log_f_max=11, n_computes=33))
    window = (1e3, 1e6) if context.quick else (1e7, 1e10)
    alphas = [a for a, _ in POINTS.values()]
    betas = [b for _, b in POINTS.values()]
    table = context.sweep(ENTRY, "frontier", "scalinglab.gallery.ppxp_phases:frontier",
                          Grid.zip(alpha=alphas, beta=betas), seeds=1, rng=0, fixed=sizes)
    numbers, parts, fitted = {}, [], {}
    for phase, (alpha, beta) in POINTS.items():
        rows = table[(table["alpha"] == alpha) & (table["beta"] == beta)]
        fit = fit_frontier_exponents(rows, compute_range=window)
        closed = sgd_compute_optimal(alpha, beta)
        fitted[phase] = (rows, fit, closed)
        numbers[f"loss_exponent_numerical_{phase}"] = fit.loss
        numbers[f"loss_exponent_closed_form_{phase}"] = closed.loss
        numbers[f"size_exponent_numerical_{phase}"] = fit.N
        numbers[f"size_exponent_closed_form_{phase}"] = closed.N
        numbers[f"frontier_points_{phase}"] = fit.n_points
        parts.append(f"{phase} (alpha={alpha}, beta={beta}): loss slope {fit.loss:.3f} vs "
                     f"{closed.loss:.3f}, d* slope {fit.N:.3f} vs {closed.N:.3f}")
    a_grid = np.linspace(0.02, 2.0, 100)
    b_grid = np.linspace(-0.5, 2.5, 121)
    index, exponent = phase_map(a_grid, b_grid)
    numbers["area_fraction_verified"] = float(np.isfinite(exponent).mean())
    figure, axes = new_figure(2, width=5.2, height=4.2)
    if figure is not None:
        from matplotlib.colors import ListedColormap

        ax = axes[0]
        colours = ListedColormap(["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3",
                                  "#fdb462", "#d9d9d9"])
        ax.pcolormesh(a_grid, b_grid, index, cmap=colours, vmin=-0.5, vmax=len(PHASES) - 0.5,
                      shading="nearest")
        lines = ax.contour(a_grid, b_grid, exponent, levels=np.arange(-0.9, 0.0, 0.1),
                           colors="k", linewidths=0.7, linestyles="solid")
        ax.clabel(lines, fmt="%.1f", fontsize=7)
        for phase in PHASES:
            mask = index == PHASES.index(phase)
            if mask.any():
                rows, cols = np.nonzero(mask)
                ax.text(a_grid[int(np.median(cols))], b_grid[int(np.median(rows))], phase,
                        ha="center", va="center", fontsize=9, weight="bold")
        for phase, (alpha, beta) in POINTS.items():
            ax.plot(alpha, beta, "k*", ms=9)
        ax.set(xlabel="alpha (data spectrum)", ylabel="beta (target)",
               title="phases; contours: loss exponent vs flops")
        ax = axes[1]
        for phase, (rows, fit, closed) in fitted.items():
            f = rows["compute"].to_numpy()
            line, = ax.plot(f, rows["test_loss"], "o", ms=3,
                            label=f"{phase}: {fit.loss:.3f} (closed form {closed.loss:.3f})")
            inside = (f >= window[0]) & (f <= window[1])
            anchor = rows["test_loss"].to_numpy()[inside][0]
            ax.plot(f[inside], anchor * (f[inside] / f[inside][0]) ** closed.loss, "-",
                    color=line.get_color(), lw=1)
        ax.set(xscale="log", yscale="log", xlabel="flops f = B d r", ylabel="compute-optimal risk",
               title="Volterra frontier (points) vs closed form (lines)")
        ax.legend(fontsize=7)
    summary = "; ".join(parts) + f" (flops {window[0]:.0e}-{window[1]:.0e})"
    data = pd.concat([table.assign(kind="frontier"),
                      pd.DataFrame({"alpha": np.tile(a_grid, b_grid.size),
                                    "beta": np.repeat(b_grid, a_grid.size),
                                    "phase": [PHASES[i] for i in index.ravel()],
                                    "loss_exponent_closed_form": exponent.ravel(),
                                    "kind": "phase_map"})], ignore_index=True)
    return context.write_outputs(ENTRY, Outcome(numbers, summary), data, figure)


ENTRY = Entry("ppxp-phases", "Phase diagram of one-pass SGD (PPXP)",
              "The compute-optimal loss exponent of one-pass SGD on power-law random features "
              "depends on (alpha, beta) through phases Ia, II, III (and Ib, Ic, IV); at a point of "
              "each verified phase the numerical Volterra frontier has the closed-form exponent.",
              "Paquette, Paquette, Xiao & Pennington 2024, arXiv 2405.15074, Fig. 2 / Table 2", run)
