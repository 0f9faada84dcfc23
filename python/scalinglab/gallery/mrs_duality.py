"""MRS's N <-> P duality: L(N, P) = L(P, N) for the isotropic teacher, broken when a != b."""

from __future__ import annotations

import numpy as np

from scalinglab.gallery._context import Entry, Outcome, new_figure
from scalinglab.gallery.mrs_plateau import latent_task
from scalinglab.sweep import Grid

ALPHA = 1.0
#: w_I = I^-0.5 gives lambda_I w_I^2 = I^-3: BAP a = 3 against b = 1 + alpha = 2.
TEACHER_DECAY = 0.5
PIVOT = 150


def simulate(point, seed, n_threads):
    """Sweep function: the pivot row (``layout="row"``: N = pivot, P over ``sizes``) or column
    (N over ``sizes``, P = pivot) of :func:`scalinglab.gallery.mrs_plateau.simulate`."""
    from scalinglab.gallery.mrs_plateau import simulate as grid_simulate

    row = point["layout"] == "row"
    sizes = point["sizes"]
    layout = {"N": [point["pivot"]] if row else sizes, "P": sizes if row else [point["pivot"]]}
    return grid_simulate({**point, **layout}, seed, n_threads)


def run(context) -> Outcome:
    import pandas as pd

    from scalinglab.gallery._common import seed_mean
    from scalinglab.latent import latent_test_loss

    M = 1000 if context.quick else 4000
    seeds = 6 if context.quick else 32
    sizes = [50, 100, PIVOT, 300, 450]
    kinds = {"isotropic": None, "anisotropic": TEACHER_DECAY}
    # The pivot row and column only (N = pivot, P = x and N = x, P = pivot): every solve is then
    # at most pivot x pivot; both are prefixes of one streamed pass per seed and teacher.
    grid = Grid.product(teacher_decay=list(kinds.values()), layout=["row", "column"])
    table = context.sweep(ENTRY, "pivot", "scalinglab.gallery.mrs_duality:simulate", grid,
                          seeds=seeds, rng=7, fixed={"alpha": ALPHA, "M": M, "pivot": PIVOT,
                                                     "sizes": sizes})
    # The pivot point (N = P = pivot) is in both layouts; keep one copy.
    table = table.drop_duplicates(["teacher_decay", "seed", "N", "P"], ignore_index=True)
    numbers, curves = {}, {}
    for kind, decay in kinds.items():
        task = latent_task({"alpha": ALPHA, "M": M, "teacher_decay": decay})
        rows = table[table["teacher_decay"].isna()] if decay is None else \
            table[table["teacher_decay"] == decay]
        sim = seed_mean(rows, ["N", "P"])
        lookup = sim.set_index(["N", "P"])
        # Ratio of L(N = pivot, P = x) to L(N = x, P = pivot), off the interpolation peak.
        others = [x for x in sizes if x != PIVOT]
        sim_ratio = [lookup.loc[(PIVOT, x), "mean"] / lookup.loc[(x, PIVOT), "mean"] for x in others]
        theory_ratio = [latent_test_loss(task, PIVOT, x)["test_loss"][0]
                        / latent_test_loss(task, x, PIVOT)["test_loss"][0] for x in others]
        numbers[f"ratio_simulation_{kind}_450"] = float(sim_ratio[-1])
        numbers[f"ratio_theory_{kind}_450"] = float(theory_ratio[-1])
        numbers[f"ratio_simulation_{kind}_50"] = float(sim_ratio[0])
        numbers[f"ratio_theory_{kind}_50"] = float(theory_ratio[0])
        theory_grid = latent_test_loss(task, sim["N"].to_numpy(), sim["P"].to_numpy())
        merged = sim.merge(theory_grid[["N", "P", "test_loss"]], on=["N", "P"])
        merged = merged[merged["N"] != merged["P"]]
        numbers[f"largest_ratio_error_{kind}"] = float(np.max(np.abs(merged["mean"]
                                                                    / merged["test_loss"] - 1)))
        curves[kind] = (task, sim, lookup)
    figure, axes = new_figure(2)
    if figure is not None:
        fine = np.geomspace(30, 600, 150)
        fine = fine[np.abs(fine / PIVOT - 1) > 0.03]
        for ax, (kind, (task, sim, lookup)) in zip(axes, curves.items()):
            vary_N = latent_test_loss(task, fine, PIVOT)["test_loss"]
            vary_P = latent_test_loss(task, PIVOT, fine)["test_loss"]
            ax.plot(fine, vary_N, "C0-", label=f"L(N, P={PIVOT}) theory")
            ax.plot(fine, vary_P, "C1--", label=f"L(N={PIVOT}, P) theory")
            pts = [x for x in sizes if x != PIVOT]
            ax.errorbar(pts, [lookup.loc[(x, PIVOT), "mean"] for x in pts],
                        yerr=[lookup.loc[(x, PIVOT), "sem"] for x in pts], fmt="o", color="C0",
                        label="vary N, simulation")
            ax.errorbar(pts, [lookup.loc[(PIVOT, x), "mean"] for x in pts],
                        yerr=[lookup.loc[(PIVOT, x), "sem"] for x in pts], fmt="x", color="C1",
                        ms=8, label="vary P, simulation")
            title = ("isotropic teacher (a = b): dual" if kind == "isotropic"
                     else f"w_I = I^-{TEACHER_DECAY} (a = 3, b = 2): not dual")
            ax.set(xscale="log", yscale="log", xlabel="N or P", ylabel="test loss (ridgeless)",
                   title=title)
            ax.legend(fontsize=7)
    summary = (f"L({PIVOT}, 450) / L(450, {PIVOT}): isotropic "
               f"{numbers['ratio_simulation_isotropic_450']:.3f} (simulation), "
               f"{numbers['ratio_theory_isotropic_450']:.3f} (theory); a != b "
               f"{numbers['ratio_simulation_anisotropic_450']:.3f} (simulation), "
               f"{numbers['ratio_theory_anisotropic_450']:.3f} (theory); sim vs theory within "
               f"{100 * max(numbers['largest_ratio_error_isotropic'], numbers['largest_ratio_error_anisotropic']):.1f}% off the peak")
    data = table.assign(teacher=np.where(table["teacher_decay"].isna(), "isotropic",
                                         f"I^-{TEACHER_DECAY}"))
    return context.write_outputs(ENTRY, Outcome(numbers, summary), pd.DataFrame(data), figure)


ENTRY = Entry("mrs-duality", "N <-> P duality (MRS)",
              "For the isotropic teacher the ridgeless test loss is symmetric, L(N, P) = L(P, N); "
              "a teacher whose power decays faster than the spectrum (a != b) breaks the symmetry.",
              "Maloney, Roberts & Sully 2022, arXiv 2210.16859, the duality section; "
              "Zhang 2024, arXiv 2405.19398", run)
