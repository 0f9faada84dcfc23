"""The numpy implementation of the leading finite-size correction (the first version of
scalinglab.theory_finite_size, before the C++ port), kept as an independent reference for
tests/test_theory_finite_size.py. Its d Delta_g/ds is a 5-point difference in kappa with step
1e-3 |kappa|, which is inaccurate where kappa is within that step of kappa_c (ridge -> 0 at
finite P, late times); the compiled version uses the analytic derivative.
"""

from __future__ import annotations

import math

import numpy as np

from scalinglab._native import _core

_engine = _core.theory


def talbot_contour(t: float, n: int = 16):
    """Fixed Talbot nodes (upper half, s_0 real first) and weights at time t (Abate & Valko 2004);
    the same contour as ``cpp/src/theory.cpp``. f(t) = Re[w_0 F(s_0)] + 2 Re sum_j>0 w_j F(s_j)."""
    r = 2.0 * n / (5.0 * t)
    theta = np.arange(1, n) * np.pi / n
    cot = 1.0 / np.tan(theta)
    nodes = np.concatenate([[r + 0j], r * theta * (cot + 1j)])
    sigma = theta + (theta * cot - 1.0) * cot
    weights = np.concatenate([[r / (2 * n) * math.exp(r * t) + 0j],
                              r / (2 * n) * np.exp(t * nodes[1:]) * (1.0 + 1j * sigma)])
    return nodes, weights


def leading_from_sums(S1, S2, S3, n, R, kappa, D2, D3, Dn):
    """Deterministic equivalent g0 = E a^T Q a and its s-derivatives g0', g0'' from the mode sums
    S_j = sum m a^2 z^j (D2, D3: sum m lambda z^2, z^3; R = s / kappa; Dn = ds / dkappa)."""
    R_k, R_kk = D2 / n, -2.0 * D3 / n
    g = S1 / R
    top = -S2 * R - S1 * R_k
    g_k = top / R**2
    g_kk = (2.0 * S3 * R - S1 * R_kk) / R**2 - 2.0 * top * R_k / R**3
    s_k, s_kk = Dn, 2.0 * R_k + kappa * R_kk
    return g, g_k / s_k, (g_kk * s_k - g_k * s_kk) / s_k**3


def delta_g_from_sums(A2, A3, n, R, kappa, E3, Dn):
    """Delta_g(s), the O(1/n) correction of E a^T Q a, from A2 = sum m a^2 lambda z^2,
    A3 = sum m a^2 lambda^2 z^3 and E3 = sum m lambda^2 z^3."""
    return (A3 - kappa * E3 * A2 / (n * Dn)) / (n * R * Dn)


class _Resolvent:
    """Sums over modes of the one-resolvent expansion at Laplace variables s (shape (K,)).

    spectrum, multiplicity: lambda_k, m_k (every sum is sum_k m_k ...); n: the finite side.
    """

    def __init__(self, spectrum, multiplicity, n: float, s: np.ndarray, kappa=None):
        self.lam = spectrum
        self.m = np.ones_like(spectrum) if multiplicity.size == 0 else multiplicity
        self.n = float(n)
        self.s = np.asarray(s, dtype=np.complex128)
        if kappa is None:
            kappa = _engine.one_point(spectrum, multiplicity, self.n, math.inf, self.s)[0]
        self.kappa = np.asarray(kappa, dtype=np.complex128)
        self.z = 1.0 / (spectrum[None, :] + self.kappa[:, None])
        z2 = self.z * self.z
        self._powers = {1: self.z, 2: z2, 3: z2 * self.z}  # complex ** int is slow in numpy
        self.R = 1.0 - self.sum(spectrum, 1) / self.n          # = s / kappa
        self.D2 = self.sum(spectrum, 2)
        self.D3 = self.sum(spectrum, 3)
        self.E3 = self.sum(spectrum**2, 3)
        self.Dn = self.R + self.kappa * self.D2 / self.n        # ds / dkappa

    def sum(self, weight, power: int) -> np.ndarray:
        # einsum, not matmul: a threaded BLAS zgemv of this size is 100x slower on busy cores
        return np.einsum("km,m->k", self._powers[power], self.m * weight)

    def leading(self, a2):
        """Deterministic equivalent g0 = E a^T Q a and its s-derivatives g0', g0''."""
        S1, S2, S3 = (self.sum(a2, j) for j in (1, 2, 3))
        return leading_from_sums(S1, S2, S3, self.n, self.R, self.kappa, self.D2, self.D3,
                                 self.Dn)

    def dR_ds(self):
        return (self.D2 / self.n) / self.Dn

    def correction(self, a2):
        """Delta_g(s): the O(1/n) correction of E a^T Q a beyond its deterministic equivalent."""
        A2, A3 = self.sum(a2 * self.lam, 2), self.sum(a2 * self.lam**2, 3)
        return delta_g_from_sums(A2, A3, self.n, self.R, self.kappa, self.E3, self.Dn)

    def correction_derivative(self, a2):
        """d Delta_g / ds: 5-point difference in kappa (Delta_g is explicit in kappa) / D_n."""
        h = 1e-3 * np.abs(self.kappa)
        f = {j: _delta_g(self.lam, self.m, self.n, self.kappa + j * h, a2) for j in (-2, -1, 1, 2)}
        d_kappa = (8.0 * (f[1] - f[-1]) - (f[2] - f[-2])) / (12.0 * h)
        return d_kappa / self.Dn


def _delta_g(lam, m, n, kappa, a2):
    z = 1.0 / (lam[None, :] + kappa[:, None])
    z2 = z * z
    z3 = z2 * z
    df = np.einsum("km,m->k", z, m * lam)
    D2 = np.einsum("km,m->k", z2, m * lam)
    E3 = np.einsum("km,m->k", z3, m * lam**2)
    A2 = np.einsum("km,m->k", z2, m * a2 * lam)
    A3 = np.einsum("km,m->k", z3, m * a2 * lam**2)
    R = 1.0 - df / n
    return delta_g_from_sums(A2, A3, n, R, kappa, E3, R + kappa * D2 / n)


def _two_point(A: _Resolvent, B: _Resolvent, a2, noise: float):
    """(W0, W): leading and O(1/n)-corrected E a^T Q(s1) Lambda Q(s2) a [+ noise part], s1 from A,
    s2 from B, shape (K1, K2)."""
    n = A.n
    S1, S2 = A.s[:, None], B.s[None, :]
    same = np.abs(S1 - S2) <= 1e-12 * np.abs(S1)
    diff = np.where(same, 1.0, S2 - S1)

    def divided(f1, f2, d2):  # (f2 - f1)/(s2 - s1), the derivative on the diagonal
        return np.where(same, d2, (f2 - f1) / diff)

    ga, dga, _ = A.leading(a2)
    gb, dgb, ddgb = B.leading(a2)
    g1, g2, dg2 = ga[:, None], gb[None, :], dgb[None, :]
    dd = divided(g1, g2, dg2)
    V0 = g1 + S2 * dd
    R1, R2 = A.R[:, None], B.R[None, :]
    W0 = V0 / (R1 * R2)
    # d/ds2 of V0 = g1 + s2 (g2 - g1)/(s2 - s1); on the diagonal g' + s g''/2
    dV0 = np.where(same, dg2 + S2 * 0.5 * ddgb[None, :],
                   dd + S2 * (dg2 * diff - (g2 - g1)) / diff**2)
    dW0 = dV0 / (R1 * R2) - W0 * B.dR_ds()[None, :] / R2
    W11 = ((ga + A.s * dga) / A.R**2)[:, None]                  # W0(s1, s1)
    Y1 = W11 - S2 * np.where(same, -dW0, (W11 - W0) / diff)     # Q1 L Q1 S Q2
    Y2 = W0 + S2 * dW0                                          # Q1 L Q2 S Q2
    ha, hb = A.correction(a2), B.correction(a2)
    dhb = B.correction_derivative(a2) if same.any() else np.zeros_like(hb)
    Vf = V0 + ha[:, None] + S2 * divided(ha[:, None], hb[None, :], dhb[None, :])
    lam = A.lam
    t1 = ((A.leading(lam)[0] + A.correction(lam)) / n)[:, None]
    tau2 = 1.0 - B.R[None, :] - B.s[None, :] * B.E3[None, :] / (n**2 * B.Dn[None, :]**2)
    W = ((1.0 + t1) * Vf + (Y1 + Y2) / n) / (1.0 - tau2)
    if noise > 0:
        # sigma^2/(n s1 s2) E tr[Lambda Q1 S Q2], tr Lambda Q = the one-resolvent form with a^2 = lambda
        hA, dhA = A.leading(lam)[:2]
        hB, dhB = B.leading(lam)[:2]
        cA, cB = A.correction(lam), B.correction(lam)
        dcB = B.correction_derivative(lam) if same.any() else np.zeros_like(cB)
        lead = hA[:, None] + S2 * divided(hA[:, None], hB[None, :], dhB[None, :])
        full = lead + cA[:, None] + S2 * divided(cA[:, None], cB[None, :], dcB[None, :])
        scale = noise / (n * S1 * S2)
        W0 = W0 + scale * lead
        W = W + scale * full
    return W0, W


# ---- time domain ----------------------------------------------------------------------------


def width_correction(modes, N: float, times: np.ndarray, nodes: int = 16) -> np.ndarray:
    """O(1/N) correction of the test loss (and of the train loss) at P = inf, gradient flow.

    L(t) = u^T exp(-2 t G) u with G = Lambda^1/2 B Lambda^1/2 and u_k^2 = lambda_k w*_k^2:
    a one-resolvent form, inverted by a 1-D Talbot contour at 2t. Shape (T,).
    """
    out = np.zeros(times.size)
    live = np.nonzero(times > 0)[0]
    if live.size == 0:
        return out
    contours = [talbot_contour(2.0 * times[i], nodes) for i in live]
    # one continuation through every node of every time (segments between times stay in the
    # upper half-plane, off the spectrum)
    res = _Resolvent(modes.spectrum, modes.multiplicity, N, np.concatenate([c[0] for c in contours]))
    values = (np.concatenate([c[1] for c in contours]) * res.correction(modes.power)).reshape(
        live.size, nodes)
    out[live] = values[:, 0].real + 2.0 * values[:, 1:].real.sum(axis=1)
    return out


def sample_correction(modes, P: float, times: np.ndarray, nodes: int = 16):
    """O(1/P) corrections (test, train) at N = inf, gradient flow, label noise included.

    Test: E w*^T e^{-t S} Lambda e^{-t S} w* + noise, a two-resolvent form (2-D Talbot); train:
    E w*^T S e^{-2tS} w* + (sigma^2/P) tr e^{-2tK} (1-D Talbot at 2t). Shapes (T,), (T,).
    """
    lam, mult = modes.spectrum, modes.multiplicity
    target2 = np.divide(modes.power, lam)
    ones = np.ones_like(lam)
    test, train = np.zeros(times.size), np.zeros(times.size)
    for i, t in enumerate(times):
        if t == 0:
            continue
        s, w = talbot_contour(t, nodes)
        res = _Resolvent(lam, mult, P, s)
        full_s = np.concatenate([s, np.conj(s[1:])])
        full_w = np.concatenate([w, np.conj(w[1:])])
        both = _Resolvent(lam, mult, P, full_s,
                          kappa=np.concatenate([res.kappa, np.conj(res.kappa[1:])]))
        W0, W = _two_point(res, both, target2, modes.noise)
        row = (w[:, None] * full_w[None, :] * (W - W0)).sum(axis=1)
        test[i] = 2.0 * row.real.sum() - row[0].real
        s2, w2 = talbot_contour(2.0 * t, nodes)
        res2 = _Resolvent(lam, mult, P, s2)
        values = w2 * (-s2 * res2.correction(target2) + modes.noise / P * res2.correction(ones))
        train[i] = values[0].real + 2.0 * values[1:].real.sum()
    return test, train


# ---- static (ridge) limits ------------------------------------------------------------------


def _width_static_at(modes, N, ridge):
    res = _Resolvent(modes.spectrum, modes.multiplicity, N, np.array([ridge + 0j]))
    return float((-ridge**2 * res.correction_derivative(modes.power))[0].real)


def _sample_static_at(modes, P, ridge):
    lam, mult = modes.spectrum, modes.multiplicity
    target2 = modes.power / lam
    res = _Resolvent(lam, mult, P, np.array([ridge + 0j]))
    W0, W = _two_point(res, res, target2, modes.noise)
    test = ridge**2 * (W - W0)[0, 0].real
    train = ridge**2 * (res.correction(target2) + ridge * res.correction_derivative(target2))
    train = train - modes.noise / P * ridge**2 * res.correction_derivative(np.ones_like(lam))
    return float(test), float(train[0].real)


def width_static(modes, N: float, ridge: float):
    """O(1/N) correction of the ridge / t = inf test loss at P = inf (train = test + sigma^2).

    Ridge 0 with N below the rank: the limit s Delta_g(s) as s -> 0, which is explicit,
    [sum p lambda^2 z^3 - (sum lambda^2 z^3)(sum p lambda z^2)/D2] / D2 at kappa = kappa_c."""
    if ridge > 0:
        return _width_static_at(modes, N, ridge)
    rank = modes.multiplicity.sum() if modes.multiplicity.size else modes.spectrum.size
    if N >= rank:
        return 0.0  # G is invertible: the flow learns the target exactly, for every draw
    lam = modes.spectrum
    m = np.ones_like(lam) if modes.multiplicity.size == 0 else modes.multiplicity
    kappa = _engine.critical_kappa(lam, modes.multiplicity, float(N))
    z = 1.0 / (lam + kappa)
    D2 = (m * lam * z**2).sum()
    E3 = (m * lam**2 * z**3).sum()
    A2 = (m * modes.power * lam * z**2).sum()
    A3 = (m * modes.power * lam**2 * z**3).sum()
    return float((A3 - E3 * A2 / D2) / D2)


def sample_static(modes, P: float, ridge: float):
    """O(1/P) corrections (test, train) of the ridge / t = inf losses at N = inf.

    Ridge 0: Richardson extrapolation from ridges h, 2h, 4h with h = 1e-2 kappa_c (the corrected
    losses are analytic in the ridge at 0 while P is below the rank, so the error is O(h^3))."""
    if ridge > 0:
        return _sample_static_at(modes, P, ridge)
    rank = modes.multiplicity.sum() if modes.multiplicity.size else modes.spectrum.size
    if P >= rank:
        raise ValueError("`ridge`: the finite-size correction at ridge 0 needs P below the number "
                         f"of modes ({rank:g}); got P = {P:g}")
    h = 1e-2 * _engine.critical_kappa(modes.spectrum, modes.multiplicity, float(P))
    values = np.array([_sample_static_at(modes, P, c * h) for c in (1.0, 2.0, 4.0)])
    # f(0) from f(h), f(2h), f(4h) exact for quadratics: (8 f(h) - 6 f(2h) + f(4h)) / 3
    extrapolated = (8.0 * values[0] - 6.0 * values[1] + values[2]) / 3.0
    return float(extrapolated[0]), float(extrapolated[1])
