"""charrnn-c: character-level recurrent language models with a fast C core."""

from importlib import metadata as _metadata

from .callbacks import print_samples
from .checks import InvalidParameterError
from .model import CharRNN
from .run_lock import CheckpointInUseError
from .safetensors_file import CheckpointError
from .spec import ModelSpec
from .training import WorseThanUntrainedWarning
from .vocab import UnknownSymbolError, Vocabulary

try:                        # pyproject.toml's, as installed; one owner
    __version__ = _metadata.version("charrnn-c")
except _metadata.PackageNotFoundError:      # a source tree that was never installed
    __version__ = "unknown"

__all__ = ["CharRNN", "CheckpointError", "CheckpointInUseError", "InvalidParameterError",
           "ModelSpec", "UnknownSymbolError", "Vocabulary", "WorseThanUntrainedWarning",
           "print_samples"]
