"""The one randomness keyword: ``rng`` (SPEC 7).

``rng`` may be ``None`` (fresh OS entropy), an ``int`` seed, or a ``numpy.random.Generator``. The
C++ core receives a 64-bit key drawn from it, and all its randomness is a pure function of that
key, a stream id and a counter (Philox4x32-10), so results do not depend on ``n_threads``.
"""

from __future__ import annotations

import numbers

import numpy as np

def seed_from_rng(rng) -> int:
    """Return the 64-bit key for the core from ``rng``.

    An ``int`` gives the same key every time (hashed through ``numpy.random.SeedSequence``); a
    ``Generator`` is advanced by one draw; ``None`` takes fresh entropy.
    """
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**64, dtype=np.uint64))
    if rng is None:
        return int(np.random.default_rng().integers(0, 2**64, dtype=np.uint64))
    if isinstance(rng, (bool, np.bool_)):
        raise TypeError(f"`rng`: expected None, an int seed or a numpy.random.Generator, got {rng!r}")
    if isinstance(rng, numbers.Integral):
        if int(rng) < 0:
            raise ValueError(f"`rng`: an int seed must be >= 0, got {rng}")
        words = np.random.SeedSequence(int(rng)).generate_state(2, dtype=np.uint32)
        return int(words[0]) | (int(words[1]) << 32)
    raise TypeError(
        "`rng`: expected None, an int seed or a numpy.random.Generator, "
        f"got {type(rng).__name__}"
    )


def as_generator(rng) -> np.random.Generator:
    """A numpy Generator for Python-side randomness, derived from ``rng`` like ``seed_from_rng``."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(seed_from_rng(rng))
