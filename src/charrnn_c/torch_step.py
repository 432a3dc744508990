"""The training step in PyTorch: the C step's recipe on any torch device, and across processes.

``fit(text, backend="torch", device=...)`` runs training.py's loop, the same
streams, schedule, keep-best, records and checkpoints, with this step in
place of the C one (kernels.train_step): forward and backward by torch's
nn.RNN / nn.GRU / nn.LSTM layer by layer (cuDNN's on a GPU), then the C
step's clipping and update formulas (csrc/optim_impl.h), written out here
as tensor operations, not torch.optim, whose Adagrad adds eps outside the
square root. The weights and optimizer state live on the device as flat
buffers laid out as ``params_`` (spec.py); ``sync`` copies them back to the
model at every record, checkpoint and at the end, so everything else reads
the model as after a C step. On the CPU the buffers are the model's own
arrays, shared, and ``sync`` has nothing to do.

Under torch.distributed (``torchrun``) each of the W processes (ranks)
takes a contiguous 1 / W of the ``batch_size`` streams, as split_step.py
gives threads their shares; DistributedDataParallel averages the
gradients, so every rank applies the same update, and the carried state
and loss are gathered so that every rank holds the whole model, as one
process training all the streams would. The ranks decide together when to
stop (rank 0's clock, anyone's Ctrl-C or callback); rank 0 writes the
checkpoints and shows progress.

Importing this module imports torch (``import charrnn_c`` never does).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:
    import torch
    import torch.distributed as dist
    from torch.func import functional_call
except ImportError:
    raise ImportError("fit(backend='torch') needs torch: pip install torch "
                      "(CPU builds: see https://pytorch.org)") from None

from . import kernels
# The C step's constants, which csrc/optim.h owns: Adagrad's eps inside the
# square root, and the norm clip's, as torch.nn.utils.clip_grad_norm_'s.
from ._core import ADAGRAD_EPS, NORM_EPS
from .optimizers import Optimizer
from .spec import ModelSpec
from .torch_bridge import RNN_CLASSES, TORCH_DTYPES


class _Network(torch.nn.Module):
    """One flat parameter, and the forward pass of the stack over it.

    The layers are single-layer nn.RNN / nn.GRU / nn.LSTM modules called
    with views of ``flat`` as their weights (torch.func.functional_call), so
    the gradient arrives as one flat buffer in params_'s layout, and dropout
    between layers takes the masks the C step would (kernels.batch_mask).
    The layer modules are kept out of the module tree: ``flat`` is the one
    parameter DistributedDataParallel sees."""

    def __init__(self, spec: ModelSpec, flat: torch.Tensor) -> None:
        super().__init__()
        self.spec = spec
        self.flat = torch.nn.Parameter(flat)
        dtype, device = flat.dtype, flat.device
        H, V = spec.hidden_size, spec.vocab_size
        self.layers = tuple(
            RNN_CLASSES[spec.cell](V if layer == 0 else H, H).to(device=device, dtype=dtype)
            for layer in range(spec.num_layers))
        self.views = [(view.name, view.offset, view.size, view.shape)
                      for view in spec.param_views]

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, h0: torch.Tensor,
                masks: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss summed over time and over this rank's streams, h_last)."""
        spec = self.spec
        weights = {name: self.flat[offset:offset + size].view(shape)
                   for name, offset, size, shape in self.views}
        x = torch.nn.functional.one_hot(inputs, spec.vocab_size).to(self.flat.dtype)
        last = []
        for layer, module in enumerate(self.layers):
            own = {f"{kind}_l0": weights[f"{kind}_l{layer}"]
                   for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            state: Any = ((h0[0, layer:layer + 1], h0[1, layer:layer + 1])
                          if spec.cell == "lstm" else h0[layer:layer + 1])
            x, state = functional_call(module, own, (x, state))
            last.append(torch.cat(state) if spec.cell == "lstm" else state[0])
            if masks is not None and layer < spec.num_layers - 1:
                x = x * masks[layer]
        logits = torch.nn.functional.linear(x, weights["weight_ho"], weights["bias_o"])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, spec.vocab_size),
                                                 targets.reshape(-1), reduction="sum")
        h_last = torch.stack(last, dim=-3)     # (L, b, H), or (2, L, b, H)
        return loss, h_last.detach()


class TorchStep:
    """kernels.train_step's arguments and result, computed by torch on ``device``.

    Takes the model's weights and optimizer state at construction (rank 0's,
    under torch.distributed) and keeps them on the device; ``sync`` writes
    them back."""

    def __init__(self, spec: ModelSpec, batch_size: int, optimizer: Optimizer,
                 params: np.ndarray, device: str | torch.device = "cpu") -> None:
        self.spec, self.optimizer = spec, optimizer
        self.device = torch.device(device)
        self.dtype = TORCH_DTYPES[spec.dtype]
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        if batch_size % self.world:
            raise ValueError(f"batch_size {batch_size} does not split evenly over "
                             f"{self.world} processes: make it a multiple of {self.world}")
        share = batch_size // self.world
        self.batch_size = batch_size
        self.share = slice(self.rank * share, (self.rank + 1) * share)
        # On the CPU in the model's dtype the device buffers are the model's
        # arrays themselves (torch.from_numpy shares memory).
        self.shared = self.device.type == "cpu"
        self.host = {"params": params, **optimizer.buffers}
        self.tensors = {name: self._to_device(array) for name, array in self.host.items()}
        if self.distributed:
            for tensor in self.tensors.values():          # rank 0's state for everyone
                dist.broadcast(tensor, src=0)
        network = _Network(spec, self.tensors["params"])
        self.params = network.flat
        self.network: torch.nn.Module = network
        if self.distributed:
            self.network = torch.nn.parallel.DistributedDataParallel(
                network, device_ids=[self.device] if self.device.type == "cuda" else None)
        self.is_writer = self.rank == 0
        self.threads = torch.get_num_threads() if self.device.type == "cpu" else 1
        # NCCL reduces tensors on the GPU only; gloo, on the CPU.
        self._collective_device = self.device if self.device.type == "cuda" else None

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(array)
        return tensor if self.shared else tensor.to(self.device, copy=True)

    def __call__(self, optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
                 inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray, clip: float = 5.0,
                 clip_norm: float | None = None, dropout: float = 0.0,
                 rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
        """One step; the loss summed over time and averaged over all streams
        (every rank's), and the carried state of all of them. A loss that is
        not finite updates nothing, as in C."""
        mask = kernels.batch_mask(self.spec, dropout, rng, inputs)
        share = self.share
        device = self.device
        local_inputs = torch.from_numpy(np.ascontiguousarray(inputs[:, share])).to(
            device, torch.long)
        local_targets = torch.from_numpy(np.ascontiguousarray(targets[:, share])).to(
            device, torch.long)
        local_h0 = torch.from_numpy(np.ascontiguousarray(h0[..., share, :])).to(device)
        local_mask = (None if mask is None else
                      torch.from_numpy(np.ascontiguousarray(mask[:, :, share])).to(device))
        self.params.grad = None
        loss_sum, h_last = self.network(local_inputs, local_targets, local_h0, local_mask)
        # Per rank the mean over its own streams: DDP's average of the
        # ranks' gradients is then the mean over all of them.
        (loss_sum / (share.stop - share.start)).backward()
        loss = loss_sum.detach() / self.batch_size
        if self.distributed:
            dist.all_reduce(loss)
            gathered = [torch.empty_like(h_last) for _ in range(self.world)]
            dist.all_gather(gathered, h_last)
            h_last = torch.cat(gathered, dim=-2)
        value = float(loss)
        if math.isfinite(value):
            grad = self.params.grad
            assert grad is not None
            with torch.no_grad():
                self._update(optimizer, self.params.data, grad, clip, clip_norm)
            optimizer.steps += 1
        return value, h_last.cpu().numpy().astype(h0.dtype, copy=False)

    def _update(self, optimizer: Optimizer, params: torch.Tensor, grad: torch.Tensor,
                clip: float, clip_norm: float | None) -> None:
        """csrc/optim_impl.h's optimizer_step, in the same order of operations."""
        if clip_norm is not None:
            norm = float(torch.linalg.vector_norm(grad, dtype=torch.float64))
            if math.isfinite(norm) and norm > clip_norm:
                grad.mul_(clip_norm / (norm + NORM_EPS))
        grad.clamp_(-clip, clip)
        rate = optimizer.current_learning_rate
        state = self.tensors
        if optimizer.name == "adagrad":
            mem = state["mem"]
            mem.add_(grad * grad)
            params.sub_(rate * grad / torch.sqrt(mem + ADAGRAD_EPS))
        elif optimizer.name == "adam":
            m, v = state["m"], state["v"]
            step = optimizer.steps + 1
            step_size = rate / (1 - optimizer.beta1 ** step)
            root_correction = math.sqrt(1 - optimizer.beta2 ** step)
            m.add_((1 - optimizer.beta1) * (grad - m))
            v.mul_(optimizer.beta2).add_((1 - optimizer.beta2) * grad * grad)
            params.sub_(step_size * (m / (torch.sqrt(v) / root_correction + optimizer.eps)))
        elif optimizer.name == "rmsprop":
            v = state["v"]
            v.mul_(optimizer.alpha).add_((1 - optimizer.alpha) * grad * grad)
            params.sub_(rate * (grad / (torch.sqrt(v) + optimizer.eps)))
        else:
            raise ValueError(f"the torch backend has no {optimizer.name!r} update")

    def sync(self) -> None:
        """The device's weights and optimizer state into the model's arrays."""
        if self.shared:
            return
        with torch.no_grad():
            for name, array in self.host.items():
                array[:] = self.tensors[name].cpu().numpy()

    def agree(self, seconds: float, flag: bool) -> tuple[float, bool]:
        """(rank 0's seconds, whether any rank raised ``flag``), the same on
        every rank, so that all stop at the same step."""
        if not self.distributed:
            return seconds, flag
        values = torch.tensor([seconds if self.rank == 0 else 0.0, float(flag)],
                              dtype=torch.float64, device=self._collective_device)
        dist.all_reduce(values)                   # a sum: rank 0's seconds, the flags' count
        return float(values[0]), bool(values[1] > 0)

    def close(self) -> None:
        """Nothing to end: the process group, if any, is the caller's."""
