"""Beam search: the most likely continuation of a prime, over plain data.

Each step runs the stack once over every beam's last character, repeated
once per character of the vocabulary, with those characters as targets
(kernels.target_log_probs over beam_width * V streams): that gives every
beam's whole next-character distribution from the C core's own log-softmax,
so the scores are the ones score and evaluate compute. The V copies of a
beam's step are the same work done V times: a step costs about what one
character of sample(num_samples=beam_width * V) does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import checks, kernels
from ._core import INT32_MAX

if TYPE_CHECKING:
    from .spec import ModelSpec


def check_beam_width(spec: ModelSpec, beam_width: Any) -> int:
    """``beam_width`` as an int >= 1 whose beam_width * V streams one C call takes."""
    width = checks.positive_int("beam_width", beam_width)
    # As kernels.check_num_samples: the products take a row per stream, counted in a C int.
    limit = INT32_MAX // (max(spec.gates * spec.hidden_size, spec.vocab_size) * spec.vocab_size)
    if width > limit:
        raise checks.InvalidParameterError(
            (checks.Setting("beam_width", width, f"{width:,}"), " is more beams than one call "
             f"takes for this model (at most {limit:,})"), param="beam_width")
    return width


def feed(spec: ModelSpec, params: np.ndarray, h: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The state after ``indices`` are read from one stream's ``h``:
    h (spec.sample_state_shape()) -> spec.state_shape(1)."""
    state = np.expand_dims(h, -2).copy()
    for start in range(0, len(indices), kernels.EVALUATION_CHUNK):   # bounded activations
        chunk = indices[start:start + kernels.EVALUATION_CHUNK, None]
        _, state = kernels.target_log_probs(spec, params, chunk, np.zeros_like(chunk), state)
    return state


def beam_search(spec: ModelSpec, params: np.ndarray, h: np.ndarray, prime: np.ndarray, n: int,
                beam_width: int, stop: np.ndarray) -> tuple[np.ndarray, float]:
    """Keep the beam_width continuations c of highest sum_t log p(c_t | prime, c_<t),
    extending the unfinished ones by every character, n times; return the best.

    h: one stream's state before ``prime`` (spec.sample_state_shape());
    prime: (T >= 1,) indices; stop: (S,) indices, S = 0 for none. A
    continuation is finished at n characters, or once it ends with ``stop``
    (included): it then leaves the beam, which goes on narrower. One no
    likelier than the best finished is dropped, since a character more only
    lowers its score. Ties go to the earlier beam, then the lower index, so
    beam_width = 1 is greedy sampling (temperature 0); a beam_width of
    V**(n - 1) or more keeps every continuation, an exhaustive search.
    Returns (indices (<= n,), their total log-probability).
    """
    V, S = spec.vocab_size, len(stop)
    state = feed(spec, params, h, prime[:-1])     # each beam's state before its last character
    last = prime[-1:].astype(np.int32)
    scores = np.zeros(1)
    tails = np.zeros((1, max(S - 1, 0)), dtype=np.int32) - 1    # stop's first S - 1, to match
    steps: list[tuple[np.ndarray, np.ndarray]] = []          # (parent, character) of each beam
    best: tuple[float, int, int] | None = None          # the best finished: (score, step, index)
    characters = np.arange(V, dtype=np.int32)
    for step in range(n):
        width = len(scores)
        log_probs, h_last = kernels.target_log_probs(
            spec, params, np.repeat(last, V)[None, :], np.tile(characters, width)[None, :],
            np.repeat(state, V, axis=-2))
        totals = scores.repeat(V) + log_probs[0]          # candidate i * V + c: beam i, then c
        ends = np.full(width * V, step == n - 1)        # at n characters, all are finished
        if S:
            ends |= (np.all(tails == stop[:-1], axis=1)[:, None]
                     & (characters == stop[-1])).ravel()
        kept = np.argsort(-totals, kind="stable")[:beam_width]
        done = kept[ends[kept]]
        if done.size and (best is None or totals[done[0]] > best[0]):
            best = (float(totals[done[0]]), step, int(done[0]))
        kept = kept[~ends[kept]]
        if best is not None:
            kept = kept[totals[kept] > best[0]]
        steps.append((kept // V, (kept % V).astype(np.int32)))
        if kept.size == 0:
            break
        parents, last = steps[-1]
        scores, state = totals[kept], h_last.take(kept, axis=-2)
        tails = np.concatenate([tails[parents], last[:, None]], axis=1)[:, 1:]
    if best is None:
        return np.zeros(0, dtype=np.int32), 0.0             # n = 0
    score, step, index = best
    out, parent = [index % V], index // V
    for parents, chars in reversed(steps[:step]):
        out.append(int(chars[parent]))
        parent = int(parents[parent])
    return np.array(out[::-1], dtype=np.int32), score
