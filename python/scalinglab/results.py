"""One result schema for every curve producer, and N-D views of it.

Every function of scalinglab that returns losses returns a tidy :class:`pandas.DataFrame`, one row
per observation, with these column names for these quantities (extra, model-specific columns such
as ``ridge``, ``subtask`` or ``ensemble`` may follow; paper notation such as PPXP's ``risk`` or
``flops`` appears only as an extra column, never instead of these):

========== ====================================================================================
column     quantity
========== ====================================================================================
N          model size: random features, width or parameters (float; ``inf`` = infinite width)
P          training samples (float; ``inf`` where the population / fresh samples are used)
t          training time: gradient-flow time (learning rate 1) or a step count
seed       replicate label of a simulation (absent in theory tables)
test_loss  clean-target test mean squared error E_x (f - f*)^2 (no factor 1/2)
train_loss mean squared error on the training set (1/P) sum (y - f)^2, where defined
compute    compute spent, where defined (N t for the BAP model; d B r flops for PPXP)
========== ====================================================================================

:func:`to_xarray` turns such a table into an :class:`xarray.Dataset` with named dimensions
(xarray is an optional dependency, imported only there).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The shared column names, in their canonical order.
SCHEMA_COLUMNS = ("N", "P", "t", "seed", "test_loss", "train_loss", "compute")
#: Columns that identify an observation (the coordinates of an N-D grid).
COORDINATE_COLUMNS = ("seed", "N", "P", "t")
#: Columns that hold measured or predicted values.
VALUE_COLUMNS = ("test_loss", "train_loss", "compute")

# Names the schema replaces; a table carrying one of these instead of the schema name is refused
# by check_schema, so paper notation cannot creep back in as the only name of a quantity.
_FORBIDDEN_SYNONYMS = {"risk": "test_loss", "excess_risk": "test_loss", "flops": "compute",
                       "C": "compute", "step": "t", "d": "N", "n_features": "N"}


def check_schema(frame: pd.DataFrame, required: Sequence[str] = ("test_loss",)) -> pd.DataFrame:
    """Check that ``frame`` follows the shared result schema; return it unchanged.

    Parameters
    ----------
    frame : pandas.DataFrame
        A result table.
    required : sequence of str
        Schema columns that must be present (each must be one of :data:`SCHEMA_COLUMNS`).

    Raises
    ------
    TypeError
        ``frame`` is not a DataFrame.
    ValueError
        A required column is missing, a schema column has a non-numeric dtype, or the table uses
        a synonym (``risk``, ``flops``, ``C``, ``step``, ``d``, ``n_features``) *instead of* the
        schema name.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`frame`: expected a pandas DataFrame, got {type(frame).__name__}")
    for name in required:
        if name not in SCHEMA_COLUMNS:
            raise ValueError(f"`required`: {name!r} is not a schema column {SCHEMA_COLUMNS}")
        if name not in frame.columns:
            raise ValueError(f"`frame`: missing the schema column {name!r}; has {list(frame.columns)}")
    for synonym, name in _FORBIDDEN_SYNONYMS.items():
        if synonym in frame.columns and name not in frame.columns:
            raise ValueError(
                f"`frame`: column {synonym!r} stands for the schema column {name!r}, which is missing"
            )
    for name in SCHEMA_COLUMNS:
        if name in frame.columns and not pd.api.types.is_numeric_dtype(frame[name]):
            raise ValueError(f"`frame`: schema column {name!r} must be numeric, got {frame[name].dtype}")
    return frame


def to_xarray(frame: pd.DataFrame, dims: Sequence[str] | None = None,
              values: Sequence[str] | None = None):
    """An :class:`xarray.Dataset` with named dimensions from a tidy result table.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table in the shared schema (one row per observation).
    dims : sequence of str, optional
        The coordinate columns that become dimensions. Default: those of ``seed``, ``N``, ``P``,
        ``t`` present in the table, plus any non-value column that varies (e.g. ``ridge``).
    values : sequence of str, optional
        The columns that become data variables. Default: every other numeric column.

    Returns
    -------
    xarray.Dataset
        One variable per value column, indexed by ``dims``; grid points absent from the table are
        NaN. Columns that are constant over the whole table become scalar attributes.

    Raises
    ------
    ImportError
        xarray is not installed (``pip install xarray``).
    ValueError
        ``dims`` do not identify rows uniquely, or name a missing column.
    """
    try:
        import xarray  # noqa: F401  (optional dependency)
    except ImportError as error:  # pragma: no cover - exercised by test_without_xarray
        raise ImportError("to_xarray needs xarray: pip install xarray") from error
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`frame`: expected a pandas DataFrame, got {type(frame).__name__}")
    constant = [c for c in frame.columns if frame[c].nunique(dropna=False) <= 1 and len(frame) > 1]
    if dims is None:
        dims = [c for c in COORDINATE_COLUMNS if c in frame.columns and c not in constant]
        extra = [c for c in frame.columns
                 if c not in SCHEMA_COLUMNS and c not in constant and c not in dims
                 and not pd.api.types.is_float_dtype(frame[c])]
        dims = dims + extra
    dims = list(dims)
    for name in dims:
        if name not in frame.columns:
            raise ValueError(f"`dims`: {name!r} is not a column of the table")
    if values is None:
        values = [c for c in frame.columns if c not in dims and c not in constant
                  and pd.api.types.is_numeric_dtype(frame[c])]
    values = list(values)
    for name in values:
        if name not in frame.columns:
            raise ValueError(f"`values`: {name!r} is not a column of the table")
    if dims and frame.duplicated(subset=dims).any():
        raise ValueError(f"`dims`: {dims} do not identify the rows uniquely; add a dimension")
    indexed = frame.set_index(dims)[values] if dims else frame[values]
    dataset = indexed.to_xarray()
    for name in constant:
        if name not in dims and name not in values:
            value = frame[name].iloc[0]
            dataset.attrs[name] = value.item() if isinstance(value, np.generic) else value
    return dataset
