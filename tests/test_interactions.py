"""Tests of the :class:`interprim.Interactions` value object (SPEC §3-§4).

Interaction vectors are built by hand or from a split through :func:`split_interactions`; the
expected values of the analysis methods come from :mod:`interprim.metrics` (tested on its own
against the definitions) or are worked out by hand.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from interprim import Interactions, metrics
from interprim.interactions import singletons_merged, sparsity_objective
from interprim.transforms import reconstruct, split_interactions


@pytest.fixture
def rng():
    return np.random.default_rng(20240531)


def random_interactions(rng, shape, **kw) -> Interactions:
    i_and = rng.normal(size=shape)
    i_or = rng.normal(size=shape)
    i_or[..., 0] = 0.0
    return Interactions(i_and=i_and, i_or=i_or, **kw)


def assert_same(a: Interactions, b: Interactions) -> None:
    """Equal fields (arrays compared as numpy values, meta key by key)."""
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        x, y = getattr(a, name), getattr(b, name)
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        assert x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.players == b.players
    assert a.meta.keys() == b.meta.keys()
    for k in a.meta:
        x, y = a.meta[k], b.meta[k]
        if isinstance(x, (np.ndarray, torch.Tensor)) or isinstance(y, (np.ndarray, torch.Tensor)):
            x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
            y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
            np.testing.assert_array_equal(x, y, err_msg=f"meta[{k!r}]")
        else:
            assert x == y, k


# ---------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------


def test_defaults_single_sample(rng):
    i_and = rng.normal(size=8)
    i_or = rng.normal(size=8)
    i_or[0] = 0.0
    r = Interactions(i_and=i_and, i_or=i_or)
    np.testing.assert_array_equal(r.gamma, np.zeros(8))
    np.testing.assert_array_equal(r.noise, np.zeros(8))
    assert isinstance(r.gamma, np.ndarray) and isinstance(r.noise, np.ndarray)
    # objective = Σ_{T≠∅} |I_and(T)| + |I_or(T)|: the bias is not counted
    expected = sum(abs(i_and[t]) + abs(i_or[t]) for t in range(1, 8))
    assert np.asarray(r.objective).shape == ()
    assert float(r.objective) == pytest.approx(expected, rel=1e-12)
    assert r.players == ("0", "1", "2")
    assert r.meta == {}
    assert r.n_players == 3
    assert r.batch_shape == ()


def test_objective_ignores_bias_and_empty_or():
    i_and = np.array([100.0, 1.0, -2.0, 3.0])
    i_or = np.array([50.0, -0.5, 0.25, 0.0])  # i_or[0] is not an interaction either
    r = Interactions(i_and=i_and, i_or=i_or)
    assert float(r.objective) == pytest.approx(1 + 2 + 3 + 0.5 + 0.25)


def test_defaults_batch(rng):
    r = random_interactions(rng, (2, 3, 16))
    assert r.n_players == 4
    assert r.batch_shape == (2, 3)
    assert len(r) == 2
    assert r.gamma.shape == (2, 3, 16) and not r.gamma.any()
    assert r.noise.shape == (2, 3, 16) and not r.noise.any()
    assert r.objective.shape == (2, 3)
    expected = np.abs(r.i_and[..., 1:]).sum(-1) + np.abs(r.i_or[..., 1:]).sum(-1)
    np.testing.assert_allclose(r.objective, expected, rtol=1e-12)
    assert r.players == ("0", "1", "2", "3")


def test_given_fields_kept(rng):
    i_and, i_or, gamma, noise = (rng.normal(size=(3, 4)) for _ in range(4))
    obj = np.array([1.0, 2.0, 3.0])
    r = Interactions(i_and, i_or, gamma=gamma, noise=noise, objective=obj, players=["a", "b"], meta={"k": 1})
    np.testing.assert_array_equal(r.gamma, gamma)
    np.testing.assert_array_equal(r.noise, noise)
    np.testing.assert_array_equal(r.objective, obj)  # given objective is not recomputed
    assert r.players == ("a", "b")
    assert r.meta == {"k": 1}


def test_players_converted_to_str():
    r = Interactions(np.zeros(4), np.zeros(4), players=[7, 9])
    assert r.players == ("7", "9")


def test_integer_input_becomes_float():
    r = Interactions(np.arange(4), np.zeros(4, dtype=np.int64))
    assert r.i_and.dtype == np.float64 and r.i_or.dtype == np.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(i_and=np.zeros(8), i_or=np.zeros(4)), "i_and has shape .* i_or has shape"),
        (dict(i_and=np.zeros((2, 8)), i_or=np.zeros((3, 8))), "i_and has shape .* i_or has shape"),
        (dict(i_and=np.zeros(8), i_or=np.zeros(8), gamma=np.zeros(4)), "gamma has shape"),
        (dict(i_and=np.zeros(8), i_or=np.zeros(8), noise=np.zeros((2, 8))), "noise has shape"),
        (dict(i_and=np.zeros(6), i_or=np.zeros(6)), "i_and: the last axis has length 6"),
        (dict(i_and=np.zeros(8), i_or=np.full(8, np.nan)), "i_or: contains NaN"),
        (dict(i_and=np.zeros(8, dtype=bool), i_or=np.zeros(8)), "i_and: dtype bool"),
        (dict(i_and=np.zeros(8), i_or=np.zeros(8), players=["a", "b"]), "players has 2 labels .* n=3"),
        (dict(i_and=np.zeros(8), i_or=np.zeros(8), players=list("abcd")), "players has 4 labels"),
        (dict(i_and=np.zeros((3, 8)), i_or=np.zeros((3, 8)), objective=np.zeros(2)), "objective has shape"),
        (dict(i_and=np.zeros((3, 8)), i_or=np.zeros((3, 8)), objective=1.0), "objective has shape"),
        (dict(i_and=np.zeros(8), i_or=np.zeros(8), objective=np.zeros(1)), "objective has shape"),
        (dict(i_and=np.zeros(8), i_or=np.zeros(8), meta=[("a", 1)]), "meta must be a dict"),
        (dict(i_and=np.zeros(8), i_or=np.zeros(8), meta=None), "meta must be a dict"),
    ],
)
def test_construction_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Interactions(**kwargs)


def test_single_sample_has_no_len_or_index():
    r = Interactions(np.zeros(4), np.zeros(4))
    with pytest.raises(TypeError):
        len(r)
    with pytest.raises(IndexError):
        r[0]


# ---------------------------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------------------------


def test_torch_fields_stay_torch(rng):
    i_and = torch.tensor(rng.normal(size=(2, 8)), dtype=torch.float32)
    i_or = rng.normal(size=(2, 8))  # numpy i_or is converted to the kind of i_and
    r = Interactions(i_and=i_and, i_or=i_or, gamma=np.ones((2, 8)))
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        x = getattr(r, name)
        assert isinstance(x, torch.Tensor), name
        assert x.dtype == torch.float32, name
    assert tuple(r.objective.shape) == (2,)
    expected = np.abs(i_and.numpy()[:, 1:]).sum(-1) + np.abs(i_or[:, 1:].astype(np.float32)).sum(-1)
    np.testing.assert_allclose(r.objective.numpy(), expected, rtol=1e-5)
    assert "array=torch" in repr(r)
    s = r[1]
    assert isinstance(s.i_and, torch.Tensor) and isinstance(s.objective, torch.Tensor)
    assert s.batch_shape == ()


def test_numpy_input_with_torch_objective_becomes_numpy():
    r = Interactions(np.zeros(4), np.zeros(4), objective=torch.tensor(2.5, dtype=torch.float64))
    assert isinstance(r.objective, np.ndarray) and float(r.objective) == 2.5


def test_sparsity_objective_torch_equals_numpy(rng):
    a, o = rng.normal(size=(3, 16)), rng.normal(size=(3, 16))
    got = sparsity_objective(torch.from_numpy(a), torch.from_numpy(o))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), sparsity_objective(a, o), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


def test_indexing_batch_with_meta(rng):
    B, n = 4, 3
    per_sample = rng.normal(size=(B, 5))
    per_sample_torch = torch.arange(B, dtype=torch.float64)
    other_shape = rng.normal(size=(7,))  # no batch axis: kept as is
    r = random_interactions(
        rng,
        (B, 2**n),
        gamma=rng.normal(size=(B, 2**n)),
        noise=rng.normal(size=(B, 2**n)),
        players=["x", "y", "z"],
        meta={"method": "test", "scores": per_sample, "ids": per_sample_torch, "other": other_shape, "lr": 0.1},
    )

    one = r[2]
    assert one.batch_shape == ()
    for name in ("i_and", "i_or", "gamma", "noise"):
        np.testing.assert_array_equal(getattr(one, name), getattr(r, name)[2])
    assert float(one.objective) == pytest.approx(float(r.objective[2]))
    assert one.players == ("x", "y", "z")
    np.testing.assert_array_equal(one.meta["scores"], per_sample[2])
    assert isinstance(one.meta["ids"], torch.Tensor) and float(one.meta["ids"]) == 2.0
    assert one.meta["other"] is other_shape
    assert one.meta["method"] == "test" and one.meta["lr"] == 0.1

    head = r[:2]
    assert head.batch_shape == (2,) and len(head) == 2
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        np.testing.assert_array_equal(getattr(head, name), getattr(r, name)[:2])
    np.testing.assert_array_equal(head.meta["scores"], per_sample[:2])
    np.testing.assert_array_equal(head.meta["ids"].numpy(), [0.0, 1.0])
    assert head.meta["other"] is other_shape

    picked = r[np.array([3, 0])]
    np.testing.assert_array_equal(picked.i_and, r.i_and[[3, 0]])
    np.testing.assert_array_equal(picked.meta["scores"], per_sample[[3, 0]])

    # the original is untouched
    assert r.batch_shape == (B,)
    np.testing.assert_array_equal(r.meta["scores"], per_sample)


def test_indexing_two_batch_axes(rng):
    per_sample = rng.normal(size=(2, 3))
    r = random_interactions(rng, (2, 3, 4), meta={"s": per_sample})
    assert len(r) == 2
    row = r[1]
    assert row.batch_shape == (3,)
    np.testing.assert_array_equal(row.i_and, r.i_and[1])
    np.testing.assert_array_equal(row.meta["s"], per_sample[1])
    cell = r[1, 2]
    assert cell.batch_shape == ()
    np.testing.assert_array_equal(cell.i_or, r.i_or[1, 2])
    assert float(cell.meta["s"]) == per_sample[1, 2]


# ---------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------


def test_output_change_is_exact_with_noise(rng):
    # reconstruct = v + q, so v(N) − v(∅) = Σ_{T≠∅} (I_and + I_or) − (q(N) − q(∅))
    v = rng.normal(size=(3, 16))
    q = rng.uniform(-0.1, 0.1, size=(3, 16))
    gamma = rng.normal(size=(3, 16))
    i_and, i_or = split_interactions((v + q) / 2 + gamma, (v + q) / 2 - gamma)
    r = Interactions(i_and, i_or, gamma=gamma, noise=q)
    change = r.output_change()
    assert isinstance(change, np.ndarray) and change.dtype == np.float64 and change.shape == (3,)
    np.testing.assert_allclose(change, v[:, -1] - v[:, 0], rtol=1e-12)
    one = r[1].output_change()
    assert isinstance(one, np.float64) and one == pytest.approx(v[1, -1] - v[1, 0])
    t = Interactions(torch.from_numpy(i_and).float(), torch.from_numpy(i_or).float(), noise=torch.from_numpy(q).float())
    np.testing.assert_allclose(t.output_change(), v[:, -1] - v[:, 0], rtol=1e-5, atol=1e-6)
    # without noise it is the change of the reconstruction
    h = reconstruct(i_and, i_or)
    np.testing.assert_allclose(Interactions(i_and, i_or).output_change(), h[:, -1] - h[:, 0], rtol=1e-12)


def test_salient_threshold_method(rng):
    v = rng.normal(size=(4, 8))
    q = rng.uniform(-0.05, 0.05, size=(4, 8))
    i_and, i_or = split_interactions((v + q) / 2, (v + q) / 2)
    r = Interactions(i_and, i_or, noise=q)
    tau = 0.02 * np.mean(np.abs(v[:, -1] - v[:, 0]))
    assert isinstance(r.salient_threshold(), float)
    assert r.salient_threshold() == pytest.approx(tau, rel=1e-12)
    assert r.salient_threshold(ratio=0.1) == pytest.approx(5 * tau, rel=1e-12)
    assert r.salient_threshold() == pytest.approx(metrics.salient_threshold(v), rel=1e-12)


def test_singletons_merged(rng):
    i_and, i_or = rng.normal(size=(2, 3, 8))
    a0, o0 = i_and.copy(), i_or.copy()
    a, o = singletons_merged(i_and, i_or)
    for t in range(8):
        if t in (1, 2, 4):
            np.testing.assert_allclose(a[:, t], i_and[:, t] + i_or[:, t])
            np.testing.assert_array_equal(o[:, t], 0.0)
        else:
            np.testing.assert_array_equal(a[:, t], i_and[:, t])
            np.testing.assert_array_equal(o[:, t], i_or[:, t])
    np.testing.assert_array_equal(i_and, a0)  # inputs untouched
    np.testing.assert_array_equal(i_or, o0)
    np.testing.assert_allclose(reconstruct(a, o), reconstruct(i_and, i_or), atol=1e-12)  # the same explanation
    ta, to = singletons_merged(torch.from_numpy(i_and).float(), torch.from_numpy(i_or).float())
    assert isinstance(ta, torch.Tensor) and ta.dtype == torch.float32
    np.testing.assert_allclose(ta.numpy(), a, rtol=1e-6)
    np.testing.assert_allclose(to.numpy(), o, rtol=1e-6)


def test_salient_hand_worked():
    i_and = np.array([5.0, 0.3, -0.1, 2.0])
    i_or = np.array([0.0, -0.6, 0.05, 0.2])
    r = Interactions(i_and, i_or, meta={"method": "m"})
    # raw, strict: |I| > 0.2
    s = r.salient(threshold=0.2, merge_singletons=False)
    np.testing.assert_array_equal(s.i_and, [5.0, 0.3, 0.0, 2.0])
    np.testing.assert_array_equal(s.i_or, [0.0, -0.6, 0.0, 0.0])
    assert s.meta == {"method": "m", "salient": {"threshold": 0.2, "top_k": None, "merge_singletons": False}}
    np.testing.assert_array_equal(r.i_and, i_and)  # original untouched
    # merged (the default): {0} = 0.3 - 0.6 = -0.3, {1} = -0.05; OR {0,1} 0.2 is not > 0.2
    s = r.salient(threshold=0.2)
    np.testing.assert_allclose(s.i_and, [5.0, -0.3, 0.0, 2.0])
    np.testing.assert_array_equal(s.i_or, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(r.i_or, i_or)
    # the default threshold is the SPEC τ = 0.02 · |0.3 - 0.1 + 2 - 0.6 + 0.05 + 0.2| = 0.037, recorded in meta
    s = r.salient()
    np.testing.assert_allclose(s.i_and, [5.0, -0.3, -0.05, 2.0])
    np.testing.assert_allclose(s.i_or, [0.0, 0.0, 0.0, 0.2])
    assert s.meta["salient"] == {"threshold": pytest.approx(0.037), "top_k": None, "merge_singletons": True}
    # None: every interaction
    np.testing.assert_allclose(r.salient(threshold=None, merge_singletons=False).i_or, i_or)
    # the bias is kept even when it is below the threshold
    s0 = Interactions(np.array([0.01, 1.0, 1.0, 1.0]), np.zeros(4)).salient(threshold=0.5)
    assert s0.i_and[0] == 0.01


def test_salient_top_k_hand_worked():
    i_and = np.array([0.0, 1.0, -3.0, 0.5])
    i_or = np.array([0.0, 2.0, -0.2, 4.0])
    s = Interactions(i_and, i_or).salient(top_k=3, merge_singletons=False)  # or{0,1}=4, and{1}=-3, or{0}=2
    np.testing.assert_array_equal(s.i_and, [0.0, 0.0, -3.0, 0.0])
    np.testing.assert_array_equal(s.i_or, [0.0, 2.0, 0.0, 4.0])
    s = Interactions(i_and, i_or).salient(top_k=3)  # merged: or{0,1}=4, {1}=-3.2, {0}=3
    np.testing.assert_allclose(s.i_and, [0.0, 3.0, -3.2, 0.0])
    np.testing.assert_array_equal(s.i_or, [0.0, 0.0, 0.0, 4.0])
    assert s.meta["salient"] == {"threshold": None, "top_k": 3, "merge_singletons": True}


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize(
    "kw",
    [dict(), dict(threshold=0.7), dict(threshold=0.0), dict(threshold=None), dict(top_k=1), dict(top_k=57)],
)
def test_salient_matches_metrics_mask(rng, kw, merged):
    r = random_interactions(rng, (3, 32), gamma=rng.normal(size=(3, 32)), noise=0.1 * rng.normal(size=(3, 32)))
    s = r.salient(merge_singletons=merged, **kw)
    m_and, m_or = metrics.salient_mask(r, merge_singletons=merged, **kw)
    m_and[..., 0] = True  # the bias is kept
    i_and, i_or = singletons_merged(r.i_and, r.i_or) if merged else (r.i_and, r.i_or)
    np.testing.assert_array_equal(s.i_and, np.where(m_and, i_and, 0.0))
    np.testing.assert_array_equal(s.i_or, np.where(m_or, i_or, 0.0))
    np.testing.assert_array_equal(s.i_and[..., 0], r.i_and[..., 0])
    if "top_k" in kw:
        nonzero = (s.i_and[..., 1:] != 0).sum(-1) + (s.i_or[..., 1:] != 0).sum(-1)
        np.testing.assert_array_equal(nonzero, kw["top_k"])
    if not kw:  # the SPEC τ of the batch, from the stored noise
        assert s.meta["salient"]["threshold"] == pytest.approx(r.salient_threshold())
        explicit = r.salient(threshold=r.salient_threshold(), merge_singletons=merged)
        np.testing.assert_array_equal(s.i_and, explicit.i_and)
    # the rest is carried over
    np.testing.assert_array_equal(s.gamma, r.gamma)
    np.testing.assert_array_equal(s.noise, r.noise)
    np.testing.assert_array_equal(s.objective, r.objective)
    assert s.players == r.players


def test_salient_torch(rng):
    r = random_interactions(rng, (2, 16))
    t = Interactions(torch.from_numpy(r.i_and), torch.from_numpy(r.i_or))
    for kw in (dict(top_k=4), dict(), dict(merge_singletons=False)):
        s, st = r.salient(**kw), t.salient(**kw)
        assert isinstance(st.i_and, torch.Tensor) and isinstance(st.i_or, torch.Tensor)
        np.testing.assert_array_equal(st.i_and.numpy(), s.i_and)
        np.testing.assert_array_equal(st.i_or.numpy(), s.i_or)


def test_salient_bad_selection(rng):
    r = random_interactions(rng, (8,))
    with pytest.raises(ValueError, match="both given"):
        r.salient(threshold=0.1, top_k=2)
    with pytest.raises(ValueError, match="threshold"):
        r.salient(threshold="all")
    with pytest.raises(ValueError, match="top_k"):
        r.salient(top_k=0)
    with pytest.raises(ValueError, match="threshold"):
        r.salient(threshold=-1.0)
    with pytest.raises(ValueError, match="merge_singletons"):
        r.salient(merge_singletons="yes")


@pytest.mark.parametrize(
    "kw", [dict(), dict(threshold=0), dict(threshold=0.5), dict(top_k=6), dict(merge_singletons=False)]
)
def test_by_order_and_average_order_agree_with_metrics(rng, kw):
    r = random_interactions(rng, (4, 16), noise=0.1 * rng.normal(size=(4, 16)))
    j_pos, j_neg = r.by_order(**kw)
    e_pos, e_neg = metrics.order_strengths(r, **kw)
    assert j_pos.shape == (4, 5)
    np.testing.assert_array_equal(j_pos, e_pos)
    np.testing.assert_array_equal(j_neg, e_neg)
    np.testing.assert_array_equal(r.average_order(**kw), metrics.average_order(r, **kw))
    if not kw:  # the default: salient interactions at the SPEC τ of the batch, singletons merged
        np.testing.assert_array_equal(j_pos, metrics.order_strengths(r, threshold=r.salient_threshold())[0])


def test_by_order_hand_worked():
    # n = 2: and{0}=1, and{0,1}=-2, or{1}=3, bias 10 ignored; merged {1} = 3 as well
    r = Interactions(np.array([10.0, 1.0, 0.0, -2.0]), np.array([0.0, 0.0, 3.0, 0.0]))
    j_pos, j_neg = r.by_order()  # τ = 0.02 · |1 - 2 + 3| = 0.04: every one is salient
    np.testing.assert_array_equal(j_pos, [0.0, 4.0, 0.0])
    np.testing.assert_array_equal(j_neg, [0.0, 0.0, 2.0])
    assert float(r.average_order()) == pytest.approx((1 * 4 + 2 * 2) / 6)
    # above τ = 1.5 only {1} (3) and {0,1} (-2) are salient
    assert float(r.average_order(threshold=1.5)) == pytest.approx((1 * 3 + 2 * 2) / 5)
    # a singleton split 1.5 + 1.5 between AND and OR is the same explanation
    split = Interactions(np.array([10.0, 1.0, 1.5, -2.0]), np.array([0.0, 0.0, 1.5, 0.0]))
    assert float(split.average_order(threshold=1.5)) == pytest.approx((1 * 3 + 2 * 2) / 5)
    assert float(split.average_order(threshold=1.5, merge_singletons=False)) == pytest.approx(2.0)


def test_matching_error_without_noise(rng):
    v = rng.normal(size=(3, 16))
    gamma = rng.normal(size=(3, 16))
    i_and, i_or = split_interactions(v / 2 + gamma, v / 2 - gamma)
    r = Interactions(i_and, i_or, gamma=gamma)
    err = r.matching_error(v)
    assert err.shape == (3,)
    assert np.all(err < 1e-12)
    np.testing.assert_array_equal(err, r.matching_error(v, with_noise=False))
    # against a different output the error is the largest deviation
    w = v.copy()
    w[1, 5] += 0.75
    np.testing.assert_allclose(r.matching_error(w), [0.0, 0.75, 0.0], atol=1e-12)


def test_matching_error_with_noise(rng):
    v = rng.normal(size=(2, 8))
    q = rng.uniform(-0.1, 0.1, size=(2, 8))
    gamma = rng.normal(size=(2, 8))
    u_and, u_or = (v + q) / 2 + gamma, (v + q) / 2 - gamma
    i_and, i_or = split_interactions(u_and, u_or)
    r = Interactions(i_and, i_or, gamma=gamma, noise=q)
    np.testing.assert_allclose(reconstruct(r.i_and, r.i_or), v + q, atol=1e-12)
    assert np.all(r.matching_error(v) < 1e-12)
    np.testing.assert_allclose(r.matching_error(v, with_noise=False), np.abs(q).max(-1), atol=1e-12)
    # torch interactions, numpy v
    t = Interactions(torch.from_numpy(i_and), torch.from_numpy(i_or), noise=torch.from_numpy(q))
    assert np.all(t.matching_error(v) < 1e-12)
    np.testing.assert_allclose(t.matching_error(torch.from_numpy(v), with_noise=False), np.abs(q).max(-1), atol=1e-12)


def test_matching_error_bad_v(rng):
    r = random_interactions(rng, (2, 8))
    with pytest.raises(ValueError, match="v has shape .* i_and has shape"):
        r.matching_error(np.zeros((3, 8)))
    with pytest.raises(ValueError, match="v: the last axis has length 5"):
        r.matching_error(np.zeros(5))


# ---------------------------------------------------------------------------------------------
# top
# ---------------------------------------------------------------------------------------------


def _top_example(**kw) -> Interactions:
    # n = 3 players a, b, c; bit i = player i
    i_and = np.zeros(8)
    i_and[0] = 10.0  # bias: largest, never listed
    i_and[3] = 2.0  # {a, b}
    i_and[6] = -4.0  # {b, c}
    i_and[7] = 0.5  # {a, b, c}
    i_or = np.zeros(8)
    i_or[4] = 3.0  # {c}
    i_or[5] = -1.0  # {a, c}
    return Interactions(i_and, i_or, players=["a", "b", "c"], **kw)


def test_top_hand_worked():
    r = _top_example()
    raw = dict(merge_singletons=False)
    assert r.top(3, **raw) == [("and", ("b", "c"), -4.0), ("or", ("c",), 3.0), ("and", ("a", "b"), 2.0)]
    assert r.top(5, **raw)[3:] == [("or", ("a", "c"), -1.0), ("and", ("a", "b", "c"), 0.5)]
    assert r.top(1, **raw) == [("and", ("b", "c"), -4.0)]
    assert r.top(np.int64(2), **raw) == r.top(2, **raw)
    # the default k is 10; all 14 interactions (7 AND + 7 OR) when k exceeds them; never the bias
    assert len(r.top(**raw)) == 10
    everything = r.top(100, **raw)
    assert len(everything) == 14
    assert all(not (kind == "and" and players == ()) for kind, players, _ in everything)
    assert all(isinstance(e, float) for _, _, e in everything)


def test_top_merges_singletons_by_default():
    # the OR singleton {c} is listed as the singleton {c}; 14 - 3 entries in all
    r = _top_example()
    assert r.top(3) == [("and", ("b", "c"), -4.0), ("single", ("c",), 3.0), ("and", ("a", "b"), 2.0)]
    assert len(r.top(100)) == 11
    assert r.top(100) == r.top(100, merge_singletons=True)


def test_top_ties_and_before_or_then_bitmask():
    r = Interactions(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.0, -1.0, 0.0, 1.0]), players=["p", "q"])
    assert r.top(4, merge_singletons=False) == [
        ("and", ("p",), 1.0), ("and", ("q",), 1.0), ("or", ("p",), -1.0), ("or", ("p", "q"), 1.0)
    ]


def test_top_default_labels_and_torch():
    r = _top_example()
    t = Interactions(torch.from_numpy(r.i_and), torch.from_numpy(r.i_or))
    assert t.top(2, merge_singletons=False) == [("and", ("1", "2"), -4.0), ("or", ("2",), 3.0)]
    assert t.top(2) == [("and", ("1", "2"), -4.0), ("single", ("2",), 3.0)]


def test_top_empty_or_set_never_listed():
    r = Interactions(np.array([0.0, 1.0, 0.0, 0.0]), np.array([9.0, 0.0, 0.0, 0.0]))
    assert r.top(1, merge_singletons=False) == [("and", ("0",), 1.0)]
    assert r.top(1) == [("single", ("0",), 1.0)]


def test_top_batch_raises(rng):
    r = random_interactions(rng, (2, 8))
    with pytest.raises(ValueError, match=r"r\[0\]\.top"):
        r.top(3)
    assert len(r[0].top(3)) == 3


@pytest.mark.parametrize("k", [0, -1, 2.0, True, "3", None])
def test_top_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        _top_example().top(k)


# ---------------------------------------------------------------------------------------------
# Persistence
# ---------------------------------------------------------------------------------------------


def test_to_dict_json_round_trip(rng):
    r = random_interactions(
        rng,
        (2, 8),
        gamma=rng.normal(size=(2, 8)),
        noise=rng.normal(size=(2, 8)),
        players=["a", "b", "c"],
        meta={"method": "x", "lr": 0.5, "steps": [1, 2], "opts": {"a": None}, "scores": rng.normal(size=(2, 3))},
    )
    d = r.to_dict()
    text = json.dumps(d)
    back = Interactions.from_dict(json.loads(text))
    assert_same(r, back)
    assert isinstance(back.i_and, np.ndarray) and isinstance(back.meta["scores"], np.ndarray)
    assert d["meta_arrays"] == ["scores"]


def test_to_dict_torch_round_trip(rng):
    t = Interactions(
        torch.tensor(rng.normal(size=8)), torch.tensor(rng.normal(size=8)), meta={"w": torch.arange(3.0)}
    )
    back = Interactions.from_dict(json.loads(json.dumps(t.to_dict())))
    assert isinstance(back.i_and, np.ndarray)
    assert_same(t, back)


def test_from_dict_wrong_format():
    d = Interactions(np.zeros(4), np.zeros(4)).to_dict()
    d["format"] = "something else"
    with pytest.raises(ValueError, match="not an interprim Interactions record"):
        Interactions.from_dict(d)
    del d["format"]
    with pytest.raises(ValueError, match="not an interprim Interactions record"):
        Interactions.from_dict(d)


def test_save_load_round_trip(rng, tmp_path):
    meta = {
        "method": "sparse",
        "lr": 1e-3,
        "flags": [True, False],
        "nested": {"a": [1, 2], "b": None, "c": "text"},
        "per_sample": rng.normal(size=(3, 2)),
        "counts": np.arange(3),
        "weights": torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64),
    }
    r = random_interactions(
        rng, (3, 16), gamma=rng.normal(size=(3, 16)), noise=rng.normal(size=(3, 16)), players=list("wxyz"), meta=meta
    )
    path = r.save(tmp_path / "res.npz")
    assert path == tmp_path / "res.npz" and path.exists()
    back = Interactions.load(path)
    assert_same(r, back)
    for k in ("per_sample", "counts", "weights"):
        assert isinstance(back.meta[k], np.ndarray), k
    assert back.meta["nested"] == {"a": [1, 2], "b": None, "c": "text"}
    assert back.players == ("w", "x", "y", "z")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.npz"]  # no .tmp left behind


def test_save_load_torch(rng, tmp_path):
    t = Interactions(
        torch.tensor(rng.normal(size=(2, 8)), dtype=torch.float64),
        torch.tensor(rng.normal(size=(2, 8)), dtype=torch.float64),
        meta={"emb": torch.ones(2, 3, dtype=torch.float64), "note": "torch"},
    )
    back = Interactions.load(t.save(tmp_path / "t"))
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        assert isinstance(getattr(back, name), np.ndarray), name
    assert isinstance(back.meta["emb"], np.ndarray)
    assert_same(t, back)


@pytest.mark.parametrize("name, saved", [("plain", "plain.npz"), ("res.npz", "res.npz"), ("res.v1", "res.v1.npz")])
def test_save_adds_npz_suffix(tmp_path, name, saved):
    r = Interactions(np.arange(4.0), np.zeros(4))
    path = r.save(tmp_path / name)
    assert path == tmp_path / saved
    assert sorted(p.name for p in tmp_path.iterdir()) == [saved]
    assert_same(r, Interactions.load(path))


def test_save_accepts_str_and_overwrites(tmp_path):
    path = str(tmp_path / "r.npz")
    Interactions(np.zeros(4), np.zeros(4)).save(path)
    r = Interactions(np.ones(4), np.zeros(4))
    r.save(path)
    assert_same(r, Interactions.load(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]


@pytest.mark.parametrize("bad", [object(), {1, 2}, np.int64(3), {"deep": np.zeros(2)}, b"bytes"])
def test_save_non_serialisable_meta(tmp_path, bad):
    r = Interactions(np.zeros(4), np.zeros(4), meta={"bad": bad})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        r.save(tmp_path / "r.npz")
    assert list(tmp_path.iterdir()) == []


def test_load_wrong_format_header(tmp_path):
    path = Interactions(np.zeros(4), np.zeros(4)).save(tmp_path / "r.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays["header"]))
    header["format"] = "interprim.Interactions/999"
    arrays["header"] = np.array(json.dumps(header))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="not an interprim Interactions record"):
        Interactions.load(bad)


def test_load_npz_without_header(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError):
        Interactions.load(path)


def test_load_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_text("not a numpy file")
    with pytest.raises(ValueError):
        Interactions.load(path)


def test_top_merge_singletons_lists_each_singleton_once_with_the_sum():
    # {a}: AND 2 and OR -0.5 (both non-zero) -> one entry 1.5; {c}: OR only 3 -> 3; {b}: nothing -> 0
    i_and = np.array([7.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # bias 7, {a} 2, {a, b} 1
    i_or = np.array([0.0, -0.5, 0.0, 0.0, 3.0, -2.5, 0.0, 0.0])  # {a} -0.5, {c} 3, {a, c} -2.5
    r = Interactions(i_and, i_or, players=["a", "b", "c"])
    merged = r.top(100, merge_singletons=True)
    assert len(merged) == 14 - 3  # the 3 OR singletons are folded into the AND ones
    assert merged[:4] == [("single", ("c",), 3.0), ("or", ("a", "c"), -2.5), ("single", ("a",), 1.5), ("and", ("a", "b"), 1.0)]
    singles = [(players, e) for kind, players, e in merged if len(players) == 1]
    assert singles == [(("c",), 3.0), (("a",), 1.5), (("b",), 0.0)]
    assert all(kind == "single" for kind, players, _ in merged if len(players) == 1)
    assert all(kind in ("and", "or") for kind, players, _ in merged if len(players) > 1)
    # the raw vectors are untouched, and the unmerged list still has both entries of {a}
    np.testing.assert_array_equal(r.i_and, i_and)
    np.testing.assert_array_equal(r.i_or, i_or)
    unmerged = r.top(100, merge_singletons=False)
    assert ("and", ("a",), 2.0) in unmerged and ("or", ("a",), -0.5) in unmerged
    assert r.top(1, merge_singletons=True) == [("single", ("c",), 3.0)]


def test_top_merge_singletons_torch_float32():
    r = Interactions(torch.tensor([0.0, 1.0, 0.25, 0.0]), torch.tensor([0.0, 0.5, -0.25, 0.0]), players=["p", "q"])
    assert r.top(3, merge_singletons=True) == [("single", ("p",), 1.5), ("single", ("q",), 0.0), ("and", ("p", "q"), 0.0)]


def test_salient_meta_is_saved(rng, tmp_path):
    r = random_interactions(rng, (2, 8))
    for kw, recorded in ((dict(threshold=np.float32(0.5)), 0.5), (dict(threshold=[0.1, 0.2]), [0.1, 0.2])):
        s = r.salient(**kw)
        assert s.meta["salient"]["threshold"] == pytest.approx(recorded)
        assert Interactions.load(s.save(tmp_path / "s.npz")).meta["salient"] == s.meta["salient"]
