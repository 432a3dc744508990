"""charrnn-c: character-level recurrent language models with a fast C core."""

from .checkpoint import CheckpointError, CheckpointInUseError
from .checks import InvalidParameterError
from .model import CharRNN
from .spec import ModelSpec
from .vocab import UnknownSymbolError, Vocabulary

__version__ = "0.1.0.dev0"
__all__ = ["CharRNN", "CheckpointError", "CheckpointInUseError", "InvalidParameterError",
           "ModelSpec",
           "UnknownSymbolError", "Vocabulary"]
