"""Argument checks shared by the public API.

Python validates meaning ("`ridge` must be >= 0, got -1.0"); the bindings validate shape and
dtype again at the boundary. Every message names the argument and says what was expected.
"""

from __future__ import annotations

import math
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


def assign_fields(instance, **values) -> None:
    """Store validated values on a frozen dataclass from its ``__post_init__``.

    ``assign_fields(self, a=real_number(self.a, "a"), M=positive_int(self.M, "M"))`` replaces one
    ``object.__setattr__(self, name, value)`` line per field (frozen dataclasses refuse plain
    assignment).
    """
    for name, value in values.items():
        object.__setattr__(instance, name, value)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def capacity(value, name: str, *, allow_infinite: bool = True) -> float:
    """A count (model size N, sample count P, ensemble E): a positive integer, or ``numpy.inf``.

    Returns a float (``inf`` for infinity) so that a grid of counts is one float array.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if _is_real(value) and math.isinf(value):
        if value < 0:
            raise ValueError(f"`{name}`: must be positive, got {value}")
        if not allow_infinite:
            raise ValueError(f"`{name}`: infinity is not allowed here")
        return math.inf
    return float(positive_int(value, name))


def grid(values, name: str, *, allow_infinite: bool = True, sort: bool = True) -> list[float]:
    """A grid of counts from a scalar or a 1-D sequence: positive integers (or inf), as floats.

    Parameters
    ----------
    values : int, numpy.inf, or 1-D sequence of them
    name : str
        Argument name for error messages.
    allow_infinite : bool
        Whether ``numpy.inf`` (infinite width / data) is accepted.
    sort : bool
        True: sorted unique values. False: the values in the given order (duplicates kept).
    """
    if np.ndim(values) == 0:
        items = [values]
    else:
        array = np.asarray(values, dtype=object)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                f"`{name}`: expected a positive integer, numpy.inf, or a non-empty 1-D sequence of "
                f"them, got shape {array.shape}"
            )
        items = array.tolist()
    out = [capacity(v, name, allow_infinite=allow_infinite) for v in items]
    return sorted(set(out)) if sort else out


def times(t, name: str = "t", *, integer: bool = False, integer_reason: str | None = None) -> np.ndarray:
    """Non-empty 1-D float array of times >= 0 (whole numbers when ``integer``: step counts).

    ``integer_reason`` completes the message for non-integer times (default "GD and SGD count
    steps").
    """
    array = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"`{name}`: expected a scalar or a non-empty 1-D array of times, got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"`{name}`: times must be finite and >= 0")
    if integer and not np.all(array == np.round(array)):
        reason = integer_reason or "GD and SGD count steps"
        raise ValueError(f"`{name}`: {reason}, so times must be whole numbers")
    return np.ascontiguousarray(array)


def _whole_numbers(values, name: str, what: str) -> np.ndarray:
    """A non-empty 1-D int64 array from integers or whole-valued floats (a scalar is one value)."""
    array = np.asarray(values)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"`{name}`: expected a non-empty 1-D sequence of {what}, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array))
                and np.all(array == np.round(array))):
            raise TypeError(f"`{name}`: expected integer {what}, got {values!r}")
    return array.astype(np.int64)


def steps(values, name: str = "steps", *, unique: bool = True) -> np.ndarray:
    """Non-empty 1-D int64 array of step counts >= 0 (sorted and unique when ``unique``).

    Integer dtypes and whole-valued floats are accepted; anything else is a TypeError.
    """
    array = _whole_numbers(values, name, "step counts")
    if np.any(array < 0):
        raise ValueError(f"`{name}`: step counts must be >= 0")
    return np.unique(array) if unique else array


def increasing_widths(values, name: str, *, maximum: int, maximum_name: str) -> list[int]:
    """Strictly increasing integer widths in [1, maximum] (feature-stream checkpoints)."""
    if np.ndim(values) == 0:
        raise ValueError(f"`{name}`: expected a non-empty 1-D sequence of widths, got a scalar")
    result = [int(v) for v in _whole_numbers(values, name, "widths")]
    if result[0] < 1 or result[-1] > maximum:
        raise ValueError(
            f"`{name}`: every width must be in [1, {maximum_name} = {maximum}], got {result}"
        )
    if any(b <= a for a, b in zip(result, result[1:])):
        raise ValueError(f"`{name}`: must be strictly increasing, got {result}")
    return result


def seed_labels(seeds, name: str = "seeds") -> list[int]:
    """Replicate labels: a count n (labels 0..n-1) or a sequence of distinct ints >= 0.

    A label names a replicate in a result table (column ``seed``); the randomness of replicate
    s is keyed by ``derive_seed(base_key, s)``, so adding labels never changes earlier ones.
    """
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, (bool, np.bool_)):
        return list(range(positive_int(seeds, name)))
    try:
        labels = [int(positive_int(s, name, minimum=0)) for s in seeds]
    except TypeError:
        raise TypeError(f"`{name}`: expected a count or a sequence of ints, got {seeds!r}") from None
    if not labels:
        raise ValueError(f"`{name}`: expected at least one seed")
    if len(set(labels)) != len(labels):
        raise ValueError(f"`{name}`: labels must be distinct, got {labels}")
    return labels


def n_threads_arg(n_threads) -> int:
    """The threads keyword: 0 = automatic (all cores, eigensolvers by the calibrated rule), else
    a positive count, honoured as given.

    The first automatic use in a process sets the core's per-machine eigen crossover
    (``scalinglab._calibration``; measured once per machine and cached).
    """
    value = positive_int(n_threads, "n_threads", minimum=0)
    if value == 0:
        from scalinglab._calibration import ensure_calibrated

        ensure_calibrated()
    return value


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
