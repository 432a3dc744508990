"""Held-out loss against training time: how good the model gets in N minutes.

Trains CharRNN on the corpus less a held-out tail of whole works (with
``--held-out works``, the default: the works that begin nearest the last
``--val-fraction``, 5%, of the text, found by their "by William Shakespeare"
title line; Twelfth Night, The Two Gentlemen of Verona and what follows, 4.5%
of the corpus), for ``--minutes`` of training time, from a recipe
(``--preset``) that any option given overrides. fit holds out the last 20,000
characters of the text it is given for its own validation (keep_best), so the
held-out works are never seen, not even to choose weights. ``--held-out
tail`` holds out the last 5% instead, as fit does, and evaluates on it.

    writeup       the write-up's model and recipe, CharRNN.writeup(): 1 x 100
                  RNN, seq_length 25, batch 1, Adagrad at 0.1, clip 5,
                  N(0, 0.01^2), float64, a constant rate, the last weights kept
    writeup-big   the write-up's Shakespeare model, a 3 x 512 RNN at batch 1
                  and seq_length 25, in float32, with Adam at 2e-3 and the
                  default init (1 / sqrt(512)): the write-up's Adagrad at 0.1
                  sends this stack to ~18 nats/char within 100 iterations, and
                  three tanh layers at 0.01 learn nothing (add --optimizer
                  adagrad --learning-rate 0.1 --init-std 0.01 to see)
    defaults      CharRNN()'s own recipe, chosen by this script's measurements
                  for a few minutes of training: a 2 x 256 GRU at batch 32 x
                  50 characters, Adam at 2e-3 after 200 warmup steps, a cosine
                  decay to 10% at the deadline, global-norm clip 1, orthogonal
                  recurrent weights, the best validation record's weights kept
    large         the defaults with a 2 x 512 GRU, for half an hour or more
    deep-rnn      the write-up's 3 x 512 tanh RNN with everything else as the
                  defaults: CharRNN(hidden_size=512, num_layers=3, cell="rnn")
    auto          CharRNN.auto(): the size and dropout fit chooses for the
                  budget and this machine (budget.py); give --eval-every as
                  long as --minutes, so that one fit call makes the choice
                  and trains to its end

Every ``--eval-every`` seconds of training it measures the loss on the
held-out text with ``model.evaluate``: all of it, or its first
``--eval-chars`` characters, from a zero state. Training runs as a chain of
fit calls, the first given the whole budget (max_time: a time-based
schedule then anneals to the deadline) and each stopped by a callback at its
first record, ``--eval-every`` seconds in (eval_seconds), then resumed
(resume=True follows the same schedule plan and keeps the best so far), so
evaluation is not counted as training time (the wall time printed at the end
includes it). keep_best selects on fit's own records, on the first 20,000
held-out characters. With keep_best the table shows both the weights the
model ends with (kept) and the last step's.

With ``--torch``, a plain PyTorch loop of the same model (``model.to_torch()``
of the same initial weights), recipe (optimizer, rate and schedule, clip,
clip_norm, batches from the same streams, keep-best on the same 20,000
characters) trains for the same minutes, evaluated the same way. PyTorch's
Adagrad divides by sqrt(sum) + eps, the write-up's by sqrt(sum + eps).

It prints the settings and the machine, then per side a markdown table
(training minutes, iterations, characters, the smoothed training loss,
held-out nats and bits per character), the first evaluation reaching
``--target`` nats/char (default 1.78, the write-up's smoothed training loss
of about 44.4 per 25 characters: 44.4 / 25 = 1.776), the best, and DIVERGED
where a run's last step ends more than 0.02 nats/char above its best.

    python benchmarks/quality.py --preset writeup --minutes 30 --eval-every 60
    python benchmarks/quality.py --preset writeup-big --minutes 30 --eval-every 60 --torch
    python benchmarks/quality.py --preset defaults --minutes 5 --torch --threads 2
    python benchmarks/quality.py --preset deep-rnn --minutes 30 --eval-every 120
    python benchmarks/quality.py --minutes 0.2 --eval-every 5 --torch     # a smoke test
"""

import argparse
import math
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_limits

import charrnn_c
from charrnn_c import CharRNN
from charrnn_c.streams import Streams, split_validation
from charrnn_c.optimizers import OPTIMIZERS
from charrnn_c.schedules import SCHEDULES, Plan, factor
from charrnn_c.training import VALIDATION_CHARACTERS
from common import TEXT_PATH, blas_description, cpu_name

WRITEUP_LOSS = 44.4 / 25        # nats per character
NO_FIT_RECORDS = 2**62          # eval_every that fit never reaches
DIVERGED = 0.02                 # a last step this far above the best counts as diverged

PRESETS = {
    "writeup": CharRNN.writeup().get_params(),
    "writeup-big": CharRNN.writeup(hidden_size=512, num_layers=3, dtype="float32",
                                   optimizer="adam", learning_rate=2e-3,
                                   init_std=None).get_params(),
    "defaults": CharRNN().get_params(),
    "large": CharRNN(hidden_size=512).get_params(),
    "deep-rnn": CharRNN(hidden_size=512, num_layers=3, cell="rnn").get_params(),
    "auto": CharRNN.auto().get_params(),
}
# The CharRNN parameters this script takes options for.
MODEL_OPTIONS = ("hidden_size", "num_layers", "cell", "seq_length", "batch_size", "optimizer",
                 "learning_rate", "clip", "clip_norm", "dtype", "init_std", "recurrent_init",
                 "dropout", "lr_schedule", "warmup", "min_lr_ratio", "keep_best")


# A work of the corpus begins with its title, a blank line, then this line.
WORK_START = re.compile(r"^[^\n]+\n\nby William Shakespeare$", re.M)


def works_split(text, fraction):
    """(training text, held-out works): the text cut at the start of the work
    nearest to holding out ``fraction`` of it, or None if it has no titles."""
    starts = [m.start() for m in WORK_START.finditer(text)][1:]
    if not starts:
        return None
    cut = min(starts, key=lambda start: abs(len(text) - start - fraction * len(text)))
    return text[:cut], text[cut:]


def held_out_text(text, val_fraction):
    """The tail fit holds out: split_validation's split, on a chars-vocabulary str.

    With vocab="chars" each character is one index, so the split of the
    encoded text at len - round(fraction * len) is the same split of the str."""
    return text[len(text) - round(val_fraction * len(text)):]


def evaluate(model, text, weights=None):
    """(nats per character, seconds the evaluation took), of ``weights`` if given."""
    start = time.perf_counter()
    if weights is None:
        nats = model.evaluate(text)["nats_per_char"]
    else:
        saved = model.params_.copy()
        np.copyto(model.params_, weights)
        try:
            nats = model.evaluate(text)["nats_per_char"]
        finally:
            np.copyto(model.params_, saved)
    return nats, time.perf_counter() - start


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
            f"characters")


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


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="defaults",
                        help="the recipe; options given override it (default: defaults)")
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
    parser.add_argument("--hidden-size", type=positive_int)
    parser.add_argument("--num-layers", type=positive_int)
    parser.add_argument("--cell", choices=("rnn", "gru", "lstm"))
    parser.add_argument("--seq-length", type=positive_int)
    parser.add_argument("--batch-size", type=positive_int)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    parser.add_argument("--learning-rate", type=positive_float)
    parser.add_argument("--clip", type=positive_float)
    parser.add_argument("--clip-norm", type=positive_float)
    parser.add_argument("--dtype", choices=("float32", "float64"))
    parser.add_argument("--init-std", type=positive_float)
    parser.add_argument("--recurrent-init", choices=("normal", "orthogonal"))
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--lr-schedule", choices=SCHEDULES)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--min-lr-ratio", type=float)
    parser.add_argument("--keep-best", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--patience", type=positive_int,
                        help="stop once this many evaluations in a row have not lowered fit's "
                        "validation loss (default: never)")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--held-out", choices=("works", "tail"), default="works",
                        help="hold out whole works (default) or the text's tail, as fit does")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="threads for ours and for PyTorch, and BLAS (default 1)")
    parser.add_argument("--torch", action="store_true",
                        help="also train a plain PyTorch loop of the same model and recipe "
                        "for the same time")
    parser.add_argument("--text", type=Path, default=TEXT_PATH)
    args = parser.parse_args(argv)
    if not 0 < args.val_fraction < 1:
        parser.error("--val-fraction must be in (0, 1): there must be held-out text")
    if args.eval_chars < 0:
        parser.error("--eval-chars must be >= 0")
    return args


def model_params(args):
    params = dict(PRESETS[args.preset])
    for name in MODEL_OPTIONS:
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    params.update(val_fraction=args.val_fraction, seed=args.seed, n_threads=args.threads)
    return params


def row(record, nats, last_step, eval_seconds):
    return {"minutes": record["seconds"] / 60, "iteration": record["iteration"],
            "characters": record["characters"], "train": record["train_loss"],
            "held_out": nats, "last_step": last_step, "eval_seconds": eval_seconds,
            "learning_rate": record.get("learning_rate")}


def run_ours(params, text, held_out, args):
    """Rows of a CharRNN trained in chunks of --eval-every seconds; (rows, stop, model)."""
    model = CharRNN(**params)
    untrained = CharRNN(**params).fit(text, iterations=0, progress=False)   # same weights
    nats, seconds = evaluate(untrained, held_out)
    rows = [row(untrained.history_[-1], nats, nats, seconds)]
    print(f"model: {model!r}, learning rate {untrained.optimizer_.learning_rate:g}, "
          f"vocabulary {len(untrained.vocab_)}; one evaluation takes {seconds:.2f} s",
          flush=True)
    budget = args.minutes * 60
    stop = f"{args.minutes:g} minutes of training"
    resume = False
    try:
        while True:
            # The first call is given the whole budget, so that a schedule's plan
            # ends at the deadline; later calls follow that plan. Each stops at
            # its first record, eval_every seconds in.
            remaining = budget - (model._state.elapsed if resume else 0.0)
            if remaining <= 0:
                break
            model.fit(text, max_time=remaining, eval_seconds=args.eval_every,
                      eval_every=NO_FIT_RECORDS, callbacks=[lambda record: False],
                      patience=args.patience, resume=resume, progress=False)
            resume = True
            nats, seconds = evaluate(model, held_out)
            last_step = nats
            if model._state.train_params is not None:        # keep_best kept earlier weights
                last_step, more = evaluate(model, held_out, model._state.train_params)
                seconds += more
            rows.append(row(model.history_[-1], nats, last_step, seconds))
            print_progress(rows[-1], model.best_iteration_)
            if model.stop_reason_ != "callback":
                stop = {"max_time": stop, "interrupted": "Ctrl-C",
                        "patience": f"patience ({args.patience} records)"}.get(
                            model.stop_reason_, model.stop_reason_)
                break
    except FloatingPointError as error:
        stop = f"divergence: {error}"
    except KeyboardInterrupt:
        stop = "Ctrl-C"
    return rows, stop, model


def print_progress(r, kept=None):
    also = "" if r["last_step"] == r["held_out"] else f" (last step {r['last_step']:.4f})"
    where = "" if kept is None else f", kept iteration {kept:,}"
    rate = "" if r.get("learning_rate") is None else f"  lr {r['learning_rate']:.3g}"
    print(f"{r['minutes']:6.2f} min  iteration {r['iteration']:>10,}{rate}  train "
          f"{r['train']:.4f}  held-out {r['held_out']:.4f} nats/char{also}{where}", flush=True)


# ----------------------------------------------------------------------
# The same model and recipe as a plain PyTorch loop

def run_torch(params, text, held_out, args):
    """Rows of the PyTorch loop; (rows, stop) or None without torch."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("\nPyTorch side: torch is not installed (pip install torch)")
        return None
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)                        # dropout masks
    start_model = CharRNN(**params).fit(text, iterations=0, progress=False)
    module = start_model.to_torch()
    vocab, V = start_model.vocab_, len(start_model.vocab_)
    train_data, _ = split_validation(vocab.encode(text), params["val_fraction"])
    streams = Streams(train_data, params["batch_size"], params["seq_length"])
    B = params["batch_size"]
    rate = start_model.optimizer_.learning_rate
    optimizers = {
        "adagrad": lambda p: torch.optim.Adagrad(p, lr=rate, eps=1e-8),
        "adam": lambda p: torch.optim.Adam(p, lr=rate, betas=(0.9, 0.999), eps=1e-8),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=rate, alpha=0.95, eps=1e-8),
    }
    optimizer = optimizers[params["optimizer"]](module.parameters())
    budget = args.minutes * 60
    plan = Plan(0, 0.0, None, budget)
    validation = held_out[:VALIDATION_CHARACTERS]

    def held_out_loss(text_):
        module.eval()
        data = torch.from_numpy(vocab.encode(text_).astype(np.int64))
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for begin in range(0, len(data) - 1, 2000):
                chunk = data[begin:begin + 2001]
                logits, state = module(chunk[:-1, None], state)
                total += F.cross_entropy(logits[:, 0], chunk[1:], reduction="sum").item()
                count += len(chunk) - 1
        module.train()
        return total / count

    def measure(step, smooth):
        begin = time.perf_counter()
        nats = held_out_loss(held_out)
        r = {"minutes": trained / 60, "iteration": step,
             "characters": step * params["seq_length"] * B, "train": smooth,
             "held_out": nats, "last_step": nats,
             "eval_seconds": time.perf_counter() - begin,
             "learning_rate": optimizer.param_groups[0]["lr"] if step else None}
        return r

    print(f"\nPyTorch {torch.__version__}: {type(module.rnn).__name__} + Linear, "
          f"{params['optimizer']} lr {rate:g}, {torch.get_num_threads()} thread(s)", flush=True)
    trained, step, smooth, state = 0.0, 0, math.log(V), None
    rows = [measure(0, smooth)]
    best = (math.inf, None, None)                 # validation loss, row, weights
    stop = f"{args.minutes:g} minutes of training"
    next_eval = args.eval_every
    try:
        while trained < budget:
            begin = time.perf_counter()
            inputs, targets, reset = streams.next_batch()
            if reset:
                state = None
            logits, state = module(torch.from_numpy(inputs), state)
            loss = F.cross_entropy(logits.reshape(-1, V),
                                   torch.from_numpy(targets.astype(np.int64)).reshape(-1),
                                   reduction="sum") / B
            optimizer.zero_grad()
            loss.backward()
            if params["clip_norm"] is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), params["clip_norm"])
            torch.nn.utils.clip_grad_value_(module.parameters(), params["clip"])
            scale = factor(params["lr_schedule"], step, plan.progress(step, trained),
                           params["warmup"], params["min_lr_ratio"])
            for group in optimizer.param_groups:
                group["lr"] = rate * scale
            optimizer.step()
            state = (tuple(s.detach() for s in state) if isinstance(state, tuple)
                     else state.detach())
            step += 1
            value = loss.item() / params["seq_length"]
            if not math.isfinite(value):
                stop = f"divergence: the loss became {value} at iteration {step}"
                break
            smooth = 0.999 * smooth + 0.001 * value
            trained += time.perf_counter() - begin
            if trained >= next_eval or trained >= budget:
                next_eval += args.eval_every
                r = measure(step, smooth)
                validation_loss = held_out_loss(validation)
                if params["keep_best"] and validation_loss < best[0]:
                    best = (validation_loss, r, {k: v.clone()
                                                 for k, v in module.state_dict().items()})
                rows.append(r)
                print_progress(r, None if best[1] is None else best[1]["iteration"])
    except KeyboardInterrupt:
        stop = "Ctrl-C"
    if best[2] is not None and best[1] is not rows[-1]:
        module.load_state_dict(best[2])
        kept = dict(rows[-1], held_out=held_out_loss(held_out))
        rows[-1] = kept
        print(f"kept the weights of iteration {best[1]['iteration']:,}: held-out "
              f"{kept['held_out']:.4f} nats/char", flush=True)
    return rows, stop


# ----------------------------------------------------------------------

def report(name, rows, stop, args, held_out_chars):
    print(f"\n{name}\n\n| minutes | iterations | characters | train nats/char (smoothed) "
          "| held-out nats/char | held-out bits/char | last step's held-out |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['minutes']:.2f} | {r['iteration']:,} | {r['characters']:,} "
              f"| {r['train']:.4f} | {r['held_out']:.4f} | {r['held_out'] / math.log(2):.4f} "
              f"| {r['last_step']:.4f} |")
    trained = rows[-1]["minutes"]
    seconds = max(trained * 60, 1e-9)
    print(f"\nstopped by: {stop}; {trained:.2f} min of training")
    print(f"throughput: {rows[-1]['characters'] / seconds:,.0f} training characters/s "
          f"({rows[-1]['iteration'] / seconds:,.0f} iterations/s)")
    evals = [r["eval_seconds"] for r in rows]
    print(f"evaluation of {held_out_chars:,} held-out characters: {min(evals):.2f} s to "
          f"{max(evals):.2f} s each, {sum(evals):.1f} s in all")
    print(describe_crossing(rows, "held_out", args.target, "held-out loss", trained))
    print(describe_crossing(rows, "train", args.target, "smoothed training loss", trained))
    best = min(rows, key=lambda r: r["last_step"])
    final = rows[-1]
    print(f"best held-out loss: {best['last_step']:.4f} nats/char "
          f"({best['last_step'] / math.log(2):.4f} bits/char) at {best['minutes']:.2f} min; "
          f"the model ends at {final['held_out']:.4f}")
    above = final["last_step"] - best["last_step"]
    if above > DIVERGED:
        print(f"DIVERGED: the last step ends {above:.3f} nats/char above its best")
    return best, final


def main(argv=None):
    args = parse_args(argv)
    params = model_params(args)
    text = args.text.read_text(encoding="utf-8")
    split = works_split(text, args.val_fraction) if args.held_out == "works" else None
    if split is None:
        held_out = held_out_text(text, args.val_fraction)
    else:                   # fit validates on the last 20,000 characters it is given
        text, held_out = split
        params["val_fraction"] = VALIDATION_CHARACTERS / len(text)
    if args.eval_chars:
        held_out = held_out[:args.eval_chars]

    print("settings: " + " ".join(f"--{name.replace('_', '-')} {value}"
                                  for name, value in vars(args).items()))
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs), {args.threads} thread(s)")
    print(blas_description())
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, "
          f"SciPy {scipy.__version__}, charrnn_c {charrnn_c.__version__}")
    print(f"load average (1 min) at start {os.getloadavg()[0]:.2f}")
    if split is None:
        print(f"text: {args.text.name}, {len(text):,} characters; held out: the last "
              f"{len(held_out_text(text, args.val_fraction)):,}, evaluated on "
              f"{len(held_out):,}\n", flush=True)
    else:
        first = held_out.split("\n", 1)[0]
        print(f"text: {args.text.name}, trained on its first {len(text):,} characters "
              f"(fit validates on their last {VALIDATION_CHARACTERS:,}); held out: the "
              f"works from {first} on, {len(split[1]):,} characters, evaluated on "
              f"{len(held_out):,}\n", flush=True)

    wall_start = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        rows, stop, model = run_ours(params, text, held_out, args)
        if model.chosen_ is not None:
            print(f"chosen: {model.chosen_}")
        results = {"charrnn_c": report("charrnn_c", rows, stop, args, len(held_out))}
        if args.torch:
            torch_result = run_torch(params, text, held_out, args)
            if torch_result is not None:
                results["PyTorch"] = report("PyTorch (the same model and recipe)",
                                            *torch_result, args, len(held_out))
    wall = time.perf_counter() - wall_start

    print("\n| side | best held-out nats/char | at minutes | the model ends at |")
    print("|---|---:|---:|---:|")
    for name, (best, final) in results.items():
        print(f"| {name} | {best['last_step']:.4f} | {best['minutes']:.2f} "
              f"| {final['held_out']:.4f} |")
    trained_chars = round(len(text) * (1 - params["val_fraction"]))
    final = results["charrnn_c"][1]
    trained = model._fitted_params()         # an "auto" as chosen
    print(f"\nfrontier row: | {params['cell']} | {trained['num_layers']} x "
          f"{trained['hidden_size']} | {trained['dropout']:g} | {args.minutes:g} | "
          f"{args.threads} | {final['characters']:,} | "
          f"{final['characters'] / trained_chars:.2f} | {final['held_out']:.4f} |")
    print(f"\n{wall / 60:.2f} min of wall time including evaluation; load average (1 min) "
          f"at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
