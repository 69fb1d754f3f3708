"""Image games: players are spatial masks on the input image or on an intermediate feature map (SPEC §5).

``v(x_S)`` is the model's scalar output when every position of the players outside ``S`` (all
channels) takes the baseline value and everything else, the background included, is unchanged.

Where the players live decides how a masked map reaches the output (``ImageGame.path``):

- ``"input"``: the players mask the image; the whole model runs on every masked image.
- ``"split"``: the players mask the output of ``layer``, a top-level child of a
  :class:`~interprim.nn.ZooModel` or of a plain ``nn.Sequential`` (``forward`` not overridden).
  :func:`interprim.nn.split_at` cuts the model after it: the low part runs **once** on the image and
  only the high part on the masked maps (SPEC §5). A zoo model's input-shape check still applies.
- ``"hook"``: the fallback for any other module of any model: the whole model runs on copies of
  the image and a forward hook swaps the masked maps in for the module's output, so the layers
  below it run on every copy.

``layer="low"`` names the module after the model's low layers (:func:`interprim.nn.low_layers_output`:
``pool1`` for LeNet, VGG-11 and AlexNet, ``relu1`` for VGG-13/16 and ResNet-20/32, ``stage1_block3``
for ResNet-56), P1's player layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..nn.layers import low_layers_output
from ..nn.surgery import split_at
from ..nn.zoo import ZooModel
from ._model import ModelGame, as_float_tensor, eval_mode, model_device, model_dtype
from .base import DEFAULT_MEMORY_BUDGET, check_n_players
from .players import check_players, foreground_patches


def _find_layer(model: torch.nn.Module, layer: str) -> str:
    """The module name ``layer`` stands for: itself when ``model`` has it, ``"low"`` resolved."""
    if layer == "low":
        try:
            return low_layers_output(model)
        except (TypeError, ValueError) as e:
            raise ValueError(f"layer='low' is not defined for this model ({e}).") from None
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer == "" or layer not in modules:
        names = [name for name in modules if name]
        shown = ", ".join(repr(name) for name in names[:20]) + (", …" if len(names) > 20 else "")
        raise ValueError(
            f"layer={layer!r} is not a submodule of the model; choose 'low' (the module after the low layers) or "
            f"a name from model.named_modules(): {shown}."
        )
    return layer


def _check_map(out: Any, layer: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim < 3:
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"layer {layer!r} outputs {shape} per sample; an image game masks a tensor (..., H, W) with a spatial map."
        )
    return out


def _splits(model: torch.nn.Module, layer: str) -> bool:
    """Whether ``split_at(model, layer)`` computes the model: a top-level child of a plain or zoo ``Sequential``."""
    chain = type(model).forward in (torch.nn.Sequential.forward, ZooModel.forward)
    return isinstance(model, torch.nn.Sequential) and chain and layer in model._modules


class ImagePath:
    """A model cut where the players live: the unmasked maps of a batch of images, and the output on masked maps.

    ``kind`` is ``"input"``, ``"split"`` or ``"hook"`` (module docstring); ``layer`` the module name
    (``"low"`` resolved), ``None`` at the input. Call both methods under ``torch.no_grad()`` and
    :func:`~interprim.games._model.eval_mode`.
    """

    def __init__(self, model: torch.nn.Module, layer: str | None) -> None:
        self.model = model
        self.layer = None if layer is None else _find_layer(model, layer)
        self._low: torch.nn.Module | None = None  # the split path's two parts
        self._high: torch.nn.Module | None = None
        self._module: torch.nn.Module | None = None  # the hook path's module
        if self.layer is None:
            self.kind = "input"
        elif _splits(model, self.layer):
            self.kind = "split"
            self._low, self._high = split_at(model, self.layer)
        else:
            self.kind = "hook"
            self._module = model.get_submodule(self.layer)

    def low(self, images: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """``(maps, raw)``: the maps the players mask for a batch ``(B, C, H, W)`` and the model's output on it."""
        if self.kind == "input":
            return images, self.model(images)
        if self.kind == "split":
            if isinstance(self.model, ZooModel):
                self.model.check_input(images)
            maps = _check_map(self._low(images), self.layer)
            return maps, self._high(maps)
        seen: list[Any] = []
        handle = self._module.register_forward_hook(lambda module, args, out: seen.append(out))
        try:
            raw = self.model(images)
        finally:
            handle.remove()
        if len(seen) != 1:
            raise ValueError(
                f"layer {self.layer!r} ran {len(seen)} times in one forward pass; an image game masks a layer that "
                f"runs exactly once."
            )
        return _check_map(seen[0], self.layer), raw

    def high(self, maps: torch.Tensor, images: torch.Tensor | None) -> Any:
        """The model's output with ``maps`` in place of the maps of :meth:`low`.

        ``images``, one per map, feed the hook path (the other paths ignore them: pass ``None``).
        """
        if self.kind == "input":
            return self.model(maps)
        if self.kind == "split":
            return self._high(maps)

        def swap(module: torch.nn.Module, args: Any, out: Any) -> torch.Tensor:
            if not isinstance(out, torch.Tensor) or out.shape != maps.shape:
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"layer {self.layer!r} output {shape} on a batch, expected {tuple(maps.shape)}; the model must "
                    f"process every sample of a batch the same way."
                )
            return maps

        handle = self._module.register_forward_hook(swap)
        try:
            return self.model(images.contiguous())
        finally:
            handle.remove()

    def bytes_per_map(self, maps: torch.Tensor, image: torch.Tensor) -> int:
        """Bytes of one masked map (one of ``maps``), plus one copy of the ``image`` on the hook path."""
        size = maps[0].numel() * maps.element_size()
        if self.kind == "hook":
            size += image.numel() * image.element_size()
        return size


def check_baseline(baseline: Any, features: torch.Tensor, where: str) -> torch.Tensor:
    """``baseline`` as a tensor of the features' dtype and device that broadcasts to one map ``features.shape``."""
    baseline = as_float_tensor(baseline, "baseline", features.dtype, features.device)
    try:
        fits = torch.broadcast_shapes(baseline.shape, features.shape) == features.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"baseline of shape {tuple(baseline.shape)} does not broadcast to the {where}, shape "
            f"{tuple(features.shape)}; pass a scalar or a tensor of that shape."
        )
    return baseline


class ImageGame(ModelGame):
    """The game of ``n`` spatial players on an image, at the input or at the output of ``layer``.

    Args:
        model: a classifier ``(B, C, H, W) -> (B, classes)`` logits (a ``(B,)`` output is one logit).
        image: the sample, ``(C, H, W)``; cast to the model's dtype and moved to ``device``.
        players: bool ``(n, H, W)``, disjoint non-empty masks on the input, or with ``layer`` on the
            spatial size of that layer's output (see :mod:`interprim.games.players`).
        baseline: value of masked positions, a scalar or a tensor broadcastable to the image (or
            the feature map): P1 and P2 use 0.
        target: the class whose output is explained; ``None`` for the predicted class on the image.
        output: ``"log_odds"`` (default), ``"logit"`` or a callable ``(logits, target) -> (B,)``.
        layer: ``None`` (players on the input), ``"low"`` (the module after the model's low
            layers, :func:`interprim.nn.low_layers_output`) or a name from ``model.named_modules()``;
            masks the output of that module. A top-level child of a zoo model or of a plain
            ``nn.Sequential`` takes the **split path** (low layers once, at construction; only the
            high layers on the masked maps); any other module the **hook path** (module docstring).
        device: where to compute; ``None`` for the model's device (the model must already be there).
        memory_budget, batch_size: batch size of :meth:`values` (see :class:`~interprim.games.BaseGame`).

    The model runs in eval mode (each module's mode is restored afterwards). The unmasked features
    and the target are computed once, at construction. Attributes: ``path`` (``"input"``,
    ``"split"`` or ``"hook"``: which one runs), ``layer`` (the module name, ``"low"`` resolved),
    ``features`` (the unmasked map the players live on), ``players``, ``baseline``, ``target``,
    ``logits`` (of the unmasked image).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        image: Any,
        players: Any,
        baseline: Any = 0.0,
        target: int | None = None,
        output: Any = "log_odds",
        layer: str | None = None,
        device: Any = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        batch_size: int | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        device = model_device(model, device)
        image = as_float_tensor(image, "image", model_dtype(model), device)
        if image.ndim != 3:
            raise ValueError(
                f"image must have shape (C, H, W), got {tuple(image.shape)}; add a channel axis with image[None] "
                f"for a grey image."
            )
        self.image = image
        self._path = ImagePath(model, layer)
        self.path, self.layer = self._path.kind, self._path.layer
        with torch.no_grad(), eval_mode(model):
            features, raw = self._path.low(image[None])
        self.features = features[0]
        self.players = check_players(players, self.features.shape[-2:])
        super().__init__(model, self.players.shape[0], output, device, memory_budget, batch_size)
        self._resolve_target(raw, target)
        where = "image" if self.path == "input" else f"output of layer {self.layer!r}"
        self.baseline = check_baseline(baseline, self.features, where)
        self._player_matrix = self.players.reshape(self.n_players, -1).to(device=device, dtype=self.features.dtype)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one masked map, plus one copy of the image on the hook path."""
        return self._path.bytes_per_map(self.features[None], self.image)

    def masked(self, masks: Any) -> torch.Tensor:
        """The masked maps ``x_S`` for a ``(B, n)`` bool batch of masks: ``(B, *features.shape)``."""
        hidden = self._hidden(masks, self._player_matrix)
        shape = (hidden.shape[0],) + (1,) * (self.features.ndim - 2) + tuple(self.features.shape[-2:])
        return torch.where(hidden.reshape(shape), self.baseline, self.features)

    def _evaluate(self, masks: torch.Tensor) -> torch.Tensor:
        maps = self.masked(masks)
        images = self.image.expand(maps.shape[0], *self.image.shape) if self.path == "hook" else None
        with eval_mode(self.model):
            raw = self._path.high(maps, images)
        return self._scalars(raw)


def foreground_values(
    models: Sequence[torch.nn.Module],
    images: Any,
    labels: Any,
    n: int,
    count: int,
    patch: int = 4,
    seed: int = 0,
    baseline: Any = 0.0,
    progress: bool = False,
) -> tuple[torch.Tensor, list[int]]:
    """P2's input-level games of several models on the same images and players (SPEC §5).

    For each image in order, ``n`` foreground ``patch × patch`` patches are sampled with ``seed``
    (:func:`~interprim.games.foreground_patches`; images with fewer are skipped) and every model's
    :class:`ImageGame` gives the log-odds of the image's label. Stops after ``count`` images.

    Returns the values ``(len(models), count, 2**n)`` (float64, CPU) and the indices of the images used.
    """
    if not isinstance(models, Sequence) or not models or not all(isinstance(m, torch.nn.Module) for m in models):
        got = [type(m).__name__ for m in models] if isinstance(models, Sequence) else type(models).__name__
        raise TypeError(f"models must be a non-empty list of torch models, got {got}.")
    n = check_n_players(n, "n")
    if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive number of images, got {count!r}.")
    values: list[torch.Tensor] = []
    used: list[int] = []
    bar = tqdm(total=count, desc=f"games (n={n})", unit="image", disable=not progress)
    for index in range(len(images)):
        if len(used) == count:
            break
        try:
            players = foreground_patches(images[index], patch=patch, n=n, seed=seed)
        except ValueError:
            continue
        target = int(labels[index])
        values.append(torch.stack([ImageGame(m, images[index], players, baseline, target).values() for m in models]))
        used.append(index)
        bar.update(1)
    bar.close()
    if len(used) < count:
        raise ValueError(
            f"count={count}, but only {len(used)} of the {len(images)} images have {n} foreground {patch}x{patch} "
            f"patches."
        )
    return torch.stack(values, dim=1), used
