"""Training on several processes, or machines, with PyTorch's DistributedDataParallel.

One machine, two processes on its CPU (gloo; on GPUs, one process per GPU and NCCL):

    torchrun --standalone --nproc_per_node 2 examples/train_ddp.py

Two machines, four processes each (run this on both, NODE_RANK 0 on the
machine at MASTER_ADDR, 1 on the other):

    torchrun --nnodes 2 --node_rank NODE_RANK --nproc_per_node 4 \\
        --master_addr MASTER_ADDR --master_port 29500 examples/train_ddp.py

With no arguments it trains a 2 x 128 GRU on the built-in corpus for about a
minute and saves ddp.safetensors in the current directory, a checkpoint
CharRNN.load reads like any other. Each process trains a share of the
``--batch-size`` streams (CharRNN.fit(backend="torch")), DDP averages the
gradients, so the run is the one-process run with all the streams; rank 0
prints the progress, writes the checkpoint and prints a sample.
"""

import argparse
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist

from charrnn_c import CharRNN, datasets


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", type=Path, help="a text file (default: the built-in corpus)")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, help="stop after this many steps instead")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--cell", default="gru", choices=["rnn", "gru", "lstm"])
    parser.add_argument("--batch-size", type=int, default=32,
                        help="streams in all, split evenly over the processes")
    parser.add_argument("--seq-length", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--eval-every", type=int, help="iterations between records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=Path("ddp.safetensors"))
    return parser.parse_args()


def main():
    args = parse_args()
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu"
    text = args.text if args.text is not None else datasets.shakespeare()
    model = CharRNN(hidden_size=args.hidden_size, num_layers=args.num_layers, cell=args.cell,
                    batch_size=args.batch_size, seq_length=args.seq_length,
                    warmup=args.warmup, dtype=args.dtype, seed=args.seed)
    # The untrained model's validation loss, to see training lower it.
    before = CharRNN(**model.get_params()).fit(text, iterations=0, progress=False)
    limits = (dict(iterations=args.iterations) if args.iterations is not None
              else dict(max_time=args.minutes * 60))
    started = time.perf_counter()
    try:
        model.fit(text, checkpoint=args.checkpoint, overwrite=True, progress=rank == 0,
                  eval_every=args.eval_every, backend="torch", device=device, **limits)
    finally:
        dist.destroy_process_group()
    if rank == 0:
        kept = [record for record in model.history_ if record.get("kept")] or model.history_
        print(f"{world} processes on {device}, {model.n_iter_:,} iterations in "
              f"{time.perf_counter() - started:.1f} s: validation loss "
              f"{before.history_[-1]['val_loss']:.4f} untrained, "
              f"{model.history_[-1]['val_loss']:.4f} at the end, "
              f"{kept[-1]['val_loss']:.4f} kept (iteration {kept[-1]['iteration']:,}); "
              f"nats/char; saved {args.checkpoint}")
        print(model.sample(300, prime="KING.", temperature=0.8, seed=1))


if __name__ == "__main__":
    main()
