"""Argument checks shared by the public API.

Python validates meaning ("`ridge` must be >= 0, got -1.0"); the bindings validate shape and
dtype again at the boundary. Every message names the argument and says what was expected.
"""

from __future__ import annotations

import numbers

import numpy as np

_DTYPES = {"float64": np.float64, "float32": np.float32, np.float64: np.float64, np.float32: np.float32}


def as_dtype(dtype, name: str = "dtype") -> type:
    """Normalise a float dtype argument to ``np.float64`` or ``np.float32``."""
    try:
        key = np.dtype(dtype).type
    except TypeError:
        key = None
    if key not in (np.float64, np.float32):
        raise ValueError(f"`{name}`: expected float64 or float32, got {dtype!r}")
    return key


def as_matrix(X, name: str, dtype=np.float64, n_cols: int | None = None) -> np.ndarray:
    """Return ``X`` as a finite, C-contiguous 2-D array of ``dtype`` (copying only if needed).

    A 1-D array is not silently reshaped: the shape (n, d) must be explicit.
    """
    array = np.asarray(X)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise TypeError(f"`{name}`: expected a real numeric array, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"`{name}`: expected a 2-D array of shape (n, d), got shape {array.shape}")
    if n_cols is not None and array.shape[1] != n_cols:
        raise ValueError(
            f"`{name}`: expected {n_cols} columns (the input dimension d), got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"`{name}`: expected at least one row, got shape {array.shape}")
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}`: contains NaN or infinity")
    return array


def as_vector(y, name: str, dtype=np.float64, length: int | None = None) -> np.ndarray:
    """Return ``y`` as a finite contiguous 1-D array (of ``length`` if given)."""
    array = np.asarray(y)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"`{name}`: expected a real numeric array, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"`{name}`: expected a 1-D array, got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise ValueError(f"`{name}`: expected length {length}, got {array.shape[0]}")
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}`: contains NaN or infinity")
    return array


def positive_int(value, name: str, minimum: int = 1) -> int:
    """Check an integer count (``n_features``, ``N``, ...) is an int >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer() and np.isfinite(value):
            value = int(value)
        else:
            raise TypeError(f"`{name}`: expected an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"`{name}`: must be >= {minimum}, got {value}")
    return value


def real_number(value, name: str, minimum: float | None = None, strict: bool = False) -> float:
    """Check a finite real number, optionally >= minimum (> minimum when ``strict``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}`: expected a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"`{name}`: must be finite, got {value}")
    if minimum is not None:
        if strict and not value > minimum:
            raise ValueError(f"`{name}`: must be > {minimum}, got {value}")
        if not strict and not value >= minimum:
            raise ValueError(f"`{name}`: must be >= {minimum}, got {value}")
    return value


def n_threads_arg(n_threads) -> int:
    """The threads keyword: 0 = all cores, else a positive count."""
    return positive_int(n_threads, "n_threads", minimum=0)


def check_memory(n_bytes: float, what: str, name: str, limit_fraction: float = 0.8) -> None:
    """Raise MemoryError before allocating ``n_bytes`` if that exceeds the available memory."""
    available = available_memory_bytes()
    if available is not None and n_bytes > limit_fraction * available:
        raise MemoryError(
            f"`{name}`: {what} would need {n_bytes / 2**30:.1f} GiB, more than "
            f"{limit_fraction:.0%} of the {available / 2**30:.1f} GiB available"
        )


def available_memory_bytes() -> float | None:
    """Available physical memory in bytes (Linux /proc/meminfo), or None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None
