"""Data reuse opens a train-test gap: with P samples seen repeatedly the train loss keeps
falling while the test loss stalls at the data bottleneck."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.gallery._common import largest_z, seed_mean
from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

A, B = 2.0, 1.5


def run(context) -> Outcome:
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import learning_curve_theory

    Ps = [50, 200] if context.quick else [50, 200, 800]
    N, M, seeds = (400, 2000, 6) if context.quick else (1600, 8000, 24)
    times = np.logspace(0, 4, 17)
    task = PowerLawTask(A, B, M)
    table = context.sweep(ENTRY, "simulation", "learning_curve", Grid.product(P=Ps), seeds=seeds,
                          rng=5, fixed={"a": A, "b": B, "M": M, "N": N, "t": times.tolist()})
    numbers, frames = {}, []
    figure, (ax,) = new_figure()
    for P in Ps:
        theory = learning_curve_theory(task, N, P, times, truncation="ignore")
        rows = table[table["P"] == P]
        test, train = seed_mean(rows, ["t"], "test_loss"), seed_mean(rows, ["t"], "train_loss")
        gap_sim = float(test["mean"].iloc[-1] - train["mean"].iloc[-1])
        gap_theory = float(theory["test_loss"].iloc[-1] - theory["train_loss"].iloc[-1])
        numbers[f"gap_simulation_P{P}"] = gap_sim
        numbers[f"gap_theory_P{P}"] = gap_theory
        numbers[f"largest_z_test_P{P}"] = largest_z(test["mean"], test["sem"], theory["test_loss"])
        numbers[f"largest_z_train_P{P}"] = largest_z(train["mean"], train["sem"], theory["train_loss"])
        frames.append(pd.DataFrame({"P": float(P), "N": float(N), "t": times,
                                    "test_loss": test["mean"], "train_loss": train["mean"],
                                    "test_loss_theory": theory["test_loss"].to_numpy(),
                                    "train_loss_theory": theory["train_loss"].to_numpy()}))
        if figure is not None:
            line = ax.plot(times, theory["test_loss"], label=f"P = {P}: test (DMFT)")[0]
            ax.plot(times, theory["train_loss"], "--", color=line.get_color(), label=f"P = {P}: train (DMFT)")
            ax.plot(times, test["mean"], "o", ms=3, color=line.get_color())
            ax.plot(times, train["mean"], "s", ms=3, mfc="none", color=line.get_color())
    if figure is not None:
        ax.set(xscale="log", yscale="log", xlabel="time t", ylabel="loss",
               title=f"a={A}, b={B}, N={N}: train (squares) and test (dots)")
        ax.legend(fontsize=7)
    summary = "; ".join(f"P={P}: gap at t=1e4 {numbers[f'gap_simulation_P{P}']:.3g} sim vs "
                        f"{numbers[f'gap_theory_P{P}']:.3g} DMFT" for P in Ps)
    return context.write_outputs(ENTRY, Outcome(numbers, summary), pd.concat(frames), figure)


ENTRY = Entry("bap-train-test-gap", "Train-test gap from data reuse",
              "Reusing P samples drives the train loss below the test loss; the gap grows with "
              "time and shrinks with P.",
              "Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, Sec. 4 (data reuse)", run)
