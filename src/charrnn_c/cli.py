"""The ``charrnn`` command line: train, sample, eval, info, plot.

Errors a user can cause print one line on stderr and exit with status 1
(2 for a bad option); no traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from . import datasets
from .checkpoint import CheckpointError
from .data import read_text
from .model import CharRNN

DEFAULT_CHECKPOINT = "charrnn.safetensors"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with option errors on one line (usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


class UserError(Exception):
    """A mistake in what the user asked for, shown as one line."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="charrnn",
        description="Character-level recurrent language models with a fast C core.",
        epilog="Run 'charrnn COMMAND --help' for the options of each command.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=ArgumentParser)

    train = commands.add_parser(
        "train", help="train a model on a text file (default: built-in Shakespeare)",
        description="Train a model on FILE (the built-in Shakespeare corpus by default), "
                    "printing samples as it learns and saving a checkpoint as it goes.")
    train.add_argument("file", nargs="?", type=Path,
                       help="UTF-8 text file (any file with --vocab bytes)")
    model = train.add_argument_group("model")
    model.add_argument("--hidden-size", type=positive_int, default=128)
    model.add_argument("--num-layers", type=positive_int, default=1)
    model.add_argument("--cell", default="rnn", choices=["rnn", "gru", "lstm"])
    model.add_argument("--dropout", type=float, default=0.0,
                       help="dropout between layers, in training only (default 0)")
    model.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    model.add_argument("--vocab", default="chars", choices=["chars", "bytes"])
    model.add_argument("--max-vocab-size", type=positive_int, default=10_000)
    model.add_argument("--init-std", type=float, default=None,
                       help="weights start as N(0, init_std^2) (default 0.01 for one layer, "
                            "else 1 / sqrt(hidden_size))")
    training = train.add_argument_group("training")
    training.add_argument("--seq-length", type=positive_int, default=25)
    training.add_argument("--batch-size", type=positive_int, default=1)
    training.add_argument("--optimizer", default="adagrad", choices=["adagrad", "adam", "rmsprop"])
    training.add_argument("--learning-rate", type=float, default=None,
                          help="default: 0.1 for adagrad, 2e-3 for adam and rmsprop")
    training.add_argument("--clip", type=float, default=5.0,
                          help="clip each gradient value to [-clip, clip] (default 5)")
    training.add_argument("--clip-norm", type=float, default=None,
                          help="first scale the gradient down to this global L2 norm "
                               "(default: off)")
    training.add_argument("--val-fraction", type=float, default=0.05)
    training.add_argument("--seed", type=int, default=None)
    stop = train.add_argument_group("when to stop (first reached; one epoch if none)")
    stop.add_argument("--iterations", type=positive_int)
    stop.add_argument("--epochs", type=non_negative_float)
    stop.add_argument("--minutes", type=non_negative_float)
    output = train.add_argument_group("output")
    output.add_argument("--checkpoint", type=Path, default=Path(DEFAULT_CHECKPOINT),
                        help=f"where to save the model (default: {DEFAULT_CHECKPOINT})")
    output.add_argument("--checkpoint-every", type=positive_int, default=10_000,
                        help="iterations between saves (also saved at the end and on Ctrl-C)")
    output.add_argument("--resume", action="store_true",
                        help="continue training the model in --checkpoint on the same text "
                             "(its hyperparameters come from the checkpoint)")
    output.add_argument("--sample-every", type=positive_int, default=10_000,
                        help="iterations between printed samples and validation losses")
    output.add_argument("--sample-length", type=positive_int, default=200)
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=run_train)

    sample = commands.add_parser("sample", help="generate text from a checkpoint",
                                 description="Generate text from a trained model.")
    sample.add_argument("checkpoint", type=Path)
    sample.add_argument("-n", "--length", type=positive_int, default=500,
                        help="characters to generate (default 500)")
    primes = sample.add_mutually_exclusive_group()
    primes.add_argument("--prime", help="text to start from (not repeated in the output)")
    primes.add_argument("--prime-file", type=Path, help="read the prime from a file")
    sample.add_argument("--temperature", type=non_negative_float, default=1.0,
                        help="0 takes the most likely character (default 1.0)")
    sample.add_argument("--top-k", type=positive_int)
    sample.add_argument("--top-p", type=float)
    sample.add_argument("--stop", help="stop once the text contains this string")
    sample.add_argument("--seed", type=int)
    sample.add_argument("--stream", action="store_true", help="print characters as they come")
    sample.set_defaults(run=run_sample)

    evaluate = commands.add_parser("eval", help="held-out loss of a model on a text file",
                                   description="Nats, bits per character and perplexity.")
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--skip-unknown", action="store_true",
                          help="drop characters the model has never seen (default: error)")
    evaluate.set_defaults(run=run_eval)

    info = commands.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint", type=Path)
    info.set_defaults(run=run_info)

    plot = commands.add_parser("plot", help="plot training and validation loss",
                               description="Plot the loss curves (needs matplotlib).")
    plot.add_argument("checkpoint", type=Path)
    plot.add_argument("-o", "--output", type=Path, default=Path("loss.png"))
    plot.set_defaults(run=run_plot)
    return parser


def load(path: str | os.PathLike[str]) -> CharRNN:
    return CharRNN.load(path)


def run_train(args: argparse.Namespace) -> None:
    text = (datasets.shakespeare() if args.file is None
            else read_text(args.file, args.vocab))
    source = "the built-in Shakespeare corpus" if args.file is None else str(args.file)
    if args.resume:
        model = load(args.checkpoint)
    else:
        model = CharRNN(hidden_size=args.hidden_size, num_layers=args.num_layers,
                        cell=args.cell, dropout=args.dropout, seq_length=args.seq_length,
                        batch_size=args.batch_size,
                        learning_rate=args.learning_rate, optimizer=args.optimizer,
                        clip=args.clip, clip_norm=args.clip_norm, dtype=args.dtype,
                        val_fraction=args.val_fraction,
                        vocab=args.vocab, max_vocab_size=args.max_vocab_size,
                        init_std=args.init_std, seed=args.seed)
    print(f"training on {source} ({len(text):,} characters); Ctrl-C stops and saves",
          file=sys.stderr)
    progress = not args.no_progress and sys.stderr.isatty()

    def show(record: dict[str, Any]) -> None:
        sample = model.sample(args.sample_length, temperature=0.8, seed=0)
        if isinstance(sample, bytes):   # a bytes model's sample, shown as text
            sample = sample.decode("utf-8", "replace")
        lines = (f"iteration {record['iteration']:,}: train {record['train_loss']:.3f}, "
                 f"validation {_loss(record['val_loss'])} nats/char\n" + sample)
        if progress:
            from tqdm.auto import tqdm
            tqdm.write(lines)
        else:
            print(lines, flush=True)

    started = time.perf_counter()
    model.fit(text, iterations=args.iterations, epochs=args.epochs,
              max_time=None if args.minutes is None else 60 * args.minutes,
              callbacks=[show], progress=progress, checkpoint=args.checkpoint,
              checkpoint_every=args.checkpoint_every, eval_every=args.sample_every,
              resume=args.resume)
    last = model.history_[-1]
    print(f"done ({model.stop_reason_}): {model.n_iter_:,} iterations in "
          f"{time.perf_counter() - started:.0f} s; held-out {_loss(last['val_loss'])} "
          f"nats/char ({_loss(last['val_loss'], bits=True)} bits/char); "
          f"saved to {args.checkpoint}")


def run_sample(args: argparse.Namespace) -> None:
    model = load(args.checkpoint)
    prime = args.prime
    if args.prime_file is not None:
        prime = read_text(args.prime_file, model.vocab_.mode)
    if model.vocab_.mode == "bytes" and isinstance(prime, str):
        prime = prime.encode("utf-8", "surrogateescape")
    options = dict(prime=prime, temperature=args.temperature, top_k=args.top_k,
                   top_p=args.top_p, stop=args.stop, seed=args.seed)
    out = sys.stdout
    if args.stream:
        for piece in model.generate(max_chars=args.length, **options):
            _write(out, piece)
            out.flush()
        _write(out, "\n")
    else:
        _write(out, model.sample(args.length, **options))
        _write(out, "\n")


def _write(out: TextIO, piece: str | bytes) -> None:
    if isinstance(piece, bytes):
        out.buffer.write(piece)
    else:
        out.write(piece)


def run_eval(args: argparse.Namespace) -> None:
    model = load(args.checkpoint)
    text = read_text(args.file, model.vocab_.mode)
    result = model.evaluate(text, unknown="skip" if args.skip_unknown else "error")
    print(f"{result['nats_per_char']:.4f} nats/char, {result['bits_per_char']:.4f} bits/char, "
          f"perplexity {result['perplexity']:.3f} over {result['characters']:,} characters")


def run_info(args: argparse.Namespace) -> None:
    model = load(args.checkpoint)
    last = model.history_[-1] if model.history_ else {}
    lines = [
        f"file:        {args.checkpoint} ({args.checkpoint.stat().st_size:,} bytes)",
        f"model:       {model.num_layers} x {model.hidden_size} {model.cell}, {model.dtype}, "
        f"{model.params_.size:,} parameters",
        f"vocabulary:  {len(model.vocab_)} symbols ({model.vocab_.mode})",
        f"training:    {model.optimizer_.name} lr {model.optimizer_.learning_rate:g}, "
        f"seq_length {model.seq_length}, batch_size {model.batch_size}, clip {model.clip:g}, "
        f"seed {model.seed_}",
        f"trained:     {model.n_iter_:,} iterations, "
        f"{model.n_iter_ * model.seq_length * model.batch_size:,} characters",
        f"loss:        train {_loss(last.get('train_loss'))}, "
        f"validation {_loss(last.get('val_loss'))} nats/char",
    ]
    print("\n".join(lines))


def run_plot(args: argparse.Namespace) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("charrnn plot needs matplotlib: pip install 'charrnn-c[plot]'") from None
    model = load(args.checkpoint)
    if not model.history_:
        raise UserError(f"{args.checkpoint} has no training history to plot")
    iterations = [r["iteration"] for r in model.history_]
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    axes.plot(iterations, [r["train_loss"] for r in model.history_], label="train (smoothed)")
    validation = [(r["iteration"], r["val_loss"]) for r in model.history_
                  if r["val_loss"] is not None]
    if validation:
        axes.plot(*zip(*validation), label="validation")
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss (nats per character)")
    axes.set_title(f"{model.num_layers} x {model.hidden_size} {model.cell}")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(args.output)
    print(f"saved {args.output}")


def _loss(value: float | None, bits: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value / math.log(2) if bits else value:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (UserError, CheckpointError, ValueError, NotImplementedError, RuntimeError,
            FloatingPointError) as error:
        return _fail(error)
    except OSError as error:
        # FileNotFoundError, IsADirectoryError, PermissionError, a full disk...
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}")
    except KeyboardInterrupt:
        return _fail("interrupted")
    return 0


def _fail(error: BaseException | str) -> int:
    print(f"charrnn: error: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
