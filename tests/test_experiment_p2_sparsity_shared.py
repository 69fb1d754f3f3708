"""``sparsity`` (P2 Fig. 2) and ``shared-by-order`` (P2 Fig. 4) end to end on one micro config and one store:
schema, every statistic against a direct numpy computation from the stored interactions, the chance floor on
different samples, the report after a JSON round trip, the runner, and the shipped configs."""

import dataclasses
import json
import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr

from interprim import Interactions
from interprim.experiments import browser, load_config, p2, register, run_experiment
from interprim.experiments import shared_by_order as sb
from interprim.experiments import sparsity as sp
from interprim.experiments import transferability as tr
from interprim.experiments.tasks import Context

MICRO = dict(seeds=[0], epochs=1, samples=6, n=4)
N = MICRO["n"]
SINGLES = [1 << i for i in range(N)]
ORDER = np.array([bin(t).count("1") for t in range(2**N)])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Context(tmp_path_factory.mktemp("store"), progress=False).store


def _run(module, out, store):
    ctx = Context(out, store=store, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ADMM optimum may stop at max_iter on a few games
        return ctx, module.run(module.Config(**MICRO), ctx)


@pytest.fixture(scope="module")
def sparse(tmp_path_factory, store):
    return _run(sp, tmp_path_factory.mktemp("sparsity"), store)


@pytest.fixture(scope="module")
def shared(tmp_path_factory, store, sparse):
    return _run(sb, tmp_path_factory.mktemp("shared"), store)


@pytest.fixture(scope="module")
def found(sparse):
    ctx, _ = sparse
    computed = ctx.computed
    out = p2.extract(ctx, p2.Config(**MICRO), 0)
    assert ctx.computed == computed  # read back from the store, not recomputed
    return out


def _merged(r):
    """(i_and, i_or) with the OR singletons added to the AND singletons (SPEC §4)."""
    a, o = np.array(r.i_and, dtype=float), np.array(r.i_or, dtype=float)
    a[:, SINGLES] += o[:, SINGLES]
    o[:, SINGLES] = 0
    return a, o


def _strengths(r):
    """Per sample, the strengths of the sparsity curve: |I_and(T)|, T ≠ ∅, and |I_or(T)|, |T| >= 2."""
    a, o = _merged(r)
    keep = [t for t in range(1, 2**N) if t not in SINGLES]
    return np.concatenate((np.abs(a[:, 1:]), np.abs(o[:, keep])), axis=1)


def _tau(v):
    return 0.02 * np.mean(np.abs(v[:, -1] - v[:, 0]))


def _check(entry, values, model):
    values = np.asarray(values, dtype=float)
    assert entry["mean"][model] == pytest.approx(np.mean(values), rel=1e-12, abs=1e-12)
    assert entry["sd"][model] == pytest.approx(np.std(values, ddof=1), rel=1e-9, abs=1e-12)
    assert entry["n"][model] == len(values)


# ---------------------------------------------------------------------------------------------
# sparsity
# ---------------------------------------------------------------------------------------------


def test_sparsity_schema(sparse):
    _, results = sparse
    (seed,) = results["seeds"]
    assert results["archs"] == ["lenet", "mlp"] and len(results["samples"]) == 6
    browser.validate(results["browser"])
    assert [(s["models"], len(s["samples"])) for s in results["browser"]] == [(["lenet", "mlp"], 6)] * 2
    assert results["pool"] == 2 * 15 - 4 and results["length"] == 6 * results["pool"] and results["mass"] == 0.9
    ranks = results["ranks"]
    assert ranks[0] == 1 and ranks[-1] == results["length"] and ranks == sorted(set(ranks))
    assert set(seed["curves"]) == set(seed["statistics"]) == set(results["over_seeds"]) == set(p2.METHODS)
    for method, stats in seed["statistics"].items():
        assert set(stats) == set(sp.STATISTICS) - ({"l1_ratio"} if method == p2.TRADITIONAL else set())
        curves = np.asarray(seed["curves"][method])
        assert curves.shape == (2, len(ranks)) and np.all(np.diff(curves, axis=1) <= 0) and np.all(curves <= 1)
    # each model's curves are divided by the largest strength among them
    assert np.max([np.asarray(c)[:, 0] for c in seed["curves"].values()], axis=0) == pytest.approx([1, 1])
    assert seed["gaps"]["traditional-lp"] < 1e-6 and seed["gaps"]["generalizable"] < 1e-6


def test_sparsity_statistics_equal_a_direct_computation(sparse, found):
    _, results = sparse
    (seed,) = results["seeds"]
    pooled = {method: [np.sort(_strengths(r).ravel())[::-1] for r in rs] for method, rs in found.methods.items()}
    scale = [max(pooled[m][j][0] for m in pooled) for j in range(2)]
    assert seed["scale"] == pytest.approx(scale, rel=1e-12)
    ranks = np.asarray(results["ranks"])
    for j in range(2):
        tau = _tau(found.values[j])
        assert seed["tau"][j] == pytest.approx(tau, rel=1e-12)
        lp = found.methods[p2.TRADITIONAL][j]
        l1_lp = np.abs(lp.i_and[:, 1:]).sum(1) + np.abs(lp.i_or[:, 1:]).sum(1)
        for method in ("generalizable", "traditional-lp", "harsanyi"):
            r = found.methods[method][j]
            stats = seed["statistics"][method]
            l1 = np.abs(r.i_and[:, 1:]).sum(1) + np.abs(r.i_or[:, 1:]).sum(1)
            _check(stats["l1"], l1, j)
            a, o = _merged(r)
            _check(stats["salient"], (np.abs(a[:, 1:]) > tau).sum(1) + (np.abs(o[:, 1:]) > tau).sum(1), j)
            counts = []
            for s in _strengths(r):
                cum = np.cumsum(np.sort(s)[::-1])
                counts.append(np.argmax(cum >= 0.9 * cum[-1]) + 1)
            _check(stats["mass"], counts, j)
            if method != p2.TRADITIONAL:
                _check(stats["l1_ratio"], l1 / l1_lp, j)
            if method == "generalizable":
                # the joint problem has each model's constraints: its L1 norm is at least the LP's minimum
                assert np.all(l1 >= l1_lp * (1 - 1e-7))
            np.testing.assert_allclose(seed["curves"][method][j], pooled[method][j][ranks - 1] / scale[j],
                                       rtol=1e-12)
    over = results["over_seeds"]["generalizable"]["l1_ratio"]
    assert over["mean"] == pytest.approx(seed["statistics"]["generalizable"]["l1_ratio"]["mean"])
    assert over["n"] == [1, 1]


def test_mass_counts_and_curve_ranks():
    i_and = np.zeros((2, 4))
    i_and[0, 1:] = [5, -3, 1]
    i_or = np.zeros((2, 4))
    i_or[0, 3] = 1  # strengths 5, 3, 1, 1: 80 % of 10 in the top 2, 90 % in the top 3
    r = Interactions(i_and=i_and, i_or=i_or, gamma=np.zeros((2, 4)), noise=np.zeros((2, 4)))
    np.testing.assert_array_equal(sp.mass_counts([r, r], 0.8), [[2, np.nan]] * 2)
    np.testing.assert_array_equal(sp.mass_counts([r], 1.0), [[4, np.nan]])
    ranks = sp.curve_ranks(10_000, 50)
    assert ranks[0] == 1 and ranks[-1] == 10_000 and len(ranks) <= 50 and np.all(np.diff(ranks) > 0)
    np.testing.assert_array_equal(sp.curve_ranks(5), [1, 2, 3, 4, 5])


# ---------------------------------------------------------------------------------------------
# shared-by-order
# ---------------------------------------------------------------------------------------------


def _shared_by_hand(results, values, shift):
    """(r_pos, r_neg) ``(2, n)`` of P2 Fig. 4 by hand: model j on sample i + j·shift, τ_j per model."""
    merged = [_merged(r) for r in results]
    samples = len(values[0])
    rows = [(np.arange(samples) + j * shift) % samples for j in range(2)]
    a = [merged[j][0][rows[j]] for j in range(2)]
    o = [merged[j][1][rows[j]] for j in range(2)]
    sal_a, sal_o = [], []
    for j in range(2):
        tau = _tau(values[j])
        sa, so = np.abs(a[j]) > tau, np.abs(o[j]) > tau
        sa[:, 0] = so[:, 0] = False
        so[:, SINGLES] = False
        sal_a.append(sa)
        sal_o.append(so)
    both_a, both_o = sal_a[0] & sal_a[1], sal_o[0] & sal_o[1]
    out = np.full((2, 2, N), np.nan)
    for j in range(2):
        for si, part in enumerate((lambda x: np.maximum(x, 0), lambda x: np.maximum(-x, 0))):
            for k in range(1, N + 1):
                at = ORDER == k
                num = (part(a[j]) * both_a)[:, at].sum() + (part(o[j]) * both_o)[:, at].sum()
                den = (part(a[j]) * sal_a[j])[:, at].sum() + (part(o[j]) * sal_o[j])[:, at].sum()
                out[si, j, k - 1] = num / den if den else np.nan
    return out


def _trend(x):
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0:
        return np.nan
    return spearmanr(np.arange(1, N + 1)[ok], x[ok]).statistic


def test_shared_by_order_schema(shared):
    _, results = shared
    (seed,) = results["seeds"]
    assert results["orders"] == [1, 2, 3, 4] and set(seed["statistics"]) == set(p2.METHODS)
    browser.validate(results["browser"])
    assert [(s["models"], len(s["samples"])) for s in results["browser"]] == [(["lenet", "mlp"], 6)] * 2
    for by_sign in results["over_seeds"].values():
        assert set(by_sign) == set(sb.SIGNS)
        for entry in by_sign.values():
            assert set(entry) == {*sb.SERIES, "trend"}
            for key in sb.SERIES:
                assert np.shape(entry[key]["mean"]) == (2, N) and np.shape(entry["trend"][key]["mean"]) == (2,)
    ratio = np.array([seed["statistics"][m][s]["ratio"] for m in p2.METHODS for s in sb.SIGNS], dtype=float)
    assert np.all((ratio[np.isfinite(ratio)] >= 0) & (ratio[np.isfinite(ratio)] <= 1 + 1e-12))


def test_shared_ratio_floor_kappa_and_trend_equal_a_direct_computation(shared, found):
    _, results = shared
    stats = results["seeds"][0]["statistics"]
    for method in ("generalizable", "traditional-lp", "harsanyi"):
        same = _shared_by_hand(found.methods[method], found.values, shift=0)
        floor = _shared_by_hand(found.methods[method], found.values, shift=1)
        # the floor pairs model 1 with the next sample: it is not the same statistic
        assert not np.allclose(np.nan_to_num(same, nan=-1), np.nan_to_num(floor, nan=-1))
        for si, sign in enumerate(sb.SIGNS):
            got = stats[method][sign]
            np.testing.assert_allclose(np.asarray(got["ratio"], dtype=float), same[si], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(np.asarray(got["floor"], dtype=float), floor[si], rtol=1e-12, atol=1e-12)
            with np.errstate(divide="ignore", invalid="ignore"):
                kappa = np.where(floor[si] < 1, (same[si] - floor[si]) / (1 - floor[si]), np.nan)
            np.testing.assert_allclose(np.asarray(got["kappa"], dtype=float), kappa, rtol=1e-9, atol=1e-12)
            for key, series in (("ratio", same[si]), ("floor", floor[si]), ("kappa", kappa)):
                expected = [_trend(row) for row in series]
                np.testing.assert_allclose(np.asarray(got["trend"][key], dtype=float), expected, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the report, the runner and the configs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["sparse", "shared"])
def test_figures_and_summary_after_a_json_round_trip(which, request, tmp_path):
    _, results = request.getfixturevalue(which)
    module = sp if which == "sparse" else sb
    read = json.loads(json.dumps(results, default=float))
    paths = module.figures(read, tmp_path)
    assert sorted(p.name for p in paths) == [f"{module.NAME}.png", f"{module.NAME}.svg"]
    assert all(p.stat().st_size > 0 for p in paths)
    text = module.summary(read)
    assert not text.startswith("# ") and "## lenet" in text and "## mlp" in text
    if module is sp:
        assert "Sparsity cost of sharing" in text and "90 % mass" in text
    else:
        assert "Spearman ρ of the order k" in text and "## lenet, r_neg" in text


def test_the_runner_reuses_the_store_and_writes_the_report(tmp_path, store, sparse, shared):
    overrides = [f"{k}={json.dumps(v)}" for k, v in MICRO.items()]
    for module in (sp, sb):
        register(module)
        out = tmp_path / module.NAME
        read = run_experiment(module.NAME, "cpu", overrides, out=out, store=store, progress=False)
        assert read["tasks"]["computed"] == 0  # the fixtures trained and extracted everything already
        assert read["results"]["samples"] == sparse[1]["samples"]
        assert (out / "results.json").is_file() and (out / "summary.md").read_text().startswith(f"# {module.NAME}: ")
        assert sorted(p.name for p in (out / "figures").iterdir()) == [f"{module.NAME}.png", f"{module.NAME}.svg"]


@pytest.mark.parametrize("source", ["cpu", "paper"])
def test_shipped_configs_share_the_models_and_extractions_of_transferability(source):
    reference = dataclasses.asdict(load_config(tr.Config, source, name=tr.NAME))
    del reference["ks"]
    sparsity = dataclasses.asdict(load_config(sp.Config, source, name=sp.NAME))
    assert sparsity.pop("mass") == 0.9 and sparsity == reference
    assert dataclasses.asdict(load_config(sb.Config, source, name=sb.NAME)) == reference


def test_bad_configs_raise_clear_errors():
    for mass in (0, 1.5, True):
        with pytest.raises(ValueError, match="mass must be in"):
            sp.Config(mass=mass)
    with pytest.raises(ValueError, match="at least two models"):
        sb.Config(archs=["lenet"])
    with pytest.raises(ValueError, match="samples must be >= 3"):
        sb.Config(samples=2)


@pytest.mark.slow
@pytest.mark.parametrize("module", [sp, sb])
def test_the_cpu_config_runs_end_to_end(tmp_path, module):
    register(module)
    read = run_experiment(module.NAME, "cpu", out=tmp_path / "run", progress=False)
    results = read["results"]
    assert len(results["seeds"]) == 3 and results["config"]["samples"] >= 100
    assert (tmp_path / "run" / "summary.md").is_file()
    assert sorted(p.name for p in (tmp_path / "run" / "figures").iterdir()) == [f"{module.NAME}.png",
                                                                                f"{module.NAME}.svg"]
