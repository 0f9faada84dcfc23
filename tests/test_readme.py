"""The README's example runs as written and prints what it claims."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.skipif(not README.exists(), reason="needs the source tree")
def test_readme_example_runs_and_agrees_with_theory():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(blocks[0], str(README), "exec"), {})
    text = printed.getvalue()
    z = float(re.search(r"in standard errors: ([0-9.]+)", text).group(1))
    assert z < 3.5  # 41 correlated times of one 30-seed run: the largest |z| stays below ~3
    exponent = float(re.search(r"Gram error exponent: ([0-9.]+)", text).group(1))
    assert abs(exponent - 0.5) < 0.1  # Monte Carlo rate N^-1/2
