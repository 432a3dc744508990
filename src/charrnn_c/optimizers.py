"""The optimizers, each an elementwise C kernel over the flat parameter buffer.

An optimizer owns its state buffers, laid out like the parameters, and a step
count; ``state()`` and ``load_state()`` carry them through checkpoints so
that training resumes exactly.
"""

import math

import numpy as np

from . import kernels


class Optimizer:
    """What every optimizer shares: state buffers laid out like the
    parameters, a step count, their round trip through checkpoints, and the
    training step around step(). Subclasses set name, default_learning_rate,
    buffer_names and step()."""

    def __init__(self, size, dtype, learning_rate):
        self.learning_rate = learning_rate
        self.buffers = {name: np.zeros(size, dtype=dtype) for name in self.buffer_names}
        self.steps = 0

    def train_step(self, params, grads, inputs, targets, h0, clip, cell, dropout, rng):
        """A whole training step: fresh gradients, clipped, then step(); a loss
        that is not finite updates nothing, for the caller to judge.
        Returns (loss, h_last)."""
        grads[:] = 0
        loss, h_last = kernels.loss_and_grads(params, grads, inputs, targets, h0, cell,
                                              dropout, rng)
        if math.isfinite(loss):
            kernels.clip_gradients(grads, clip)
            self.step(params, grads)
        return loss, h_last

    def state(self):
        """(buffers, scalars): arrays for the checkpoint's tensors, ints for its metadata."""
        return self.buffers, {"steps": self.steps}

    def load_state(self, buffers, scalars):
        for name in self.buffer_names:
            if name not in buffers:
                raise ValueError(f"the {self.name} state has no {name!r} buffer")
            target = self.buffers[name]
            if buffers[name].shape != target.shape:
                raise ValueError(f"the {self.name} buffer {name!r} has shape "
                                 f"{buffers[name].shape}, expected {target.shape}")
            target[:] = buffers[name]
        self.steps = int(scalars["steps"])


class Adagrad(Optimizer):
    """The write-up's: mem += g*g; p -= lr * g / sqrt(mem + 1e-8)."""

    name = "adagrad"
    default_learning_rate = 0.1
    buffer_names = ("mem",)

    def step(self, params, grads):
        kernels.adagrad_update(params, grads, self.buffers["mem"], self.learning_rate)
        self.steps += 1

    def train_step(self, params, grads, inputs, targets, h0, clip, cell, dropout, rng):
        """Optimizer.train_step as one C call (kernels.train_step)."""
        loss, h_last = kernels.train_step(params, grads, self.buffers["mem"], inputs, targets,
                                          h0, self.learning_rate, clip, cell, dropout, rng)
        if math.isfinite(loss):
            self.steps += 1
        return loss, h_last


class Adam(Optimizer):
    """torch.optim.Adam (betas 0.9, 0.999; eps 1e-8; no weight decay)."""

    name = "adam"
    default_learning_rate = 2e-3
    buffer_names = ("m", "v")

    def step(self, params, grads):
        self.steps += 1
        kernels.adam_update(params, grads, self.buffers["m"], self.buffers["v"],
                            self.learning_rate, 0.9, 0.999, 1e-8, self.steps)


class RMSprop(Optimizer):
    """torch.optim.RMSprop with char-rnn's decay 0.95 (eps 1e-8, no momentum)."""

    name = "rmsprop"
    default_learning_rate = 2e-3
    buffer_names = ("v",)

    def step(self, params, grads):
        kernels.rmsprop_update(params, grads, self.buffers["v"], self.learning_rate,
                               0.95, 1e-8)
        self.steps += 1


OPTIMIZERS = {cls.name: cls for cls in (Adagrad, Adam, RMSprop)}
