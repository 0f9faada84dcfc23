"""Random-feature ridge on scikit-learn's digits: test error against the number of features."""

from __future__ import annotations

import tempfile

import pandas as pd

from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid


def simulate(point, seed, n_threads) -> pd.DataFrame:
    """Sweep function: one split/feature draw of the digits experiment (all N from one pass)."""
    from scalinglab.demo import run_demo

    with tempfile.TemporaryDirectory() as folder:
        result = run_demo(folder, rng=seed, n_threads=n_threads, quick=bool(point["quick"]),
                          progress=False)
    table = result.table.rename(columns={"n_features": "N", "test_mse": "test_loss",
                                         "train_mse": "train_loss"})
    table["P"] = float(result.n_train)
    return table


def run(context) -> Outcome:
    from scalinglab.fit import fit_power_law
    from scalinglab.plot import plot_scaling_curve

    table = context.sweep(ENTRY, "simulation", "scalinglab.gallery.digits:simulate",
                          Grid.product(quick=[bool(context.quick)]), seeds=1, rng=0)
    fit = fit_power_law(table["N"], table["test_loss"], offset=True)
    numbers = {"exponent": fit.exponent, "exponent_stderr": fit.exponent_stderr,
               "offset": fit.offset, "n_train": float(table["P"].iloc[0])}
    figure, (ax,) = new_figure()
    if figure is not None:
        plot_scaling_curve(table["N"], table["test_loss"], fit=fit, subtract_offset=True, ax=ax,
                           label="test MSE - E", xlabel="random features N", ylabel="test MSE - E")
        ax.set_title(f"digits, ReLU features: alpha = {fit.exponent:.2f} +- {fit.exponent_stderr:.2f}")
        ax.legend(fontsize=8)
    summary = (f"test MSE ~ E + c N^-alpha with alpha = {fit.exponent:.3f} +- "
               f"{fit.exponent_stderr:.3f}, E = {fit.offset:.3f}")
    return context.write_outputs(ENTRY, Outcome(numbers, summary), table, figure)


ENTRY = Entry("digits", "Random features on real data (digits)",
              "Random-feature ridge on real images improves as a power law in the number of "
              "features N down to an irreducible error.",
              "scalinglab demo; the setting of Bahri et al. 2021, arXiv 2102.06701", run)
