"""What a checkpoint may hold: its metadata and tensors checked, once, before anything is built.

Every size in the metadata is compared with the tensors present before
anything is built from it, so a file's hostile sizes cost nothing: only
arrays as large as the file's own are allocated afterwards. (num_layers
10**6 in a 3 KB file took 29 s, 2.3 GB and an 80 MB message to refuse;
hidden_size 10**9 asked NumPy for 3.5 EiB.) The hyperparameters are checked
against their declared constraints (parameters.py); values training could
not have written (NaN weights, a negative learning rate, a reading position
past the text's end) are refused naming the field. The full checkpoint's
checks are here (check_contents); the weights-only file's (weights_file.py)
use the same pieces.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checks, parameters
from .checks import MAX_COUNT
from .streams import Streams
from .optimizers import OPTIMIZERS
from .records import STATE_KEYS as RECORD_KEYS_OF_POSITION
from .schedules import Plan
from .spec import ModelSpec
from .vocab import Vocabulary

METADATA_KEYS = ("params", "vocabulary", "seed", "optimizer", "training", "history")
TRAINING_KEYS = ("iterations", "streams", "smooth_loss", "seconds", "text_fingerprint")
# What every history record holds (checkpoints of every version).
RECORD_KEYS = ("iteration", "train_loss", "val_loss")
# The weights training continues from, where keep_best kept others as the model's.
TRAINING_PARAMS = "training.params"
# The state an unprimed sample starts from (training.warm_state); optional.
WARM_STATE = "sampling.warm_state"
# The text's fingerprint (corpus.fingerprint): 32 hex digits of a sha256.
FINGERPRINT = re.compile("[0-9a-f]{32}")
# Arrays are checked for NaN and inf this many values at a time, so that the
# check of a large model takes at most a megabyte more.
FINITE_CHUNK = 1 << 20
SHOWN_NAMES = 5

@dataclass(frozen=True)
class Checked:
    """What check_contents found: the hyperparameters (every one, the newer
    ones a file lacks as they were then), the vocabulary, the spec, and the
    schedule's plan (None: the file has none)."""

    params: dict[str, Any]
    vocab: Vocabulary
    spec: ModelSpec
    plan: Plan | None = None


def check_params(metadata: dict[str, Any], weights: list[str],
                 holder: str = "the checkpoint") -> Checked:
    """The hyperparameters and vocabulary of ``metadata``, checked, and their
    spec, once ``weights`` (the names of the weight tensors ``holder`` holds)
    can hold it."""
    params = {**parameters.ADDED_PARAMS, **dict_entry(metadata, "params")}
    parameters.validate(params)                # names an unknown or missing parameter
    vocab = Vocabulary.from_dict(metadata["vocabulary"])
    # Each layer has 4 weight tensors and the output layer 2: a num_layers the
    # tensors cannot hold is refused before the spec lists that many views.
    if 4 * params["num_layers"] + 2 > len(weights):
        raise ValueError(f"params['num_layers'] is {params['num_layers']}, but {holder} "
                         f"holds {len(weights)} weight tensors: 4 per layer and 2 for the "
                         f"output layer")
    spec = parameters.model_spec(params, len(vocab))
    views = [view.name for view in spec.param_views]
    missing = [name for name in views if name not in weights]
    unexpected = sorted(name for name in weights if name not in views)
    if missing or unexpected:
        raise ValueError(f"the weight tensors do not fit params: missing {some(missing)}, "
                         f"unexpected {some(unexpected)}")
    return Checked(params, vocab, spec)


def check_seed(metadata: dict[str, Any]) -> None:
    seed = metadata["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be the int >= 0 that training used, got {seed!r}")


def check_contents(tensors: dict[str, np.ndarray], metadata: dict[str, Any]) -> Checked:
    """What ``tensors`` and ``metadata`` describe, once they are a checkpoint
    training could have written; ValueError or TypeError naming the field
    otherwise."""
    for key in METADATA_KEYS:
        if key not in metadata:
            raise ValueError(f"the metadata has no {key!r} entry")
    weights = [name for name in tensors if not name.startswith("optimizer.")
               and name not in ("hidden", TRAINING_PARAMS, WARM_STATE)]
    checked = check_params(metadata, weights)
    params, spec = checked.params, checked.spec
    sizes = (f"params (hidden_size={spec.hidden_size}, num_layers={spec.num_layers}, "
             f"cell={spec.cell!r}, dtype={spec.dtype!r}) and the vocabulary "
             f"({spec.vocab_size} symbols)")
    for view in spec.param_views:
        check_tensor(tensors, view.name, view.shape, spec.np_dtype, sizes)

    optimizer = dict_entry(metadata, "optimizer")
    name = optimizer.get("name")
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"optimizer['name'] must be one of {tuple(OPTIMIZERS)}, got {name!r}")
    checks.positive_number("optimizer['learning_rate']", optimizer.get("learning_rate"))
    # A count that could not come from training (Adam would divide by
    # 1 - beta1^0 = 0 and turn every weight into NaN).
    steps = optimizer.get("steps")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps < MAX_COUNT:
        raise ValueError(f"the {name} optimizer's steps must be a count >= 0, got {steps!r}")
    buffers = sorted(key[len("optimizer."):] for key in tensors if key.startswith("optimizer."))
    if buffers != sorted(OPTIMIZERS[name].buffer_names):
        raise ValueError(f"the {name} optimizer keeps the buffers "
                         f"{list(OPTIMIZERS[name].buffer_names)}, the checkpoint holds {buffers}")
    for buffer in buffers:
        check_tensor(tensors, f"optimizer.{buffer}", (spec.num_params,), spec.np_dtype, sizes,
                     # its square root would make the next weights NaN
                     non_negative=buffer in OPTIMIZERS[name].squared_buffers)
    batch_size = params["batch_size"]
    check_tensor(tensors, "hidden", spec.state_shape(batch_size), spec.np_dtype,
                 f"{sizes} with batch_size={batch_size}")
    if TRAINING_PARAMS in tensors:
        check_tensor(tensors, TRAINING_PARAMS, (spec.num_params,), spec.np_dtype, sizes)
    if WARM_STATE in tensors:
        check_tensor(tensors, WARM_STATE, spec.sample_state_shape(), spec.np_dtype, sizes)

    check_seed(metadata)
    training = dict_entry(metadata, "training")
    for key in TRAINING_KEYS:
        if key not in training:
            raise ValueError(f"training has no {key!r} entry")
    count(training, "iterations", "training")
    for key in ("smooth_loss", "seconds"):
        # A mean cross-entropy and a duration: finite and >= 0.
        if checks.non_negative_number(f"training[{key!r}]", training[key]) == math.inf:
            raise ValueError(f"training[{key!r}] must be finite, got {training[key]!r}")
    window = training.get("window_loss", [0.0, 0])
    if not (isinstance(window, list) and len(window) == 2):
        raise ValueError(f"training['window_loss'] must be [sum, steps], got {window!r}")
    count({"steps": window[1]}, "steps", "training['window_loss']")
    if checks.non_negative_number("training['window_loss'][0]", window[0]) == math.inf:
        raise ValueError(f"training['window_loss'] must be finite, got {window!r}")
    fingerprint = training["text_fingerprint"]
    if fingerprint is not None and not (isinstance(fingerprint, str)
                                        and FINGERPRINT.fullmatch(fingerprint)):
        raise ValueError(f"training['text_fingerprint'] must be 32 hex digits or None, "
                         f"got {fingerprint!r}")
    if params["records"]:
        _check_record_position(training["streams"])
    else:
        _check_streams(training["streams"], batch_size, params["seq_length"])
    history = metadata["history"]
    if not isinstance(history, list):
        raise ValueError(f"history must be a list of records, not {type(history).__name__}")
    for index, record in enumerate(history):
        if not isinstance(record, dict):
            raise ValueError(f"history[{index}] must be a record (a dict), got {record!r:.80}")
        _check_record(record, f"history[{index}]")
    _check_kept(history, training, TRAINING_PARAMS in tensors)
    schedule = training.get("schedule")
    plan = None if schedule is None else _check_plan(schedule, training)
    _check_chosen(training.get("chosen"), params)
    return Checked(params, checked.vocab, spec, plan)


def _check_chosen(chosen: Any, params: dict[str, Any]) -> None:
    """What fit chose for "auto" (budget.Choice.to_dict), if anything: the
    values the file's params hold, since a resume trains with those."""
    if chosen is None:
        return
    if not isinstance(chosen, dict):
        raise ValueError(f"training['chosen'] must be a dict or None, got {chosen!r:.80}")
    differ = [name for name in parameters.CHOSEN if chosen.get(name) != params[name]]
    if differ:
        raise ValueError(f"training['chosen'][{differ[0]!r}] is {chosen.get(differ[0])!r}, "
                         f"but params[{differ[0]!r}] is {params[differ[0]]!r}")

def _check_record(record: dict[str, Any], where: str) -> None:
    """``record`` has what training, keep_best, patience and the command line
    read from a record: [{"kept": true, "iteration": 20}] loaded, and
    charrnn train --resume died on KeyError: 'val_loss' (issue 22)."""
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f"{where} has no {some(missing)} entry: a record holds at least "
                         f"{list(RECORD_KEYS)}")
    count(record, "iteration", where)
    for key in ("train_loss", "val_loss"):
        value = record[key]
        # NaN and infinity are kept: a diverged run's records hold them.
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                or (value is None and key == "val_loss")):
            allowed = "a number or None" if key == "val_loss" else "a number"
            raise ValueError(f"{where}[{key!r}] must be {allowed}, got {value!r:.80}")
    if "resumed_at" in record:
        count(record, "resumed_at", where)


def _check_kept(history: list[dict[str, Any]], training: dict[str, Any],
                has_training_params: bool) -> None:
    """keep_best's record is one training could leave: at most one record
    "kept", at or before the last iteration, and "training.params" exactly
    when the kept record is not the last state."""
    iterations = training["iterations"]
    kept = [index for index, record in enumerate(history) if "kept" in record]
    if len(kept) > 1:
        raise ValueError(f"history marks {len(kept)} records 'kept' "
                         f"(at {some([str(index) for index in kept])}); "
                         f"keep_best keeps one")
    at = None
    if kept:
        record = history[kept[0]]
        if record["kept"] is not True:
            raise ValueError(f"history[{kept[0]}]['kept'] must be true, got {record['kept']!r}")
        count(record, "iteration", f"history[{kept[0]}]")
        at = record["iteration"]
        if at > iterations:
            raise ValueError(f"history[{kept[0]}] is kept at iteration {at}, after the "
                             f"checkpoint's {iterations}")
    if has_training_params and (at is None or at == iterations):
        raise ValueError(f"tensor {TRAINING_PARAMS!r} holds the weights training continues "
                         f"from, but no earlier record is kept (the model's weights are "
                         f"training's)")
    if not has_training_params and at is not None and at != iterations:
        raise ValueError(f"history keeps the record of iteration {at}, but tensor "
                         f"{TRAINING_PARAMS!r}, the weights of iteration {iterations} that "
                         f"training continues from, is missing")


def _check_plan(schedule: Any, training: dict[str, Any]) -> Plan:
    """The schedule's plan, one training could have made by the checkpoint's state."""
    plan = Plan.from_dict(schedule)
    iterations = training["iterations"]
    if plan.start_iteration > iterations or plan.start_seconds > training["seconds"]:
        raise ValueError(f"training['schedule'] starts at iteration "
                         f"{plan.start_iteration} and {plan.start_seconds} s, after the "
                         f"checkpoint's {iterations} and {training['seconds']} s")
    return plan


def dict_entry(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent[key]
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a dict, not {type(value).__name__}")
    return value


def count(parent: dict[str, Any], key: str, where: str) -> None:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_COUNT:
        raise ValueError(f"{where}[{key!r}] must be a count >= 0, got {value!r}")


def some(names: list[str]) -> list[str] | str:
    """At most SHOWN_NAMES of ``names``, so that a message stays short."""
    if len(names) <= SHOWN_NAMES:
        return names
    return f"{names[:SHOWN_NAMES]} and {len(names) - SHOWN_NAMES} more"


def check_tensor(tensors: dict[str, np.ndarray], name: str, shape: tuple[int, ...],
                  dtype: np.dtype, sizes: str, non_negative: bool = False) -> None:
    """The tensor ``name`` is there, with ``shape`` and ``dtype``, and holds finite values."""
    if name not in tensors:
        raise ValueError(f"tensor {name!r} is missing")
    array = tensors[name]
    if array.shape != shape:
        raise ValueError(f"tensor {name!r} has shape {array.shape}, but {sizes} make it {shape}")
    if array.dtype != dtype:
        raise ValueError(f"tensor {name!r} is {array.dtype}, but params['dtype'] is "
                         f"{dtype.name!r}")
    flat = array.reshape(-1)
    for start in range(0, flat.size, FINITE_CHUNK):
        chunk = flat[start:start + FINITE_CHUNK]
        if not np.isfinite(chunk).all():
            bad = chunk[~np.isfinite(chunk)][0]
            raise ValueError(f"tensor {name!r} holds {bad}, which training never writes")
        if non_negative and (chunk < 0).any():
            raise ValueError(f"tensor {name!r} holds {chunk[chunk < 0][0]}, a negative sum of "
                             f"squares, which training never writes")


def _check_record_position(state: Any) -> None:
    """A records run's reading position (records.RecordBatches.state): counts;
    resuming on the text checks them against its records."""
    if state is None:
        return
    if not isinstance(state, dict) or sorted(state) != sorted(RECORD_KEYS_OF_POSITION):
        raise ValueError(f"training['streams'] must hold {list(RECORD_KEYS_OF_POSITION)}, "
                         f"got {state!r:.80}")
    for key in RECORD_KEYS_OF_POSITION:
        count(state, key, "training['streams']")


def _check_streams(state: Any, batch_size: int, seq_length: int) -> None:
    """The saved reading position is one that Streams of these sizes can be at.

    Streams.restore owns what that is; the text is not in the checkpoint, so a
    zero-stride array of the saved length stands in for it, at no cost in
    memory, and resuming on the real text checks the length as well.
    """
    if state is None:                           # saved before the first step
        return
    length = state.get("stream_length") if isinstance(state, dict) else None
    if isinstance(length, bool) or not isinstance(length, int) or not (
            seq_length < length < MAX_COUNT // batch_size):
        raise ValueError(f"training['streams']['stream_length'] must be an int > "
                         f"seq_length={seq_length}, got {length!r}")
    text = np.broadcast_to(np.zeros(1, dtype=np.uint8), (batch_size * length,))
    try:
        Streams(text, batch_size, seq_length).restore(state)
    except ValueError as error:
        raise ValueError(f"training['streams'] is no reading position: {error}") from None
