"""Bootstrap statistics of the model comparisons (interprim.experiments.stats; SPEC §4, §7)."""

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from interprim.experiments import stats as S
from interprim.metrics import confusing_agreement

B = 200  # resamples per test: enough for the properties checked, fast


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def correlated(rng, n, noise=1.0):
    a = rng.normal(size=n)
    return a, a + noise * rng.normal(size=n)


def reference_boot(a, b, seed, n_boot=B, top=0.1):
    """Slow reference: the documented resamples, each statistic by scipy / sets on every resample."""
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    k = math.ceil(round(top * a.size, 9))
    out = {"pearson": [], "spearman": [], "iou": []}
    for row in idx:
        x, y = a[row], b[row]
        constant = np.ptp(x) == 0 or np.ptp(y) == 0
        out["pearson"].append(np.nan if constant else sps.pearsonr(x, y)[0])
        out["spearman"].append(np.nan if constant else sps.spearmanr(x, y)[0])
        sa = set(np.argsort(-x, kind="stable")[:k].tolist())
        sb = set(np.argsort(-y, kind="stable")[:k].tolist())
        out["iou"].append(len(sa & sb) / len(sa | sb))
    return {name: np.array(v) for name, v in out.items()}


def percentile_ci(boot, level=0.95):
    v = boot[~np.isnan(boot)]
    return np.quantile(v, [(1 - level) / 2, (1 + level) / 2])


# ---------------------------------------------------------------------------------------------
# agreement_with_ci
# ---------------------------------------------------------------------------------------------


def test_agreement_matches_slow_reference(rng):
    a, b = correlated(rng, 60)
    # ties in the top set, so that the tie rule of the resampled IoU is exercised
    a[:5] = a.max() + 1
    r = S.agreement_with_ci(a, b, n_boot=B, seed=3)
    point = confusing_agreement(a, b)
    ref = reference_boot(a, b, seed=3)
    for name in S.STATISTICS:
        assert r[name]["value"] == point[name]
        np.testing.assert_allclose(r[name]["ci"], percentile_ci(ref[name]), rtol=0, atol=1e-12)
        assert r[name]["n_undefined"] == 0
    assert r["chance_iou"] == point["chance_iou"] and r["k"] == point["k"] == 6
    assert (r["n"], r["n_dropped"], r["n_boot"], r["level"], r["seed"], r["top"]) == (60, 0, B, 0.95, 3, 0.1)


def test_agreement_equals_generic_bootstrap_ci(rng):
    a, b = correlated(rng, 40)
    r = S.agreement_with_ci(a, b, top=0.2, n_boot=100, seed=7, level=0.9)
    for name in S.STATISTICS:
        g = S.bootstrap_ci(
            (a, b), lambda x, y, name=name: confusing_agreement(x, y, top=0.2)[name], n_boot=100, seed=7, level=0.9
        )
        assert g["value"] == r[name]["value"]
        np.testing.assert_allclose(g["ci"], r[name]["ci"], rtol=0, atol=1e-12)
        assert (g["n"], g["n_boot"], g["level"], g["n_undefined"]) == (40, 100, 0.9, 0)


def test_ci_contains_point_estimate(rng):
    for noise in (0.3, 1.0, 3.0):
        a, b = correlated(rng, 150, noise)
        r = S.agreement_with_ci(a, b, n_boot=B, seed=1)
        for name in S.STATISTICS:
            lo, hi = r[name]["ci"]
            assert lo <= r[name]["value"] <= hi, (noise, name, r[name])


def test_ci_shrinks_with_n(rng):
    small = S.agreement_with_ci(*correlated(rng, 50), n_boot=B)
    large = S.agreement_with_ci(*correlated(rng, 800), n_boot=B)
    for name in S.STATISTICS:
        w_small = np.diff(small[name]["ci"])[0]
        w_large = np.diff(large[name]["ci"])[0]
        assert w_large < 0.6 * w_small, (name, w_small, w_large)


def test_identical_eta_agrees_perfectly(rng):
    a = rng.normal(size=50)
    r = S.agreement_with_ci(a, a.copy(), n_boot=B)
    for name in S.STATISTICS:
        assert r[name]["value"] == pytest.approx(1.0, abs=1e-12)
        assert r[name]["ci"] == pytest.approx([1.0, 1.0], abs=1e-12)
        assert r[name]["n_undefined"] == 0


def test_independent_eta_iou_near_chance():
    values, covered = [], 0
    for seed in range(12):
        g = np.random.default_rng(seed)
        r = S.agreement_with_ci(g.normal(size=500), g.normal(size=500), n_boot=B, seed=seed)
        values.append(r["iou"]["value"])
        covered += r["iou"]["ci"][0] <= r["chance_iou"] <= r["iou"]["ci"][1]
    chance = r["chance_iou"]
    assert r["k"] == 50 and chance == pytest.approx(25 / 475)
    # sd of one IoU ≈ 0.022 here, so the mean of 12 has a standard error ≈ 0.0065
    assert np.mean(values) == pytest.approx(chance, abs=0.02)
    assert covered >= 9


def test_deterministic_for_a_seed(rng):
    a, b = correlated(rng, 80)
    r1 = S.agreement_with_ci(a, b, n_boot=B, seed=5)
    assert S.agreement_with_ci(a, b, n_boot=B, seed=5) == r1
    r2 = S.agreement_with_ci(a, b, n_boot=B, seed=6)
    assert r2["pearson"]["value"] == r1["pearson"]["value"] and r2["pearson"]["ci"] != r1["pearson"]["ci"]
    np.testing.assert_array_equal(S.bootstrap_indices(80, B, 5), S.bootstrap_indices(80, B, 5))


def test_undefined_resamples_are_skipped_and_counted():
    # a resample of a = [0, 0, 1] is constant with probability (2/3)³ + (1/3)³ = 1/3
    a, b = np.array([0.0, 0.0, 1.0]), np.array([1.0, 2.0, 4.0])
    r = S.agreement_with_ci(a, b, n_boot=B, seed=2)
    ref = reference_boot(a, b, seed=2)
    n_nan = int(np.isnan(ref["pearson"]).sum())
    assert 0.2 * B < n_nan < 0.5 * B
    for name in ("pearson", "spearman"):
        assert r[name]["n_undefined"] == n_nan
        np.testing.assert_allclose(r[name]["ci"], percentile_ci(ref[name]), rtol=0, atol=1e-12)
    assert r["iou"]["n_undefined"] == 0
    # constant η: no correlation at all
    c = S.agreement_with_ci(np.ones(10), np.arange(10.0), n_boot=B)
    assert math.isnan(c["pearson"]["value"]) and all(map(math.isnan, c["pearson"]["ci"]))
    assert c["pearson"]["n_undefined"] == B


def test_plain_python_output_and_torch_input(rng):
    a, b = correlated(rng, 30)
    r = S.agreement_with_ci(torch.tensor(a, requires_grad=True), torch.tensor(b, dtype=torch.float32), n_boot=20)
    assert type(r["pearson"]["value"]) is float and type(r["pearson"]["ci"]) is list
    assert all(type(x) is float for x in r["iou"]["ci"]) and type(r["n"]) is int
    assert r["pearson"]["value"] == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-6)


def test_nan_rejected_or_dropped(rng):
    a, b = correlated(rng, 40)
    a[3], b[7] = np.nan, np.nan
    with pytest.raises(ValueError, match="eta_a: contains NaN.*drop_nan=True"):
        S.agreement_with_ci(a, b, n_boot=B)
    r = S.agreement_with_ci(a, b, n_boot=B, drop_nan=True)
    keep = ~(np.isnan(a) | np.isnan(b))
    assert r["n"] == 38 and r["n_dropped"] == 2
    assert r == {**S.agreement_with_ci(a[keep], b[keep], n_boot=B), "n_dropped": 2}
    with pytest.raises(ValueError, match="2 sample.*after dropping 2"):
        S.agreement_with_ci([1.0, np.nan, 2.0, 3.0], [1.0, 2.0, np.nan, 4.0], drop_nan=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eta_a": np.arange(5.0), "eta_b": np.arange(6.0)}, "5 samples but eta_b has 6"),
        ({"eta_a": np.arange(2.0), "eta_b": np.arange(2.0)}, "at least 3 samples"),
        ({"eta_a": [1.0, np.inf, 2.0], "eta_b": [1.0, 2.0, 3.0]}, "eta_a: contains infinite"),
        ({"eta_a": np.ones((3, 2)), "eta_b": np.ones((3, 2))}, "1-D"),
        ({"eta_a": ["a", "b", "c"], "eta_b": [1.0, 2.0, 3.0]}, "dtype"),
        ({"top": 0.0}, "top"),
        ({"top": 1.5}, "top"),
        ({"top": True}, "top"),
        ({"level": 0.0}, "level"),
        ({"level": 1.0}, "level"),
        ({"level": 95}, "level"),
        ({"level": True}, "level"),
        ({"n_boot": 0}, "n_boot"),
        ({"n_boot": 2.5}, "n_boot"),
        ({"seed": -1}, "seed"),
    ],
)
def test_agreement_errors(kwargs, match):
    args = {"eta_a": np.arange(10.0), "eta_b": np.arange(10.0)[::-1].copy(), "n_boot": 5}
    with pytest.raises(ValueError, match=match):
        S.agreement_with_ci(**{**args, **kwargs})


# ---------------------------------------------------------------------------------------------
# paired_difference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stat", S.STATISTICS)
def test_paired_difference_with_itself_is_zero(rng, stat):
    a, b = correlated(rng, 70)
    r = S.paired_difference(a, b, a, b, stat=stat, n_boot=B)
    assert r["difference"] == {"value": 0.0, "ci": [0.0, 0.0], "n_undefined": 0}
    assert r["pair"] == r["reference"]


@pytest.mark.parametrize("stat", S.STATISTICS)
def test_paired_difference_matches_reference(rng, stat):
    a, b = correlated(rng, 60, 0.5)
    c, d = correlated(rng, 60, 2.0)
    r = S.paired_difference(a, b, c, d, stat=stat, top=0.2, n_boot=B, seed=4)
    ref_ab = reference_boot(a, b, seed=4, top=0.2)[stat]
    ref_cd = reference_boot(c, d, seed=4, top=0.2)[stat]
    pt_ab, pt_cd = confusing_agreement(a, b, top=0.2)[stat], confusing_agreement(c, d, top=0.2)[stat]
    assert r["difference"]["value"] == pt_ab - pt_cd
    np.testing.assert_allclose(r["difference"]["ci"], percentile_ci(ref_ab - ref_cd), rtol=0, atol=1e-12)
    # the pair and the reference are what agreement_with_ci reports with the same seed
    assert r["pair"] == S.agreement_with_ci(a, b, top=0.2, n_boot=B, seed=4)[stat]
    assert r["reference"] == S.agreement_with_ci(c, d, top=0.2, n_boot=B, seed=4)[stat]
    assert (r["stat"], r["n"], r["k"], r["n_boot"], r["seed"]) == (stat, 60, 12, B, 4)


def test_paired_difference_ci_reflects_pairing(rng):
    # the reference pair is the same pair up to a tiny perturbation: on every resample both statistics
    # move together, so the paired CI of the difference is far narrower than either pair's own CI
    a, b = correlated(rng, 100)
    c, d = a + 0.01 * rng.normal(size=100), b + 0.01 * rng.normal(size=100)
    r = S.paired_difference(a, b, c, d, stat="pearson", n_boot=B)
    width_diff = r["difference"]["ci"][1] - r["difference"]["ci"][0]
    assert width_diff < 0.1 * (r["pair"]["ci"][1] - r["pair"]["ci"][0])
    assert r["difference"]["ci"][0] <= r["difference"]["value"] <= r["difference"]["ci"][1]


def test_paired_difference_nan_and_errors(rng):
    a, b = correlated(rng, 20)
    c, d = correlated(rng, 20)
    d[0] = np.nan
    with pytest.raises(ValueError, match="eta_d: contains NaN"):
        S.paired_difference(a, b, c, d, n_boot=5)
    r = S.paired_difference(a, b, c, d, n_boot=5, drop_nan=True)
    assert (r["n"], r["n_dropped"]) == (19, 1)
    with pytest.raises(ValueError, match="stat: got 'kendall'"):
        S.paired_difference(a, b, c, c, stat="kendall")
    with pytest.raises(ValueError, match="eta_a has 20 samples but eta_c has 19"):
        S.paired_difference(a, b, c[:19], d[:19])
    with pytest.raises(ValueError, match="level"):
        S.paired_difference(a, b, c, c, level=1.5)


# ---------------------------------------------------------------------------------------------
# bootstrap_ci, over_seeds
# ---------------------------------------------------------------------------------------------


def test_bootstrap_ci_of_the_mean(rng):
    x = rng.normal(loc=2.0, size=100)
    r = S.bootstrap_ci([x], np.mean, n_boot=B, seed=9)
    idx = np.random.default_rng(9).integers(0, 100, size=(B, 100))
    np.testing.assert_allclose(r["ci"], np.quantile(x[idx].mean(axis=1), [0.025, 0.975]), rtol=0, atol=1e-12)
    assert r["value"] == pytest.approx(x.mean()) and r["n"] == 100
    # the standard error of the mean is 0.1, so the 95 % interval is about 0.4 wide
    assert 0.25 < r["ci"][1] - r["ci"][0] < 0.55


def test_bootstrap_ci_errors():
    x = np.arange(5.0)
    with pytest.raises(ValueError, match="first-axis lengths"):
        S.bootstrap_ci((x, x[:4]), lambda u, v: 0.0)
    with pytest.raises(ValueError, match="non-empty sequence"):
        S.bootstrap_ci((), np.mean)
    with pytest.raises(ValueError, match="real number"):
        S.bootstrap_ci((x,), lambda u: u, n_boot=3)
    with pytest.raises(ValueError, match="level"):
        S.bootstrap_ci((x,), np.mean, level=-0.1)


def test_over_seeds():
    r = S.over_seeds([1.0, 2.0, 3.0])
    assert r == {"mean": 2.0, "sd": 1.0, "n": 3, "values": [1.0, 2.0, 3.0]}
    r = S.over_seeds(np.array([0.25, 0.5]))
    assert r["sd"] == pytest.approx(np.std([0.25, 0.5], ddof=1)) and type(r["values"][0]) is float
    one = S.over_seeds([0.7])
    assert one["mean"] == 0.7 and one["n"] == 1 and math.isnan(one["sd"])
    for bad, match in (([], "non-empty"), ([[1.0, 2.0]], "1-D"), ([1.0, np.nan], "NaN"), (["x"], "numbers")):
        with pytest.raises(ValueError, match=match):
            S.over_seeds(bad)
