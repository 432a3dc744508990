"""What CharRNN's method mixins (sampling.py, scoring.py, conversions.py, saving.py) use of
the estimator: its fitted attributes and its read lock, declared once for the
type checker. Nothing here exists at run time; CharRNN defines them all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .run_lock import OwnFiles
    from .spec import ModelSpec
    from .training_state import TrainingState
    from .usage import Users
    from .vocab import Vocabulary


class Fitted:
    """The base of CharRNN's mixins: the estimator's members they use."""

    if TYPE_CHECKING:
        spec_: ModelSpec
        params_: np.ndarray
        vocab_: Vocabulary
        n_iter_: int
        _state: TrainingState

        def __init__(self, **params: Any) -> None: ...
        def get_params(self, deep: bool = True) -> dict[str, Any]: ...
        def _check_fitted(self) -> None: ...
        def _users(self) -> Users: ...
        def _reading(self) -> Users: ...
        def _own_files(self) -> OwnFiles: ...
        def _fitted_params(self) -> dict[str, Any]: ...
        def _start(self, vocab: Vocabulary,
                   weights: dict[str, np.ndarray] | None = None) -> None: ...
