"""When a training run stops: its limits (iterations, epochs, seconds), Ctrl-C, and the
progress bar that shows how far it is to the first limit."""

from __future__ import annotations

import math
import signal
import sys
import threading
from typing import Any

from . import schedules


class Limits:
    """When to stop: iterations, epochs or seconds of training from now, first reached.

    CharRNN.fit has checked them: each None, a number >= 0, or inf (no
    bound). All None means one epoch. Seconds are the state's (elapsed):
    training's, counted across resumes."""

    def __init__(self, iterations: float | None, epochs: float | None, max_time: float | None,
                 batches_per_epoch: int, start_iteration: int, start_seconds: float) -> None:
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


class InterruptFlag:
    """While active, Ctrl-C sets a flag instead of raising mid-step.

    Only the main thread can own signal handlers; elsewhere this does nothing
    and Ctrl-C behaves as usual."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None

    def __enter__(self) -> InterruptFlag:
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


def shows(progress: bool | None) -> bool:
    """Whether fit shows progress: when ``progress`` is True, or on a terminal when None."""
    return sys.stderr.isatty() if progress is None else bool(progress)


class Progress:
    """A tqdm bar towards the run's end: characters trained (its rate chars/s)
    against the iterations or epochs allowed; or, where only a time limit
    bounds the run (max_time, also after a resume), seconds of training
    against it, so that a time budget shows its end and what is left."""

    def __init__(self, bar: Any, by_time: bool) -> None:
        self.bar, self.by_time = bar, by_time

    @classmethod
    def shown(cls, progress: bool | None, limits: Limits,
              characters_per_step: int) -> Progress | None:
        """The bar when ``progress`` is True, or on a terminal when it is None; else None."""
        if not shows(progress):
            return None
        from tqdm.auto import tqdm

        total = limits.total_iterations()
        seconds = limits.max_time
        if total is None and seconds is not None and math.isfinite(seconds):
            return cls(tqdm(total=seconds, unit="s", dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s "
                                       "[{elapsed}<{remaining}{postfix}]"), by_time=True)
        return cls(tqdm(total=total, unit="char", unit_scale=characters_per_step,
                        dynamic_ncols=True), by_time=False)

    def step(self, seconds: float) -> None:
        """One step taken, ``seconds`` of this fit's training done."""
        if self.by_time:
            self.bar.update(min(seconds, self.bar.total) - self.bar.n)
        else:
            self.bar.update(1)

    def set_postfix(self, **values: str) -> None:
        self.bar.set_postfix(**values)

    def close(self) -> None:
        self.bar.close()
