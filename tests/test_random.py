"""The Philox streams seen from Python, and the `rng` keyword."""

import numpy as np
import pytest

from scalinglab import _core
from scalinglab._rng import seed_from_rng


def test_philox_known_answer():
    # Random123 known-answer vector for Philox4x32-10 with zero counter and key.
    assert _core.philox4x32(0, 0, 0) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)


def test_normal_depends_only_on_counter():
    whole = _core.normal(7, 3, 0, 4096)
    for start, n in [(1, 5), (333, 100), (4000, 96)]:
        np.testing.assert_array_equal(_core.normal(7, 3, start, n), whole[start : start + n])
    single = _core.normal(7, 3, 0, 4096, single_precision=True)
    np.testing.assert_array_equal(single, whole.astype(np.float32))


def test_normal_is_box_muller_of_the_philox_words():
    # Numbers 4b .. 4b+3 are the Box-Muller pairs of block b's words (w0, w1) and (w2, w3), with
    # u = (w + 1/2) / 2^32. The core reduces the angle in integer arithmetic and uses its own
    # polynomials, so it must agree with numpy's log/cos/sin to rounding.
    blocks = np.array([_core.philox4x32(7, 3, b) for b in range(300)], dtype=np.float64)
    u = (blocks + 0.5) / 2.0**32
    radius = np.sqrt(-2 * np.log(u[:, [0, 2]]))
    angle = 2 * np.pi * u[:, [1, 3]]
    expected = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1).reshape(-1)
    # Order within a block: r0 cos, r0 sin, r2 cos, r2 sin.
    got = _core.normal(7, 3, 0, 1200)
    np.testing.assert_allclose(got, expected, rtol=0, atol=5e-15)


def test_normal_bits_do_not_depend_on_fill_start():
    # Every start offset within and across the core's vectorised groups of 256 numbers.
    whole = _core.normal(19, 2, 0, 1400)
    for start in range(0, 300):
        n = 1400 - start - (start % 7)
        np.testing.assert_array_equal(_core.normal(19, 2, start, n), whole[start : start + n])


def test_normal_moments():
    z = _core.normal(11, 0, 0, 2**20)
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    # Tail mass beyond 3 sigma: 0.0026998 for a standard normal.
    tail = np.mean(np.abs(z) > 3)
    assert abs(tail - 0.0026998) < 5 * np.sqrt(0.0027 / n)


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
