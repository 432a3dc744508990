"""The optimizers, each an elementwise C kernel over the flat parameter buffer.

An optimizer owns its state buffers, laid out like the parameters, and a step
count; ``state()`` and ``load_state()`` carry them through checkpoints so
that training resumes exactly.
"""

import numpy as np

from . import kernels


class Adagrad:
    """The write-up's: mem += g*g; p -= lr * g / sqrt(mem + 1e-8)."""

    name = "adagrad"
    default_learning_rate = 0.1
    buffer_names = ("mem",)

    def __init__(self, size, dtype, learning_rate):
        self.learning_rate = learning_rate
        self.buffers = {name: np.zeros(size, dtype=dtype) for name in self.buffer_names}
        self.steps = 0

    def step(self, params, grads):
        kernels.adagrad_update(params, grads, self.buffers["mem"], self.learning_rate)
        self.steps += 1

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


class Adam(Adagrad):
    """torch.optim.Adam (betas 0.9, 0.999; eps 1e-8; no weight decay)."""

    name = "adam"
    default_learning_rate = 2e-3
    buffer_names = ("m", "v")

    def step(self, params, grads):
        self.steps += 1
        kernels.adam_update(params, grads, self.buffers["m"], self.buffers["v"],
                            self.learning_rate, 0.9, 0.999, 1e-8, self.steps)


class RMSprop(Adagrad):
    """torch.optim.RMSprop with char-rnn's decay 0.95 (eps 1e-8, no momentum)."""

    name = "rmsprop"
    default_learning_rate = 2e-3
    buffer_names = ("v",)

    def step(self, params, grads):
        kernels.rmsprop_update(params, grads, self.buffers["v"], self.learning_rate,
                               0.95, 1e-8)
        self.steps += 1


OPTIMIZERS = {cls.name: cls for cls in (Adagrad, Adam, RMSprop)}
