"""Kill -9 a process at random moments while it saves a ~4 MB model; count what is left.

A saver process loads the model once, then on each request forks a child
that saves it over and over (CharRNN.save, each version marked in n_iter_)
until it is killed with SIGKILL after a random 0-50 ms; every other round
lets one save finish first, so kills land in first saves and in later ones.
After each kill the checkpoint must load (checksum and every check), as the
old version or a new one; temporary files the killed save left are counted.
At the end one more save runs, which should remove every one of them.

    python benchmarks/kill_during_save.py            # 70 rounds
    python benchmarks/kill_during_save.py --rounds 200
"""

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

from charrnn_c import CharRNN
from charrnn_c.atomic_file import TEMP_PREFIX
from charrnn_c.datasets import shakespeare
from common import blas_description, cpu_name

SAVER = textwrap.dedent("""
    import itertools, os, sys
    from charrnn_c import CharRNN

    path = sys.argv[1]
    model = CharRNN.load(path)

    def say(line):
        os.write(1, (line + "\\n").encode())  # one write per line: lines never interleave

    say("ready")
    for line in sys.stdin:
        first = int(line)
        pid = os.fork()
        if pid == 0:
            try:
                for version in itertools.count(first):
                    model._state.iteration = version
                    model.save(path)
                    say(f"saved {version}")
            except BaseException as error:       # never back into the parent's loop
                say(f"failed {type(error).__name__}: {error}")
                os._exit(1)
        say(f"forked {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"dead {os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1}")
""")


def temp_files(directory):
    return [name for name in os.listdir(directory) if name.startswith(TEMP_PREFIX)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=70)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(blas_description())
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
          f"NumPy {np.__version__}")
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.safetensors")
        # 1 x 640 RNN, float32, Adagrad: 0.49 M parameters and as much memory,
        # 3.9 MB. No kept record: the saver marks each version by n_iter_ alone.
        model = CharRNN(hidden_size=640, num_layers=1, cell="rnn", optimizer="adagrad",
                        batch_size=1, seq_length=25, keep_best=False, seed=0)
        model.fit(shakespeare()[:5000], iterations=1, progress=False)
        started = time.perf_counter()
        model.save(path)
        print(f"model: {os.path.getsize(path) / 1e6:.2f} MB checkpoint, one save "
              f"{1e3 * (time.perf_counter() - started):.0f} ms")

        saver = subprocess.Popen([sys.executable, "-c", SAVER, path], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        pid, saved = None, []

        def read():
            nonlocal pid
            line = saver.stdout.readline()
            if not line:
                raise RuntimeError("the saver process exited")
            word, value = line.split(maxsplit=1)
            if word == "saved":
                saved.append(int(value))
            if word == "dead":
                pid = None            # reaped: never kill its pid again
            if word == "failed":
                raise RuntimeError(f"a save failed: {line.strip()}")
            return word, int(value)

        current, old, new, broken, after_kill = 0, 0, 0, [], []
        try:
            assert saver.stdout.readline() == "ready\n"
            for turn in range(args.rounds):
                first = (turn + 1) * 1_000_000
                saver.stdin.write(f"{first}\n")
                saver.stdin.flush()
                saved.clear()
                while pid is None:
                    word, value = read()
                    if word == "forked":
                        pid = value
                while turn % 2 and not saved:
                    read()
                time.sleep(rng.uniform(0, 0.05))
                os.kill(pid, signal.SIGKILL)
                while read()[0] != "dead":
                    pass
                try:
                    version = CharRNN.load(path).n_iter_
                except Exception as error:  # counted and shown, not raised
                    broken.append(f"round {turn}: {type(error).__name__}: {error}")
                    continue
                if version == current:
                    old += 1
                else:
                    new += 1
                current = version
                after_kill.append(len(temp_files(directory)))
        finally:
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            saver.stdin.close()
            saver.wait(timeout=60)
            saver.stdout.close()

        print(f"runs: {args.rounds} kill -9 during save")
        print(f"outcomes: {old} old checkpoint loadable, {new} new checkpoint loadable, "
              f"{len(broken)} not loadable")
        for line in broken:
            print(f"  {line}")
        print(f"temporary files after a kill: {sum(1 for n in after_kill if n)} rounds left "
              f"some, at most {max(after_kill, default=0)} at once")
        model._state.iteration = 7
        model.save(path)
        left = temp_files(directory)
        print(f"temporary files after the next save: {len(left)} "
              f"({sum(os.path.getsize(os.path.join(directory, n)) for n in left):,} bytes)")
        assert CharRNN.load(path).n_iter_ == 7


if __name__ == "__main__":
    main()
