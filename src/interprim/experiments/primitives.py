"""``primitives`` (P2 Fig. 5, Fig. 10): the shared and distinctive interactions of two models, drawn on the input.

P2's claim: the interactions that several models share are the more reliable concepts, and
extracting them jointly (generalizable, Eq. 6) finds many more shared interactions than extracting
each model's own (traditional, Eq. 4). P2 Fig. 5 draws, for one input, the interactions of each
model, shared or distinctive, on the input; Fig. 10 gives their strengths in each model.

For every analysed sample, method (``generalizable`` and ``traditional-lp`` of
:mod:`~interprim.experiments.p2`) and model ``i``, after merging each OR singleton into the AND
singleton (SPEC §4):

- ``Ω_type^(i)``: the **salient** interactions ``|I_type^(i)(T)| > τ_i``, with the SPEC
  ``τ_i = 0.02·E_x |v_i(N) − v_i(∅)|`` over the analysed samples of model ``i`` (SPEC §4; P2 takes the
  top 50, Fig. 5 and App. L);
- an interaction ``(type, T)`` is **shared** when it is salient in every model (same type, any sign),
  ``Ω_type^shared = ∩_i Ω_type^(i)``, and **distinctive** to model ``i`` when only ``i`` finds it salient;
- ``s_type^(i) = Σ_{T∈Ω_type^shared} |I_type^(i)(T)| / Σ_{T∈Ω_type^(i)} |I_type^(i)(T)|``: the share of model
  ``i``'s salient strength that is shared (P2 Def. 1 with the SPEC threshold,
  :func:`interprim.metrics.transferability`; ``NaN`` without salient interactions of that type).

The experiment reports, per seed and method: ``τ_i``; the number of salient interactions of each
model, the number of shared ones and ``s_and``, ``s_or`` of each model, as mean ± sd over the analysed
samples (and the mean ± sd of those means over seeds); and for the ``shown`` first analysed samples
these numbers and the ``top`` strongest salient interactions of each model (ranked by ``|I^(i)|``;
ties: AND before OR, then the smaller bitmask), each with its type, players, order, the (merged)
value in every model, whether it is salient there, and its label ``shared`` / ``distinctive``.

**Figures**: one pair (PNG, SVG) per shown sample, ``primitives-test<index>``, for the first seed:
one row per method and model; the first panel is the input with its ``n`` players marked and
numbered, the next ones are the model's top salient interactions, each the input with the players
of ``T`` filled (red: positive, blue: negative effect in that model), framed green when shared and
grey when distinctive, titled with its type, order, label and its value in every model (``*``: salient
there). Images show the players as patches; sentences (tasks ``sst2`` and ``lm``) as their words, the
players boxed. The shown inputs and the players' boxes (images) or character spans (texts) are
stored in the results, so the figures need nothing else.

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed samples with
their players drawn, and each model's top salient interactions (shared ones marked), η and loss, by both
methods, with more samples and interactions than the figures.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from . import browser, p2
from .browser import DISTINCTIVE, SHARED, top_items
from .figures import save_figure

NAME = "primitives"
DESCRIPTION = ("P2 Fig. 5, 10: the top salient interactions of two models drawn on the input, shared or distinctive, "
               "generalizable vs traditional, with salient and shared counts")
METHODS = ("generalizable", p2.TRADITIONAL)
TYPES = browser.TYPES


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config` plus ``shown``, how many of the first analysed samples are
    drawn, and ``top``, how many of each model's strongest salient interactions are drawn per method."""

    shown: int = 3
    top: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.shown, bool) or not isinstance(self.shown, int) or not 1 <= self.shown <= self.samples:
            raise ValueError(f"shown must be an integer in 1 .. samples ({self.samples}), got {self.shown!r}.")
        most = 2 * (2**self.n - 1) - self.n  # interactions once the OR singletons are merged
        if isinstance(self.top, bool) or not isinstance(self.top, int) or not 1 <= self.top <= most:
            raise ValueError(f"top must be an integer in 1 .. {most} (the interactions of n = {self.n}), "
                             f"got {self.top!r}.")


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def merged(results: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(i_and, i_or)`` of every model, ``(m, B, 2**n)``, each OR singleton added to the AND singleton (SPEC §4)."""
    from ..interactions import singletons_merged

    a = np.stack([np.asarray(r.i_and, dtype=np.float64) for r in results])
    o = np.stack([np.asarray(r.i_or, dtype=np.float64) for r in results])
    return singletons_merged(a, o)


def method_statistics(results: list[Any], tau: np.ndarray, shown: int, top: int) -> dict[str, Any]:
    """Salient and shared counts and ``s_and``, ``s_or`` per model: mean ± sd over samples, and per shown sample
    with its top interactions (module docstring)."""
    n = results[0].n_players
    a, o = merged(results)
    m_and, m_or = metrics.salient_mask(results, threshold=tau)  # merges the singletons the same way
    salient = (m_and.sum(-1) + m_or.sum(-1)).astype(np.float64)  # (m, B)
    shared = (m_and.all(0).sum(-1) + m_or.all(0).sum(-1)).astype(np.float64)  # (B,)
    s_and, s_or = metrics.transferability(results, threshold=tau)  # (m, B) each
    rows = []
    for b in range(shown):
        rows.append(dict(salient=salient[:, b].tolist(), shared=float(shared[b]), s_and=s_and[:, b].tolist(),
                         s_or=s_or[:, b].tolist(),
                         top=[top_items(a[:, b], o[:, b], m_and[:, b], m_or[:, b], j, top, n)
                              for j in range(len(results))]))
    return dict(tau=np.asarray(tau).tolist(), salient=p2.spread(salient), shared=p2.spread(shared),
                s_and=p2.spread(s_and), s_or=p2.spread(s_or), shown=rows)


def seed_statistics(found: p2.Extracted, shown: int, top: int) -> dict[str, Any]:
    """:func:`method_statistics` of every method, with each model's SPEC ``τ_i`` from its games."""
    tau = metrics.salient_threshold(np.stack(found.values), per_model=True)
    return {method: method_statistics(found.methods[method], tau, shown, top) for method in METHODS}


STATISTICS = ("salient", "shared", "s_and", "s_or")


def over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method and statistic: mean ± sd over seeds of the per-seed sample means."""
    return {method: {key: p2.spread(np.stack([np.asarray(s["statistics"][method][key]["mean"], dtype=float)
                                              for s in per_seed]), axis=0) for key in STATISTICS}
            for method in METHODS}


def shown_inputs(config: Config, samples: list[int]) -> tuple[list[Any], list[list[list[int]]]]:
    """The shown inputs and their players (:func:`browser.p2_players <interprim.experiments.browser.p2_players>`):
    test images (lists, ``(H, W)`` or ``(C, H, W)``, 4 decimals) with their players' boxes, or texts (the
    sentence; task ``lm``: the text before the target word) with their players' character spans."""
    shown, players = browser.p2_players(config, samples[: config.shown])
    if config.task != "mnist3":
        return shown, players
    images = []
    for image in shown:
        x = np.asarray(image, dtype=np.float64)
        images.append(np.round(x[0] if x.shape[0] == 1 else x, 4).tolist())
    return images, players


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train the models, extract both methods, count salient and shared interactions; then over seeds."""
    per_seed = []
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config, methods=METHODS)):
        if seed == config.seeds[0]:
            sections = browser.p2_browser(config, found, seed)
        per_seed.append(dict(seed=seed, accuracy=found.accuracy, gaps=found.gaps,
                             statistics=seed_statistics(found, config.shown, config.top)))
    images, players = shown_inputs(config, found.samples)
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples,
                shown=found.samples[: config.shown], top=config.top, n=config.n, images=images, players=players,
                seeds=per_seed, over_seeds=over_seeds(per_seed), browser=sections)


# ---------------------------------------------------------------------------------------------
# figures and summary
# ---------------------------------------------------------------------------------------------

FRAME = {SHARED: "tab:green", DISTINCTIVE: "0.55"}


def _show(ax: Any, image: Any) -> None:
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 3:  # (C, H, W): channels last, scaled to [0, 1]
        x = np.moveaxis(x, 0, -1)
        span = x.max() - x.min()
        x = (x - x.min()) / span if span > 0 else np.zeros_like(x)
        ax.imshow(x)
    else:
        ax.imshow(x, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_players(ax: Any, image: Any, players: list[list[int]], filled: list[int] = (), color: str = "tab:red",
                  labels: bool = False) -> None:
    """The image with every player's patch outlined (as :func:`interprim.plot.interaction_panel` does) and the
    patches ``filled`` highlighted in ``color``."""
    import matplotlib.pyplot as plt

    _show(ax, image)
    for i, (y0, x0, y1, x1) in enumerate(players):
        hit = i in filled
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=hit, alpha=0.55 if hit else 1.0,
                                   facecolor=color if hit else "none", edgecolor=color if hit else "yellow",
                                   lw=1.2 if hit else 0.6))
        if labels:
            ax.text(x0 + 0.5, y0 + 3, str(i), color="yellow", fontsize=7, fontweight="bold")


def _draw_words(ax: Any, text: str, players: list[list[int]], filled: list[int] = (), color: str = "tab:red",
                labels: bool = False) -> None:
    """The text in a monospaced flow, wrapped, every player's word boxed (numbered with ``labels``) and the
    players ``filled`` highlighted in ``color``."""
    width = 32  # characters per line
    lines: list[list[tuple[int, int]]] = [[]]
    used = 0
    for start, end in ((m.start(), m.end()) for m in re.finditer(r"\S+", text)):
        if used and used + 1 + end - start > width:
            lines.append([])
            used = 0
        lines[-1].append((start, used))
        used += end - start + 1
    owner = {a: i for i, (a, _) in enumerate(players)}
    height = max(len(lines), 4)
    for row, words in enumerate(lines):
        for start, col in words:
            token = re.match(r"\S+", text[start:]).group(0)
            pieces = [(start, start + len(token))]
            for a, b in players:  # a player is a word inside a whitespace run (punctuation split off)
                if start <= a < start + len(token):
                    pieces.append((a, b))
            y = 1 - (row + 0.7) / height
            ax.text(col / width, y, token, family="monospace", fontsize=5.5, va="center", color="0.35")
            for a, b in pieces[1:]:
                i = owner[a]
                hit = i in filled
                ax.text((col + a - start) / width, y, text[a:b], family="monospace", fontsize=5.5, va="center",
                        color="white" if hit else "black", fontweight="bold",
                        bbox=dict(boxstyle="square,pad=0.1", facecolor=color if hit else "white",
                                  edgecolor=color if hit else "goldenrod", lw=0.6))
                if labels:
                    ax.text((col + a - start) / width, y + 0.45 / height, str(i), fontsize=5, color="goldenrod")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1)
    ax.set_xticks([])
    ax.set_yticks([])


def _num(x: Any) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2f}"


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """One figure pair per shown sample (first seed): rows = method × model, the players then the top interactions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs, top, seed = results["archs"], results["top"], results["seeds"][0]
    text = results["config"]["task"] != "mnist3"
    draw = _draw_words if text else _draw_players
    paths: list[Path] = []
    for b, index in enumerate(results["shown"]):
        image, players = results["images"][b], results["players"][b]
        rows = [(method, j) for method in METHODS for j in range(len(archs))]
        fig, axes = plt.subplots(len(rows), top + 1, figsize=(1.8 * (top + 1), (1.6 if text else 2.45) * len(rows)),
                                 squeeze=False)
        for r, (method, j) in enumerate(rows):
            row = seed["statistics"][method]["shown"][b]
            ax = axes[r][0]
            draw(ax, image, players, labels=True)
            ax.set_title(f"{method}\n{archs[j]}: {row['salient'][j]:.0f} salient, {row['shared']:.0f} shared\n"
                         f"s_and {_num(row['s_and'][j])}, s_or {_num(row['s_or'][j])}", fontsize=6)
            for c in range(top):
                ax = axes[r][c + 1]
                if c >= len(row["top"][j]):
                    ax.axis("off")
                    continue
                item = row["top"][j][c]
                draw(ax, image, players, item["players"], "tab:red" if item["values"][j] > 0 else "tab:blue")
                for spine in ax.spines.values():
                    spine.set_color(FRAME[item["label"]])
                    spine.set_linewidth(2.5)
                values = "\n".join(f"{a} {v if abs(v) >= 5e-4 else 0.0:+.3f}{'*' if s else ''}"
                                   for a, v, s in zip(archs, item["values"], item["salient"]))
                players_of = ",".join(_names(image, players, item["players"]) if text else map(str, item["players"]))
                ax.set_title(f"{item['type'].upper()} {{{players_of}}} o{item['order']} {item['label']}\n{values}",
                             fontsize=6, color=FRAME[SHARED] if item["label"] == SHARED else "black")
        fig.suptitle(f"primitives (P2 Fig. 5): test {'sentence' if text else 'image'} {index}, seed {seed['seed']}; "
                     f"top {top} salient interactions per model\n(green frame: shared, grey: distinctive; "
                     f"fill red +, blue −; * salient in that model)", fontsize=7)
        fig.tight_layout()
        paths += save_figure(fig, out_dir, f"{NAME}-test{index}")
    return paths


def _fmt(entry: dict[str, Any], model: int | None = None, digits: str = ".2f") -> str:
    mean, sd = entry["mean"], entry["sd"]
    if model is not None:
        mean, sd = mean[model], sd[model]
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:{digits}}" if sd is None or not np.isfinite(sd) else f"{mean:{digits}} ± {sd:{digits}}"


def _names(text: str, spans: list[list[int]], players: list[int]) -> list[str]:
    """The words of ``players`` (indices into ``spans``, character spans of ``text``)."""
    return [text[slice(*spans[k])] for k in players]


def _item(item: dict[str, Any], model: int, words: tuple[str, list[list[int]]] | None = None) -> str:
    names = _names(*words, item["players"]) if words else map(str, item["players"])
    return (f"{item['type'].upper()}{{{','.join(names)}}} {item['values'][model]:+.3g}"
            f"{' (shared)' if item['label'] == SHARED else ''}")


def summary(results: dict[str, Any]) -> str:
    """Salient and shared counts and ``s`` per seed and method (mean ± sd over samples), over seeds, and the
    shown samples with their top interactions."""
    archs, config, seeds = results["archs"], results["config"], results["seeds"]
    per_model = [f"{key} {a}" for key in ("salient", "s_and", "s_or") for a in archs]
    header = "| seed | method | " + " | ".join(per_model[: len(archs)]) + " | shared | " + \
             " | ".join(per_model[len(archs):]) + " |"
    rule = "|---|---|" + "--:|" * (3 * len(archs) + 1)

    def cells(stats: dict[str, Any]) -> str:
        count = [_fmt(stats["salient"], j, ".1f") for j in range(len(archs))]
        share = [_fmt(stats[key], j) for key in ("s_and", "s_or") for j in range(len(archs))]
        return " | ".join([*count, _fmt(stats["shared"], None, ".1f"), *share])

    lines = [
        (f"{p2.describe(config, archs, len(results['samples']))}; seeds {[s['seed'] for s in seeds]}. "
         f"Salient: |I| > τ_i = 0.02·E|v_i(N) − v_i(∅)| per model (OR singletons merged into AND); shared: salient "
         f"in every model with the same type; s_type: the share of a model's salient strength that is shared "
         f"(P2 Def. 1)."),
        "", "Test accuracy: " + "; ".join(
            f"{a} {np.mean([s['accuracy'][a]['test'] for s in seeds]):.3f}" for a in archs) + ".",
        "", f"## Salient and shared interactions, mean ± sd over the {len(results['samples'])} analysed samples", "",
        header, rule,
    ]
    for s in seeds:
        for method in METHODS:
            lines.append(f"| {s['seed']} | {method} | {cells(s['statistics'][method])} |")
    if len(seeds) > 1:
        for method in METHODS:
            lines.append(f"| mean ± sd over seeds | {method} | {cells(results['over_seeds'][method])} |")
    first = seeds[0]
    what = "test image" if config["task"] == "mnist3" else "test sentence"
    lines += ["", f"## Shown samples (seed {first['seed']}), top {results['top']} salient interactions per model", "",
              f"| {what} | method | " + " | ".join(per_model[: len(archs)]) + " | shared | "
              + " | ".join(per_model[len(archs):]) + " |", rule]
    for b, index in enumerate(results["shown"]):
        for method in METHODS:
            row = first["statistics"][method]["shown"][b]
            count = [f"{row['salient'][j]:.0f}" for j in range(len(archs))]
            share = [_num(row[key][j]) for key in ("s_and", "s_or") for j in range(len(archs))]
            lines.append(f"| {index} | {method} | " + " | ".join([*count, f"{row['shared']:.0f}", *share]) + " |")
    lines.append("")
    for b, index in enumerate(results["shown"]):
        for method in METHODS:
            row = first["statistics"][method]["shown"][b]
            for j, arch in enumerate(archs):
                words = (results["images"][b], results["players"][b]) if config["task"] != "mnist3" else None
                items = ", ".join(_item(item, j, words) for item in row["top"][j]) or "none salient"
                lines.append(f"- test {index}, {method}, {arch}: {items}")
    return "\n".join(lines) + "\n"
