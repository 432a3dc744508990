"""The C core's training step: fused on one thread, or split across threads by streams.

FusedStep is kernels.train_step as it is: one C call. SplitStep splits it
and sums the shares in a fixed order.

The ``batch_size`` streams are cut into contiguous shares (threads.shares);
each share runs forward and BPTT on its own thread (the C releases the GIL)
into its own gradient buffer, the calling thread taking the first share.
The kernel averages a share's loss and gradient over its own b streams, so
the step's are the shares' weighted by b / B, added in share order: a
given thread count gives the same bits run to run, and equals the one-thread
step to rounding. Then one optimizer step (kernels.optimizer_step), as the
fused one-thread step takes, and nothing at all when the loss is not finite.
Dropout masks are drawn for the whole batch and cut like the streams, so the
same units drop whatever the thread count.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import kernels
from .optimizers import Optimizer
from .spec import ModelSpec
from .threads import shares


class SplitStep:
    """train_step over ``threads`` threads for batches of ``batch_size`` streams.

    Owns its worker threads (threads - 1 of them) and one gradient buffer per
    share; ``close`` ends the workers."""

    def __init__(self, spec: ModelSpec, batch_size: int, threads: int) -> None:
        if not 2 <= threads <= batch_size:
            raise ValueError(f"a step of {batch_size} streams splits over 2 to {batch_size} "
                             f"threads, not {threads}")
        self.spec = spec
        self.shares = shares(batch_size, threads)
        self.batch_size = batch_size
        self.threads = threads
        self.share_grads = [np.zeros(spec.num_params, dtype=spec.np_dtype)
                            for _ in self.shares]
        self._pool = ThreadPoolExecutor(max_workers=len(self.shares) - 1,
                                        thread_name_prefix="charrnn-share")

    def __call__(self, optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
                 inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray, clip: float = 5.0,
                 clip_norm: float | None = None, dropout: float = 0.0,
                 rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
        """kernels.train_step's arguments and result, computed share by share."""
        spec = self.spec
        T, B = inputs.shape
        if B != self.batch_size:
            raise ValueError(f"inputs have {B} streams, this step splits {self.batch_size}")
        mask = kernels.batch_mask(spec, dropout, rng, inputs)

        def run(i: int) -> tuple[float, np.ndarray]:
            share, share_grads = self.shares[i], self.share_grads[i]
            share_grads[:] = 0
            share_mask = None if mask is None else np.ascontiguousarray(mask[:, :, share])
            return kernels.loss_and_grads(
                spec, params, share_grads, np.ascontiguousarray(inputs[:, share]),
                np.ascontiguousarray(targets[:, share]),
                np.ascontiguousarray(h0[..., share, :]), mask=share_mask)

        others = [self._pool.submit(run, i) for i in range(1, len(self.shares))]
        results = [run(0)] + [future.result() for future in others]

        weights = [(share.stop - share.start) / B for share in self.shares]
        loss = math.fsum(w * share_loss for w, (share_loss, _) in zip(weights, results))
        h_last = np.concatenate([share_h for _, share_h in results], axis=-2)
        np.multiply(self.share_grads[0], weights[0], out=grads)
        for w, share_grads in zip(weights[1:], self.share_grads[1:]):
            grads += w * share_grads
        if math.isfinite(loss):
            kernels.optimizer_step(optimizer, params, grads, clip, clip_norm)
        return loss, h_last

    # One process: it writes the checkpoints (torch_step.TorchStep's rank 0 alone does).
    is_writer = True

    def sync(self) -> None:
        """Nothing to copy: the shares update the model's own arrays."""

    def agree(self, seconds: float, flag: bool) -> tuple[float, bool]:
        """One process decides alone (torch_step.TorchStep's ranks agree)."""
        return seconds, flag

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class FusedStep:
    """kernels.train_step on the calling thread: forward, BPTT, clipping and
    the update in one C call; the members SplitStep has, with nothing to do."""

    is_writer = True
    threads = 1

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def __call__(self, optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
                 inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray, clip: float = 5.0,
                 clip_norm: float | None = None, dropout: float = 0.0,
                 rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
        return kernels.train_step(self.spec, optimizer, params, grads, inputs, targets, h0,
                                  clip, clip_norm, dropout, rng)

    def sync(self) -> None:
        """Nothing to copy: the step updates the model's own arrays."""

    def agree(self, seconds: float, flag: bool) -> tuple[float, bool]:
        return seconds, flag

    def close(self) -> None:
        """No threads to end."""
