"""Tests of the ``interprim`` command line (``interprim.cli``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from interprim import Interactions, and_or, harsanyi
from interprim.cli import _toy_game, main

PLANTED = {0: 0.5, 5: 4.0, 2: -1.0}  # bitmask -> Harsanyi dividend: bias 0.5, {0,2}: 4, {1}: -1


def planted_game(n: int = 3) -> np.ndarray:
    """``v(S) = Σ_{T⊆S} I(T)`` for the dividends in ``PLANTED``, by direct loops."""
    return np.array([sum(x for t, x in PLANTED.items() if t & ~s == 0) for s in range(2**n)], dtype=float)


def section(out: str, name: str) -> list[str]:
    """The lines of the demo's section for method ``name``, header line first."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"== {name}:"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def rows(lines: list[str]) -> list[tuple[str, float, str]]:
    """Parse table rows ``kind effect {players}``."""
    out = []
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] in ("and", "or", "single"):
            out.append((parts[0], float(parts[1]), parts[2]))
    return out


def assert_same(a: Interactions, b: Interactions) -> None:
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=0, err_msg=name)
    assert a.players == b.players
    assert a.meta == b.meta


# ---------------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------------


def test_demo(capsys):
    assert main(["demo", "--toy"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert "it, works, not, bad, slow, boring, great" in out

    h = section(out, "harsanyi")
    assert "objective Σ|I| = 10.000" in h[0]  # 3 + 2 + 1.5·3 + 0.5
    assert "matching error 0.00e+00" in h[0]
    assert rows(h) == [  # Harsanyi has no OR part: a singleton's merged effect is its AND dividend
        ("and", 3.0, "{it, works}"),
        ("and", 2.0, "{not, bad}"),
        ("single", -1.5, "{slow}"),
        ("single", -1.5, "{boring}"),
        ("and", 1.5, "{slow, boring}"),
        ("single", 0.5, "{great}"),
    ]

    a = section(out, "and_or")
    # u_and = u_or = v/2: AND part 1.5 + 1 + 0.75·3 + 0.25 = 5, OR part 1.5·3 + 1·3 + 0.75 + 0.25 = 8.5
    assert "objective Σ|I| = 13.500" in a[0]
    assert "matching error 0.00e+00" in a[0]
    # singletons are merged (I_and + I_or) and, on ties, listed before the larger AND sets
    assert rows(a) == [
        ("single", 1.5, "{it}"),
        ("single", 1.5, "{works}"),
        ("and", 1.5, "{it, works}"),
        ("or", -1.5, "{it, works}"),
        ("single", 1.0, "{not}"),
        ("single", 1.0, "{bad}"),
    ]


def test_demo_merges_or_singletons_into_and_singletons(capsys):
    """and_or splits v in halves: I_and({great}) = I_or({great}) = 0.25, listed once as 0.5."""
    v, words = _toy_game()
    r = and_or(v, players=words)
    assert r.i_and[1 << 6] == 0.25 and r.i_or[1 << 6] == 0.25  # both non-zero in the raw vectors
    assert main(["demo", "--toy", "--top", "300"]) == 0
    listed = rows(section(capsys.readouterr().out, "and_or"))
    singles = [(kind, effect, players) for kind, effect, players in listed if "," not in players]
    assert sorted(p for _, _, p in singles) == sorted(f"{{{w}}}" for w in words)  # each singleton exactly once
    assert all(kind == "single" for kind, _, _ in singles)
    for _, effect, players in singles:
        i = words.index(players[1:-1])
        assert effect == pytest.approx(r.i_and[1 << i] + r.i_or[1 << i], abs=5e-5)
    assert ("single", 0.5, "{great}") in listed
    # every other interaction is listed with its own kind: 2 * (2**7 - 1) - 7 rows in all
    assert len(listed) == 2 * 127 - 7


def test_demo_top(capsys):
    assert main(["demo", "--toy", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert rows(section(out, "harsanyi")) == [("and", 3.0, "{it, works}"), ("and", 2.0, "{not, bad}")]
    assert len(rows(section(out, "and_or"))) == 2


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == "interprim 0.1.0"


@pytest.mark.parametrize("argv", [[], ["nope"], ["extract"], ["extract", "x.npy", "--method", "bogus"], ["demo", "--top", "x"]])
def test_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "usage: interprim" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# extract
# ---------------------------------------------------------------------------------------------


def test_extract_npy_prints_top(tmp_path, capsys):
    v = planted_game()
    path = tmp_path / "v.npy"
    np.save(path, v)
    assert main(["extract", str(path), "--top", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "method='harsanyi'" in captured.out and "n_players=3" in captured.out
    assert rows(captured.out.splitlines()) == [("and", 4.0, "{0, 2}"), ("and", -1.0, "{1}")]
    assert "saved to" not in captured.out


def test_extract_default_top_is_10(tmp_path, capsys):
    path = tmp_path / "v.npy"
    np.save(path, np.random.default_rng(0).normal(size=16))
    assert main(["extract", str(path)]) == 0
    assert len(rows(capsys.readouterr().out.splitlines())) == 10


def test_extract_out_round_trip(tmp_path, capsys):
    v = planted_game()
    path = tmp_path / "v.npy"
    np.save(path, v)
    out = tmp_path / "res.npz"
    assert main(["extract", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"saved to {out}" in printed
    back = Interactions.load(out)
    assert_same(back, harsanyi(v))
    expected = np.zeros(8)
    for t, x in PLANTED.items():
        expected[t] = x
    np.testing.assert_allclose(back.i_and, expected, atol=1e-12)


def test_extract_out_adds_suffix(tmp_path, capsys):
    path = tmp_path / "v.npy"
    np.save(path, planted_game())
    assert main(["extract", str(path), "--out", str(tmp_path / "res")]) == 0
    assert f"saved to {tmp_path / 'res.npz'}" in capsys.readouterr().out
    assert (tmp_path / "res.npz").exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_extract_and_or_text_file(tmp_path, capsys):
    v = np.random.default_rng(1).normal(size=8)
    path = tmp_path / "v.txt"
    np.savetxt(path, v)
    out = tmp_path / "r.npz"
    assert main(["extract", str(path), "--method", "and_or", "--out", str(out)]) == 0
    assert "method='and_or'" in capsys.readouterr().out
    back = Interactions.load(out)
    ref = and_or(np.loadtxt(path))
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        np.testing.assert_allclose(getattr(back, name), getattr(ref, name), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(back.matching_error(v), 0.0, atol=1e-10)


def test_extract_batch(tmp_path, capsys):
    v = np.random.default_rng(2).normal(size=(3, 16))
    path = tmp_path / "v.npy"
    np.save(path, v)
    out = tmp_path / "b.npz"
    assert main(["extract", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "batch_shape=(3,)" in printed
    assert rows(printed.splitlines()) == []  # no table for a batch
    assert_same(Interactions.load(out), harsanyi(v))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: np.save(p / "v.npy", np.arange(6.0)), "length 6"),
        (lambda p: np.save(p / "v.npy", np.array([0.0, np.nan, 1.0, 2.0])), "NaN"),
        (lambda p: np.savetxt(p / "v.txt", np.arange(5.0)), "length 5"),
        (lambda p: (p / "v.txt").write_text("1 2 three 4\n"), "error"),
        (lambda p: np.save(p / "v.npy", np.array([{"a": 1}], dtype=object)), "error"),
    ],
)
def test_extract_bad_file(tmp_path, capsys, make, match):
    make(tmp_path)
    (path,) = tmp_path.iterdir()
    assert main(["extract", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert match in captured.err
    assert "Traceback" not in captured.err


def test_extract_bad_file_writes_no_output(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.arange(6.0))
    assert main(["extract", str(tmp_path / "v.npy"), "--out", str(tmp_path / "r.npz")]) == 2
    assert not (tmp_path / "r.npz").exists()


def test_extract_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.npy"
    assert main(["extract", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"error: {missing} is not a file"
    assert captured.out == ""


def test_extract_top_zero_is_an_error(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.arange(8.0))
    with pytest.raises(SystemExit) as exit_info:  # argparse rejects it before any work
        main(["extract", str(tmp_path / "v.npy"), "--top", "0"])
    assert exit_info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_demo_top_zero_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--toy", "--top", "0"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().out == ""


def test_extract_directory_is_an_error(tmp_path, capsys):
    assert main(["extract", str(tmp_path)]) == 2


def test_extract_out_unwritable_is_an_error(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.arange(8.0))
    assert main(["extract", str(tmp_path / "v.npy"), "--out", str(tmp_path / "no" / "r.npz")]) == 2


# ---------------------------------------------------------------------------------------------
# The installed command
# ---------------------------------------------------------------------------------------------


def test_console_script(tmp_path):
    script = Path(sys.executable).with_name("interprim")
    cmd = [str(script), "demo", "--toy", "--top", "1"] if script.exists() else [sys.executable, "-m", "interprim.cli", "demo", "--toy"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "{it, works}" in proc.stdout
    assert "matching error 0.00e+00" in proc.stdout



def test_demo_sparse_section_recovers_the_planted_patterns(capsys):
    assert main(["demo", "--toy"]) == 0
    section = capsys.readouterr().out.split("== sparse_and_or:")[1]
    lines = [line.split() for line in section.strip().splitlines()[2:6]]
    assert [(kind, " ".join(words)) for kind, _, *words in lines] == [
        ("and", "{it, works}"),
        ("and", "{not, bad}"),
        ("or", "{slow, boring}"),
        ("single", "{great}"),
    ]
    assert "matching error" in section.splitlines()[0]


def test_real_demo_trains_explains_and_writes_a_figure(tmp_path, capsys):
    """The main job, made small: a LeNet on 1000 embedded digits, 6 feature-map players, 2 test digits."""
    argv = ["demo", "--epochs", "1", "--train-size", "1000", "--images", "2", "--players", "6", "--top", "3"]
    assert main([*argv, "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("== test digit #") == 2
    assert (tmp_path / "interactions.png").stat().st_size > 10_000
    r = Interactions.load(tmp_path / "interactions.npz")
    assert r.batch_shape == (2,) and r.players == tuple(f"p{i}" for i in range(6))
    assert np.all(np.abs(r.noise) <= r.meta["noise_bound"][:, None] + 1e-15)
    assert np.all(r.meta["gap"] <= 1e-2 * r.objective + 1e-12)
    for line in out.splitlines():
        if line.startswith("== test digit"):
            assert float(line.rsplit("matching error", 1)[1]) < 1e-12
    # the printed lists merge each singleton: one 'single' row of I_and({i}) + I_or({i}) from the saved arrays
    blocks = out.split("== test digit #")[1:]
    for row, block in enumerate(blocks):
        listed = rows(block.split("\n\n")[0].splitlines())
        assert len(listed) == 3
        assert [e for _, e, _ in listed] == pytest.approx(
            [e for _, _, e in r[row].top(3, merge_singletons=True)], abs=5e-5
        )
        for kind, effect, players in listed:
            names = players.strip("{}").split(", ")
            mask = sum(1 << int(name[1:]) for name in names)
            if len(names) == 1:
                assert kind == "single"
                assert effect == pytest.approx(r.i_and[row, mask] + r.i_or[row, mask], abs=5e-5)
            else:
                assert effect == pytest.approx((r.i_and if kind == "and" else r.i_or)[row, mask], abs=5e-5)


@pytest.mark.slow
def test_full_default_demo(tmp_path, capsys):
    """``interprim demo`` with every default: 2 epochs on the 8k embedded training digits, 3 test digits,
    10 feature-map players, solver tol 1e-2 (about 3 minutes on 2 cores)."""
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    accuracy = [float(line.rsplit(":", 1)[1]) for line in out.splitlines() if line.startswith("test accuracy after 2 epoch(s):")]
    assert len(accuracy) == 1 and accuracy[0] > 0.9, out
    headers = [line for line in out.splitlines() if line.startswith("== test digit #")]
    assert len(headers) == 3
    for line in headers:
        assert float(line.rsplit("matching error", 1)[1]) < 1e-12
        objective = float(line.split("Σ|I| = ")[1].split()[0])
        gap = float(line.split("certified within ")[1].split()[0])
        assert gap <= 1e-2 * objective + 1e-3  # printed to 3 decimals
    assert (tmp_path / "interactions.png").stat().st_size > 10_000
    r = Interactions.load(tmp_path / "interactions.npz")
    assert r.batch_shape == (3,) and r.players == tuple(f"p{i}" for i in range(10))
    assert np.all(r.meta["gap"] <= 1e-2 * r.objective + 1e-12)
    assert np.all(np.abs(r.noise) <= r.meta["noise_bound"][:, None] + 1e-15)
    # the raw vectors keep the OR singletons (the report merges them): some are non-zero
    assert np.any(r.i_or[:, [1 << i for i in range(10)]] != 0)
