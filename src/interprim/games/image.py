"""Image games: players are spatial masks on the input image or on an intermediate feature map (SPEC §5).

``v(x_S)`` is the model's scalar output when every position of the players outside ``S`` (all
channels) takes the baseline value and everything else, the background included, is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from ._model import ModelGame, as_float_tensor, eval_mode, model_device, model_dtype
from .base import DEFAULT_MEMORY_BUDGET
from .players import check_players, foreground_patches


def _find_layer(model: torch.nn.Module, layer: str) -> torch.nn.Module:
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer == "" or layer not in modules:
        names = [name for name in modules if name]
        shown = ", ".join(repr(name) for name in names[:20]) + (", …" if len(names) > 20 else "")
        raise ValueError(
            f"layer={layer!r} is not a submodule of the model; choose a name from model.named_modules(): {shown}."
        )
    return modules[layer]


def _check_map(out: Any, layer: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim < 3:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"layer {layer!r} outputs {shape}; an image game masks a tensor (batch, ..., H, W) with a spatial map."
        )
    return out


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
        layer: a name from ``model.named_modules()``; masks the output of that module. When
            ``model`` is a plain ``nn.Sequential`` (``forward`` not overridden) and ``layer`` one of
            its top-level children, the **split path** runs ``model[:k+1]`` once on the image and
            only ``model[k+1:]`` on the masked feature maps; otherwise the **hook path** runs the
            whole model on copies of the image and a forward hook swaps the masked feature maps in
            for the layer's output.
        device: where to compute; ``None`` for the model's device (the model must already be there).
        memory_budget, batch_size: batch size of :meth:`values` (see :class:`~interprim.games.BaseGame`).

    The model runs in eval mode (each module's mode is restored afterwards). The unmasked features
    and the target are computed once, at construction. Attributes: ``path`` (``"input"``,
    ``"split"`` or ``"hook"``), ``features`` (the unmasked map the players live on), ``players``,
    ``baseline``, ``target``, ``logits`` (of the unmasked image).
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
        self.layer = layer
        self._module: torch.nn.Module | None = None
        self._high: torch.nn.Module | None = None
        if layer is None:
            self.path = "input"
        else:
            self._module = _find_layer(model, layer)
            plain = isinstance(model, torch.nn.Sequential) and type(model).forward is torch.nn.Sequential.forward
            if plain and layer in model._modules:
                self.path = "split"
                k = list(model._modules).index(layer)
                low, self._high = model[: k + 1], model[k + 1 :]
            else:
                self.path = "hook"
        with torch.no_grad(), eval_mode(model):
            if self.path == "input":
                features, raw = image, model(image[None])
            elif self.path == "split":
                features = _check_map(low(image[None]), layer)[0]
                raw = self._high(features[None])
            else:
                features, raw = self._capture(model, image)
        self.features = features
        self.players = check_players(players, features.shape[-2:])
        super().__init__(model, self.players.shape[0], output, device, memory_budget, batch_size)
        self._resolve_target(raw, target)
        self.baseline = as_float_tensor(baseline, "baseline", features.dtype, device)
        try:
            fits = torch.broadcast_shapes(self.baseline.shape, features.shape) == features.shape
        except RuntimeError:
            fits = False
        if not fits:
            where = "image" if self.path == "input" else f"output of layer {layer!r}"
            raise ValueError(
                f"baseline of shape {tuple(self.baseline.shape)} does not broadcast to the {where}, shape "
                f"{tuple(features.shape)}; pass a scalar or a tensor of that shape."
            )
        self._player_matrix = self.players.reshape(self.n_players, -1).to(device=device, dtype=features.dtype)

    def _capture(self, model: torch.nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Run the model on the image once, recording the output of ``layer`` (it must run exactly once)."""
        seen: list[Any] = []
        handle = self._module.register_forward_hook(lambda module, args, out: seen.append(out))
        try:
            raw = model(image[None])
        finally:
            handle.remove()
        if len(seen) != 1:
            raise ValueError(
                f"layer {self.layer!r} ran {len(seen)} times in one forward pass; an image game masks a layer that "
                f"runs exactly once."
            )
        return _check_map(seen[0], self.layer)[0], raw

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one masked map, plus one copy of the image on the hook path."""
        size = self.features.numel() * self.features.element_size()
        if self.path == "hook":
            size += self.image.numel() * self.image.element_size()
        return size

    def masked(self, masks: Any) -> torch.Tensor:
        """The masked maps ``x_S`` for a ``(B, n)`` bool batch of masks: ``(B, *features.shape)``."""
        hidden = self._hidden(masks, self._player_matrix)
        shape = (hidden.shape[0],) + (1,) * (self.features.ndim - 2) + tuple(self.features.shape[-2:])
        return torch.where(hidden.reshape(shape), self.baseline, self.features)

    def _evaluate(self, masks: torch.Tensor) -> torch.Tensor:
        maps = self.masked(masks)
        with eval_mode(self.model):
            if self.path == "input":
                raw = self.model(maps)
            elif self.path == "split":
                raw = self._high(maps)
            else:
                raw = self._run_hooked(maps)
        return self._scalars(raw)

    def _run_hooked(self, maps: torch.Tensor) -> Any:
        """The full model on copies of the image with the output of ``layer`` replaced by ``maps``."""

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
            return self.model(self.image.expand(maps.shape[0], *self.image.shape).contiguous())
        finally:
            handle.remove()


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
        raise ValueError(f"only {len(used)} of the {len(images)} images have {n} foreground {patch}x{patch} patches.")
    return torch.stack(values, dim=1), used
