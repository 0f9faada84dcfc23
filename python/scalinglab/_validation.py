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


def real_array(X, name: str) -> np.ndarray:
    """``np.asarray(X)`` for real numeric data, with a message naming the argument otherwise.

    Sparse matrices, ragged sequences, strings, booleans (as arrays), complex numbers and
    objects that are not numbers are refused; an object array of real numbers is converted.
    """
    module = type(X).__module__ or ""
    if module.startswith("scipy.sparse") or hasattr(X, "tocsr"):
        raise TypeError(
            f"`{name}`: sparse input is not supported (dense data is required); "
            "convert with X.toarray()"
        )
    try:
        array = np.asarray(X)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{name}`: expected a rectangular numeric array, got {type(X).__name__} ({error})"
        ) from None
    if array.dtype == object:
        try:
            array = np.asarray(array, dtype=np.float64)
        except (ValueError, TypeError) as error:
            raise TypeError(
                f"`{name}`: expected a real numeric array, got dtype object whose elements are "
                f"not all real numbers ({error})"
            ) from None
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(
            f"`{name}`: Complex data not supported (expected a real numeric array, got dtype "
            f"{array.dtype}; numpy would silently drop the imaginary part): pass X.real "
            "explicitly if that is what you mean"
        )
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"`{name}`: expected a real numeric array, got dtype {array.dtype}")
    return array


def real_floats(values, name: str) -> np.ndarray:
    """``np.asarray(values, dtype=float)`` with the refusals of :func:`real_array` (any shape)."""
    return real_array(values, name).astype(np.float64)


def as_matrix(X, name: str, dtype=np.float64, n_cols: int | None = None,
              min_cols: int = 1) -> np.ndarray:
    """Return ``X`` as a finite, C-contiguous 2-D array of ``dtype`` (copying only if needed).

    A 1-D array is not silently reshaped: the shape (n, d) must be explicit. At least one row
    and ``min_cols`` columns are required (a 0-column input has no meaningful kernel). Values
    that overflow ``dtype`` (e.g. 1e300 as float32) are refused like NaN and infinity.
    """
    array = real_array(X, name)
    if array.ndim != 2:
        hint = (". Reshape your data: X.reshape(-1, 1) for one feature, X.reshape(1, -1) "
                "for one sample" if array.ndim == 1 else "")
        raise ValueError(
            f"`{name}`: expected a 2-D array of shape (n, d), got shape {array.shape}{hint}"
        )
    if n_cols is not None and array.shape[1] != n_cols:
        raise ValueError(
            f"`{name}`: expected {n_cols} columns (the input dimension d), got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"`{name}`: expected at least one row, got shape {array.shape}")
    if array.shape[1] < min_cols:
        raise ValueError(
            f"`{name}`: found array with {array.shape[1]} feature(s) (shape={array.shape}) while a "
            f"minimum of {min_cols} is required."
        )
    _check_copy_memory(array, dtype, name)
    with np.errstate(over="ignore", invalid="ignore"):
        array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}`: contains NaN or infinity (or values that overflow {np.dtype(dtype).name})")
    return array


def _check_copy_memory(array: np.ndarray, dtype, name: str) -> None:
    """A zero-stride view (np.broadcast_to) or a dtype change needs a full contiguous copy."""
    if array.flags.c_contiguous and array.dtype == np.dtype(dtype):
        return
    check_memory(float(array.size) * np.dtype(dtype).itemsize, "a contiguous copy of the input",
                 name)


def as_vector(y, name: str, dtype=np.float64, length: int | None = None) -> np.ndarray:
    """Return ``y`` as a finite contiguous 1-D array (of ``length`` if given)."""
    array = real_array(y, name)
    if array.ndim != 1:
        raise ValueError(f"`{name}`: expected a 1-D array, got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise ValueError(f"`{name}`: expected length {length}, got {array.shape[0]}")
    _check_copy_memory(array, dtype, name)
    with np.errstate(over="ignore", invalid="ignore"):
        array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}`: contains NaN or infinity (or values that overflow {np.dtype(dtype).name})")
    return array


_MAX_INDEX = 2**63 - 1


def positive_int(value, name: str, minimum: int = 1) -> int:
    """Check an integer count (``n_features``, ``N``, ...) is an int >= ``minimum``."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}`: expected an integer, got the boolean {value!r}")
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and np.isfinite(value) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"`{name}`: expected an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"`{name}`: must be >= {minimum}, got {value}")
    if value > _MAX_INDEX:
        raise ValueError(f"`{name}`: must be < 2**63 (a 64-bit index in the core), got {value}")
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


def finite_result(array, name: str, what: str) -> np.ndarray:
    """Return ``array`` if it is all finite, else raise ValueError blaming ``name``.

    For results computed from finite inputs: an inf or NaN there means the inputs overflowed the
    floating-point range (or an iteration diverged), which must not pass silently.
    """
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}`: {what}")
    return array


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
    array = np.atleast_1d(real_array(t, name).astype(np.float64))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"`{name}`: expected a scalar or a non-empty 1-D array of times, got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"`{name}`: times must be finite and >= 0")
    if integer and not np.all(array == np.round(array)):
        reason = integer_reason or "GD and SGD count steps"
        raise ValueError(f"`{name}`: {reason}, so times must be whole numbers")
    if integer and array.max() >= 2.0**63:
        raise ValueError(f"`{name}`: step counts must be < 2**63, got {array.max():g}")
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
        count = positive_int(seeds, name)
        # A Python int in a list costs ~36 bytes; each replicate also fills result rows.
        check_memory(64.0 * count, f"{count} replicate labels", name)
        return list(range(count))
    try:
        labels = [int(positive_int(s, name, minimum=0)) for s in seeds]
    except TypeError:
        raise TypeError(f"`{name}`: expected a count or a sequence of ints, got {seeds!r}") from None
    if not labels:
        raise ValueError(f"`{name}`: expected at least one seed")
    if len(set(labels)) != len(labels):
        raise ValueError(f"`{name}`: labels must be distinct, got {labels}")
    return labels


MAX_THREADS = 1024
"""Largest accepted ``n_threads`` (the C++ ``kMaxThreads``): a guard against typos like 10**6."""


def n_threads_arg(n_threads) -> int:
    """The threads keyword: 0 = automatic, else a count in [1, MAX_THREADS], honoured as given.

    Automatic: all cores, eigensolvers by the calibrated rule; the first automatic use in a
    process sets the core's per-machine eigen crossover (``scalinglab._calibration``; measured
    once per machine and cached). The core runs min(n_threads, cores) threads (cores = the CPU
    affinity mask): more threads than cores never help these compute-bound loops, and tens of
    thousands crash OpenMP.
    """
    value = positive_int(n_threads, "n_threads", minimum=0)
    if value > MAX_THREADS:
        raise ValueError(
            f"`n_threads`: must be <= {MAX_THREADS} (0 = all cores; counts above the number of "
            f"cores are clamped to it), got {value}"
        )
    if value == 0:
        from scalinglab._calibration import ensure_calibrated

        ensure_calibrated()
    return value


def check_memory(n_bytes: float, what: str, name: str, limit_fraction: float = 0.8) -> None:
    """Raise MemoryError before allocating ``n_bytes`` if that exceeds the available memory.

    "Available" is the smallest of /proc/meminfo MemAvailable, the address space left under
    RLIMIT_AS, and the room left under the cgroup memory limit (see
    :func:`available_memory_bytes`). ``n_bytes`` may be a float (1e30 is refused, not wrapped).
    """
    n_bytes = float(n_bytes)
    if not n_bytes < float("inf"):  # inf or NaN from an overflowing size product
        raise MemoryError(f"`{name}`: {what} would need more bytes than can be addressed")
    available = available_memory_bytes()
    if available is not None and n_bytes > limit_fraction * available:
        raise MemoryError(
            f"`{name}`: {what} would need {n_bytes / 2**30:.1f} GiB, more than "
            f"{limit_fraction:.0%} of the {available / 2**30:.1f} GiB available"
        )


def _read_number(path: str) -> float | None:
    """An integer from a one-line file (cgroup limits); None when absent, "max" or unreadable."""
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _status_bytes(field: str) -> float | None:
    """A ``VmSize``-like field of /proc/self/status, in bytes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def _meminfo_available() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def _rlimit_available() -> float | None:
    """Address space left under RLIMIT_AS (``ulimit -v``): the limit minus the current VmSize."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    used = _status_bytes("VmSize") or 0.0
    return max(0.0, float(soft) - used)


def _cgroup_available(root: str = "/sys/fs/cgroup",
                      proc_cgroup: str = "/proc/self/cgroup") -> float | None:
    """Room left under this process's cgroup memory limit (v2 memory.max, v1 limit_in_bytes).

    Every ancestor cgroup's limit applies, so the smallest room along the path is returned.
    """
    try:
        with open(proc_cgroup) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # cgroup v2 unified hierarchy
            base, limit_file, usage_file = root, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):  # cgroup v1 memory controller
            base, limit_file, usage_file = root + "/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        # Walk from the process's own cgroup up to the mount root (a container usually sees
        # only "/", where the limit files are those of its own cgroup).
        components = [c for c in path.strip("/").split("/") if c]
        for depth in range(len(components), -1, -1):
            directory = "/".join([base, *components[:depth]])
            limit = _read_number(directory + "/" + limit_file)
            # cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages).
            if limit is None or limit >= 2.0**62:
                continue
            usage = _read_number(directory + "/" + usage_file) or 0.0
            rooms.append(max(0.0, limit - usage))
    return min(rooms) if rooms else None


def available_memory_bytes() -> float | None:
    """Memory this process can still allocate, in bytes, or None if unknown.

    The minimum of MemAvailable (/proc/meminfo), the address space left under RLIMIT_AS, and the
    room left under the cgroup memory limit (v2 ``memory.max`` - ``memory.current``, v1
    ``memory.limit_in_bytes`` - ``memory.usage_in_bytes``) of this process's cgroup and its
    ancestors. Linux only; elsewhere only RLIMIT_AS (if any) is known.
    """
    candidates = [value for value in (_meminfo_available(), _rlimit_available(), _cgroup_available())
                  if value is not None]
    return min(candidates) if candidates else None
