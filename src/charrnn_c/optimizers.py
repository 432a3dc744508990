"""The optimizers: their hyperparameters and their state, nothing that computes.

An optimizer owns state buffers laid out like the parameters and a step
count; ``state()`` and ``load_state()`` carry them through checkpoints so
that training resumes exactly. The step itself, for every optimizer, is one
fused C call (``kernels.train_step``, or ``kernels.optimizer_step`` given a
gradient), whose settings ``core_config`` packs; a learning-rate schedule
scales its rate by ``lr_factor`` (1 unless the training loop sets it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from . import _core
from .spec import ModelSpec

# The optimizers' numbers in the C core, whose header owns them (csrc/optim.h).
KINDS = {"adagrad": _core.OPTIM_ADAGRAD, "adam": _core.OPTIM_ADAM,
         "rmsprop": _core.OPTIM_RMSPROP}
# csrc/optim.h's optim_config: kind, learning_rate, beta1, beta2, alpha, eps,
# step, clip, max_norm.
OptimConfig = tuple[int, float, float, float, float, float, int, float, float]


class Optimizer:
    """What every optimizer has: a learning rate, state buffers laid out like
    the parameters, a step count, and their round trip through checkpoints.
    Subclasses set name, default_learning_rate, buffer_names and their
    hyperparameters."""

    name: ClassVar[str]
    default_learning_rate: ClassVar[float]
    buffer_names: ClassVar[tuple[str, ...]]
    # The buffers that sum or average squared gradients: never negative.
    squared_buffers: ClassVar[tuple[str, ...]]
    # Hyperparameters not every optimizer uses; the C step ignores the rest.
    beta1: ClassVar[float] = 0.0
    beta2: ClassVar[float] = 0.0
    alpha: ClassVar[float] = 0.0
    eps: ClassVar[float] = 0.0

    def __init__(self, spec: ModelSpec, learning_rate: float | None = None) -> None:
        self.learning_rate = float(learning_rate if learning_rate is not None
                                   else self.default_learning_rate)
        self.buffers = {name: np.zeros(spec.num_params, dtype=spec.np_dtype)
                        for name in self.buffer_names}
        self.steps = 0
        # The learning-rate schedule's factor for the next step (schedules.py),
        # set by the training loop before each step; not state: the loop
        # computes it again from the schedule's plan after a resume.
        self.lr_factor = 1.0

    @property
    def current_learning_rate(self) -> float:
        """The rate the next step takes: learning_rate * lr_factor."""
        return self.learning_rate * self.lr_factor

    def core_config(self, clip: float, clip_norm: float | None) -> OptimConfig:
        """The next step's settings, as csrc/optim.h's optim_config."""
        return (KINDS[self.name], self.current_learning_rate, self.beta1, self.beta2,
                self.alpha, self.eps, self.steps + 1, float(clip),
                0.0 if clip_norm is None else float(clip_norm))

    def core_buffers(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The state buffers in the C step's order: (state_a, state_b or None)."""
        buffers = [self.buffers[name] for name in self.buffer_names]
        return buffers[0], buffers[1] if len(buffers) > 1 else None

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(buffers, scalars): arrays for the checkpoint's tensors, ints for its metadata."""
        return self.buffers, {"steps": self.steps}

    def load_state(self, buffers: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        """state()'s round trip back: the checkpoint's reader has checked them
        (checkpoint_checks.check_contents: names, shapes, finite, steps a count)."""
        for name in self.buffer_names:
            self.buffers[name][:] = buffers[name]
        self.steps = scalars["steps"]


class Adagrad(Optimizer):
    """The write-up's: mem += g*g; p -= lr * g / sqrt(mem + 1e-8)."""

    name = "adagrad"
    default_learning_rate = 0.1
    buffer_names = ("mem",)
    squared_buffers = ("mem",)


class Adam(Optimizer):
    """torch.optim.Adam (betas 0.9, 0.999; eps 1e-8; no weight decay):
    m += (1 - b1)(g - m); v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    name = "adam"
    default_learning_rate = 2e-3
    buffer_names = ("m", "v")
    squared_buffers = ("v",)
    beta1, beta2, eps = 0.9, 0.999, 1e-8


class RMSprop(Optimizer):
    """torch.optim.RMSprop with char-rnn's decay 0.95 (eps 1e-8, no momentum):
    v = alpha v + (1 - alpha) g^2; p -= lr * g / (sqrt(v) + eps)."""

    name = "rmsprop"
    default_learning_rate = 2e-3
    buffer_names = ("v",)
    squared_buffers = ("v",)
    alpha, eps = 0.95, 1e-8


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (Adagrad, Adam, RMSprop)}
