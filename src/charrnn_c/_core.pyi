# The extension's interface (_core.pyx), for type checkers. kernels.py is the
# checked way in, with messages in the model's terms; these functions check
# only what keeps the C inside its buffers, and raise ValueError or TypeError.
import numpy as np

from .optimizers import OptimConfig

# The C headers' numbers and constants (_core.pxd).
CELL_RNN: int
CELL_GRU: int
CELL_LSTM: int
DTYPE_F32: int
DTYPE_F64: int
OPTIM_ADAGRAD: int
OPTIM_ADAM: int
OPTIM_RMSPROP: int
ADAGRAD_EPS: float
NORM_EPS: float
INT32_MAX: int

BLAS_CORENAME: str | None
SMALL_GEMM_CORES: set[str]

def set_small_gemm_blocks(enabled: bool, volume: float = ..., area: int = ...,
                          grain: int = ...) -> None: ...
def small_gemm_blocks() -> bool: ...
def small_gemm_plan(trans_b: bool, M: int, N: int, K: int) -> tuple[int, int] | None: ...
def set_flush_subnormals(enabled: bool) -> None: ...
def flush_subnormals() -> bool: ...
def fp_mode() -> int: ...
def blas_threads() -> int | None: ...
def set_blas_threads(threads: int) -> bool: ...
def workspace_size(spec: tuple[int, int, int, int, int], seq_length: int, batch_size: int,
                   with_grads: bool, masked: bool) -> int: ...
def first_out_of_range(indices: np.ndarray, vocab_size: int) -> int: ...
def first_overlap(written: tuple[np.ndarray | None, ...],
                  others: tuple[np.ndarray | None, ...]) -> tuple[int, int] | None: ...
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
def sample_batch(spec: tuple[int, int, int, int, int], out: np.ndarray, lengths: np.ndarray,
                 params: np.ndarray, state: np.ndarray, state_last: np.ndarray,
                 rng: np.ndarray, prime: np.ndarray, stop: np.ndarray, temperature: float,
                 top_k: int, top_p: float) -> None: ...
