"""The training loop: batches in, one fused C step each, records and checkpoints out.

``train`` runs a fitted (or freshly started) CharRNN over its text until a
limit is reached, keeping everything resume needs on the model: the stream
position, hidden state, smoothed loss, elapsed time and history. Each step is
one call into C (kernels.train_step): forward, BPTT, clipping and the
optimizer's update, whichever the optimizer.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import checks, corpus, kernels, schedules
from .split_step import SplitStep
from .threads import blas_on_one_thread, resolve_threads
from .data import Streams, split_validation

if TYPE_CHECKING:
    from .filearray import FileArray
    from .spec import ModelSpec
    import os

    from .model import CharRNN
    from .torch_step import TorchStep

# Validation loss is measured on at most this many held-out characters, so
# that measuring it costs little next to training.
VALIDATION_CHARACTERS = 20_000
# By default a record (and a validation loss) is taken each time this many
# more characters have been trained on.
RECORD_CHARACTERS = 250_000
# The dropout masks of step n come from SeedSequence(seed_, spawn_key=(DROPOUT_STREAM, n)):
# a function of the seed and the step alone, so resuming needs no extra state.
DROPOUT_STREAM = 1


def train(model: CharRNN, text: str | bytes | corpus.EncodedText, iterations: float | None,
          epochs: float | None,
          max_time: float | None, callbacks: Iterable[Callable[[dict[str, Any]], Any]],
          progress: bool | None, checkpoint: str | os.PathLike[str] | None,
          checkpoint_every: int, eval_every: int | None, resume: bool,
          eval_seconds: float | None = None, patience: int | None = None,
          backend: str = "c", device: str | None = None) -> None:
    """Train ``model`` on ``text``, or on a file encoded with its vocabulary
    (corpus.encode_file); see CharRNN.fit, which checks the model and the
    checkpoint's path (writable, and this run's to overwrite) first.

    backend "c" steps with kernels.train_step (SplitStep over threads);
    "torch" with torch_step.TorchStep on ``device``, under torch.distributed
    one share of the streams per process."""
    if eval_every is None:
        eval_every = max(1, RECORD_CHARACTERS // (model.seq_length * model.batch_size))
    eval_seconds = checks.positive_number("eval_seconds", eval_seconds, or_none=True)
    if isinstance(text, corpus.EncodedText):
        data, fingerprint = text.data, text.fingerprint
    else:
        data = model.vocab_.encode(text)
        fingerprint = corpus.fingerprint(data)
    if resume and model._text_fingerprint not in (None, fingerprint):
        raise ValueError("resume=True needs the text this model was trained on; "
                         "for new text, fit with resume=False")
    model._text_fingerprint = fingerprint
    train_data, val = split_validation(data, model.val_fraction)
    context = warm_context(model, train_data)
    try:
        streams = Streams(train_data, model.batch_size, model.seq_length)
    except ValueError as error:
        hint = (" (a str is the text itself: pass pathlib.Path to read a file)"
                if isinstance(text, str) and len(text) < 260 else "")
        held = ""
        if len(val):         # else "the text is 21 characters" of a 22-character text puzzles
            held = (f" ({len(data):,} characters, less the last {len(val):,} held out for "
                    f"validation by val_fraction={model.val_fraction:g}; val_fraction=0 "
                    f"holds none out)")
        raise ValueError(f"the training text is too short{held}: {error}{hint}") from None
    if model._stream_state is not None:
        streams.restore(model._stream_state)
    val = np.asarray(val[:VALIDATION_CHARACTERS])       # from a cache file: read once
    if patience is not None and len(val) < 2:
        raise ValueError("patience counts validation records, and there is no validation "
                         "text: set val_fraction > 0 (or train on a longer text)")

    # One clock for the time limit, the schedule and the seconds a checkpoint
    # keeps: seconds of training, earlier fits of this run included.
    started = time.perf_counter() - model._elapsed
    limits = _Limits(iterations, epochs, max_time, streams.batches_per_epoch, model.n_iter_,
                     model._elapsed)
    if not _follows_plan(model, resume):
        model._schedule = limits.plan()
    plan = model._schedule
    assert plan is not None
    scheduled = model.lr_schedule != "constant" or model.warmup > 0
    model.optimizer_.lr_factor = 1.0
    stopper = _InterruptFlag()
    grads = np.zeros_like(model.params_)
    record = None
    resumed_at = model.n_iter_ if resume else None     # told to this run's first record
    last_record_time = model._elapsed
    model.stop_reason_ = None
    waiting = _Patience(model.history_, patience)
    keeper = _Keeper(model, model.keep_best and len(val) > 1)   # params_: training's weights
    model._keeper = keeper
    try:
        guard = _Divergence(model, keeper)
        split: SplitStep | TorchStep | None = None
        if backend == "torch":
            from .torch_step import TorchStep

            split = TorchStep(model.spec_, model.batch_size, model.optimizer_, model.params_,
                              "cpu" if device is None else device)
            model.threads_ = split.threads
        else:
            threads = resolve_threads(model.n_threads, model.batch_size,
                                      model.spec_.step_flops(model.seq_length))
            split = SplitStep(model.spec_, model.batch_size, threads) if threads > 1 else None
            model.threads_ = threads
        # Under torch.distributed, rank 0 alone writes checkpoints and shows progress.
        writer = split is None or split.is_writer
        bar = _progress_bar(progress if writer else False, limits.total_iterations(),
                            characters_per_step=model.seq_length * model.batch_size)
        # The whole loop inside: each call's own entry then costs a counter.
        with stopper, blas_on_one_thread:
            try:
                while True:
                    seconds, interrupted = _agree(split, time.perf_counter() - started,
                                                  stopper.raised)
                    reason = limits.reached(model.n_iter_, seconds)
                    reason = reason or ("interrupted" if interrupted else None)
                    if reason:
                        model.stop_reason_ = reason
                        model._elapsed = seconds
                        break
                    if scheduled:
                        model.optimizer_.lr_factor = schedules.factor(
                            model.lr_schedule, model.n_iter_ - plan.start_iteration,
                            plan.progress(model.n_iter_, seconds), model.warmup,
                            model.min_lr_ratio)
                    loss = _step(model, streams, grads, split)
                    model._smooth_loss = 0.999 * model._smooth_loss + 0.001 * loss
                    model._window_loss = (model._window_loss[0] + loss, model._window_loss[1] + 1)
                    guard.after_step(model, loss)
                    model._elapsed = time.perf_counter() - started
                    if bar is not None:
                        bar.update(1)
                    if model.n_iter_ % eval_every == 0 or (
                            eval_seconds is not None
                            and model._elapsed - last_record_time >= eval_seconds):
                        _sync(split)
                        record = _record(model, streams, val, resumed_at, context)
                        guard.at_record(model, loss, record)
                        resumed_at, last_record_time = None, model._elapsed
                        if bar is not None:
                            bar.set_postfix(it=f"{model.n_iter_:,}",
                                            train=f"{record['train_loss']:.3f}",
                                            val=_format_loss(record["val_loss"]))
                        stop = any(callback(record) is False for callback in callbacks)
                        if _agree(split, 0.0, stop)[1]:
                            model.stop_reason_ = "callback"
                            break
                        if waiting.after(record):
                            model.stop_reason_ = "patience"
                            break
                    if checkpoint is not None and model.n_iter_ % checkpoint_every == 0:
                        _sync(split)
                        guard.check(model)
                        if writer:
                            model.save(checkpoint)
            except FloatingPointError:
                raise                      # _Divergence put the last good state back
            except BaseException:
                _sync(split)               # the model as its last step left it
                raise
            finally:
                if split is not None:
                    split.close()
            _sync(split)
        if bar is not None:
            bar.close()
        guard.check(model)
        if record is None or record["iteration"] != model.n_iter_:
            keeper.offer(_record(model, streams, val, resumed_at, context), model.params_)
    finally:
        keeper.finish()
        model._keeper = None
    # The weights the model ends with (keep_best's) read the context anew.
    model._warm_state = warm_state(model.spec_, model.params_, context)
    _warn_if_no_better_than_untrained(model)
    if checkpoint is not None and writer:
        model.save(checkpoint)


class WorseThanUntrainedWarning(RuntimeWarning):
    """fit ended with weights that predict the held-out text no better than
    an untrained model does (a uniform guess over the vocabulary)."""


# Fewer steps than this leave any recipe near log V, often just above it
# (the write-up's Adagrad at batch 1 overshoots to log V + 1 in its first 10
# steps): a model still starting, not a failed run.
UNTRAINED_STEPS = 100


def _warn_if_no_better_than_untrained(model: CharRNN) -> None:
    """Say so when the record whose weights the model ends with, after at
    least UNTRAINED_STEPS steps, scores the validation text above log V: a
    run that learned nothing, or that an unstable recipe left there (the
    write-up's, at 1 x 64, does so for about 3 seeds in 100 of 1,500 steps:
    tests/learning.py)."""
    ended = next((r for r in reversed(model.history_) if r.get("kept")),
                 model.history_[-1] if model.history_ else None)
    if ended is None or ended["val_loss"] is None or ended["iteration"] < UNTRAINED_STEPS:
        return
    log_v = math.log(len(model.vocab_))
    if ended["val_loss"] > log_v:
        warnings.warn(
            f"training ended with the weights of iteration {ended['iteration']}, whose "
            f"validation loss {ended['val_loss']:.3f} nats/char is no better than an "
            f"untrained model's (log V = {log_v:.3f}): train longer, lower learning_rate, "
            f"or use more streams (batch_size)", WorseThanUntrainedWarning, stacklevel=4)


def check_schedule_end(model: CharRNN, iterations: float | None, epochs: float | None,
                       max_time: float | None, resume: bool) -> None:
    """ValueError if ``model``'s schedule decays and this fit would give it no
    end: no plan to follow, and every limit given is inf (CharRNN.fit)."""
    if model.lr_schedule == "constant" or _follows_plan(model, resume):
        return
    given = [limit for limit in (iterations, epochs, max_time) if limit is not None]
    if given and all(limit == math.inf for limit in given):
        raise ValueError(f"lr_schedule={model.lr_schedule!r} decays until the end of training, "
                         f"and this fit has none: give a finite iterations, epochs or max_time")


def _follows_plan(model: CharRNN, resume: bool) -> bool:
    """Whether this fit follows the model's schedule plan (else it makes one):
    a resumed fit does, unless the plan is over, or has no end and the
    schedule needs one."""
    plan = model._schedule if resume else None
    return plan is not None and not plan.over(model.n_iter_, model._elapsed) and (
        plan.bounded or model.lr_schedule == "constant")


def saved_weights(model: CharRNN) -> tuple[np.ndarray, np.ndarray | None]:
    """(the weights a checkpoint of ``model`` holds as the model's, the weights
    training continues from where they differ, else None): keep_best's,
    during fit or after (checkpoint.model_contents)."""
    keeper = model._keeper
    if keeper is not None:
        return keeper.weights()
    return model.params_, model._train_params


def _step(model: CharRNN, streams: Streams, grads: np.ndarray,
          split: SplitStep | TorchStep | None = None) -> float:
    """One step: forward, BPTT, clip, update, in one C call (or split across
    threads by streams, or taken by torch). Returns nats per character (NaN
    or inf if the step diverged, and then nothing changed)."""
    inputs, targets, reset = streams.next_batch()
    if reset:
        model.hidden_[:] = 0
    rng = None
    if model.dropout > 0:
        rng = np.random.default_rng(np.random.SeedSequence(
            model.seed_, spawn_key=(DROPOUT_STREAM, model.n_iter_)))
    # A loss that is not finite updates nothing (kernels.train_step), and
    # counts as no step: the caller's _Divergence takes it from there.
    if split is None:
        loss, hidden = kernels.train_step(model.spec_, model.optimizer_, model.params_, grads,
                                          inputs, targets, model.hidden_, model.clip,
                                          model.clip_norm, model.dropout, rng)
    else:
        loss, hidden = split(model.optimizer_, model.params_, grads, inputs, targets,
                             model.hidden_, model.clip, model.clip_norm, model.dropout, rng)
    if not math.isfinite(loss):
        return loss
    model.hidden_ = hidden
    model.n_iter_ += 1
    model._stream_state = streams.state()
    return loss / model.seq_length


def _sync(step: SplitStep | TorchStep | None) -> None:
    """The weights back in the model, where a torch device trains them."""
    if step is not None:
        step.sync()


def _agree(step: SplitStep | TorchStep | None, seconds: float,
           flag: bool) -> tuple[float, bool]:
    """(seconds, flag) as every process of a distributed run sees them alike."""
    return (seconds, flag) if step is None else step.agree(seconds, flag)


def _record(model: CharRNN, streams: Streams, val: np.ndarray,
            resumed_at: int | None = None,
            context: np.ndarray | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "iteration": model.n_iter_,
        "characters": model.n_iter_ * model.seq_length * model.batch_size,
        "epoch": streams.epoch,
        # The mean loss of the steps since the last record, measured as they
        # were taken: comparable with val_loss, where the write-up's
        # smooth_loss, started at log V, lags by about a thousand steps.
        "train_loss": (model._window_loss[0] / model._window_loss[1] if model._window_loss[1]
                       else model._smooth_loss),
        "smooth_loss": model._smooth_loss,
        "val_loss": float(-model._log_probs(val).mean()) if len(val) > 1 else None,
        "seconds": model._elapsed,
        "learning_rate": model.optimizer_.current_learning_rate,    # the last step's
    }
    if resumed_at is not None:      # the first record after a resume: plots mark it
        record["resumed_at"] = resumed_at
    model.history_.append(record)
    model._window_loss = (0.0, 0)
    model._warm_state = warm_state(model.spec_, model.params_, context)  # for the callbacks
    return record


# An unprimed sample starts as the text starts a line, from the state the
# model has after reading about this many characters of its training text up
# to a line break, not from a zero state: there a 2 x 256 GRU puts 59% of the
# first draw's probability on symbols a read state gives 0.4% ("yXDIH]:").
WARM_CHARACTERS = 1_000
# How far the text's first line break may be looked for.
WARM_SEARCH = 20_000


def warm_context(model: CharRNN, data: np.ndarray | FileArray) -> np.ndarray | None:
    """The start of ``data`` up to the line break at or after WARM_CHARACTERS
    (or the last before it), that break last: int32 indices. None where the
    vocabulary has no line break or the first WARM_SEARCH characters none."""
    newline = model.vocab_.line_break()
    if newline is None:
        return None
    breaks = np.flatnonzero(np.asarray(data[:WARM_SEARCH]) == newline)
    if breaks.size == 0:
        return None
    after = breaks[breaks >= WARM_CHARACTERS]
    end = int(after[0] if after.size else breaks[-1])
    return np.array(data[:end + 1], dtype=np.int32)


def warm_state(spec: ModelSpec, params: np.ndarray,
               context: np.ndarray | None) -> np.ndarray | None:
    """The state (spec.sample_state_shape()) after reading ``context`` but
    its last character, the line break an unprimed sample feeds as its
    prime; None without a context."""
    if context is None:
        return None
    h = np.zeros(spec.state_shape(1), dtype=spec.np_dtype)
    if len(context) > 1:
        _, h = kernels.target_log_probs(spec, params, context[:-1, None], context[1:, None], h)
    return h.reshape(spec.sample_state_shape())


def _format_loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# Training has diverged once the smoothed loss passes log V + DIVERGED_NATS
# nats per character: the model then gives the right character, over its
# last thousand steps, e^10 = 22,000 times less probability than a uniform
# guess (log V, what an untrained model scores), and the unigram level is
# below log V. Measured on Shakespeare (V = 75, 64 units, 3,000-4,000 steps):
# runs that learn peak at log V + 3.1 smoothed (Adagrad at lr 1.0, batch 8,
# whose batch losses pass log V + 10 for 89 steps in a row and recover), runs
# that blow up pass log V + 21 (Adam at lr 0.2: 25 nats, then 1e3 to 1e38 at
# higher rates). Batch losses alone are too noisy to judge by.
DIVERGED_NATS = 10.0


class _Snapshot:
    """Everything resume needs, copied from a model: weights, optimizer state,
    hidden state, iteration, stream position, smoothed loss, seconds and
    history length. The buffers are allocated once and copied into after."""

    def __init__(self, model: CharRNN) -> None:
        self.params = model.params_.copy()
        self.buffers = {name: buffer.copy() for name, buffer in model.optimizer_.buffers.items()}
        self.take(model)

    def take(self, model: CharRNN) -> None:
        np.copyto(self.params, model.params_)
        for name, buffer in model.optimizer_.buffers.items():
            np.copyto(self.buffers[name], buffer)
        self.steps = model.optimizer_.steps
        self.hidden = model.hidden_.copy()
        self.n_iter = model.n_iter_
        self.stream_state = None if model._stream_state is None else dict(model._stream_state)
        self.smooth_loss = model._smooth_loss
        self.window_loss = model._window_loss
        self.elapsed = model._elapsed
        self.history = len(model.history_)

    def put_back(self, model: CharRNN) -> None:
        np.copyto(model.params_, self.params)
        for name, buffer in model.optimizer_.buffers.items():
            np.copyto(buffer, self.buffers[name])
        model.optimizer_.steps = self.steps
        model.hidden_ = self.hidden.copy()
        model.n_iter_ = self.n_iter
        model._stream_state = None if self.stream_state is None else dict(self.stream_state)
        model._smooth_loss = self.smooth_loss
        model._window_loss = self.window_loss
        model._elapsed = self.elapsed
        del model.history_[self.history:]


class _Divergence:
    """Divergence caught, and the last good state kept to go back to.

    Caught: a loss that is not finite (the step then updated nothing), a
    smoothed loss above log V + DIVERGED_NATS (both checked at every step: two
    float compares), and weights or optimizer state that are not finite
    (checked in full at each record, before each checkpoint and at the end,
    about 5 us per 25,000 values; between records, a weight that is not
    finite makes the next loss that uses it not finite).

    The state at the start is kept, and the state at each record whose loss
    is below the limit, once the next step's loss (the first computed with
    its weights: a step's loss comes before its update) is below it too; the
    two snapshots cost one copy per record. On divergence the kept state is
    put back, so the model can be saved, sampled or resumed, and
    FloatingPointError says what to change.

    keep_best's candidates follow the same rule (_Keeper): a record's weights
    are kept as the best once the next loss vouches for its snapshot.
    """

    def __init__(self, model: CharRNN, keeper: _Keeper) -> None:
        self.keeper = keeper
        self.limit = math.log(len(model.vocab_)) + DIVERGED_NATS
        if not self._finite(model):
            raise FloatingPointError(
                f"the model's weights or optimizer state hold NaN or infinity at iteration "
                f"{model.n_iter_}, before this fit: fit afresh (resume=False)")
        self.kept = _Snapshot(model)
        self.pending: _Snapshot | None = None     # a record's, until the next loss vouches
        self.spare: _Snapshot | None = None

    @staticmethod
    def _finite(model: CharRNN) -> bool:
        return bool(np.isfinite(model.params_).all()) and all(
            np.isfinite(buffer).all() for buffer in model.optimizer_.buffers.values())

    def after_step(self, model: CharRNN, loss: float) -> None:
        if not math.isfinite(loss):
            self._restore_and_raise(model, f"the training loss became {loss} at iteration "
                                           f"{model.n_iter_ + 1}")
        if self.pending is not None:
            if loss <= self.limit:
                self.kept, self.pending = self.pending, self.kept
                self.keeper.confirm()
            else:
                self.keeper.drop()
            self.spare, self.pending = self.pending, None
        if not model._smooth_loss <= self.limit:
            self._restore_and_raise(
                model, f"the smoothed training loss reached {model._smooth_loss:.4g} nats per "
                       f"character at iteration {model.n_iter_}, above log V + "
                       f"{DIVERGED_NATS:g} = {self.limit:.2f}")

    def at_record(self, model: CharRNN, loss: float, record: dict[str, Any]) -> None:
        """Check in full; a candidate to keep if this step's loss was below the limit."""
        self.check(model)
        if loss <= self.limit:
            if self.spare is None:
                self.pending = _Snapshot(model)
            else:
                self.spare.take(model)
                self.pending, self.spare = self.spare, None
            self.keeper.offer(record, self.pending.params)

    def check(self, model: CharRNN) -> None:
        if not self._finite(model):
            self._restore_and_raise(model, f"the weights or optimizer state became NaN or "
                                           f"infinite by iteration {model.n_iter_}")

    def _restore_and_raise(self, model: CharRNN, what: str) -> None:
        self.kept.put_back(model)
        self.keeper.drop()
        model.stop_reason_ = "diverged"
        optimizer, at = model.optimizer_, self.kept.n_iter
        raise FloatingPointError(
            f"training diverged: {what}. The model is restored to iteration {at}, the last "
            f"state found good. Fit again with a lower learning_rate (this run's is "
            f"{optimizer.learning_rate:g}; {optimizer.name}'s default is "
            f"{optimizer.default_learning_rate:g}), or set clip_norm (e.g. 1.0) to damp "
            f"gradient spikes: set_params(clip_norm=1.0) and fit(resume=True) continue "
            f"from iteration {at}")


class _Keeper:
    """keep_best: the weights of the record with the lowest validation loss.

    While fit runs, params_ holds training's weights. A record that lowers
    the lowest validation loss is a candidate, its weights those of the
    guard's pending snapshot (_Divergence), until the next step's loss
    vouches for them: then they are copied here (one copy per such record)
    and kept; on divergence the candidate goes with the state it came from.
    ``finish`` (at the end of fit, however it ends) puts the kept weights in
    params_ and the last step's in model._train_params, where the next
    resumed fit takes them back from; ``weights`` gives a checkpoint saved
    meanwhile both. history_ marks "kept" the record whose weights the model
    would end with. Not active (keep_best off, or no validation text), the
    model ends with the last step's weights.
    """

    def __init__(self, model: CharRNN, active: bool) -> None:
        self.model, self.active = model, active
        self.record: dict[str, Any] | None = None         # the kept record
        self.params: np.ndarray | None = None             # and its weights
        self.candidate: dict[str, Any] | None = None      # a lower one, until vouched for
        self.candidate_params: np.ndarray | None = None   # not a copy
        kept = [record for record in model.history_ if record.get("kept")]
        if active and kept:
            self.record, self.params = kept[-1], model.params_.copy()
        if model._train_params is not None:      # the last fit left the kept weights out
            np.copyto(model.params_, model._train_params)
            model._train_params = None
        self._mark()

    def offer(self, record: dict[str, Any], weights: np.ndarray) -> None:
        """A new record and its weights (the guard's pending snapshot's, or
        params_ once training is over): a candidate if its loss is lower."""
        loss = record["val_loss"]
        best = self.candidate if self.candidate is not None else self.record
        if self.active and loss is not None and (best is None or loss < best["val_loss"]):
            self.candidate, self.candidate_params = record, weights
            self._mark()

    def confirm(self) -> None:
        """The candidate's weights are good to keep: copy them."""
        if self.candidate is None or self.candidate_params is None:
            return
        if self.params is None:
            self.params = self.candidate_params.copy()
        else:
            np.copyto(self.params, self.candidate_params)
        self.record, self.candidate, self.candidate_params = self.candidate, None, None

    def drop(self) -> None:
        """The candidate's state was not good to keep (or was put back)."""
        if self.candidate is not None:
            self.candidate = self.candidate_params = None
            self._mark()

    def weights(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(the weights the model would end with now, training's where they differ)."""
        model = self.model
        record, params = ((self.candidate, self.candidate_params) if self.candidate is not None
                          else (self.record, self.params))
        if record is None or params is None or record["iteration"] == model.n_iter_:
            return model.params_, None
        return params, model.params_

    def finish(self) -> None:
        """The model takes the kept weights; training's go to model._train_params."""
        model = self.model
        if self.candidate is not None:          # no step is left to vouch for it
            if self.candidate["iteration"] == model.n_iter_:
                self.record, self.candidate = self.candidate, None    # params_ are its weights
            else:
                self.confirm()
        model._train_params = None
        if self.record is not None and self.record["iteration"] != model.n_iter_:
            assert self.params is not None
            model._train_params = model.params_.copy()
            np.copyto(model.params_, self.params)
        model.best_iteration_ = None if self.record is None else self.record["iteration"]
        self._mark()

    def _mark(self) -> None:
        target = self.candidate if self.candidate is not None else self.record
        for record in self.model.history_:
            if record is not target:
                record.pop("kept", None)
        if target is not None:
            target["kept"] = True


class _Patience:
    """fit(patience=N): stop once N records in a row have not lowered the
    lowest validation loss in history_ (earlier fits of the run included)."""

    def __init__(self, history: list[dict[str, Any]], patience: int | None) -> None:
        self.patience, self.lowest, self.waited = patience, math.inf, 0
        for record in history:
            self.after(record)

    def after(self, record: dict[str, Any]) -> bool:
        """Count ``record``; True once the patience has run out."""
        loss = record.get("val_loss")
        if loss is not None:
            if loss < self.lowest:
                self.lowest, self.waited = loss, 0
            else:
                self.waited += 1
        return self.patience is not None and self.waited >= self.patience


class _Limits:
    """When to stop: iterations, epochs or seconds of training from now, first reached.

    CharRNN.fit has checked them: each None, a number >= 0, or inf (no
    bound). All None means one epoch. Seconds are the model's (_elapsed):
    training's, counted across resumes."""

    def __init__(self, iterations: float | None, epochs: float | None,
                 max_time: float | None, batches_per_epoch: int, start_iteration: int,
                 start_seconds: float) -> None:
        if iterations is None and epochs is None and max_time is None:
            epochs = 1
        self.iterations, self.epochs, self.max_time = iterations, epochs, max_time
        self.batches_per_epoch = batches_per_epoch
        self.start_iteration = start_iteration
        self.start_seconds = start_seconds

    def total_iterations(self) -> int | None:
        """The iterations the bounds allow, for the progress bar; None if unbounded."""
        bounds = []
        if self.iterations is not None and math.isfinite(self.iterations):
            bounds.append(int(self.iterations))
        if self.epochs is not None and math.isfinite(self.epochs):
            bounds.append(int(math.ceil(self.epochs * self.batches_per_epoch)))
        return min(bounds) if bounds else None

    def plan(self) -> schedules.Plan:
        """A learning-rate schedule's plan: from here to where these limits stop."""
        total = self.total_iterations()
        end_seconds = (None if self.max_time is None or not math.isfinite(self.max_time)
                       else self.start_seconds + self.max_time)
        return schedules.Plan(self.start_iteration, self.start_seconds,
                              None if total is None else self.start_iteration + total,
                              end_seconds)

    def reached(self, n_iter: int, seconds: float) -> str | None:
        done = n_iter - self.start_iteration
        if self.iterations is not None and done >= self.iterations:
            return "iterations"
        if self.epochs is not None and done >= self.epochs * self.batches_per_epoch:
            return "epochs"
        if self.max_time is not None and seconds - self.start_seconds >= self.max_time:
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
