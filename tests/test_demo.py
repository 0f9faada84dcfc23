"""The `scalinglab demo` command in quick mode: it prints a table and a sane exponent, and
writes a CSV and a PNG."""

import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from scalinglab.cli import main  # noqa: E402
from scalinglab.demo import run_demo  # noqa: E402
from scalinglab.results import check_schema  # noqa: E402


def test_demo_quick_writes_png_and_prints_exponent(tmp_path, capsys):
    out = tmp_path / "demo"
    status = main(["demo", "--quick", "--out", str(out), "--rng", "0", "--n-threads", "2",
                   "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out

    png = out / "digits_scaling.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    table = pd.read_csv(out / "digits_scaling.csv")
    assert list(table.columns) == ["N", "P", "train_loss", "test_loss", "test_error"]
    assert table["N"].tolist() == [16, 32, 64, 128, 256, 512, 1024]
    # More features fit better: test MSE falls by more than 3x from N = 16 to N = 1024 (it is
    # about 0.65 -> 0.10 for seed 0), and 1024 ReLU features classify digits to better than 5%.
    assert table["test_loss"].iloc[-1] < table["test_loss"].iloc[0] / 3
    assert table["test_error"].iloc[-1] < 0.05
    assert check_schema(table, required=("N", "P", "train_loss", "test_loss")) is table
    assert (table["train_loss"].diff().dropna() < 0).all()

    match = re.search(r"alpha = ([0-9.]+) \+- ([0-9.]+)", printed)
    assert match, printed
    alpha, alpha_error = float(match.group(1)), float(match.group(2))
    # A sane exponent: positive, below the trivial bound of a finite-dimensional fit (1), and
    # determined to better than +-0.2 by seven widths.
    assert 0.2 < alpha < 1.0
    assert 0 < alpha_error < 0.2
    assert "test_loss" in printed and "figure:" in printed


def test_demo_rejects_bad_arguments_before_work(tmp_path, capsys):
    with pytest.raises(ValueError, match="`ridge`"):
        run_demo(tmp_path, ridge=-1.0, quick=True, progress=False)
    with pytest.raises(ValueError, match="`test_fraction`"):
        run_demo(tmp_path, test_fraction=1.5, quick=True, progress=False)
    assert not (tmp_path / "digits_scaling.csv").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--n-threads", "-1"])
    assert exit_info.value.code == 2
    assert main(["demo", "--quick", "--ridge", "-1", "--out", str(tmp_path)]) == 2
    assert "`ridge`" in capsys.readouterr().err


def test_demo_result_object(tmp_path):
    result = run_demo(tmp_path, quick=True, progress=False, rng=np.random.default_rng(1),
                      n_threads=2)
    assert result.n_train + result.n_test == 1797
    assert result.fit.with_offset and result.fit(1024.0) > 0
    assert "alpha" in result.report()
    assert result.figure_path.exists()
