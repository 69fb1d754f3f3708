"""The :class:`Interactions` value object: what every extraction method returns (SPEC §3)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from ._array import as_vectors, check_same_shape, is_torch, same_kind, to_numpy
from .sets import players_of
from .store import read_npz

_ARRAYS = ("i_and", "i_or", "gamma", "noise")
_FORMAT = "interprim.Interactions/1"


@dataclass(eq=False)
class Interactions:
    """AND-OR interactions of one or a batch of samples, with the split that produced them.

    The fields follow SPEC §3: for value vectors ``v`` of shape ``(..., 2**n)``,

    - ``i_and``, ``i_or``: interaction vectors, same shape as ``v``; ``i_and[..., 0]`` is the bias
      ``b = u_and(∅) + u_or(∅)`` and ``i_or[..., 0] == 0``;
    - ``gamma``: the learned split, ``u_and = ½(v + q) + γ``, ``u_or = ½(v + q) − γ``;
    - ``noise``: the learned noise ``q`` (zeros for methods without noise);
    - ``objective``: ``Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` per sample (or the method's own objective,
      as its ``meta["objective_kind"]`` says), shape ``(...)``;
    - ``players``: one label per player; ``meta``: free-form, JSON-serialisable values or arrays.

    Universal matching holds against ``v + noise``: ``reconstruct(i_and, i_or) == v + noise``.
    Arrays keep the type of the input (numpy or torch); index a batch with ``r[i]``.
    """

    i_and: Any
    i_or: Any
    gamma: Any = None
    noise: Any = None
    objective: Any = None
    players: tuple[str, ...] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.i_and, n = as_vectors("i_and", self.i_and)
        i_or, _ = as_vectors("i_or", self.i_or)
        check_same_shape("i_and", self.i_and, "i_or", i_or)
        self.i_or = same_kind(i_or, self.i_and)
        for name in ("gamma", "noise"):
            value = getattr(self, name)
            if value is None:
                value = self.i_and * 0
            else:
                value, _ = as_vectors(name, value)
                check_same_shape("i_and", self.i_and, name, value)
                value = same_kind(value, self.i_and)
            setattr(self, name, value)
        if self.objective is None:
            self.objective = sparsity_objective(self.i_and, self.i_or)
        else:
            objective = same_kind(self.objective, self.i_and)
            if tuple(objective.shape) != self.batch_shape:
                raise ValueError(
                    f"objective has shape {tuple(objective.shape)} but the batch shape is {self.batch_shape}; "
                    f"pass one objective value per sample."
                )
            self.objective = objective
        if self.players is None:
            self.players = tuple(str(i) for i in range(n))
        else:
            self.players = tuple(str(p) for p in self.players)
            if len(self.players) != n:
                raise ValueError(f"players has {len(self.players)} labels but the vectors are over n={n} players.")
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta must be a dict, got {type(self.meta).__name__}.")

    # --- shape -------------------------------------------------------------------------------

    @property
    def n_players(self) -> int:
        """Number of players ``n``."""
        return int(self.i_and.shape[-1]).bit_length() - 1

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading shape: ``()`` for one sample, ``(B,)`` for a batch of ``B`` samples."""
        return tuple(self.i_and.shape[:-1])

    def __len__(self) -> int:
        if not self.batch_shape:
            raise TypeError("a single sample's Interactions has no length; check .batch_shape")
        return self.batch_shape[0]

    def __getitem__(self, index: Any) -> Interactions:
        """The interactions of some samples of the batch: ``r[3]``, ``r[:10]``."""
        if not self.batch_shape:
            raise IndexError("this Interactions holds a single sample; there is no batch axis to index")
        pick = index if isinstance(index, tuple) else (index,)
        meta = {
            k: (v[pick] if _is_array(v) and tuple(v.shape[: len(self.batch_shape)]) == self.batch_shape else v)
            for k, v in self.meta.items()
        }
        players = self.players
        for key in ("players", "target"):  # lists with one entry per sample (ip.explain): the players, the class
            listed = self.meta.get(key)
            if isinstance(listed, list) and len(self.batch_shape) == 1 and len(listed) == self.batch_shape[0]:
                picked = np.empty(len(listed), dtype=object)
                picked[:] = listed
                picked = picked[pick[0]]
                meta[key] = picked.tolist() if isinstance(picked, np.ndarray) else picked
        described = meta.get("players")  # a sample's own players: their labels too
        own = described is not self.meta.get("players") and isinstance(described, dict)
        if own and len(described.get("labels", ())) == self.n_players:
            players = tuple(described["labels"])
        return Interactions(
            i_and=self.i_and[pick],
            i_or=self.i_or[pick],
            gamma=self.gamma[pick],
            noise=self.noise[pick],
            objective=self.objective[pick],
            players=players,
            meta=meta,
        )

    def __repr__(self) -> str:
        kind = "torch" if is_torch(self.i_and) else "numpy"
        method = self.meta.get("method", "?")
        return (
            f"Interactions(method={method!r}, n_players={self.n_players}, batch_shape={self.batch_shape}, "
            f"array={kind}, dtype={self.i_and.dtype})"
        )

    # --- analysis ----------------------------------------------------------------------------

    def output_change(self) -> Any:
        """``v(N) − v(∅)`` per sample, from the interactions and the stored noise (SPEC §2).

        Universal matching gives ``h = v + q`` with ``h(∅) = I_and(∅)`` and ``h(N) = Σ_T I_and(T) +
        Σ_{T≠∅} I_or(T)``, so ``v(N) − v(∅) = Σ_{T≠∅} (I_and(T) + I_or(T)) − (q(N) − q(∅))``.

        Returns:
            float64 numpy array of the batch shape (a numpy float64 for a single sample).
        """
        i_and, i_or, q = (to_numpy(x).astype(np.float64) for x in (self.i_and, self.i_or, self.noise))
        out = i_and[..., 1:].sum(-1) + i_or[..., 1:].sum(-1) - (q[..., -1] - q[..., 0])
        return out[()]

    def salient_threshold(self, ratio: float = metrics.SPEC_RATIO) -> float:
        """``τ = ratio · E_x |v(x) − v(x_∅)|`` over the samples held (P1 fn. 6, SPEC §4).

        Computed from :meth:`output_change`; see :func:`interprim.metrics.salient_threshold`.
        """
        return metrics.salient_threshold(self, ratio=ratio)

    def salient(self, threshold: Any = "spec", top_k: int | None = None, merge_singletons: bool = True) -> Interactions:
        """The same interactions with every non-salient one set to 0 (SPEC §4).

        Salient as in :func:`interprim.metrics.salient_mask`: by default ``|I(T)| > τ`` with the SPEC
        ``τ`` over the samples held (:meth:`salient_threshold`); or a number, ``None`` (all), or the
        ``top_k`` strongest per sample with AND and OR pooled (P2). With ``merge_singletons`` (the
        default) the result holds the merged vectors (:func:`singletons_merged`). The bias
        ``i_and[..., 0]`` is kept; ``meta["salient"]`` records the selection (``τ`` as a number).
        """
        mask_and, mask_or = metrics.salient_mask(
            self, threshold=threshold, top_k=top_k, merge_singletons=merge_singletons
        )
        mask_and[..., 0] = True
        i_and, i_or = singletons_merged(self.i_and, self.i_or) if merge_singletons else (self.i_and, self.i_or)
        if top_k is not None:
            threshold = None  # the default threshold gave way to top_k
        elif isinstance(threshold, str):
            threshold = self.salient_threshold()
        elif threshold is not None:  # a number or one per model, kept JSON-serialisable
            threshold = np.asarray(to_numpy(threshold), dtype=np.float64).tolist()
        return Interactions(
            i_and=i_and * same_kind(mask_and, i_and),
            i_or=i_or * same_kind(mask_or, i_or),
            gamma=self.gamma,
            noise=self.noise,
            objective=self.objective,
            players=self.players,
            meta={
                **self.meta,
                "salient": {"threshold": threshold, "top_k": top_k, "merge_singletons": merge_singletons},
            },
        )

    def by_order(
        self, threshold: Any = "spec", top_k: int | None = None, merge_singletons: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Order strengths ``(J_pos, J_neg)`` of the salient interactions, shape ``(..., n+1)`` (P1 Eq. 4).

        See :func:`interprim.metrics.order_strengths`; by default the SPEC ``τ`` over the samples held.
        """
        return metrics.order_strengths(self, threshold=threshold, top_k=top_k, merge_singletons=merge_singletons)

    def average_order(self, threshold: Any = "spec", top_k: int | None = None, merge_singletons: bool = True) -> Any:
        """Average order ``η`` of the salient interactions per sample (P1 §3.1); high ``η`` marks a confusing sample.

        See :func:`interprim.metrics.average_order`; by default the SPEC ``τ`` over the samples held.
        """
        return metrics.average_order(self, threshold=threshold, top_k=top_k, merge_singletons=merge_singletons)

    def matching_error(self, v: Any, with_noise: bool = True) -> np.ndarray:
        """``max_S |h(x_S) − v(x_S) − q(S)|`` per sample, or against ``v`` alone with ``with_noise=False``.

        Every interaction is used; see :func:`interprim.metrics.matching_error`.
        """
        v, _ = as_vectors("v", v)
        check_same_shape("v", v, "i_and", self.i_and)
        return metrics.matching_error(self, v=v, noise=self.noise if with_noise else None)

    def top(self, k: int = 10, merge_singletons: bool = True) -> list[tuple[str, tuple[str, ...], float]]:
        """The ``k`` strongest interactions of one sample as ``(type, players, effect)``, strongest first.

        ``type`` is ``"and"``, ``"or"`` or ``"single"`` (see below); ``players`` are the labels of the players in ``T``; the
        bias and the empty OR set are not interactions and never listed. Ties keep AND before OR,
        then bitmask order.

        With ``merge_singletons`` (the default), a singleton ``{i}`` is listed once, as
        ``("single", (i,), I_and({i}) + I_or({i}))`` and ranked by that sum: a one-player AND and OR
        interaction trigger on the same subsets (SPEC §2), and how a solver splits their sum is
        arbitrary, so the list does not depend on it. The arrays are unchanged.
        """
        if self.batch_shape:
            raise ValueError(
                f"top() lists one sample's interactions, but this holds a batch of shape {self.batch_shape}; "
                f"pick a sample first, e.g. r[0].top({k})."
            )
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")
        size = 2**self.n_players - 1
        i_and, i_or = to_numpy(self.i_and).astype(np.float64), to_numpy(self.i_or).astype(np.float64)
        kinds = np.array(["and"] * size + ["or"] * size, dtype=object)
        candidates = np.arange(2 * size)
        if merge_singletons:
            i_and, i_or = singletons_merged(i_and, i_or)
            singles = (1 << np.arange(self.n_players)) - 1  # positions of the bitmasks 2**i in the [1:] arrays
            kinds[singles] = "single"
            candidates = np.delete(candidates, size + singles)  # the OR singletons are merged into the AND ones
        values = np.concatenate([i_and[1:], i_or[1:]])
        order = candidates[np.argsort(-np.abs(values[candidates]), kind="stable")[:k]]
        return [
            (str(kinds[j]), tuple(self.players[i] for i in players_of(int(j % size) + 1)), float(values[j]))
            for j in order
        ]

    def plot(
        self, kind: str | None = None, *, input: Any = None, top: int = 10, path: str | os.PathLike | None = None
    ) -> Any:
        """Draw one sample's interactions; returns a matplotlib ``Figure`` (written to ``path`` when given).

        ``kind``: ``"image"`` — the players on ``input``, the image ``(C, H, W)`` or ``(H, W)``, coloured
        by their singleton effect ``I_and({i}) + I_or({i})``, next to the ``top`` interactions
        (:func:`interprim.plot.image`); ``"text"`` — the sentence with its words coloured the same way
        and the ``top`` interactions (:func:`interprim.plot.text`); ``"bar"`` — the ``top``
        interactions, AND and OR coloured (:func:`interprim.plot.bar`; a table's players are its
        feature names). ``None`` picks by what the players cover (``meta["players"]``, set by
        :func:`interprim.explain`): image, text, else bar. Pick a sample of a batch first: ``r[0].plot()``.
        """
        from .plot import explained

        return explained.draw(self, kind, input=input, top=top, path=path)

    # --- persistence -------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (lists of floats); :meth:`from_dict` reads it back as numpy."""
        out: dict[str, Any] = {"format": _FORMAT}
        for name in _ARRAYS:
            out[name] = to_numpy(getattr(self, name)).tolist()
        out["objective"] = to_numpy(self.objective).tolist()
        out["players"] = list(self.players)
        out["meta"] = {k: (to_numpy(v).tolist() if _is_array(v) else v) for k, v in self.meta.items()}
        out["meta_arrays"] = sorted(k for k, v in self.meta.items() if _is_array(v))
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Interactions:
        """Rebuild from :meth:`to_dict` (or from the arrays :meth:`save` writes); arrays come back as numpy.

        Anything but such a dict raises ``TypeError`` (not a dict) or ``ValueError`` naming the key at fault.
        """
        return cls._from_dict(d, "d")

    @classmethod
    def _from_dict(cls, d: Any, where: str) -> Interactions:
        """:meth:`from_dict`; errors name the record as ``where``."""
        if not isinstance(d, dict):
            raise TypeError(f"{where} must be a dict written by Interactions.to_dict, got {type(d).__name__}.")
        if d.get("format") != _FORMAT:
            raise ValueError(
                f"{where} is not an interprim Interactions record: format is {d.get('format')!r}, expected {_FORMAT!r}."
            )
        missing = [key for key in (*_ARRAYS, "objective", "players") if key not in d]
        if missing:
            raise ValueError(f"{where} is not a complete Interactions record: it has no {missing}.")
        meta, arrays = d.get("meta", {}), d.get("meta_arrays", [])
        if not isinstance(meta, dict):
            raise ValueError(f"{where}['meta'] must be a dict, got {type(meta).__name__}.")
        if not isinstance(arrays, (list, tuple)) or not all(isinstance(k, str) for k in arrays):
            raise ValueError(f"{where}['meta_arrays'] must be a list of meta keys, got {arrays!r}.")
        if isinstance(d["players"], (str, bytes)) or not isinstance(d["players"], (list, tuple, np.ndarray)):
            raise ValueError(f"{where}['players'] must be a list of labels, got {d['players']!r}.")
        meta = {k: (_float_array(f"{where}['meta'][{k!r}]", v) if k in arrays else v) for k, v in meta.items()}
        return cls(
            **{name: _float_array(f"{where}[{name!r}]", d[name]) for name in _ARRAYS},
            objective=_float_array(f"{where}['objective']", d["objective"]),
            players=tuple(d["players"]),
            meta=meta,
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write to a ``.npz`` file (numpy arrays + a JSON header; no pickle), atomically."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        meta_arrays = {k: to_numpy(v) for k, v in self.meta.items() if _is_array(v)}
        meta_plain = {k: v for k, v in self.meta.items() if not _is_array(v)}
        header = {"format": _FORMAT, "players": list(self.players), "meta": meta_plain, "meta_arrays": sorted(meta_arrays)}
        try:
            header_json = json.dumps(header)
        except TypeError as e:
            raise ValueError(f"meta must hold JSON-serialisable values or arrays to be saved ({e}).") from None
        arrays = {name: to_numpy(getattr(self, name)) for name in _ARRAYS}
        arrays["objective"] = to_numpy(self.objective)
        arrays.update({f"meta.{k}": v for k, v in meta_arrays.items()})
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, header=np.array(header_json), **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Interactions:
        """Read a file written by :meth:`save`; arrays come back as numpy.

        A missing file raises ``FileNotFoundError``; any other file (empty, truncated, a ``.npy``, another
        ``.npz``...) ``ValueError`` saying what is wrong with it.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or a path, got {type(path).__name__}.")
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"path={str(path)!r} does not exist; pass a file written by Interactions.save.")
        if not path.is_file():
            raise ValueError(f"path={str(path)!r} is not a file; pass a file written by Interactions.save.")
        try:
            arrays, header = read_npz(path, "header")
            meta = header.get("meta", {})
            if isinstance(meta, dict):
                meta = {**meta, **{k[len("meta.") :]: v for k, v in arrays.items() if k.startswith("meta.")}}
            d = {**header, **{k: v for k, v in arrays.items() if not k.startswith("meta.")}, "meta": meta}
            return cls._from_dict(d, "the record")
        except (TypeError, ValueError) as e:
            reason = str(e).rstrip(".")
            raise ValueError(f"path={str(path)!r} is not a file written by Interactions.save ({reason}).") from None


def sparsity_objective(i_and: Any, i_or: Any) -> Any:
    """``Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` per sample — the sparse objective of SPEC §3.3 (P2 Eq. 4)."""
    return i_and[..., 1:].abs().sum(-1) + i_or[..., 1:].abs().sum(-1) if is_torch(i_and) else (
        np.abs(i_and[..., 1:]).sum(-1) + np.abs(i_or[..., 1:]).sum(-1)
    )


def singletons_merged(i_and: Any, i_or: Any) -> tuple[Any, Any]:
    """The interactions with each OR singleton moved into the AND singleton (SPEC §2, §4).

    ``I_and'({i}) = I_and({i}) + I_or({i})`` and ``I_or'({i}) = 0``; every other entry is unchanged.
    A one-player AND and OR interaction trigger on the same subsets (``{i} ⊆ S`` exactly when
    ``{i} ∩ S ≠ ∅``), so the reconstruction ``h`` is the same and only the arbitrary split of their
    sum is gone. ``i_and``, ``i_or``: arrays ``(..., 2**n)`` of one kind (numpy or torch); new arrays
    of that kind are returned and the inputs are not modified.
    """
    single = np.zeros(i_and.shape[-1])
    single[[1 << i for i in range(int(i_and.shape[-1]).bit_length() - 1)]] = 1.0
    single = same_kind(single, i_and)
    return i_and + i_or * single, i_or * (1 - single)


def _float_array(name: str, x: Any) -> np.ndarray:
    """``x`` as a float64 numpy array, else ``ValueError`` naming ``name``."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} cannot be read as an array of numbers ({e}).") from None


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or is_torch(x)
