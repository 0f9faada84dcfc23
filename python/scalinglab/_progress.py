"""One meaning of the ``progress=`` keyword for every long-running function.

``progress`` is ``None`` (automatic: a bar when the work is long *and* stderr is a terminal or a
notebook is attached; tqdm decides the latter), ``True`` (always a bar) or ``False`` (never).
The compiled core reports progress as a fraction in [0, 1] through a callable; a reporter turns
those fractions, possibly of several consecutive core calls, into one tqdm bar.
"""

from __future__ import annotations

import numbers

import numpy as np


def progress_flag(progress, name: str = "progress"):
    """Check the keyword: None, True or False (numpy bools accepted)."""
    if progress is None:
        return None
    if isinstance(progress, (bool, np.bool_)):
        return bool(progress)
    raise TypeError(f"`{name}`: expected None (automatic), True or False, got {progress!r}")


class ProgressReporter:
    """A tqdm bar over ``total`` units fed by fractions of core calls (or a no-op).

    Use as a context manager; :meth:`stage` gives the callable for one core call that covers
    ``units`` of the total (pass it to the core as its progress callback; it is None when no bar
    is shown, so the core never calls back into Python for nothing).
    """

    def __init__(self, progress, total: float, *, desc: str, long: bool, unit: str = "it",
                 unit_scale: bool = False):
        flag = progress_flag(progress)
        self.total = float(total)
        self._bar = None
        self._done = 0.0
        if flag is False or (flag is None and not long):
            return
        from tqdm.auto import tqdm

        # disable=None: tqdm's own rule, no bar when stderr is not a terminal (automatic mode).
        self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=False,
                         disable=None if flag is None else False)

    @property
    def active(self) -> bool:
        """True when a bar is shown."""
        return self._bar is not None

    def advance(self, units: float) -> None:
        """Move the bar forward by ``units``."""
        if self._bar is None or units <= 0:
            return
        self._done += units
        self._bar.update(units)

    def stage(self, units: float):
        """A callback ``f(fraction)`` for one core call covering ``units`` of the total, or None."""
        if self._bar is None:
            return None
        if not isinstance(units, numbers.Real) or units < 0:
            raise ValueError(f"`units`: expected a number >= 0, got {units!r}")
        start = self._done
        reporter = self

        def report(fraction: float) -> None:
            target = start + min(max(float(fraction), 0.0), 1.0) * units
            if target > reporter._done:
                reporter.advance(target - reporter._done)

        return report

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "ProgressReporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_reporter(progress, total: float, *, desc: str, long: bool,
                      unit: str = "it", unit_scale: bool = False) -> ProgressReporter:
    """A :class:`ProgressReporter` for ``progress`` (None/True/False) over ``total`` units.

    ``long`` says whether the work is long enough for an automatic bar (``progress=None``).
    """
    return ProgressReporter(progress, total, desc=desc, long=long, unit=unit, unit_scale=unit_scale)
