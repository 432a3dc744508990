"""charrnn-c: character-level recurrent language models with a fast C core."""

from .checkpoint import CheckpointError
from .checks import InvalidParameterError
from .model import CharRNN
from .spec import ModelSpec
from .training import WorseThanUntrainedWarning
from .vocab import UnknownSymbolError, Vocabulary

__version__ = "0.1.0.dev0"
__all__ = ["CharRNN", "CheckpointError", "InvalidParameterError", "ModelSpec",
           "UnknownSymbolError", "Vocabulary", "WorseThanUntrainedWarning"]
