"""Many models at once: a sweep over seeds in parallel threads, the best one kept.

    python examples/train_many.py [--models 4] [--minutes 1] [--jobs 2]

joblib runs one fit per thread (prefer="threads"): the C core releases the
GIL, so the threads train in parallel, each model on one thread of its own
(n_threads=1), and each gives the weights it would give trained alone. The
best model by validation loss is saved as best.safetensors. The same
function runs on a cluster through joblib's Ray or Dask backends (README,
"Many models").
"""

import argparse

from joblib import Parallel, delayed

from charrnn_c import CharRNN, datasets


def train_one(text, seed, **fit_args):
    """A small GRU trained from ``seed``, on one thread."""
    model = CharRNN(hidden_size=64, num_layers=2, seed=seed, n_threads=1)
    return model.fit(text, progress=False, **fit_args)


def train_many(text, seeds, jobs, **fit_args):
    """One model per seed, ``jobs`` at a time in threads."""
    return Parallel(n_jobs=jobs, prefer="threads")(
        delayed(train_one)(text, seed, **fit_args) for seed in seeds)


def lowest_validation_loss(model):
    return min(record["val_loss"] for record in model.history_)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=-1, help="threads (default: every core)")
    args = parser.parse_args()
    models = train_many(datasets.shakespeare(), range(args.models), args.jobs,
                        max_time=args.minutes * 60)
    for seed, model in enumerate(models):
        print(f"seed {seed}: {model.n_iter_:,} iterations, validation loss "
              f"{lowest_validation_loss(model):.4f} nats/char")
    best = min(models, key=lowest_validation_loss)
    best.save("best.safetensors")
    print(f"best: seed {best.seed}, saved best.safetensors")


if __name__ == "__main__":
    main()
