"""scalinglab.spectra: kernel_spectrum returns the Gram's eigenvalues (normalised by P), and
spectrum_exponent recovers known power-law exponents within its stated error."""

import numpy as np
import pytest

from scalinglab.spectra import SpectrumExponent, kernel_spectrum, spectrum_exponent


def _gram_with_spectrum(values, seed):
    """P * Q diag(values) Q^T with a Haar-random orthogonal Q: a Gram whose normalised spectrum
    is exactly `values`."""
    P = values.size
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((P, P)))
    Q *= np.sign(np.diag(R))
    gram = (Q * (P * values)) @ Q.T
    return (gram + gram.T) / 2


def test_kernel_spectrum_is_descending_eigenvalues_over_P(rng):
    P = 300
    values = np.arange(1, P + 1) ** -1.4 * np.exp(0.1 * rng.standard_normal(P))
    gram = _gram_with_spectrum(values, seed=1)
    spectrum = kernel_spectrum(gram)
    assert spectrum.shape == (P,)
    assert np.all(np.diff(spectrum) <= 0)
    np.testing.assert_allclose(spectrum, np.sort(values)[::-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kernel_spectrum(gram, normalize=False), P * spectrum, rtol=1e-12)
    # trace(K) / P = sum of the normalised eigenvalues.
    assert abs(spectrum.sum() - np.trace(gram) / P) < 1e-10 * spectrum.sum()


def test_exponent_of_a_synthetic_power_law_gram_within_stated_error():
    # Exact power law times independent 5% multiplicative scatter, hidden in a rotated Gram.
    b = 1.3
    P = 800
    k = np.arange(1, P + 1)
    values = 2.0 * k**-b * np.exp(0.05 * np.random.default_rng(2).standard_normal(P))
    fit = spectrum_exponent(kernel_spectrum(_gram_with_spectrum(values, seed=3)), k_max=400)
    assert isinstance(fit, SpectrumExponent)
    assert fit.k_min == 1 and fit.k_max == 400
    assert abs(fit.exponent - b) < 2 * fit.stderr  # 2 sigma: a 95% statement for one draw
    assert fit.stderr < 0.02  # and it is an informative error, not a huge one
    assert abs(np.log(fit.prefactor / 2.0)) < 0.1


def test_exponent_errors_are_calibrated_over_many_spectra():
    # 400 noisy power laws: the fraction of |pull| < 1 must match 68% within 4 binomial standard
    # errors (0.023 each). k_max stays below the length so that sorting the noisy tail (where
    # neighbouring eigenvalues are closer than the noise) does not enter the window.
    rng = np.random.default_rng(4)
    k = np.arange(1, 2001)
    pulls = []
    for _ in range(400):
        values = 3.0 * k**-1.3 * np.exp(0.05 * rng.standard_normal(k.size))
        fit = spectrum_exponent(values, k_max=1000)
        pulls.append((fit.exponent - 1.3) / fit.stderr)
    pulls = np.asarray(pulls)
    assert abs(np.mean(np.abs(pulls) < 1) - 0.683) < 4 * 0.023
    assert abs(np.mean(pulls)) < 4 * np.std(pulls) / np.sqrt(pulls.size)


def test_curvature_is_reported_as_window_error():
    # A broken power law (b = 1 below rank 30, b = 2 above) is not one power law: the window
    # term must dominate the error and cover the deviation from the mean slope.
    k = np.arange(1, 1001, dtype=float)
    values = np.where(k < 30, k**-1.0, 30.0 * k**-2.0)
    fit = spectrum_exponent(values, k_max=1000)
    assert fit.window_stderr > 5 * fit.statistical_stderr
    assert fit.window_stderr > 0.2
    assert 1.0 < fit.exponent < 2.0


def test_sample_gram_spectrum_flattens_at_finite_P():
    # Gaussian data with population spectrum k^-1.5: the P = 400 sample Gram's eigenvalues are
    # inflated at ranks approaching P (relative excess ~ k / P for b = 1.5), so the slope fitted
    # up to P/10 is a little below b. This documents the bias that the Notes warn about: the
    # estimate is within 0.06 of b, and below it.
    b, P, M = 1.5, 400, 2000
    population = np.arange(1, M + 1) ** -b
    estimates = []
    for seed in range(3):
        Z = np.random.default_rng(seed).standard_normal((P, M)) * np.sqrt(population)
        estimates.append(spectrum_exponent(kernel_spectrum(Z @ Z.T)).exponent)
    mean = float(np.mean(estimates))
    assert b - 0.06 < mean < b


def test_bad_input():
    with pytest.raises(ValueError, match="`eigenvalues`"):
        spectrum_exponent(np.ones((3, 3)))
    with pytest.raises(ValueError, match="`eigenvalues`"):
        spectrum_exponent([1.0, np.nan, 0.5])
    with pytest.raises(ValueError, match="`k_max`"):
        spectrum_exponent(np.arange(1, 11.0)[::-1], k_max=20)
    with pytest.raises(ValueError, match="`k_max`.*<= 0"):
        spectrum_exponent(np.array([3.0, 2.0, 1.0, 0.0, -1e-17]), k_max=5)
    with pytest.raises(ValueError, match="`k_max`.*3 distinct"):
        spectrum_exponent(np.arange(1, 11.0)[::-1], k_min=4, k_max=5)
    with pytest.raises(ValueError, match="`gram`"):
        kernel_spectrum(np.ones((3, 4)))


def test_plot_spectrum():
    figure_module = pytest.importorskip("matplotlib.figure")
    from scalinglab.plot import plot_spectrum

    values = np.arange(1, 101, dtype=float) ** -1.5
    fit = spectrum_exponent(values, k_max=100)
    ax = figure_module.Figure().add_subplot()
    assert plot_spectrum(values, fit=fit, ax=ax) is ax
    spectrum_line, fit_line = ax.get_lines()
    np.testing.assert_allclose(spectrum_line.get_ydata(), values)
    np.testing.assert_allclose(fit_line.get_ydata(), fit_line.get_xdata() ** -1.5, rtol=1e-8)
