"""``hard-vs-confusing`` end to end on a micro config through the runner: schema, planting, and every
statistic recomputed directly from the stored training record and interactions."""

import math
import time

import numpy as np
import pytest
import torch

from interprim.data import load_mnist10k
from interprim.experiments import hard_vs_confusing as hvc
from interprim.experiments import browser, register, run_experiment
from interprim.experiments.models import load_model
from interprim.store import Store

MICRO = dict(seeds=[0], epochs=1, train_size=300, per_class=1, ordinary=11, n=4, hard_top=0.3, confusing_top=0.3)
N = 9 + 11  # planted + ordinary analysed samples
K = math.ceil(0.3 * N)


def _overrides(values):
    return [f"{k}={v}" for k, v in values.items()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    register(hvc)
    out = tmp_path_factory.mktemp("hvc")
    doc = run_experiment(hvc.NAME, "cpu", overrides=_overrides(MICRO), out=out, progress=False)
    store = Store(out / "store")
    record = lambda kind: store.get(store.keys(("tasks", kind))[0])[0]  # one task of each kind
    return out, doc["results"], record("train-planted"), record("train-values"), record("extract")


def test_schema_figures_and_summary(finished):
    out, results, *_ = finished
    (seed,) = results["seeds"]
    for key in ("samples", "planted", "mean_loss", "eta", "salient_pos", "salient_neg", "hard", "confusing"):
        assert len(seed[key]) == N, key
    assert sum(seed["hard"]) == K and sum(seed["confusing"]) == K
    assert sum(g["count"] for g in seed["groups"].values()) == N
    assert set(seed["groups"]) == set(hvc.GROUPS)
    assert len(seed["by_order"]["hard"]["pos"]) == MICRO["n"] + 1
    assert 0 <= seed["accuracy"]["test"] <= 1
    assert 0 <= seed["overlap"]["p_value"] <= 1
    assert set(results["over_seeds"]["groups"]) == set(hvc.GROUPS)
    assert results["over_seeds"]["overlap"]["iou"]["n"] == 1
    browser.validate(results["browser"])
    assert [x["id"] for x in results["browser"][0]["samples"]] == [f"train #{i}" for i in seed["samples"]]
    names = {p.name for p in (out / "figures").iterdir()}
    for stem in ("by-order", "groups", "eta-loss"):
        assert {f"hard-vs-confusing-{stem}.png", f"hard-vs-confusing-{stem}.svg"} <= names
    assert "hard ∧ confusing" in (out / "summary.md").read_text(encoding="utf-8")


def test_planting_and_the_analysed_samples(finished):
    _, results, model, _, _ = finished
    (seed,) = results["seeds"]
    clean = load_mnist10k("train").labels.numpy()[:300]
    planted = np.asarray(model["planted"])
    assert sorted(clean[planted].tolist()) == list(range(1, 10))  # one of each class 1-9 ...
    assert (np.asarray(model["labels"])[planted] == 0).all()  # ... relabelled to 0
    assert (np.delete(np.asarray(model["labels"]), planted) == np.delete(clean, planted)).all()
    samples = np.asarray(seed["samples"])
    np.testing.assert_array_equal(samples, hvc.analysed_samples(planted, 300, 11, sample_seed=0))
    np.testing.assert_array_equal(np.asarray(seed["planted"]), np.isin(samples, planted))
    assert np.asarray(model["sample_loss"]).shape == (1, 300)


def test_values_are_the_log_odds_of_the_training_label(finished):
    _, results, model, values, _ = finished
    samples = results["seeds"][0]["samples"]
    weights = {k: v for k, v in model.items() if k not in hvc._EXTRA}
    with torch.no_grad():
        z = load_model("lenet", weights)(load_mnist10k("train").images[samples]).double()
    y = torch.as_tensor(np.asarray(model["labels"])[samples])
    others = z.masked_fill(torch.nn.functional.one_hot(y, 10).bool(), -torch.inf)
    log_odds = z.gather(1, y[:, None])[:, 0] - torch.logsumexp(others, 1)
    np.testing.assert_allclose(values["values"][:, -1], log_odds.numpy(), atol=1e-4)


def _direct(record):
    """τ, merged AND/OR interactions and orders, computed here from the raw record (SPEC §4)."""
    i_and, i_or, noise = (np.asarray(record[k], dtype=np.float64) for k in ("i_and", "i_or", "noise"))
    n = MICRO["n"]
    change = i_and[:, 1:].sum(1) + i_or[:, 1:].sum(1) - (noise[:, -1] - noise[:, 0])
    tau = 0.02 * np.abs(change).mean()
    singles = [1 << i for i in range(n)]
    i_and, i_or = i_and.copy(), i_or.copy()
    i_and[:, singles] += i_or[:, singles]
    i_or[:, singles] = 0
    i_and[:, 0] = 0
    order = np.array([s.bit_count() for s in range(2**n)])
    keep_and, keep_or = np.abs(i_and) > tau, np.abs(i_or) > tau
    return i_and * keep_and, i_or * keep_or, keep_and, keep_or, order


def test_statistics_equal_a_direct_computation(finished):
    _, results, model, _, record = finished
    (seed,) = results["seeds"]
    samples = np.asarray(seed["samples"])
    loss = np.asarray(model["sample_loss"]).mean(0)[samples]
    np.testing.assert_allclose(seed["mean_loss"], loss, rtol=1e-12)

    a, o, keep_and, keep_or, order = _direct(record)
    strength = np.abs(a) + np.abs(o)
    with np.errstate(invalid="ignore"):
        eta = (strength * order).sum(1) / strength.sum(1)
    np.testing.assert_allclose(np.asarray(seed["eta"], dtype=float), eta, atol=1e-12)

    hard = np.zeros(N, bool)
    hard[np.argsort(-loss, kind="stable")[:K]] = True
    confusing = np.zeros(N, bool)
    confusing[np.argsort(-np.nan_to_num(eta, nan=-np.inf), kind="stable")[:K]] = True
    np.testing.assert_array_equal(seed["hard"], hard)
    np.testing.assert_array_equal(seed["confusing"], confusing)

    both = int((hard & confusing).sum())
    ov = seed["overlap"]
    assert ov["both"] == both and ov["iou"] == pytest.approx(both / (2 * K - both))
    e = K * K / N
    assert ov["chance_iou"] == pytest.approx(e / (2 * K - e))
    p = sum(math.comb(K, x) * math.comb(N - K, K - x) for x in range(both, K + 1)) / math.comb(N, K)
    assert ov["p_value"] == pytest.approx(p, rel=1e-9)

    # P1 Eq. 4 by hand: positive and negative strength of each order, averaged over hard / easy samples
    for part, mask in (("hard", hard), ("easy", ~hard)):
        for sign, part_of in (("pos", lambda x: np.maximum(x, 0)), ("neg", lambda x: np.maximum(-x, 0))):
            per_sample = part_of(a) + part_of(o)
            j = np.array([per_sample[:, order == k].sum(1) for k in range(MICRO["n"] + 1)]).T
            np.testing.assert_allclose(seed["by_order"][part][sign], j[mask].mean(0), atol=1e-12)

    pos = ((a > 0) & keep_and).sum(1) + ((o > 0) & keep_or).sum(1)
    neg = ((a < 0) & keep_and).sum(1) + ((o < 0) & keep_or).sum(1)
    np.testing.assert_array_equal(seed["salient_pos"], pos)
    np.testing.assert_array_equal(seed["salient_neg"], neg)
    groups = {"hard_confusing": hard & confusing, "hard_only": hard & ~confusing,
              "confusing_only": ~hard & confusing, "neither": ~hard & ~confusing}
    for name, mask in groups.items():
        got = seed["groups"][name]
        assert got["count"] == mask.sum()
        if mask.any():
            assert got["salient"] == pytest.approx((pos + neg)[mask].mean())
            assert got["negative"] == pytest.approx(neg[mask].mean())
        else:
            assert got["salient"] is None


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="players must be"):
        hvc.Config(players="pixels")
    with pytest.raises(ValueError, match="seeds must be"):
        hvc.Config(seeds=[])
    with pytest.raises(ValueError, match="hard_top must be"):
        hvc.Config(hard_top=1.0)
    with pytest.raises(ValueError, match="train_size must be"):
        hvc.Config(train_size=9000)
    with pytest.raises(ValueError, match="exceed the 100 training samples"):
        hvc.Config(train_size=100, ordinary=90)
    with pytest.raises(ValueError, match="per_class must be >= 1"):
        hvc.Config(per_class=0)


@pytest.mark.slow
def test_the_cpu_config_runs_in_ten_minutes(tmp_path):
    register(hvc)
    start = time.perf_counter()
    doc = run_experiment(hvc.NAME, "cpu", out=tmp_path, progress=False)
    assert time.perf_counter() - start < 600
    assert len(doc["results"]["seeds"]) == 3
