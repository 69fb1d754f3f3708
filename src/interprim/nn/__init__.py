"""Models and layer operations (SPEC §6): the image zoo, BERT-family text models, the ordered
layers of a model, and copying / freezing / re-initialising / splitting at those layers."""

from __future__ import annotations

from .blocks import BasicBlock, Normalize, PadShortcut
from .layers import Layer, layers, low_layer_count, low_layers_output
from .surgery import copy_layers, freeze_layers, reinit_layers, split_at
from .text import (
    CAUSAL_LMS,
    bert_tiny,
    causal_lm,
    classifier_architecture,
    load_pretrained_classifier,
    minilm,
    minilm_path,
    word_tokenizer,
)
from .zoo import (
    ZooModel,
    alexnet,
    build,
    lenet,
    mlp,
    names,
    resnet20,
    resnet32,
    resnet56,
    vgg11,
    vgg13,
    vgg16,
)

__all__ = [
    "CAUSAL_LMS",
    "BasicBlock",
    "Layer",
    "Normalize",
    "PadShortcut",
    "ZooModel",
    "alexnet",
    "bert_tiny",
    "causal_lm",
    "classifier_architecture",
    "build",
    "copy_layers",
    "freeze_layers",
    "layers",
    "lenet",
    "load_pretrained_classifier",
    "low_layer_count",
    "low_layers_output",
    "minilm",
    "minilm_path",
    "word_tokenizer",
    "mlp",
    "names",
    "reinit_layers",
    "resnet20",
    "resnet32",
    "resnet56",
    "split_at",
    "vgg11",
    "vgg13",
    "vgg16",
]
