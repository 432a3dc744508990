# The extension's interface (_core.pyx), for type checkers. kernels.py is the
# checked way in: these functions trust their arguments.
import numpy as np

from .optimizers import OptimConfig

BLAS_CORENAME: str | None
SMALL_GEMM_CORES: set[str]

def set_small_gemm_blocks(enabled: bool) -> None: ...
def small_gemm_blocks() -> bool: ...
def workspace_size(spec: tuple[int, int, int, int, int], seq_length: int, batch_size: int,
                   with_grads: bool, masked: bool) -> int: ...
def first_out_of_range(indices: np.ndarray, vocab_size: int) -> int: ...
def forward_backward(spec: tuple[int, int, int, int, int], params: np.ndarray,
                     grads: np.ndarray | None, inputs: np.ndarray, targets: np.ndarray,
                     state0: np.ndarray, state_last: np.ndarray, mask: np.ndarray | None,
                     workspace: np.ndarray) -> float: ...
def target_log_probs(spec: tuple[int, int, int, int, int], log_probs: np.ndarray,
                     params: np.ndarray, inputs: np.ndarray, targets: np.ndarray,
                     state0: np.ndarray, state_last: np.ndarray,
                     workspace: np.ndarray) -> None: ...
def train_step(spec: tuple[int, int, int, int, int], config: OptimConfig, params: np.ndarray,
               grads: np.ndarray, state_a: np.ndarray, state_b: np.ndarray | None,
               inputs: np.ndarray, targets: np.ndarray, state0: np.ndarray,
               state_last: np.ndarray, mask: np.ndarray | None,
               workspace: np.ndarray) -> float: ...
def optimizer_step(dtype: int, config: OptimConfig, params: np.ndarray, grads: np.ndarray,
                   state_a: np.ndarray, state_b: np.ndarray | None) -> None: ...
def sample(spec: tuple[int, int, int, int, int], out: np.ndarray, params: np.ndarray,
           state: np.ndarray, rng: np.ndarray, prime: np.ndarray, stop: np.ndarray,
           temperature: float, top_k: int, top_p: float) -> int: ...
