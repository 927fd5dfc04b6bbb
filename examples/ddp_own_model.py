"""The own-model example under DistributedDataParallel, one process per rank:

    torchrun --nproc-per-node 2 examples/ddp_own_model.py --data-dir /usr/share/datasets/fashion-mnist

Each rank trains on its shard of the data (a DistributedSampler, reseeded every epoch);
the scheduler gets the wrapped model, so every rank prunes with the same masks and
thins alike, and the wrapper is rebuilt around the thinned module. Rank 0 alone
evaluates and saves. The batch size is per process: 2 ranks × 64 = 128 per step.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

import compressor

try:  # run as a script (torchrun examples/ddp_own_model.py) or imported as examples.ddp_own_model
    from own_model import SCHEDULE, OwnNet, accuracy, loader
except ImportError:
    from .own_model import SCHEDULE, OwnNet, accuracy, loader


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-samples", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("own_model_ddp.pt"))
    args = parser.parse_args(argv)
    dist.init_process_group("gloo")  # nccl with one GPU per rank
    rank = dist.get_rank()
    torch.manual_seed(0)
    full = loader(args.data_dir, "train", 64, args.train_samples, shuffle=False)
    sampler = DistributedSampler(full.dataset, shuffle=True, seed=0)
    train = DataLoader(full.dataset, batch_size=64, sampler=sampler)

    net = OwnNet()
    model = DistributedDataParallel(net)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = compressor.file_config(model, optimizer, SCHEDULE,
                                       example_inputs=torch.zeros(1, 1, 28, 28))
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        scheduler.on_epoch_begin(epoch)
        model.train()
        for i, (x, y) in enumerate(train):
            scheduler.on_minibatch_begin(epoch, i, len(train))
            loss = F.cross_entropy(model(x), y)
            loss = scheduler.before_backward_pass(epoch, i, len(train), loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.on_minibatch_end(epoch, i, len(train))
        scheduler.on_epoch_end(epoch)
        if rank == 0:
            test = loader(args.data_dir, "t10k", 1000, None, shuffle=False)
            zero = float((net.fc1.weight == 0).float().mean())
            print(f"epoch {epoch}: top-1 {accuracy(net, test):.2f}%  fc1 {zero:.0%} zero  "
                  f"block.conv_a {net.block.conv_a.out_channels} filters", flush=True)
    if rank == 0:
        compressor.save(net, args.out, scheduler=scheduler)
        print(f"saved {args.out}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
