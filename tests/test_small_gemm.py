"""The matrix products cut into blocks for OpenBLAS's small-matrix kernels
(csrc/blas.h): the probe that decides it, and training steps through the cut
products against the NumPy reference."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_info, threadpool_limits

from charrnn_c import _core, kernels, reference
from conftest import random_problem
from test_kernels_vs_reference import (TOLERANCE, adagrad_with_mem, assert_close,
                                       assert_optimizers_close, in_dtype, optimizer_in)


def scipy_openblas():
    """threadpoolctl's record of the OpenBLAS behind scipy.linalg, or None."""
    scipy.linalg.blas.sgemm         # loaded, so threadpoolctl sees it
    for info in threadpool_info():
        path = info["filepath"].replace("\\", "/")
        if info["internal_api"] == "openblas" and ("scipy.libs/" in path
                                                   or "scipy_openblas32" in path):
            return info
    return None


def test_probe_finds_the_core_scipys_openblas_runs():
    info = scipy_openblas()
    if info is None:
        pytest.skip("scipy's BLAS is not an OpenBLAS that threadpoolctl can name")
    assert _core.BLAS_CORENAME == info["architecture"]
    assert _core.small_gemm_blocks() == (
        info["architecture"].lower() in _core.SMALL_GEMM_CORES
        and os.environ.get("CHARRNN_SMALL_GEMM", "1") != "0")


def test_environment_variable_turns_the_blocks_off():
    code = "from charrnn_c import _core; print(_core.small_gemm_blocks())"
    env = dict(os.environ, CHARRNN_SMALL_GEMM="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.fixture
def small_gemm_blocks_on():
    """Blocks on and BLAS on one thread (with more, products go whole), on
    any BLAS: without small kernels the blocks are slower, not wrong."""
    was_on = _core.small_gemm_blocks()
    _core.set_small_gemm_blocks(True)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        _core.set_small_gemm_blocks(was_on)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cut_products_match_reference(small_gemm_blocks_on, cell, dtype):
    # B = 8 streams of H = 384: the forward's (8, H) x (H, G H) has
    # M N > 1200 and the backward's (8, G H) x (G H, H) more than 10^6
    # multiply-adds, so both are cut, K into slices too.
    vocab, hidden, layers = 20, 384, 2
    problem = random_problem(vocab, hidden, layers, 3, 8, seed=5, std=0.05, cell=cell)
    ref_opt = adagrad_with_mem(problem, learning_rate=0.1)
    opt = optimizer_in(ref_opt, dtype)
    ref_params, ref_grads = problem.params.copy(), np.zeros_like(problem.params)
    ref_loss, ref_h = reference.train_step(problem.spec, ref_opt, ref_params, ref_grads,
                                           problem.inputs, problem.targets, problem.h0,
                                           clip=5.0)

    spec, params, h0 = in_dtype(problem, dtype)
    grads = np.zeros_like(params)
    loss, h_last = kernels.train_step(spec, opt, params, grads, problem.inputs,
                                      problem.targets, h0, clip=5.0)
    rtol = TOLERANCE[dtype]
    assert_close(loss, ref_loss, rtol, "loss")
    assert_close(h_last, ref_h, rtol, "h_last")
    assert_close(params, ref_params, rtol, "params")
    assert_close(grads, ref_grads, rtol, "grads")
    assert_optimizers_close(opt, ref_opt, rtol)
