"""The resource model of composite tasks: subtask losses fall with their neurons, shares stay put."""

from __future__ import annotations

import numpy as np

from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

SCALES = (1.0, 2.0, 4.0)
MIN_FIT_WIDTH = 16


def simulate(point, seed, n_threads):
    """Sweep function: :func:`scalinglab.resource.resource_experiment` on the parallel-powers toy
    (every width and seed of ``point``); returns its tidy table."""
    from scalinglab.resource import CompositeTask, resource_experiment

    experiment = resource_experiment(CompositeTask.parallel_powers(tuple(point["scales"])),
                                     widths=tuple(point["widths"]), seeds=point["seeds"],
                                     eval_size=point["eval_size"], rng=seed,
                                     min_fit_width=point["min_fit_width"], n_threads=n_threads,
                                     progress=False)
    # load() sets ``seed`` to the sweep replicate; keep the networks' seed labels apart.
    return experiment.table.rename(columns={"seed": "network_seed"})


def experiment_from_table(table, task, min_fit_width):
    """A :class:`scalinglab.resource.ResourceExperiment` refitted from its stored table (the
    same fits as :func:`~scalinglab.resource.resource_experiment`; no trained networks)."""
    from scalinglab import resource as R
    from scalinglab.fit import fit_power_law

    last = table[table["t"] == table["t"].max()]
    composite = last[(last["subtask"] == R.COMPOSITE) & (last["N"] >= min_fit_width)]
    composite_fit = fit_power_law(composite["N"].to_numpy(float), composite["test_loss"].to_numpy(float))
    pooled = R.fit_pooled_exponent(table, min_width=min_fit_width)
    laws = [R.SubtaskLaw.from_fit(f) for f in R.fit_subtask_laws(table, min_width=min_fit_width)]
    mean_shares = (last[last["subtask"] != R.COMPOSITE].groupby(["N", "subtask"], as_index=False)
                   [["share", "share_hard", "resource"]].mean())
    widest = mean_shares[mean_shares["N"] == mean_shares["N"].max()]
    gap = R.allocation_gap(laws, widest["share"].to_numpy(), float(widest["N"].iloc[0]))
    return R.ResourceExperiment(table=table, composite_fit=composite_fit, pooled_fit=pooled,
                                subtask_laws=laws, mean_shares=mean_shares, gap=gap, task=task,
                                trained=None)


def run(context) -> Outcome:
    from scalinglab.resource import COMPOSITE, CompositeTask

    widths = [8, 16, 32, 64] if context.quick else [8, 16, 32, 64, 128, 256]
    seeds = 4 if context.quick else 8
    table = context.sweep(ENTRY, "toy", "scalinglab.gallery.resource_model:simulate",
                          Grid.product(scales=[list(SCALES)]), seeds=1, rng=0,
                          fixed={"widths": widths, "seeds": seeds, "min_fit_width": MIN_FIT_WIDTH,
                                 "eval_size": 10000 if context.quick else 20000})
    table = table.drop(columns=["scales", "seed"]).rename(columns={"network_seed": "seed"})
    experiment = experiment_from_table(table, CompositeTask.parallel_powers(SCALES), MIN_FIT_WIDTH)
    shares = experiment.mean_shares.pivot(index="N", columns="subtask", values="share")
    last = table[(table["subtask"] == COMPOSITE) & (table["t"] == table["t"].max())
                 & (table["N"] == max(widths))]
    measured = float(np.exp(np.mean(np.log(last["test_loss"]))))
    numbers = {
        "composite_exponent": experiment.composite_fit.exponent,
        "composite_exponent_stderr": experiment.composite_fit.exponent_stderr,
        "pooled_exponent": experiment.pooled_fit.exponent,
        "share_drift_widest": float(np.max(np.abs(shares.loc[widths[-1]] - shares.loc[widths[-2]]))),
        "share_hardest_widest": float(shares.loc[widths[-1], len(SCALES) - 1]),
        "share_easiest_widest": float(shares.loc[widths[-1], 0]),
        "prediction_ratio_widest": float(experiment.predict(float(widths[-1])) / measured),
        "allocation_gap_ratio": float(experiment.gap["ratio"]),
    }
    figure, axes = new_figure(2)
    if figure is not None:
        from scalinglab.plot import plot_resource_experiment

        plot_resource_experiment(experiment, axes=axes)
    summary = (f"composite l ~ N^-{numbers['composite_exponent']:.2f} (+-"
               f"{numbers['composite_exponent_stderr']:.2f}), pooled subtask exponent "
               f"{numbers['pooled_exponent']:.2f}; shares at N = {widths[-1]}: "
               + ", ".join(f"{shares.loc[widths[-1], i]:.2f}" for i in range(len(SCALES)))
               + f" (drift {numbers['share_drift_widest']:.3f} from N = {widths[-2]}); "
               f"sum_i l_i(r_i N) / measured = {numbers['prediction_ratio_widest']:.2f}")
    return context.write_outputs(ENTRY, Outcome(numbers, summary), table, figure)


ENTRY = Entry("resource-model", "Resource model of composite tasks",
              "Each subtask's loss falls as a power of the neurons it gets; the shares of the "
              "neurons stay fixed as the width grows (homogeneous growth), so the composite loss "
              "follows the same exponent.",
              "Song, Liu, Tegmark & Gore 2024, arXiv 2402.05164, toy of Sec. 3", run)
