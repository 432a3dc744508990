"""The training loop: batches in, one step each, records and checkpoints out.

``train`` advances a TrainingState (training_state.py) over encoded text
until a limit is reached, keeping in it everything resume needs: the stream
position, carried state, smoothed loss, elapsed time and history. It knows
nothing of the estimator: the model's shapes come as a ModelSpec, its
hyperparameters and fit's limits as a Config, the text as corpus.EncodedText,
saving as a callback and evaluation as a plain function. Each step is one
call of a step object (split_step.FusedStep: forward, BPTT, clipping and the
update in one C call; SplitStep, over threads; torch_step.TorchStep), all
with the same members, so the loop has no case of its own for any.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import checks, kernels, records, schedules
from .checks import Call, Name, Setting, With
from .streams import Streams, split_validation
from .records import RecordBatches
from .run_limits import InterruptFlag, Limits, Progress
from .split_step import FusedStep, SplitStep
from .threads import blas_on_one_thread, resolve_threads
from .training_guards import Divergence, Keeper, Patience, hidden_of, optimizer_of
from .training_state import TrainingState

if TYPE_CHECKING:
    from .corpus import EncodedText
    from .filearray import FileArray
    from .optimizers import Optimizer
    from .spec import ModelSpec

# Validation loss is measured on at most this many held-out characters, so
# that measuring it costs little next to training.
VALIDATION_CHARACTERS = 20_000
# By default a record (and a validation loss) is taken each time this many
# more characters have been trained on.
RECORD_CHARACTERS = 250_000
# The dropout masks of step n come from SeedSequence(seed, spawn_key=(DROPOUT_STREAM, n)):
# a function of the seed and the step alone, so resuming needs no extra state.
DROPOUT_STREAM = 1
# The hyperparameters training reads (CharRNN's, by name).
RECIPE = ("seq_length", "batch_size", "clip", "clip_norm", "dropout", "val_fraction",
          "lr_schedule", "warmup", "min_lr_ratio", "keep_best", "n_threads", "records")


@dataclass(frozen=True)
class Config:
    """What a run follows: the hyperparameters of RECIPE, and fit's limits,
    cadence and backend (CharRNN.fit has checked them all)."""

    seq_length: int
    batch_size: int
    clip: float
    clip_norm: float | None
    dropout: float
    val_fraction: float
    lr_schedule: str
    warmup: int
    min_lr_ratio: float
    keep_best: bool
    n_threads: int | None
    records: bool
    iterations: float | None = None
    epochs: float | None = None
    max_time: float | None = None
    checkpoint_every: int = 1000
    eval_every: int | None = None
    eval_seconds: float | None = None
    patience: int | None = None
    resume: bool = False
    backend: str = "c"
    device: str | None = None
    progress: bool | None = None

    @classmethod
    def of(cls, params: dict[str, Any], **run: Any) -> Config:
        """The Config of a model of ``params`` (get_params) and fit's ``run`` arguments."""
        return cls(**{name: params[name] for name in RECIPE}, **run)

    @property
    def scheduled(self) -> bool:
        """Whether the learning rate changes from step to step."""
        return self.lr_schedule != "constant" or self.warmup > 0


# fit's backends: the C core, or PyTorch (torch_step.py) on any of its devices.
BACKENDS = ("c", "torch")


def check_run(*, iterations: Any, epochs: Any, max_time: Any, checkpoint_every: Any,
              eval_every: Any, eval_seconds: Any, patience: Any, backend: Any, device: Any,
              **rest: Any) -> dict[str, Any]:
    """fit's limits, cadence and backend, checked where they enter: Config's
    run fields, with ``rest`` (resume, progress) as given."""
    if device is not None and checks.one_of("backend", backend, BACKENDS) != "torch":
        raise ValueError(f"device={device!r} is a torch device: it needs backend='torch' "
                         f"(the C core runs on the CPU)")
    return dict(
        iterations=checks.count("iterations", iterations, or_none=True, or_inf=True),
        epochs=checks.non_negative_number("epochs", epochs, or_none=True),
        max_time=checks.non_negative_number("max_time", max_time, or_none=True),
        checkpoint_every=checks.positive_int("checkpoint_every", checkpoint_every),
        eval_every=None if eval_every is None else checks.positive_int("eval_every", eval_every),
        eval_seconds=checks.positive_number("eval_seconds", eval_seconds, or_none=True),
        patience=None if patience is None else checks.positive_int("patience", patience),
        backend=checks.one_of("backend", backend, BACKENDS), device=device, **rest)


def check_callbacks(callbacks: Any) -> tuple[Callable[[dict[str, Any]], Any], ...]:
    """fit's callbacks as a tuple (read at every record: a generator would run
    dry), each a callable; TypeError otherwise."""
    if callable(callbacks):
        raise TypeError("callbacks must be an iterable of callables: pass [callback]")
    callbacks = tuple(callbacks)
    for callback in callbacks:
        if not callable(callback):
            raise TypeError(f"callbacks must be callables, got {callback!r}")
    return callbacks


def writes_checkpoints(backend: str) -> bool:
    """Whether this process saves checkpoints: under torch.distributed, rank 0
    alone (as make_step's TorchStep.is_writer says, before there is a step)."""
    if backend != "torch":
        return True
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class Step(Protocol):
    """A training step (FusedStep, SplitStep, TorchStep): kernels.train_step's
    arguments and result, and what a loop over processes needs."""

    is_writer: bool          # this process writes checkpoints and shows progress
    threads: int

    def __call__(self, optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
                 inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray, clip: float,
                 clip_norm: float | None, dropout: float,
                 rng: np.random.Generator | None) -> tuple[float, np.ndarray]: ...

    def sync(self) -> None: ...

    def agree(self, seconds: float, flag: bool) -> tuple[float, bool]: ...

    def close(self) -> None: ...


class TextTooShortError(checks.ParameterMessage, ValueError):
    """The training text holds fewer characters than one batch needs."""


# What train calls to save a checkpoint of the state (the kept weights as
# the model's, while keep_best has any: TrainingState.saved_weights).
Save = Callable[[TrainingState], None]
# log p(data[i + 1] | data[:i + 1]) for each i, from a zero state (kernels.log_probs).
Evaluate = Callable[["ModelSpec", np.ndarray, np.ndarray], np.ndarray]


def train(spec: ModelSpec, state: TrainingState, config: Config, text: EncodedText, *,
          callbacks: Iterable[Callable[[dict[str, Any]], Any]] = (), save: Save | None = None,
          evaluate: Evaluate = kernels.log_probs) -> None:
    """Train ``state`` (of a model of ``spec``) on ``text``, as ``config`` says;
    see CharRNN.fit, which checks everything first, including that ``save``
    may write its checkpoint. ``save``, where given, is called every
    config.checkpoint_every iterations and at the end."""
    eval_every = config.eval_every or max(
        1, RECORD_CHARACTERS // (config.seq_length * config.batch_size))
    if config.resume and state.fingerprint not in (None, text.fingerprint):
        raise checks.InvalidParameterError(
            (Setting("resume", True), " needs the text this model was trained on"),
            ("for new text, ", Call("fit"), " ", With("resume", False)), param="resume")
    state.fingerprint = text.fingerprint
    newline = text.vocab.line_break()
    train_data, val = split_validation(text.data, config.val_fraction)
    streams: Streams | RecordBatches
    if config.records:             # each line from a zero state, nothing to warm up on
        if newline is not None:
            train_data, val = records.split_validation(np.asarray(text.data), newline,
                                                       config.val_fraction)
        streams = _records(train_data, newline, config, state.seed)
        context, evaluate = None, functools.partial(records.log_probs, end=streams.end)
    else:
        context = warm_context(newline, train_data)
        streams = _streams(train_data, config, len(text.data), len(val))
    if state.streams is not None:
        streams.restore(state.streams)
    val = np.asarray(val[:VALIDATION_CHARACTERS])       # from a cache file: read once
    if config.patience is not None and len(val) < 2:
        raise checks.InvalidParameterError(
            ("patience counts validation records, and there is no validation text: set ",
             Name("val_fraction"), " > 0 (or train on a longer text)"), param="patience")

    # One clock for the time limit, the schedule and the seconds a checkpoint
    # keeps: seconds of training, earlier fits of this run included.
    started = time.perf_counter() - state.elapsed
    limits = Limits(config.iterations, config.epochs, config.max_time, streams.batches_per_epoch,
                    state.iteration, state.elapsed)
    if not follows_plan(config, state):
        state.schedule = limits.plan()
    plan = state.schedule
    assert plan is not None
    optimizer = optimizer_of(state)
    optimizer.lr_factor = 1.0
    scheduled = config.scheduled
    stopper = InterruptFlag()
    grads = np.zeros_like(state.params)
    record = None
    resumed_at = state.iteration if config.resume else None     # told to this run's first record
    last_record_time = state.elapsed
    state.stop_reason = None
    waiting = Patience(state.history, config.patience)
    keeper = Keeper(state, config.keep_best and len(val) > 1)   # params: training's weights
    try:
        guard = Divergence(state, spec.vocab_size, keeper)
        step = make_step(spec, config, optimizer, state.params)
        state.threads = step.threads
        # Under torch.distributed, rank 0 alone writes checkpoints and shows progress.
        writer = step.is_writer
        bar = Progress.shown(config.progress if writer else False, limits,
                             characters_per_step=config.seq_length * config.batch_size)
        # The whole loop inside: each call's own entry then costs a counter.
        with stopper, blas_on_one_thread:
            try:
                while True:
                    seconds, interrupted = step.agree(time.perf_counter() - started,
                                                      stopper.raised)
                    reason = limits.reached(state.iteration, seconds)
                    reason = reason or ("interrupted" if interrupted else None)
                    if reason:
                        state.stop_reason = reason
                        state.elapsed = seconds
                        break
                    if scheduled:
                        optimizer.lr_factor = schedules.factor(
                            config.lr_schedule, state.iteration - plan.start_iteration,
                            plan.progress(state.iteration, seconds), config.warmup,
                            config.min_lr_ratio)
                    loss = _step(state, config, streams, grads, step)
                    state.smooth_loss = 0.999 * state.smooth_loss + 0.001 * loss
                    state.window_loss = (state.window_loss[0] + loss, state.window_loss[1] + 1)
                    guard.after_step(state, loss)
                    state.elapsed = time.perf_counter() - started
                    if bar is not None:
                        bar.step(state.elapsed - limits.start_seconds)
                    if state.iteration % eval_every == 0 or (
                            config.eval_seconds is not None
                            and state.elapsed - last_record_time >= config.eval_seconds):
                        step.sync()
                        record = _record(spec, state, config, streams, val, evaluate,
                                         resumed_at, context)
                        guard.at_record(state, loss, record)
                        resumed_at, last_record_time = None, state.elapsed
                        if bar is not None:
                            bar.set_postfix(it=f"{state.iteration:,}",
                                            train=f"{record['train_loss']:.3f}",
                                            val=_format_loss(record["val_loss"]))
                        stop = any(callback(record) is False for callback in callbacks)
                        if step.agree(0.0, stop)[1]:
                            state.stop_reason = "callback"
                            break
                        if waiting.after(record):
                            state.stop_reason = "patience"
                            break
                    if save is not None and state.iteration % config.checkpoint_every == 0:
                        step.sync()
                        guard.check(state)
                        if writer:
                            save(state)
            except FloatingPointError:
                raise                      # Divergence put the last good state back
            except BaseException:
                step.sync()               # the state as its last step left it
                raise
            finally:
                step.close()
            step.sync()
        if bar is not None:
            bar.close()
        guard.check(state)
        if record is None or record["iteration"] != state.iteration:
            keeper.offer(_record(spec, state, config, streams, val, evaluate, resumed_at,
                                 context), state.params)
    finally:
        keeper.finish()
    # The weights the model ends with (keep_best's) read the context anew.
    state.warm_state = warm_state(spec, state.params, context)
    _warn_if_no_better_than_untrained(state, spec.vocab_size)
    if save is not None and writer:
        save(state)


def make_step(spec: ModelSpec, config: Config, optimizer: Optimizer,
              params: np.ndarray) -> Step:
    """The step ``config`` asks for: torch's on its device, else the C core's,
    split over threads where they pay (threads.resolve_threads)."""
    if config.backend == "torch":
        from .torch_step import TorchStep

        return TorchStep(spec, config.batch_size, optimizer, params,
                         "cpu" if config.device is None else config.device)
    threads = resolve_threads(config.n_threads, config.batch_size,
                              spec.step_flops(config.seq_length))
    return SplitStep(spec, config.batch_size, threads) if threads > 1 else FusedStep(spec)


def _streams(train_data: np.ndarray | FileArray, config: Config, length: int,
             held_out: int) -> Streams:
    """The training text's streams; TextTooShortError where it holds too few characters."""
    try:
        return Streams(train_data, config.batch_size, config.seq_length)
    except ValueError as error:
        held: tuple[checks.Part, ...] = ()
        if held_out:        # else "the text is 21 characters" of a 22-character text puzzles
            held = (f" ({length:,} characters, less the last {held_out:,} held out for "
                    "validation by ", Setting("val_fraction", config.val_fraction,
                                              f"{config.val_fraction:g}"),
                    "; ", Setting("val_fraction", 0), " holds none out)")
        clauses = list(checks.clauses_of(error))
        clauses[0] = ("the training text is too short", *held, ": ", *clauses[0])
        raise TextTooShortError(*clauses, param="text") from None


def _records(train_data: np.ndarray | FileArray, newline: int | None, config: Config,
             seed: int) -> RecordBatches:
    """The training text's records (records.py); TextTooShortError where there are none."""
    if newline is None:
        raise TextTooShortError("records=True trains on a record per line, and the text has "
                                "no line break", param="records")
    try:
        return RecordBatches(train_data, newline, config.batch_size, seed)
    except ValueError as error:
        raise TextTooShortError(f"the training text is too short: {error}",
                                param="text") from None


class WorseThanUntrainedWarning(RuntimeWarning):
    """fit ended with weights that predict the held-out text no better than
    an untrained model does (a uniform guess over the vocabulary)."""


# Fewer steps than this leave any recipe near log V, often just above it
# (the write-up's Adagrad at batch 1 overshoots to log V + 1 in its first 10
# steps): a model still starting, not a failed run.
UNTRAINED_STEPS = 100


def _warn_if_no_better_than_untrained(state: TrainingState, vocab_size: int) -> None:
    """Say so when the record whose weights the state ends with, after at
    least UNTRAINED_STEPS steps, scores the validation text above log V: a
    run that learned nothing, or that an unstable recipe left there (the
    write-up's, at 1 x 64, does so for about 3 seeds in 100 of 1,500 steps:
    tests/learning.py)."""
    ended = next((r for r in reversed(state.history) if r.get("kept")),
                 state.history[-1] if state.history else None)
    if ended is None or ended["val_loss"] is None or ended["iteration"] < UNTRAINED_STEPS:
        return
    log_v = math.log(vocab_size)
    if ended["val_loss"] > log_v:
        warnings.warn(
            f"training ended with the weights of iteration {ended['iteration']}, whose "
            f"validation loss {ended['val_loss']:.3f} nats/char is no better than an "
            f"untrained model's (log V = {log_v:.3f}): train longer, lower learning_rate, "
            f"or use more streams (batch_size)", WorseThanUntrainedWarning, stacklevel=4)


def check_schedule_end(config: Config, state: TrainingState | None) -> None:
    """ValueError if the schedule decays and this fit would give it no end: no
    plan to follow (``state``: the one resumed, else None), and every limit
    given is inf (CharRNN.fit)."""
    if config.lr_schedule == "constant" or (state is not None and follows_plan(config, state)):
        return
    given = [limit for limit in (config.iterations, config.epochs, config.max_time)
             if limit is not None]
    if given and all(limit == math.inf for limit in given):
        raise checks.InvalidParameterError(
            (Setting("lr_schedule", config.lr_schedule), " decays until the end of training, "
             "and this fit has none: give a finite ", Name("iterations"), ", ", Name("epochs"),
             " or ", Name("max_time")), param="lr_schedule")


def follows_plan(config: Config, state: TrainingState) -> bool:
    """Whether this fit follows the state's schedule plan (else it makes one):
    a resumed fit does, unless the plan is over, or has no end and the
    schedule needs one."""
    plan = state.schedule if config.resume else None
    return plan is not None and not plan.over(state.iteration, state.elapsed) and (
        plan.bounded or config.lr_schedule == "constant")


def _step(state: TrainingState, config: Config, streams: Streams | RecordBatches,
          grads: np.ndarray, step: Step) -> float:
    """One step: forward, BPTT, clip, update. Returns nats per character
    (NaN or inf if the step diverged, and then nothing changed)."""
    inputs, targets, reset = streams.next_batch()
    hidden = hidden_of(state)
    if reset:
        hidden[:] = 0
    rng = None
    if config.dropout > 0:
        rng = np.random.default_rng(np.random.SeedSequence(
            state.seed, spawn_key=(DROPOUT_STREAM, state.iteration)))
    # A loss that is not finite updates nothing (kernels.train_step), and
    # counts as no step: the caller's Divergence takes it from there.
    loss, hidden = step(optimizer_of(state), state.params, grads, inputs, targets, hidden,
                        config.clip, config.clip_norm, config.dropout, rng)
    if not math.isfinite(loss):
        return loss
    state.hidden = hidden
    state.iteration += 1
    state.streams = streams.state()
    return loss / len(inputs)          # seq_length, or a record's length + 1


def _record(spec: ModelSpec, state: TrainingState, config: Config,
            streams: Streams | RecordBatches, val: np.ndarray, evaluate: Evaluate,
            resumed_at: int | None,
            context: np.ndarray | None) -> dict[str, Any]:
    window_sum, window_steps = state.window_loss
    record: dict[str, Any] = {
        "iteration": state.iteration,
        "characters": (streams.characters() if isinstance(streams, RecordBatches)
                       else state.iteration * config.seq_length * config.batch_size),
        "epoch": streams.epoch,
        # The mean loss of the steps since the last record, measured as they
        # were taken: comparable with val_loss, where the write-up's
        # smooth_loss, started at log V, lags by about a thousand steps.
        "train_loss": window_sum / window_steps if window_steps else state.smooth_loss,
        "smooth_loss": state.smooth_loss,
        "val_loss": float(-evaluate(spec, state.params, val).mean()) if len(val) > 1 else None,
        "seconds": state.elapsed,
        "learning_rate": optimizer_of(state).current_learning_rate,    # the last step's
    }
    if resumed_at is not None:      # the first record after a resume: plots mark it
        record["resumed_at"] = resumed_at
    state.history.append(record)
    state.window_loss = (0.0, 0)
    state.warm_state = warm_state(spec, state.params, context)  # for the callbacks
    return record


# An unprimed sample starts as the text starts a line, from the state the
# model has after reading about this many characters of its training text up
# to a line break, not from a zero state: there a 2 x 256 GRU puts 59% of the
# first draw's probability on symbols a read state gives 0.4% ("yXDIH]:").
WARM_CHARACTERS = 1_000
# How far the text's first line break may be looked for.
WARM_SEARCH = 20_000


def warm_context(newline: int | None, data: np.ndarray | FileArray) -> np.ndarray | None:
    """The start of ``data`` up to the line break (the index ``newline``) at or
    after WARM_CHARACTERS (or the last before it), that break last: int32
    indices. None where the vocabulary has no line break or the first
    WARM_SEARCH characters none."""
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
