"""What a CharRNN's checkpoint holds, written from plain data and read back to it.

A checkpoint is a safetensors file (safetensors_file.py: the container, its
checksum, and atomic replacement) of a model's (params, vocabulary, state):
its hyperparameters, its Vocabulary and its TrainingState. It holds

    tensors      the weights by their PyTorch names (weight_ih_l0, ...),
                 "optimizer.<buffer>" for each optimizer buffer, "hidden",
                 the carried state, "training.params", the flat weights
                 training continues from, where keep_best kept others, and
                 "sampling.warm_state", where unprimed samples start
    metadata     params (the hyperparameters), vocabulary, seed, optimizer
                 (name, learning_rate, steps), training (iterations, the
                 streams' position, smooth_loss, window_loss, seconds,
                 text_fingerprint, and the learning-rate schedule's plan,
                 absent before it existed) and history (its "kept" record:
                 keep_best's)

Reading checks everything once (checkpoint_checks.py), then builds the
state from arrays no larger than the file's; a save runs the same checks
before it writes, so what it writes loads. A weights-only file
(weights_file.py) is read here too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import weights_file
from .checkpoint_checks import TRAINING_PARAMS, WARM_STATE, check_contents
from .optimizers import OPTIMIZERS
from .run_lock import file_identity
from .safetensors_file import (CheckpointError, checkpoint_bytes, checkpoint_from_bytes,
                               load_checkpoint, save_checkpoint)
from .spec import ModelSpec
from .training_state import TrainingState
from .vocab import Vocabulary


@dataclass(frozen=True)
class Contents:
    """A model as a file holds it: hyperparameters, vocabulary, spec, state."""

    params: dict[str, Any]
    vocab: Vocabulary
    spec: ModelSpec
    state: TrainingState


def contents(params: dict[str, Any], vocab: Vocabulary, spec: ModelSpec,
             state: TrainingState) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, metadata) of a full checkpoint of the model (``params``,
    ``vocab``, the ``spec`` it was fitted with, ``state``): the weights
    keep_best kept as the model's, while it has any
    (TrainingState.saved_weights)."""
    optimizer, hidden = state.optimizer, state.hidden
    assert optimizer is not None and hidden is not None      # not a weights-only state
    weights, training_params = state.saved_weights()
    tensors = {name: view.copy() for name, view in spec.unflatten(weights).items()}
    if training_params is not None:
        tensors[TRAINING_PARAMS] = training_params
    buffers, scalars = optimizer.state()
    for name, array in buffers.items():
        tensors[f"optimizer.{name}"] = array
    tensors["hidden"] = hidden
    if state.warm_state is not None:
        tensors[WARM_STATE] = state.warm_state
    metadata = {
        "params": params,
        "vocabulary": vocab.to_dict(),
        "seed": state.seed,
        "optimizer": {"name": optimizer.name, "learning_rate": optimizer.learning_rate,
                      **scalars},
        "training": {"iterations": state.iteration, "streams": state.streams,
                     "smooth_loss": state.smooth_loss, "seconds": state.elapsed,
                     "window_loss": list(state.window_loss),
                     "text_fingerprint": state.fingerprint,
                     "schedule": None if state.schedule is None else state.schedule.to_dict(),
                     "chosen": state.chosen},
        "history": state.history,
    }
    return tensors, metadata


def from_contents(tensors: dict[str, np.ndarray], metadata: dict[str, Any],
                  where: str) -> Contents:
    """The model ``tensors`` and ``metadata`` describe (a full checkpoint or a
    weights-only file); CheckpointError, naming ``where`` and the problem,
    when they describe none."""
    try:
        if weights_file.WEIGHTS_ONLY in metadata:
            params, vocab, spec, state = weights_file.from_contents(tensors, metadata)
            return Contents(params, vocab, spec, state)
        return _from_checked(tensors, metadata)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, NotImplementedError) as error:
        raise CheckpointError(
            f"{where}: not a valid CharRNN checkpoint: {type(error).__name__}: {error}"
        ) from None


def _from_checked(tensors: dict[str, np.ndarray], metadata: dict[str, Any]) -> Contents:
    """Contents of a full checkpoint: everything is checked first, so what is
    built here is no larger than the tensors the file holds."""
    checked = check_contents(tensors, metadata)
    spec = checked.spec
    params = np.zeros(spec.num_params, dtype=spec.np_dtype)
    for view in spec.param_views:
        params[view.offset:view.offset + view.size] = tensors[view.name].ravel()
    saved = metadata["optimizer"]
    optimizer = OPTIMIZERS[saved["name"]](spec, float(saved["learning_rate"]))
    optimizer.load_state({name: tensors[f"optimizer.{name}"] for name in optimizer.buffer_names},
                         saved)
    training = metadata["training"]
    # Files before window_loss: the next record averages the steps after the load.
    window = training.get("window_loss", [0.0, 0])
    history = list(metadata["history"])
    state = TrainingState(
        params=params, seed=metadata["seed"], optimizer=optimizer,
        hidden=tensors["hidden"].copy(),              # the LSTM's holds h and c
        iteration=training["iterations"], streams=training["streams"],
        smooth_loss=float(training["smooth_loss"]),
        window_loss=(float(window[0]), int(window[1])), elapsed=float(training["seconds"]),
        fingerprint=training["text_fingerprint"], schedule=checked.plan,
        train_params=(tensors[TRAINING_PARAMS].copy() if TRAINING_PARAMS in tensors
                      else None),
        best_iteration=next((record["iteration"] for record in history
                             if record.get("kept")), None),
        history=history, chosen=training.get("chosen"),
        # Files before it: unprimed samples start from a zero state, as they did.
        warm_state=tensors[WARM_STATE].copy() if WARM_STATE in tensors else None)
    return Contents(checked.params, checked.vocab, spec, state)


def loadable(params: dict[str, Any], vocab: Vocabulary, spec: ModelSpec,
             state: TrainingState, where: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """contents(...), after the checks a load makes of them: a model whose
    hyperparameters were changed after fitting (set_params hidden_size,
    batch_size...) would otherwise write a file that cannot be loaded, over
    the last good one. ValueError, naming ``where``, if it would not load."""
    if state.weights_only:
        raise ValueError("this model was loaded from a weights-only file, which has no "
                         "optimizer state or training position to save in a full "
                         "checkpoint: save(path, weights_only=True)")
    tensors, metadata = contents(params, vocab, spec, state)
    try:
        check_contents(tensors, metadata)
    except (KeyError, TypeError, ValueError, NotImplementedError) as error:
        raise ValueError(f"{where}: not saved, as the checkpoint would not load: "
                         f"{type(error).__name__}: {error}") from None
    return tensors, metadata


def save(path: str | os.PathLike[str], params: dict[str, Any], vocab: Vocabulary,
         spec: ModelSpec, state: TrainingState) -> None:
    """Write the full checkpoint to ``path``, atomically, once it is sure to
    load: ValueError, and the file left as it was, if it would not."""
    tensors, metadata = loadable(params, vocab, spec, state, os.fspath(path))
    save_checkpoint(path, tensors, metadata)


def save_weights(path: str | os.PathLike[str], params: dict[str, Any], vocab: Vocabulary,
                 spec: ModelSpec, state: TrainingState, dtype: str | None) -> None:
    """Write the weights-only file (weights_file.py) to ``path``, atomically."""
    save_checkpoint(path, *weights_file.contents(params, vocab, spec, state, dtype))


def load(path: str | os.PathLike[str]) -> tuple[Contents, tuple[int, ...] | None]:
    """(the model saved at ``path``, the file's identity as it was read:
    run_lock.file_identity); CheckpointError names what is wrong."""
    # Taken first: should the file change while it is read, it is then not this model's.
    identity = file_identity(os.path.realpath(os.fspath(path)))
    tensors, metadata = load_checkpoint(path)
    return from_contents(tensors, metadata, str(path)), identity


def to_bytes(params: dict[str, Any], vocab: Vocabulary, spec: ModelSpec,
             state: TrainingState) -> bytes:
    """The bytes of the file save writes (for pickling); a weights-only
    model's are its weights-only file's."""
    if state.weights_only:
        return checkpoint_bytes(*weights_file.contents(params, vocab, spec, state, None))
    return checkpoint_bytes(*loadable(params, vocab, spec, state, "pickle"))


def from_bytes(data: bytes) -> Contents:
    tensors, metadata = checkpoint_from_bytes(data)
    return from_contents(tensors, metadata, "pickle")
