"""Train a CharRNN on Shakespeare and print samples as it learns.

    python examples/train_shakespeare.py [FILE] [--minutes 1] [--hidden 128]

FILE defaults to ../shared/data/shakespeare.txt beside this checkout.
"""

import argparse
from pathlib import Path

from charrnn_c import CharRNN

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "shakespeare.txt"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=CORPUS, type=Path)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--sample-every", type=int, default=20_000, help="iterations")
    args = parser.parse_args()

    model = CharRNN(hidden_size=args.hidden, num_layers=args.layers, seed=0)

    def show(record):
        print(f"\niteration {record['iteration']:,}: train {record['train_loss']:.3f}, "
              f"held-out {record['val_loss']:.3f} nats/char, {record['seconds']:.0f} s")
        print("----\n" + model.sample(300, prime="\n", temperature=0.8, seed=0) + "\n----")

    model.fit(args.file, max_time=60 * args.minutes, eval_every=args.sample_every,
              callbacks=[show], progress=False)
    result = model.evaluate(args.file.read_text()[-50_000:])
    print(f"\ndone: {model.n_iter_:,} iterations; held-out tail "
          f"{result['nats_per_char']:.3f} nats/char ({result['bits_per_char']:.3f} bits/char)")


if __name__ == "__main__":
    main()
