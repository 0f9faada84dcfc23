"""The compute-optimal frontier of gradient flow, C = N t: L* ~ C^loss, N* ~ C^N, t* ~ C^t."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.gallery._common import seed_mean
from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

A, B = 2.0, 1.5


def run(context) -> Outcome:
    from scalinglab.frontier import compute_optimal_frontier, fit_frontier_exponents
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import compute_optimal, learning_curve_theory

    if context.quick:
        sizes, M, seeds, times = np.unique(np.round(np.logspace(1, 2.6, 9))).astype(int), 3000, 3, np.logspace(0, 4, 33)
    else:
        sizes, M, seeds, times = np.unique(np.round(np.logspace(1, 3.5, 21))).astype(int), 20000, 8, np.logspace(0, 6, 49)
    task = PowerLawTask(A, B, M)
    theory = pd.concat([learning_curve_theory(task, int(n), np.inf, times, truncation="ignore")
                        for n in sizes], ignore_index=True)
    theory["compute"] = theory["N"] * theory["t"]
    table = context.sweep(ENTRY, "simulation", "learning_curve", Grid.product(N=sizes.tolist()),
                          seeds=seeds, rng=3,
                          fixed={"a": A, "b": B, "M": M, "P": "inf", "t": times.tolist()})
    sim = seed_mean(table, ["N", "t"]).rename(columns={"mean": "test_loss"})
    sim["compute"] = sim["N"] * sim["t"]
    lo, hi = np.log10(sizes[0] * times[0]), np.log10(sizes[-1] * times[-1])
    computes = np.logspace(lo, hi, int(8 * (hi - lo)) + 1)
    front_theory = compute_optimal_frontier(theory, computes=computes)
    front_sim = compute_optimal_frontier(sim, computes=computes)
    # Fit where the optimum is interior for both, away from the grid's corners.
    window = (10 ** (lo + 1.0), 10 ** (hi - 1.0))
    fit_theory = fit_frontier_exponents(front_theory, compute_range=window)
    fit_sim = fit_frontier_exponents(front_sim, compute_range=window)
    closed = compute_optimal(A, B)
    numbers = {"loss_exponent_theory": fit_theory.loss, "loss_exponent_simulation": fit_sim.loss,
               "loss_exponent_closed_form": closed.loss, "size_exponent_theory": fit_theory.N,
               "size_exponent_simulation": fit_sim.N, "size_exponent_closed_form": closed.N}
    figure, axes = new_figure(2)
    if figure is not None:
        left, right = axes
        for n in sizes[:: max(1, len(sizes) // 5)]:
            rows = theory[theory["N"] == n]
            left.plot(rows["compute"], rows["test_loss"], color="0.7", lw=0.8)
        left.plot(front_theory["compute"], front_theory["test_loss"], "k-", label="DMFT frontier")
        left.plot(front_sim["compute"], front_sim["test_loss"], "o", ms=3, label="simulated frontier")
        left.set(xscale="log", yscale="log", xlabel="compute C = N t", ylabel="L*",
                 title=f"L* slope {fit_theory.loss:.3f} (closed form {closed.loss:.3f})")
        left.legend(fontsize=8)
        inside = front_theory[front_theory["interior"]]
        right.plot(inside["N"], inside["compute"] / inside["N"], "k-", label="DMFT")
        inside = front_sim[front_sim["interior"]]
        right.plot(inside["N"], inside["compute"] / inside["N"], "o", ms=3, label="simulation")
        right.set(xscale="log", yscale="log", xlabel="N*", ylabel="t*",
                  title=f"t* vs N*: t* ~ N*^{closed.t / closed.N:.2f} (closed form)")
        right.legend(fontsize=8)
        from matplotlib.ticker import NullFormatter

        for axis in (right.xaxis, right.yaxis):
            axis.set_minor_formatter(NullFormatter())
    summary = (f"L* ~ C^{fit_theory.loss:.3f} (DMFT), C^{fit_sim.loss:.3f} (simulation), closed form "
               f"C^{closed.loss:.3f}; N* ~ C^{fit_theory.N:.3f} / {fit_sim.N:.3f} vs {closed.N:.3f}")
    data = pd.concat([front_theory.assign(source="theory"), front_sim.assign(source="simulation")])
    return context.write_outputs(ENTRY, Outcome(numbers, summary), data, figure)


ENTRY = Entry("bap-frontier", "Compute-optimal frontier",
              "At compute C = N t the optimal size and time grow as powers of C (hard task: "
              "N* ~ C^(1/(1+b)), L* ~ C^(-(a-1)/(1+b))).",
              "Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, Sec. 5 (compute-optimal scaling)",
              run)
