import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fixed-seed Generator for test inputs (the library's own randomness takes `rng=`)."""
    return np.random.default_rng(20241123)
