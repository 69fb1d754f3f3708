"""image_values and text_values: the (B, 2**n) values of many samples equal a loop of single games."""

import math

import pytest
import torch
from torch import nn

from interprim.games import ImageGame, TextGame, central_grid_players, foreground_patches, image_values, text_values
from interprim.nn import build, low_layers_output, split_at



class Wrapped(nn.Module):
    """A non-Sequential model around the same layers: forces the hook path."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x)


@pytest.fixture(scope="module")
def lenet():
    return build("lenet", in_channels=1, input_size=28, seed=0).double().eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def grid_players(model, images, n=4):
    shape = split_at(model, low_layers_output(model))[0](images[:1]).shape[1:]
    return central_grid_players(shape, grid=5, n=n, seed=1)


def loop(model, images, players, targets=None, **kwargs):
    return torch.stack(
        [
            ImageGame(model, image, players, target=None if targets is None else targets[b], **kwargs).values()
            for b, image in enumerate(images)
        ]
    )


@pytest.mark.parametrize("batch_size", [None, 5, 23])
def test_image_values_equal_a_loop_of_split_games_and_run_the_low_layers_once_per_image(lenet, images, batch_size):
    players = grid_players(lenet, images)
    seen = []
    handle = lenet.conv1.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    try:
        values = image_values(lenet, images, players, layer="low", batch_size=batch_size, progress=True)
    finally:
        handle.remove()
    assert sum(seen) == 5  # every image once through the low layers, in batches of images
    assert len(seen) == (1 if batch_size is None else math.ceil(5 / batch_size))
    assert values.dtype == torch.float64 and values.shape == (5, 16)
    torch.testing.assert_close(values, loop(lenet, images, players, layer="low"), rtol=1e-10, atol=1e-10)


def test_image_values_on_the_hook_and_input_paths_with_targets_and_players_per_image(lenet, images):
    players = grid_players(lenet, images)
    targets = [3, 1, 4, 1, 5]
    hooked = image_values(Wrapped(lenet), images, players, layer="body.pool1", targets=targets, batch_size=6)
    want = loop(lenet, images, players, targets, layer="pool1")
    torch.testing.assert_close(hooked, want, rtol=1e-10, atol=1e-10)
    per_image = torch.stack([foreground_patches(image, patch=4, n=4, seed=b) for b, image in enumerate(images)])
    values = image_values(lenet, images, per_image, baseline=0.5, output="logit", targets=torch.tensor(targets))
    for b, image in enumerate(images):
        game = ImageGame(lenet, image, per_image[b], baseline=0.5, output="logit", target=targets[b])
        torch.testing.assert_close(values[b], game.values(), rtol=1e-10, atol=1e-10)


def test_image_values_bad_inputs(lenet, images):
    players = grid_players(lenet, images)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        image_values(lenet, images[0], players, layer="low")
    with pytest.raises(ValueError, match=r"one class per sample \(5\)"):
        image_values(lenet, images, players, layer="low", targets=[1, 2])
    with pytest.raises(ValueError, match="one set per image, B = 5"):
        image_values(lenet, images, players[None].expand(2, -1, -1, -1), layer="low")
    with pytest.raises(ValueError, match=r"\(n, 14, 14\)"):
        image_values(lenet, images, torch.ones(2, 28, 28, dtype=torch.bool), layer="low")
    with pytest.raises(ValueError, match="memory_budget"):
        image_values(lenet, images, players, layer="low", memory_budget=0)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 28, 28\)"):
        image_values(lenet, torch.zeros(2, 3, 28, 28, dtype=torch.float64), players, layer="low")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_image_values_on_cuda_match_cpu(lenet, images):
    players = grid_players(lenet, images)
    cpu = image_values(lenet, images, players, layer="low")
    model = build("lenet", in_channels=1, input_size=28, seed=0).double().eval().to("cuda")
    cuda = image_values(model, images, players, layer="low")
    assert cuda.device.type == "cpu"
    torch.testing.assert_close(cuda, cpu, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------------------------------- text

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "movie", "is", "un", "##believ", "##able", "and", "not", "good", ",", ".",
    "a", "plot", "##s", "'", "s", "t", "don", "it", "was", "bad", "funny", "of",
]  # fmt: skip
SENTENCES = [
    "The movie is unbelievable, and not good. Plots don't",
    "funny plot, bad movie",
    "it was not a good movie of the plots, it was bad and funny",
]


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    from interprim.nn import bert_tiny

    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return bert_tiny(vocab_size=len(VOCAB), seed=0).double().eval(), transformers.BertTokenizerFast(str(path))


@pytest.mark.parametrize("layer", [None, 1])
def test_text_values_equal_a_loop_of_text_games(text_model, layer):
    model, tokenizer = text_model
    seen = []
    handle = model.bert.embeddings.register_forward_hook(lambda module, args, out: seen.append(out.shape[0]))
    try:
        values, words = text_values(model, tokenizer, SENTENCES, n=3, seed=1, layer=layer, batch_size=10)
    finally:
        handle.remove()
    assert values.shape == (3, 8)
    if layer == 1:
        assert sum(seen) == 3  # the embeddings and the first block see every sentence once
    for b, sentence in enumerate(SENTENCES):
        game = TextGame(model, tokenizer, sentence, n=3, seed=1, layer=layer)
        assert words[b] == game.words
        torch.testing.assert_close(values[b], game.values(), rtol=1e-10, atol=1e-10)


def test_text_values_targets_and_errors(text_model):
    model, tokenizer = text_model
    values, _ = text_values(model, tokenizer, SENTENCES[:2], n=2, layer="low", targets=[0, 1], output="logit")
    for b in range(2):
        game = TextGame(model, tokenizer, SENTENCES[b], n=2, layer=1, target=b, output="logit")
        torch.testing.assert_close(values[b], game.values(), rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match=r"sentences \[1\] have fewer than n=5 words"):
        text_values(model, tokenizer, SENTENCES, n=5)
    with pytest.raises(ValueError, match="non-empty sequence of strings"):
        text_values(model, tokenizer, SENTENCES[0])


def test_several_models_in_one_call_equal_one_call_per_model():
    """image_values / text_values with a list of models: (m, B, 2**n), row j equal to model j's own call; the
    text players are the same words for every model and tokenizer."""
    from interprim.games import image_values, patch_grid

    models = [build("lenet", in_channels=1, input_size=28, seed=s).eval() for s in (0, 1)]
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    players = patch_grid(28, 28, 7)[:4]
    together = image_values(models, images, players, targets=[1, 2, 3])
    assert together.shape == (2, 3, 16)
    for j, model in enumerate(models):
        torch.testing.assert_close(together[j], image_values(model, images, players, targets=[1, 2, 3]))
    with pytest.raises(ValueError, match="model: give one model or a non-empty list"):
        image_values([], images, players)

    pytest.importorskip("transformers")
    from interprim.games import text_values
    from interprim.nn import bert_tiny, word_tokenizer

    sentences = ["a truly great movie with a clever plot", "dull acting and a boring story overall"]
    tok = word_tokenizer(sentences)
    texts = [bert_tiny(vocab_size=len(tok), seed=s, size=size).eval() for s, size in ((0, "tiny"), (1, "mini"))]
    values, words = text_values(texts, [tok, tok], sentences, n=3, targets=[1, 0])
    assert values.shape == (2, 2, 8)
    for j, model in enumerate(texts):
        alone, alone_words = text_values(model, tok, sentences, n=3, targets=[1, 0])
        torch.testing.assert_close(values[j], alone)
        assert alone_words == words
    with pytest.raises(ValueError, match="tokenizer: give one tokenizer for all models or one per model"):
        text_values(texts, [tok], sentences, n=3)
