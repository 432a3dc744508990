"""The weights-only file: what sampling, scoring and export need, and nothing more.

The container is a checkpoint's (checkpoint.save_checkpoint: one safetensors
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

from typing import TYPE_CHECKING, Any

import numpy as np

from . import checks

if TYPE_CHECKING:
    from .model import CharRNN

WEIGHTS_ONLY = "weights_only"
# The dtypes a file may store, and the one a model loaded from each computes in.
STORED_DTYPES = {"float16": "float32", "float32": "float32", "float64": "float64"}
METADATA_KEYS = (WEIGHTS_ONLY, "params", "vocabulary", "seed", "iterations", "history")


def weights_contents(model: CharRNN, dtype: str | None) -> tuple[dict[str, np.ndarray],
                                                                 dict[str, Any]]:
    """(tensors, metadata) of the weights-only file of a fitted ``model``, its
    weights in ``dtype`` (None: the model's own); ValueError, naming the
    tensor, where a weight does not fit in ``dtype`` (float16 ends at 65504)."""
    from .checkpoint import WARM_STATE
    from .training import saved_weights

    stored = model.spec_.dtype if dtype is None else checks.one_of(
        "dtype", dtype, tuple(STORED_DTYPES))
    weights, _ = saved_weights(model)              # keep_best's, where it kept others
    tensors = {}
    for name, view in model.spec_.unflatten(weights).items():
        with np.errstate(over="ignore"):
            array = view.astype(stored)
        if not np.isfinite(array).all():
            worst = float(np.abs(view).max())
            raise ValueError(f"dtype={stored!r} cannot hold the weights: {name!r} holds "
                             f"{worst:g}, beyond {float(np.finfo(stored).max):g}; save them "
                             f"as float32")
        tensors[name] = array
    warm = getattr(model, "_warm_state", None)
    if warm is not None:                # where unprimed samples start (training.warm_state)
        tensors[WARM_STATE] = warm.astype(stored)
    history = model.history_
    kept = [record for record in history if record.get("kept")]
    metadata = {
        WEIGHTS_ONLY: True,
        "params": {**model.get_params(), "dtype": STORED_DTYPES[stored]},
        "vocabulary": model.vocab_.to_dict(),
        "seed": model.seed_,
        "iterations": model.n_iter_,
        # The record whose weights these are, and where training stood.
        "history": kept + [record for record in history[-1:] if record not in kept],
    }
    return tensors, metadata


def model_from_weights(cls: type[CharRNN], tensors: dict[str, np.ndarray],
                       metadata: dict[str, Any]) -> CharRNN:
    """The model a weights-only file describes; ValueError or TypeError naming
    the field where it describes none (checkpoint.model_from_contents words it)."""
    from .checkpoint import ADDED_PARAMS, WARM_STATE, _count, _dict, _some, _check_tensor
    from .vocab import Vocabulary

    for key in METADATA_KEYS:
        if key not in metadata:
            raise ValueError(f"the weights-only file's metadata has no {key!r} entry")
    if metadata[WEIGHTS_ONLY] is not True:
        raise ValueError(f"{WEIGHTS_ONLY} must be true, got {metadata[WEIGHTS_ONLY]!r}")
    params = {**ADDED_PARAMS, **_dict(metadata, "params")}
    model = cls(**params)                          # TypeError names an unknown parameter
    model._validate_params()
    vocab = Vocabulary.from_dict(metadata["vocabulary"])
    tensors = dict(tensors)
    warm = tensors.pop(WARM_STATE, None)          # optional: where unprimed samples start
    # A num_layers the tensors cannot hold is refused before the spec lists its views.
    if 4 * model.num_layers + 2 > len(tensors):
        raise ValueError(f"params['num_layers'] is {model.num_layers}, but the file holds "
                         f"{len(tensors)} weight tensors: 4 per layer and 2 for the output")
    spec = model._spec(len(vocab))
    names = [view.name for view in spec.param_views]
    missing = [name for name in names if name not in tensors]
    unexpected = sorted(set(tensors) - set(names))
    if missing or unexpected:
        raise ValueError(f"the weight tensors do not fit params: missing {_some(missing)}, "
                         f"unexpected {_some(unexpected)}")
    stored = tensors[names[0]].dtype
    if stored.name not in STORED_DTYPES or STORED_DTYPES[stored.name] != spec.dtype:
        raise ValueError(f"tensor {names[0]!r} is {stored}, but a model of params['dtype'] "
                         f"{spec.dtype!r} is stored as "
                         f"{[k for k, v in STORED_DTYPES.items() if v == spec.dtype]}")
    sizes = (f"params (hidden_size={spec.hidden_size}, num_layers={spec.num_layers}, "
             f"cell={spec.cell!r}) and the vocabulary ({spec.vocab_size} symbols)")
    for view in spec.param_views:
        _check_tensor(tensors, view.name, view.shape, stored, sizes)
    if warm is not None:
        _check_tensor({WARM_STATE: warm}, WARM_STATE, spec.sample_state_shape(), stored, sizes)
    seed = metadata["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be the int >= 0 that training used, got {seed!r}")
    _count(metadata, "iterations", "the metadata")
    history = metadata["history"]
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise ValueError("history must be a list of records (dicts)")

    model.vocab_ = vocab
    model.spec_ = spec
    model.seed_ = seed
    model.params_ = np.zeros(spec.num_params, dtype=spec.np_dtype)
    for view in spec.param_views:
        model.params_[view.offset:view.offset + view.size] = tensors[view.name].ravel()
    model.n_iter_ = metadata["iterations"]
    model.history_ = list(history)
    model.best_iteration_ = next((record.get("iteration") for record in history
                                  if record.get("kept")), None)
    model._train_params = None
    model._warm_state = None if warm is None else warm.astype(spec.np_dtype)
    model._weights_only = True
    model._checkpoint_files = {}
    return model
