"""What guards a training run: divergence caught and undone, keep-best's weights, patience.

Each works on the TrainingState training advances (training_state.py), never
on the estimator: the divergence guard keeps snapshots of the state to go
back to, keep-best keeps the weights of the record of lowest validation loss
(and publishes them in the state, where a checkpoint saved meanwhile finds
them), patience counts records that did not improve.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .checks import Name, ParameterMessage, PythonOnly
from .optimizers import Optimizer
from .training_state import TrainingState


def optimizer_of(state: TrainingState) -> Optimizer:
    """The state's optimizer: training has one (a weights-only state is refused before)."""
    assert state.optimizer is not None
    return state.optimizer


def hidden_of(state: TrainingState) -> np.ndarray:
    """The state's carried state, which training has (as optimizer_of)."""
    assert state.hidden is not None
    return state.hidden

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


class Snapshot:
    """Everything resume needs, copied from a state: weights, optimizer state,
    hidden state, iteration, stream position, smoothed loss, seconds and
    history length. The buffers are allocated once and copied into after."""

    def __init__(self, state: TrainingState) -> None:
        self.params = state.params.copy()
        self.buffers = {name: buffer.copy()
                        for name, buffer in optimizer_of(state).buffers.items()}
        self.take(state)

    def take(self, state: TrainingState) -> None:
        optimizer = optimizer_of(state)
        np.copyto(self.params, state.params)
        for name, buffer in optimizer.buffers.items():
            np.copyto(self.buffers[name], buffer)
        self.steps = optimizer.steps
        self.hidden = hidden_of(state).copy()
        self.n_iter = state.iteration
        self.stream_state = None if state.streams is None else dict(state.streams)
        self.smooth_loss = state.smooth_loss
        self.window_loss = state.window_loss
        self.elapsed = state.elapsed
        self.history = len(state.history)

    def put_back(self, state: TrainingState) -> None:
        optimizer = optimizer_of(state)
        np.copyto(state.params, self.params)
        for name, buffer in optimizer.buffers.items():
            np.copyto(buffer, self.buffers[name])
        optimizer.steps = self.steps
        state.hidden = self.hidden.copy()
        state.iteration = self.n_iter
        state.streams = None if self.stream_state is None else dict(self.stream_state)
        state.smooth_loss = self.smooth_loss
        state.window_loss = self.window_loss
        state.elapsed = self.elapsed
        del state.history[self.history:]


class Divergence:
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

    keep_best's candidates follow the same rule (Keeper): a record's weights
    are kept as the best once the next loss vouches for its snapshot.
    """

    def __init__(self, state: TrainingState, vocab_size: int, keeper: Keeper) -> None:
        self.keeper = keeper
        self.limit = math.log(vocab_size) + DIVERGED_NATS
        if not self._finite(state):
            raise FloatingPointError(
                f"the model's weights or optimizer state hold NaN or infinity at iteration "
                f"{state.iteration}, before this fit: fit afresh (resume=False)")
        self.kept = Snapshot(state)
        self.pending: Snapshot | None = None     # a record's, until the next loss vouches
        self.spare: Snapshot | None = None

    @staticmethod
    def _finite(state: TrainingState) -> bool:
        return bool(np.isfinite(state.params).all()) and all(
            np.isfinite(buffer).all() for buffer in optimizer_of(state).buffers.values())

    def after_step(self, state: TrainingState, loss: float) -> None:
        if not math.isfinite(loss):
            self._restore_and_raise(state, f"the training loss became {loss} at iteration "
                                           f"{state.iteration + 1}")
        if self.pending is not None:
            if loss <= self.limit:
                self.kept, self.pending = self.pending, self.kept
                self.keeper.confirm()
            else:
                self.keeper.drop()
            self.spare, self.pending = self.pending, None
        if not state.smooth_loss <= self.limit:
            self._restore_and_raise(
                state, f"the smoothed training loss reached {state.smooth_loss:.4g} nats per "
                       f"character at iteration {state.iteration}, above log V + "
                       f"{DIVERGED_NATS:g} = {self.limit:.2f}")

    def at_record(self, state: TrainingState, loss: float, record: dict[str, Any]) -> None:
        """Check in full; a candidate to keep if this step's loss was below the limit."""
        self.check(state)
        if loss <= self.limit:
            if self.spare is None:
                self.pending = Snapshot(state)
            else:
                self.spare.take(state)
                self.pending, self.spare = self.spare, None
            self.keeper.offer(record, self.pending.params)

    def check(self, state: TrainingState) -> None:
        if not self._finite(state):
            self._restore_and_raise(state, f"the weights or optimizer state became NaN or "
                                           f"infinite by iteration {state.iteration}")

    def _restore_and_raise(self, state: TrainingState, what: str) -> None:
        self.kept.put_back(state)
        self.keeper.drop()
        state.stop_reason = "diverged"
        optimizer, at = optimizer_of(state), self.kept.n_iter
        raise DivergedError(
            (f"training diverged: {what}. The model is restored to iteration {at}, the last "
             f"state found good. Fit again with a lower ", Name("learning_rate"),
             f" (this run's is {optimizer.learning_rate:g}"),
            (f"{optimizer.name}'s default is {optimizer.default_learning_rate:g}), or set ",
             Name("clip_norm"), " (e.g. 1.0) to damp gradient spikes",
             PythonOnly(f": set_params(clip_norm=1.0) and fit(resume=True) continue from "
                        f"iteration {at}")),
            param="learning_rate")


class DivergedError(ParameterMessage, FloatingPointError):
    """Training diverged, and the state is back where it was last found good;
    the message names the parameters to change."""


class Keeper:
    """keep_best: the weights of the record with the lowest validation loss.

    While fit runs, state.params holds training's weights. A record that lowers
    the lowest validation loss is a candidate, its weights those of the
    guard's pending snapshot (Divergence), until the next step's loss
    vouches for them: then they are copied here (one copy per such record)
    and kept; on divergence the candidate goes with the state it came from.
    ``finish`` (at the end of fit, however it ends) puts the kept weights in
    state.params and the last step's in state.train_params, where the next
    resumed fit takes them back from; meanwhile the kept weights and their
    iteration are published in state.kept_params and state.kept_iteration,
    for a checkpoint saved then (TrainingState.saved_weights). The history
    marks "kept" the record whose weights the model would end with. Not active (keep_best off, or no validation text), the
    model ends with the last step's weights.
    """

    def __init__(self, state: TrainingState, active: bool) -> None:
        self.state, self.active = state, active
        self.record: dict[str, Any] | None = None         # the kept record
        self.params: np.ndarray | None = None             # and its weights
        self.candidate: dict[str, Any] | None = None      # a lower one, until vouched for
        self.candidate_params: np.ndarray | None = None   # not a copy
        kept = [record for record in state.history if record.get("kept")]
        if active and kept:
            self.record, self.params = kept[-1], state.params.copy()
        if state.train_params is not None:      # the last fit left the kept weights out
            np.copyto(state.params, state.train_params)
            state.train_params = None
        self._mark()

    def offer(self, record: dict[str, Any], weights: np.ndarray) -> None:
        """A new record and its weights (the guard's pending snapshot's, or
        state.params once training is over): a candidate if its loss is lower."""
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
        self._publish()

    def drop(self) -> None:
        """The candidate's state was not good to keep (or was put back)."""
        if self.candidate is not None:
            self.candidate = self.candidate_params = None
            self._mark()

    def finish(self) -> None:
        """The model takes the kept weights; training's go to state.train_params."""
        state = self.state
        if self.candidate is not None:          # no step is left to vouch for it
            if self.candidate["iteration"] == state.iteration:
                self.record, self.candidate = self.candidate, None    # params are its weights
            else:
                self.confirm()
        state.train_params = None
        if self.record is not None and self.record["iteration"] != state.iteration:
            assert self.params is not None
            state.train_params = state.params.copy()
            np.copyto(state.params, self.params)
        state.best_iteration = None if self.record is None else self.record["iteration"]
        self._mark()
        state.kept_params = state.kept_iteration = None     # params holds them now

    def _mark(self) -> None:
        target = self.candidate if self.candidate is not None else self.record
        for record in self.state.history:
            if record is not target:
                record.pop("kept", None)
        if target is not None:
            target["kept"] = True
        self._publish()

    def _publish(self) -> None:
        """The weights the model would end with now, where a checkpoint finds them."""
        record, params = ((self.candidate, self.candidate_params) if self.candidate is not None
                          else (self.record, self.params))
        found = record is not None and params is not None
        self.state.kept_params = params if found else None
        self.state.kept_iteration = record["iteration"] if found and record else None


class Patience:
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


