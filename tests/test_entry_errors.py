"""Clean errors at the entry points, one test per fix (issue "A new user's path", item 4).

The broad sweep over every public entry point is ``tests/test_fuzz.py``; here each fix is pinned
down with the exact behaviour: the message, that valid input of the same kinds still works, and
(for the command line) that flags are checked before any training starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import interprim as ip
from interprim import Interactions
from interprim.cli import DEMO_MAX_PLAYERS, build_parser, main
from interprim.data import ImageData, load_sst2
from interprim.games import FunctionGame, ImageGame, TabularGame, image_values, patch_grid
from interprim.nn import bert_tiny, build
from interprim.store import Store
from interprim.train import TrainConfig, train

RNG = np.random.default_rng(0)
V = RNG.normal(size=(3, 16))  # 3 games of n = 4 players
CUDA = torch.cuda.is_available()


# ---------------------------------------------------------------------------------------------
# 1. Interactions.load / from_dict (and Store.get, which shares the reader)
# ---------------------------------------------------------------------------------------------


def saved(tmp_path: Path) -> Path:
    return ip.sparse_and_or(V, tol=1e-2).save(tmp_path / "good.npz")


@pytest.mark.parametrize(
    "write, reason",
    [
        (lambda p, good: p.write_bytes(b""), "the file is empty"),
        (lambda p, good: p.write_bytes(good.read_bytes()[:800]), "BadZipFile"),
        (lambda p, good: p.write_bytes(RNG.bytes(300)), "not an .npz archive"),
        (lambda p, good: p.write_bytes(np.lib.format.magic(1, 0) + b"{}"), "a .npy file"),
        (lambda p, good: np.savez(p, a=np.zeros(2)), "no 'header' entry"),
        (lambda p, good: np.savez(p, header=np.array("{oops")), "'header' entry is not JSON"),
        (lambda p, good: np.savez(p, header=np.array(json.dumps({"format": "other/1"}))), "format is 'other/1'"),
        (lambda p, good: np.savez(p, header=np.array(json.dumps(["format"]))), "JSON list, not an object"),
    ],
    ids=["empty", "truncated", "random-bytes", "npy", "no-header", "header-not-json", "foreign-json", "json-list"],
)
def test_load_says_what_is_wrong_with_the_file(tmp_path, write, reason):
    good = saved(tmp_path)
    path = tmp_path / "bad.npz"
    write(path, good)
    with pytest.raises(ValueError) as info:
        Interactions.load(path)
    message = str(info.value)
    assert message.startswith(f"path={str(path)!r} is not a file written by Interactions.save (")
    assert reason in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no numpy traceback attached


def test_load_of_a_real_npy_file(tmp_path):
    np.save(tmp_path / "v.npy", V)
    with pytest.raises(ValueError, match=r"it is a \.npy file \(a single array\), not an \.npz archive"):
        Interactions.load(tmp_path / "v.npy")


def test_load_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Interactions.load(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="is not a file"):
        Interactions.load(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or a path, got NoneType"):
        Interactions.load(None)


def test_load_round_trip_still_exact(tmp_path):
    r = ip.sparse_and_or(V, tol=1e-2)
    back = Interactions.load(r.save(tmp_path / "r.npz"))
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name))
    np.testing.assert_array_equal(back.meta["gap"], r.meta["gap"])


def test_from_dict_errors():
    good = Interactions(np.arange(4.0), np.zeros(4), meta={"w": np.ones(2)}).to_dict()
    with pytest.raises(TypeError, match="d must be a dict written by Interactions.to_dict, got list"):
        Interactions.from_dict([good])
    for key in ("i_or", "objective", "players"):
        with pytest.raises(ValueError, match=rf"d is not a complete Interactions record: it has no \['{key}'\]"):
            Interactions.from_dict({k: v for k, v in good.items() if k != key})
    with pytest.raises(ValueError, match=r"d\['gamma'\] cannot be read as an array of numbers"):
        Interactions.from_dict({**good, "gamma": ["a", "b", "c", "d"]})
    with pytest.raises(ValueError, match=r"d\['meta'\] must be a dict, got list"):
        Interactions.from_dict({**good, "meta": [1]})
    back = Interactions.from_dict(json.loads(json.dumps(good)))
    assert isinstance(back.meta["w"], np.ndarray)


def test_store_get_uses_the_same_reader(tmp_path):
    store = Store(tmp_path)
    store.put("ok", {"x": np.arange(3)}, info={"a": 1})
    arrays, info = store.get("ok")
    np.testing.assert_array_equal(arrays["x"], np.arange(3))
    assert info == {"a": 1}
    np.save(tmp_path / "v.npy", V)
    (tmp_path / "v.npy").replace(tmp_path / "npy.npz")
    with pytest.raises(ValueError, match=r"npy\.npz is not a readable interprim\.store/1 record \(it is a \.npy file"):
        store.get("npy")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"\(the file is empty\); it was not written by Store\.put: delete it"):
        store.get("empty")
    ip.harsanyi(V).save(tmp_path / "interactions.npz")
    with pytest.raises(ValueError, match="it has no '__header__' entry"):
        store.get("interactions")


# ---------------------------------------------------------------------------------------------
# 2. The command line
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def no_work(monkeypatch):
    """Make the demo fail loudly if it loads data or trains: flags must be checked before."""
    import interprim.data
    import interprim.train

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the demo did work before it checked its flags")

    monkeypatch.setattr(interprim.train, "train", forbidden)
    monkeypatch.setattr(interprim.data, "load_mnist10k", forbidden)


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--players", "20", f"the demo explains at most {DEMO_MAX_PLAYERS} players"),
        ("--players", "26", f"the demo explains at most {DEMO_MAX_PLAYERS} players"),
        ("--tol", "0", "expected a relative gap in (0, 1)"),
        ("--tol", "5", "expected a relative gap in (0, 1)"),
        ("--tol", "nan", "expected a relative gap in (0, 1)"),
        ("--seed", "-1", "expected an integer >= 0"),
    ],
)
def test_demo_flags_checked_before_training(no_work, capsys, flag, value, expected):
    assert exit_code(["demo", flag, value]) == 2
    err = capsys.readouterr().err
    assert f"error: argument {flag}: {expected}" in err
    assert "Traceback" not in err


def test_demo_accepts_the_largest_player_count():
    assert build_parser().parse_args(["demo", "--players", str(DEMO_MAX_PLAYERS)]).players == DEMO_MAX_PLAYERS
    assert build_parser().parse_args(["demo", "--tol", "0.05", "--seed", "7"]).tol == 0.05


@pytest.mark.parametrize(
    "make", [lambda d: d / "file.txt", lambda d: Path("/proc/interprim-demo")], ids=["file", "unwritable"]
)
def test_demo_out_dir_checked_before_training(no_work, tmp_path, capsys, make):
    out = make(tmp_path)
    if out.parent == tmp_path:
        out.write_text("not a folder")
    assert exit_code(["demo", "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --out-dir {out}: ") and "\n" not in err


def test_demo_out_dir_is_created_when_missing(no_work, tmp_path):
    out = tmp_path / "a" / "b"
    with pytest.raises(AssertionError, match="did work before"):  # the checks pass; then it loads the data
        main(["demo", "--out-dir", str(out)])
    assert out.is_dir() and list(out.iterdir()) == []


def test_toy_demo_into_a_closed_pipe_is_quiet():
    """``interprim demo --toy | head``: the reader goes away; no BrokenPipeError traceback."""
    cmd = [sys.executable, "-c", "import sys; from interprim.cli import main; sys.exit(main())", "demo", "--toy"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the command writes anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert err == ""


def test_toy_demo_into_head(tmp_path):
    proc = subprocess.run(
        f"{sys.executable} -c 'import sys; from interprim.cli import main; sys.exit(main())' demo --toy --top 300 | head -n 2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.startswith("interprim ") and len(proc.stdout.splitlines()) == 2
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_extract_npz_is_a_wrong_file_kind(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", v=np.arange(8.0))
    assert main(["extract", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'x.npz'} is an .npz archive")
    assert "Interactions.load" in err


@pytest.mark.parametrize("out", [".", "{tmp}", "/"])
def test_extract_out_directory(tmp_path, capsys, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "v.npy", np.arange(8.0))
    out = out.replace("{tmp}", str(tmp_path))
    assert main(["extract", str(tmp_path / "v.npy"), "--out", out]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: --out {out} is a folder; pass a file name")
    assert captured.out == ""  # refused before computing anything
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy"]


def test_extract_binary_and_truncated_files(tmp_path, capsys):
    (tmp_path / "b.bin").write_bytes(bytes(range(256)))
    assert main(["extract", str(tmp_path / "b.bin")]) == 2
    assert "is neither a .npy file nor a text file of numbers" in capsys.readouterr().err
    np.save(tmp_path / "v.npy", np.arange(64.0))
    (tmp_path / "t.npy").write_bytes((tmp_path / "v.npy").read_bytes()[:200])
    assert main(["extract", str(tmp_path / "t.npy")]) == 2
    assert f"error: {tmp_path / 't.npy'} is not a readable .npy file of numbers" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# 3. NaN, inf, complex values from a model; NaN in data
# ---------------------------------------------------------------------------------------------


def nan_where_first_absent(masks: torch.Tensor) -> np.ndarray:
    out = masks.sum(1).double().numpy()
    out[~masks[:, 0].numpy()] = np.nan
    return out


def test_function_game_nan():
    with pytest.raises(ValueError, match=r"^FunctionGame: the output of fn contains NaN for 4 of 8 masked inputs; "):
        FunctionGame(nan_where_first_absent, 3).values()


def test_function_game_inf_and_nan_counted_separately():
    def fn(masks: torch.Tensor) -> torch.Tensor:
        out = masks.sum(1).double()
        out[0], out[1], out[2] = np.nan, np.inf, -np.inf
        return out

    with pytest.raises(ValueError, match="contains NaN for 1 and ±inf for 2 of 4 masked inputs"):
        FunctionGame(fn, 2).values()


def test_function_game_masked_array():
    """A masked array's masked entries are missing values: NaN, even where the data underneath is finite."""

    def mask_empty_set(masks: torch.Tensor) -> np.ndarray:
        return np.ma.masked_less(masks.sum(1).double().numpy(), 1)

    def mask_nan(masks: torch.Tensor) -> np.ndarray:
        return np.ma.masked_invalid(nan_where_first_absent(masks))

    def mask_nothing(masks: torch.Tensor) -> np.ndarray:
        return np.ma.masked_array(masks.sum(1).double().numpy())

    with pytest.raises(ValueError, match="contains NaN for 1 of 4 masked inputs"):
        FunctionGame(mask_empty_set, 2).values()
    with pytest.raises(ValueError, match="contains NaN for 2 of 4 masked inputs"):
        FunctionGame(mask_nan, 2).values()
    np.testing.assert_array_equal(FunctionGame(mask_nothing, 2).values().numpy(), [0, 1, 1, 2])


def test_game_inputs_given_as_masked_arrays():
    """A masked entry of an input is a missing value: refused, not read through the mask; no mask is no change."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 2))
    row = np.ma.masked_array([0.5, 1.0, 2.0], mask=[False, True, False])
    groups, base = [[0], [1], [2]], np.zeros(3)
    with pytest.raises(ValueError, match=r"^x: a masked array with 1 masked entries"):
        TabularGame(model, row, groups, baseline=base, target=0)
    whole = np.ma.masked_array([0.5, 1.0, 2.0])
    expected = TabularGame(model, np.array([0.5, 1.0, 2.0]), groups, baseline=base, target=0).values()
    assert torch.equal(TabularGame(model, whole, groups, baseline=base, target=0).values(), expected)
    net = build("lenet", in_channels=1, input_size=28, seed=0)
    image = np.ma.masked_greater(np.zeros((1, 28, 28)) + np.eye(28), 0.5)
    with pytest.raises(ValueError, match=r"^image: a masked array with 28 masked entries"):
        ImageGame(net, image, patch_grid(28, 28, 14), target=0)


def test_function_game_complex():
    with pytest.raises(ValueError, match=r"the output of fn is complex \(torch.complex128\)"):
        FunctionGame(lambda masks: masks.double().sum(1) * (1 + 1j), 2).values()
    with pytest.raises(ValueError, match=r"the output of fn is complex \(torch.complex128\)"):  # a masked array too
        FunctionGame(lambda masks: np.ma.masked_array(masks.double().sum(1).numpy() * 1j), 2).values()


class NanModel(torch.nn.Module):
    """Logits NaN on the inputs whose first feature is exactly 0 (the masked ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1)[:, :3]
        out = self.linear(flat)
        return torch.where(flat[:, :1] == 0, torch.full_like(out, float("nan")), out)


def test_tabular_game_model_nan():
    game = TabularGame(NanModel(), np.array([1.0, 2.0, 3.0]), [[0], [1], [2]], baseline=0.0, target=1)
    with pytest.raises(ValueError, match=r"^TabularGame: the model's output contains NaN for 4 of 8 masked inputs"):
        game.values()


def test_image_values_model_nan():
    model = torch.nn.Sequential(torch.nn.Flatten(), NanModel())
    images = torch.ones(2, 1, 2, 2, dtype=torch.float64)
    players = patch_grid(2, 2, 1)[:3]  # pixel 0 is player 0
    with pytest.raises(ValueError, match=r"the model's output on sample 0 contains NaN for 4 of 8 masked inputs"):
        image_values(model, images, players, targets=[1, 1])


def test_model_with_complex_logits():
    class Complex(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([x.sum(1), -x.sum(1)], 1).to(torch.complex128)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "casting complex values discards the imaginary part"
        with pytest.raises(ValueError, match=r"the model's output is complex \(torch.complex128\)"):
            TabularGame(Complex(), np.array([1.0, 2.0]), [[0], [1]], baseline=0.0)


def test_image_data_refuses_nan():
    images = torch.rand(3, 1, 2, 2)
    images[2, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="images holds NaN or infinite values in 1 of 3 images"):
        ImageData(images, torch.zeros(3, dtype=torch.long), ("a",))


def test_train_refuses_nan_inputs():
    x = torch.zeros(4, 3)
    x[1, 1] = float("inf")
    with pytest.raises(ValueError, match=r"train_data\[0\] \(inputs\) holds NaN or infinite values"):
        train(
            torch.nn.Linear(3, 2),
            (x, torch.zeros(4, dtype=torch.long)),
            None,
            TrainConfig(epochs=1, lr=0.1, batch_size=2),
        )


# ---------------------------------------------------------------------------------------------
# 4. Valid input is accepted: negative strides, numpy scalars
# ---------------------------------------------------------------------------------------------

FLIPPED = V[..., ::-1]  # a view with a negative stride
COPY = np.ascontiguousarray(FLIPPED)


def assert_same_interactions(a: Interactions, b: Interactions) -> None:
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize(
    "solve",
    [
        lambda v: ip.harsanyi(v),
        lambda v: ip.and_or(v),
        lambda v: ip.sparse_and_or(v, tol=1e-2),
        lambda v: ip.sparse_and_or(v, solver="lp"),
        lambda v: ip.generalizable_and_or([v, 2 * v], tol=1e-2)[0],
        lambda v: ip.generalizable_and_or(np.flip(np.stack([v, 2 * v]), axis=-1)[:, :, ::-1][..., ::-1], tol=1e-2)[1],
    ],
    ids=["harsanyi", "and_or", "sparse-admm", "sparse-lp", "generalizable", "generalizable-stacked"],
)
def test_solvers_take_negative_strides(solve):
    assert any(s < 0 for s in FLIPPED.strides)
    assert_same_interactions(solve(FLIPPED), solve(COPY))


@pytest.mark.parametrize(
    "transform",
    [
        ip.and_interactions,
        ip.or_interactions,
        ip.inverse_and,
        ip.inverse_or,
        lambda v: ip.reconstruct(v, v),
        lambda v: ip.split_interactions(v, v),
    ],
    ids=["and_interactions", "or_interactions", "inverse_and", "inverse_or", "reconstruct", "split_interactions"],
)
def test_transforms_take_negative_strides(transform):
    a, b = transform(FLIPPED), transform(COPY)
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_array_equal(x, y)


def test_negative_strides_next_to_torch():
    """A flipped numpy array joins a torch tensor (converted to it) in the transforms and Interactions."""
    t = torch.tensor(COPY)
    i_and, i_or = ip.split_interactions(t, FLIPPED)
    j_and, j_or = ip.split_interactions(t, t)
    torch.testing.assert_close(i_and, j_and)
    torch.testing.assert_close(i_or, j_or)
    r = Interactions(t, FLIPPED, gamma=FLIPPED, noise=np.flip(COPY, -1)[..., ::-1])
    assert torch.equal(r.i_or, t) and torch.equal(r.noise, t)
    gamma = ip.sparse_and_or(COPY, tol=1e-2).gamma
    warm = ip.sparse_and_or(COPY, tol=1e-2, init=np.ascontiguousarray(gamma[..., ::-1])[..., ::-1])
    assert warm.batch_shape == (3,)


def test_games_take_negative_strides():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).double()
    image = np.linspace(0, 1, 16).reshape(1, 4, 4)
    players = patch_grid(4, 4, 2)
    flipped = ImageGame(model, image[..., ::-1], players, baseline=np.zeros((1, 4, 4))[:, ::-1]).values()
    copied = ImageGame(model, image[..., ::-1].copy(), players).values()
    torch.testing.assert_close(flipped, copied, rtol=0, atol=0)
    game = FunctionGame(lambda masks: masks.double().sum(1), 2)
    torch.testing.assert_close(game(np.eye(2, dtype=bool)[::-1]), torch.ones(2, dtype=torch.float64))


NUMPY_SCALARS = [
    ("tol", np.float32(0.01), 0.01),
    ("tol", np.float64(0.01), 0.01),
    ("noise", np.float32(0.05), 0.05),
    ("max_iter", np.int64(300), 300),
    ("max_iter", np.int32(300), 300),
    ("atol", np.float32(1e-4), 1e-4),
]


@pytest.mark.parametrize(
    "name, scalar, plain", NUMPY_SCALARS, ids=[f"{n}-{type(s).__name__}" for n, s, _ in NUMPY_SCALARS]
)
def test_sparse_takes_numpy_scalars(tmp_path, name, scalar, plain):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ip.ConvergenceWarning)
        r = ip.sparse_and_or(V, **{"tol": 1e-2, name: scalar})
        ref = ip.sparse_and_or(V, **{"tol": 1e-2, name: type(plain)(scalar)})
    assert_same_interactions(r, ref)
    assert type(r.meta["tol"]) is float
    assert_same_interactions(Interactions.load(r.save(tmp_path / "r.npz")), r)  # meta stays JSON-serialisable


@pytest.mark.parametrize("alpha", [np.float32(0.25), np.float64(0.25), np.int64(1)])
def test_generalizable_takes_numpy_scalars(tmp_path, alpha):
    rs = ip.generalizable_and_or([V, 2 * V], alpha=alpha, tol=np.float32(0.01), max_iter=np.int64(2000))
    ref = ip.generalizable_and_or([V, 2 * V], alpha=float(alpha), tol=float(np.float32(0.01)), max_iter=2000)
    assert_same_interactions(rs[0], ref[0])
    assert rs[0].meta["alpha"] == float(alpha) and type(rs[0].meta["tol"]) is float
    Interactions.load(rs[1].save(tmp_path / "g.npz"))


def test_sgd_takes_a_numpy_learning_rate():
    r = ip.sparse_and_or(V, solver="sgd", lr=np.float32(1e-3), max_iter=np.int64(20))
    ref = ip.sparse_and_or(V, solver="sgd", lr=float(np.float32(1e-3)), max_iter=20)
    assert_same_interactions(r, ref)


def test_masked_arrays_of_values():
    """A masked entry is a missing value: refused (even over finite data); an array without masked entries is used."""
    v = np.ma.masked_invalid(np.where(np.arange(16) == 5, np.nan, V[0]))
    with pytest.raises(
        ValueError, match="^v: a masked array with 1 masked entries; every entry must be a finite number"
    ):
        ip.harsanyi(v)
    with pytest.raises(ValueError, match="^v: a masked array with 2 masked entries"):
        ip.sparse_and_or(np.ma.masked_less(V[0], sorted(V[0])[2]))
    assert_same_interactions(ip.and_or(np.ma.masked_array(V)), ip.and_or(V))


@pytest.mark.parametrize("bad", [np.bool_(True), np.float32(np.nan), np.float64(1.5), np.complex128(0.1)])
def test_numpy_scalars_still_checked(bad):
    with pytest.raises(ValueError, match="tol must be a relative gap in"):
        ip.sparse_and_or(V, tol=bad)


# ---------------------------------------------------------------------------------------------
# 5. Text games, CUDA, SST-2
# ---------------------------------------------------------------------------------------------

SENTENCE = "the movie was not good but the plot was funny"  # 5 words with meaning, 10 words, 12 tokens


@pytest.fixture(scope="module")
def text_model():
    pytest.importorskip("transformers")
    from interprim.nn import word_tokenizer

    tokenizer = word_tokenizer([SENTENCE, "bad acting"])
    return bert_tiny(vocab_size=len(tokenizer), max_position_embeddings=16).double().eval(), tokenizer


def test_text_game_sentence_longer_than_the_model(text_model):
    from interprim.games import TextGame, text_values

    model, tokenizer = text_model
    long = " ".join([SENTENCE] * 2)  # 20 words + [CLS] + [SEP]
    with pytest.raises(
        ValueError, match=r"is 22 tokens long but the model takes at most 16 \(model\.config\.max_position"
    ):
        TextGame(model, tokenizer, long)
    with pytest.raises(
        ValueError, match=r"^sentences\[1\]: the sentence .* is 22 tokens long but the model takes at most 16"
    ):
        text_values(model, tokenizer, [SENTENCE, long], n=3)
    assert TextGame(model, tokenizer, SENTENCE).n_players == 5  # 12 tokens fit


def test_text_game_tokenizer_limit(text_model):
    from interprim.games import TextGame

    model, _ = text_model
    from interprim.nn import word_tokenizer

    tokenizer = word_tokenizer([SENTENCE, "bad acting"])
    tokenizer.model_max_length = 8
    with pytest.raises(ValueError, match="is 12 tokens long but the model takes at most 8"):
        TextGame(model, tokenizer, SENTENCE)


def test_text_game_warns_when_fewer_words_than_n(text_model):
    from interprim.games import TextGame

    model, tokenizer = text_model
    with pytest.warns(
        UserWarning, match=r"n=8 but the sentence .* has only 5 words with meaning: the game has 5 players"
    ):
        game = TextGame(model, tokenizer, SENTENCE, n=8)
    assert game.words == ["movie", "not", "good", "plot", "funny"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TextGame(model, tokenizer, SENTENCE).n_players == 5  # the default n: all words, no warning
        assert TextGame(model, tokenizer, SENTENCE, n=5).n_players == 5
        assert TextGame(model, tokenizer, SENTENCE, n=3).n_players == 3


@pytest.mark.skipif(CUDA, reason="CUDA is available here")
def test_cuda_unavailable():
    with pytest.raises(ValueError, match=r"^lenet: device='cuda' but CUDA is not available here; use device='cpu'\.$"):
        build("lenet", in_channels=1, input_size=28, device="cuda")
    with pytest.raises(ValueError, match="device='cuda:0' but CUDA is not available here"):
        build("mlp", in_channels=1, input_size=28, device=torch.device("cuda:0"))
    pytest.importorskip("transformers")
    with pytest.raises(ValueError, match="bert_tiny: device='cuda' but CUDA is not available here"):
        bert_tiny(device="cuda")
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"device='cuda' is not a usable torch device \(CUDA is not available here"):
        TabularGame(model, np.ones(2), [[0], [1]], baseline=0.0, device="cuda")


def test_sst2_not_utf8(tmp_path):
    (tmp_path / "train.tsv").write_bytes("sentence\tlabel\ngood\t1\ncafé crème\t0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'train.tsv'}, line 3: the byte b'\\xe9' is not UTF-8"):
        load_sst2(tmp_path)
    (tmp_path / "train.tsv").write_bytes("sentence\tlabel\r\ngood\t1\r\ncafé crème\t0\r\n".encode("utf-8"))
    data = load_sst2(tmp_path)
    assert data.sentences == ["good", "café crème"] and data.labels.tolist() == [1, 0]


def test_explain_without_an_input_and_negative_stride_player_masks():
    import interprim as ip
    from interprim.games import patch_grid
    from interprim.games.players import check_players

    with pytest.raises(TypeError, match="x must be an image .* got None"):
        ip.explain(lambda x: x.sum(1), None)
    masks = patch_grid(8, 8, 4).numpy()
    flipped = masks[:, ::-1, :]  # a negative-stride numpy view is a valid set of masks
    assert check_players(flipped, (8, 8)).shape == (4, 8, 8)
    assert torch.equal(check_players(flipped, (8, 8)), torch.as_tensor(np.ascontiguousarray(flipped)))
