"""The frontier: held-out loss after M minutes on T threads, over model sizes.

Runs benchmarks/quality.py (held-out: whole works) once per point of a grid
and prints one table of them all: cell, layers x width, dropout, minutes,
threads, characters the run trained on, passes over the training text and
held-out nats/char of the weights the model ends with (keep_best's). The
rule budget.py states was read off this table; ``--points auto`` runs
CharRNN.auto() (the rule's own choice) beside CharRNN() at each budget.

On one thread, two points run side by side (one per core, ``--pairs``), so
that a machine of two cores measures two at once; on more threads, one at a
time. Each point's whole output goes to ``--logs``/NAME.log.

A point is "cell:LxH:dropout" (cell rnn, gru or lstm), or "auto", or
"defaults" (CharRNN()):

    python benchmarks/frontier.py --minutes 1 --threads 2 --points gru:2x96:0,gru:2x128:0,gru:2x192:0,defaults
    python benchmarks/frontier.py --minutes 5 --threads 1 --pairs --points defaults,gru:2x384:0.1
    python benchmarks/frontier.py --minutes 5 --threads 2 --points auto,defaults
    python benchmarks/frontier.py --minutes 0.05 --threads 1 --points gru:2x16:0,auto --eval-chars 2000  # a smoke test
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROW = re.compile(r"^frontier row: (\|.*\|)$", re.M)


def point_options(point):
    """quality.py's options for a grid point."""
    if point == "auto":
        return ["--preset", "auto"]
    if point == "defaults":
        return ["--preset", "defaults"]
    cell, size, dropout = point.split(":")
    layers, width = size.split("x")
    return ["--cell", cell, "--num-layers", layers, "--hidden-size", width,
            "--dropout", dropout]


def command(point, args):
    # One evaluation, at the end: an "auto" point chooses once, in one fit call.
    seconds = args.minutes * 60
    return [sys.executable, str(HERE / "quality.py"), "--minutes", f"{args.minutes:g}",
            "--threads", str(args.threads), "--eval-every", f"{seconds:g}",
            "--seed", str(args.seed), *(["--eval-chars", str(args.eval_chars)]
                                        if args.eval_chars else []),
            *point_options(point)]


def run(points, args):
    """{point: its frontier row, or the log's last line where it has none}."""
    args.logs.mkdir(parents=True, exist_ok=True)
    width = 2 if args.pairs and args.threads == 1 else 1
    rows = {}
    for start in range(0, len(points), width):
        batch = points[start:start + width]
        running = []
        for point in batch:
            name = f"m{args.minutes:g}t{args.threads}-{point.replace(':', '_')}"
            log = (args.logs / f"{name}.log").open("w")
            running.append((point, log, subprocess.Popen(command(point, args), stdout=log,
                                                         stderr=subprocess.STDOUT)))
        for point, log, process in running:
            process.wait()
            log.close()
            text = Path(log.name).read_text()
            found = ROW.search(text)
            rows[point] = (found.group(1) if found
                           else f"| {point} | failed: {text.strip().splitlines()[-1:]} |")
            print(f"{point}: {rows[point]}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", required=True,
                        help="comma-separated: cell:LxH:dropout, auto or defaults")
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pairs", action="store_true",
                        help="on one thread, run two points at once (one per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-chars", type=int, default=0)
    parser.add_argument("--logs", type=Path, default=Path("frontier-logs"))
    args = parser.parse_args(argv)
    points = args.points.split(",")
    for point in points:
        point_options(point)                   # a malformed point fails before any run
    print(f"{len(points)} points, {args.minutes:g} min on {args.threads} thread(s)"
          f"{', two at a time' if args.pairs and args.threads == 1 else ''}; "
          f"{os.cpu_count()} logical CPUs", flush=True)
    rows = run(points, args)
    print("\n| cell | layers x width | dropout | minutes | threads | characters | passes "
          "| held-out nats/char |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for point in points:
        print(rows[point])
    return 0 if all("failed" not in row for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
