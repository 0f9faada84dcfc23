import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fixed-seed Generator for test inputs (the library's own randomness takes `rng=`)."""
    return np.random.default_rng(20241123)


# Hypothesis (tests/test_properties.py): deterministic in CI (derandomize), no deadline (the
# shared machines are noisy). "scalinglab" is the default profile; the slow tests override
# max_examples themselves.
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is in the `test` extra; its tests skip without it
    pass
else:
    settings.register_profile(
        "scalinglab", deadline=None, derandomize=True, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    )
    settings.load_profile("scalinglab")
