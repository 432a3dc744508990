"""Dropout masks: how they are drawn, in one place for the kernels and the reference.

A mask is a function of the Generator's state alone, so the C kernels (which
take the mask as a buffer) and the NumPy reference drop the same units, and a
resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np


def dropout_mask(rng: np.random.Generator, dropout: float, shape: tuple[int, ...],
                 dtype: np.dtype | type) -> np.ndarray:
    """Entries 1 / (1 - dropout) with probability 1 - dropout, else 0.

    Drawn as rng.random(shape) >= dropout, in float64, whatever the dtype,
    so a Generator in a given state gives the same mask to every caller."""
    keep = rng.random(shape) >= dropout
    return (keep / (1 - dropout)).astype(dtype)
