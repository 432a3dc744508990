"""Everything training advances and a checkpoint keeps, as one plain dataclass.

The estimator holds one TrainingState; training.train advances it;
checkpoint.py and weights_file.py write it and read it back. Its fields are
listed here once. A model loaded from a weights-only file has a state with
no optimizer and no carried state: it samples and scores, and cannot resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .optimizers import OPTIMIZERS, Optimizer
from .parameters import initial_std
from .schedules import Plan
from .spec import ModelSpec


@dataclass(eq=False)
class TrainingState:
    """A model's weights and where its training stands."""

    params: np.ndarray                     # (spec.num_params,): the model's weights
    seed: int                              # the seed training resolved (dropout, init)
    optimizer: Optimizer | None            # and its state; None: a weights-only file's
    hidden: np.ndarray | None              # spec.state_shape(batch_size): carried state
    iteration: int = 0                     # training steps taken, over every fit of a run
    streams: dict[str, int] | None = None  # the reading position (streams.Streams.state)
    smooth_loss: float = 0.0               # the write-up's moving average, nats/char
    window_loss: tuple[float, int] = (0.0, 0)   # (sum, steps) since the last record
    elapsed: float = 0.0                   # seconds of training, every fit of a run
    fingerprint: str | None = None         # of the text trained on (corpus.fingerprint)
    schedule: Plan | None = None           # the learning-rate schedule's plan
    # keep_best: training's own weights where params holds a kept record's
    # (between fits), and while fit runs the kept weights and their iteration
    # (training_guards.Keeper), params then being training's.
    train_params: np.ndarray | None = None
    kept_params: np.ndarray | None = None
    kept_iteration: int | None = None
    best_iteration: int | None = None      # the record whose weights params holds
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None         # why the last fit stopped
    warm_state: np.ndarray | None = None   # where unprimed samples start (training.warm_state)
    threads: int | None = None             # what the last fit's steps ran on; not saved
    chosen: dict[str, Any] | None = None   # what fit chose for "auto" (budget.Choice.to_dict)

    @property
    def weights_only(self) -> bool:
        """Loaded from a weights-only file: nothing to resume from."""
        return self.optimizer is None

    def saved_weights(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(the weights a checkpoint holds as the model's, the weights training
        continues from where they differ, else None): keep_best's kept
        weights while fit runs, as they are after it."""
        if self.kept_params is not None and self.kept_iteration != self.iteration:
            return self.kept_params, self.params
        if self.kept_params is not None:
            return self.params, None
        return self.params, self.train_params


class StateField:
    """An estimator's fitted attribute that is a field of its TrainingState
    (held as ``_state``): absent (AttributeError, so hasattr says "not
    fitted") until fit or load gives the estimator one."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, model: Any, owner: Any = None) -> Any:
        if model is None:
            return self
        state = model.__dict__.get("_state")
        if state is None:
            raise AttributeError(f"{self.name} is set by fit or CharRNN.load: this CharRNN "
                                 f"is not fitted yet")
        return getattr(state, self.field)


def fresh_state(spec: ModelSpec, params: dict[str, Any]) -> TrainingState:
    """The state at step 0 of a model of ``params`` (CharRNN's hyperparameters):
    the seed resolved, fresh weights, a fresh optimizer, zero carried state."""
    entropy = cast(int, np.random.SeedSequence().entropy)
    seed = params["seed"] if params["seed"] is not None else entropy % 2**63
    weights = spec.init_params(seed=seed, std=initial_std(params),
                               recurrent_init=params["recurrent_init"])
    optimizer = OPTIMIZERS[params["optimizer"]](spec, params["learning_rate"])
    return TrainingState(
        params=weights, seed=seed, optimizer=optimizer,
        hidden=np.zeros(spec.state_shape(params["batch_size"]), dtype=spec.np_dtype),
        smooth_loss=math.log(spec.vocab_size))     # nats per character at iteration 0
