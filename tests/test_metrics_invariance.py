"""Metrics do not depend on how a solver splits a singleton between I_and({i}) and I_or({i}) (SPEC §2, §4).

A one-player AND and OR interaction trigger on the same subsets, so moving any amount between them
leaves the explanation unchanged. Every metric that selects, thresholds or compares interactions
merges the OR singleton into the AND one first (``merge_singletons=True``, the default), so moving a
random amount per singleton, per sample and per model must leave every result unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from interprim import Interactions
from interprim import metrics as M
from interprim.transforms import reconstruct

N, MODELS, SAMPLES = 4, 3, 6
SCALES = (1.0, 10.0, 0.1)  # the models' output scales differ, as in P2
SELECTIONS = (
    ("default", {}),
    ("threshold", {"threshold": 0.05}),
    ("per model", {"threshold": [0.1, 1.0, 0.01]}),
    ("top_k", {"top_k": 7}),
    ("all", {"threshold": 0}),
)


def sparse_models(rng):
    """(i_and, i_or, noise) of shape (MODELS, SAMPLES, 2**N): a few strong interactions among weak ones."""
    shape = (MODELS, SAMPLES, 2**N)
    scale = np.asarray(SCALES)[:, None, None]
    i_and = scale * rng.normal(size=shape) * np.where(rng.random(shape) < 0.3, 1.0, 0.01)
    i_or = scale * rng.normal(size=shape) * np.where(rng.random(shape) < 0.3, 1.0, 0.01)
    i_or[..., 0] = 0.0
    noise = 0.01 * scale * rng.normal(size=shape)
    return i_and, i_or, noise


def move_singletons(i_and, i_or, amount):
    """Copies with ``amount[..., i]`` moved from I_or({i}) to I_and({i}); the explanation is unchanged."""
    a, o = i_and.copy(), i_or.copy()
    for i in range(N):
        a[..., 1 << i] += amount[..., i]
        o[..., 1 << i] -= amount[..., i]
    return a, o


def moves(rng, i_and, i_or):
    """A random amount per singleton, sample and model; everything to the AND side; everything to OR."""
    singles = [1 << i for i in range(N)]
    return {
        "random": 3 * rng.normal(size=i_and.shape[:-1] + (N,)) * np.asarray(SCALES)[:, None, None],
        "all to AND": i_or[..., singles],
        "all to OR": -i_and[..., singles],
    }


def metrics_of(a, o, noise):
    """Every metric of interprim.metrics on the interactions of MODELS models, with their defaults
    and with explicit selections, from the stacked arrays and from a list of Interactions."""
    rs = [Interactions(a[i], o[i], noise=noise[i]) for i in range(MODELS)]
    v = reconstruct(a, o) - noise
    out = {}
    for form, args in (("arrays", (a, o)), ("Interactions", (rs,))):
        for name, kw in SELECTIONS:
            key = f"{form}, {name}"
            out[f"salient_mask, {key}"] = M.salient_mask(*args, **kw)
            out[f"order_strengths, {key}"] = M.order_strengths(*args, **kw)
            out[f"average_order, {key}"] = M.average_order(*args, **kw)
            out[f"transferability, {key}"] = M.transferability(*args, **kw)
            out[f"shared_ratio_by_order, {key}"] = M.shared_ratio_by_order(*args, **kw)
            out[f"shared_ratio_by_order per sample, {key}"] = M.shared_ratio_by_order(*args, pool=False, **kw)
            out[f"matching_error, {key}"] = M.matching_error(*args, v=v, noise=noise, **kw)
        out[f"transferability_curve, {form}"] = M.transferability_curve(*args, ks=[1, 3, 7, 15, 26])
        out[f"sparsity_curve, {form}"] = M.sparsity_curve(*args)
        out[f"salient_threshold, {form}"] = M.salient_threshold(*args)
        out[f"matching_error spec, {form}"] = M.matching_error(*args, v=v, threshold="spec")
    for i in range(MODELS):
        train, test = rs[i][:3], rs[i][3:]
        out[f"jaccard_by_order, model {i}"] = M.jaccard_by_order(train, test)
        pairs = (a[i, :3], o[i, :3]), (a[i, 3:], o[i, 3:])
        out[f"jaccard_by_order top_k, model {i}"] = M.jaccard_by_order(*pairs, top_k=5)
        out[f"Interactions.by_order, model {i}"] = rs[i].by_order()
        out[f"Interactions.average_order, model {i}"] = rs[i].average_order()
        out[f"Interactions.salient, model {i}"] = (rs[i].salient().i_and, rs[i].salient().i_or)
        out[f"Interactions.salient top_k, model {i}"] = (rs[i].salient(top_k=4).i_and, rs[i].salient(top_k=4).i_or)
        out[f"Interactions.top, model {i}"] = [(kind, players) for kind, players, _ in rs[i][0].top(8)]
        out[f"Interactions.top effects, model {i}"] = [e for _, _, e in rs[i][0].top(8)]
    return out


def assert_same(x, y, what):
    if isinstance(x, (tuple, list)):
        assert len(x) == len(y), what
        for xi, yi in zip(x, y):
            assert_same(xi, yi, what)
    elif isinstance(x, str):
        assert x == y, what
    else:
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype == bool:
            np.testing.assert_array_equal(x, y, err_msg=what)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("move", ["random", "all to AND", "all to OR"])
def test_moving_singleton_amounts_changes_no_metric(move):
    rng = np.random.default_rng(7)
    i_and, i_or, noise = sparse_models(rng)
    before = metrics_of(i_and, i_or, noise)
    a, o = move_singletons(i_and, i_or, moves(rng, i_and, i_or)[move])
    assert not np.allclose(a, i_and) and np.allclose(reconstruct(a, o), reconstruct(i_and, i_or))
    after = metrics_of(a, o, noise)
    assert before.keys() == after.keys()
    for key in before:
        assert_same(before[key], after[key], key)


def test_without_merging_the_split_matters():
    # the same moves change the raw metrics: the test above is not vacuous
    rng = np.random.default_rng(7)
    i_and, i_or, noise = sparse_models(rng)
    a, o = move_singletons(i_and, i_or, moves(rng, i_and, i_or)["random"])
    raw = {"merge_singletons": False}
    for fn in (M.order_strengths, M.transferability, M.shared_ratio_by_order):
        x, y = fn(i_and, i_or, **raw), fn(a, o, **raw)
        assert not all(np.allclose(p, q, equal_nan=True) for p, q in zip(x, y)), fn.__name__
    assert not np.allclose(M.average_order(i_and, i_or, **raw), M.average_order(a, o, **raw))
    assert not np.allclose(M.sparsity_curve(i_and, i_or, **raw), M.sparsity_curve(a, o, **raw))


def test_issue_example_split_singleton_stays_salient():
    # the singleton effect 0.6 stored as 0.3 + 0.3 vanishes from J_pos at τ = 0.35 unless merged
    a = np.array([0.0, 0.3, 0.0, 0.0])
    o = np.array([0.0, 0.3, 0.0, 0.0])
    j_pos, _ = M.order_strengths(a, o, threshold=0.35, merge_singletons=False)
    np.testing.assert_allclose(j_pos, [0.0, 0.0, 0.0])
    j_pos, _ = M.order_strengths(a, o, threshold=0.35)
    np.testing.assert_allclose(j_pos, [0.0, 0.6, 0.0])
    np.testing.assert_allclose(M.order_strengths(np.array([0.0, 0.6, 0.0, 0.0]), np.zeros(4), threshold=0.35)[0], j_pos)
