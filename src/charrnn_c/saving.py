"""CharRNN's checkpoints: save, load and pickling, over checkpoint.py's plain data.

CheckpointMethods writes what fit trained (the hyperparameters with each
"auto" as it was chosen, the vocabulary, the spec and the training state)
and builds the estimator back from a file; what a file holds is
checkpoint.py's to say.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeVar

from . import checkpoint, checks
from .fitted import Fitted
from .run_lock import remember_file

if TYPE_CHECKING:
    from . import training
    from .training_state import TrainingState

M = TypeVar("M", bound="CheckpointMethods")


class CheckpointMethods(Fitted):
    """CharRNN's save, load and pickling, and fit's checkpoint save."""

    def _saver(self, path: str | os.PathLike[str]) -> training.Save:
        """fit's checkpoint save (training.Save): the state it passes, kept weights and all."""
        def save(state: TrainingState) -> None:
            checkpoint.save(path, self._fitted_params(), self.vocab_, self.spec_, state)
            remember_file(self._own_files(), path)     # this run's to overwrite on resume
        return save

    def save(self, path: str | os.PathLike[str], weights_only: bool = False,
             dtype: str | None = None) -> None:
        """Write the whole model to one safetensors file, atomically.

        Weights, optimizer state, vocabulary, hyperparameters, the training
        position and history: CharRNN.load then continues exactly.

        weights_only=True writes the weights, vocabulary and hyperparameters
        only (weights_file.py), in ``dtype`` ("float16", "float32" or
        "float64"; None: the model's): what sampling, scoring, export and
        the JavaScript sampler need, an eighth of the default model's full
        checkpoint in float16. A model loaded from it computes in float64
        for a float64 file, else float32, and cannot resume training."""
        checks.one_of("weights_only", weights_only, (True, False))
        with self._reading():
            if weights_only:
                checkpoint.save_weights(path, self._fitted_params(), self.vocab_, self.spec_,
                                        self._state, dtype)
                return
            if dtype is not None:
                raise ValueError(f"dtype={dtype!r} is a weights-only file's: pass "
                                 f"weights_only=True too (a full checkpoint keeps the model's)")
            self._saver(path)(self._state)

    @classmethod
    def load(cls: type[M], path: str | os.PathLike[str]) -> M:
        """A model saved by ``save`` (a full checkpoint or a weights-only
        file); CheckpointError names what is wrong."""
        contents, identity = checkpoint.load(path)
        model = cls._from_contents(contents)
        remember_file(model._own_files(), path, identity)
        return model

    @classmethod
    def _from_contents(cls: type[M], contents: checkpoint.Contents) -> M:
        model = cls(**contents.params)
        model.vocab_, model.spec_, model._state = contents.vocab, contents.spec, contents.state
        return model

    def __getstate__(self) -> dict[str, Any]:
        # Pickling goes through the checkpoint format: no pickled internals.
        if not hasattr(self, "vocab_"):
            return {"params": self.get_params()}
        with self._reading():
            return {"checkpoint": checkpoint.to_bytes(self._fitted_params(), self.vocab_,
                                                      self.spec_, self._state)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "checkpoint" not in state:
            self.__init__(**state["params"])  # type: ignore[misc]
            return
        self.__dict__.update(type(self)._from_contents(checkpoint.from_bytes(state["checkpoint"]))
                             .__dict__)
