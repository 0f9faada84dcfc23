"""The Sphinx API reference builds with warnings as errors (a broken reference or a docstring
that reStructuredText cannot parse fails here)."""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.slow  # ~5 s of CPU, 20-40 s of wall time on a loaded 2-core machine
@pytest.mark.skipif(not (DOCS / "conf.py").exists(), reason="needs the source tree")
def test_sphinx_html_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(out)],
        capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    pages = {p.stem for p in out.glob("*.html")}
    for page in ("index", "tasks", "features", "solvers", "dynamics", "theory", "sgd_theory",
                 "analysis", "embedding"):
        assert page in pages, f"docs page {page}.html missing"
    # Autodoc really ran: a public function's signature is on its page.
    assert "learning_curve_theory" in (out / "theory.html").read_text()
    # The README example is on the front page (highlighted: compare the text without tags).
    front = re.sub(r"<[^>]+>", "", (out / "index.html").read_text())
    assert "sl.PowerLawTask(a=2.0, b=1.5, M=1500)" in html.unescape(front)
