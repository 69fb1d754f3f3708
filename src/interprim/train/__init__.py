"""Training classifiers for the experiments (SPEC §6): SGD with momentum, optional one-step PGD
adversarial training, per-sample training losses for hard samples, resumable checkpoints, seeds.

Example::

    config = TrainConfig(epochs=50, lr=0.01, batch_size=128, adversarial=True, seed=0)
    history = train(model, (x_train, y_train), (x_test, y_test), config, out_dir="runs/lenet-0")
    hard = history.hard_samples(30)
"""

from .attack import pgd_step
from .checkpoint import epoch_path, load_model_state
from .config import TrainConfig
from .evaluation import Evaluation, evaluate
from .history import History
from .language import LanguageScores, score_causal_lm, train_causal_lm
from .trainer import train

__all__ = [
    "Evaluation",
    "History",
    "LanguageScores",
    "TrainConfig",
    "epoch_path",
    "evaluate",
    "load_model_state",
    "pgd_step",
    "score_causal_lm",
    "train",
    "train_causal_lm",
]
