"""Fixtures for the JavaScript sampler's tests (tests/js/*.test.mjs): model files
of the three cells in every stored dtype, and what Python computes from them.

``write_fixtures(directory)`` writes, for each cell and each of float64 and
float32 (full checkpoints) and float32 and float16 (weights-only files):
NAME.safetensors, and in fixtures.json Python's score_samples of a held-out
text (from the file as CharRNN.load reads it, and from the model it was
saved from) and CharRNN.sample's text for SEEDS seeds and a few option sets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from charrnn_c import CharRNN, datasets
from charrnn_c.safetensors_file import load_checkpoint, save_checkpoint

SEEDS = 100
SAMPLE = dict(n=500, prime="KING.", temperature=0.8)
# Options beyond SAMPLE's, each drawn for a few seeds.
VARIANTS: list[dict[str, Any]] = [
    dict(top_k=5), dict(top_p=0.9), dict(top_k=10, top_p=0.5, temperature=1.3),
    dict(stop="\n\n"), dict(temperature=0.0), dict(prime=""),
]


def write_fixtures(directory: Path, seeds: int = SEEDS) -> dict[str, Any]:
    text = datasets.shakespeare()
    # Scored text the vocabulary covers: the end of the training text.
    train = text[:30000]
    held_out = train[-1000:]
    files: dict[str, Any] = {}
    for cell in ("rnn", "gru", "lstm"):
        for dtype in ("float64", "float32"):
            model = CharRNN(hidden_size=32, num_layers=2, cell=cell, dtype=dtype, seed=3,
                            batch_size=8, seq_length=25, warmup=0, lr_schedule="constant",
                            learning_rate=0.01).fit(train, iterations=150, progress=False)
            kinds = [("full", None)] if dtype == "float64" else [("full", None),
                                                                  ("weights", "float32"),
                                                                  ("weights", "float16")]
            for kind, stored in kinds:
                name = f"{cell}_{kind}_{stored or dtype}"
                path = directory / f"{name}.safetensors"
                if kind == "full":
                    model.save(path)
                else:
                    model.save(path, weights_only=True, dtype=stored)
                loaded = CharRNN.load(path)
                files[name] = {
                    "file": path.name, "cell": cell, "stored": stored or dtype,
                    "log_probs": loaded.score_samples(held_out).tolist(),
                    "log_probs_unrounded": model.score_samples(held_out).tolist(),
                    "samples": [loaded.sample(seed=seed, **SAMPLE) for seed in range(seeds)],
                    "variants": [{"options": {**SAMPLE, **variant}, "seed": seed,
                                  "text": loaded.sample(seed=seed, **{**SAMPLE, **variant})}
                                 for variant in VARIANTS for seed in range(3)],
                }
    # NumPy's seeding, which the sampler's random stream starts from: the uint32
    # words of SeedSequence(seed).generate_state(4 k, uint64), little-endian.
    seed_states = [[str(seed), np.random.SeedSequence(seed).generate_state(
        4 * streams, np.uint64).view(np.uint32).tolist()]
        for seed, streams in [(0, 1), (1, 2), (7, 1), (2**32 + 5, 1), (2**70 + 3, 3),
                              (2**200 - 1, 1)]]
    fixtures = {"held_out": held_out, "sample": SAMPLE, "files": files,
                "seed_states": seed_states, "hostile": write_hostile(directory)}
    (directory / "fixtures.json").write_text(json.dumps(fixtures))
    return fixtures


def write_hostile(directory: Path) -> list[list[str]]:
    """Files whose checksum is right but whose contents describe no model (as a
    hostile writer would make them): [file name, the error loadModel must give]."""
    source = directory / "gru_weights_float16.safetensors"
    tensors, metadata = load_checkpoint(source)
    changes = [
        ("layers", lambda t, m: m["params"].update(num_layers=10**6), "weight_ih_l2' is missing"),
        ("hidden", lambda t, m: m["params"].update(hidden_size=10**9), "has shape"),
        ("cell", lambda t, m: m["params"].update(cell="transformer"), "params.cell"),
        ("symbols", lambda t, m: m["vocabulary"].update(symbols=[3, 2]), "increasing"),
        ("nan", lambda t, m: t["bias_o"].__setitem__(0, np.nan), "holds NaN"),
        ("dtype", lambda t, m: t.update(bias_o=t["bias_o"].astype(np.float32)), "the others"),
        ("missing", lambda t, m: t.pop("weight_ho"), "weight_ho' is missing"),
    ]
    out = []
    for name, change, message in changes:
        t = {key: value.copy() for key, value in tensors.items()}
        m = json.loads(json.dumps(metadata))
        change(t, m)
        save_checkpoint(directory / f"hostile_{name}.safetensors", t, m)
        out.append([f"hostile_{name}.safetensors", message])
    return out
