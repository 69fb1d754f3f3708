"""The P2 experiments ``matching`` (Fig. 6, 13) and ``alpha`` (Fig. 8) end to end on a micro config: universal
matching, the errors against a hand-written reconstruction over every subset, the L1 norms and Eq. 6 by hand,
the documented ends α = 0 and α = 1, the figures and summaries after a JSON round trip, the runner."""

import json
import warnings

import numpy as np
import pytest

from interprim import generalizable_and_or, metrics
from interprim.experiments import alpha as al
from interprim.experiments import matching as mt
from interprim.experiments import browser, p2, register, run_experiment
from interprim.experiments.tasks import Context

MICRO = dict(seeds=[0], epochs=1, samples=6, n=4)
MICRO_ALPHA = dict(MICRO, ks=[1, 2, 5, 10])
OVERRIDES = ["seeds=[0]", "epochs=1", "samples=6", "n=4"]
N = 4


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """One store for the module: the models and games are trained and built once."""
    return Context(tmp_path_factory.mktemp("p2ma"), progress=False)


@pytest.fixture(scope="module")
def matched(ctx):
    return mt.run(mt.Config(**MICRO), ctx)


@pytest.fixture(scope="module")
def ablated(ctx):
    return al.run(al.Config(**MICRO_ALPHA), ctx)


# ---------------------------------------------------------------------------------------------
# matching
# ---------------------------------------------------------------------------------------------


def _hand_h(a, o):
    """h(S) = Σ_{T⊆S} I_and(T) + Σ_{T∩S≠∅, T≠∅} I_or(T) for every subset S, by loops over bitmasks."""
    size = len(a)
    return np.array([sum(a[t] for t in range(size) if t & ~s == 0) + sum(o[t] for t in range(1, size) if t & s)
                     for s in range(size)])


def _hand_salient(a, o, tau):
    """OR singletons merged into AND, every |I(T)| <= τ set to 0, the bias kept."""
    a, o = a.copy(), o.copy()
    for i in range(N):
        a[1 << i] += o[1 << i]
        o[1 << i] = 0.0
    keep_a, keep_o = np.abs(a) > tau, np.abs(o) > tau
    keep_a[0] = True
    return a * keep_a, o * keep_o


def test_matching_errors_equal_a_hand_written_reconstruction(ctx, matched):
    found = p2.extract(ctx, mt.Config(**MICRO), 0, methods=("generalizable", "traditional-lp", "harsanyi"))
    stats = matched["seeds"][0]["statistics"]
    for method in ("generalizable", "traditional-lp", "harsanyi"):
        for j, (v, r) in enumerate(zip(found.values, found.methods[method])):
            scale = np.abs(v[:, -1] - v[:, 0])
            tau = 0.02 * scale.mean()
            a_all, o_all, q = np.asarray(r.i_and), np.asarray(r.i_or), np.asarray(r.noise)
            for selection in mt.SELECTIONS:
                hand = {("v+q", "max"): [], ("v+q", "mean"): [], ("v", "max"): [], ("v", "mean"): []}
                for b in range(len(v)):
                    a, o = (a_all[b], o_all[b]) if selection == "all" else _hand_salient(a_all[b], o_all[b], tau)
                    h = _hand_h(a, o)
                    for target, goal in (("v+q", v[b] + q[b]), ("v", v[b])):
                        hand[target, "max"].append(np.abs(h - goal).max() / scale[b])
                        hand[target, "mean"].append(np.abs(h - goal).mean() / scale[b])
                for (target, error), xs in hand.items():
                    got = stats[method][selection][target][error]
                    assert got["mean"][j] == pytest.approx(np.mean(xs), rel=1e-9, abs=1e-13)
                    assert got["worst"][j] == pytest.approx(np.max(xs), rel=1e-9, abs=1e-13)
                    assert got["n"][j] == len(xs)
        # the max error equals the library's matching_error (all, and salient with the SPEC τ per model)
        results, values = found.methods[method], np.stack(found.values)
        scale = np.abs(values[..., -1] - values[..., 0])
        for selection, threshold in (("all", None), ("salient", "spec")):
            for target, noise in (("v+q", np.stack([r.noise for r in results])), ("v", None)):
                direct = metrics.matching_error(results, v=values, noise=noise, threshold=threshold) / scale
                np.testing.assert_allclose(stats[method][selection][target]["max"]["mean"], direct.mean(1),
                                           rtol=1e-9, atol=1e-14)
        mask_and, mask_or = metrics.salient_mask(results)
        np.testing.assert_allclose(stats[method]["salient_count"]["mean"], (mask_and.sum(-1) + mask_or.sum(-1)).mean(1))


def test_universal_matching_holds_with_all_interactions_and_the_noise(matched):
    noise = matched["config"]["noise"]
    for s in matched["seeds"]:
        stats = s["statistics"]
        for method in matched["methods"]:
            assert max(stats[method]["all"]["v+q"]["max"]["worst"]) <= 1e-8
            # without the noise term the error is |q|, within its bound ζ = noise·|v(N) − v(∅)|
            assert max(stats[method]["all"]["v"]["max"]["worst"]) <= noise + 1e-9
        assert max(stats["harsanyi"]["all"]["v"]["max"]["worst"]) <= 1e-8  # no noise at all
        assert stats["harsanyi"]["salient"]["v"] == stats["harsanyi"]["salient"]["v+q"]
        for method in ("generalizable", "traditional-lp"):
            assert max(stats[method]["all"]["v"]["max"]["mean"]) > 1e-6  # the noise is used


def test_scatter_holds_the_real_and_reconstructed_outputs(ctx, matched):
    found = p2.extract(ctx, mt.Config(**MICRO), 0, methods=("generalizable", "traditional-lp", "harsanyi"))
    points = matched["scatter"]
    subsets = np.asarray(points["subsets"])
    assert subsets.shape == (6, 10) and all(len(set(row)) == 10 for row in subsets.tolist())
    rows = np.arange(6)[:, None]
    for j, v in enumerate(found.values):
        np.testing.assert_array_equal(points["v"][j], v[rows, subsets].ravel())
        r = found.methods["generalizable"][j]
        h = _hand_h(np.asarray(r.i_and[2]), np.asarray(r.i_or[2]))
        np.testing.assert_allclose(np.asarray(points["h"]["generalizable"]["all"][j]).reshape(6, 10)[2],
                                   h[subsets[2]], atol=1e-12)


def test_matching_schema_figures_and_summary_after_a_json_round_trip(matched, tmp_path):
    read = json.loads(json.dumps(matched, default=float))
    assert read["methods"] == ["generalizable", "traditional-lp", "harsanyi"]
    browser.validate(read["browser"])
    assert ["generalizable" in s["title"] for s in read["browser"]] == [True, False]
    assert set(read["over_seeds"]) == set(read["methods"])
    for method in read["methods"]:
        for selection in mt.SELECTIONS:
            for target in mt.TARGETS:
                for error in mt.ERRORS:
                    entry = read["over_seeds"][method][selection][target][error]
                    assert set(entry) == {"mean", "sd", "n", "worst"} and np.shape(entry["mean"]) == (2,)
    assert np.shape(read["scatter"]["h"]["traditional-lp"]["salient"]) == (2, 60)
    paths = mt.figures(read, tmp_path)
    assert sorted(p.name for p in paths) == ["matching.png", "matching.svg"]
    text = mt.summary(read)
    assert not text.startswith("# ") and "## all interactions" in text and "Universal matching" in text


# ---------------------------------------------------------------------------------------------
# alpha
# ---------------------------------------------------------------------------------------------


def test_alpha_l1_norms_and_eq6_by_hand(ctx, ablated):
    config = al.Config(**MICRO_ALPHA)
    records = p2.extract(ctx, config, 0, methods=()).records
    before = ctx.computed
    by_alpha, gaps = al.joint(ctx, config, records)
    assert ctx.computed == before  # every α was a keyed task of the run
    stats = ablated["seeds"][0]["statistics"]["generalizable"]
    i = config.alphas.index(0.4)
    (r0, r1) = by_alpha[i]
    for j, r in enumerate((r0, r1)):
        a, o = np.asarray(r.i_and), np.asarray(r.i_or)
        hand = [sum(abs(a[b, t]) + abs(o[b, t]) for t in range(1, 2**N)) for b in range(6)]
        assert stats["l1"]["mean"][i][j] == pytest.approx(np.mean(hand), rel=1e-12)
    # the stored interactions are an optimum of Eq. 6 at α = 0.4: the same objective as a direct solve
    x_and = np.abs(np.stack([r0.i_and, r1.i_and])[..., 1:])
    x_or = np.abs(np.stack([r0.i_or, r1.i_or])[..., 1:])
    eq6 = sum(0.6 * x.max(0).sum(-1) + 0.4 * x.sum(0).sum(-1) for x in (x_and, x_or))
    direct = generalizable_and_or([rec.value["values"] for rec in records], alpha=0.4, solver="lp")
    x_and = np.abs(np.stack([d.i_and for d in direct])[..., 1:])
    x_or = np.abs(np.stack([d.i_or for d in direct])[..., 1:])
    np.testing.assert_allclose(eq6, sum(0.6 * x.max(0).sum(-1) + 0.4 * x.sum(0).sum(-1) for x in (x_and, x_or)),
                               rtol=1e-7)
    assert max(gaps) < 1e-6
    # transferability and its floor at α = 0.4 as the metric gives them
    same = metrics.transferability_curve(by_alpha[i], ks=config.ks)
    floor = metrics.transferability_curve(p2.mismatched(by_alpha[i]), ks=config.ks)
    for ti, t in enumerate(al.TYPES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(stats["s"][t]["mean"][i], np.nanmean(same[ti], -1), equal_nan=True)
            np.testing.assert_allclose(stats["floor"][t]["mean"][i], np.nanmean(floor[ti], -1), equal_nan=True)


def test_alpha_ends_behave_as_documented(ctx, ablated):
    """α = 0 (Eq. 5) has the smallest Σ_T max_i X; α = 1 the smallest total L1 of all α, no smaller than
    the traditional one — per sample, as the LP solves each sample to optimality."""
    config = al.Config(**MICRO_ALPHA)
    by_alpha, _ = al.joint(ctx, config, p2.extract(ctx, config, 0, methods=()).records)
    found = p2.extract(ctx, config, 0, methods=("traditional-lp",))
    raws = [al.raw(results, config.ks) for results in by_alpha]
    total = np.stack([x["l1"].sum(0) for x in raws])  # (A, B)
    l1_max = np.stack([x["l1_max"] for x in raws])
    reference = al.raw(found.methods["traditional-lp"], config.ks)["l1"].sum(0)
    tol = 1e-7 * total.max()
    assert config.alphas[0] == 0.0 and config.alphas[-1] == 1.0
    assert np.all(l1_max[0] <= l1_max + tol)
    assert np.all(total[-1] <= total + tol)
    assert np.all(reference <= total[-1] + tol)
    over = ablated["over_seeds"]["generalizable"]
    assert over["l1_max"]["mean"][0] == pytest.approx(min(over["l1_max"]["mean"]))
    relative = np.asarray(ablated["seeds"][0]["statistics"]["generalizable"]["l1_relative"])
    assert relative.shape == (6, 2) and np.all(np.isfinite(relative) & (relative > 0))


def test_alpha_schema_figures_and_summary_after_a_json_round_trip(ablated, tmp_path):
    read = json.loads(json.dumps(ablated, default=float))
    assert read["alphas"] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] and read["k_plot"] == 10
    browser.validate(read["browser"])  # the α of the alphas nearest the config's 0.1 (0.0 and 0.2: the first)
    assert ["generalizable extraction (P2 Eq. 6, α = 0," in s["title"] for s in read["browser"]] == [True, False]
    gen, ref = read["over_seeds"]["generalizable"], read["over_seeds"]["traditional-lp"]
    assert np.shape(gen["l1"]["mean"]) == (6, 2) and np.shape(gen["l1_max"]["mean"]) == (6,)
    assert np.shape(gen["salient"]["mean"]) == (6, 2) and np.shape(gen["l1_relative"]["mean"]) == (6, 2)
    for t in al.TYPES:
        assert np.shape(gen["s"][t]["mean"]) == (6, 4, 2) and np.shape(gen["kappa"][t]["mean"]) == (6, 4, 2)
        assert np.shape(ref["s"][t]["mean"]) == (4, 2) and np.shape(ref["floor"][t]["sd"]) == (4, 2)
    assert len(read["seeds"][0]["gaps"]["alphas"]) == 6
    paths = al.figures(read, tmp_path)
    assert sorted(p.name for p in paths) == ["alpha.png", "alpha.svg"]
    text = al.summary(read)
    assert not text.startswith("# ") and "## lenet" in text and "| traditional-lp |" in text


# ---------------------------------------------------------------------------------------------
# both
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module, extra", [(mt, []), (al, ["ks=[1,2,5,10]"])])
def test_runner_writes_results_summary_and_figures(module, extra, ctx, tmp_path):
    register(module)
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = run_experiment(module.NAME, "cpu", OVERRIDES + extra, out=out, store=ctx.store, progress=False)
    assert done["experiment"] == module.NAME and done["results"]["config"]["n"] == 4
    assert json.loads((out / "results.json").read_text())["results"]["archs"] == ["lenet", "mlp"]
    assert (out / "summary.md").is_file()
    assert (out / "figures" / f"{module.NAME}.png").is_file() and (out / "figures" / f"{module.NAME}.svg").is_file()


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="methods must be"):
        mt.Config(methods=["generalizable", "shapley"])
    with pytest.raises(ValueError, match="masks must be"):
        mt.Config(n=3, masks=9)
    with pytest.raises(ValueError, match="alphas must be increasing"):
        al.Config(alphas=[0.5, 0.2])
    with pytest.raises(ValueError, match="alphas must be increasing"):
        al.Config(alphas=[0.0, 1.5])
    with pytest.raises(ValueError, match="k_plot must be one of"):
        al.Config(ks=[1, 2], k_plot=10)
    with pytest.raises(ValueError, match="ks must be increasing"):
        al.Config(n=3, ks=[1, 20], k_plot=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["matching", "alpha"])
def test_the_cpu_config_runs_end_to_end(name, tmp_path):
    register(mt)
    register(al)
    out = run_experiment(name, "cpu", out=tmp_path / "run", progress=False)
    results = out["results"]
    assert len(results["seeds"]) == 3 and results["config"]["samples"] == 100
    if name == "matching":
        for method in results["methods"]:
            assert max(results["over_seeds"][method]["all"]["v+q"]["max"]["worst"]) <= 1e-8
    else:
        assert results["over_seeds"]["generalizable"]["l1"]["n"][0] == [3, 3]
    assert (tmp_path / "run" / "summary.md").is_file()
