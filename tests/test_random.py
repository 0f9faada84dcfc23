"""The `rng` keyword (the Philox streams themselves: tests/test_core_bindings.py)."""

import numpy as np
import pytest

from scalinglab._rng import seed_from_rng


def test_seed_from_rng():
    assert seed_from_rng(5) == seed_from_rng(5)
    assert seed_from_rng(5) != seed_from_rng(6)
    generator = np.random.default_rng(0)
    first, second = seed_from_rng(generator), seed_from_rng(generator)
    assert first != second
    assert seed_from_rng(np.random.default_rng(0)) == first
    with pytest.raises(ValueError, match="rng"):
        seed_from_rng(-1)
    with pytest.raises(TypeError, match="rng"):
        seed_from_rng("seed")
