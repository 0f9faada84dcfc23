"""Test reference (numpy): the leading finite-size correction with both N and P finite (issue 9;
docs/theory-finite-size.md, "Both sides finite"). This was the package's implementation until
the algebra moved into the compiled core (cpp/src/theory_finite_size.cpp, the same operations
at the DMFT's Talbot nodes and kappa); tests/test_theory_finite_size.py checks the two agree.
The mode sums are plain numpy here; kappa comes from the core's one-point solver.

Conditional on the projection A, the model is linear regression in N dimensions on Gaussian
features phi = A psi / sqrt(N) with covariance C = A Lambda A^T / N, teacher beta = C^-1 v
(v = A Lambda w* / sqrt(N)) and label noise sigma^2 + pi(A), pi(A) = u^T P_null(G) u the part of
the target that no linear function of phi carries (u = Lambda^1/2 w*, G = Lambda^1/2 A^T A
Lambda^1/2 / N; pi is independent of phi because (phi, y) is jointly Gaussian). Its finite-P
expansion is the one-sided P-side expansion (theory_finite_size) applied to (C, beta, sigma^2 +
pi). Every sum over the eigenvalues c of C that it needs is a function of two N-side
resolvent averages at the P-side renormalised ridge x = kappa_P:

    U(x)   = E tr G (G + x)^-1 = sum_c c/(c + x),
    Phi(x) = E u^T G (G + x)^-1 u = sum_c c^2 beta_c^2/(c + x),

and of the constants pi = E u^T P_null u and H0 = E beta^T beta = -Phi'(0). Their N-side
averages are the deterministic equivalent (U = df(kappa), Phi = sum p lambda z at the M-mode
kappa, x = kappa (1 - df/N)) plus the one-resolvent O(1/N) correction Delta_g (a^2 = 1 and
a^2 = p). Derivatives in x come from truncated Taylor series in kappa, reverted to series in x.

The correction is (I) the P-side deterministic equivalent evaluated with the O(1/N)-corrected
averages (its kappa_P re-solved) minus the same with the plain averages (= the DMFT), plus
(II) the one-sided O(1/P) correction evaluated at the plain averages. Neglected: O(1/N^2),
O(1/P^2), O(1/(N P)) (the N-side fluctuation of the O(1/P) term) and covariances of traces
with quadratic forms (O(1/N^2)).
"""

from __future__ import annotations

import math

import numpy as np

from _finite_size_reference import delta_g_from_sums, leading_from_sums, talbot_contour

from scalinglab._native import _core

_ORDER = 5  # Taylor coefficients kept: derivatives up to 3 of U, Psi, plus the first-order shift of kappa_P


# ---- truncated power series (last axis = coefficients) ---------------------------------------

def _mul(a, b):
    a, b = np.broadcast_arrays(a, b)
    out = np.zeros(a.shape, dtype=np.complex128)
    for i in range(a.shape[-1]):
        out[..., i] = np.einsum("...j,...j->...", a[..., :i + 1], b[..., i::-1])
    return out


def _inv(a):
    out = np.zeros(a.shape, dtype=np.complex128)
    out[..., 0] = 1.0 / a[..., 0]
    for k in range(1, a.shape[-1]):
        out[..., k] = -out[..., 0] * np.einsum("...j,...j->...", a[..., 1:k + 1], out[..., k - 1::-1])
    return out


def _div(a, b):
    return _mul(a, _inv(b))


def _const(c, like):
    out = np.zeros(like.shape, dtype=np.complex128)
    out[..., 0] = c
    return out


def _deriv(a):
    out = np.zeros(a.shape, dtype=np.complex128)
    k = np.arange(1, a.shape[-1])
    out[..., :-1] = a[..., 1:] * k
    return out


def _compose(f, g):
    """f(g(e)) for g with g_0 = 0."""
    out = _const(f[..., 0], f)
    power = _const(1.0, f)
    for k in range(1, f.shape[-1]):
        power = _mul(power, g)
        out = out + f[..., k:k + 1] * power
    return out


def _revert(a):
    """b with a(b(e)) = e, for a_0 = 0, a_1 != 0."""
    e = np.zeros(a.shape, dtype=np.complex128)
    e[..., 1] = 1.0
    a1 = a[..., 1:2]
    b = e / a1
    for _ in range(a.shape[-1]):
        nonlinear = _compose(a, b) - a1 * b
        b = (e - nonlinear) / a1
    return b


def _evaluate(a, e):
    e = np.asarray(e)[..., None]
    return np.sum(a * e ** np.arange(a.shape[-1]), axis=-1)


# ---- N-side averages as series in the P-side ridge x -------------------------------------------

def _n_side_series(modes, N, kappa, n_threads=0):
    """Series in eps = x - x0 of U and Phi (plain and O(1/N)-corrected) at M-mode kappa (K,)."""
    L = _ORDER
    lam = modes.spectrum
    m = modes.multiplicity if modes.multiplicity.size else np.ones_like(lam)
    weights = np.stack([m * lam, m * lam**2, m * lam * modes.power, m * lam**2 * modes.power], 1)
    kappa = np.asarray(kappa, dtype=np.complex128)
    sums = np.zeros((kappa.size, L + 3, 4), dtype=np.complex128)  # sums[:, p] = sum w z^p
    z = 1.0 / (lam[None, :] + kappa[:, None])  # (K, M)
    zp = np.ones_like(z)
    for p in range(1, L + 3):
        zp = zp * z
        sums[:, p] = zp @ weights

    def series(col, p):  # sum w z(kappa + d)^p = sum_j C(p+j-1, j) (-d)^j sum w z^(p+j)
        j = np.arange(L)
        binom = np.array([math.comb(p + i - 1, i) for i in j])
        return sums[:, p + j, col] * binom * (-1.0) ** j

    df, D2 = series(0, 1), series(0, 2)
    E3 = series(1, 3)
    Phi0, A2, A3 = series(2, 1), series(2, 2), series(3, 3)
    kap = np.zeros((kappa.size, L), dtype=np.complex128)
    kap[:, 0], kap[:, 1] = kappa, 1.0
    R = _const(1.0, df) - df / N
    Dn = R + _mul(kap, D2) / N
    x = _mul(kap, R)
    U_full = df - _div(_mul(x, E3), _mul(Dn, Dn)) / N
    Phi_full = Phi0 - _div(_mul(kap, A3 - _div(_mul(_mul(kap, E3), A2), Dn) / N), Dn) / N
    shift = x.copy()
    x0 = shift[:, 0].copy()
    shift[:, 0] = 0.0
    back = _revert(shift)
    return x0, {"U": _compose(df, back), "Phi": _compose(Phi0, back)}, \
        {"U": _compose(U_full, back), "Phi": _compose(Phi_full, back)}


def _constants(modes, N):
    """(pi, H0) plain and corrected: E u^T P_null u and E beta^T beta = -Phi'(0), at kappa_c."""
    lam = modes.spectrum
    m = modes.multiplicity if modes.multiplicity.size else np.ones_like(lam)
    rank = m.sum()
    if N >= rank:
        raise ValueError(f"`N`: the two-sided correction needs N below the number of modes "
                         f"({rank:g}); got N = {N:g}")
    kc = _core.theory.critical_kappa(lam, modes.multiplicity, float(N))
    x0, plain, full = _n_side_series(modes, N, np.array([kc]))
    total = float((m * modes.power).sum())
    out = {}
    for name, ser in (("plain", plain), ("full", full)):
        # Phi(x) at x -> 0: pi = total - Phi(0), H0 = -Phi'(0); x0 = 0 at kappa_c
        out[name] = (total - ser["Phi"][0, 0].real, -ser["Phi"][0, 1].real)
    return out, total


# ---- sums over the spectrum of C ----------------------------------------------------------------

def _c_sums(U, Phi, x0, q, H0):
    """Every sum of the P-side expansion, as series in eps (same axes as U)."""
    X = np.zeros_like(U)
    X[:, 0], X[:, 1] = x0, 1.0
    dU = _deriv(U)
    ddU = _deriv(dU)
    dddU = _deriv(ddU)
    df, D2, D3, D4 = U, -dU, ddU / 2, -dddU / 6
    E3 = D2 - _mul(X, D3)
    E4 = D3 - _mul(X, D4)
    L2 = df - _mul(X, D2)
    L3 = L2 - _mul(X, E3)
    L4 = E3 - _mul(X, E4)
    Psi = _div(_const(q, U) - Phi, X)
    Om = _div(_const(H0, U) - Psi, X)
    dPsi = _deriv(Psi)
    ddPsi = _deriv(dPsi)
    P2, P3, P4 = -dPsi, ddPsi / 2, -_deriv(ddPsi) / 6
    dOm = _deriv(Om)
    S2, S3 = -dOm, _deriv(dOm) / 2
    return {
        "base": (df, D2, D3, E3, E4),
        "target": (Om, S2, S3, P2, P2 - _mul(X, P3), -2 * P3, -3 * (P3 - _mul(X, P4))),
        "lam": (df, D2, D3, L2, L3, -2 * E3, -3 * L4),
        "ones": (None, None, None, D2, E3, -2 * D3, -3 * E4),
    }


class _PSide:
    """The one-resolvent P-side quantities at nodes s (K,) from the sums over C."""

    def __init__(self, n, s, x, sums):
        self.n, self.s, self.kappa = float(n), s, x
        self.df, self.D2, self.D3, self.E3, self.E4 = sums["base"]
        self.forms = {k: sums[k] for k in ("target", "lam", "ones")}
        self.R = s / x
        self.Dn = self.R + x * self.D2 / self.n

    def conj(self):
        out = object.__new__(_PSide)
        out.__dict__ = {k: (np.conj(v) if isinstance(v, np.ndarray) else v)
                        for k, v in self.__dict__.items() if k != "forms"}
        out.forms = {k: tuple(None if v is None else np.conj(v) for v in f)
                     for k, f in self.forms.items()}
        return out

    def cat(self, other):
        out = object.__new__(_PSide)
        out.__dict__ = {k: (np.concatenate([v, other.__dict__[k]], axis=-1) if isinstance(v, np.ndarray)
                            else v) for k, v in self.__dict__.items() if k != "forms"}
        out.forms = {k: tuple(None if v is None else np.concatenate([v, other.forms[k][i]], axis=-1)
                              for i, v in enumerate(f)) for k, f in self.forms.items()}
        return out

    def leading(self, form):
        S1, S2, S3 = self.forms[form][:3]
        return leading_from_sums(S1, S2, S3, self.n, self.R, self.kappa, self.D2, self.D3,
                                 self.Dn)

    def dR_ds(self):
        return (self.D2 / self.n) / self.Dn

    def correction(self, form):
        A2, A3 = self.forms[form][3:5]
        return delta_g_from_sums(A2, A3, self.n, self.R, self.kappa, self.E3, self.Dn)

    def correction_derivative(self, form):
        A2, A3, dA2, dA3 = self.forms[form][3:]
        n, kappa, Dn, R = self.n, self.kappa, self.Dn, self.R
        dR = self.D2 / n
        dDn = dR + (self.D2 - 2.0 * kappa * self.D3) / n
        dE3 = -3.0 * self.E4
        Uq = A3 - kappa * self.E3 * A2 / (n * Dn)
        dUq = dA3 - (self.E3 * A2 + kappa * dE3 * A2 + kappa * self.E3 * dA2) / (n * Dn) + \
            kappa * self.E3 * A2 * dDn / (n * Dn * Dn)
        V = n * R * Dn
        dV = n * (dR * Dn + R * dDn)
        return (dUq * V - Uq * dV) / (V * V) / Dn


def _two_point(A, B, noise, corrected=True):
    """(W0, W) of tests/_finite_size_reference._two_point for the sums of A (rows), B (cols)."""
    n = A.n
    S1, S2 = A.s[..., :, None], B.s[..., None, :]
    same = np.abs(S1 - S2) <= 1e-12 * np.abs(S1)
    diff = np.where(same, 1.0, S2 - S1)

    def divided(f1, f2, d2):
        return np.where(same, d2, (f2 - f1) / diff)

    ga, dga, _ = A.leading("target")
    gb, dgb, ddgb = B.leading("target")
    g1, g2, dg2 = ga[..., :, None], gb[..., None, :], dgb[..., None, :]
    dd = divided(g1, g2, dg2)
    V0 = g1 + S2 * dd
    R1, R2 = A.R[..., :, None], B.R[..., None, :]
    W0 = V0 / (R1 * R2)
    hA = A.leading("lam")[0]
    hB, dhB = B.leading("lam")[:2]
    lead = hA[..., :, None] + S2 * divided(hA[..., :, None], hB[..., None, :], dhB[..., None, :])
    scale = noise / (n * S1 * S2)
    if not corrected:
        return W0 + scale * lead, None
    dV0 = np.where(same, dg2 + S2 * 0.5 * ddgb[..., None, :],
                   dd + S2 * (dg2 * diff - (g2 - g1)) / diff**2)
    dW0 = dV0 / (R1 * R2) - W0 * B.dR_ds()[..., None, :] / R2
    W11 = ((ga + A.s * dga) / A.R**2)[..., :, None]
    Y1 = W11 - S2 * np.where(same, -dW0, (W11 - W0) / diff)
    Y2 = W0 + S2 * dW0
    ha, hb = A.correction("target"), B.correction("target")
    dhb = B.correction_derivative("target")
    Vf = V0 + ha[..., :, None] + S2 * divided(ha[..., :, None], hb[..., None, :], dhb[..., None, :])
    t1 = ((hA + A.correction("lam")) / n)[..., :, None]
    one_minus_tau2 = B.R[..., None, :] + B.s[..., None, :] * B.E3[..., None, :] / (n**2 * B.Dn[..., None, :]**2)
    W = ((1.0 + t1) * Vf + (Y1 + Y2) / n) / one_minus_tau2
    cA, cB = A.correction("lam"), B.correction("lam")
    dcB = B.correction_derivative("lam")
    full = lead + cA[..., :, None] + S2 * divided(cA[..., :, None], cB[..., None, :], dcB[..., None, :])
    return W0 + scale * lead, W + scale * full


# ---- assembly at nodes ---------------------------------------------------------------------------

def _sides(modes, N, P, s, consts, total, n_threads=0):
    """(_PSide plain, _PSide corrected) at Laplace variables s (K,)."""
    kappa = _core.theory.one_point(modes.spectrum, modes.multiplicity, float(N), float(P), s)[0]
    x0, plain, full = _n_side_series(modes, N, kappa, n_threads)
    out = []
    for name, ser in (("plain", plain), ("full", full)):
        pi, H0 = consts[name]
        sums = _c_sums(ser["U"], ser["Phi"], x0, total - pi, H0)
        if name == "plain":
            eps = np.zeros(s.size, dtype=np.complex128)
        else:  # re-solve s = x (1 - U(x)/P) with the corrected U (Newton on the series)
            eps = np.zeros(s.size, dtype=np.complex128)
            U = sums["base"][0]
            for _ in range(4):
                f = (x0 + eps) * (1.0 - _evaluate(U, eps) / P) - s
                fp = (1.0 - _evaluate(U, eps) / P) - (x0 + eps) * _evaluate(_deriv(U), eps) / P
                eps = eps - f / fp
        ev = {k: tuple(None if v is None else _evaluate(v, eps) for v in f) for k, f in sums.items()}
        out.append(_PSide(P, s, x0 + eps, ev))
    return out


def _reshape(side, shape):
    out = object.__new__(_PSide)
    out.__dict__ = {k: (v.reshape(shape) if isinstance(v, np.ndarray) else v)
                    for k, v in side.__dict__.items() if k != "forms"}
    out.forms = {k: tuple(None if v is None else v.reshape(shape) for v in f)
                 for k, f in side.forms.items()}
    return out


def two_sided_corrections(modes, N, P, times, nodes=16, n_threads=0):
    """(test_correction, train_correction), shape (T,), at gradient-flow times (time scale 1)
    with both N and P finite; also returns the P-side deterministic equivalent of the plain
    averages (which equals the DMFT: a check) as (test0, train0)."""
    times = np.asarray(times, dtype=np.float64)
    consts, total = _constants(modes, N)
    noise = modes.noise
    T = times.size
    out = {k: np.zeros(T) for k in ("test0", "train0", "dtest", "dtrain")}
    live = np.nonzero(times > 0)[0]
    if live.size == 0:
        return out
    contours = [talbot_contour(times[i], nodes) for i in live]
    s = np.array([c[0] for c in contours])          # (T', n)
    w = np.array([c[1] for c in contours])
    plain, full = _sides(modes, N, P, s.ravel(), consts, total, n_threads)
    plain, full = _reshape(plain, s.shape), _reshape(full, s.shape)
    cols_p, cols_f = plain.cat(_tail_conj(plain)), full.cat(_tail_conj(full))
    fw = np.concatenate([w, np.conj(w[:, 1:])], axis=1)
    pi_p, pi_f = consts["plain"][0], consts["full"][0]
    W0p, Wp = _two_point(plain, cols_p, noise + pi_p)
    W0f, _ = _two_point(full, cols_f, noise + pi_f, corrected=False)

    def inv2(F):
        row = (w[:, :, None] * fw[:, None, :] * F).sum(axis=2)
        return 2.0 * row.real.sum(axis=1) - row[:, 0].real

    out["test0"][live] = inv2(W0p) + pi_p
    out["dtest"][live] = inv2(W0f - W0p + Wp - W0p) + (pi_f - pi_p)
    w2 = w * np.exp(times[live, None] * s)  # the 1-D inversion at 2t on the contour of t

    def inv1(F):
        v = w2 * F
        return v[:, 0].real + 2.0 * v[:, 1:].real.sum(axis=1)

    def train_de(side, name):
        # H0 - s g decays like 1/s (the Laplace transform of beta^T S e^{-tS} beta)
        pi, H0 = consts[name]
        return H0 - side.s * side.leading("target")[0] + (noise + pi) / side.kappa

    out["train0"][live] = inv1(train_de(plain, "plain"))
    out["dtrain"][live] = inv1(train_de(full, "full") - train_de(plain, "plain")
                               - plain.s * plain.correction("target")
                               + (noise + pi_p) / P * plain.correction("ones"))
    return out


def _tail_conj(side):
    c = side.conj()
    out = object.__new__(_PSide)
    out.__dict__ = {k: (v[..., 1:] if isinstance(v, np.ndarray) else v)
                    for k, v in c.__dict__.items() if k != "forms"}
    out.forms = {k: tuple(None if v is None else v[..., 1:] for v in f) for k, f in c.forms.items()}
    return out


def _static_at(modes, N, P, ridge, consts, total):
    """(dmft_test, dmft_train, test_correction, train_correction) at real ridge > 0."""
    noise = modes.noise
    s = np.array([ridge + 0j])
    plain, full = _sides(modes, N, P, s, consts, total)
    r2 = ridge * ridge
    W0p, Wp = _two_point(plain, plain, noise + consts["plain"][0])
    W0f, _ = _two_point(full, full, noise + consts["full"][0], corrected=False)
    pi_p, pi_f = consts["plain"][0], consts["full"][0]
    test0 = (r2 * W0p[0, 0]).real + pi_p
    dtest = (r2 * (W0f - W0p + Wp - W0p)[0, 0]).real + pi_f - pi_p

    def train_de(side, name):
        g, dg, _ = side.leading("target")
        x_s = 1.0 / side.Dn  # dx/ds on the P side
        return (r2 * (g + ridge * dg) + (noise + consts[name][0]) * r2 * x_s / side.kappa**2)[0].real

    train0 = train_de(plain, "plain")
    dtrain = train_de(full, "full") - train0 + (
        r2 * (plain.correction("target") + ridge * plain.correction_derivative("target"))
        - (noise + pi_p) / P * r2 * plain.correction_derivative("ones"))[0].real
    return np.array([test0, train0, dtest, dtrain])


def two_sided_static(modes, N, P, ridge):
    """(dmft_test, dmft_train, test_correction, train_correction) of the ridge (ridge > 0) or
    t -> inf (ridge 0) losses. Ridge 0: Richardson from ridges h, 2h, 4h (error O(h^3)),
    h = 1e-2 x the DMFT's kappa at ridge 0 when P < N ... (see docs)."""
    consts, total = _constants(modes, N)
    if ridge > 0:
        return _static_at(modes, N, P, ridge, consts, total)
    h = _RIDGE0_STEP * _ridge0_scale(modes, N, P)
    f = [_static_at(modes, N, P, c * h, consts, total) for c in (1.0, 2.0, 4.0)]
    return (8.0 * f[0] - 6.0 * f[1] + f[2]) / 3.0


_RIDGE0_STEP = 3e-4  # h^3 error 1e-10 of the loss, round-off of the 1/x divisions ~1e-10


def _ridge0_scale(modes, N, P):
    # the P-side kappa at ridge 0 when P < N (interpolation: kappa_P -> kappa_Pc > 0); for P > N
    # kappa_P -> 0 with the ridge and the scale is the ridge at which kappa_P equals the smallest
    # typical eigenvalue of C (the N-side kappa_c)
    kc = _core.theory.critical_kappa(modes.spectrum, modes.multiplicity, float(min(N, P)))
    return float(kc)
