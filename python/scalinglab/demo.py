"""The ``scalinglab demo`` experiment: how random-feature ridge regression on handwritten digits
improves with the number of features N.

scikit-learn's bundled digits (1797 images of 8 x 8 pixels, 10 classes; no download) are split
into train and test sets and standardised pixel by pixel with the training statistics. One
streamed pass over the largest width gives the train Gram and the test-by-train Gram at every N
of a log grid (features are a prefix stream, so the Gram at N' < N is a snapshot of the same
pass). At each N, ridge regression on one-hot targets gives the test mean squared error and the
misclassification rate (argmax of the 10 outputs); the test MSE is fitted with
``E + c N^-alpha`` (:func:`scalinglab.fit.fit_power_law`). Outputs: a table (CSV), the fit, and a
PNG with the curve and the fit.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglab._progress import progress_reporter
from scalinglab._rng import as_generator
from scalinglab._validation import n_threads_arg, real_number
from scalinglab.fit import PowerLawFit, fit_power_law
from scalinglab.solvers import ridge_dual_coef

__all__ = ["DemoResult", "run_demo"]

FULL_WIDTHS = tuple(2**j for j in range(4, 14))  # 16 .. 8192
QUICK_WIDTHS = tuple(2**j for j in range(4, 11))  # 16 .. 1024
DEFAULT_RIDGE = 1e-5
"""Small enough to approach the ridgeless curve, large enough to remove the interpolation peak
at N = P (with ridge 1e-6 the test error rises around N ~ P = 1348)."""


@dataclass(frozen=True)
class DemoResult:
    """What ``run_demo`` produced.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per width in the shared result schema (:mod:`scalinglab.results`): ``N``
        (random features), ``P`` (training images), ``train_loss`` and ``test_loss`` (mean over
        samples of the squared error of the 10-dimensional one-hot prediction) and
        ``test_error`` (misclassification rate).
    fit : PowerLawFit
        ``test_loss(N) = E + c N^-alpha``.
    figure_path : pathlib.Path or None
        The PNG (None when matplotlib is missing).
    table_path : pathlib.Path
        The table as CSV.
    n_train, n_test : int
    ridge : float
    """

    table: pd.DataFrame
    fit: PowerLawFit
    figure_path: Path | None
    table_path: Path
    n_train: int
    n_test: int
    ridge: float

    def report(self) -> str:
        """A short human-readable summary: the table and the fitted exponent."""
        lines = [
            f"Random-feature ridge (ReLU) on scikit-learn digits: {self.n_train} train, "
            f"{self.n_test} test images, ridge = {self.ridge:g}",
            "",
            self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            "",
            f"test MSE ~ E + c N^-alpha:  alpha = {self.fit.exponent:.3f} +- "
            f"{self.fit.exponent_stderr:.3f}   (E = {self.fit.offset:.4f} +- "
            f"{self.fit.offset_stderr:.4f}, c = {self.fit.prefactor:.3g})",
            f"table:  {self.table_path}",
        ]
        if self.figure_path is not None:
            lines.append(f"figure: {self.figure_path}")
        else:
            lines.append("figure: not written (matplotlib is not installed: "
                         "pip install 'scalinglab[demo]')")
        return "\n".join(lines)


def _load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "the demo uses scikit-learn's bundled digits: pip install 'scalinglab[demo]'"
        ) from error
    return load_digits(return_X_y=True)


def _write_atomically(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _figure(table: pd.DataFrame, fit: PowerLawFit, path: Path) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    from scalinglab.plot import plot_scaling_curve

    figure = Figure(figsize=(10, 4.2), layout="constrained")
    left, right = figure.subplots(1, 2)
    N = table["N"].to_numpy()
    plot_scaling_curve(N, table["test_loss"], fit=fit, ax=left, label="test MSE",
                       xlabel="number of random features N", ylabel="error")
    left.plot(N, table["test_error"], marker="s", linestyle=":", label="misclassification rate")
    left.legend(fontsize=8)
    left.set_title("digits, ReLU random features, ridge")
    plot_scaling_curve(N, table["test_loss"], fit=fit, subtract_offset=True, ax=right,
                       label="test MSE - E", xlabel="number of random features N",
                       ylabel="test MSE")
    right.legend(fontsize=8)
    right.set_title(f"slope $-\\alpha$, $\\alpha$ = {fit.exponent:.2f} $\\pm$ "
                    f"{fit.exponent_stderr:.2f}")
    _write_atomically(path, lambda name: figure.savefig(name, dpi=110, format="png"))
    return True


def run_demo(out="scalinglab-demo", *, rng=0, n_threads: int = 0, quick: bool = False,
             ridge: float = DEFAULT_RIDGE, test_fraction: float = 0.25,
             progress: bool | None = None) -> DemoResult:
    """Run the digits scaling experiment and write its table and figure into ``out``.

    Parameters
    ----------
    out : str or os.PathLike
        Output folder (created if missing): ``digits_scaling.csv`` and ``digits_scaling.png``.
    rng : None, int or numpy.random.Generator
        Randomness of the train/test split and of the feature weights.
    n_threads : int
        Threads (0 = all cores).
    quick : bool
        Widths 16..1024 instead of 16..8192 (for tests).
    ridge : float
        Ridge in the convention of :mod:`scalinglab.solvers` (shift P * ridge).
    test_fraction : float
        Fraction of the 1797 images held out, in (0, 1).
    progress : bool or None
        Progress bars (tqdm, on stderr) for the Gram pass and the solves: True, False, or None
        (automatic: on a terminal or notebook, for the full run).

    Returns
    -------
    DemoResult
    """
    from scalinglab.features import RandomFeatures

    n_threads = n_threads_arg(n_threads)
    ridge = real_number(ridge, "ridge", minimum=0.0)
    test_fraction = real_number(test_fraction, "test_fraction", minimum=0.0, strict=True)
    if test_fraction >= 1:
        raise ValueError(f"`test_fraction`: must be < 1, got {test_fraction}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator = as_generator(rng)

    images, labels = _load_digits()
    order = generator.permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    test, train = order[:n_test], order[n_test:]
    mean = images[train].mean(axis=0)
    # Standardise each pixel, with the scale floored at one grey level (of 16): border pixels
    # that are almost always blank have a tiny training std, and dividing by it turned a rare
    # ink stroke into a value of ~100 that dominated w . x for that image (test MSE above 1
    # at small N for some splits).
    scale = np.maximum(images[train].std(axis=0), 1.0)
    inputs = (images - mean) / scale
    X_train, X_test = inputs[train], inputs[test]
    targets = np.eye(10)[labels]
    Y_train, Y_test = targets[train], targets[test]
    P = len(train)

    widths = QUICK_WIDTHS if quick else FULL_WIDTHS
    features = RandomFeatures(inputs.shape[1], widths[-1], "relu", rng=generator)
    # One pass over the features gives the train Gram (syrk: symmetric by construction) and the
    # test-by-train Gram at every width.
    grams = features.train_test_gram(X_train, X_test, checkpoints=list(widths),
                                     n_threads=n_threads, progress=progress)

    rows = []
    with progress_reporter(progress, len(widths), desc="ridge solves", unit="N",
                           long=not quick) as reporter:
        for N in widths:
            K, K_test = (np.asarray(block) for block in grams.pop(N))
            alpha = ridge_dual_coef(K, Y_train, ridge, n_threads=n_threads)
            fitted, predicted = K @ alpha, K_test @ alpha
            rows.append({
                "N": float(N),
                "P": float(P),
                "train_loss": float(np.mean(np.sum((fitted - Y_train) ** 2, axis=1))),
                "test_loss": float(np.mean(np.sum((predicted - Y_test) ** 2, axis=1))),
                "test_error": float(np.mean(predicted.argmax(axis=1) != labels[test])),
            })
            reporter.advance(1)
    table = pd.DataFrame(rows)
    fit = fit_power_law(table["N"], table["test_loss"], offset=True)

    table_path = out / "digits_scaling.csv"
    _write_atomically(table_path, lambda name: table.to_csv(name, index=False))
    figure_path = out / "digits_scaling.png"
    if not _figure(table, fit, figure_path):
        figure_path = None
    return DemoResult(table=table, fit=fit, figure_path=figure_path, table_path=table_path,
                      n_train=P, n_test=n_test, ridge=ridge)
