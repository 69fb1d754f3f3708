"""Tests of the trainer (SPEC §6): SGD, one-step PGD, per-sample losses, seeds, checkpoints and resume.

Tiny models on synthetic data; expected values come from direct computations (analytic gradients of a
linear model, one sample at a time forward passes, a hand-written SGD step), never from the trainer.
"""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interprim.train import History, TrainConfig, epoch_path, evaluate, load_model_state, pgd_step, train

N_FEATURES = 4



def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two well separated classes in [0, 1]^4: class c centred at 0.3 + 0.4 c."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.3 + 0.4 * y[:, None].float() + 0.08 * torch.randn(n, N_FEATURES, generator=g)
    return x.clamp(0, 1), y


def mlp(seed: int, classes: int = 2) -> torch.nn.Module:
    """A small MLP with batch-norm and dropout, so buffers and the global RNG matter."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(16, classes),
    )


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def direct_losses(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Cross-entropy of each sample on its own (eval mode), ``logsumexp(z) - z_y`` in float64."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(len(y)):
            z = model(x[i : i + 1])[0].double()
            out.append(float(torch.logsumexp(z, 0) - z[y[i]]))
    return np.array(out)


class Interrupt(Exception):
    pass


# --- learning -------------------------------------------------------------------------------------


def test_loss_decreases_and_flipped_labels_are_the_hard_samples():
    x, y = blobs(200, seed=1)
    flipped = np.array([3, 50, 99, 120, 177])
    y_noisy = y.clone()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    xt, yt = blobs(100, seed=2)
    model = mlp(0)
    before = evaluate(model, x, y_noisy, batch_size=64)
    config = TrainConfig(epochs=8, lr=0.1, batch_size=20, seed=0)
    h = train(model, (x, y_noisy), (xt, yt), config, progress=False)
    assert h.epochs == 8 and h.sample_loss.shape == (8, 200)
    assert h.train_loss[-1] < 0.6 * before.loss
    assert h.test_acc[-1] >= 0.97
    assert set(h.hard_samples(5).tolist()) == set(flipped.tolist())
    mean = h.sample_loss.mean(0)
    assert np.all(mean[h.hard_samples(5)] >= np.delete(mean, flipped).max())


def test_same_seed_gives_identical_weights_other_seed_differs():
    x, y = blobs(64, seed=3)
    init = mlp(5)
    config = TrainConfig(epochs=2, lr=0.05, batch_size=16, seed=7)
    models = []
    for global_seed in (11, 12):  # the caller's global RNG must not matter
        torch.manual_seed(global_seed)
        model = copy.deepcopy(init)
        state = torch.get_rng_state()
        train(model, (x, y), None, config, progress=False)
        assert torch.equal(torch.get_rng_state(), state), "train changed the caller's global RNG state"
        models.append(model)
    assert same_weights(models[0], models[1])
    other = copy.deepcopy(init)
    train(other, (x, y), None, TrainConfig(epochs=2, lr=0.05, batch_size=16, seed=8), progress=False)
    assert not same_weights(models[0], other)


# --- adversarial step ---------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon, step", [(4 / 255, 4 / 255), (0.05, 0.2)])
def test_pgd_step_on_a_linear_model_follows_the_analytic_gradient(epsilon, step):
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(6, 3).double()
    x = torch.rand(40, 6, generator=g, dtype=torch.float64)
    x[:5, 0], x[5:10, 1] = 0.0, 1.0  # on the borders of [0, 1]
    y = torch.randint(0, 3, (40,), generator=g)
    x_adv = pgd_step(model, x, y, epsilon, step)

    W, b = model.weight.detach(), model.bias.detach()
    p = torch.softmax(x @ W.T + b, dim=1)
    grad = (p - F.one_hot(y, 3).double()) @ W  # ∂ CE / ∂x of a linear model
    expected = torch.minimum(torch.maximum(x + step * grad.sign(), x - epsilon), x + epsilon).clamp(0, 1)
    torch.testing.assert_close(x_adv, expected, rtol=0, atol=1e-12)
    assert float((x_adv - x).abs().max()) <= epsilon + 1e-12
    assert float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1

    def ce(z):
        return F.cross_entropy(model(z), y, reduction="none").detach()

    gain = ((x_adv - x) * grad).sum(1)  # first-order increase; CE is convex in x for a linear model
    assert torch.all(gain >= 0) and torch.all(gain > 0)
    assert torch.all(ce(x_adv) >= ce(x) + gain - 1e-12)


def test_pgd_step_restores_the_mode_and_leaves_parameter_gradients_alone():
    model = mlp(0)
    model.train()
    x, y = blobs(8, seed=0)
    before = copy.deepcopy(model.state_dict())
    pgd_step(model, x, y, 4 / 255, 4 / 255)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "batch-norm statistics changed"


def test_pgd_step_rejects_bad_input():
    model = torch.nn.Linear(3, 2)
    y = torch.zeros(2, dtype=torch.long)
    with pytest.raises(TypeError, match="integer inputs"):
        pgd_step(model, torch.zeros(2, 3, dtype=torch.long), y, 0.1, 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\] pixel units"):
        pgd_step(model, torch.full((2, 3), 2.0), y, 0.1, 0.1)
    with pytest.raises(ValueError, match="epsilon"):
        pgd_step(model, torch.zeros(2, 3), y, -0.1, 0.1)


def test_adversarial_training_takes_the_sgd_step_on_the_attacked_inputs():
    x, y = blobs(32, seed=4)
    torch.manual_seed(0)
    init = torch.nn.Linear(N_FEATURES, 2)
    lr = 0.5
    # one epoch, one full batch: w1 = w0 - lr * ∇ CE(model(x_adv)) (the first momentum step is the gradient)
    manual = copy.deepcopy(init)
    x_adv = pgd_step(manual, x, y, 0.1, 0.1)
    grads = torch.autograd.grad(F.cross_entropy(manual(x_adv), y), list(manual.parameters()))
    expected = [p.detach() - lr * g for p, g in zip(manual.parameters(), grads)]
    model = copy.deepcopy(init)
    config = TrainConfig(epochs=1, lr=lr, batch_size=32, adversarial=True, epsilon=0.1, step=0.1)
    h = train(model, (x, y), None, config, progress=False)
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h.fit_loss[0], float(F.cross_entropy(init(x_adv), y).detach()), rtol=1e-5, atol=1e-6)


def test_adversarial_with_zero_epsilon_is_clean_training():
    x, y = blobs(48, seed=5)
    init = mlp(1)
    runs = {}
    for adversarial, epsilon in ((False, 0.0), (True, 0.0), (True, 0.1)):
        model = copy.deepcopy(init)
        config = TrainConfig(epochs=2, lr=0.05, batch_size=16, adversarial=adversarial, epsilon=epsilon, step=0.1)
        train(model, (x, y), None, config, progress=False)
        runs[adversarial, epsilon] = model
    assert same_weights(runs[False, 0.0], runs[True, 0.0])
    assert not same_weights(runs[False, 0.0], runs[True, 0.1])


# --- per-sample losses, checkpoints, resume ----------------------------------------------------------


def test_per_sample_losses_and_checkpoint_files(tmp_path):
    x, y = blobs(50, seed=6)
    xt, yt = blobs(30, seed=7)
    init = mlp(2)
    model = copy.deepcopy(init)
    config = TrainConfig(epochs=3, lr=0.05, batch_size=16, checkpoint_epochs=[0, 2], seed=1)
    h = train(model, (x, y), (xt, yt), config, out_dir=tmp_path, progress=False)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0.pt", "epoch_2.pt", "history.json", "last.pt"]
    at_init = mlp(99)
    at_init.load_state_dict(load_model_state(epoch_path(tmp_path, 0)))
    assert same_weights(at_init, init)

    at_2 = mlp(99)
    at_2.load_state_dict(torch.load(tmp_path / "epoch_2.pt", weights_only=True))
    np.testing.assert_allclose(h.sample_loss[1], direct_losses(at_2, x, y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.sample_loss[2], direct_losses(model, x, y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.train_loss, h.sample_loss.mean(1), rtol=1e-12)
    with torch.no_grad():
        acc = float((model(x).argmax(1) == y).double().mean())
        test_acc = float((model(xt).argmax(1) == yt).double().mean())
    assert h.train_acc[-1] == pytest.approx(acc) and h.test_acc[-1] == pytest.approx(test_acc)
    assert h.test_loss[-1] == pytest.approx(direct_losses(model, xt, yt).mean(), rel=1e-5)

    saved = History.from_dict(json.loads((tmp_path / "history.json").read_text()))
    for name in ("train_loss", "test_acc", "fit_loss", "lr", "sample_loss"):
        np.testing.assert_array_equal(getattr(saved, name), getattr(h, name))
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["epoch"] == 3
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in last["model"].items())


@pytest.mark.parametrize("adversarial", [False, True])
def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, adversarial):
    x, y = blobs(40, seed=8)
    xt, yt = blobs(20, seed=9)
    config = TrainConfig(
        epochs=3, lr=0.05, batch_size=16, lr_schedule="cosine", adversarial=adversarial, checkpoint_epochs=[3], seed=4
    )
    init = mlp(3)
    whole = copy.deepcopy(init)
    h_whole = train(whole, (x, y), (xt, yt), config, progress=False)

    # forward calls per epoch: 3 training batches (+3 attacks) + 3 evaluation batches + 2 test batches
    per_epoch = 3 * (2 if adversarial else 1) + 3 + 2
    calls = 0

    def hook(*_):
        nonlocal calls
        calls += 1
        if calls == 2 * per_epoch + 2:  # in the middle of epoch 3
            raise Interrupt

    broken = copy.deepcopy(init)
    handle = broken.register_forward_hook(hook)
    with pytest.raises(Interrupt):
        train(broken, (x, y), (xt, yt), config, out_dir=tmp_path, progress=False)
    handle.remove()
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 2
    assert not (tmp_path / "epoch_3.pt").exists()

    resumed = mlp(123)  # other weights: resuming must load the saved ones
    h_resumed = train(resumed, (x, y), (xt, yt), config, out_dir=tmp_path, progress=False)
    assert same_weights(resumed, whole)
    for name in ("train_loss", "test_loss", "fit_loss", "lr", "sample_loss"):
        np.testing.assert_array_equal(getattr(h_resumed, name), getattr(h_whole, name))
    kept = mlp(0)
    kept.load_state_dict(load_model_state(epoch_path(tmp_path, 3)))
    assert same_weights(kept, whole)


def test_resume_extends_a_constant_lr_run_and_a_finished_run_is_returned(tmp_path):
    x, y = blobs(40, seed=10)
    init = mlp(4)
    whole = copy.deepcopy(init)
    train(whole, (x, y), None, TrainConfig(epochs=3, lr=0.05, batch_size=16), progress=False)

    model = copy.deepcopy(init)
    train(model, (x, y), None, TrainConfig(epochs=2, lr=0.05, batch_size=16), out_dir=tmp_path, progress=False)
    h = train(model, (x, y), None, TrainConfig(epochs=3, lr=0.05, batch_size=16), out_dir=tmp_path, progress=False)
    assert same_weights(model, whole) and h.epochs == 3

    again = mlp(77)
    config = TrainConfig(epochs=3, lr=0.05, batch_size=16)
    h_again = train(again, (x, y), None, config, out_dir=tmp_path, progress=False)
    assert same_weights(again, whole)
    np.testing.assert_array_equal(h_again.sample_loss, h.sample_loss)


def test_resume_rejects_a_different_run(tmp_path):
    x, y = blobs(32, seed=11)
    config = TrainConfig(epochs=2, lr=0.05, batch_size=16, lr_schedule="cosine", checkpoint_epochs=[1])
    train(mlp(0), (x, y), None, config, out_dir=tmp_path, progress=False)

    def again(model=None, data=(x, y), **changes):
        cfg = TrainConfig.from_dict({**config.to_dict(), **changes})
        train(model or mlp(0), data, None, cfg, out_dir=tmp_path, progress=False)

    with pytest.raises(ValueError, match="lr: saved 0.05, now 0.1"):
        again(lr=0.1)
    with pytest.raises(ValueError, match="cosine schedule depends on it"):
        again(epochs=3)
    with pytest.raises(ValueError, match="checkpoint_epochs"):
        again(checkpoint_epochs=[])
    with pytest.raises(ValueError, match="different train data"):
        again(data=(x + 0.001, y))
    frozen = mlp(0)
    frozen[0].weight.requires_grad_(False)
    with pytest.raises(ValueError, match="trainable parameters"):
        again(model=frozen)
    with pytest.raises(ValueError, match="different model"):
        again(model=mlp(0, classes=3))


# --- inputs of other kinds ------------------------------------------------------------------------


class TinyText(torch.nn.Module):
    """A bag-of-embeddings classifier called like a Hugging Face model: ``model(ids, mask).logits``."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 8)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> SimpleNamespace:
        m = mask.unsqueeze(-1).float()
        pooled = (self.embed(ids) * m).sum(1) / m.sum(1)
        return SimpleNamespace(logits=self.head(pooled))


def text_data(n: int, seed: int) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    ids = torch.randint(2, 10, (n, 6), generator=g)
    ids[:, 0] = y  # token 0 or 1 tells the class
    mask = torch.ones(n, 6, dtype=torch.long)
    mask[::2, 4:] = 0
    return (ids, mask), y


def test_text_inputs_as_a_tuple_and_logits_attribute():
    data, test = text_data(64, seed=0), text_data(32, seed=1)
    torch.manual_seed(0)
    model = TinyText()
    h = train(model, data, test, TrainConfig(epochs=6, lr=0.5, batch_size=16), progress=False)
    assert h.test_acc[-1] == 1.0 and h.train_loss[-1] < h.train_loss[0]
    ev = evaluate(model, *data, batch_size=10)
    with torch.no_grad():
        z = model(*data[0]).logits.double()
    direct = torch.logsumexp(z, 1) - z[torch.arange(64), data[1]]
    np.testing.assert_allclose(ev.per_sample_loss, direct.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="adversarial=True needs a single floating-point input"):
        train(TinyText(), data, None, TrainConfig(epochs=1, lr=0.1, batch_size=8, adversarial=True), progress=False)


def test_evaluate_restores_the_mode_and_checks_the_model_output():
    x, y = blobs(20, seed=12)
    model = mlp(0)
    model.train()
    loss, acc, per_sample = evaluate(model, x, y, batch_size=7)
    assert model.training
    np.testing.assert_allclose(per_sample, direct_losses(model, x, y), rtol=1e-5, atol=1e-6)
    assert loss == pytest.approx(per_sample.mean()) and 0 <= acc <= 1
    with pytest.raises(ValueError, match="labels go up to 4"):
        evaluate(mlp(0), x, torch.full((20,), 4))


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.5}, TypeError, "epochs"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"batch_size": -1}, ValueError, "batch_size"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"weight_decay": -1e-4}, ValueError, "weight_decay"),
        ({"adversarial": 1}, TypeError, "adversarial"),
        ({"epsilon": 2.0}, ValueError, "epsilon"),
        ({"step": -0.1}, ValueError, "step"),
        ({"checkpoint_epochs": 5}, TypeError, "checkpoint_epochs"),
        ({"checkpoint_epochs": [11]}, ValueError, "checkpoint_epochs"),
        ({"lr_schedule": "step"}, ValueError, "lr_schedule"),
        ({"seed": -1}, ValueError, "seed"),
        ({"device": "gpu"}, ValueError, "device"),
    ],
)
def test_bad_configs_raise(changes, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**{"epochs": 10, "lr": 0.01, "batch_size": 8, **changes})


def test_config_json_round_trip_and_schedule():
    config = TrainConfig(epochs=4, lr=0.1, batch_size=8, checkpoint_epochs=[4, 1, 1], lr_schedule="cosine", seed=3)
    assert config.checkpoint_epochs == (1, 4)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    cosine = [0.1, 0.1 * (1 + 2**-0.5) / 2, 0.05, 0.1 * (1 - 2**-0.5) / 2]  # ½(1 + cos(πe/4)), e = 0…3
    assert [config.learning_rate(e) for e in range(4)] == pytest.approx(cosine)
    assert TrainConfig(epochs=4, lr=0.1, batch_size=8).learning_rate(3) == 0.1
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({**config.to_dict(), "nesterov": True})


def test_bad_data_raise():
    x, y = blobs(10, seed=0)
    config = TrainConfig(epochs=1, lr=0.1, batch_size=4)
    cases = [
        ((x, y.float()), TypeError, "integer class indices"),
        ((x[:9], y), ValueError, "first dimension"),
        ((x, y - 1), ValueError, "≥ 0"),
        (x, TypeError, "pair"),
    ]
    for data, error, match in cases:
        with pytest.raises(error, match=match):
            train(mlp(0), data, None, config, progress=False)
    with pytest.raises(ValueError, match="needs at least 4 outputs"):
        train(mlp(0), (x, y + 2), None, config, progress=False)
    adversarial = TrainConfig(epochs=1, lr=0.1, batch_size=4, adversarial=True)
    with pytest.raises(ValueError, match="pixel units"):
        train(mlp(0), (x * 3, y), None, adversarial, progress=False)


def test_history_json_with_nan_and_hard_sample_ties():
    sample_loss = np.array([[1.0, 3.0, 3.0, 0.5], [1.0, 1.0, 1.0, 0.5]])
    h = History(
        train_loss=sample_loss.mean(1), train_acc=[0.5, 0.75], test_loss=[np.nan, np.nan], test_acc=[np.nan, np.nan],
        fit_loss=[1.0, 0.9], fit_acc=[0.5, 0.5], lr=[0.1, 0.1], sample_loss=sample_loss,
    )
    assert h.hard_samples(3).tolist() == [1, 2, 0]
    text = json.dumps(h.to_dict(), allow_nan=False)
    back = History.from_dict(json.loads(text))
    assert np.isnan(back.test_loss).all()
    np.testing.assert_array_equal(back.sample_loss, sample_loss)
    with pytest.raises(ValueError, match="k must be"):
        h.hard_samples(5)
    with pytest.raises(ValueError, match="sample_loss"):
        History(
            train_loss=[1.0], train_acc=[1.0], test_loss=[1.0], test_acc=[1.0], fit_loss=[1.0], fit_acc=[1.0],
            lr=[0.1], sample_loss=np.ones((2, 3)),
        )
