"""examples/train_ddp.py under torchrun: two processes (gloo, CPU) that train
as one process with all the streams would, and a checkpoint CharRNN.load
reads. Skipped where torch is not installed."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from charrnn_c import CharRNN

torch = pytest.importorskip("torch")

EXAMPLE = Path(__file__).parents[1] / "examples" / "train_ddp.py"
ITERATIONS = 40


def test_two_processes_train_as_one_with_all_the_streams(shakespeare, tmp_path):
    text_path = tmp_path / "text.txt"
    text_path.write_text(shakespeare[:40_000])
    checkpoint = tmp_path / "ddp.safetensors"
    sizes = dict(hidden_size=16, num_layers=2, cell="gru", batch_size=8, seq_length=10,
                 warmup=0, dtype="float64", seed=3)
    options = [f"--{name.replace('_', '-')}={value}" for name, value in sizes.items()]
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         "2", str(EXAMPLE), f"--text={text_path}", f"--checkpoint={checkpoint}",
         f"--iterations={ITERATIONS}", "--eval-every=10", *options],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 processes on cpu" in run.stdout

    trained = CharRNN.load(checkpoint)
    assert trained.n_iter_ == ITERATIONS
    losses = [record["val_loss"] for record in trained.history_]
    assert losses[-1] < losses[0] - 0.1, losses

    # One process, the C core, all 8 streams: the same weights, state and records.
    alone = CharRNN(**sizes).fit(text_path, iterations=ITERATIONS, eval_every=10,
                                 progress=False)
    assert np.abs(trained.params_ - alone.params_).max() < 1e-9 * np.abs(alone.params_).max()
    assert np.allclose(trained.hidden_, alone.hidden_, rtol=0, atol=1e-9)
    assert losses == pytest.approx([record["val_loss"] for record in alone.history_],
                                   rel=1e-9)
