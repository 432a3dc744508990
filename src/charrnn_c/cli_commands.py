"""charrnn sample, eval, info, serve, export and plot: the commands that read a
trained model from its checkpoint."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from .cli_wording import UserError
from .reading import read_text
from .model import CharRNN


def load(path: str | os.PathLike[str]) -> CharRNN:
    return CharRNN.load(path)


def run_sample(args: argparse.Namespace) -> int:
    model = load(args.checkpoint)
    prime = args.prime
    if args.prime_file is not None:
        prime = read_text(args.prime_file, model.vocab_.mode)
    if model.vocab_.mode == "bytes" and isinstance(prime, str):
        prime = prime.encode("utf-8", "surrogateescape")
    known = prime
    if prime:   # refused or cut down before any of it is printed
        known = model.vocab_.decode(model.vocab_.encode(prime, unknown=args.unknown))
    out = sys.stdout
    if args.records is not None:
        if known:
            raise UserError("--records draws whole records from a fresh state: it takes no "
                            "--prime")
        for record in model.sample_records(args.records, temperature=args.temperature,
                                           top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                                           max_length=args.n):
            _write(out, record)
            _write(out, "\n")
        return 0
    if args.beam_width is not None:
        _refuse_draw_options(args)
        text = model.beam_search(args.n, prime=known, beam_width=args.beam_width,
                                 stop=args.stop)
        if prime and not args.omit_prime:
            _write(out, prime)
        _write(out, text)
        _write(out, "\n")
        return 0
    options = dict(prime=known, temperature=args.temperature, top_k=args.top_k,
                   top_p=args.top_p, stop=args.stop, seed=args.seed)
    if args.num_samples is not None:
        try:
            samples = model.sample(args.n, num_samples=args.num_samples, **options)
        except MemoryError as error:
            raise UserError(f"{error}: give a smaller --num-samples") from None
        for i, text in enumerate(samples):
            _write(out, ("\n" if i else "") + f"-- sample {i + 1} of {len(samples)}\n")
            if prime and not args.omit_prime:
                _write(out, prime)
            _write(out, text)
            _write(out, "\n")
        return 0
    # As char-rnn and textgenrnn print it: the prime as given, then what follows.
    if prime and not args.omit_prime:
        _write(out, prime)
    if args.stream:
        out.flush()
        for piece in model.generate(max_chars=args.n, **options):
            _write(out, piece)
            out.flush()
    else:
        _write(out, model.sample(args.n, **options))
    _write(out, "\n")
    return 0


# sample's options for a draw, which a beam search (it draws nothing) refuses.
DRAW_OPTIONS = {"temperature": "--temperature", "top_k": "--top-k", "top_p": "--top-p",
                "seed": "--seed"}


def _refuse_draw_options(args: argparse.Namespace) -> None:
    """A draw's option set along with --beam: one line, rather than ignored.
    (Given at its default value it changes nothing, and goes unnoticed.)"""
    given = [flag for dest, flag in DRAW_OPTIONS.items()
             if getattr(args, dest) != args.parser.get_default(dest)]
    if given:
        raise UserError(f"--beam searches for the most likely text and draws nothing: "
                        f"it takes no {', '.join(given)}")


def _write(out: TextIO, piece: str | bytes) -> None:
    if isinstance(piece, bytes):
        out.flush()
        out.buffer.write(piece)
        out.buffer.flush()
        return
    try:
        out.write(piece)           # encoded whole first: nothing is written if it fails
    except UnicodeEncodeError:
        # A model fitted on a str holding lone surrogates (or a terminal that
        # is not UTF-8) draws what the stream cannot encode: written as
        # \udc80 escapes rather than lost to a traceback.
        encoding = out.encoding or "utf-8"
        out.write(piece.encode(encoding, "backslashreplace").decode(encoding))


def run_eval(args: argparse.Namespace) -> int:
    model = load(args.checkpoint)
    # A path: evaluate reads it a chunk at a time, never whole.
    result = model.evaluate(Path(args.file), unknown=args.unknown)
    print(f"{result['nats_per_char']:.4f} nats/char, {result['bits_per_char']:.4f} bits/char, "
          f"perplexity {result['perplexity']:.3f} over {result['characters']:,} characters")
    return 0


def run_info(args: argparse.Namespace) -> int:
    model = load(args.checkpoint)
    last = model.history_[-1] if model.history_ else {}
    lines = [
        f"file:        {args.checkpoint} ({args.checkpoint.stat().st_size:,} bytes)",
        f"model:       {_size(model)}, {model.dtype}",
        f"vocabulary:  {len(model.vocab_)} symbols ({model.vocab_.mode})",
        (f"training:    {model.optimizer_.name} lr {model.optimizer_.learning_rate:g}, "
         f"seq_length {model.seq_length}, batch_size {model.batch_size}, clip {model.clip:g}, "
         f"seed {model.seed_}" if not model.weights_only_ else
         "training:    none kept (a weights-only file: it samples and scores, and cannot "
         "resume)"),
        f"trained:     {model.n_iter_:,} iterations, "
        f"{model.n_iter_ * model.seq_length * model.batch_size:,} characters",
        f"loss:        train {loss_text(last.get('train_loss'))}, "
        f"validation {loss_text(last.get('val_loss'))} nats/char",
    ]
    print("\n".join(lines))
    return 0


def _size(model: CharRNN) -> str:
    return (f"{model.num_layers} x {model.hidden_size} {model.cell}, "
            f"{model.params_.size:,} parameters")


# ----------------------------------------------------------------------
# serve, export

def run_serve(args: argparse.Namespace) -> int:
    from .serve import make_server

    server = make_server(load(args.checkpoint), args.host, args.port, quiet=args.quiet)
    print(f"serving {args.checkpoint} on http://{args.host}:{server.server_port} (Ctrl-C "
          f"stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_export(args: argparse.Namespace) -> int:
    from .export_web import export_web

    paths = export_web(load(args.checkpoint), args.directory, dtype=args.dtype)
    print(f"wrote {', '.join(str(path) for path in paths)}: open {paths[0]}")
    return 0


# ----------------------------------------------------------------------
# plot

def run_plot(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("charrnn plot needs matplotlib: pip install 'charrnn-c[plot]'") from None
    model = load(args.checkpoint)
    if not model.history_:
        raise UserError(f"{args.checkpoint} has no training history to plot")
    title = args.title
    if title is None:
        title = f"{args.checkpoint.name}: {_size(model)}"
    loss_figure(model, title).savefig(args.output)
    print(f"saved {args.output}")
    return 0


def loss_figure(model: CharRNN, title: str) -> Any:
    """The training and validation loss of ``model.history_`` against
    iterations, each resume marked by a dotted line, as a matplotlib Figure."""
    from matplotlib.figure import Figure   # not pyplot: no global state, no GUI backend

    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    history = model.history_
    train = [(r["iteration"], r["train_loss"]) for r in history]
    if history[0]["iteration"] > 0 and "resumed_at" not in history[0]:
        # fit starts the smoothed loss at log(V), a uniform guess's loss, so
        # iteration 0 needs no record.
        train.insert(0, (0, math.log(len(model.vocab_))))
    axes.plot(*zip(*train), label="train (smoothed)")
    validation = [(r["iteration"], r["val_loss"]) for r in history if r["val_loss"] is not None]
    if validation:
        axes.plot(*zip(*validation), label="validation")
    resumes = [r["resumed_at"] for r in history if "resumed_at" in r]
    for index, iteration in enumerate(resumes):
        axes.axvline(iteration, color="0.5", linestyle=":", linewidth=1,
                     label="resumed" if index == 0 else None)
    axes.set_xlim(left=0)
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss (nats per character)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def loss_text(value: float | None, bits: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value / math.log(2) if bits else value:.3f}"

