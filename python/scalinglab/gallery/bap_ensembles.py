"""Ensembles: averaging E models removes variance but not bias, so the model-size exponent
moves from min(a-1, b) (E = 1) to min(a-1, 2b) (E -> inf)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.gallery._common import largest_z, log_slope, seed_mean
from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

A, B = 3.5, 1.0
T_END = 1e8


def run(context) -> Outcome:
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import static_loss

    sizes = [25, 50, 100, 200] if context.quick else [25, 50, 100, 200, 400, 800]
    ensembles = [1, 4] if context.quick else [1, 2, 4, 16]
    M, seeds = (2000, 4) if context.quick else (8000, 16)
    task = PowerLawTask(A, B, M)
    table = context.sweep(ENTRY, "simulation", "learning_curve",
                          Grid.product(ensemble=ensembles, N=sizes), seeds=seeds, rng=6,
                          fixed={"a": A, "b": B, "M": M, "P": "inf", "t": [T_END]})
    numbers, frames = {}, []
    figure, (ax,) = new_figure()
    for E in [*ensembles, np.inf]:
        theory = static_loss(task, sizes, np.inf, ensemble=E, truncation="ignore").sort_values("N")
        label = "inf" if np.isinf(E) else str(E)
        numbers[f"slope_theory_E{label}"] = log_slope(theory["N"], theory["test_loss"])
        frame = pd.DataFrame({"N": theory["N"].to_numpy(), "ensemble": E,
                              "test_loss_theory": theory["test_loss"].to_numpy()})
        if np.isfinite(E):
            sim = seed_mean(table[table["ensemble"] == E], ["N"])
            numbers[f"slope_simulation_E{label}"] = log_slope(sim["N"], sim["mean"])
            numbers[f"largest_z_E{label}"] = largest_z(sim["mean"], sim["sem"], theory["test_loss"])
            frame["test_loss"] = sim["mean"].to_numpy()
            frame["test_loss_sem"] = sim["sem"].to_numpy()
        frames.append(frame)
        if figure is not None:
            line = ax.plot(theory["N"], theory["test_loss"],
                           label=f"E = {label}: theory, slope {numbers[f'slope_theory_E{label}']:.2f}")[0]
            if np.isfinite(E):
                ax.errorbar(sim["N"], sim["mean"], yerr=sim["sem"], fmt="o", ms=4,
                            color=line.get_color())
    numbers["slope_closed_form_E1"] = -min(A - 1, B)
    numbers["slope_closed_form_Einf"] = -min(A - 1, 2 * B)
    if figure is not None:
        ax.set(xscale="log", yscale="log", xlabel="N", ylabel="test loss at t = inf",
               title=f"a={A}, b={B}: ensembles of E models")
        ax.legend(fontsize=7)
    summary = (f"slope E=1 {numbers['slope_simulation_E1']:.2f} sim / {numbers['slope_theory_E1']:.2f} "
               f"theory (closed form {numbers['slope_closed_form_E1']:.0f}); E=inf theory "
               f"{numbers['slope_theory_Einf']:.2f} (closed form {numbers['slope_closed_form_Einf']:.0f})")
    return context.write_outputs(ENTRY, Outcome(numbers, summary), pd.concat(frames), figure)


ENTRY = Entry("bap-ensembles", "Ensembles remove variance, not bias",
              "Averaging E independent models lowers the loss at fixed N but cannot beat the "
              "bias bottleneck N^-min(a-1, 2b).",
              "Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, Sec. 6 (ensembling)", run)
