"""Sampling text: arguments checked where they enter, then one C call (kernels.sample).

The functions work on plain data (spec, weights, vocabulary, the warm
state); the estimator's sample and generate (SamplingMethods) hold the model
as a read around them: generate's iterator for as long as it is open, so
one stream never mixes two sets of weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast, overload

import numpy as np

from . import checks, kernels
from .fitted import Fitted
from .beam_search import beam_search, check_beam_width
from .vocab import UnknownSymbolError

if TYPE_CHECKING:
    from .spec import ModelSpec
    from .vocab import Vocabulary

Prime = str | bytes | None


def symbols(vocab: Vocabulary, name: str, text: Any) -> np.ndarray:
    """The indices of ``text`` (sample's prime or stop; None: none), or
    InvalidParameterError naming ``name`` where it holds symbols the
    model does not know (sampling has no unknown='skip' to offer)."""
    if not isinstance(text, (str, bytes, type(None))):
        raise checks.InvalidParameterError(
            (checks.Name(name), f" must be a str, bytes or None, got {type(text).__name__} "
             f"{text!r:.80}"), param=name)
    if not text:
        return np.zeros(0, dtype=np.int32)
    try:
        return vocab.encode(text)
    except UnknownSymbolError as error:
        # Not encode's "unknown='skip' drops them": sampling takes no unknown.
        reason = str(error).split("; unknown='skip'")[0]
        raise UnknownSymbolError(f"{name}={text!r:.80} cannot be sampled from: "
                                 f"{reason}") from None


def prime_indices(vocab: Vocabulary, prime: Prime) -> np.ndarray:
    """The prime's indices; without one, a line break where the vocabulary has one."""
    if prime is None or (isinstance(prime, (str, bytes)) and len(prime) == 0):
        newline = vocab.line_break()
        return np.array([0 if newline is None else newline], dtype=np.int32)
    return symbols(vocab, "prime", prime)


def check_draws(spec: ModelSpec, temperature: Any, top_k: Any, top_p: Any, seed: Any
                ) -> tuple[float, int | None, float | None, int | None]:
    """sample's and generate's draw arguments, checked where they enter."""
    checked = checks.non_negative_number("temperature", temperature, finite=True)
    assert checked is not None
    # Under flush-to-zero a smaller temperature reads as 0 (checks.normal).
    checks.normal("temperature", checked, spec.dtype)
    return (checked, checks.positive_count("top_k", top_k, or_none=True),
            checks.probability("top_p", top_p, or_none=True), checks.seed("seed", seed))


def start(spec: ModelSpec, vocab: Vocabulary, warm_state: np.ndarray | None, prime: Prime,
          seed: int | None, streams: int | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prime indices, the state to start from (without a prime, the one after
    the training text's first lines, where fit left one: the prime is then a
    line break that follows text), and the generator state: (4,) uint64, or
    (streams, 4) for that many streams (SeedSequence's words are a prefix of
    its longer draws, so stream 0's is the single stream's)."""
    sequence = np.random.SeedSequence(seed)
    if streams is None:
        rng_state = sequence.generate_state(4, np.uint64)
    else:
        rng_state = sequence.generate_state(4 * streams, np.uint64).reshape(streams, 4)
    return (*start_state(spec, vocab, warm_state, prime), rng_state)


def start_state(spec: ModelSpec, vocab: Vocabulary, warm_state: np.ndarray | None,
                prime: Prime) -> tuple[np.ndarray, np.ndarray]:
    """start's prime indices and state, without a generator: for what draws
    nothing (beam search)."""
    primed = prime_indices(vocab, prime)       # first: it checks the prime's type
    if (prime is None or len(prime) == 0) and warm_state is not None:
        h = warm_state.copy()          # the line break comes after text the model has read
    else:
        h = np.zeros(spec.sample_state_shape(), dtype=spec.np_dtype)
    return primed, h


class SamplingMethods(Fitted):
    """CharRNN's sample, generate and beam_search."""

    @overload
    def sample(self, n: int = ..., prime: Prime = ..., temperature: float = ...,
               top_k: int | None = ..., top_p: float | None = ..., stop: Prime = ...,
               seed: int | None = ..., *, num_samples: None = ...) -> str | bytes: ...

    @overload
    def sample(self, n: int = ..., prime: Prime = ..., temperature: float = ...,
               top_k: int | None = ..., top_p: float | None = ..., stop: Prime = ...,
               seed: int | None = ..., *, num_samples: int) -> list[str | bytes]: ...

    def sample(self, n: int = 500, prime: Prime = None, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None, stop: Prime = None,
               seed: int | None = None, *,
               num_samples: int | None = None) -> str | bytes | list[str | bytes]:
        """``n`` characters following ``prime`` (which is not repeated).

        temperature 0 takes the most likely character each time; top_k and
        top_p restrict the draw to the most likely characters; ``stop`` ends
        the text once it appears (included). The same seed gives the same text.
        At most 2**31 - 1 characters per call (generate streams any number).

        num_samples=k returns a list of k independent samples instead of one
        str (or bytes), drawn together: the prime is fed once, then each
        character is one step of the stack for all k streams (a matrix
        product, where k calls would make k matrix-vector products), so k
        samples take less time than k calls (1.6x to 2.4x less at k = 32 in
        the README's benchmark). Each has its own random stream (from
        ``seed``) and its own ``stop``. num_samples=1 gives [sample(...)]
        with the same seed, character for character.
        """
        with self._reading():
            spec, vocab = self.spec_, self.vocab_
            n = int(cast(int, checks.count("n", n)))        # neither None nor inf here
            temperature, top_k, top_p, seed = check_draws(spec, temperature, top_k, top_p, seed)
            streams = (None if num_samples is None
                       else kernels.check_num_samples(spec, num_samples, n))
            primed, h, rng_state = start(spec, vocab, self._state.warm_state, prime, seed,
                                         streams)
            stop_indices = symbols(vocab, "stop", stop)
            if streams is None:
                out, _ = kernels.sample(spec, self.params_, h, rng_state, primed, n,
                                        temperature, top_k, top_p, stop_indices)
                return vocab.decode(out)
            samples, _ = kernels.sample_batch(spec, self.params_, h, rng_state, primed, n,
                                              temperature, top_k, top_p, stop_indices)
            return [vocab.decode(indices) for indices in samples]

    def beam_search(self, n: int = 500, prime: Prime = None, beam_width: int = 5,
                    stop: Prime = None) -> str | bytes:
        """The most likely ``n`` characters after ``prime`` that a beam finds:
        argmax_c log p(c | prime) over the ``beam_width`` best unfinished
        continuations, each extended by every character, one character at a time.

        ``stop`` ends a continuation once it appears (included), as in sample;
        a shorter one then wins where it is the more likely. No randomness:
        the same arguments give the same text. beam_width=1 is
        sample(temperature=0); a wider beam usually finds likelier text, but
        is not bound to (it may drop greedy's path early on). Each character
        costs about one of sample(num_samples=beam_width * V), V the
        vocabulary's size. On a character model the likeliest text tends to
        repeat itself: sample reads better; the beam says what the model
        expects.
        """
        with self._reading():
            spec, vocab = self.spec_, self.vocab_
            n = int(cast(int, checks.count("n", n)))        # neither None nor inf here
            beam_width = check_beam_width(spec, beam_width)
            primed, h = start_state(spec, vocab, self._state.warm_state, prime)
            stop_indices = symbols(vocab, "stop", stop)
            out, _ = beam_search(spec, self.params_, h, primed, n, beam_width, stop_indices)
            return vocab.decode(out)

    def sample_records(self, k: int = 10, temperature: float = 1.0, top_k: int | None = None,
                       top_p: float | None = None, seed: int | None = None,
                       max_length: int = 200) -> list[str | bytes]:
        """``k`` whole records, as a model of records=True learned them: each
        drawn from a zero state after the end-of-record symbol (the line
        break) up to the next one, which is left off; at most ``max_length``
        characters each. The draw arguments are sample's."""
        with self._reading():
            spec, vocab = self.spec_, self.vocab_
            end = vocab.line_break()
            if end is None:
                raise ValueError("sample_records draws a record per line, and this model's "
                                 "vocabulary has no line break")
            streams = kernels.check_num_samples(spec, checks.positive_int("k", k),
                                                checks.positive_int("max_length", max_length))
            temperature, top_k, top_p, seed = check_draws(spec, temperature, top_k, top_p, seed)
            # No prime and no warm state: the line break, from a zero state.
            edge, h, rng_state = start(spec, vocab, None, None, seed, streams)
            samples, _ = kernels.sample_batch(spec, self.params_, h, rng_state, edge, max_length,
                                              temperature, top_k, top_p, edge)
            return [vocab.decode(indices[:-1] if len(indices) and indices[-1] == end
                                 else indices) for indices in samples]

    def generate(self, prime: Prime = None, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, stop: Prime = None,
                 seed: int | None = None,
                 max_chars: int | None = None) -> Iterator[str | bytes]:
        """Yield characters one at a time, as they are drawn (for streaming).

        The iterator holds the model, as a read, from its first character
        until it is exhausted, closed or dropped: fit refuses to start
        meanwhile, so one stream never mixes two sets of weights."""
        # Checked now, at the call, not at the first next(): the mistake is
        # then reported where it is made.
        self._check_fitted()
        max_chars = cast("int | None", checks.count("max_chars", max_chars, or_none=True))
        temperature, top_k, top_p, seed = check_draws(self.spec_, temperature, top_k, top_p,
                                                      seed)
        prime_indices(self.vocab_, prime)
        stop_indices = list(symbols(self.vocab_, "stop", stop))
        return self._generate(prime, temperature, top_k, top_p, stop_indices, seed, max_chars)

    def _generate(self, prime: Prime, temperature: float, top_k: int | None,
                  top_p: float | None, stop_indices: list[int], seed: int | None,
                  max_chars: int | None) -> Iterator[str | bytes]:
        """generate's iterator, over checked arguments."""
        # The whole iteration is one read, not each step: with a read per
        # step, fit could run between two characters and the rest of the
        # text would come from other weights (the bug of issue 14).
        with self._reading():
            spec, vocab = self.spec_, self.vocab_
            last, h, rng_state = start(spec, vocab, self._state.warm_state, prime, seed)
            recent: list[int] = []
            count = 0
            while max_chars is None or count < max_chars:
                out, h = kernels.sample(spec, self.params_, h, rng_state, last, 1,
                                        temperature, top_k, top_p)
                last = out
                count += 1
                yield vocab.decode(out)
                recent = (recent + [int(out[0])])[-max(len(stop_indices), 1):]
                if stop_indices and recent == stop_indices:
                    return
