"""Records: a text of independent lines (names, titles, tweets), each trained from a fresh state.

With CharRNN(records=True) each line of the text is a record. A record of
length L trains as one sequence of L + 1 steps from a zero state, framed by
the line break as its end-of-record symbol E (makemore's "." on both sides):

    inputs  = [E, c1, ..., cL]        targets = [c1, ..., cL, E]

so the model learns how a record begins, and that it ends. Records are
grouped by length, and a batch is ``batch_size`` records of one length (the
kernels take one T per call): no padding, no state carried from one record
to another. An epoch takes every record once, in an order drawn from the
seed and the epoch alone (so resume needs only the position); where a length
has fewer records left than a batch holds, the batch is filled with others
of that length. Empty lines are no records. The held-out records are spread
over the list (split_validation), and scored the same way (log_probs). The
encoded text is read into memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernels

if TYPE_CHECKING:
    from .filearray import FileArray
    from .spec import ModelSpec

# A record epoch's order comes from SeedSequence(seed, spawn_key=(ORDER_STREAM, epoch)).
ORDER_STREAM = 2
STATE_KEYS = ("records_epoch", "records_position", "batch_size", "records")


def split(data: np.ndarray, end: int) -> dict[int, np.ndarray]:
    """{length: the start of each record of that length}, records being the
    runs between ``end`` symbols (the last needs none), empty ones left out."""
    ends = np.flatnonzero(data == end)
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(data)]])
    lengths = stops - starts
    return {int(length): starts[lengths == length]
            for length in np.unique(lengths[lengths > 0])}


def split_validation(data: np.ndarray, end: int, val_fraction: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(train, val): every record whose turn comes round (record i is held out
    where floor((i + 1) f) > floor(i f), f = val_fraction), each with its
    end: a share f spread over the whole list, not its tail, which for a
    sorted list (names A to Z) would hold out only the last letters."""
    ends = np.flatnonzero(data == end)
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends + 1, [len(data)]])          # each record with its end
    index = np.arange(len(starts))
    held = np.floor((index + 1) * val_fraction) > np.floor(index * val_fraction)
    pieces = [np.zeros(0, dtype=data.dtype)]

    def join(chosen: np.ndarray) -> np.ndarray:
        return np.concatenate(pieces + [data[a:b] for a, b in zip(starts[chosen],
                                                                  stops[chosen])])
    return join(~held), join(held)


def frame(data: np.ndarray, starts: np.ndarray, length: int,
          end: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets), (length + 1, len(starts)) int32: each record framed by ``end``."""
    body = data[starts[:, None] + np.arange(length)].T.astype(np.int32)    # (L, B)
    edge = np.full((1, len(starts)), end, dtype=np.int32)
    return np.concatenate([edge, body]), np.concatenate([body, edge])


class RecordBatches:
    """Batches of whole records, ``batch_size`` of one length each, from a
    zero state: streams.Streams's interface (next_batch, state, restore,
    epoch, batches_per_epoch) for the training loop."""

    def __init__(self, data: np.ndarray | FileArray, end: int, batch_size: int,
                 seed: int) -> None:
        self.data = np.asarray(data[:len(data)])
        self.end, self.batch_size, self.seed = end, batch_size, seed
        self.by_length = split(self.data, end)
        self.count = sum(len(starts) for starts in self.by_length.values())
        if self.count == 0:
            raise ValueError("the text holds no records: every line is empty")
        self.epoch, self.position = 0, 0
        self._order = self._batches(0)

    def _batches(self, epoch: int) -> list[tuple[int, np.ndarray]]:
        """The epoch's batches, (length, starts), in the epoch's order."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed,
                                                           spawn_key=(ORDER_STREAM, epoch)))
        batches = []
        for length, starts in self.by_length.items():
            shuffled = rng.permutation(starts)
            short = -len(shuffled) % self.batch_size
            filled = np.concatenate([shuffled, np.resize(shuffled, short)])
            batches += [(length, group) for group in filled.reshape(-1, self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    @property
    def batches_per_epoch(self) -> int:
        return len(self._order)

    def next_batch(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(inputs, targets, True): every batch starts from a zero state."""
        if self.position == len(self._order):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._batches(self.epoch)
        length, starts = self._order[self.position]
        self.position += 1
        inputs, targets = frame(self.data, starts, length, self.end)
        return inputs, targets, True

    def characters(self) -> int:
        """The characters trained on so far (each record's and its end), from
        the position: every epoch takes as many."""
        per_epoch = sum(length + 1 for length, _ in self._order) * self.batch_size
        done = sum(length + 1 for length, _ in self._order[:self.position]) * self.batch_size
        return self.epoch * per_epoch + done

    def state(self) -> dict[str, int]:
        return {"records_epoch": self.epoch, "records_position": self.position,
                "batch_size": self.batch_size, "records": self.count}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (of the same text: ValueError otherwise)."""
        if not isinstance(state, dict) or sorted(state) != sorted(STATE_KEYS):
            raise ValueError(f"a records position holds {list(STATE_KEYS)}, got {state!r:.80}")
        if (state["batch_size"], state["records"]) != (self.batch_size, self.count):
            raise ValueError(f"the position is one of {state['records']} records in batches of "
                             f"{state['batch_size']}, not {self.count} in {self.batch_size}")
        epoch, position = state["records_epoch"], state["records_position"]
        order = self._batches(epoch) if isinstance(epoch, int) and epoch >= 0 else []
        if not (isinstance(position, int) and 0 <= position <= len(order)):
            raise ValueError(f"no records position {epoch!r}, {position!r}")
        self.epoch, self.position, self._order = epoch, position, order


def log_probs(spec: ModelSpec, params: np.ndarray, data: np.ndarray, end: int) -> np.ndarray:
    """log p of each target of every record in ``data`` (its characters and
    its end), each record from a zero state, as training sees it: float64."""
    data = np.asarray(data)
    pieces = []
    for length, starts in split(data, end).items():
        for block in range(0, len(starts), 1024):       # a bounded workspace
            chosen = starts[block:block + 1024]
            inputs, targets = frame(data, chosen, length, end)
            h = np.zeros(spec.state_shape(len(chosen)), dtype=spec.np_dtype)
            values, _ = kernels.target_log_probs(spec, params, inputs, targets, h)
            pieces.append(values.ravel())
    return np.concatenate(pieces) if pieces else np.zeros(0)
