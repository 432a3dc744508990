"""Ready-made fit callbacks: print_samples, to watch a model learn as the command line shows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import CharRNN


def print_samples(model: CharRNN, length: int = 200, temperature: float = 0.8,
                  seed: int | None = 0, file: IO[str] | None = None
                  ) -> Callable[[dict[str, Any]], None]:
    """A callback for ``model.fit(..., callbacks=[print_samples(model)])``
    that prints, at each record, the losses and ``length`` characters
    sampled at ``temperature`` (``seed`` for the draw: 0 gives comparable
    samples from record to record), above the progress bar where one is shown,
    as ``charrnn train`` prints them. ``file``: sys.stdout by default."""
    from tqdm.auto import tqdm

    def show(record: dict[str, Any]) -> None:
        text = model.sample(length, temperature=temperature, seed=seed)
        if isinstance(text, bytes):        # a bytes model's sample, shown as text
            text = text.decode("utf-8", "replace")
        validation = "-" if record["val_loss"] is None else f"{record['val_loss']:.3f}"
        tqdm.write(f"iteration {record['iteration']:,}: train {record['train_loss']:.3f}, "
                   f"validation {validation} nats/char\n{text}", file=file)

    return show
