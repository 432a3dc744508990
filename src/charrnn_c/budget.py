"""The model the budget allows: hidden_size, num_layers, dropout and learning_rate chosen by fit.

A parameter set to "auto" (CharRNN.auto() sets all four) is fit's to
choose, from what the run can afford and the text's length; one given stays
as given. The budget is measured in characters of the reference model
(CharRNN()'s 2 x 256, in the run's cell, dtype, batch, sequence length and
threads): with max_time, fit times that model's training step on this
machine for about a second (REFERENCE_PROBE_SECONDS, taken from the
budget) and multiplies; with iterations or epochs, the characters they
train. The rule, measured on the corpus less a held-out tail of whole works
(benchmarks/quality.py; the README's table shows it), is then:

- size by compute: the largest rung of LADDER whose reference characters
  the budget reaches, so that a faster machine, more threads or more time
  buys a larger model;
- no more weights than the text has characters times PARAMS_PER_CHARACTER
  (char-rnn's rule of thumb: parameters on the order of the characters), so
  that a short text gets a model it can fill;
- dropout by the passes the chosen model will make over the text (its
  characters from the reference's, by the ratio of their step's flops):
  none under four and a half passes, more as passes mount (DROPOUT_BY_PASSES);
- Adam's rate as the rung says (the cosine schedule still anneals it to
  the deadline); other optimizers keep their usual rate.

What was chosen, and from what, is a plain dict (``Choice.to_dict``): fit
prints it as a line when it shows progress and keeps it in the training
state, so the model's ``chosen_`` and its checkpoints say it. The rule is
the C core's: with backend="torch" (a GPU's budget buys other sizes) the
sizes must be given.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .checks import InvalidParameterError, Name, Setting
from .optimizers import OPTIMIZERS
from .spec import ModelSpec
from .split_step import FusedStep, SplitStep
from .threads import blas_on_one_thread, resolve_threads

from .parameters import AUTO, CHOSEN

# The reference model whose training the budget is counted in.
REFERENCE = {"hidden_size": 256, "num_layers": 2}
REFERENCE_PROBE_SECONDS = 1.0


@dataclass(frozen=True)
class Rung:
    """A model of the ladder, for budgets from ``reference_characters`` on."""

    reference_characters: float
    hidden_size: int
    num_layers: int
    adam_rate: float = 2e-3


# Sizes by compute, read off the frontier (README, "The model the budget
# allows"; benchmarks/frontier.py): each rung from the budget, in characters
# the 2 x 256 reference trains in that time, at which it gave the lowest
# held-out loss. 1 minute on one thread of the Zen 4 VM is about 1.1 M, on
# two 2.0 M; 5 minutes 5.7 M and 10.7 M; 30 minutes 34 M and 64 M. Adam's
# rate per rung, from one seed each (seed to seed, about 0.01 nats/char):
LADDER = (
    Rung(0, 64, 2, 6e-3),      # not measured: short budgets and short texts
    # 1 min, one thread: 1.662 at 2e-3, 1.610 at 3e-3, 1.579 at 4e-3, 1.555 at
    # 6e-3 (2 x 128: 1.684 at 2e-3)
    Rung(0.5e6, 96, 2, 6e-3),
    # 1 min, two threads: 1.584 at 2e-3, 1.538 at 3e-3, 1.524 at 4e-3, 1.487 at
    # 6e-3, 1.495 at 1e-2 (at 2e-3, 2 x 96: 1.603, 2 x 192: 1.616)
    Rung(1.5e6, 128, 2, 6e-3),
    # 5 min, one thread: 1.483 at 2e-3, 1.447 at 3e-3, 1.460 at 4e-3
    # (2 x 256: 1.491 at 2e-3, 1.459 at 4e-3)
    Rung(3.5e6, 192, 2, 3e-3),
    # 5 min, two threads: 1.441 and 1.449 at 2e-3 (two runs), 1.422 and 1.429
    # at 3e-3, 1.420 at 4e-3, 1.435 at 6e-3, 1.434 at 8e-3 (at 2e-3, 2 x 384:
    # 1.451, 3 x 256: 1.440). Other levers at 4e-3, none beyond the 0.004
    # between reruns (1.420, 1.424): orthogonal recurrent init 1.418, clip 5
    # 1.416, batch 16 1.420, batch 64 at 6e-3 1.418 (clip 5: 1.425),
    # seq_length 100 1.428, min_lr_ratio 0 1.427, warmup 300 at 6e-3 1.424,
    # Adam beta2 0.99 1.432, 3 x 256 1.442, 2 x 384 at 3e-3 1.427
    Rung(8e6, 256, 2, 4e-3),
    Rung(20e6, 384, 2),         # 30 min, one thread: 1.385 (2 x 512: 1.383); rate not swept
    # 30 min, two threads, dropout 0.1: 1.375 at 2e-3, 1.399 at 4e-3; 120 min,
    # dropout 0.3: 1.375 again at 16.9 passes, but 1.361 on one thread at 9.9.
    # 2 x 768, two threads, dropout 0.3: 1.365 (one, 0.2: 1.367); not a rung,
    # as the cap below excludes it (1.24 weights per character) and the passes
    # estimate gives it 6.0, not the 8.8 it made, so dropout 0.2, not 0.3
    Rung(45e6, 512, 2),
)
# At most this many weights per character of training text (char-rnn's rule
# of thumb; not measured here).
PARAMS_PER_CHARACTER = 1.0
# Dropout between layers by the passes the chosen model makes: the first
# entry whose passes the run reaches, from the top. At 2.3 passes dropout
# 0.1 cost 0.011 nats/char (5 min, two threads, 2 x 256: 1.452 against 1.441).
# On a Xeon (family 6 model 207) it cost at 3.4 to 4.4 passes too, so there is
# no 0.1 step: 5 min, two threads, 2 x 256 at about 4 passes gave 1.407 at 0 and
# 1.424 at 0.1 (4e-3; at 2e-3, 1.410 and 1.428), and 30 min, one thread,
# 2 x 512 gave 1.368 at 0 and 1.377 at 0.1. At 11 to 14 passes dropout still
# cost the 2 x 256 (0.15 weights per character; 30 min, one thread, Xeon):
# 1.419 at 0, 1.434 at 0.3, 1.453 at 0.5. The need seems to scale with weights per
# character too: 2 x 512 (0.56 per character) at 10 passes, 90 min on that
# Xeon, gave 1.422 at 0 and 1.368 at 0.3. On a Zen 3 (90 min, one thread,
# 3.9 passes) 2 x 512 gave 1.365 at 0 and 1.391 at 0.5.
DROPOUT_BY_PASSES = ((7.0, 0.3), (4.5, 0.2), (0.0, 0.0))


@dataclass(frozen=True)
class Choice:
    """What fit chose, and the figures it chose from."""

    hidden_size: int
    num_layers: int
    dropout: float
    learning_rate: float | None     # None: the optimizer's usual
    reference_characters: float     # the budget, in the reference model's characters
    reference_throughput: float | None   # its characters per second, where timed
    characters: float               # the chosen model's, estimated
    text_characters: int            # the training text's

    @property
    def passes(self) -> float:
        return self.characters / max(self.text_characters, 1)

    def to_dict(self) -> dict[str, Any]:
        return {key: (round(value, 1) if isinstance(value, float) and key not in CHOSEN
                      else value) for key, value in asdict(self).items()}

    def describe(self) -> str:
        """The progress line: what was chosen and why."""
        timed = ("" if self.reference_throughput is None else
                 f" ({self.reference_throughput:,.0f} characters/s of the 2 x 256 reference "
                 f"here)")
        rate = "" if self.learning_rate is None else f", learning rate {self.learning_rate:g}"
        return (f"auto: a {self.num_layers} x {self.hidden_size} model, dropout "
                f"{self.dropout:g}{rate}, for a budget of {self.reference_characters / 1e6:,.1f} M "
                f"reference characters{timed}: about {self.passes:.1f} passes over "
                f"{self.text_characters:,} characters")


def leaves_choice(params: dict[str, Any]) -> bool:
    """Whether any of CHOSEN is "auto" in ``params``."""
    return any(params[name] == AUTO for name in CHOSEN)


def reference_spec(spec_params: dict[str, Any], vocab_size: int) -> ModelSpec:
    return ModelSpec(vocab_size, REFERENCE["hidden_size"], REFERENCE["num_layers"],
                     spec_params["cell"], spec_params["dtype"])


def reference_throughput(params: dict[str, Any], vocab_size: int,
                         seconds: float = REFERENCE_PROBE_SECONDS) -> float:
    """Characters per second the reference model trains at here: its step on
    random characters, on the threads the run would give it, for ``seconds``."""
    spec = reference_spec(params, vocab_size)
    T, B = params["seq_length"], params["batch_size"]
    rng = np.random.default_rng(0)
    weights = spec.init_params(seed=0, std=1 / math.sqrt(spec.hidden_size),
                               recurrent_init="orthogonal")
    optimizer = OPTIMIZERS[params["optimizer"]](spec)     # the rate changes no step's time
    threads = resolve_threads(params["n_threads"], B, spec.step_flops(T))
    step = SplitStep(spec, B, threads) if threads > 1 else FusedStep(spec)
    inputs = rng.integers(0, vocab_size, (T, B), dtype=np.int32)
    targets = rng.integers(0, vocab_size, (T, B), dtype=np.int32)
    hidden = np.zeros(spec.state_shape(B), dtype=spec.np_dtype)
    grads = np.zeros_like(weights)
    try:
        with blas_on_one_thread:
            step(optimizer, weights, grads, inputs, targets, hidden, params["clip"])  # warm
            steps, start = 0, time.perf_counter()
            while True:
                step(optimizer, weights, grads, inputs, targets, hidden, params["clip"])
                steps += 1
                elapsed = time.perf_counter() - start
                if elapsed >= seconds and steps >= 2:
                    break
    finally:
        step.close()
    return steps * T * B / elapsed


def choose(params: dict[str, Any], vocab_size: int, text_characters: int,
           reference_characters: float, throughput: float | None = None) -> Choice:
    """The Choice for a budget of ``reference_characters`` on a text of
    ``text_characters``; the parameters of CHOSEN not "auto" stay as given."""
    fixed = {name: params[name] for name in CHOSEN if params[name] != AUTO}
    rungs = [rung for rung in LADDER
             if _fits(rung, fixed, params, vocab_size, text_characters)] or [LADDER[0]]
    reached = [rung for rung in rungs if rung.reference_characters <= reference_characters]
    rung = reached[-1] if reached else rungs[0]
    hidden_size = fixed.get("hidden_size", rung.hidden_size)
    num_layers = fixed.get("num_layers", rung.num_layers)
    spec = ModelSpec(vocab_size, hidden_size, num_layers, params["cell"], params["dtype"])
    reference = reference_spec(params, vocab_size)
    characters = reference_characters * reference.step_flops(1) / spec.step_flops(1)
    passes = characters / max(text_characters, 1)
    dropout = fixed.get("dropout", _dropout(passes) if num_layers > 1 else 0.0)
    rate = fixed.get("learning_rate", rung.adam_rate if params["optimizer"] == "adam" else None)
    return Choice(hidden_size, num_layers, float(dropout), rate, float(reference_characters),
                  throughput, float(characters), int(text_characters))


def _fits(rung: Rung, fixed: dict[str, Any], params: dict[str, Any], vocab_size: int,
          text_characters: int) -> bool:
    spec = ModelSpec(vocab_size, fixed.get("hidden_size", rung.hidden_size),
                     fixed.get("num_layers", rung.num_layers), params["cell"], params["dtype"])
    return spec.num_params <= PARAMS_PER_CHARACTER * text_characters


def _dropout(passes: float) -> float:
    return next(rate for least, rate in DROPOUT_BY_PASSES if passes >= least)


def from_dict(saved: dict[str, Any]) -> Choice:
    """The Choice a checkpoint's state holds (Choice.to_dict)."""
    return Choice(**{key: saved[key] for key in Choice.__dataclass_fields__})


def resolve(params: dict[str, Any], run: dict[str, Any], text_characters: int,
            vocab_size: int, before: dict[str, Any] | None, sizes: ModelSpec | None
            ) -> tuple[dict[str, Any], dict[str, Any], Choice | None]:
    """fit's ``params`` and ``run`` with every "auto" of CHOSEN chosen, and
    the Choice, where one is made now (None: nothing was "auto", or a resume
    takes ``before``'s, the choice its run made). ``sizes``: the spec whose
    weights this fit continues (resume, warm_start), whose sizes are kept;
    a warm start chooses its dropout anew, for its own budget."""
    if not leaves_choice(params):
        return params, run, None
    if run["backend"] != "c":
        auto = [name for name in CHOSEN if params[name] == AUTO]
        raise InvalidParameterError(
            (Name(auto[0]), f"={AUTO!r} chooses by the C core's speed, and ",
             Setting("backend", run["backend"]), " trains with PyTorch: give ",
             " and ".join(auto), " as numbers"), param=auto[0])
    if run["resume"]:
        saved = before or {}
        assert sizes is not None
        kept = {"hidden_size": sizes.hidden_size, "num_layers": sizes.num_layers,
                "dropout": saved.get("dropout", 0.0),
                "learning_rate": saved.get("learning_rate")}
        return {**params, **{name: kept[name] for name in CHOSEN if params[name] == AUTO}}, \
            run, None
    if sizes is not None:
        params = {**params, "hidden_size": sizes.hidden_size, "num_layers": sizes.num_layers}
    budgets, throughput = [], None
    max_time = run["max_time"]
    if max_time is not None and math.isfinite(max_time):
        probe = min(REFERENCE_PROBE_SECONDS, max_time / 10)
        start = time.perf_counter()
        throughput = reference_throughput(params, vocab_size, probe)
        spent = time.perf_counter() - start
        run = {**run, "max_time": max(max_time - spent, 0.0)}
        budgets.append(throughput * run["max_time"])
    characters_per_step = params["seq_length"] * params["batch_size"]
    if run["iterations"] is not None:
        budgets.append(run["iterations"] * characters_per_step)
    if run["epochs"] is not None:
        budgets.append(run["epochs"] * text_characters)
    if max_time is None and run["iterations"] is None and run["epochs"] is None:
        budgets.append(text_characters)                  # fit's default: one epoch
    choice = choose(params, vocab_size, text_characters, min(budgets), throughput)
    return {**params, **{name: getattr(choice, name) for name in CHOSEN}}, run, choice


def fitted_params(params: dict[str, Any], spec: ModelSpec,
                  chosen: dict[str, Any] | None) -> dict[str, Any]:
    """A fitted model's ``params`` with each "auto" as it trained: what its
    files hold, so that they load and resume without choosing again."""
    trained = {"hidden_size": spec.hidden_size, "num_layers": spec.num_layers,
               "dropout": (chosen or {}).get("dropout", 0.0),
               "learning_rate": (chosen or {}).get("learning_rate")}
    return {**params, **{name: trained[name] for name in CHOSEN if params[name] == AUTO}}
