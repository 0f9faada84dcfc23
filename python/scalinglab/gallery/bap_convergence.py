"""Convergence to infinite width: L_N(t) - L_inf(t) ~ 1/N early, ~ N^-min(a-1, b) late."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.gallery._common import log_slope, seed_mean
from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

A, B = 1.5, 2.0  # late exponent min(a-1, b) = 0.5, far from the early 1
EARLY, LATE = 1.0, 1e9  # late: t >> N^b for every N shown, all learnable modes converged


def run(context) -> Outcome:
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import learning_curve_theory

    sizes = [25, 50, 100, 200, 400] if context.quick else [25, 50, 100, 200, 400, 800, 1600]
    M, seeds = (3000, 16) if context.quick else (12000, 64)
    task = PowerLawTask(A, B, M)
    times = np.array([EARLY, LATE])
    limit = task.infinite_width_loss(times)
    theory = pd.concat([learning_curve_theory(task, n, np.inf, times, truncation="ignore")
                        for n in sizes], ignore_index=True)
    theory["excess"] = theory["test_loss"] - np.tile(limit, len(sizes))
    table = context.sweep(ENTRY, "simulation", "learning_curve", Grid.product(N=sizes),
                          seeds=seeds, rng=4,
                          fixed={"a": A, "b": B, "M": M, "P": "inf", "t": times.tolist()})
    table["excess"] = table["test_loss"] - np.where(table["t"] == EARLY, limit[0], limit[1])
    sim = seed_mean(table, ["N", "t"], "excess")
    numbers = {}
    figure, (ax,) = new_figure()
    for t, label in ((EARLY, "early"), (LATE, "late")):
        th = theory[theory["t"] == t]
        sm = sim[sim["t"] == t]
        numbers[f"slope_theory_{label}"] = log_slope(th["N"], th["excess"])
        numbers[f"slope_simulation_{label}"] = log_slope(sm["N"], sm["mean"])
        ratio = sm["mean"].to_numpy() / th["excess"].to_numpy()
        numbers[f"simulation_over_theory_{label}"] = float(np.median(ratio))
        if figure is not None:
            line = ax.errorbar(sm["N"], sm["mean"], yerr=sm["sem"], fmt="o", ms=4,
                               label=f"t = {t:g}: simulation")
            ax.plot(th["N"], th["excess"], color=line[0].get_color(),
                    label=f"t = {t:g}: DMFT, slope {numbers[f'slope_theory_{label}']:.2f}")
    numbers["slope_closed_form_early"] = -1.0
    numbers["slope_closed_form_late"] = -min(A - 1, B)
    if figure is not None:
        ax.set(xscale="log", yscale="log", xlabel="N", ylabel="L_N(t) - L_inf(t)",
               title=f"a={A}, b={B}: 1/N early, N^-{min(A - 1, B):g} late")
        ax.legend(fontsize=7)
    summary = (f"early slope {numbers['slope_simulation_early']:.2f} sim / "
               f"{numbers['slope_theory_early']:.2f} DMFT (closed form -1); late slope "
               f"{numbers['slope_simulation_late']:.2f} / {numbers['slope_theory_late']:.2f} "
               f"(closed form {numbers['slope_closed_form_late']:.2f}); early sim/DMFT = "
               f"{numbers['simulation_over_theory_early']:.2f} (the DMFT drops part of the 1/N term, issue 9)")
    data = pd.concat([theory.assign(source="theory"),
                      sim.rename(columns={"mean": "excess", "sem": "excess_sem"}).assign(source="simulation")])
    return context.write_outputs(ENTRY, Outcome(numbers, summary), data, figure)


ENTRY = Entry("bap-convergence", "Convergence to infinite width",
              "Finite-width models approach the kernel limit as 1/N at early times and as "
              "N^-min(a-1, b) at late times.",
              "Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, Sec. 4 (finite-width effects)", run)
