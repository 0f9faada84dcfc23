"""MRS's plateau: once min(N, P) reaches the latent dimension M, more of either stops helping."""

from __future__ import annotations

import numpy as np

from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

ALPHA, M = 1.0, 100


def latent_task(point):
    """The MRS task of a sweep point: ``alpha``, ``M``, ``noise`` and optional ``teacher_decay``
    (explicit weights w_I = I^-teacher_decay instead of the isotropic teacher)."""
    from scalinglab.latent import LatentPowerLawTask

    teacher = "isotropic"
    if point.get("teacher_decay") is not None:
        teacher = np.arange(1, int(point["M"]) + 1, dtype=float) ** -float(point["teacher_decay"])
    return LatentPowerLawTask(point["alpha"], int(point["M"]), point.get("noise", 0.0),
                              teacher=teacher)


def simulate(point, seed, n_threads):
    """Sweep function: one seed of :func:`scalinglab.latent.latent_learning_curve` on the grid
    ``N`` x ``P`` x ``ridge`` (linear features, exact population test loss)."""
    from scalinglab.latent import latent_learning_curve

    return latent_learning_curve(latent_task(point), point["N"], point["P"],
                                 point.get("ridge", 0.0), seeds=1, rng=seed,
                                 n_threads=n_threads, progress=False)


def run(context) -> Outcome:
    import pandas as pd

    from scalinglab.gallery._common import seed_mean
    from scalinglab.latent import latent_test_loss

    seeds = 8 if context.quick else 64
    noise, P_fixed, N_fixed = 1e-5, 400, 200
    N_grid = [12, 25, 50, 75, 100, 150, 200]
    P_grid = [12, 25, 50, 75, 95, 150, 200]
    base = {"alpha": ALPHA, "M": M}
    vs_N = context.sweep(ENTRY, "vary-N", "scalinglab.gallery.mrs_plateau:simulate",
                         Grid.product(noise=[noise]), seeds=seeds, rng=3,
                         fixed={**base, "N": N_grid, "P": [P_fixed]})
    vs_P = context.sweep(ENTRY, "vary-P", "scalinglab.gallery.mrs_plateau:simulate",
                         Grid.product(noise=[0.0]), seeds=seeds, rng=4,
                         fixed={**base, "N": [N_fixed], "P": P_grid})
    noisy, clean = latent_task({**base, "noise": noise}), latent_task(base)
    sim_N, sim_P = seed_mean(vs_N, ["N"]), seed_mean(vs_P, ["P"])
    theory_N = latent_test_loss(noisy, sim_N["N"].to_numpy(), P_fixed)["test_loss"].to_numpy()
    theory_P = latent_test_loss(clean, N_fixed, sim_P["P"].to_numpy())["test_loss"].to_numpy()
    plateau_exact = noise * M / (P_fixed - M - 1)
    beyond_N = sim_N["N"].to_numpy() >= M
    below_P = sim_P["P"].to_numpy() < M
    # Per seed, every N >= M gives the same least-squares fit in the M-dim latent span.
    per_seed = vs_N[vs_N["N"] >= M].groupby("seed")["test_loss"].agg(["min", "max"])
    numbers = {
        "plateau_exact": plateau_exact,
        "plateau_theory": float(np.mean(theory_N[beyond_N])),
        "plateau_simulation": float(sim_N["mean"][beyond_N].mean()),
        "plateau_simulation_sem": float(sim_N["sem"][beyond_N].mean()),
        "plateau_spread_per_seed": float(((per_seed["max"] - per_seed["min"]) / per_seed["max"]).max()),
        "ratio_before_plateau_N50": float(sim_N["mean"][sim_N["N"] == 50].iloc[0]
                                          / theory_N[sim_N["N"].to_numpy() == 50][0]),
        "ratio_before_plateau_N12": float(sim_N["mean"][sim_N["N"] == 12].iloc[0]
                                          / theory_N[sim_N["N"].to_numpy() == 12][0]),
        "largest_ratio_error_P_below_M": float(np.max(np.abs(sim_P["mean"][below_P].to_numpy()
                                                           / theory_P[below_P] - 1))),
        "largest_loss_P_beyond_M": float(vs_P[vs_P["P"] >= M]["test_loss"].abs().max()),
    }
    figure, axes = new_figure(2)
    if figure is not None:
        fine_N = np.geomspace(10, 250, 120)
        ax = axes[0]
        ax.plot(fine_N, latent_test_loss(noisy, fine_N, P_fixed)["test_loss"], "k-", label="theory")
        ax.errorbar(sim_N["N"], sim_N["mean"], yerr=sim_N["sem"], fmt="o", ms=4,
                    label=f"simulation, {seeds} seeds")
        ax.axvline(M, color="gray", ls=":", label="N = M")
        ax.axhline(plateau_exact, color="C3", ls="--", lw=1, label="sigma^2 M / (P - M - 1)")
        ax.set(xscale="log", yscale="log", xlabel="features N", ylabel="test loss",
               title=f"P = {P_fixed}, M = {M}, noise {noise:g}")
        ax.legend(fontsize=8)
        ax = axes[1]
        fine_P = np.geomspace(10, M - 1, 120)
        ax.plot(fine_P, latent_test_loss(clean, N_fixed, fine_P)["test_loss"], "k-", label="theory")
        ax.errorbar(sim_P["P"][below_P], sim_P["mean"][below_P], yerr=sim_P["sem"][below_P],
                    fmt="o", ms=4, label="simulation")
        ax.axvline(M, color="gray", ls=":", label="P = M: loss 0 beyond")
        ax.set(xscale="log", yscale="log", xlabel="samples P", ylabel="test loss",
               title=f"N = {N_fixed}, no noise: |sim| <= {numbers['largest_loss_P_beyond_M']:.0e} for P >= M")
        ax.legend(fontsize=8)
    summary = (f"plateau for N >= M: simulation {numbers['plateau_simulation']:.4g} "
               f"(SE {numbers['plateau_simulation_sem']:.2g}), theory {numbers['plateau_theory']:.4g}, "
               f"exact OLS {plateau_exact:.4g}; flat within {numbers['plateau_spread_per_seed']:.1e} "
               f"per seed; sim/theory {numbers['ratio_before_plateau_N50']:.3f} at N = 50; "
               f"noise-free loss beyond P = M {numbers['largest_loss_P_beyond_M']:.1e}")
    data = pd.concat([sim_N.assign(P=float(P_fixed), vary="N", test_loss_theory=theory_N,
                                   noise=noise),
                      sim_P.assign(N=float(N_fixed), vary="P", test_loss_theory=theory_P,
                                   noise=0.0)], ignore_index=True)
    data = data.rename(columns={"mean": "test_loss", "sem": "test_loss_sem"})
    return context.write_outputs(ENTRY, Outcome(numbers, summary), data, figure)


ENTRY = Entry("mrs-plateau", "Latent-dimension plateau (MRS)",
              "With latent dimension M, the loss stops improving once min(N, P) reaches M: "
              "in N it plateaus at the least-squares noise floor sigma^2 M / (P - M - 1); "
              "without noise it is exactly 0 once P >= M (and N >= M).",
              "Maloney, Roberts & Sully 2022, arXiv 2210.16859, Sec. on finite latent dimension", run)
