"""Bahri et al.'s four scaling regimes on the 2-torus (and, in full mode, digits and MNIST-1D)."""

from __future__ import annotations

import numpy as np

from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.sweep import Grid

#: Sizes per data set and mode: (grid or pool size, variance-width P and N, variance-data N and
#: P, resolution-width N, resolution-data P).
_SIZES = {
    ("torus", True): dict(n=48, vw_P=16, vw_N=[64, 128, 256, 512, 1024], vd_N=8,
                          vd_P=[64, 128, 256, 512, 1024], rw_N=[8, 16, 32, 64, 128],
                          rd_P=[8, 16, 32, 64, 128]),
    ("torus", False): dict(n=128, vw_P=128, vw_N=[512, 1024, 2048, 4096, 8192], vd_N=32,
                           vd_P=[256, 512, 1024, 2048, 4096], rw_N=[32, 64, 128, 256, 512, 1024],
                           rd_P=[32, 64, 128, 256, 512, 1024]),
    ("digits", False): dict(n=1797, vw_P=32, vw_N=[128, 256, 512, 1024, 2048], vd_N=16,
                            vd_P=[128, 256, 512, 1024, 2048], rw_N=[16, 32, 64, 128, 256],
                            rd_P=[16, 32, 64, 128, 256]),
    ("mnist1d", False): dict(n=8000, vw_P=32, vw_N=[128, 256, 512, 1024, 2048], vd_N=16,
                             vd_P=[128, 256, 512, 1024, 2048], rw_N=[16, 32, 64, 128, 256, 512],
                             rd_P=[16, 32, 64, 128, 256, 512]),
}


def _dataset(name: str, n: int):
    from scalinglab import datasets

    if name == "torus":
        return datasets.torus_grid(int(n), 2)
    if name == "digits":
        return datasets.load_digits()
    if name == "mnist1d":
        return datasets.load_mnist1d(int(n), seed=0)
    raise ValueError(f"`dataset`: unknown {name!r}")


def simulate(point, seed, n_threads):
    """Sweep function: one regime curve on one data set, GP teacher redrawn from ``seed``."""
    from scalinglab import regimes

    sizes = point["sizes"]
    population = regimes.make_population(_dataset(point["dataset"], sizes["n"]), rng=seed)
    regime = point["regime"]
    if regime == "variance_width":
        return regimes.variance_limited_width(population, sizes["vw_P"], sizes["vw_N"], seed=seed,
                                              n_threads=n_threads)
    if regime == "variance_data":
        return regimes.variance_limited_data(population, sizes["vd_N"], sizes["vd_P"], seed=seed)
    if regime == "resolution_width":
        return regimes.resolution_limited_width(population, sizes["rw_N"], seed=seed)
    return regimes.resolution_limited_data(population, sizes["rd_P"], seed=seed)


def measure(context, name: str):
    """Run the four regimes of data set ``name``; classify them against the spectrum."""
    from scalinglab import regimes

    sizes = _SIZES[(name, bool(context.quick))]
    table = context.sweep(ENTRY, name, "scalinglab.gallery.bahri_regimes:simulate",
                          Grid.product(regime=list(regimes.REGIMES)),
                          seeds=3 if context.quick else 12, rng=11,
                          fixed={"dataset": name, "sizes": sizes})
    dataset = _dataset(name, sizes["n"])
    population = regimes.Population(dataset.X, np.zeros(dataset.n), name=name,
                                    grid_shape=dataset.grid_shape)
    window = sizes["rw_N"]
    prediction = regimes.predict_exponents(regimes.population_spectrum(population),
                                           k_min=window[0], k_max=window[-1], sizes=window,
                                           intrinsic_dimension=dataset.intrinsic_dimension)
    classified = {r: regimes.classify_regime(table[table["regime"] == r], predicted=prediction,
                                             n_bootstrap=100)
                  for r in regimes.REGIMES}
    table = table.assign(dataset=name)
    return table, prediction, classified


def run(context) -> Outcome:
    from scalinglab.plot import plot_regimes

    names = ["torus"] if context.quick else ["torus", "digits", "mnist1d"]
    numbers, summaries, tables, figure_data = {}, [], [], []
    for name in names:
        table, prediction, classified = measure(context, name)
        tables.append(table)
        figure_data.append((name, table, prediction, classified))
        numbers[f"{name}_alpha_K"] = prediction.alpha_K
        numbers[f"{name}_de_alpha"] = prediction.de_alpha_N
        parts = []
        for regime, result in classified.items():
            numbers[f"{name}_{regime}_exponent"] = result.exponent
            parts.append(f"{regime} {result.exponent:.2f} [{result.interval[0]:.2f}, "
                         f"{result.interval[1]:.2f}]")
        summaries.append(f"{name}: alpha_K = {prediction.alpha_K:.2f} (DE {prediction.de_alpha_N:.2f}); "
                         + ", ".join(parts))
    figure, _ = new_figure(1)
    if figure is not None:
        figure.clear()
        figure.set_size_inches(16, 3.6 * len(names))
        grid = figure.subplots(len(names), 4, squeeze=False)
        for row, (name, table, prediction, classified) in zip(grid, figure_data):
            plot_regimes(table, classifications=classified, prediction=prediction, axes=row)
            row[0].set_ylabel(f"{name}: test loss - limit")
    import pandas as pd

    summary = "; ".join(summaries) + " (variance-limited: expected 1; 4/d = 2 on the torus)"
    return context.write_outputs(ENTRY, Outcome(numbers, summary), pd.concat(tables), figure)


ENTRY = Entry("bahri-regimes", "Four scaling regimes (variance- and resolution-limited)",
              "Variance-limited losses fall as 1/N and 1/P toward their limits; resolution-limited "
              "ones as N^-alpha and P^-alpha with alpha = alpha_K from the kernel spectrum (~3/d "
              "for ReLU on a d-torus, not 4/d), equal in N and P (duality).",
              "Bahri, Dyer, Kaplan, Lee & Sharma 2021, arXiv 2102.06701, the four regimes", run)
