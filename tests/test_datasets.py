"""Data sets: shapes, dtypes, the stated standardisation, prefix-stability of manifold samples."""

import numpy as np
import pytest

from scalinglab import datasets as ds


def test_digits_standardised():
    data = ds.load_digits()
    assert data.X.shape == (1797, 64) and data.X.dtype == np.float64
    assert abs((data.X**2).sum(axis=1).mean() - 1.0) < 1e-12
    np.testing.assert_allclose(data.X.mean(axis=0), 0.0, atol=1e-12)
    assert sorted(np.unique(data.labels)) == list(range(10))


def test_mnist1d_offline_and_seeded():
    pytest.importorskip("mnist1d")
    state = np.random.get_state()[1].copy()
    a = ds.load_mnist1d(400, seed=3)
    b = ds.load_mnist1d(400, seed=3)
    c = ds.load_mnist1d(400, seed=4)
    assert a.X.shape == (400, 40) and a.labels.shape == (400,)
    np.testing.assert_array_equal(a.X, b.X)
    assert np.abs(a.X - c.X).max() > 0.1
    assert abs((a.X**2).sum(axis=1).mean() - 1.0) < 1e-12
    # numpy's global generator is left as it was.
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("maker, m", [(ds.torus, 6), (ds.sphere, 4), (ds.cube, 3)])
def test_manifold_prefix_and_isometry(maker, m):
    big = maker(300, 3, D=11, rng=5)
    small = maker(120, 3, D=11, rng=5)
    np.testing.assert_array_equal(big.X[:120], small.X)
    intrinsic = maker(300, 3, rng=5)
    assert intrinsic.X.shape == (300, m) and big.X.shape == (300, 11)
    # A random isometry keeps every inner product.
    np.testing.assert_allclose(big.X @ big.X.T, intrinsic.X @ intrinsic.X.T, atol=1e-12)
    assert not np.allclose(maker(300, 3, D=11, rng=6).X, big.X)


def test_torus_sphere_geometry():
    t = ds.torus(500, 2, rng=1)
    np.testing.assert_allclose((t.X**2).sum(axis=1), 2.0, atol=1e-12)
    s = ds.sphere(500, 4, rng=1)
    np.testing.assert_allclose(np.linalg.norm(s.X, axis=1), 1.0, atol=1e-12)
    c = ds.cube(20000, 2, rng=1)
    np.testing.assert_allclose(c.X.var(axis=0), 1.0, atol=0.03)
    g = ds.torus_grid(8, 2)
    assert g.X.shape == (64, 4) and g.grid_shape == (8, 8)
    np.testing.assert_allclose(g.coordinates[9], [2 * np.pi / 8, 2 * np.pi / 8])


def test_bad_arguments():
    with pytest.raises(ValueError, match="`D`"):
        ds.torus(10, 3, D=4)
    with pytest.raises(TypeError, match="`n`"):
        ds.sphere(2.5, 2)
    with pytest.raises(ValueError, match="`n_samples`"):
        ds.load_mnist1d(5)
    X = ds.with_bias_coordinate(np.ones((3, 2)), 2.0)
    np.testing.assert_array_equal(X[:, 2], 2.0)
