"""The training loop: batches in, one fused C step each, records and checkpoints out.

``train`` runs a fitted (or freshly started) CharRNN over its text until a
limit is reached, keeping everything resume needs on the model: the stream
position, hidden state, smoothed loss, elapsed time and history. Each step is
one call into C (kernels.train_step): forward, BPTT, clipping and the
optimizer's update, whichever the optimizer.
"""

from __future__ import annotations

import hashlib
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernels
from .data import Streams, split_validation

if TYPE_CHECKING:
    import os

    from .model import CharRNN

# Validation loss is measured on at most this many held-out characters, so
# that measuring it costs little next to training.
VALIDATION_CHARACTERS = 20_000
# By default a record (and a validation loss) is taken each time this many
# more characters have been trained on.
RECORD_CHARACTERS = 250_000
# The dropout masks of step n come from SeedSequence(seed_, spawn_key=(DROPOUT_STREAM, n)):
# a function of the seed and the step alone, so resuming needs no extra state.
DROPOUT_STREAM = 1


def train(model: CharRNN, text: str | bytes, iterations: int | None, epochs: float | None,
          max_time: float | None, callbacks: Iterable[Callable[[dict[str, Any]], Any]],
          progress: bool | None, checkpoint: str | os.PathLike[str] | None,
          checkpoint_every: int, eval_every: int | None, resume: bool) -> None:
    """Train ``model`` on ``text`` (see CharRNN.fit, which checks the model first)."""
    if eval_every is None:
        eval_every = max(1, RECORD_CHARACTERS // (model.seq_length * model.batch_size))
    data = model.vocab_.encode(text)
    fingerprint = _fingerprint(data)
    if resume and model._text_fingerprint not in (None, fingerprint):
        raise ValueError("resume=True needs the text this model was trained on; "
                         "for new text, fit with resume=False")
    model._text_fingerprint = fingerprint
    train_data, val = split_validation(data, model.val_fraction)
    try:
        streams = Streams(train_data, model.batch_size, model.seq_length)
    except ValueError as error:
        hint = (" (a str is the text itself: pass pathlib.Path to read a file)"
                if isinstance(text, str) and len(text) < 260 else "")
        raise ValueError(f"the training text is too short: {error}{hint}") from None
    if model._stream_state is not None:
        streams.restore(model._stream_state)
    val = val[:VALIDATION_CHARACTERS]

    limits = _Limits(iterations, epochs, max_time, streams.batches_per_epoch, model.n_iter_)
    stopper = _InterruptFlag()
    bar = _progress_bar(progress, limits.total_iterations(),
                        characters_per_step=model.seq_length * model.batch_size)
    grads = np.zeros_like(model.params_)
    started = time.perf_counter() - model._elapsed
    record = None
    model.stop_reason_ = None
    with stopper:
        while True:
            reason = limits.reached(model.n_iter_, time.perf_counter())
            reason = reason or ("interrupted" if stopper.raised else None)
            if reason:
                model.stop_reason_ = reason
                break
            loss = _step(model, streams, grads)
            model._smooth_loss = 0.999 * model._smooth_loss + 0.001 * loss
            model._elapsed = time.perf_counter() - started
            if bar is not None:
                bar.update(1)
            if model.n_iter_ % eval_every == 0:
                record = _record(model, streams, val)
                if bar is not None:
                    bar.set_postfix(it=f"{model.n_iter_:,}",
                                    train=f"{record['train_loss']:.3f}",
                                    val=_format_loss(record["val_loss"]))
                if any(callback(record) is False for callback in callbacks):
                    model.stop_reason_ = "callback"
                    break
            if checkpoint is not None and model.n_iter_ % checkpoint_every == 0:
                model.save(checkpoint)
    if bar is not None:
        bar.close()
    if record is None or record["iteration"] != model.n_iter_:
        _record(model, streams, val)
    if checkpoint is not None:
        model.save(checkpoint)


def _step(model: CharRNN, streams: Streams, grads: np.ndarray) -> float:
    """One step: forward, BPTT, clip, update, in one C call. Returns nats per character."""
    inputs, targets, reset = streams.next_batch()
    if reset:
        model.hidden_[:] = 0
    rng = None
    if model.dropout > 0:
        rng = np.random.default_rng(np.random.SeedSequence(
            model.seed_, spawn_key=(DROPOUT_STREAM, model.n_iter_)))
    # A loss that is not finite updates nothing (kernels.train_step).
    loss, hidden = kernels.train_step(model.spec_, model.optimizer_, model.params_, grads,
                                      inputs, targets, model.hidden_, model.clip,
                                      model.clip_norm, model.dropout, rng)
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"the training loss became {loss} at iteration {model.n_iter_ + 1}; the model "
            f"is left as it was after iteration {model.n_iter_} (try a lower learning_rate)")
    model.hidden_ = hidden
    model.n_iter_ += 1
    model._stream_state = streams.state()
    return loss / model.seq_length


def _record(model: CharRNN, streams: Streams, val: np.ndarray) -> dict[str, Any]:
    record = {
        "iteration": model.n_iter_,
        "characters": model.n_iter_ * model.seq_length * model.batch_size,
        "epoch": streams.epoch,
        "train_loss": model._smooth_loss,
        "val_loss": float(-model._log_probs(val).mean()) if len(val) > 1 else None,
        "seconds": model._elapsed,
    }
    model.history_.append(record)
    return record


def _fingerprint(data: np.ndarray) -> str:
    """A short digest of the encoded text, to refuse resuming on other text."""
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:32]


def _format_loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class _Limits:
    """When to stop: iterations, epochs or seconds from now, first reached."""

    def __init__(self, iterations: int | None, epochs: float | None, max_time: float | None,
                 batches_per_epoch: int, start_iteration: int) -> None:
        for name, value in (("iterations", iterations), ("epochs", epochs),
                            ("max_time", max_time)):
            if value is not None and not (isinstance(value, (int, float, np.integer))
                                          and not isinstance(value, bool) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number or None, got {value!r}")
        if iterations is None and epochs is None and max_time is None:
            epochs = 1
        self.iterations, self.epochs, self.max_time = iterations, epochs, max_time
        self.batches_per_epoch = batches_per_epoch
        self.start_iteration = start_iteration
        self.start_time = time.perf_counter()

    def total_iterations(self) -> int | None:
        bounds = []
        if self.iterations is not None:
            bounds.append(int(self.iterations))
        if self.epochs is not None:
            bounds.append(int(math.ceil(self.epochs * self.batches_per_epoch)))
        return min(bounds) if bounds else None

    def reached(self, n_iter: int, now: float) -> str | None:
        done = n_iter - self.start_iteration
        if self.iterations is not None and done >= self.iterations:
            return "iterations"
        if self.epochs is not None and done >= self.epochs * self.batches_per_epoch:
            return "epochs"
        if self.max_time is not None and now - self.start_time >= self.max_time:
            return "max_time"
        return None


class _InterruptFlag:
    """While active, Ctrl-C sets a flag instead of raising mid-step.

    Only the main thread can own signal handlers; elsewhere this does nothing
    and Ctrl-C behaves as usual."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None

    def __enter__(self) -> _InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.raised:                       # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _progress_bar(progress: bool | None, total: int | None, characters_per_step: int) -> Any:
    """A tqdm bar counting characters (so its rate is chars/s) when progress
    is True, or on a terminal when it is None; else None."""
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="char", unit_scale=characters_per_step, dynamic_ncols=True)
