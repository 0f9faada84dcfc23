"""matplotlib is optional: with its import blocked, scalinglab imports, fits, solves and runs
the demo (without the PNG); only the plot functions fail, with an ImportError that says what to
install. Runs in a fresh interpreter so that no earlier test has imported matplotlib."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

import scalinglab  # noqa: E402

# The subprocess imports the same scalinglab as this process (installed or in-place build).
PACKAGE_PARENT = Path(scalinglab.__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["matplotlib"] = None  # any `import matplotlib...` now raises ImportError

    import numpy as np
    import scalinglab
    import scalinglab.estimators, scalinglab.fit, scalinglab.plot, scalinglab.solvers
    import scalinglab.spectra, scalinglab.demo, scalinglab.cli

    x = np.logspace(1, 4, 10)
    fit = scalinglab.fit.fit_power_law(x, 0.1 + 2.0 * x**-0.5, offset=True)
    assert abs(fit.exponent - 0.5) < 1e-6, fit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    model = scalinglab.estimators.RandomFeatureRidge(n_features=20, rng=0).fit(X, X[:, 0])
    assert model.predict(X).shape == (40,)

    try:
        scalinglab.plot.plot_scaling_curve(x, fit(x), fit=fit)
    except ImportError as error:
        assert "matplotlib" in str(error), error
    else:
        raise SystemExit("plot_scaling_curve did not raise ImportError")

    result = scalinglab.demo.run_demo(sys.argv[1], quick=True, progress=False, n_threads=2)
    assert result.figure_path is None and result.table_path.exists()
    assert "not installed" in result.report()
    assert not isinstance(sys.modules.get("matplotlib"), type(sys))  # never really imported
    print("ok", round(result.fit.exponent, 3))
    """
)


def test_everything_but_plots_works_without_matplotlib(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PACKAGE_PARENT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.startswith("ok ")
    assert not (tmp_path / "digits_scaling.png").exists()
    assert (tmp_path / "digits_scaling.csv").exists()
