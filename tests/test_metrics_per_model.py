"""Salience per model (P1 fn. 6, P2 §4, SPEC §4): τ_i = 0.02 · E_x |v_i(x) − v_i(x_∅)| for each model.

The metrics over several models are checked against a slow reference written from the SPEC §4
definitions: for each model its own τ_i from its own values, the salient sets Ω^(i) after merging
the singletons, the shared sets ∩_i Ω^(i), and the ratios. The models have different output scales,
so one τ for all of them would give other results.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from interprim import Interactions
from interprim import metrics as M
from interprim.transforms import reconstruct

N, SAMPLES = 4, 5
SCALES = (1.0, 30.0, 0.2)


def popcount(t: int) -> int:
    return bin(t).count("1")


def extraction(rng):
    """Value vectors v (m, B, 2**N) of three models and an AND-OR extraction of them with noise.

    Universal matching holds against v + q: reconstruct(i_and, i_or) = v + noise.
    """
    shape = (len(SCALES), SAMPLES, 2**N)
    scale = np.asarray(SCALES)[:, None, None]
    common = rng.normal(size=(1, SAMPLES, 2**N)) * (rng.random((1, SAMPLES, 2**N)) < 0.35)
    i_and = scale * (common + 0.3 * rng.normal(size=shape) * (rng.random(shape) < 0.3) + 0.005 * rng.normal(size=shape))
    i_or = scale * (common[..., ::-1] + 0.3 * rng.normal(size=shape) * (rng.random(shape) < 0.3))
    i_or[..., 0] = 0.0
    noise = 0.02 * scale * rng.uniform(-1, 1, size=shape)
    v = reconstruct(i_and, i_or) - noise
    return v, i_and, i_or, noise


def reference(v, i_and, i_or):
    """SPEC §4, one model, sample and subset at a time.

    Returns τ (m,), the salient sets, transferability (s_and, s_or) (m, B), the pooled shared ratio
    (r_pos, r_neg) (m, n+1), the order strengths (j_pos, j_neg) (m, B, n+1) and η (m, B).
    """
    m, B, size = v.shape
    n = size.bit_length() - 1
    tau = [0.02 * sum(abs(v[i, b, size - 1] - v[i, b, 0]) for b in range(B)) / B for i in range(m)]

    def merged(i, b):
        """{(type, T): I} of model i on sample b, the OR singletons moved into the AND ones."""
        out = {}
        for t in range(1, size):
            single = popcount(t) == 1
            out[("and", t)] = i_and[i, b, t] + (i_or[i, b, t] if single else 0.0)
            if not single:
                out[("or", t)] = i_or[i, b, t]
        return out

    values = [[merged(i, b) for b in range(B)] for i in range(m)]
    omega = [[{key for key, x in values[i][b].items() if abs(x) > tau[i]} for b in range(B)] for i in range(m)]
    shared = [set.intersection(*(omega[i][b] for i in range(m))) for b in range(B)]

    s = {typ: np.full((m, B), math.nan) for typ in ("and", "or")}
    for i in range(m):
        for b in range(B):
            for typ in ("and", "or"):
                den = sum(abs(values[i][b][key]) for key in omega[i][b] if key[0] == typ)
                num = sum(abs(values[i][b][key]) for key in shared[b] if key[0] == typ)
                s[typ][i, b] = num / den if den else math.nan

    r = {}
    for sign, part in (("pos", lambda x: max(x, 0.0)), ("neg", lambda x: max(-x, 0.0))):
        r[sign] = np.full((m, n + 1), math.nan)
        for i in range(m):
            for k in range(n + 1):
                num = sum(part(values[i][b][key]) for b in range(B) for key in shared[b] if popcount(key[1]) == k)
                den = sum(part(values[i][b][key]) for b in range(B) for key in omega[i][b] if popcount(key[1]) == k)
                r[sign][i, k] = num / den if den else math.nan

    j_pos, j_neg = np.zeros((m, B, n + 1)), np.zeros((m, B, n + 1))
    eta = np.full((m, B), math.nan)
    for i in range(m):
        for b in range(B):
            for key in omega[i][b]:
                x = values[i][b][key]
                j_pos[i, b, popcount(key[1])] += max(x, 0.0)
                j_neg[i, b, popcount(key[1])] += max(-x, 0.0)
            total = j_pos[i, b] + j_neg[i, b]
            if total.sum():
                eta[i, b] = sum(k * total[k] for k in range(n + 1)) / total.sum()
    return {
        "tau": np.array(tau),
        "omega": omega,
        "transferability": (s["and"], s["or"]),
        "shared_ratio": (r["pos"], r["neg"]),
        "order_strengths": (j_pos, j_neg),
        "average_order": eta,
    }


def assert_pair(got, ref):
    for g, e in zip(got, ref):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, equal_nan=True)


@pytest.fixture
def models():
    v, i_and, i_or, noise = extraction(np.random.default_rng(31))
    rs = [Interactions(i_and[i], i_or[i], noise=noise[i]) for i in range(len(SCALES))]
    return v, i_and, i_or, noise, rs


def test_spec_ratio_is_locked():
    # SPEC §4 / P1 fn. 6: τ = 0.02 · E_x |v(x) − v(x_∅)|
    assert M.SPEC_RATIO == 0.02
    assert inspect.signature(M.salient_threshold).parameters["ratio"].default == 0.02
    assert inspect.signature(Interactions.salient_threshold).parameters["ratio"].default == 0.02
    v = np.array([[0.0, 1.0, 2.0, 5.0], [1.0, 0.0, 0.0, -2.0]])  # |5 - 0| = 5, |-2 - 1| = 3
    assert M.salient_threshold(v) == pytest.approx(0.02 * 4)


def test_thresholds_per_model_from_the_values(models):
    v, i_and, i_or, noise, rs = models
    ref = reference(v, i_and, i_or)
    np.testing.assert_allclose(M.salient_threshold(rs), ref["tau"], rtol=1e-12)
    np.testing.assert_allclose([r.salient_threshold() for r in rs], ref["tau"], rtol=1e-12)
    np.testing.assert_allclose(M.salient_threshold(v, per_model=True), ref["tau"], rtol=1e-12)
    for i, r in enumerate(rs):
        np.testing.assert_allclose(r.output_change(), v[i, :, -1] - v[i, :, 0], rtol=1e-12)
    # the scales differ by two orders of magnitude, and so do the thresholds
    assert ref["tau"][1] > 50 * ref["tau"][2]


def test_salient_sets_per_model(models):
    v, i_and, i_or, noise, rs = models
    ref = reference(v, i_and, i_or)
    m_and, m_or = M.salient_mask(rs)
    for i in range(len(SCALES)):
        for b in range(SAMPLES):
            got = {("and", t) for t in np.flatnonzero(m_and[i, b])} | {("or", t) for t in np.flatnonzero(m_or[i, b])}
            assert got == ref["omega"][i][b]
    assert any(ref["omega"][i][b] for i in range(len(SCALES)) for b in range(SAMPLES))


def test_sharing_metrics_per_model(models):
    v, i_and, i_or, noise, rs = models
    ref = reference(v, i_and, i_or)
    assert_pair(M.transferability(rs), ref["transferability"])
    assert_pair(M.shared_ratio_by_order(rs), ref["shared_ratio"])
    # the stacked arrays with the same thresholds given, one per model
    tau = list(ref["tau"])
    assert_pair(M.transferability(i_and, i_or, threshold=tau), ref["transferability"])
    assert_pair(M.shared_ratio_by_order(i_and, i_or, threshold=tau), ref["shared_ratio"])
    # the stacked arrays with the default: τ_i from h(N) − h(∅) = (v + q)(N) − (v + q)(∅) (no noise stored)
    ref_h = reference(v + noise, i_and, i_or)
    assert_pair(M.transferability(i_and, i_or), ref_h["transferability"])
    assert_pair(M.shared_ratio_by_order(i_and, i_or), ref_h["shared_ratio"])
    # a non-trivial case: some, not all, salient interactions are shared
    s_and = ref["transferability"][0]
    assert np.nanmin(s_and) < 1 and np.nanmax(s_and) > 0


def test_order_metrics_per_model(models):
    v, i_and, i_or, noise, rs = models
    ref = reference(v, i_and, i_or)
    assert_pair(M.order_strengths(rs), ref["order_strengths"])
    np.testing.assert_allclose(M.average_order(rs), ref["average_order"], equal_nan=True)
    for i, r in enumerate(rs):
        assert_pair(r.by_order(), (ref["order_strengths"][0][i], ref["order_strengths"][1][i]))
        np.testing.assert_allclose(r.average_order(), ref["average_order"][i], equal_nan=True)


def test_one_threshold_for_all_models_differs(models):
    # the per-model default is not what a single τ over all the models' samples gives
    v, i_and, i_or, noise, rs = models
    ref = reference(v, i_and, i_or)
    pooled = M.salient_threshold(rs, per_model=False)
    assert pooled == pytest.approx(np.mean(ref["tau"]))
    single = M.transferability(rs, threshold=pooled)
    assert not all(np.allclose(g, e, equal_nan=True) for g, e in zip(single, ref["transferability"]))
