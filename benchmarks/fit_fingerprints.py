"""What fit computes, as digests: to show a change leaves training bit for bit as it was.

Runs fit on a few recipes (the write-up's, the defaults at two sizes, an
LSTM with dropout on two threads, a run saved, loaded and resumed from its
checkpoint, a file read through the corpus cache) and prints, per run, a
digest of the weights, the carried state and the optimizer state, and of the
history's losses, learning rates and kept record, and a sample. Run it on
two trees (``PYTHONPATH=<tree>/src`` for a tree built in place) and compare:

    python benchmarks/fit_fingerprints.py > after.txt
    PYTHONPATH=../before/src python benchmarks/fit_fingerprints.py > before.txt
    diff before.txt after.txt

The same BLAS kernel (OPENBLAS_CORETYPE) must run both: another kernel
rounds differently. ``--quick`` runs the write-up's recipe alone, shorter.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

from common import blas_description

import charrnn_c
from charrnn_c import CharRNN, datasets


def digest(model: CharRNN) -> dict:
    weights = hashlib.sha256()
    for array in (model.params_, model.hidden_, *model.optimizer_.buffers.values()):
        weights.update(array.tobytes())
    history = [[record[key] for key in ("iteration", "train_loss", "smooth_loss", "val_loss",
                                        "learning_rate")] + [record.get("kept", False)]
               for record in model.history_]
    return {"weights": weights.hexdigest()[:16],
            "history": hashlib.sha256(json.dumps(history).encode()).hexdigest()[:16],
            "iterations": model.n_iter_, "best": model.best_iteration_,
            "sample": model.sample(60, seed=3)}


def runs(text: str, quick: bool) -> dict:
    out = {"writeup": digest(CharRNN.writeup(seed=0).fit(
        text, iterations=100 if quick else 400, eval_every=50, progress=False))}
    if quick:
        return out
    out["defaults"] = digest(CharRNN(seed=0).fit(text, iterations=30, eval_every=10,
                                                 progress=False))
    out["small gru"] = digest(CharRNN(seed=0, hidden_size=64, batch_size=8, n_threads=1).fit(
        text, iterations=120, eval_every=30, progress=False))
    out["lstm, dropout, 2 threads"] = digest(CharRNN(
        seed=1, hidden_size=64, batch_size=8, n_threads=2, dropout=0.2, cell="lstm").fit(
        text, iterations=90, eval_every=30, progress=False))
    with tempfile.TemporaryDirectory() as directory:
        os.environ["CHARRNN_C_CACHE_DIR"] = os.path.join(directory, "cache")
        checkpoint = Path(directory) / "model.safetensors"
        CharRNN(seed=0, hidden_size=64, batch_size=8, n_threads=1).fit(
            text, iterations=60, eval_every=20, checkpoint=checkpoint, checkpoint_every=25,
            progress=False)
        resumed = CharRNN.load(checkpoint).fit(text, iterations=60, eval_every=20,
                                               resume=True, checkpoint=checkpoint,
                                               progress=False)
        out["saved, loaded, resumed"] = digest(resumed)
        path = Path(directory) / "text.txt"
        path.write_text(text)
        out["from a file"] = digest(CharRNN(seed=0, hidden_size=32, batch_size=4,
                                            n_threads=1).fit(path, iterations=50,
                                                             eval_every=25, progress=False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the write-up's recipe alone")
    args = parser.parse_args()
    print(f"charrnn_c from {os.path.dirname(charrnn_c.__file__)}", file=sys.stderr)
    print(blas_description(), file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # an unlucky write-up seed warns; no matter
        results = runs(datasets.shakespeare()[:120_000], args.quick)
    for name, result in results.items():
        print(f"{name}: {json.dumps(result, ensure_ascii=True)}")


if __name__ == "__main__":
    main()
