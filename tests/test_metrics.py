"""Tests for interprim.metrics (SPEC §4), one metric at a time.

Each metric is checked on a small hand-worked example, against a direct loop-based implementation
of its definition on random inputs (raw and with the singletons merged), batched against one
sample at a time, torch against numpy, Interactions against arrays, and on bad inputs. Subsets are
bitmasks: for n=2, index 0 = ∅, 1 = {0}, 2 = {1}, 3 = {0,1}. The invariance under moving amounts
between I_and({i}) and I_or({i}) is in test_metrics_invariance.py, the per-model thresholds in
test_metrics_per_model.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interprim import Interactions
from interprim import metrics as M
from interprim.transforms import split_interactions

RAW = {"merge_singletons": False}


def popcount(t: int) -> int:
    return bin(t).count("1")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_pair(rng, shape, n):
    a = rng.normal(size=(*shape, 2**n))
    o = rng.normal(size=(*shape, 2**n))
    o[..., 0] = 0.0
    return a, o


def merge(a, o):
    """Copies with I_or({i}) added to I_and({i}) and I_or({i}) = 0, by a loop over the players."""
    a, o = np.array(a, dtype=float), np.array(o, dtype=float)
    n = a.shape[-1].bit_length() - 1
    for i in range(n):
        a[..., 1 << i] += o[..., 1 << i]
        o[..., 1 << i] = 0.0
    return a, o


# The n=2 example used by several hand-worked tests.
EX_AND = np.array([5.0, 0.3, -0.1, 0.5])  # bias 5, I_and({0})=0.3, I_and({1})=-0.1, I_and({0,1})=0.5
EX_OR = np.array([0.0, -0.4, 0.05, 0.2])  # I_or({0})=-0.4, I_or({1})=0.05, I_or({0,1})=0.2
# merged: singleton {0} = 0.3 - 0.4 = -0.1, {1} = -0.1 + 0.05 = -0.05; AND{0,1} 0.5, OR{0,1} 0.2
# h(N) - h(∅) = 0.3 - 0.1 + 0.5 - 0.4 + 0.05 + 0.2 = 0.55 → SPEC τ = 0.011


# ---------------------------------------------------------------------------------------------
# Loop-based references, written straight from the definitions
# ---------------------------------------------------------------------------------------------


def ref_mask_one(a, o, threshold=None, top_k=None, merged=False):
    """Salient masks of one sample (1-D a, o); with ``merged`` the OR singletons are not interactions.

    ``|I(T)| > threshold`` (``None``: ``> 0``), or the ``top_k`` strongest, AND and OR pooled."""
    size = len(a)
    is_or = [t != 0 and not (merged and popcount(t) == 1) for t in range(size)]
    ma, mo = np.zeros(size, bool), np.zeros(size, bool)
    if top_k is not None:
        items = [(-abs(a[t]), 0, t) for t in range(1, size)] + [(-abs(o[t]), 1, t) for t in range(1, size) if is_or[t]]
        for _, typ, t in sorted(items)[:top_k]:
            (ma if typ == 0 else mo)[t] = True
        return ma, mo
    tau = 0.0 if threshold is None else threshold
    for t in range(1, size):
        ma[t] = abs(a[t]) > tau
        mo[t] = is_or[t] and abs(o[t]) > tau
    return ma, mo


def ref_order_strengths_one(a, o, n, threshold=None, top_k=None, merged=False):
    ma, mo = ref_mask_one(a, o, threshold, top_k, merged)
    jp, jn = np.zeros(n + 1), np.zeros(n + 1)
    for t in range(1, 2**n):
        k = popcount(t)
        for val, sal in ((a[t], ma[t]), (o[t], mo[t])):
            if sal:
                jp[k] += max(val, 0.0)
                jn[k] += abs(min(val, 0.0))
    return jp, jn


def ref_average_order_one(a, o, n, threshold=None, top_k=None, merged=False):
    jp, jn = ref_order_strengths_one(a, o, n, threshold, top_k, merged)
    num = sum(k * (jp[k] + jn[k]) for k in range(n + 1))
    den = sum(jp[k] + jn[k] for k in range(n + 1))
    return num / den if den else math.nan


def ref_jaccard(train_a, train_o, test_a, test_o, n, threshold=None, top_k=None, merged=False):
    def mean_vec(A, O):
        A = A.reshape(-1, 2**n)
        O = O.reshape(-1, 2**n)
        sa, so = np.zeros(2**n), np.zeros(2**n)
        for i in range(A.shape[0]):
            ma, mo = ref_mask_one(A[i], O[i], threshold, top_k, merged)
            for t in range(2**n):
                sa[t] += A[i, t] if ma[t] else 0.0
                so[t] += O[i, t] if mo[t] else 0.0
        return sa / A.shape[0], so / A.shape[0]

    ra, ro = mean_vec(train_a, train_o)
    ea, eo = mean_vec(test_a, test_o)
    out = np.full(n + 1, np.nan)
    for k in range(1, n + 1):
        num = den = 0.0
        for t in range(1, 2**n):
            if popcount(t) != k:
                continue
            for x, y in ((ra[t], ea[t]), (ro[t], eo[t])):
                for dx, dy in ((max(x, 0), max(y, 0)), (max(-x, 0), max(-y, 0))):
                    num += min(dx, dy)
                    den += max(dx, dy)
        out[k] = num / den if den else math.nan
    return out


def per_model(threshold, i):
    """Model i's threshold: one number for all models, or a list with one per model."""
    return threshold[i] if isinstance(threshold, (list, np.ndarray)) else threshold


def ref_transferability(a, o, threshold=None, top_k=None, merged=False):
    """a, o of shape (m, B, 2**n) → (s_and, s_or) of shape (m, B)."""
    m, B, size = a.shape
    s_and, s_or = np.full((m, B), np.nan), np.full((m, B), np.nan)
    for b in range(B):
        omega = [ref_mask_one(a[i, b], o[i, b], per_model(threshold, i), top_k, merged) for i in range(m)]
        shared_and = {t for t in range(size) if all(omega[i][0][t] for i in range(m))}
        shared_or = {t for t in range(size) if all(omega[i][1][t] for i in range(m))}
        for i in range(m):
            for x, sh, om, out in ((a, shared_and, omega[i][0], s_and), (o, shared_or, omega[i][1], s_or)):
                num = sum(abs(x[i, b, t]) for t in sh)
                den = sum(abs(x[i, b, t]) for t in range(size) if om[t])
                out[i, b] = num / den if den else math.nan
    return s_and, s_or


def ref_shared_ratio(a, o, n, threshold=None, top_k=None, pool=True, merged=False):
    """a, o of shape (m, B, 2**n) → (r_pos, r_neg) of shape (m, n+1) or (m, B, n+1)."""
    m, B, _ = a.shape
    sh_p, sh_n = np.zeros((m, B, n + 1)), np.zeros((m, B, n + 1))
    al_p, al_n = np.zeros((m, B, n + 1)), np.zeros((m, B, n + 1))
    for b in range(B):
        omega = [ref_mask_one(a[i, b], o[i, b], per_model(threshold, i), top_k, merged) for i in range(m)]
        for i in range(m):
            for typ, x in ((0, a), (1, o)):
                for t in range(1, 2**n):
                    if not omega[i][typ][t]:
                        continue
                    k, val = popcount(t), x[i, b, t]
                    shared = all(omega[j][typ][t] for j in range(m))
                    al_p[i, b, k] += max(val, 0)
                    al_n[i, b, k] += max(-val, 0)
                    if shared:
                        sh_p[i, b, k] += max(val, 0)
                        sh_n[i, b, k] += max(-val, 0)
    if pool:
        sh_p, sh_n, al_p, al_n = (x.sum(1) for x in (sh_p, sh_n, al_p, al_n))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(al_p > 0, sh_p / al_p, np.nan), np.where(al_n > 0, sh_n / al_n, np.nan)


def ref_reconstruct_one(a, o, n):
    h = np.zeros(2**n)
    for s in range(2**n):
        h[s] = a[0]
        for t in range(1, 2**n):
            if t & ~s == 0:
                h[s] += a[t]
            if t & s:
                h[s] += o[t]
    return h


def spec_tau(a, o):
    """0.02 · mean over the samples of |h(N) − h(∅)| = |Σ_{T≠∅} I_and(T) + I_or(T)|, by a loop."""
    a2, o2 = a.reshape(-1, a.shape[-1]), o.reshape(-1, o.shape[-1])
    return 0.02 * np.mean([abs(sum(a2[b, 1:]) + sum(o2[b, 1:])) for b in range(a2.shape[0])])


# ---------------------------------------------------------------------------------------------
# salient_threshold
# ---------------------------------------------------------------------------------------------


def test_salient_threshold_hand_worked():
    # n=1, two samples: |v(x) - v(x_∅)| = |3 - 1| = 2 and |-2 - 2| = 4, mean 3
    v = np.array([[1.0, 3.0], [2.0, -2.0]])
    assert M.salient_threshold(v) == pytest.approx(0.02 * 3)
    assert M.salient_threshold(v, ratio=0.5) == pytest.approx(1.5)
    assert isinstance(M.salient_threshold(v), float)


def test_salient_threshold_loop_batched_torch(rng):
    v = rng.normal(size=(3, 4, 8))
    ref = 0.02 * np.mean([abs(v[i, j, 7] - v[i, j, 0]) for i in range(3) for j in range(4)])
    assert M.salient_threshold(v) == pytest.approx(ref)
    assert M.salient_threshold(v.reshape(12, 8)) == pytest.approx(ref)
    assert M.salient_threshold(torch.from_numpy(v)) == pytest.approx(ref)
    assert M.salient_threshold(torch.from_numpy(v).float()) == pytest.approx(ref, rel=1e-6)
    # per model: the first axis
    per = M.salient_threshold(v, per_model=True)
    assert per.shape == (3,)
    for i in range(3):
        assert per[i] == pytest.approx(0.02 * np.mean([abs(v[i, j, 7] - v[i, j, 0]) for j in range(4)]))


def test_salient_threshold_from_interactions(rng):
    # an extraction with noise: reconstruct(i_and, i_or) = v + q, so τ from the Interactions (which
    # subtracts q(N) - q(∅)) is the τ of v itself, and τ from the bare arrays is the τ of v + q
    v = rng.normal(size=(5, 16))
    q = 0.05 * rng.normal(size=(5, 16))
    g = rng.normal(size=(5, 16))
    i_and, i_or = split_interactions((v + q) / 2 + g, (v + q) / 2 - g)
    r = Interactions(i_and, i_or, gamma=g, noise=q)
    tau = M.salient_threshold(v)
    assert M.salient_threshold(r) == pytest.approx(tau, rel=1e-12)
    assert r.salient_threshold() == pytest.approx(tau, rel=1e-12)
    assert M.salient_threshold(r, ratio=0.1) == pytest.approx(5 * tau, rel=1e-12)
    assert M.salient_threshold(i_and, i_or) == pytest.approx(M.salient_threshold(v + q), rel=1e-12)
    assert M.salient_threshold(i_and, i_or) != pytest.approx(tau, rel=1e-6)
    t = Interactions(torch.from_numpy(i_and).float(), torch.from_numpy(i_or).float(), noise=torch.from_numpy(q).float())
    assert M.salient_threshold(t) == pytest.approx(tau, rel=1e-5)
    # a list of Interactions: one τ per model
    big = Interactions(10 * i_and, 10 * i_or, noise=10 * q)
    per = M.salient_threshold([r, big])
    assert isinstance(per, np.ndarray) and per.shape == (2,)
    np.testing.assert_allclose(per, [tau, 10 * tau], rtol=1e-12)
    assert M.salient_threshold([r, big], per_model=False) == pytest.approx(5.5 * tau, rel=1e-12)
    np.testing.assert_allclose(M.salient_threshold(np.stack([v, 10 * v]), per_model=True), [tau, 10 * tau])


def test_salient_threshold_bad_input(rng):
    with pytest.raises(ValueError, match="ratio"):
        M.salient_threshold(np.zeros(4), ratio=-0.1)
    with pytest.raises(ValueError, match="ratio"):
        M.salient_threshold(np.zeros(4), ratio="a")
    with pytest.raises(ValueError, match="not 2\\*\\*n"):
        M.salient_threshold(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        M.salient_threshold(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="per_model.*no model axis"):
        M.salient_threshold(np.zeros(4), per_model=True)
    with pytest.raises(ValueError, match="per_model"):
        M.salient_threshold(np.zeros((2, 4)), per_model="yes")
    r = Interactions(*random_pair(rng, (2,), 2))
    with pytest.raises(ValueError, match="i_or: got ndarray.*leave i_or out"):
        M.salient_threshold(r, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="x\\[1\\] has shape"):
        M.salient_threshold([r, r[0]])
    with pytest.raises(ValueError, match="x\\[1\\]: got ndarray in a list of Interactions"):
        M.salient_threshold([r, np.zeros((2, 4))])


# ---------------------------------------------------------------------------------------------
# salient_mask
# ---------------------------------------------------------------------------------------------


def test_salient_mask_threshold_hand_worked():
    # raw, |I| > 0.15: AND {0} (0.3), {0,1} (0.5); OR {0} (0.4), {0,1} (0.2). The bias 5 is never salient.
    ma, mo = M.salient_mask(EX_AND, EX_OR, threshold=0.15, **RAW)
    assert ma.tolist() == [False, True, False, True]
    assert mo.tolist() == [False, True, False, True]
    # strict inequality: |I_or({0,1})| = 0.2 is not > 0.2
    ma, mo = M.salient_mask(EX_AND, EX_OR, threshold=0.2, **RAW)
    assert mo.tolist() == [False, True, False, False]
    # merged: {0} = -0.1 and {1} = -0.05 drop below 0.15; the OR singletons are gone
    ma, mo = M.salient_mask(EX_AND, EX_OR, threshold=0.15)
    assert ma.tolist() == [False, False, False, True]
    assert mo.tolist() == [False, False, False, True]


def test_salient_mask_defaults_hand_worked():
    # the default is the SPEC τ = 0.02 · 0.55 = 0.011 over this one sample: every merged interaction
    ma, mo = M.salient_mask(EX_AND, EX_OR)
    assert ma.tolist() == [False, True, True, True] and mo.tolist() == [False, False, False, True]
    # threshold=0: all interactions, that is the non-zero ones; None is the same
    a, o = np.array([1.0, 0.0, 1e-9, 2.0]), np.array([0.0, 0.0, 0.0, 0.0])
    for threshold in (0, None):
        ma, mo = M.salient_mask(a, o, threshold=threshold)
        assert ma.tolist() == [False, False, True, True] and not mo.any()
    ma, mo = M.salient_mask(EX_AND, EX_OR, threshold=None, **RAW)
    assert ma.tolist() == [False, True, True, True] and mo.tolist() == [False, True, True, True]
    # the default τ = 0.02 · |1e-9 + 2| = 0.04 drops the 1e-9
    ma, mo = M.salient_mask(a, o)
    assert ma.tolist() == [False, False, False, True]


def test_salient_mask_top_k_hand_worked():
    # raw pooled strengths: AND 0.3, 0.1, 0.5; OR 0.4, 0.05, 0.2 → top 3 = AND{0,1}, OR{0}, AND{0}
    ma, mo = M.salient_mask(EX_AND, EX_OR, top_k=3, **RAW)
    assert ma.tolist() == [False, True, False, True]
    assert mo.tolist() == [False, True, False, False]
    # all 6 interactions, the bias still excluded
    ma, mo = M.salient_mask(EX_AND, EX_OR, top_k=6, **RAW)
    assert ma.tolist() == [False, True, True, True]
    assert mo.tolist() == [False, True, True, True]
    # merged: AND 0.1, 0.05, 0.5; OR {0,1} 0.2 → top 3 = AND{0,1}, OR{0,1}, AND{0}; at most 4
    ma, mo = M.salient_mask(EX_AND, EX_OR, top_k=3)
    assert ma.tolist() == [False, True, False, True]
    assert mo.tolist() == [False, False, False, True]
    ma, mo = M.salient_mask(EX_AND, EX_OR, top_k=4)
    assert ma.tolist() == [False, True, True, True] and mo.tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="top_k.*1 <= top_k <= 4"):
        M.salient_mask(EX_AND, EX_OR, top_k=5)


def test_salient_mask_top_k_ties_deterministic():
    # all six interactions tie: AND before OR, then the smaller bitmask
    a = np.array([100.0, 1, 1, 1])
    o = np.array([0.0, -1, 1, 1])
    ma, mo = M.salient_mask(a, o, top_k=2, **RAW)
    assert ma.tolist() == [False, True, True, False] and not mo.any()
    ma, mo = M.salient_mask(a, o, top_k=4, **RAW)
    assert ma.tolist() == [False, True, True, True] and mo.tolist() == [False, True, False, False]


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("kw", [{"threshold": 0.7}, {"threshold": None}, {"top_k": 1}, {"top_k": 9}, {"top_k": 26}, {}])
def test_salient_mask_random_loop_batched_torch(rng, kw, merged):
    n = 4
    a, o = random_pair(rng, (3, 5), n)
    ma, mo = M.salient_mask(a, o, merge_singletons=merged, **kw)
    assert ma.shape == mo.shape == a.shape and ma.dtype == bool
    ra_all, ro_all = merge(a, o) if merged else (a, o)
    ref_kw = dict(kw) if kw else {"threshold": spec_tau(a, o)}  # default: the SPEC τ over all 15 samples
    for i in range(3):
        for j in range(5):
            ra, ro = ref_mask_one(ra_all[i, j], ro_all[i, j], merged=merged, **ref_kw)
            np.testing.assert_array_equal(ma[i, j], ra)
            np.testing.assert_array_equal(mo[i, j], ro)
            if "top_k" in kw:
                assert ma[i, j].sum() + mo[i, j].sum() == kw["top_k"]
    ta, to = M.salient_mask(torch.from_numpy(a), torch.from_numpy(o), merge_singletons=merged, **kw)
    np.testing.assert_array_equal(ta, ma)
    np.testing.assert_array_equal(to, mo)
    # an Interactions without noise gives the same masks
    ia, io = M.salient_mask(Interactions(a, o), merge_singletons=merged, **kw)
    np.testing.assert_array_equal(ia, ma)
    np.testing.assert_array_equal(io, mo)
    # the caller's arrays are untouched
    assert not np.shares_memory(ma, a)


def test_salient_mask_per_model_threshold(rng):
    a, o = random_pair(rng, (2, 3), 3)
    a[1] *= 10
    o[1] *= 10
    ma, mo = M.salient_mask(a, o, threshold=[0.5, 5.0])
    for i, tau in enumerate((0.5, 5.0)):
        ea, eo = M.salient_mask(a[i], o[i], threshold=tau)
        np.testing.assert_array_equal(ma[i], ea)
        np.testing.assert_array_equal(mo[i], eo)
    # a list of Interactions: the default τ is per model
    rs = [Interactions(a[0], o[0]), Interactions(a[1], o[1])]
    la, lo = M.salient_mask(rs)
    for i in range(2):
        ea, eo = M.salient_mask(a[i], o[i], threshold=spec_tau(a[i], o[i]))
        np.testing.assert_array_equal(la[i], ea)
        np.testing.assert_array_equal(lo[i], eo)


def test_salient_mask_bad_input(rng):
    a, o = random_pair(rng, (2,), 2)
    with pytest.raises(ValueError, match="both given"):
        M.salient_mask(a, o, threshold=0.1, top_k=2)
    with pytest.raises(ValueError, match="both given"):
        M.salient_mask(a, o, threshold=0, top_k=2)
    with pytest.raises(ValueError, match="top_k.*out of range"):
        M.salient_mask(a, o, top_k=0)
    with pytest.raises(ValueError, match="top_k.*1 <= top_k <= 6"):
        M.salient_mask(a, o, top_k=7, **RAW)
    with pytest.raises(ValueError, match="top_k"):
        M.salient_mask(a, o, top_k=2.0)
    with pytest.raises(ValueError, match="top_k"):
        M.salient_mask(a, o, top_k=True)
    with pytest.raises(ValueError, match="threshold"):
        M.salient_mask(a, o, threshold=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        M.salient_mask(a, o, threshold=float("nan"))
    with pytest.raises(ValueError, match="threshold.*'spec'"):
        M.salient_mask(a, o, threshold="SPEC")
    with pytest.raises(ValueError, match="threshold: got 3 thresholds but the first axis has 2"):
        M.salient_mask(a, o, threshold=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="threshold: got 2 thresholds but there is no model axis"):
        M.salient_mask(a[0], o[0], threshold=[0.1, 0.2])
    with pytest.raises(ValueError, match="threshold.*shape"):
        M.salient_mask(a, o, threshold=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="threshold"):
        M.salient_mask(a, o, threshold=True)
    with pytest.raises(ValueError, match="merge_singletons"):
        M.salient_mask(a, o, merge_singletons=1)
    with pytest.raises(ValueError, match="i_or: missing"):
        M.salient_mask(a)
    with pytest.raises(ValueError, match="i_and has shape .* but i_or has shape"):
        M.salient_mask(a, o[:1], threshold=0.1)
    with pytest.raises(ValueError, match="i_or.*not 2\\*\\*n"):
        M.salient_mask(a, o[..., :3], threshold=0.1)
    with pytest.raises(ValueError, match="i_and.*NaN"):
        M.salient_mask(np.full(4, np.nan), np.zeros(4), threshold=0.1)
    with pytest.raises(ValueError, match="i_and.*dtype"):
        M.salient_mask(np.zeros(4, dtype=complex), np.zeros(4), threshold=0.1)


# ---------------------------------------------------------------------------------------------
# order_strengths and average_order
# ---------------------------------------------------------------------------------------------


def test_order_strengths_hand_worked():
    # raw, all interactions: order 1: AND 0.3, -0.1; OR -0.4, 0.05 → pos 0.35, neg 0.5
    #                        order 2: AND 0.5; OR 0.2 → pos 0.7, neg 0; the bias 5 is not counted
    jp, jn = M.order_strengths(EX_AND, EX_OR, threshold=0, **RAW)
    np.testing.assert_allclose(jp, [0.0, 0.35, 0.7])
    np.testing.assert_allclose(jn, [0.0, 0.5, 0.0])
    # raw, |I| > 0.15: order 1 keeps AND 0.3 and OR -0.4; order 2 keeps 0.5 and 0.2
    jp, jn = M.order_strengths(EX_AND, EX_OR, threshold=0.15, **RAW)
    np.testing.assert_allclose(jp, [0.0, 0.3, 0.7])
    np.testing.assert_allclose(jn, [0.0, 0.4, 0.0])
    # raw, top 2: AND{0,1} 0.5 and OR{0} -0.4
    jp, jn = M.order_strengths(EX_AND, EX_OR, top_k=2, **RAW)
    np.testing.assert_allclose(jp, [0.0, 0.0, 0.5])
    np.testing.assert_allclose(jn, [0.0, 0.4, 0.0])
    # default: merged singletons -0.1, -0.05 and the SPEC τ 0.011 keeps them all → order 1 neg 0.15
    jp, jn = M.order_strengths(EX_AND, EX_OR)
    np.testing.assert_allclose(jp, [0.0, 0.0, 0.7])
    np.testing.assert_allclose(jn, [0.0, 0.15, 0.0])
    # the same from an Interactions, and threshold=None (all) == threshold=0
    for kw in ({}, {"threshold": None}, {"threshold": 0}):
        ip_, in_ = M.order_strengths(Interactions(EX_AND, EX_OR), **kw)
        np.testing.assert_allclose(ip_, [0.0, 0.0, 0.7])
        np.testing.assert_allclose(in_, [0.0, 0.15, 0.0])


def test_average_order_hand_worked():
    # raw, all: total = [0, 0.85, 0.7] → η = (1·0.85 + 2·0.7) / 1.55 = 2.25 / 1.55
    assert M.average_order(EX_AND, EX_OR, threshold=0, **RAW) == pytest.approx(2.25 / 1.55)
    # raw, |I| > 0.15: total = [0, 0.7, 0.7] → η = (0.7 + 1.4) / 1.4 = 1.5
    assert M.average_order(EX_AND, EX_OR, threshold=0.15, **RAW) == pytest.approx(1.5)
    # top 1: only AND{0,1} → η = 2
    assert M.average_order(EX_AND, EX_OR, top_k=1) == pytest.approx(2.0)
    # default (merged, SPEC τ): total = [0, 0.15, 0.7] → η = (0.15 + 1.4) / 0.85
    assert M.average_order(EX_AND, EX_OR) == pytest.approx(1.55 / 0.85)
    # merged, |I| > 0.15: only order 2 is left → η = 2
    assert M.average_order(EX_AND, EX_OR, threshold=0.15) == pytest.approx(2.0)
    # nothing salient (only a bias) → NaN
    assert math.isnan(M.average_order(np.array([3.0, 0, 0, 0]), np.zeros(4)))
    assert math.isnan(M.average_order(EX_AND, EX_OR, threshold=10.0))


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("kw", [{}, {"threshold": 0}, {"threshold": 0.8}, {"top_k": 5}])
def test_order_strengths_and_average_order_random(rng, kw, merged):
    n = 4
    a, o = random_pair(rng, (2, 3), n)
    jp, jn = M.order_strengths(a, o, merge_singletons=merged, **kw)
    eta = M.average_order(a, o, merge_singletons=merged, **kw)
    assert jp.shape == jn.shape == (2, 3, n + 1) and eta.shape == (2, 3)
    ra, ro = merge(a, o) if merged else (a, o)
    ref_kw = dict(kw) if kw else {"threshold": spec_tau(a, o)}
    for i in range(2):
        for j in range(3):
            rp, rn = ref_order_strengths_one(ra[i, j], ro[i, j], n, merged=merged, **ref_kw)
            np.testing.assert_allclose(jp[i, j], rp, atol=1e-12)
            np.testing.assert_allclose(jn[i, j], rn, atol=1e-12)
            assert eta[i, j] == pytest.approx(ref_average_order_one(ra[i, j], ro[i, j], n, merged=merged, **ref_kw))
            # batched == one sample at a time (with the batch's τ)
            sp, sn = M.order_strengths(a[i, j], o[i, j], merge_singletons=merged, **ref_kw)
            np.testing.assert_allclose(sp, jp[i, j], atol=1e-12)
            assert M.average_order(a[i, j], o[i, j], merge_singletons=merged, **ref_kw) == pytest.approx(eta[i, j])
    tp, tn = M.order_strengths(torch.from_numpy(a), torch.from_numpy(o), merge_singletons=merged, **kw)
    assert isinstance(tp, np.ndarray) and tp.dtype == np.float64
    np.testing.assert_allclose(tp, jp)
    np.testing.assert_allclose(tn, jn)
    # autograd-tracked tensors are detached, not rejected
    ta = torch.from_numpy(a).requires_grad_()
    np.testing.assert_allclose(M.average_order(ta, torch.from_numpy(o), merge_singletons=merged, **kw), eta)
    # an Interactions (no noise) gives the same
    np.testing.assert_allclose(M.average_order(Interactions(a, o), merge_singletons=merged, **kw), eta)


def test_order_strengths_list_is_per_model(rng):
    n = 3
    a, o = random_pair(rng, (2, 4), n)
    a[1] *= 20
    o[1] *= 20
    rs = [Interactions(a[0], o[0]), Interactions(a[1], o[1])]
    jp, jn = M.order_strengths(rs)
    eta = M.average_order(rs)
    assert jp.shape == (2, 4, n + 1) and eta.shape == (2, 4)
    for i in range(2):
        ep, en = M.order_strengths(a[i], o[i])  # each model alone: its own τ
        np.testing.assert_allclose(jp[i], ep)
        np.testing.assert_allclose(jn[i], en)
        np.testing.assert_allclose(eta[i], M.average_order(rs[i]))
    # one τ per model given explicitly, on the stacked arrays
    taus = [spec_tau(a[0], o[0]), spec_tau(a[1], o[1])]
    np.testing.assert_allclose(M.order_strengths(a, o, threshold=taus)[0], jp)


def test_order_strengths_bad_input(rng):
    a, o = random_pair(rng, (2,), 3)
    with pytest.raises(ValueError, match="both given"):
        M.order_strengths(a, o, threshold=0.1, top_k=1)
    with pytest.raises(ValueError, match="top_k.*1 <= top_k <= 14"):
        M.order_strengths(a, o, top_k=15, **RAW)
    with pytest.raises(ValueError, match="top_k.*1 <= top_k <= 11"):
        M.order_strengths(a, o, top_k=12)
    with pytest.raises(ValueError, match="i_and has shape"):
        M.average_order(a, o[0])
    with pytest.raises(ValueError, match="threshold"):
        M.average_order(a, o, threshold=-0.5)
    with pytest.raises(ValueError, match="i_or: got ndarray"):
        M.average_order(Interactions(a, o), o)


# ---------------------------------------------------------------------------------------------
# jaccard_by_order
# ---------------------------------------------------------------------------------------------


def test_jaccard_by_order_hand_worked():
    train_and = np.array([[9.0, 1, 0, 2], [9.0, 3, 0, -2]])  # mean AND: {0} 2, {0,1} 0
    train_or = np.array([[0.0, 0, 0, 0], [0.0, 0, 0, 0]])
    test_and = np.array([[1.0, 1, 0, 1]])  # AND: {0} 1, {0,1} 1
    test_or = np.array([[0.0, 0, 0, -3]])  # OR: {0,1} -3
    train, test = (train_and, train_or), (test_and, test_or)
    # all: order 1: d entries AND+{0}: (2, 1) → min 1, max 2 → 0.5
    #      order 2: AND+{0,1}: (0, 1), OR-{0,1}: (0, 3) → 0 / 4 = 0
    sim = M.jaccard_by_order(train, test, threshold=0)
    assert math.isnan(sim[0])
    np.testing.assert_allclose(sim[1:], [0.5, 0.0])
    # threshold 1.5 per sample: train AND {0}: (0, 3) → mean 1.5; train {0,1}: |2| > 1.5 but averages
    # 2 and -2 → 0; test AND 1s dropped, OR {0,1} -3 kept.
    # order 1: (AND+ 1.5 vs 0) → 0 / 1.5 = 0; order 2: (OR- 0 vs 3) → 0 / 3 = 0
    sim = M.jaccard_by_order(train, test, threshold=1.5)
    assert math.isnan(sim[0]) and sim[1] == 0.0 and sim[2] == 0.0
    # the SPEC τ is one over train and test together: |h(N) - h(∅)| = |1 + 2|, |3 - 2|, |1 + 1 - 3|
    # = 3, 1, 1 → τ = 0.02 · 5/3, below every non-zero entry, so the default equals threshold=0
    default = M.jaccard_by_order(train, test)
    np.testing.assert_allclose(default, M.jaccard_by_order(train, test, threshold=0.02 * 5 / 3))
    np.testing.assert_allclose(default[1:], [0.5, 0.0])
    # strict: |I| > 1 drops the 1s of train sample 0 and of the test sample → order 1: (1.5 vs 0) → 0
    assert M.jaccard_by_order(train, test, threshold=0.99)[1] == pytest.approx(0.5)
    assert M.jaccard_by_order(train, test, threshold=1.0)[1] == 0.0
    # identical train and test → 1 on every order that has interactions
    sim = M.jaccard_by_order(train, train)
    np.testing.assert_allclose(sim[1], 1.0)
    # opposite signs never overlap
    sim = M.jaccard_by_order(test, (-test_and, -test_or))
    np.testing.assert_allclose(sim[1:], [0.0, 0.0])


def test_jaccard_by_order_merges_singletons():
    # train stores the singleton {0} as AND 1, test as OR 1: the same explanation
    train = (np.array([0.0, 1, 0, 0]), np.zeros(4))
    test = (np.zeros(4), np.array([0.0, 1, 0, 0]))
    np.testing.assert_allclose(M.jaccard_by_order(train, test)[1], 1.0)
    np.testing.assert_allclose(M.jaccard_by_order(train, test, **RAW)[1], 0.0)


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("kw", [{}, {"threshold": 0}, {"threshold": 0.9}, {"top_k": 7}])
def test_jaccard_by_order_random(rng, kw, merged):
    n = 4
    ta, to = random_pair(rng, (7,), n)
    ea, eo = random_pair(rng, (2, 3), n)  # different batch shape, same n
    ta += 0.8
    ea += 0.8  # a shared tendency, so the similarities are not all tiny
    sim = M.jaccard_by_order((ta, to), (ea, eo), merge_singletons=merged, **kw)
    assert sim.shape == (n + 1,)
    # default: one τ over the 7 + 6 samples of train and test
    ref_kw = dict(kw) if kw else {"threshold": spec_tau(np.concatenate((ta, ea.reshape(6, -1))),
                                                       np.concatenate((to, eo.reshape(6, -1))))}
    rta, rto = merge(ta, to) if merged else (ta, to)
    rea, reo = merge(ea, eo) if merged else (ea, eo)
    ref = ref_jaccard(rta, rto, rea, reo, n, merged=merged, **ref_kw)
    np.testing.assert_allclose(sim, ref, equal_nan=True)
    assert np.all((sim[1:] >= 0) & (sim[1:] <= 1))
    # the batch axes are just samples: flattening them changes nothing
    flat = M.jaccard_by_order((ta, to), (ea.reshape(6, -1), eo.reshape(6, -1)), merge_singletons=merged, **kw)
    np.testing.assert_allclose(flat, sim, equal_nan=True)
    ts = [torch.from_numpy(x) for x in (ta, to, ea, eo)]
    np.testing.assert_allclose(
        M.jaccard_by_order(ts[:2], ts[2:], merge_singletons=merged, **kw), sim, equal_nan=True
    )
    got = M.jaccard_by_order(Interactions(ta, to), Interactions(ea, eo), merge_singletons=merged, **kw)
    np.testing.assert_allclose(got, sim, equal_nan=True)


def test_jaccard_by_order_bad_input(rng):
    ta, to = random_pair(rng, (3,), 3)
    ea, eo = random_pair(rng, (3,), 2)
    with pytest.raises(ValueError, match="same players"):
        M.jaccard_by_order((ta, to), (ea, eo))
    with pytest.raises(ValueError, match="train_and has shape .* but train_or"):
        M.jaccard_by_order((ta, to[:2]), (ta, to))
    with pytest.raises(ValueError, match="test_and has shape .* but test_or"):
        M.jaccard_by_order((ta, to), (ta, to[:2]))
    with pytest.raises(ValueError, match="both given"):
        M.jaccard_by_order((ta, to), (ta, to), threshold=0.1, top_k=2)
    with pytest.raises(ValueError, match="threshold: got 2 thresholds but there is no model axis"):
        M.jaccard_by_order((ta, to), (ta, to), threshold=[0.1, 0.2])
    with pytest.raises(ValueError, match="train: got ndarray.*pair \\(i_and, i_or\\)"):
        M.jaccard_by_order(ta, (ta, to))
    r = Interactions(ta, to)
    with pytest.raises(ValueError, match="test: got list"):
        M.jaccard_by_order(r, [r, r])


# ---------------------------------------------------------------------------------------------
# transferability and transferability_curve
# ---------------------------------------------------------------------------------------------

# two models (first axis), one sample, n=2
TR_AND = np.array([[0.0, 0.5, 0.1, -0.3], [1.0, 0.4, 0.6, 0.01]])
TR_OR = np.array([[0.0, 0.2, 0.0, 0.05], [0.0, -0.3, 0.02, 0.0]])
# merged singletons: model 0 {0} 0.7, {1} 0.1; model 1 {0} 0.1, {1} 0.62


def test_transferability_hand_worked():
    # raw, |I| > 0.15: model 0 Ω_and = {{0}: 0.5, {0,1}: -0.3}, Ω_or = {{0}: 0.2}
    #                  model 1 Ω_and = {{0}: 0.4, {1}: 0.6},   Ω_or = {{0}: -0.3}
    # shared: AND {{0}}, OR {{0}} → s_and = [0.5/0.8, 0.4/1.0], s_or = [1, 1]
    s_and, s_or = M.transferability(TR_AND, TR_OR, threshold=0.15, **RAW)
    np.testing.assert_allclose(s_and, [0.625, 0.4])
    np.testing.assert_allclose(s_or, [1.0, 1.0])
    # raw, top 2 (pooled): model 0 AND {0} (0.5), AND {0,1} (0.3); model 1 AND {1} (0.6), AND {0} (0.4)
    # → same s_and; no OR interaction selected → 0/0 = NaN
    s_and, s_or = M.transferability(TR_AND, TR_OR, top_k=2, **RAW)
    np.testing.assert_allclose(s_and, [0.625, 0.4])
    assert np.isnan(s_or).all()
    # merged, |I| > 0.15: model 0 Ω_and = {{0}: 0.7, {0,1}: -0.3}; model 1 Ω_and = {{1}: 0.62};
    # no OR left → nothing shared: s_and = [0, 0], s_or NaN
    s_and, s_or = M.transferability(TR_AND, TR_OR, threshold=0.15)
    np.testing.assert_allclose(s_and, [0.0, 0.0])
    assert np.isnan(s_or).all()
    # one threshold per model: model 1 at 0.05 adds {0} (0.1) → shared {0}: [0.7/1.0, 0.1/0.72]
    s_and, _ = M.transferability(TR_AND, TR_OR, threshold=[0.15, 0.05])
    np.testing.assert_allclose(s_and, [0.7, 0.1 / 0.72])


def test_transferability_issue_example_and_vs_or_singleton():
    # both models explain the sample by the same singleton effect 0.6 on {0} (plus 0.2 on {1}):
    # model 0 stores it as AND, model 1 as OR. Raw, they look different; merged, they agree.
    a = np.array([[0.0, 0.6, 0.2, 0.0], [0.0, 0.0, 0.2, 0.0]])
    o = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.6, 0.0, 0.0]])
    s_and, s_or = M.transferability(a, o, threshold=0.1, **RAW)
    np.testing.assert_allclose(s_and, [0.25, 1.0])
    np.testing.assert_allclose(s_or, [np.nan, 0.0], equal_nan=True)
    s_and, s_or = M.transferability(a, o, threshold=0.1)
    np.testing.assert_allclose(s_and, [1.0, 1.0])
    assert np.isnan(s_or).all()
    s_and, _ = M.transferability(a, o)  # the per-model SPEC τ = 0.02 · 0.8
    np.testing.assert_allclose(s_and, [1.0, 1.0])


def test_transferability_per_model_default_hand_worked():
    # model 1 is model 0 at 100 times the output scale, except that its AND {1} is 1 instead of 0.01:
    # model 0: change 1.51 → τ_0 = 0.0302: salient AND {0} (1), OR {0,1} (0.5)
    # model 1: change 151 → τ_1 = 3.02: salient AND {0} (100), OR {0,1} (50); AND {1} = 1 is not
    a = np.array([[0.0, 1.0, 0.01, 0.0], [0.0, 100.0, 1.0, 0.0]])
    o = np.array([[0.0, 0.0, 0.0, 0.5], [0.0, 0.0, 0.0, 50.0]])
    s_and, s_or = M.transferability(a, o)
    np.testing.assert_allclose(s_and, [1.0, 1.0])
    np.testing.assert_allclose(s_or, [1.0, 1.0])
    # a single τ for both (here over both models' samples, 1.525) leaves model 0 without a salient one
    s_and, s_or = M.transferability(a, o, threshold=M.salient_threshold(a, o))
    assert M.salient_threshold(a, o) == pytest.approx(0.02 * (1.51 + 151) / 2)
    assert np.isnan(s_and[0]) and np.isnan(s_or[0])
    rs = [Interactions(a[0], o[0]), Interactions(a[1], o[1])]
    np.testing.assert_allclose(M.transferability(rs)[0], [1.0, 1.0])


def test_transferability_all_interactions():
    # threshold=0 (or None): all interactions; {1} is 0 in model 1, so it is absent there, not shared
    a = np.array([[0.0, 1.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0]])
    o = np.zeros((2, 4))
    for threshold in (0, None):
        s_and, s_or = M.transferability(a, o, threshold=threshold)
        np.testing.assert_allclose(s_and, [1 / 1.5, 1.0])
        assert np.isnan(s_or).all()


def test_transferability_curve_hand_worked():
    # raw: k=1: model 0 {AND {0}}, model 1 {AND {1}} → nothing shared: s_and = 0, s_or NaN
    # k=3: model 0 adds OR {0} (0.2), model 1 adds OR {0} (0.3) → s_and as top 2, s_or = 1
    s_and, s_or = M.transferability_curve(TR_AND, TR_OR, ks=[1, 2, 3], **RAW)
    assert s_and.shape == s_or.shape == (3, 2)
    np.testing.assert_allclose(s_and, [[0.0, 0.0], [0.625, 0.4], [0.625, 0.4]])
    assert np.isnan(s_or[:2]).all()
    np.testing.assert_allclose(s_or[2], [1.0, 1.0])
    # all interactions salient in every model → everything shared
    s_and, s_or = M.transferability_curve(TR_AND, TR_OR, ks=[6], **RAW)
    np.testing.assert_allclose(s_and, [[1.0, 1.0]])
    np.testing.assert_allclose(s_or, [[1.0, 1.0]])
    # merged: 4 interactions per sample; model 0 ranks AND {0} .7, {0,1} .3, {1} .1, OR {0,1} .05;
    # model 1 ranks AND {1} .62, {0} .1, {0,1} .01, OR {0,1} 0 → k=2: shared AND {0}; k=3: every AND;
    # k=4: OR {0,1} too, which is 0 in model 1 (0/0)
    s_and, s_or = M.transferability_curve(TR_AND, TR_OR, ks=[2, 3, 4])
    np.testing.assert_allclose(s_and, [[0.7, 0.1 / 0.72], [1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(s_or, [[np.nan, np.nan], [np.nan, np.nan], [1.0, np.nan]], equal_nan=True)


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("kw", [{}, {"threshold": 0.6}, {"threshold": [0.3, 0.6, 0.9]}, {"top_k": 4}, {"top_k": 10}])
def test_transferability_random(rng, kw, merged):
    n, m, B = 3, 3, 4
    base = rng.normal(size=(1, B, 2**n))
    a = base + 0.5 * rng.normal(size=(m, B, 2**n))  # models agree partly
    o = base[..., ::-1] + 0.5 * rng.normal(size=(m, B, 2**n))
    o[..., 0] = 0
    s_and, s_or = M.transferability(a, o, merge_singletons=merged, **kw)
    assert s_and.shape == s_or.shape == (m, B)
    ref_kw = dict(kw) if kw else {"threshold": [spec_tau(a[i], o[i]) for i in range(m)]}
    r_and, r_or = ref_transferability(*(merge(a, o) if merged else (a, o)), merged=merged, **ref_kw)
    np.testing.assert_allclose(s_and, r_and, equal_nan=True)
    np.testing.assert_allclose(s_or, r_or, equal_nan=True)
    # extra batch axes are just samples
    s2_and, _ = M.transferability(a.reshape(m, 2, 2, -1), o.reshape(m, 2, 2, -1), merge_singletons=merged, **kw)
    np.testing.assert_allclose(s2_and.reshape(m, B), s_and, equal_nan=True)
    # one sample at a time, with the τ of all the samples
    for b in range(B):
        sb_and, sb_or = M.transferability(a[:, b], o[:, b], merge_singletons=merged, **ref_kw)
        np.testing.assert_allclose(sb_and, s_and[:, b], equal_nan=True)
        np.testing.assert_allclose(sb_or, s_or[:, b], equal_nan=True)
    t_and, t_or = M.transferability(torch.from_numpy(a), torch.from_numpy(o), merge_singletons=merged, **kw)
    np.testing.assert_allclose(t_and, s_and, equal_nan=True)
    np.testing.assert_allclose(t_or, s_or, equal_nan=True)
    rs = [Interactions(a[i], o[i]) for i in range(m)]
    l_and, l_or = M.transferability(rs, merge_singletons=merged, **kw)
    np.testing.assert_allclose(l_and, s_and, equal_nan=True)
    np.testing.assert_allclose(l_or, s_or, equal_nan=True)


@pytest.mark.parametrize("merged", [False, True])
def test_transferability_curve_matches_pointwise(rng, merged):
    n, m, B = 3, 2, 5
    a, o = random_pair(rng, (m, B), n)
    ks = [1, 2, 5, 9, 11]
    c_and, c_or = M.transferability_curve(a, o, ks=ks, merge_singletons=merged)
    assert c_and.shape == (len(ks), m, B)
    for t, k in enumerate(ks):
        s_and, s_or = M.transferability(a, o, top_k=k, merge_singletons=merged)
        np.testing.assert_allclose(c_and[t], s_and, equal_nan=True)
        np.testing.assert_allclose(c_or[t], s_or, equal_nan=True)
        r_and, r_or = ref_transferability(*(merge(a, o) if merged else (a, o)), top_k=k, merged=merged)
        np.testing.assert_allclose(c_and[t], r_and, equal_nan=True)
        np.testing.assert_allclose(c_or[t], r_or, equal_nan=True)
    t_and, _ = M.transferability_curve(
        torch.from_numpy(a).float(), torch.from_numpy(o).float(), ks=np.array(ks), merge_singletons=merged
    )
    np.testing.assert_allclose(t_and, c_and, rtol=1e-5, equal_nan=True)
    rs = [Interactions(a[i], o[i]) for i in range(m)]
    np.testing.assert_allclose(M.transferability_curve(rs, ks=ks, merge_singletons=merged)[0], c_and, equal_nan=True)


def test_transferability_bad_input(rng):
    a, o = random_pair(rng, (2, 3), 2)
    with pytest.raises(ValueError, match="m >= 2 models"):
        M.transferability(a[:1], o[:1], top_k=2)
    with pytest.raises(ValueError, match="m >= 2 models"):
        M.transferability(a[0, 0], o[0, 0], top_k=2)
    with pytest.raises(ValueError, match="m >= 2 models"):
        M.transferability([Interactions(a[0], o[0])])
    with pytest.raises(ValueError, match="both given"):
        M.transferability(a, o, threshold=0.1, top_k=2)
    with pytest.raises(ValueError, match="top_k.*out of range"):
        M.transferability(a, o, top_k=7, **RAW)
    with pytest.raises(ValueError, match="top_k.*out of range"):
        M.transferability(a, o, top_k=5)
    with pytest.raises(ValueError, match="threshold: got 3 thresholds but the first axis has 2"):
        M.transferability(a, o, threshold=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="i_and has shape"):
        M.transferability(a, o[:, :2], top_k=2)
    with pytest.raises(ValueError, match="ks"):
        M.transferability_curve(a, o, ks=[])
    with pytest.raises(ValueError, match="ks"):
        M.transferability_curve(a, o, ks=3)
    with pytest.raises(ValueError, match="ks.*out of range"):
        M.transferability_curve(a, o, ks=[1, 0])
    with pytest.raises(ValueError, match="ks.*out of range"):
        M.transferability_curve(a, o, ks=[1, 7], **RAW)
    with pytest.raises(ValueError, match="ks.*1 <= ks <= 4"):
        M.transferability_curve(a, o, ks=[5])
    with pytest.raises(ValueError, match="m >= 2 models"):
        M.transferability_curve(a[:1], o[:1], ks=[1])
    with pytest.raises(TypeError):
        M.transferability_curve(a, o, [1])  # ks is keyword-only


# ---------------------------------------------------------------------------------------------
# shared_ratio_by_order
# ---------------------------------------------------------------------------------------------


def test_shared_ratio_by_order_hand_worked():
    # raw, |I| > 0.15 on TR_*: model 0 salient: AND{0} +0.5 (shared), AND{0,1} -0.3 (not), OR{0} +0.2 (shared)
    #                         model 1 salient: AND{0} +0.4 (shared), AND{1} +0.6 (not), OR{0} -0.3 (shared)
    # model 0: r_pos order 1 = (0.5+0.2)/(0.5+0.2) = 1, order 2 no positive → NaN
    #          r_neg order 1 NaN, order 2 = 0/0.3 = 0
    # model 1: r_pos order 1 = 0.4/(0.4+0.6) = 0.4; r_neg order 1 = 0.3/0.3 = 1; order 2 NaN
    r_pos, r_neg = M.shared_ratio_by_order(TR_AND, TR_OR, threshold=0.15, **RAW)
    assert r_pos.shape == r_neg.shape == (2, 3)
    np.testing.assert_allclose(r_pos, [[np.nan, 1.0, np.nan], [np.nan, 0.4, np.nan]], equal_nan=True)
    np.testing.assert_allclose(r_neg, [[np.nan, np.nan, 0.0], [np.nan, 1.0, np.nan]], equal_nan=True)
    # merged, |I| > 0.05: model 0 AND {0} 0.7, {1} 0.1, {0,1} -0.3; model 1 AND {0} 0.1, {1} 0.62
    # shared: {0}, {1} → model 0 r_pos order 1 = 1, r_neg order 2 = 0; model 1 r_pos order 1 = 1
    r_pos, r_neg = M.shared_ratio_by_order(TR_AND, TR_OR, threshold=0.05)
    np.testing.assert_allclose(r_pos, [[np.nan, 1.0, np.nan], [np.nan, 1.0, np.nan]], equal_nan=True)
    np.testing.assert_allclose(r_neg, [[np.nan, np.nan, 0.0], [np.nan, np.nan, np.nan]], equal_nan=True)


def test_shared_ratio_by_order_pooling_hand_worked():
    # two samples: sample 0 is TR_*, sample 1 has model 0 AND{0,1} +1 (shared), model 1 AND{0,1} +2 (shared)
    a = np.stack([TR_AND, np.array([[0.0, 0, 0, 1], [0.0, 0, 0, 2]])], axis=1)
    o = np.stack([TR_OR, np.zeros((2, 4))], axis=1)
    # raw, pooled, model 1, order 1 positive: shared 0.4 over all 0.4 + 0.6 = 0.4 (sample 1 adds no order 1)
    # order 2 positive: model 1 sample 1 shared 2 / 2 = 1; model 0: 1 / 1 = 1
    r_pos, _ = M.shared_ratio_by_order(a, o, threshold=0.15, **RAW)
    assert r_pos.shape == (2, 3)
    np.testing.assert_allclose(r_pos[:, 1:], [[1.0, 1.0], [0.4, 1.0]])
    p_pos, p_neg = M.shared_ratio_by_order(a, o, threshold=0.15, pool=False, **RAW)
    assert p_pos.shape == (2, 2, 3)
    np.testing.assert_allclose(p_pos[1, :, 2], [np.nan, 1.0], equal_nan=True)
    # pooling sums before dividing: order 1 positive raw with sample 1 = model 0 AND{1} +1, model 1 AND{1} +2:
    # model 1 = (0.4 + 2) / (0.4 + 0.6 + 2) = 0.8, not the mean of the per-sample ratios (0.4 + 1) / 2
    a2 = np.stack([TR_AND, np.array([[0.0, 0, 1, 0], [0.0, 0, 2, 0]])], axis=1)
    r_pos, _ = M.shared_ratio_by_order(a2, o, threshold=0.15, **RAW)
    assert r_pos[1, 1] == pytest.approx(0.8)
    p_pos, _ = M.shared_ratio_by_order(a2, o, threshold=0.15, pool=False, **RAW)
    np.testing.assert_allclose(p_pos[1, :, 1], [0.4, 1.0])


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("kw", [{}, {"threshold": 0.5}, {"threshold": [0.2, 0.5, 0.8]}, {"top_k": 6}])
@pytest.mark.parametrize("pool", [True, False])
def test_shared_ratio_by_order_random(rng, kw, pool, merged):
    n, m, B = 3, 3, 5
    base = rng.normal(size=(1, B, 2**n))
    a = base + 0.4 * rng.normal(size=(m, B, 2**n))
    o = -base + 0.4 * rng.normal(size=(m, B, 2**n))
    o[..., 0] = 0
    r_pos, r_neg = M.shared_ratio_by_order(a, o, pool=pool, merge_singletons=merged, **kw)
    ref_kw = dict(kw) if kw else {"threshold": [spec_tau(a[i], o[i]) for i in range(m)]}
    f_pos, f_neg = ref_shared_ratio(*(merge(a, o) if merged else (a, o)), n, pool=pool, merged=merged, **ref_kw)
    np.testing.assert_allclose(r_pos, f_pos, equal_nan=True)
    np.testing.assert_allclose(r_neg, f_neg, equal_nan=True)
    assert np.isnan(r_pos[..., 0]).all() and np.isnan(r_neg[..., 0]).all()
    t_pos, t_neg = M.shared_ratio_by_order(
        torch.from_numpy(a), torch.from_numpy(o), pool=pool, merge_singletons=merged, **kw
    )
    np.testing.assert_allclose(t_pos, r_pos, equal_nan=True)
    np.testing.assert_allclose(t_neg, r_neg, equal_nan=True)
    rs = [Interactions(a[i], o[i]) for i in range(m)]
    np.testing.assert_allclose(
        M.shared_ratio_by_order(rs, pool=pool, merge_singletons=merged, **kw)[0], r_pos, equal_nan=True
    )
    if not pool:  # per sample == one sample at a time
        for b in range(B):
            s_pos, _ = M.shared_ratio_by_order(a[:, b], o[:, b], pool=False, merge_singletons=merged, **ref_kw)
            np.testing.assert_allclose(s_pos, r_pos[:, b], equal_nan=True)


def test_shared_ratio_by_order_bad_input(rng):
    a, o = random_pair(rng, (2, 3), 2)
    with pytest.raises(ValueError, match="m >= 2 models"):
        M.shared_ratio_by_order(a[:1], o[:1], threshold=0.1)
    with pytest.raises(ValueError, match="both given"):
        M.shared_ratio_by_order(a, o, threshold=0.1, top_k=1)
    with pytest.raises(ValueError, match="pool"):
        M.shared_ratio_by_order(a, o, threshold=0.1, pool="yes")


# ---------------------------------------------------------------------------------------------
# sparsity_curve
# ---------------------------------------------------------------------------------------------


def test_sparsity_curve_hand_worked():
    # raw |I| for T ≠ ∅: AND 0.3, 0.1, 0.5; OR 0.4, 0.05, 0.2 (the bias 5 excluded), sorted descending
    curve = M.sparsity_curve(EX_AND, EX_OR, **RAW)
    np.testing.assert_allclose(curve, [0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    # two samples pool into one curve
    curve = M.sparsity_curve(np.stack([EX_AND, -EX_AND]), np.stack([EX_OR, EX_OR]), **RAW)
    np.testing.assert_allclose(curve, [0.5, 0.5, 0.4, 0.4, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05])
    # merged: singletons |0.3 - 0.4| = 0.1, |-0.1 + 0.05| = 0.05; the OR singletons are left out
    np.testing.assert_allclose(M.sparsity_curve(EX_AND, EX_OR), [0.5, 0.2, 0.1, 0.05])


@pytest.mark.parametrize("merged", [False, True])
def test_sparsity_curve_random(rng, merged):
    n = 3
    a, o = random_pair(rng, (2, 3), n)
    curve = M.sparsity_curve(a, o, merge_singletons=merged)
    ra, ro = merge(a, o) if merged else (a, o)
    ref = []
    for i in range(2):
        for j in range(3):
            for t in range(1, 2**n):
                ref.append(abs(ra[i, j, t]))
                if not (merged and popcount(t) == 1):
                    ref.append(abs(ro[i, j, t]))
    np.testing.assert_allclose(curve, sorted(ref, reverse=True))
    assert curve.shape == (2 * 3 * (2 * (2**n - 1) - (n if merged else 0)),)
    t = M.sparsity_curve(torch.from_numpy(a), torch.from_numpy(o), merge_singletons=merged)
    np.testing.assert_allclose(t, curve)
    # a list of Interactions: one curve per model
    per = M.sparsity_curve([Interactions(a[0], o[0]), Interactions(a[1], o[1])], merge_singletons=merged)
    assert per.shape == (2, curve.size // 2)
    for i in range(2):
        np.testing.assert_allclose(per[i], M.sparsity_curve(a[i], o[i], merge_singletons=merged))


def test_sparsity_curve_bad_input(rng):
    a, o = random_pair(rng, (2,), 2)
    with pytest.raises(ValueError, match="i_and has shape"):
        M.sparsity_curve(a, o[0])
    with pytest.raises(ValueError, match="i_and.*not 2\\*\\*n"):
        M.sparsity_curve(a[:, :3], o[:, :3])
    with pytest.raises(ValueError, match="merge_singletons"):
        M.sparsity_curve(a, o, merge_singletons=None)


# ---------------------------------------------------------------------------------------------
# matching_error
# ---------------------------------------------------------------------------------------------


def test_matching_error_hand_worked():
    # n=1: h(∅) = b = 1, h({0}) = b + I_and({0}) + I_or({0}) = 1 + 2 + 0.5 = 3.5
    a, o = np.array([1.0, 2.0]), np.array([0.0, 0.5])
    v = np.array([1.2, 3.0])
    # |1 - 1.2| = 0.2, |3.5 - 3| = 0.5; merging the singletons does not change h
    assert M.matching_error(a, o, v=v) == pytest.approx(0.5)
    assert M.matching_error(a, o, v=v, **RAW) == pytest.approx(0.5)
    # against v + q = [1.0, 3.4]: |1 - 1| = 0, |3.5 - 3.4| = 0.1
    assert M.matching_error(a, o, v=v, noise=np.array([-0.2, 0.4])) == pytest.approx(0.1)
    # raw, only |I| > 1 kept (AND {0}; the bias always): h = [1, 3] → max(0.2, 0) = 0.2
    assert M.matching_error(a, o, v=v, threshold=1.0, **RAW) == pytest.approx(0.2)
    # raw, top 1 keeps the same AND {0}
    assert M.matching_error(a, o, v=v, top_k=1, **RAW) == pytest.approx(0.2)
    # merged, the singleton is 2.5 > 1: h = [1, 3.5] → 0.5
    assert M.matching_error(a, o, v=v, threshold=1.0) == pytest.approx(0.5)
    assert M.matching_error(a, o, v=v, top_k=1) == pytest.approx(0.5)
    # the SPEC τ = 0.02 · 2.5 keeps it too; a threshold above it drops it: h = [1, 1] → 2
    assert M.matching_error(a, o, v=v, threshold="spec") == pytest.approx(0.5)
    assert M.matching_error(a, o, v=v, threshold=3.0) == pytest.approx(2.0)


@pytest.mark.parametrize("merged", [False, True])
def test_matching_error_random(rng, merged):
    n = 3
    a, o = random_pair(rng, (2, 3), n)
    v = rng.normal(size=(2, 3, 2**n))
    q = rng.normal(size=(2, 3, 2**n))
    kw = {"merge_singletons": merged}
    err = M.matching_error(a, o, v=v, **kw)
    err_q = M.matching_error(a, o, v=v, noise=q, **kw)
    err_k = M.matching_error(a, o, v=v, top_k=5, **kw)
    assert err.shape == err_q.shape == (2, 3)
    ra, ro = merge(a, o) if merged else (a, o)
    for i in range(2):
        for j in range(3):
            h = ref_reconstruct_one(a[i, j], o[i, j], n)
            assert err[i, j] == pytest.approx(np.max(np.abs(h - v[i, j])))
            assert err_q[i, j] == pytest.approx(np.max(np.abs(h - v[i, j] - q[i, j])))
            ma, mo = ref_mask_one(ra[i, j], ro[i, j], top_k=5, merged=merged)
            ka = np.where(ma, ra[i, j], 0.0)
            ka[0] = a[i, j, 0]
            hk = ref_reconstruct_one(ka, np.where(mo, ro[i, j], 0.0), n)
            assert err_k[i, j] == pytest.approx(np.max(np.abs(hk - v[i, j])))
            assert M.matching_error(a[i, j], o[i, j], v=v[i, j], noise=q[i, j], **kw) == pytest.approx(err_q[i, j])
    ts = [torch.from_numpy(x) for x in (a, o, v, q)]
    np.testing.assert_allclose(M.matching_error(ts[0], ts[1], v=ts[2], noise=ts[3], **kw), err_q)
    np.testing.assert_allclose(M.matching_error(ts[0].float(), ts[1].float(), v=v, **kw), err, rtol=1e-5)
    # a list of Interactions stacks on a first model axis
    rs = [Interactions(a[0], o[0]), Interactions(a[1], o[1])]
    np.testing.assert_allclose(M.matching_error(rs, v=v, noise=q, **kw), err_q)


def test_matching_error_exact_split_is_zero(rng):
    # interactions of an exact split v = u_and + u_or explain v on every subset
    u_and, u_or = rng.normal(size=(2, 4, 2**5))
    i_and, i_or = split_interactions(u_and, u_or)
    assert np.all(M.matching_error(i_and, i_or, v=u_and + u_or) < 1e-10)
    q = np.full((4, 32), 0.25)
    assert np.all(M.matching_error(i_and, i_or, v=u_and + u_or, noise=q) == pytest.approx(0.25))
    r = Interactions(i_and, i_or, noise=q)
    assert np.all(M.matching_error(r, v=u_and + u_or - q, noise=r.noise) < 1e-10)


def test_matching_error_bad_input(rng):
    a, o = random_pair(rng, (2,), 2)
    v = rng.normal(size=(2, 4))
    with pytest.raises(ValueError, match="i_and has shape .* but v has shape"):
        M.matching_error(a, o, v=v[:1])
    with pytest.raises(ValueError, match="v has shape .* but noise has shape"):
        M.matching_error(a, o, v=v, noise=v[0])
    with pytest.raises(ValueError, match="noise.*NaN"):
        M.matching_error(a, o, v=v, noise=np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="both given"):
        M.matching_error(a, o, v=v, threshold=0.1, top_k=1)
    with pytest.raises(TypeError):
        M.matching_error(a, o)  # v is required


# ---------------------------------------------------------------------------------------------
# confusing_agreement
# ---------------------------------------------------------------------------------------------


def test_confusing_agreement_hand_worked():
    eta = np.arange(1.0, 11.0)
    # reversed ranking: correlations -1; top 20 % (k=2): {8, 9} vs {0, 1} → IoU 0
    # chance: k²/N = 0.4 → 0.4 / (4 - 0.4) = 1/9
    r = M.confusing_agreement(eta, eta[::-1].copy(), top=0.2)
    assert r["pearson"] == pytest.approx(-1.0)
    assert r["spearman"] == pytest.approx(-1.0)
    assert r["iou"] == 0.0 and r["k"] == 2
    assert r["chance_iou"] == pytest.approx(1 / 9)
    # a monotone transform: same ranking → Spearman 1, IoU 1, Pearson below 1
    r = M.confusing_agreement(eta, eta**3, top=0.2)
    assert r["spearman"] == pytest.approx(1.0) and r["iou"] == 1.0
    assert r["pearson"] == pytest.approx(np.corrcoef(eta, eta**3)[0, 1]) and r["pearson"] < 1
    # top 30 % (k=3): A = {7, 8, 9}; B = {9, 8, 0} → |A∩B| = 2, |A∪B| = 4 → 0.5
    b = eta.copy()
    b[0] = 100.0
    r = M.confusing_agreement(eta, b, top=0.3)
    assert r["k"] == 3 and r["iou"] == pytest.approx(0.5)


def test_confusing_agreement_sizes_and_chance():
    # ceil(0.1 · 30) = 3, not 4, despite 0.1 · 30 = 3.0000000000000004 in floating point
    x = np.linspace(0, 1, 30)
    assert M.confusing_agreement(x, x, top=0.1)["k"] == 3
    # ceil(0.1 · 25) = 3
    assert M.confusing_agreement(x[:25], x[:25], top=0.1)["k"] == 3
    # N = 1000, k = 100: chance = 10 / 190 ≈ 0.0526
    y = np.arange(1000.0)
    r = M.confusing_agreement(y, y)
    assert r["k"] == 100 and r["chance_iou"] == pytest.approx(10 / 190) and r["iou"] == 1.0


def test_confusing_agreement_random(rng):
    a = rng.normal(size=200)
    b = 0.5 * a + rng.normal(size=200)
    r = M.confusing_agreement(a, b, top=0.1)
    assert r["pearson"] == pytest.approx(np.corrcoef(a, b)[0, 1])
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    assert r["spearman"] == pytest.approx(np.corrcoef(ranks_a, ranks_b)[0, 1])
    top_a = set(sorted(range(200), key=lambda i: -a[i])[:20])
    top_b = set(sorted(range(200), key=lambda i: -b[i])[:20])
    assert r["iou"] == pytest.approx(len(top_a & top_b) / len(top_a | top_b))
    rt = M.confusing_agreement(torch.from_numpy(a), torch.from_numpy(b), top=0.1)
    assert rt == pytest.approx(r)


def test_confusing_agreement_constant_input_is_nan():
    r = M.confusing_agreement(np.ones(5), np.arange(5.0), top=0.2)
    assert math.isnan(r["pearson"]) and math.isnan(r["spearman"])
    assert r["k"] == 1 and r["iou"] == 0.0  # constant: ties → first sample; arange: last sample


def test_confusing_agreement_bad_input():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="same test samples"):
        M.confusing_agreement(x, x[:9])
    with pytest.raises(ValueError, match="eta_a.*1-D"):
        M.confusing_agreement(x.reshape(2, 5), x.reshape(2, 5))
    with pytest.raises(ValueError, match="eta_b.*NaN"):
        M.confusing_agreement(x, np.where(x > 5, np.nan, x))
    with pytest.raises(ValueError, match="at least 2"):
        M.confusing_agreement(x[:1], x[:1])
    for top in (0.0, 1.5, -0.1, "a", True):
        with pytest.raises(ValueError, match="top"):
            M.confusing_agreement(x, x, top=top)
    with pytest.raises(ValueError, match="eta_a.*dtype"):
        M.confusing_agreement(np.array(["a", "b"]), x[:2])


# ---------------------------------------------------------------------------------------------
# every metric
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("merged", [False, True])
def test_metrics_leave_the_inputs_untouched(rng, merged):
    a, o = random_pair(rng, (2, 3), 3)
    a0, o0 = a.copy(), o.copy()
    kw = {"merge_singletons": merged}
    M.salient_mask(a, o, **kw)
    M.order_strengths(a, o, **kw)
    M.average_order(a, o, top_k=3, **kw)
    M.jaccard_by_order((a[0], o[0]), (a[1], o[1]), **kw)
    M.transferability(a, o, **kw)
    M.transferability_curve(a, o, ks=[1, 4], **kw)
    M.shared_ratio_by_order(a, o, **kw)
    M.sparsity_curve(a, o, **kw)
    M.matching_error(a, o, v=a, threshold="spec", **kw)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(o, o0)
