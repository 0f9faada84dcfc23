"""BAP's model and data bottlenecks: L(t -> inf) ~ N^-min(a-1, b) and ~ P^-min(a-1, 2b).

The model bottleneck of the full loss is N^-min(a-1, b), not the N^-min(a-1, 2b) of BAP's
headline (that is the bias of the averaged predictor; see bap-ensembles): two tasks are shown
whose model and data exponents differ.
"""

from __future__ import annotations

import numpy as np

from scalinglab.gallery._common import largest_z, log_slope, seed_mean
from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

TASKS = ((2.0, 1.5), (3.5, 1.0))
T_END = 1e8  # gradient-flow time: every learnable mode has converged (GF is exact at any t)


def _run(context, entry, axis: str) -> Outcome:
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import bottleneck_exponents, static_loss

    sizes = [25, 50, 100, 200, 400] if context.quick else [25, 50, 100, 200, 400, 800, 1600]
    M = 3000 if context.quick else 12000
    seeds = 4 if context.quick else 16
    other = "P" if axis == "N" else "N"
    frames, numbers = [], {}
    figure, (ax,) = new_figure()
    for a, b in TASKS:
        table = context.sweep(entry, f"a{a}-b{b}", "learning_curve", Grid.product(**{axis: sizes}),
                              seeds=seeds, rng=2,
                              fixed={"a": a, "b": b, "M": M, other: "inf", "t": [T_END]})
        sim = seed_mean(table, [axis])
        task = PowerLawTask(a, b, M)
        kwargs = {axis: sizes, other: np.inf}
        theory = static_loss(task, kwargs["N"], kwargs["P"], truncation="ignore")
        theory_loss = theory.sort_values(axis)["test_loss"].to_numpy()
        exponents = bottleneck_exponents(a, b)
        expected = -(exponents.model if axis == "N" else exponents.data)
        key = f"a{a:g}_b{b:g}"
        numbers[f"slope_simulation_{key}"] = log_slope(sim[axis], sim["mean"])
        numbers[f"slope_theory_{key}"] = log_slope(sizes, theory_loss)
        numbers[f"slope_closed_form_{key}"] = expected
        numbers[f"largest_z_{key}"] = largest_z(sim["mean"], sim["sem"], theory_loss)
        sim = sim.rename(columns={"mean": "test_loss", "sem": "test_loss_sem"})
        sim["test_loss_theory"], sim["a"], sim["b"], sim[other] = theory_loss, a, b, np.inf
        frames.append(sim)
        if figure is not None:
            line = ax.errorbar(sim[axis], sim["test_loss"], yerr=sim["test_loss_sem"], fmt="o",
                               ms=4, label=f"a={a}, b={b}: simulation")
            ax.plot(sizes, theory_loss, color=line[0].get_color(),
                    label=f"theory, slope {numbers[f'slope_theory_{key}']:.2f} (closed form {expected:.2f})")
    if figure is not None:
        ax.set(xscale="log", yscale="log", xlabel=axis, ylabel="test loss at t = inf",
               title=f"{'model' if axis == 'N' else 'data'} bottleneck ({other} = inf)")
        ax.legend(fontsize=7)
    summary = "; ".join(
        f"a={a}, b={b}: slope {numbers[f'slope_simulation_a{a:g}_b{b:g}']:.2f} sim, "
        f"{numbers[f'slope_theory_a{a:g}_b{b:g}']:.2f} theory, "
        f"{numbers[f'slope_closed_form_a{a:g}_b{b:g}']:.2f} closed form" for a, b in TASKS)
    import pandas as pd

    return context.write_outputs(entry, Outcome(numbers, summary), pd.concat(frames), figure)


def run_model(context) -> Outcome:
    return _run(context, MODEL, "N")


def run_data(context) -> Outcome:
    return _run(context, DATA, "P")


SOURCE = "Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, Sec. 4 (bottlenecks)"
MODEL = Entry("bap-model", "Model-size bottleneck",
              "With infinite data the converged loss falls as N^-min(a-1, b) (the full loss; "
              "N^-min(a-1, 2b) is only the averaged predictor's bias).", SOURCE, run_model)
DATA = Entry("bap-data", "Data bottleneck",
             "At infinite width the converged loss falls as P^-min(a-1, 2b).", SOURCE, run_data)
