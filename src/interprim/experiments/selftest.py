"""selftest: a seconds-fast experiment that runs the engine end to end, with no model to train.

For each seed, a task draws ``n_games`` random smooth games over ``n_players`` players,

``v(S) = tanh(b + Σ_{i∈S} w_i + Σ_{i<j; i,j∈S} W_ij)``,  ``b, w_i ~ N(0, 1)``, ``W_ij ~ N(0, 0.5²)``,

(interactions of every order, from the expansion of ``tanh``); a second task per seed, which
depends on the first, extracts their sparse AND-OR interactions (:func:`interprim.sparse_and_or`).
The results are the average order ``η`` of the salient interactions of every game and the mean
strength of the salient interactions by order (P1 §3.1), one figure and a table. It demonstrates
the contract of an experiment module (see :mod:`interprim.experiments.registry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..extract import sparse_and_or
from ..metrics import average_order, order_strengths
from ..sets import subset_masks
from .tasks import Context

NAME = "selftest"
DESCRIPTION = "engine check: sparse AND-OR interactions of random smooth games and their average order (seconds)"


@dataclass(frozen=True)
class Config:
    """Settings of the selftest.

    Attributes:
        seeds: one set of games per seed.
        n_games: games per seed.
        n_players: players of every game (2 to 12).
        noise: the relative noise bound of :func:`interprim.sparse_and_or`.
        tol: the certified relative gap at which the solver stops.
    """

    seeds: tuple[int, ...]
    n_games: int
    n_players: int
    noise: float
    tol: float

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one seed, e.g. seeds=[0, 1].")
        if self.n_games < 1:
            raise ValueError(f"n_games must be at least 1, got {self.n_games}.")
        if not 2 <= self.n_players <= 12:
            raise ValueError(f"n_players must be between 2 and 12, got {self.n_players}.")
        if self.noise < 0 or self.tol <= 0:
            raise ValueError(f"noise must be >= 0 and tol > 0, got noise={self.noise}, tol={self.tol}.")


def smooth_games(seed: int, n_games: int, n_players: int) -> dict[str, np.ndarray]:
    """Task: the ``(n_games, 2**n_players)`` value vectors of random smooth games (module docstring), as ``{"v"}``."""
    rng = np.random.default_rng(seed)
    masks = subset_masks(n_players).astype(np.float64)
    bias = rng.normal(size=(n_games, 1))
    weights = rng.normal(size=(n_games, n_players))
    pairs = np.triu(rng.normal(scale=0.5, size=(n_games, n_players, n_players)), k=1)
    z = bias + weights @ masks.T + np.einsum("si,gij,sj->gs", masks, pairs, masks)
    return {"v": np.tanh(z)}


def extract(values: dict[str, np.ndarray], noise: float, tol: float) -> dict[str, np.ndarray]:
    """Task: sparse AND-OR interactions of the games ``values["v"]`` and their matching error."""
    v = values["v"]
    r = sparse_and_or(v, noise=noise, tol=tol)
    return {"i_and": r.i_and, "i_or": r.i_or, "noise": r.noise, "matching_error": r.matching_error(v)}


def run(config: Config, ctx: Context) -> dict[str, Any]:
    """Games per seed, then their interactions (one task each, through the executor); ``η`` and strengths by order."""
    shape = {"n_games": config.n_games, "n_players": config.n_players}
    games = ctx.map("selftest-games", smooth_games, [{"seed": seed, **shape} for seed in config.seeds])
    found = ctx.map("selftest-extract", extract, [{"noise": config.noise, "tol": config.tol}] * len(games),
                    deps=[{"values": g} for g in games])
    eta, strength, error = [], [], []
    for done in found:
        i_and, i_or = done.value["i_and"], done.value["i_or"]
        j_pos, j_neg = order_strengths(i_and, i_or)
        eta.append(average_order(i_and, i_or))
        strength.append((j_pos + j_neg).mean(axis=0))
        error.append(float(done.value["matching_error"].max()))
    return {
        "seeds": list(config.seeds),
        "n_players": config.n_players,
        "average_order": eta,
        "strength_by_order": strength,
        "max_matching_error": error,
    }


def _mean(xs: list[float | None]) -> float:
    """Mean of the finite values (``None`` is a NaN read back from ``results.json``)."""
    finite = [x for x in xs if x is not None]
    return float(np.mean(finite)) if finite else float("nan")


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """``orders.png`` / ``orders.svg``: mean strength of salient interactions by order, and the spread of ``η``."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    orders = np.arange(results["n_players"] + 1)
    for seed, strength in zip(results["seeds"], results["strength_by_order"]):
        left.plot(orders[1:], strength[1:], marker="o", label=f"seed {seed}")
    left.set(xlabel="order |S|", ylabel="mean strength J_pos + J_neg", title="salient interactions by order")
    left.legend(fontsize="small")
    etas = [[x for x in eta if x is not None] for eta in results["average_order"]]
    right.boxplot(etas)
    right.set_xticks(np.arange(1, len(etas) + 1), [str(s) for s in results["seeds"]])
    right.set(xlabel="seed", ylabel="average order η", title="average order per game")
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": NAME}):
        for suffix, metadata in ((".png", None), (".svg", {"Date": None})):
            path = Path(out_dir) / f"orders{suffix}"
            fig.savefig(path, dpi=110, metadata=metadata)
            paths.append(path)
    return paths


def summary(results: dict[str, Any]) -> str:
    """A markdown table: per seed, the games, their mean ``η`` and the worst matching error."""
    lines = [
        f"Sparse AND-OR interactions of random smooth games over {results['n_players']} players.",
        "",
        "| seed | games | mean average order η | max matching error |",
        "|---:|---:|---:|---:|",
    ]
    for seed, eta, error in zip(results["seeds"], results["average_order"], results["max_matching_error"]):
        lines.append(f"| {seed} | {len(eta)} | {_mean(eta):.3f} | {error:.1e} |")
    return "\n".join(lines) + "\n"
