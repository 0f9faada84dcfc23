"""Sphinx configuration of the scalinglab API reference (build: see docs/index.rst)."""

import os
import re

# Documents the importable scalinglab: an installed one, or the source tree's python/ when
# PYTHONPATH=python (in-place builds). Nothing is added to sys.path here on purpose.
import scalinglab

project = "scalinglab"
author = "the scalinglab developers"
copyright = "2026, the scalinglab developers"
release = version = scalinglab.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []

# Types are written in the numpydoc "Parameters" sections; signatures without annotations keep
# the pages readable and avoid references to numpy/pandas types (no intersphinx: builds offline).
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# Every reference must resolve: a broken :func: / See Also entry fails the -W build.
nitpicky = True
nitpick_ignore_regex = [
    # External libraries' objects (no intersphinx: the build works offline).
    (r"py:.*", r"(np|numpy|pd|pandas|scipy|sklearn|matplotlib|xarray|tqdm|dask|distributed|pyarrow)(\..*)?"),
    (r"py:.*", r"(collections\.abc|concurrent\.futures|typing|dataclasses|enum|os|pathlib)\..*"),
]
os.environ.setdefault("MPLBACKEND", "Agg")

# The docstrings write norms and determinants as |x| in plain text (they are read with help()
# far more than here); reStructuredText would take |x| for a substitution. Escape bare "|"
# outside literal blocks and backquoted spans before numpydoc and docutils see the text.
_BACKQUOTED = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _escape_bars(line):
    pieces, last = [], 0
    for span in _BACKQUOTED.finditer(line):
        pieces.append(re.sub(r"(?<!\\)\|", r"\\|", line[last:span.start()]))
        pieces.append(span.group(0))
        last = span.end()
    pieces.append(re.sub(r"(?<!\\)\|", r"\\|", line[last:]))
    return "".join(pieces)


def _escape_docstring_bars(app, what, name, obj, options, lines):
    literal_indent = None  # indentation of the paragraph that opened a literal block ("::")
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        if stripped.endswith("::"):
            literal_indent = indent
            lines[i] = _escape_bars(line)
            continue
        if "|" in line:
            lines[i] = _escape_bars(line)


def _resolve_top_level_names(app, env, node, contnode):
    """``scalinglab.learning_curve`` (a re-export) resolves to where it is documented."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("scalinglab."):
        return None
    name = target[len("scalinglab."):]
    obj = getattr(scalinglab, name, None) if "." not in name else None
    module = getattr(obj, "__module__", None)
    if obj is None or not module or module == "scalinglab":
        return None
    node["reftarget"] = f"{module}.{name}"
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                               node["reftarget"], node, contnode)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_docstring_bars, priority=100)
    app.connect("missing-reference", _resolve_top_level_names)
