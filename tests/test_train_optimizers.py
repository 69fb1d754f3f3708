"""Tests of the trainer's optimisers and schedules (AdamW, the linear warm-up/decay schedule) and of the
dynamic padding of right-padded text batches.

Expected values come from direct formulas and hand-written training loops, never from the trainer:
the learning rate of a step from the written-out warm-up/decay formula, the weights of an AdamW run
from ``torch.optim.AdamW`` driven step by step on the same batches.
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interprim.train import TrainConfig, train
from interprim.train._data import as_tensor_data

LR = 0.05


class Interrupt(Exception):
    pass


def linear_lr(lr: float, epochs: int, steps_per_epoch: int, warmup: float) -> list[float]:
    """The learning rate of every optimiser step of the ``"linear"`` schedule, written out directly.

    ``W = warmup · T`` of the ``T = epochs · steps_per_epoch`` steps warm up (``W`` must be an integer):
    step ``t < W`` uses ``lr · (t + 1) / W`` (so the first step is not wasted at 0 and step ``W − 1``
    reaches ``lr``), step ``t ≥ W`` uses ``lr · (T − t) / (T − W)`` (``lr`` at ``t = W``, down to
    ``lr / (T − W)`` at the last step)."""
    total = epochs * steps_per_epoch
    w = Fraction(str(warmup)) * total
    assert w.denominator == 1, "the direct formula is written for a whole number of warm-up steps"
    w = int(w)
    return [lr * (t + 1) / w if t < w else lr * (total - t) / (total - w) for t in range(total)]


def schedule(config: TrainConfig, steps_per_epoch: int) -> list[float]:
    """``config.learning_rate`` of every step, in order."""
    return [config.learning_rate(e, s, steps_per_epoch) for e in range(config.epochs) for s in range(steps_per_epoch)]


# --- the linear schedule ----------------------------------------------------------------------------

# (epochs, steps_per_epoch, warmup) where warmup · epochs · steps_per_epoch is a whole number of steps
WHOLE_WARMUP = [
    (epochs, steps, warmup)
    for epochs in (1, 2, 3)
    for steps in (1, 4, 5, 10)
    for warmup in (0.0, 0.1, 0.2, 0.25, 0.5, 0.75)
    if (Fraction(str(warmup)) * epochs * steps).denominator == 1
]


@pytest.mark.parametrize("epochs, steps, warmup", WHOLE_WARMUP)
def test_linear_schedule_equals_the_direct_formula(epochs, steps, warmup):
    config = TrainConfig(epochs=epochs, lr=LR, batch_size=8, lr_schedule="linear", warmup=warmup)
    got = schedule(config, steps)
    expected = linear_lr(LR, epochs, steps, warmup)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert all(v > 0 for v in got)
    assert max(got) == pytest.approx(LR, rel=1e-12)
    warm = round(warmup * epochs * steps)
    # the maximum is reached exactly at the end of the warm-up (step 0 without warm-up), not before
    assert got.index(max(got)) == max(warm - 1, 0)
    assert all(v < LR * (1 - 1e-9) for v in got[: max(warm - 1, 0)])


def test_linear_schedule_without_warmup_starts_at_full_lr_and_decays_to_one_step():
    config = TrainConfig(epochs=2, lr=0.1, batch_size=8, lr_schedule="linear")
    assert config.learning_rate(0, 0, 5) == pytest.approx(0.1)
    assert config.learning_rate(1, 4, 5) == pytest.approx(0.1 / 10)
    assert schedule(config, 5) == pytest.approx([0.1 * (10 - t) / 10 for t in range(10)])
    # steps_per_epoch defaults to 1: one step per epoch
    assert [config.learning_rate(e) for e in range(2)] == pytest.approx([0.1, 0.05])


def test_linear_schedule_never_exceeds_lr_and_peaks_at_the_end_of_warmup():
    """For any warm-up fraction — also when ``warmup · T`` is not a whole number of steps, as with
    ``models.WARMUP = 0.1`` of an SST-2 run (1053 steps per epoch) — the rate stays in ``(0, lr]``,
    rises to ``lr`` at the end of the warm-up, then decays."""
    problems = []
    for epochs in (1, 2, 3):
        for steps in (1, 3, 7, 10, 1053):
            for warmup in (0.05, 0.1, 0.25, 0.3, 0.9):
                config = TrainConfig(epochs=epochs, lr=LR, batch_size=8, lr_schedule="linear", warmup=warmup)
                got = np.array(schedule(config, steps))
                peak = int(got.argmax())
                where = f"epochs={epochs}, steps_per_epoch={steps}, warmup={warmup}"
                if not (got > 0).all():
                    problems.append(f"{where}: step {int(got.argmin())} has lr {got.min()}")
                if got.max() > LR * (1 + 1e-12) or got.max() < LR * (1 - 1e-12):
                    problems.append(f"{where}: the largest lr is {got.max()} (step {peak}), not lr = {LR}")
                if not ((np.diff(got[: peak + 1]) >= 0).all() and (np.diff(got[peak:]) <= 0).all()):
                    problems.append(f"{where}: the lr does not rise to step {peak} and then fall")
                if abs((peak + 1) - warmup * epochs * steps) > 1:  # the peak ends the warm-up
                    problems.append(f"{where}: peak at step {peak}, the warm-up is {warmup * epochs * steps} steps")
    assert not problems, f"{len(problems)} bad schedules, e.g.:\n" + "\n".join(problems[:12])


@pytest.mark.parametrize(
    "changes, error, field",
    [
        ({"warmup": 0.1}, ValueError, "warmup"),  # lr_schedule "none"
        ({"warmup": 0.1, "lr_schedule": "cosine"}, ValueError, "warmup"),
        ({"warmup": 1.0, "lr_schedule": "linear"}, ValueError, "warmup"),
        ({"warmup": -0.1, "lr_schedule": "linear"}, ValueError, "warmup"),
        ({"warmup": float("nan"), "lr_schedule": "linear"}, ValueError, "warmup"),
        ({"warmup": "0.1", "lr_schedule": "linear"}, TypeError, "warmup"),
        ({"optimizer": "adam"}, ValueError, "optimizer"),
        ({"optimizer": "AdamW"}, ValueError, "optimizer"),
        ({"lr_schedule": "Linear"}, ValueError, "lr_schedule"),
    ],
)
def test_bad_optimizer_and_schedule_settings_raise_naming_the_field(changes, error, field):
    with pytest.raises(error, match=field):
        TrainConfig(**{"epochs": 3, "lr": 0.01, "batch_size": 8, **changes})


def test_new_fields_round_trip_through_json_dict():
    config = TrainConfig(epochs=3, lr=0.01, batch_size=8, optimizer="adamw", lr_schedule="linear", warmup=0.25)
    d = config.to_dict()
    assert (d["optimizer"], d["lr_schedule"], d["warmup"]) == ("adamw", "linear", 0.25)
    assert TrainConfig.from_dict(d) == config


# --- AdamW in the trainer -----------------------------------------------------------------------


def linear_data(n: int = 30, features: int = 5, classes: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, features, generator=g), torch.randint(0, classes, (n,), generator=g)


def linear_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Linear(5, 3)


def hand_adamw(model, x, y, config: TrainConfig, lrs: list[float] | None) -> list[float]:
    """Train ``model`` with ``torch.optim.AdamW`` (not fused) on the trainer's batches: a generator
    seeded with ``config.seed``; per epoch one seed drawn for the global RNG, then a permutation.
    ``lrs``: the learning rate of every step (``None``: constant ``config.lr``). Returns the lrs used."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    used, t = [], 0
    for _ in range(config.epochs):
        torch.randint(0, 2**63 - 1, (), generator=generator)  # the epoch's seed of the global RNG
        order = torch.randperm(len(y), generator=generator)
        for index in order.split(config.batch_size):
            lr = config.lr if lrs is None else lrs[t]
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            used.append(lr)
            t += 1
    return used


def max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adamw_with_linear_schedule_equals_a_hand_written_adamw_loop(weight_decay):
    x, y = linear_data()
    config = TrainConfig(
        epochs=2, lr=LR, batch_size=8, optimizer="adamw", lr_schedule="linear", warmup=0.25,
        weight_decay=weight_decay, seed=3,
    )  # fmt: skip
    steps = math.ceil(30 / 8)  # 4 steps per epoch (the last of 6 samples), 8 in all, 2 of warm-up
    lrs = linear_lr(LR, 2, steps, 0.25)
    assert lrs == pytest.approx([LR / 2, LR, LR, LR * 5 / 6, LR * 4 / 6, LR * 3 / 6, LR * 2 / 6, LR / 6])

    init = linear_model(0)
    model = copy.deepcopy(init)
    history = train(model, (x, y), None, config, progress=False)
    expected = copy.deepcopy(init)
    hand_adamw(expected, x, y, config, lrs)
    assert max_difference(model, expected) < 1e-6
    assert max_difference(model, init) > 0.05  # it did train

    # the schedule and the optimiser matter: constant-lr AdamW, and SGD, end elsewhere
    constant = copy.deepcopy(init)
    hand_adamw(constant, x, y, config, None)
    assert max_difference(model, constant) > 1e-3
    sgd = copy.deepcopy(init)
    sgd_config = TrainConfig.from_dict({**config.to_dict(), "optimizer": "sgd"})
    train(sgd, (x, y), None, sgd_config, progress=False)
    assert max_difference(model, sgd) > 1e-3

    # history.lr holds the lr of the first step of each epoch
    np.testing.assert_allclose(history.lr, [lrs[0], lrs[steps]], rtol=1e-12)
    np.testing.assert_allclose(history.lr, [LR / 2, LR * 4 / 6], rtol=1e-12)


def test_history_lr_is_the_first_step_of_each_epoch_for_every_schedule():
    x, y = linear_data(n=20)
    steps = 3  # batches of 7, 7, 6
    for schedule_name, warmup in (("none", 0.0), ("cosine", 0.0), ("linear", 0.0), ("linear", 0.5)):
        config = TrainConfig(epochs=4, lr=0.1, batch_size=7, lr_schedule=schedule_name, warmup=warmup)
        history = train(linear_model(1), (x, y), None, config, progress=False)
        expected = {
            "none": [0.1] * 4,
            "cosine": [0.1 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)],
        }.get(schedule_name)
        if expected is None:
            expected = [linear_lr(0.1, 4, steps, warmup)[e * steps] for e in range(4)]
        np.testing.assert_allclose(history.lr, expected, rtol=1e-12, err_msg=f"{schedule_name}, warmup {warmup}")


def test_adamw_checkpoint_holds_adamw_state_with_the_config_settings(tmp_path):
    x, y = linear_data()
    config = TrainConfig(epochs=1, lr=LR, batch_size=8, optimizer="adamw", weight_decay=0.02)
    train(linear_model(0), (x, y), None, config, out_dir=tmp_path, progress=False)
    saved = torch.load(tmp_path / "last.pt", weights_only=True)["optimizer"]
    group = saved["param_groups"][0]
    assert tuple(group["betas"]) == (0.9, 0.999)
    assert group["weight_decay"] == 0.02 and group["lr"] == LR
    assert "amsgrad" in group  # an Adam-family optimiser, not SGD
    state = next(iter(saved["state"].values()))
    assert {"exp_avg", "exp_avg_sq", "step"} <= set(state)
    try:  # fused where this torch build has the CPU kernel
        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=0.1, fused=True)
        fused = True
    except (RuntimeError, TypeError):
        fused = False
    assert bool(group.get("fused")) == fused


# --- resuming AdamW runs ----------------------------------------------------------------------------


def test_linear_schedule_run_resumes_after_an_interruption_and_refuses_other_epochs(tmp_path):
    x, y = linear_data()
    config = TrainConfig(epochs=2, lr=LR, batch_size=8, optimizer="adamw", lr_schedule="linear", warmup=0.25, seed=5)
    init = linear_model(2)
    whole = copy.deepcopy(init)
    h_whole = train(whole, (x, y), None, config, progress=False)

    per_epoch = 4 + 4  # 4 training batches + 4 evaluation batches of 8
    calls = 0

    def hook(*_):
        nonlocal calls
        calls += 1
        if calls == per_epoch + 2:  # in the middle of epoch 2
            raise Interrupt

    broken = copy.deepcopy(init)
    handle = broken.register_forward_hook(hook)
    with pytest.raises(Interrupt):
        train(broken, (x, y), None, config, out_dir=tmp_path, progress=False)
    handle.remove()
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1

    # another number of epochs changes every step's lr under "linear": refused, the model left untouched
    other = linear_model(9)
    before = copy.deepcopy(other.state_dict())
    longer = TrainConfig.from_dict({**config.to_dict(), "epochs": 3})
    with pytest.raises(ValueError, match=r"epochs: saved 2, now 3 \(the linear schedule depends on it\)"):
        train(other, (x, y), None, longer, out_dir=tmp_path, progress=False)
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in before.items())
    for field, value in (("warmup", 0.5), ("optimizer", "sgd"), ("lr_schedule", "cosine")):
        changed = {**config.to_dict(), field: value}
        if field == "lr_schedule":
            changed["warmup"] = 0.0
        with pytest.raises(ValueError, match=field):
            train(linear_model(9), (x, y), None, TrainConfig.from_dict(changed), out_dir=tmp_path, progress=False)

    resumed = linear_model(123)  # other weights: resuming must load the saved ones
    h_resumed = train(resumed, (x, y), None, config, out_dir=tmp_path, progress=False)
    assert max_difference(resumed, whole) == 0.0
    for name in ("train_loss", "fit_loss", "lr", "sample_loss"):
        np.testing.assert_array_equal(getattr(h_resumed, name), getattr(h_whole, name))


def test_constant_lr_adamw_run_is_extended_with_its_optimizer_state(tmp_path):
    x, y = linear_data()
    one, two = (TrainConfig(epochs=e, lr=LR, batch_size=8, optimizer="adamw", seed=1) for e in (1, 2))
    init = linear_model(4)
    whole = copy.deepcopy(init)
    train(whole, (x, y), None, two, progress=False)

    model = copy.deepcopy(init)
    train(model, (x, y), None, one, out_dir=tmp_path, progress=False)
    h = train(linear_model(50), (x, y), None, two, out_dir=tmp_path, progress=False)
    assert h.epochs == 2
    extended = linear_model(50)
    extended.load_state_dict(torch.load(tmp_path / "last.pt", weights_only=True)["model"])
    assert max_difference(extended, whole) == 0.0

    # a fresh AdamW in epoch 2 (state lost) would end elsewhere: the saved moments matter
    fresh = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(fresh.parameters(), lr=LR, weight_decay=0.0)
    generator = torch.Generator().manual_seed(1)
    for _ in range(2):
        torch.randint(0, 2**63 - 1, (), generator=generator)
        order = torch.randperm(30, generator=generator)
    for index in order.split(8):
        loss = F.cross_entropy(fresh(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert max_difference(fresh, whole) > 1e-4


# --- dynamic padding of right-padded text ---------------------------------------------------------


def padded_text(lengths: list[int], width: int, vocab: int = 50, seed: int = 0):
    """Right-padded ``(input_ids, attention_mask)`` of sentences of ``lengths`` tokens in ``width`` columns:
    ids in ``[5, vocab)`` (``[CLS]`` = 2 first, ``[SEP]`` = 3 last), 0 after them."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, k in enumerate(lengths):
        ids[i, :k] = torch.randint(5, vocab, (k,), generator=g)
        ids[i, 0], ids[i, k - 1] = 2, 3
        mask[i, :k] = 1
    return ids, mask


def test_as_tensor_data_marks_only_right_padded_integer_text():
    ids, mask = padded_text([3, 5, 2, 6], width=8)
    labels = torch.tensor([0, 1, 0, 1])
    assert as_tensor_data((ids, mask), labels).padded
    assert as_tensor_data((ids, mask, torch.zeros_like(ids)), labels).padded  # with token_type_ids
    assert as_tensor_data((ids, torch.ones_like(mask)), labels).padded  # nothing to cut, still text
    assert as_tensor_data([ids.int(), mask.bool().long()], labels).padded

    not_padded = {
        "float ids": (ids.float(), mask),
        "float mask": (ids, mask.float()),
        "mask with a 2": (ids, torch.where(mask.bool(), 2, 0)),
        "mask with one 2": (ids, mask.index_put((torch.tensor([1]), torch.tensor([0])), torch.tensor(2))),
        "left-padded mask": (ids, mask.flip(1)),
        "a hole in the mask": (ids, torch.tensor([[1, 0, 1, 0, 0, 0, 0, 0]] * 4)),
        "mask of another shape": (ids, mask[:, :6]),
        "3-D ids": (ids[:, :, None].expand(4, 8, 2), mask[:, :, None].expand(4, 8, 2)),
    }
    for name, inputs in not_padded.items():
        assert not as_tensor_data(inputs, labels).padded, name
    assert not as_tensor_data(ids, labels).padded  # a single tensor
    assert not as_tensor_data((ids,), labels).padded  # a 1-tuple
    assert not as_tensor_data(torch.rand(4, 8), labels).padded


def test_take_cuts_each_batch_to_its_longest_sentence():
    ids, mask = padded_text([3, 5, 2, 6, 1, 4], width=10)
    types = torch.arange(60).reshape(6, 10)
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    data = as_tensor_data((ids, mask, types), labels)
    for rows, length in (([0, 2], 3), ([2, 4], 2), ([1, 3, 5], 6), ([4], 1), ([5, 0, 1], 5)):
        index = torch.tensor(rows)
        (got_ids, got_mask, got_types), got_labels = data.take(index, torch.device("cpu"))
        assert got_ids.shape == got_mask.shape == got_types.shape == (len(rows), length)
        assert torch.equal(got_ids, ids[index, :length])
        assert torch.equal(got_mask, mask[index, :length])
        assert torch.equal(got_types, types[index, :length])
        assert torch.equal(got_labels, labels[index])
        # only padding was cut: every real token is kept
        assert torch.equal(got_mask.sum(1), mask[index].sum(1))

    # data that is not right-padded keeps every column
    plain = as_tensor_data((ids, mask.flip(1)), labels)
    (kept, _), _ = plain.take(torch.tensor([0, 2]), torch.device("cpu"))
    assert kept.shape == (2, 10)
    # an all-padding batch keeps one column rather than none
    empty = as_tensor_data((ids, mask * torch.tensor([[1], [1], [0], [1], [1], [1]])), labels)
    (one, _), _ = empty.take(torch.tensor([2]), torch.device("cpu"))
    assert one.shape == (1, 1)


def test_tiny_bert_trains_the_same_on_longer_padding():
    pytest.importorskip("transformers", reason="bert_tiny needs the optional dependency transformers")
    from interprim.nn import bert_tiny

    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 9, (16,), generator=g).tolist()
    ids, mask = padded_text(lengths, width=max(lengths), seed=1)
    labels = torch.randint(0, 2, (16,), generator=g)
    long_ids, long_mask = (torch.cat([t, torch.zeros(16, 10, dtype=torch.long)], dim=1) for t in (ids, mask))
    config = TrainConfig(epochs=1, lr=1e-3, batch_size=4, optimizer="adamw", lr_schedule="linear", warmup=0.25, seed=2)

    widths = []
    runs = {}
    for name, inputs in (("tight", (ids, mask)), ("long", (long_ids, long_mask))):
        model = bert_tiny(num_labels=2, vocab_size=50, seed=0)
        handle = model.register_forward_pre_hook(lambda _m, args: widths.append(args[0].shape[1]))
        runs[name] = (model, train(model, (inputs, labels), None, config, progress=False))
        handle.remove()
    assert max(widths) <= max(lengths)  # the 10 extra columns never reach the model
    (tight_model, tight), (long_model, long) = runs["tight"], runs["long"]
    for curve in ("fit_loss", "train_loss", "sample_loss"):
        np.testing.assert_allclose(getattr(long, curve), getattr(tight, curve), rtol=0, atol=1e-5, err_msg=curve)
    assert max_difference(long_model, tight_model) < 1e-5

    # the per-sample losses equal a forward pass on the whole, uncut, long-padded data (eval mode)
    long_model.eval()
    with torch.no_grad():
        z = long_model(long_ids, long_mask).logits.double()
    direct = (torch.logsumexp(z, 1) - z[torch.arange(16), labels]).numpy()
    np.testing.assert_allclose(long.sample_loss[0], direct, rtol=0, atol=1e-5)
