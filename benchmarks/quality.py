"""Held-out loss against training time: how good the model gets in N minutes.

Trains CharRNN on the corpus, by default the write-up's model (1 x 100 RNN,
seq_length 25, batch 1, Adagrad at lr 0.1, clip 5, float64), with the last
``--val-fraction`` (5%) of the text held out, for ``--minutes`` of training
time. Every ``--eval-every`` seconds of training it measures the loss on the
held-out text with ``model.evaluate``: all of it, or its first
``--eval-chars`` characters, from a zero state.

Training runs as a chain of fit(max_time=..., resume=True) calls, which
continue exactly where the previous one stopped, so evaluation is not
counted as training time (the wall time printed at the end includes it).
fit's own validation records are switched off (eval_every is huge) except
the one each call makes on returning, on its first 20,000 held-out
characters.

It prints the settings and the machine, then a markdown table (training
minutes, iterations, characters, the smoothed training loss fit reports,
held-out nats and bits per character), and the first evaluation at which
the held-out loss reaches ``--target`` nats per character. The default,
1.78, is the write-up's smoothed training loss of about 44.4 per 25
characters after about a million iterations (44.4 / 25 = 1.776).

    python benchmarks/quality.py                       # the write-up's model, 10 minutes
    python benchmarks/quality.py --minutes 2 --eval-every 10
    python benchmarks/quality.py --batch-size 32 --optimizer adam --dtype float32
"""

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_limits

import charrnn_c
from charrnn_c import CharRNN
from common import TEXT_PATH, cpu_name
from charrnn_c.optimizers import OPTIMIZERS


WRITEUP_LOSS = 44.4 / 25        # nats per character
NO_FIT_RECORDS = 2**62          # eval_every that fit never reaches


def held_out_text(text, val_fraction):
    """The tail fit holds out: split_validation's split, on a chars-vocabulary str.

    With vocab="chars" each character is one index, so the split of the
    encoded text at len - round(fraction * len) is the same split of the str."""
    return text[len(text) - round(val_fraction * len(text)):]


def evaluate(model, text):
    """(nats per character, seconds the evaluation took)."""
    start = time.perf_counter()
    nats = model.evaluate(text)["nats_per_char"]
    return nats, time.perf_counter() - start


def row_from(model, nats, eval_seconds):
    record = model.history_[-1]
    return {
        "minutes": record["seconds"] / 60,
        "iteration": record["iteration"],
        "characters": record["characters"],
        "epoch": record["epoch"],
        "train": record["train_loss"],
        "held_out": nats,
        "eval_seconds": eval_seconds,
    }


def first_reaching(rows, key, target):
    """The first row whose ``key`` is at most ``target``, and the row before it."""
    for before, row in zip([None] + rows, rows):
        if row[key] <= target:
            return before, row
    return None, None


def describe_crossing(rows, key, target, what, minutes):
    before, row = first_reaching(rows, key, target)
    if row is None:
        return f"{what}: not reached {target:g} nats/char in {minutes:.2f} minutes"
    since = f" (above it at {before['minutes']:.2f} min)" if before is not None else ""
    return (f"{what}: first at or below {target:g} nats/char at {row['minutes']:.2f} min of "
            f"training{since}, iteration {row['iteration']:,}, {row['characters']:,} "
            f"characters, epoch {row['epoch']}")


def positive_float(text):
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"wants a positive number, got {text!r}")
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"wants a positive integer, got {text!r}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=positive_float, default=10.0,
                        help="training time, not counting evaluation (default 10)")
    parser.add_argument("--eval-every", type=positive_float, default=30.0,
                        help="seconds of training between evaluations (default 30)")
    parser.add_argument("--eval-chars", type=int, default=0,
                        help="evaluate the first N held-out characters; 0, the default, "
                        "evaluates all of them")
    parser.add_argument("--target", type=positive_float, default=WRITEUP_LOSS,
                        help=f"held-out nats/char to report reaching (default "
                        f"{WRITEUP_LOSS:.3f}, the write-up's 44.4 per 25 characters)")
    parser.add_argument("--hidden-size", type=positive_int, default=100)
    parser.add_argument("--num-layers", type=positive_int, default=1)
    parser.add_argument("--seq-length", type=positive_int, default=25)
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adagrad")
    parser.add_argument("--learning-rate", type=positive_float, default=None,
                        help="default: the optimizer's usual one (0.1 for Adagrad, as in the "
                        "write-up; 2e-3 for Adam and RMSprop)")
    parser.add_argument("--clip", type=positive_float, default=5.0)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="BLAS threads (default 1)")
    parser.add_argument("--text", type=Path, default=TEXT_PATH)
    args = parser.parse_args(argv)
    if not 0 < args.val_fraction < 1:
        parser.error("--val-fraction must be in (0, 1): there must be held-out text")
    if args.eval_chars < 0:
        parser.error("--eval-chars must be >= 0")

    text = args.text.read_text(encoding="utf-8")
    held_out = held_out_text(text, args.val_fraction)
    if args.eval_chars:
        held_out = held_out[:args.eval_chars]
    model = CharRNN(hidden_size=args.hidden_size, num_layers=args.num_layers,
                    seq_length=args.seq_length, batch_size=args.batch_size,
                    learning_rate=args.learning_rate, optimizer=args.optimizer,
                    clip=args.clip, dtype=args.dtype, val_fraction=args.val_fraction,
                    seed=args.seed)

    print("settings: " + " ".join(f"--{name.replace('_', '-')} {value}"
                                  for name, value in vars(args).items()))
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs), {args.threads} BLAS thread(s)")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, "
          f"SciPy {scipy.__version__}, charrnn_c {charrnn_c.__version__}")
    print(f"load average (1 min) at start {os.getloadavg()[0]:.2f}")

    wall_start = time.perf_counter()
    rows = []
    stop = f"{args.minutes:g} minutes of training"
    with threadpool_limits(limits=args.threads):
        model.fit(text, iterations=0)               # vocabulary, weights; no step yet
        print(f"model: {model!r}, learning rate {model.optimizer_.learning_rate:g}, "
              f"vocabulary {len(model.vocab_)}")
        nats, seconds = evaluate(model, held_out)
        rows.append(row_from(model, nats, seconds))
        print(f"text: {args.text.name}, {len(text):,} characters; held out: the last "
              f"{len(held_out_text(text, args.val_fraction)):,}, evaluated on "
              f"{len(held_out):,}; one evaluation takes {seconds:.2f} s\n", flush=True)
        budget = args.minutes * 60
        try:
            while model.history_[-1]["seconds"] < budget:
                chunk = min(args.eval_every, budget - model.history_[-1]["seconds"])
                model.fit(text, max_time=chunk, eval_every=NO_FIT_RECORDS, resume=True)
                nats, seconds = evaluate(model, held_out)
                rows.append(row_from(model, nats, seconds))
                row = rows[-1]
                print(f"{row['minutes']:6.2f} min  iteration {row['iteration']:>10,}  "
                      f"train {row['train']:.4f}  held-out {row['held_out']:.4f} nats/char",
                      flush=True)
                if model.stop_reason_ == "interrupted":
                    stop = "Ctrl-C"
                    break
        except FloatingPointError as error:
            stop = f"divergence: {error}"
        except KeyboardInterrupt:
            stop = "Ctrl-C"
    wall = time.perf_counter() - wall_start

    print("\n| minutes | iterations | characters | train nats/char (smoothed) "
          "| held-out nats/char | held-out bits/char |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['minutes']:.2f} | {row['iteration']:,} | {row['characters']:,} "
              f"| {row['train']:.4f} | {row['held_out']:.4f} "
              f"| {row['held_out'] / math.log(2):.4f} |")

    trained = rows[-1]["minutes"]
    print(f"\nstopped by: {stop}; {trained:.2f} min of training, {wall / 60:.2f} min of wall "
          f"time including evaluation")
    print(f"throughput: {rows[-1]['characters'] / max(rows[-1]['minutes'] * 60, 1e-9):,.0f} "
          f"training characters/s ({rows[-1]['iteration'] / max(rows[-1]['minutes'] * 60, 1e-9):,.0f} "
          f"iterations/s)")
    evals = [row["eval_seconds"] for row in rows]
    print(f"evaluation of {len(held_out):,} held-out characters: {min(evals):.2f} s to "
          f"{max(evals):.2f} s each, {sum(evals):.1f} s in all")
    print(describe_crossing(rows, "held_out", args.target, "held-out loss", trained))
    print(describe_crossing(rows, "train", args.target, "smoothed training loss", trained))
    print(f"(evaluated every {args.eval_every:g} s of training: a crossing lies between "
          f"that evaluation and the one before)")
    best = min(rows, key=lambda row: row["held_out"])
    print(f"best held-out loss: {best['held_out']:.4f} nats/char "
          f"({best['held_out'] / math.log(2):.4f} bits/char) at {best['minutes']:.2f} min")
    print(f"load average (1 min) at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
