"""BAP's time bottleneck: L(t) ~ t^-(a-1)/b while N and P are not limiting."""

from __future__ import annotations

import numpy as np

from scalinglab.gallery._common import largest_z, log_slope, seed_mean
from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

A, B = 2.0, 1.5


def run(context) -> Outcome:
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import learning_curve_theory

    M, N = (2000, 600) if context.quick else (8000, 4000)
    seeds = 4 if context.quick else 16
    times = np.logspace(0, 3, 25)
    table = context.sweep(ENTRY, "simulation", "learning_curve", Grid.product(N=[N]),
                          seeds=seeds, rng=1,
                          fixed={"a": A, "b": B, "M": M, "P": "inf", "t": times.tolist()})
    task = PowerLawTask(A, B, M)
    theory = learning_curve_theory(task, N, np.inf, times, truncation="ignore")
    sim = seed_mean(table, ["t"])
    window = (times >= 3) & (times <= 300)
    numbers = {
        "slope_simulation": log_slope(sim["t"][window], sim["mean"][window]),
        "slope_theory_curve": log_slope(times[window], theory["test_loss"].to_numpy()[window]),
        "slope_closed_form": -(A - 1) / B,
        "largest_z": largest_z(sim["mean"], sim["sem"], theory["test_loss"]),
    }
    figure, (ax,) = new_figure()
    if figure is not None:
        ax.errorbar(sim["t"], sim["mean"], yerr=sim["sem"], fmt="o", ms=3, label=f"simulation, {seeds} seeds")
        ax.plot(times, theory["test_loss"], label="DMFT theory")
        ax.plot(times, task.infinite_width_loss(times), ":", label="N = P = inf")
        ax.set(xscale="log", yscale="log", xlabel="time t", ylabel="test loss",
               title=f"a={A}, b={B}, N={N}, P=inf: slope {numbers['slope_simulation']:.3f}")
        ax.legend(fontsize=8)
    summary = (f"time slope {numbers['slope_simulation']:.3f} (simulation), "
               f"{numbers['slope_theory_curve']:.3f} (DMFT), closed form {numbers['slope_closed_form']:.3f}; "
               f"sim vs DMFT within {numbers['largest_z']:.1f} SE")
    outcome = Outcome(numbers, summary)
    merged = sim.rename(columns={"mean": "test_loss", "sem": "test_loss_sem"})
    merged["test_loss_theory"] = theory["test_loss"].to_numpy()
    merged["N"], merged["P"] = float(N), np.inf
    return context.write_outputs(ENTRY, outcome, merged, figure)


ENTRY = Entry("bap-time", "Time bottleneck",
              "Gradient flow's test loss falls as t^-(a-1)/b while model size and data are not limiting.",
              "Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, Fig. 1 / Sec. 3", run)
