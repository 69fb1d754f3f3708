"""Games on real models (SPEC §1, §5): values equal the model on inputs masked by hand."""

import gzip
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from interprim.games import (
    FunctionGame,
    Game,
    ImageGame,
    TabularGame,
    central_grid_players,
    foreground_patches,
    log_odds,
    patch_grid,
    select,
    target_logit,
)
from interprim.nn import build, low_layers_output, split_at
from interprim.sets import subset_masks

SHARED_DATA = Path(
    os.environ.get("INTERPRIM_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)



class Counter(nn.Module):
    """Identity that counts its forward calls and the samples it saw."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.samples = 0

    def forward(self, x):
        self.calls += 1
        self.samples += x.shape[0]
        return x


def randomise(model, seed, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)
    return model


def small_cnn(seed=0):
    model = nn.Sequential(
        Counter(),
        nn.Conv2d(2, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 3),
    ).double()
    return randomise(model, seed)


def an_image(seed=1):
    return torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def hand_log_odds(logits, y):
    """log p / (1 − p) from the softmax probabilities (moderate logits only)."""
    p = torch.softmax(logits.double(), dim=-1)[..., y]
    return torch.log(p / (1 - p))


def present(s, i):
    return bool(s >> i & 1)


SUBSETS = [0, 1, 6, 13, 19, 31]


# ---------------------------------------------------------------- protocol and order


def test_values_are_in_subset_masks_order():
    n = 5
    game = FunctionGame(lambda m: (m.double() * 2.0 ** torch.arange(n)).sum(1) * 10 + m.sum(1), n)
    masks = subset_masks(n)
    expected = torch.tensor([10 * s + bin(s).count("1") for s in range(2**n)], dtype=torch.float64)
    v = game.values(progress=True)
    assert v.dtype == torch.float64 and v.shape == (2**n,)
    torch.testing.assert_close(game.values(batch_size=3), v, rtol=0, atol=0)
    torch.testing.assert_close(v, expected, rtol=0, atol=0)
    torch.testing.assert_close(game(masks), expected, rtol=0, atol=0)
    # the rows of subset_masks are the bitmasks themselves
    assert all(masks[s, i] == present(s, i) for s in range(2**n) for i in range(n))
    assert isinstance(game, Game)


def test_function_game_accepts_numpy_results_and_integer_masks():
    game = FunctionGame(lambda m: m.numpy().sum(1).astype(np.int32), 3)
    np.testing.assert_array_equal(game(np.array([[1, 0, 1], [0, 0, 0]])).numpy(), [2.0, 0.0])
    assert game(np.zeros((0, 3), dtype=bool)).shape == (0,)


# ---------------------------------------------------------------- output scalars


def test_log_odds_equals_log_p_over_one_minus_p():
    g = torch.Generator().manual_seed(0)
    for classes in (2, 3, 7):
        z = torch.randn(6, classes, generator=g, dtype=torch.float64) * 3
        for y in range(classes):
            torch.testing.assert_close(log_odds(z, y), hand_log_odds(z, y))
            torch.testing.assert_close(target_logit(z, y), z[:, y])
    z = torch.randn(5, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(log_odds(z, 0), z[:, 0] - z[:, 1])
    # a single logit is a sigmoid classifier: the log-odds of class 1 are the logit
    z1 = torch.randn(5, 1, generator=g, dtype=torch.float64)
    p = torch.sigmoid(z1[:, 0])
    torch.testing.assert_close(log_odds(z1, 1), torch.log(p / (1 - p)))
    torch.testing.assert_close(log_odds(z1, 0), torch.log((1 - p) / p))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_odds_stays_finite_for_extreme_logits(dtype):
    z = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], dtype=dtype)
    # z_y − log Σ_{c≠y} e^{z_c}, written out with the dominant term factored by hand
    expected = {
        0: [1000.0 - 0.0, -1000.0 - (1000.0 + math.log(2.0))],
        1: [-1000.0 - 1000.0, 1000.0 - 1000.0],
        2: [0.0 - 1000.0, 1000.0 - 1000.0],
    }
    for y, want in expected.items():
        got = log_odds(z, y)
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got.double(), torch.tensor(want, dtype=torch.float64), atol=1e-3, rtol=1e-6)
    assert torch.isfinite(log_odds(torch.tensor([[1000.0], [-1000.0]], dtype=dtype), 1)).all()


def test_select_and_output_errors():
    z = torch.arange(6.0).reshape(2, 3)
    torch.testing.assert_close(select(2)(z, 0), z[:, 2])
    with pytest.raises(ValueError, match="only 3 columns"):
        select(5)(z, 0)
    with pytest.raises(ValueError, match="target"):
        log_odds(z, 3)
    with pytest.raises(ValueError, match="output must be"):
        ImageGame(small_cnn(), an_image(), patch_grid(8, 8, 4), output="probability")


# ---------------------------------------------------------------- image games


@pytest.mark.parametrize("baseline", [0.0, 0.3, torch.tensor([-0.5, 0.25]).reshape(2, 1, 1)])
def test_image_game_at_the_input_equals_images_masked_by_hand(baseline):
    model, image = small_cnn(), an_image()
    players = patch_grid(8, 8, 2)[[0, 3, 5, 10, 15]]
    game = ImageGame(model, image, players, baseline=baseline)
    assert game.path == "input" and game.n_players == 5 and isinstance(game, Game)
    y = int(model(image[None]).argmax())
    assert game.target == y
    v = game.values()
    base = torch.as_tensor(baseline, dtype=torch.float64).expand_as(image)
    for s in SUBSETS:
        masked = image.clone()
        for i in range(5):
            if not present(s, i):
                masked[:, players[i]] = base[:, players[i]]
        torch.testing.assert_close(v[s], hand_log_odds(model(masked[None])[0], y), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(v[-1], hand_log_odds(model(image[None])[0], y), rtol=1e-10, atol=1e-10)


def test_explicit_target_and_logit_output():
    model, image = small_cnn(), an_image()
    players = patch_grid(8, 8, 4)
    game = ImageGame(model, image, players, target=2, output="logit")
    masked = image.clone()
    masked[:, players[1] | players[2]] = 0
    torch.testing.assert_close(game.values()[0b1001], model(masked[None])[0, 2], rtol=1e-10, atol=1e-10)


class Wrapped(nn.Module):
    """A non-Sequential model around the same layers: forces the hook path."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x)


def test_split_path_equals_hook_path_equals_features_masked_by_hand():
    model, image = small_cnn(), an_image()
    features = model[:3](image[None])[0]  # after conv + ReLU: (4, 8, 8)
    players = central_grid_players(features.shape, grid=5, n=6, seed=1)
    baseline = 0.1
    split = ImageGame(model, image, players, baseline=baseline, layer="2")
    hook = ImageGame(Wrapped(model), image, players, baseline=baseline, layer="body.2")
    assert (split.path, hook.path) == ("split", "hook")
    torch.testing.assert_close(split.features, features)
    torch.testing.assert_close(hook.features, features)
    y = int(model(image[None]).argmax())
    v_split, v_hook = split.values(), hook.values()
    torch.testing.assert_close(v_split, v_hook, rtol=1e-10, atol=1e-10)
    for s in SUBSETS + [2**6 - 1]:
        masked = features.clone()
        for i in range(6):
            if not present(s, i):
                masked[:, players[i]] = baseline
        torch.testing.assert_close(v_split[s], hand_log_odds(model[3:](masked[None])[0], y), rtol=1e-10, atol=1e-10)


class Doubled(nn.Sequential):
    """A Sequential whose forward is not the plain chain: slicing it would change the model."""

    def forward(self, x):
        return 2 * super().forward(x)


def test_a_sequential_with_its_own_forward_takes_the_hook_path():
    model, image = small_cnn(), an_image()
    doubled = Doubled(*model)
    players = patch_grid(8, 8, 4)
    game = ImageGame(doubled, image, players, layer="2", output="logit", target=0)
    assert game.path == "hook"
    masked = model[:3](image[None])
    masked[:, :, players[0] | players[2]] = 0
    torch.testing.assert_close(game.values()[0b1010], 2 * model[3:](masked)[0, 0], rtol=1e-10, atol=1e-10)


def test_split_path_runs_the_low_layers_once():
    model, image = small_cnn(), an_image()
    counter = model[0]
    game = ImageGame(model, image, patch_grid(8, 8, 4), layer="1", batch_size=3)
    game.values()
    game.values(batch_size=16)
    assert (counter.calls, counter.samples) == (1, 1)
    # the hook path runs the whole model on every batch
    hook = ImageGame(Wrapped(model), image, patch_grid(8, 8, 4), layer="body.1", batch_size=3)
    before = counter.calls
    hook.values()
    assert counter.calls - before == math.ceil(16 / 3)


def count_calls(modules):
    """Forward hooks counting the calls of each module; returns the counts and the hook handles."""
    calls = {name: 0 for name in modules}
    handles = []
    for name, module in modules.items():

        def hook(module, args, out, name=name):
            calls[name] += 1

        handles.append(module.register_forward_hook(hook))
    return calls, handles


ZOO_IMAGES = {"lenet": (1, 28), "vgg11": (1, 28), "resnet20": (1, 28), "alexnet": (3, 32)}


@pytest.mark.parametrize("name", sorted(ZOO_IMAGES))
def test_zoo_models_take_the_split_path_and_run_the_low_layers_once(name):
    """Construction plus all 2**n values run each low child once; values equal the hook path (float64)."""
    channels, size = ZOO_IMAGES[name]
    model = build(name, in_channels=channels, input_size=size, seed=0).double().eval()
    image = torch.rand(channels, size, size, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    layer = low_layers_output(model)
    children = dict(model.named_children())
    cut = list(children).index(layer) + 1
    features = split_at(model, layer)[0](image[None])[0]
    players = central_grid_players(features.shape, grid=5, n=4, seed=0)
    calls, handles = count_calls(children)
    try:
        game = ImageGame(model, image, players, layer="low", batch_size=5)
        v = game.values()
    finally:
        for handle in handles:
            handle.remove()
    assert (game.path, game.layer) == ("split", layer)
    assert all(calls[child] == 1 for child in list(children)[:cut])
    assert calls[list(children)[cut]] == 1 + math.ceil(16 / 5)  # the unmasked map, then the batches
    torch.testing.assert_close(game.features, features, rtol=0, atol=0)
    hook = ImageGame(Wrapped(model), image, players, layer=f"body.{layer}")
    assert hook.path == "hook"
    torch.testing.assert_close(v, hook.values(), rtol=1e-10, atol=1e-10)


def test_zoo_split_path_keeps_the_input_check_and_nested_names_take_the_hook_path():
    model = build("resnet20", in_channels=1, input_size=28, seed=0).double().eval()
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError, match=r"resnet20: expected images of shape \(B, 1, 28, 28\)"):
        ImageGame(model, torch.rand(3, 28, 28, dtype=torch.float64), patch_grid(28, 28, 14), layer="relu1")
    nested = ImageGame(model, image, patch_grid(28, 28, 14), layer="stage1_block0.conv2", output="logit", target=1)
    split = ImageGame(model, image, patch_grid(28, 28, 14), layer="stage1_block0", output="logit", target=1)
    assert (nested.path, split.path) == ("hook", "split")
    masked = model[:4](image[None])  # through stage1_block0
    masked[:, :, 14:, :] = 0  # players 2 and 3 absent
    torch.testing.assert_close(split.values()[0b0011], model[4:](masked)[0, 1], rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="layer='low' is not defined"):
        ImageGame(Wrapped(model), image, patch_grid(28, 28, 14), layer="low")


def test_batching_with_a_memory_budget_gives_the_same_values():
    model, image = small_cnn(), an_image()
    players = patch_grid(8, 8, 2)[[1, 4, 6, 9, 12]]
    reference = ImageGame(model, image, players).values()
    one_byte = ImageGame(model, image, players, memory_budget=1)
    assert one_byte.default_batch_size() == 1
    per_sample = image.numel() * 8
    assert one_byte.bytes_per_sample == per_sample
    budget = ImageGame(model, image, players, memory_budget=5 * per_sample + 7)
    counter = model[0]
    before = counter.calls
    v = budget.values()
    assert counter.calls - before == math.ceil(32 / 5)
    torch.testing.assert_close(v, reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(one_byte.values(), reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(budget.values(batch_size=7), reference, rtol=1e-12, atol=1e-12)


def test_model_runs_in_eval_mode_and_its_modes_are_restored():
    model = randomise(
        nn.Sequential(
            nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Dropout(0.5), nn.Flatten(), nn.Linear(192, 2)
        ).double(),
        seed=3,
    )
    model[1].running_mean.uniform_(-1, 1)
    model[1].running_var.uniform_(0.5, 2)
    model.train()
    model[2].eval()  # a mixed state must come back as it was
    image, players = an_image(), patch_grid(8, 8, 4)
    game = ImageGame(model, image, players, layer="1")
    v = game.values()
    assert model.training and model[0].training and model[1].training and not model[2].training
    torch.testing.assert_close(v, game.values(), rtol=0, atol=0)
    model.eval()
    masked = model[:2](image[None])
    masked[:, :, players[0] | players[3]] = 0
    want = hand_log_odds(model[2:](masked)[0], game.target)
    torch.testing.assert_close(v[0b0110], want, rtol=1e-10, atol=1e-10)


def test_image_game_bad_inputs_raise_clear_errors():
    model, image = small_cnn(), an_image()
    players = patch_grid(8, 8, 4)
    overlapping = players.clone()
    overlapping[1, 0, 0] = True
    with pytest.raises(ValueError, match=r"players \[0, 1\] overlap"):
        ImageGame(model, image, overlapping)
    empty = players.clone()
    empty[2] = False
    with pytest.raises(ValueError, match=r"players \[2\] are empty"):
        ImageGame(model, image, empty)
    with pytest.raises(ValueError, match=r"\(n, 8, 8\)"):
        ImageGame(model, image, patch_grid(6, 6, 3))
    with pytest.raises(ValueError, match="bool"):
        ImageGame(model, image, players.float())
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        ImageGame(model, image[0], players)
    with pytest.raises(ValueError, match="'conv9' is not a submodule.*'1'"):
        ImageGame(model, image, players, layer="conv9")
    with pytest.raises(ValueError, match="out of range"):
        ImageGame(model, image, torch.zeros(25, 8, 8, dtype=torch.bool))
    with pytest.raises(TypeError, match="baseline must be a number"):
        ImageGame(model, image, players, baseline="mean")
    with pytest.raises(ValueError, match="does not broadcast"):
        ImageGame(model, image, players, baseline=torch.zeros(3))
    with pytest.raises(ValueError, match="target must be"):
        ImageGame(model, image, players, target=3)
    with pytest.raises(ValueError, match="usable torch device"):
        ImageGame(model, image, players, device="nonsense")
    with pytest.raises(ValueError, match="layer '5' outputs"):
        ImageGame(model, image, players, layer="5")  # the Flatten output has no spatial map
    with pytest.raises(ValueError, match="NaN"):
        ImageGame(model, image * float("nan"), players)
    game = ImageGame(model, image, players)
    with pytest.raises(ValueError, match=r"shape \(B, n_players\) = \(B, 4\)"):
        game(torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        game(torch.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="batch_size"):
        game.values(batch_size=0)
    with pytest.raises(ValueError, match="n=25 is out of range"):
        FunctionGame(lambda m: m.sum(1), 25)
    with pytest.raises(ValueError, match="memory_budget"):
        ImageGame(model, image, players, memory_budget=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_image_game_on_cuda_matches_cpu():
    model, image = small_cnn(), an_image()
    players = central_grid_players((8, 8), n=6)
    cpu = ImageGame(model, image, players, layer="2").values()
    cuda = ImageGame(model.to("cuda"), image, players, layer="2").values()
    assert cuda.device.type == "cpu"
    torch.testing.assert_close(cuda, cpu, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- players


def test_patch_grid_tiles_the_region_once():
    masks = patch_grid(10, 12, (2, 3), region=(2, 0, 8, 12))
    assert masks.shape == (3 * 4, 10, 12)
    cover = masks.sum(0)
    assert (cover[2:8] == 1).all() and (cover[:2] == 0).all() and (cover[8:] == 0).all()
    assert all(int(m.sum()) == 6 for m in masks)
    assert masks[1, 2, 3] and masks[4, 4, 0]  # row-major: second patch of the first row, first of the second
    with pytest.raises(ValueError, match="whole number"):
        patch_grid(10, 10, 4)


def test_central_grid_players_exclude_the_edges():
    players = central_grid_players((16, 13, 12), grid=5, n=10, seed=3, margin=1)
    assert players.shape == (10, 13, 12) and players.dtype == torch.bool
    cover = players.sum(0)
    assert cover.max() == 1
    assert cover[0].sum() == 0 and cover[-1].sum() == 0 and cover[:, 0].sum() == 0 and cover[:, -1].sum() == 0
    # the 25 cells tile the 11x10 centre: heights/widths of 2 or 3 and 2
    sizes = players.reshape(10, -1).sum(1)
    assert set(sizes.tolist()) <= {4, 6}
    torch.testing.assert_close(players, central_grid_players((13, 12), n=10, seed=3))
    assert not torch.equal(players, central_grid_players((13, 12), n=10, seed=4))
    every = central_grid_players((13, 12), grid=4, n=16)
    assert (every.sum(0)[1:-1, 1:-1] == 1).all()
    with pytest.raises(ValueError, match="do not fit"):
        central_grid_players((13, 12), grid=4, n=17)
    with pytest.raises(ValueError, match="too small"):
        central_grid_players((6, 6), grid=5, margin=1)


def test_foreground_patches_choose_bright_patches():
    image = torch.zeros(1, 16, 16)
    bright = [0, 2, 5, 7, 8, 10, 13, 15, 1, 4, 11, 14]  # 12 of the 16 4x4 patches
    grid = patch_grid(16, 16, 4)
    for k in bright:
        image[0, grid[k]] = 1.0
    image[0, grid[3]] = 0.05  # dim: below 10 % of the range
    players = foreground_patches(image, patch=4, n=10, seed=0)
    chosen = [int(torch.nonzero((grid == p).all((1, 2)))[0]) for p in players]
    assert len(set(chosen)) == 10 and set(chosen) <= set(bright) and chosen == sorted(chosen)
    assert not torch.equal(players, foreground_patches(image, n=10, seed=1))
    with pytest.raises(ValueError, match="only 12 of the 16"):
        foreground_patches(image, n=13)


def test_foreground_patches_on_real_mnist_threes():
    folder = SHARED_DATA / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST test split not found in {folder} (set INTERPRIM_SHARED_DATA)")
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    threes = images[labels == 3][:12] / 255.0
    patch_means = threes.reshape(-1, 7, 4, 7, 4).mean((2, 4))
    cut = threes.min((1, 2)) + 0.1 * (threes.max((1, 2)) - threes.min((1, 2)))
    counts = (patch_means > cut[:, None, None]).sum((1, 2))
    assert (counts >= 10).sum() >= 8 and (counts < 10).any()  # the data holds both cases
    for image, count in zip(threes, counts, strict=True):
        x = torch.tensor(image)[None]
        if count < 10:
            with pytest.raises(ValueError, match=f"only {count} of the 49 4x4 patches"):
                foreground_patches(x, patch=4, n=10, seed=0)
            continue
        players = foreground_patches(x, patch=4, n=10, seed=0)
        assert players.shape == (10, 28, 28) and players.sum(0).max() == 1
        assert min(float(x[0][p].mean()) for p in players) > 0.1 * image.max()
        # normalising the image does not change the choice
        torch.testing.assert_close(foreground_patches((x - 0.1307) / 0.3081, n=10, seed=0), players)


# ---------------------------------------------------------------- tabular games


def test_tabular_game_equals_samples_masked_by_hand():
    model = randomise(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double(), seed=5)
    g = torch.Generator().manual_seed(6)
    data = torch.randn(40, 6, generator=g, dtype=torch.float64)
    x = data[0] * 2
    groups = [[0, 1], [2], [4, 5]]  # column 3 is in no group and stays as it is
    game = TabularGame(model, x, groups, data=data)
    assert isinstance(game, Game) and game.n_players == 3
    y = int(model(x[None]).argmax())
    v = game.values()
    for s in range(8):
        xs = x.clone()
        for i, columns in enumerate(groups):
            if not present(s, i):
                xs[columns] = data[:, columns].mean(0)
        torch.testing.assert_close(v[s], hand_log_odds(model(xs[None])[0], y), rtol=1e-10, atol=1e-10)
    zero = TabularGame(model, x, groups, baseline=torch.zeros(6), target=1, output="logit")
    xs = x.clone()
    xs[[2, 4, 5]] = 0
    torch.testing.assert_close(zero.values()[0b001], model(xs[None])[0, 1], rtol=1e-10, atol=1e-10)


def test_tabular_game_with_a_single_logit_model():
    model = randomise(nn.Sequential(nn.Linear(4, 1), nn.Flatten(0)).double(), seed=7)
    x = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    game = TabularGame(model, x, [0, 1, [2, 3]], baseline=0.0, target=1)
    w = model[0].weight[0].detach()
    b = float(model[0].bias.detach())
    expected = torch.tensor(
        [
            b + sum(float(w[c] * x[c]) for i, cols in enumerate([[0], [1], [2, 3]]) if present(s, i) for c in cols)
            for s in range(8)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(game.values(), expected, rtol=1e-12, atol=1e-12)


def test_tabular_game_bad_inputs():
    model = nn.Linear(4, 2).double()
    x = torch.zeros(4)
    with pytest.raises(ValueError, match="column 1 is in groups 0 and 1"):
        TabularGame(model, x, [[0, 1], [1, 2]], baseline=0.0)
    with pytest.raises(ValueError, match="column 4"):
        TabularGame(model, x, [[0], [4]], baseline=0.0)
    with pytest.raises(ValueError, match="needs data"):
        TabularGame(model, x, [[0], [1]])
    with pytest.raises(ValueError, match=r"\(m, 4\)"):
        TabularGame(model, x, [[0], [1]], data=torch.zeros(5, 3))
    with pytest.raises(ValueError, match="non-empty"):
        TabularGame(model, x, [[0], []], baseline=0.0)
    with pytest.raises(ValueError, match="x must be one sample"):
        TabularGame(model, torch.zeros(2, 4), [[0]], baseline=0.0)
