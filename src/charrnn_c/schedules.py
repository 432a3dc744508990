"""Learning-rate schedules: the factor each step's learning rate is multiplied by.

A step's rate is learning_rate * factor, and

    factor = warmup(i) * decay(p)
    warmup(i) = min(1, (i + 1) / warmup)      the plan's i-th step (from 0); 1 if warmup = 0
    decay(p)  = 1                             "constant"
              = 1 - (1 - m) p                 "linear"
              = m + (1 - m) (1 + cos(pi p)) / 2   "cosine"

with m = min_lr_ratio and p in [0, 1] the share of the plan done before the
step. A Plan is where training goes: from where a fit started (its iteration
and elapsed seconds) to where its limits stop it, in iterations (from
``iterations`` or ``epochs``), in seconds of training (from ``max_time``), or
both, whichever is nearer its end (p is the larger share). The plan is kept in
the model and its checkpoint, so that a resumed fit follows it to the same end
(training.py says when a fit makes a new one). Past its end, p stays 1.

The optimizer takes the factor as ``Optimizer.lr_factor``, read by its
``core_config``: every optimizer's step stays one fused C call.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .checks import MAX_COUNT

SCHEDULES = ("constant", "cosine", "linear")


def decay(schedule: str, progress: float, min_ratio: float) -> float:
    """decay(p): 1 at p = 0, min_ratio at p = 1 (constant: 1 throughout)."""
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - (1.0 - min_ratio) * progress
    if schedule == "cosine":
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"no learning-rate schedule {schedule!r}; choose from {SCHEDULES}")


def factor(schedule: str, step: int, progress: float, warmup: int, min_ratio: float) -> float:
    """The factor of the plan's ``step``-th step (0-based), ``progress`` of it done."""
    ramp = 1.0 if warmup <= 0 else min(1.0, (step + 1) / warmup)
    return ramp * decay(schedule, progress, min_ratio)


@dataclass
class Plan:
    """Where a schedule runs: from (start_iteration, start_seconds) to the
    first of end_iteration and end_seconds (None: no end that way)."""

    start_iteration: int
    start_seconds: float
    end_iteration: int | None = None
    end_seconds: float | None = None

    @property
    def bounded(self) -> bool:
        return self.end_iteration is not None or self.end_seconds is not None

    def progress(self, iteration: int, seconds: float) -> float:
        """The share done, in [0, 1]: the larger of the iterations' and the
        seconds'; 0 for a plan without an end, 1 for an empty one."""
        shares = []
        if self.end_iteration is not None:
            span = self.end_iteration - self.start_iteration
            shares.append(1.0 if span <= 0 else (iteration - self.start_iteration) / span)
        if self.end_seconds is not None:
            span_seconds = self.end_seconds - self.start_seconds
            shares.append(1.0 if span_seconds <= 0
                          else (seconds - self.start_seconds) / span_seconds)
        return min(1.0, max(0.0, *shares)) if shares else 0.0

    def over(self, iteration: int, seconds: float) -> bool:
        return self.bounded and self.progress(iteration, seconds) >= 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Any) -> Plan:
        """The plan a checkpoint holds; ValueError naming what could not be one."""
        if not isinstance(value, dict) or set(value) != {
                "start_iteration", "start_seconds", "end_iteration", "end_seconds"}:
            raise ValueError(f"training['schedule'] must be a dict of start_iteration, "
                             f"start_seconds, end_iteration and end_seconds, got {value!r:.120}")
        for key in ("start_iteration", "end_iteration"):
            count = value[key]
            if (count is not None or key == "start_iteration") and (
                    isinstance(count, bool) or not isinstance(count, int)
                    or not 0 <= count < MAX_COUNT):
                raise ValueError(f"training['schedule'][{key!r}] must be a count >= 0, "
                                 f"got {count!r}")
        for key in ("start_seconds", "end_seconds"):
            seconds = value[key]
            if (seconds is not None or key == "start_seconds") and (
                    isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                    or not 0 <= seconds < math.inf):
                raise ValueError(f"training['schedule'][{key!r}] must be a finite number "
                                 f"of seconds >= 0, got {seconds!r}")
        end_seconds = value["end_seconds"]
        return cls(value["start_iteration"], float(value["start_seconds"]),
                   value["end_iteration"], None if end_seconds is None else float(end_seconds))
