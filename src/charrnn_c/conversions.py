"""CharRNN's weights by name, and the model to and from PyTorch and ONNX.

WeightsMethods holds the estimator's state_dict, load_state_dict, to_torch,
to_onnx and from_torch, each over the plain data the converters take
(torch_bridge.py, onnx_export.py: spec, vocabulary, weights by name,
hyperparameters).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from . import parameters
from .fitted import Fitted

if TYPE_CHECKING:
    import torch

    from .vocab import Vocabulary

M = TypeVar("M", bound="WeightsMethods")


class WeightsMethods(Fitted):
    """CharRNN's state_dict, load_state_dict, to_torch, to_onnx and from_torch."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights as {PyTorch name: array copy}."""
        with self._reading():
            return {name: view.copy()
                    for name, view in self.spec_.unflatten(self.params_).items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy weights from {PyTorch name: array}; names and shapes must match.

        A write: refused, as fit is, while the model is in use elsewhere."""
        self._check_fitted()
        users = self._users()
        alone = users.start_training(reentrant=True)     # fit's own call is under way
        try:
            views = self.spec_.unflatten(self.params_)
            missing, unexpected = set(views) - set(state), set(state) - set(views)
            if missing or unexpected:
                raise ValueError(f"state_dict does not fit this model: missing "
                                 f"{sorted(missing)}, unexpected {sorted(unexpected)}")
            for name, view in views.items():
                value = np.asarray(state[name])
                if value.shape != view.shape:
                    raise ValueError(f"{name} has shape {value.shape}, this model needs "
                                     f"{view.shape}")
            for name, view in views.items():
                view[...] = state[name]
            # Read with the old weights: unprimed samples start from a zero state again.
            self._state.warm_state = None
        finally:
            if alone:
                users.stop_training()

    def to_torch(self) -> torch.nn.Module:
        """This model as a torch.nn.Module (torch_bridge.CharRNNModule) with the
        same weights and dtype; see torch_bridge. Needs torch."""
        from . import torch_bridge

        with self._reading():
            return torch_bridge.to_torch(self.spec_, self.vocab_, self.state_dict(),
                                         self._fitted_params())

    def to_onnx(self, path: str | os.PathLike[str]) -> None:
        """Write this model as an ONNX graph, (characters, state) -> (logits,
        state) in float32, for ONNX Runtime (onnx_export.py). Needs torch and onnx."""
        from . import onnx_export

        with self._reading():
            onnx_export.to_onnx(self.spec_, self.vocab_, self.state_dict(), self._fitted_params(),
                                self.n_iter_, path)

    @classmethod
    def from_torch(cls: type[M], module: torch.nn.Module, vocab: Vocabulary | None = None) -> M:
        """A CharRNN with the weights of ``module`` (see torch_bridge.from_torch),
        its optimizer afresh. Needs torch."""
        from . import torch_bridge

        params, vocab, weights = torch_bridge.from_torch(module, vocab)
        model = cls(**params)
        parameters.validate(model.get_params())
        model._start(vocab, weights)
        return model
