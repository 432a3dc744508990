"""The weights-only file: what sampling, scoring and export need, and nothing more.

The container is a checkpoint's (safetensors_file.save_checkpoint: one safetensors
file with the format, version and sha256 entries), so anything that reads a
checkpoint reads this, and a JavaScript page reads both (web/charrnn.js). It holds

    tensors      the weights by their PyTorch names (weight_ih_l0, ...), all in
                 one of float16, float32 or float64, and the state an unprimed
                 sample starts from (sampling.warm_state) where fit left one
    metadata     weights_only (true), params (the hyperparameters; their dtype
                 is the one a loaded model computes in: float64 for a float64
                 file, float32 for float32 and float16), vocabulary, seed,
                 iterations, and history (its kept record and its last only)

No optimizer state, carried state, reading position or schedule: a loaded
model samples, scores, evaluates, converts and exports, and refuses to
resume (CharRNN.fit says why). The default 2 x 256 GRU's full checkpoint
holds four copies of its weights in float32 (weights, training's, Adam's two
moments); this file holds one, in float16 if asked: an eighth of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import checks
from .checkpoint_checks import WARM_STATE, check_params, check_seed, check_tensor, count
from .spec import ModelSpec
from .training_state import TrainingState
from .vocab import Vocabulary

WEIGHTS_ONLY = "weights_only"
# The dtypes a file may store, and the one a model loaded from each computes in.
STORED_DTYPES = {"float16": "float32", "float32": "float32", "float64": "float64"}
METADATA_KEYS = (WEIGHTS_ONLY, "params", "vocabulary", "seed", "iterations", "history")


def contents(params: dict[str, Any], vocab: Vocabulary, spec: ModelSpec, state: TrainingState,
             dtype: str | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, metadata) of the weights-only file of a fitted model
    (``params``, ``vocab``, ``spec``, ``state``), its weights in ``dtype``
    (None: the model's own); ValueError, naming the tensor, where a weight
    does not fit in ``dtype`` (float16 ends at 65504)."""
    stored = spec.dtype if dtype is None else checks.one_of(
        "dtype", dtype, tuple(STORED_DTYPES))
    weights, _ = state.saved_weights()              # keep_best's, where it kept others
    tensors = {}
    for name, view in spec.unflatten(weights).items():
        with np.errstate(over="ignore"):
            array = view.astype(stored)
        if not np.isfinite(array).all():
            worst = float(np.abs(view).max())
            raise ValueError(f"dtype={stored!r} cannot hold the weights: {name!r} holds "
                             f"{worst:g}, beyond {float(np.finfo(stored).max):g}; save them "
                             f"as float32")
        tensors[name] = array
    if state.warm_state is not None:     # where unprimed samples start (training.warm_state)
        tensors[WARM_STATE] = state.warm_state.astype(stored)
    history = state.history
    kept = [record for record in history if record.get("kept")]
    metadata = {
        WEIGHTS_ONLY: True,
        "params": {**params, "dtype": STORED_DTYPES[stored]},
        "vocabulary": vocab.to_dict(),
        "seed": state.seed,
        "iterations": state.iteration,
        # The record whose weights these are, and where training stood.
        "history": kept + [record for record in history[-1:] if record not in kept],
    }
    return tensors, metadata


def from_contents(tensors: dict[str, np.ndarray], metadata: dict[str, Any]
                  ) -> tuple[dict[str, Any], Vocabulary, ModelSpec, TrainingState]:
    """(params, vocabulary, spec, state) of the model a weights-only file
    describes; ValueError or TypeError naming the field where it describes
    none (checkpoint.from_contents words it)."""
    for key in METADATA_KEYS:
        if key not in metadata:
            raise ValueError(f"the weights-only file's metadata has no {key!r} entry")
    if metadata[WEIGHTS_ONLY] is not True:
        raise ValueError(f"{WEIGHTS_ONLY} must be true, got {metadata[WEIGHTS_ONLY]!r}")
    tensors = dict(tensors)
    warm = tensors.pop(WARM_STATE, None)          # optional: where unprimed samples start
    checked = check_params(metadata, list(tensors), "the file")
    spec = checked.spec
    names = [view.name for view in spec.param_views]
    stored = tensors[names[0]].dtype
    if stored.name not in STORED_DTYPES or STORED_DTYPES[stored.name] != spec.dtype:
        raise ValueError(f"tensor {names[0]!r} is {stored}, but a model of params['dtype'] "
                         f"{spec.dtype!r} is stored as "
                         f"{[k for k, v in STORED_DTYPES.items() if v == spec.dtype]}")
    sizes = (f"params (hidden_size={spec.hidden_size}, num_layers={spec.num_layers}, "
             f"cell={spec.cell!r}) and the vocabulary ({spec.vocab_size} symbols)")
    for view in spec.param_views:
        check_tensor(tensors, view.name, view.shape, stored, sizes)
    if warm is not None:
        check_tensor({WARM_STATE: warm}, WARM_STATE, spec.sample_state_shape(), stored, sizes)
    check_seed(metadata)
    count(metadata, "iterations", "the metadata")
    history = metadata["history"]
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise ValueError("history must be a list of records (dicts)")

    params = np.zeros(spec.num_params, dtype=spec.np_dtype)
    for view in spec.param_views:
        params[view.offset:view.offset + view.size] = tensors[view.name].ravel()
    state = TrainingState(
        params=params, seed=metadata["seed"], optimizer=None, hidden=None,
        iteration=metadata["iterations"], history=list(history),
        best_iteration=next((record.get("iteration") for record in history
                             if record.get("kept")), None),
        warm_state=None if warm is None else warm.astype(spec.np_dtype))
    return checked.params, checked.vocab, spec, state
