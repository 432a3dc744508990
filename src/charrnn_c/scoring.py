"""Scoring text: the log-probability of each character given those before it.

The functions work on plain data (spec, weights, vocabulary); the
estimator's score, score_samples and evaluate (ScoringMethods) hold the
model as a read around them. Windows of kernels.EVALUATION_CHUNK characters
sit at the same places in the text however it is read, each summed on its
own and added up: a file scores exactly as the same text in memory, in
memory that does not grow with it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from . import checks, kernels
from .fitted import Fitted
from .documents import Documents
from .reading import read_text
from .vocab import UNKNOWN_POLICIES

if TYPE_CHECKING:
    from .spec import ModelSpec
    from .vocab import Vocabulary

Text = str | bytes | os.PathLike[str] | Sequence[os.PathLike[str]]


def encoded_pieces(text: Text, vocab: Vocabulary, unknown: str) -> Iterator[np.ndarray]:
    """``text`` encoded, a piece at a time: a file (a path) read a chunk at a
    time (reading.read_chunks; a directory or a list of paths, its files in
    turn: documents.py), never whole; a str or bytes in one piece.
    A str that names a file is refused, as fit refuses it (read_text)."""
    checks.one_of("unknown", unknown, UNKNOWN_POLICIES)
    if isinstance(text, (os.PathLike, list, tuple)):
        for chunk in Documents.of(text).chunks(vocab.mode):     # several files too
            yield vocab.encode(chunk, unknown=unknown)
        return
    yield vocab.encode(read_text(cast("str | bytes", text), vocab.mode), unknown=unknown)


def score(spec: ModelSpec, params: np.ndarray, pieces: Iterator[np.ndarray],
          keep: Callable[[np.ndarray], object] | None = None) -> tuple[float, int]:
    """(the sum of log p(x[i + 1] | x[:i + 1]) over the text ``pieces`` make,
    how many terms), each window's log-probabilities also handed to ``keep``."""
    h = np.zeros(spec.state_shape(1), dtype=spec.np_dtype)
    total, count = 0.0, 0

    def window_score(window: np.ndarray) -> None:
        nonlocal h, total, count
        log_probs, h = kernels.target_log_probs(spec, params, window[:-1, None],
                                                window[1:, None], h)
        total += float(log_probs.sum())
        count += len(window) - 1
        if keep is not None:
            keep(log_probs[:, 0])

    chunk = kernels.EVALUATION_CHUNK
    pending = np.zeros(0, dtype=np.int32)     # pending[0]: the last one scored, context
    for piece in pieces:
        pending = np.concatenate([pending, piece.astype(np.int32)])
        start = 0
        while len(pending) - start > chunk:
            window_score(pending[start:start + chunk + 1])
            start += chunk
        pending = pending[start:].copy()     # the piece's array can go
    if len(pending) > 1:
        window_score(pending)
    if count == 0:
        raise ValueError("scoring needs at least two characters (the first is only context)")
    return total, count


class ScoringMethods(Fitted):
    """CharRNN's score, score_samples and evaluate."""

    def _scored(self, text: Text, unknown: str,
                keep: Callable[[np.ndarray], object] | None = None) -> tuple[float, int]:
        with self._reading():
            return score(self.spec_, self.params_, encoded_pieces(text, self.vocab_, unknown),
                         keep)

    def score_samples(self, text: Text, unknown: str = "error") -> np.ndarray:
        """Natural-log probability of each character given those before it.

        Returns a float64 array of len(text) - 1 values (the first character
        is context only): 8 bytes per character, for a file too (which is
        read a chunk at a time; score and evaluate keep only sums).
        unknown="skip" drops characters outside the vocabulary first;
        "error" raises naming them."""
        pieces: list[np.ndarray] = []
        self._scored(text, unknown, pieces.append)
        return np.concatenate(pieces)

    def score(self, text: Text, unknown: str = "error") -> float:
        """The mean log-probability per character of ``text``: one number,
        higher is better (scikit-learn's meaning of score); it is minus the
        loss in nats per character. score_samples gives each character's.
        A file (a path) is read a chunk at a time, in memory that does not
        grow with it."""
        total, count = self._scored(text, unknown)
        return total / count

    def evaluate(self, text: Text, unknown: str = "error") -> dict[str, float | int]:
        """Mean loss on ``text``: {"nats_per_char", "bits_per_char",
        "perplexity", "characters"} (the characters scored: all but the
        first, which is context). A file (a path) is read a chunk at a time,
        as score reads it."""
        total, count = self._scored(text, unknown)
        nats = -total / count
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2),
                "perplexity": math.exp(nats) if nats < 709 else math.inf,  # e^709: a float's top
                "characters": count}
