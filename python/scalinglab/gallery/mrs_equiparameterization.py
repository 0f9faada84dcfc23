"""MRS's equiparameterization: at fixed N P the optimally regularised loss is lowest at N = P."""

from __future__ import annotations

import numpy as np

from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

ALPHA = 1.0


def simulate(point, seed, n_threads):
    """Sweep function: one (``features``, ``samples``) pair at ridge ``gamma``."""
    from scalinglab.gallery.mrs_plateau import simulate as grid_simulate

    return grid_simulate({**point, "N": [point["features"]], "P": [point["samples"]],
                          "ridge": point["gamma"]}, seed, n_threads)


def run(context) -> Outcome:
    import pandas as pd

    from scalinglab.gallery._common import log_slope, seed_mean
    from scalinglab.latent import (LatentPowerLawTask, latent_equiparameterization,
                                   latent_optimal_ridge, latent_test_loss)

    M = 1000 if context.quick else 20000
    computes = [1e3, 1e4, 1e5] if context.quick else [1e3, 1e4, 1e5, 1e6, 1e7]
    seeds = 4 if context.quick else 32
    task = LatentPowerLawTask(ALPHA, M)
    # Three sizes per decade keep the quick theory near 5 s (each point is a ridge optimisation).
    table, frontier = latent_equiparameterization(task, computes, sizes_per_decade=3, span=10)
    # Simulation along the valley of C = 1e4, each (N, P) at its theory-optimal ridge.
    C_sim = 1e4
    sim_N = np.array([20, 50, 100, 200, 500])
    sim_P = (C_sim / sim_N).round().astype(int)
    ridges = latent_optimal_ridge(task, sim_N, sim_P)
    ridges = ridges[ridges["N"] * ridges["P"] == C_sim]["ridge"].to_numpy()
    grid = Grid.zip(features=sim_N.tolist(), samples=sim_P.tolist(), gamma=ridges.tolist())
    sim = context.sweep(ENTRY, "valley", "scalinglab.gallery.mrs_equiparameterization:simulate", grid,
                        seeds=seeds, rng=9, fixed={"alpha": ALPHA, "M": M})
    sim_mean = seed_mean(sim, ["N", "P", "ridge"])
    theory = np.array([latent_test_loss(task, n, p, r)["test_loss"][0]
                       for n, p, r in zip(sim_mean["N"], sim_mean["P"], sim_mean["ridge"])])
    best_sim = sim_mean.loc[sim_mean["mean"].idxmin()]
    numbers = {f"optimum_N_over_sqrt_C_{C:.0e}": float(row.N / np.sqrt(row.compute))
               for C, row in zip(computes, frontier.itertuples())}
    numbers["loss_exponent_theory"] = log_slope(frontier["compute"], frontier["test_loss"])
    numbers["loss_exponent_closed_form"] = -ALPHA / 2
    numbers["simulation_best_N_over_sqrt_C"] = float(best_sim["N"] / np.sqrt(C_sim))
    numbers["largest_ratio_error_valley"] = float(np.max(np.abs(sim_mean["mean"] / theory - 1)))
    ends = sim_mean.sort_values("N")
    numbers["simulation_end_ratio"] = float(ends["mean"].iloc[0] / ends["mean"].iloc[-1])
    numbers["theory_end_ratio"] = float(theory[np.argsort(sim_mean["N"].to_numpy())][0]
                                        / theory[np.argsort(sim_mean["N"].to_numpy())][-1])
    figure, axes = new_figure(2)
    if figure is not None:
        from scalinglab.plot import plot_equiparameterization

        ax = plot_equiparameterization(table, frontier, ax=axes[0])
        ax.errorbar(sim_mean["N"] / np.sqrt(C_sim), sim_mean["mean"], yerr=sim_mean["sem"],
                    fmt="o", color="k", mfc="none", label=f"simulation C = {C_sim:.0e}")
        ax.legend(fontsize=7)
        ax.set_title(f"alpha = {ALPHA}, M = {M}: valley at N = P")
        ax = axes[1]
        ax.plot(frontier["compute"], frontier["test_loss"], "o-", label="optimum (theory)")
        ax.plot(frontier["compute"], frontier["test_loss"].iloc[0]
                * (frontier["compute"] / frontier["compute"].iloc[0]) ** (-ALPHA / 2), "k--",
                label="C^(-alpha/2)")
        ax.set(xscale="log", yscale="log", xlabel="C = N P", ylabel="L* at the optimal split",
               title=f"slope {numbers['loss_exponent_theory']:.3f} (closed form {-ALPHA / 2})")
        ax.legend(fontsize=8)
    summary = ("optimum N / sqrt(NP) = " + ", ".join(
        f"{numbers[f'optimum_N_over_sqrt_C_{C:.0e}']:.3f}" for C in computes)
        + f"; L* slope {numbers['loss_exponent_theory']:.3f} vs -alpha/2 = {-ALPHA / 2}; "
        f"simulated valley (C = 1e4) lowest at N/sqrt(C) = "
        f"{numbers['simulation_best_N_over_sqrt_C']:.2f}, ends ratio "
        f"{numbers['simulation_end_ratio']:.3f} (theory {numbers['theory_end_ratio']:.3f}), sim "
        f"vs theory within {100 * numbers['largest_ratio_error_valley']:.1f}%")
    data = pd.concat([table.assign(kind="theory"),
                      sim_mean.rename(columns={"mean": "test_loss", "sem": "test_loss_sem"})
                      .assign(compute=C_sim, kind="simulation", test_loss_theory=theory)],
                     ignore_index=True)
    return context.write_outputs(ENTRY, Outcome(numbers, summary), data, figure)


ENTRY = Entry("mrs-equiparameterization", "Equiparameterization (MRS)",
              "At fixed N P with the ridge tuned, the loss is lowest at N = P (a valley even in "
              "log(N / P) for the isotropic teacher), and the optimum falls as (N P)^(-alpha/2).",
              "Maloney, Roberts & Sully 2022, arXiv 2210.16859, the optimal-regularisation "
              "section", run)
