"""Compress your own model inside your own training loop.

A small residual network (not one of compressor's built-in architectures) trains on
Fashion-MNIST in a plain PyTorch loop over a DataLoader. A schedule drives the
compression through the scheduler's hooks: AGP on the first fully-connected layer,
ramped over optimizer steps; L1-norm filter pruning of the residual block's first
convolution, ramped over epochs; then thinning, which removes the pruned filters (and
the matching BatchNorm channels and input channels of the next convolution):

    python examples/own_model.py --data-dir /usr/share/datasets/fashion-mnist

The model and optimizer objects stay valid across thinning; the result is saved as a
plain-data checkpoint that ``compressor.load(path, model=OwnNet())`` reads back.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import compressor

SCHEDULE = """
pruners:
  fc_agp:
    type: agp
    weights: [fc1.weight]
    final_sparsity: 0.9
  filters:
    type: agp
    criterion: l1_filter
    weights: [block.conv_a.weight]
    final_sparsity: 0.5
extensions:
  thin:
    type: thinning
policies:
  - pruner: fc_agp          # a gradual ramp inside the first epoch
    starting_step: 0
    ending_step: 200
    frequency: 20
  - pruner: filters
    epochs: [0, 1]
  - extension: thin
    epochs: [2]
"""


class Residual(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(channels, hidden, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(hidden)
        self.conv_b = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x):
        return F.relu(x + self.conv_b(F.relu(self.bn_a(self.conv_a(x)))))


class OwnNet(nn.Module):
    """conv → residual block → pool → fc → fc."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.block = Residual(16, 32)
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.fc1 = nn.Linear(16 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = self.pool(self.block(F.relu(self.stem(x))))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzipped."""
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def loader(root: Path, split: str, batch_size: int, limit: int | None, shuffle: bool) -> DataLoader:
    images = torch.from_numpy(read_idx(root / f"{split}-images-idx3-ubyte.gz")[:limit].copy())
    labels = torch.from_numpy(read_idx(root / f"{split}-labels-idx1-ubyte.gz")[:limit].astype(np.int64))
    images = ((images.float() / 255 - 0.2860) / 0.3530).unsqueeze(1)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle)


@torch.no_grad()
def accuracy(model: nn.Module, data: DataLoader) -> float:
    model.eval()
    hits = sum(int((model(x).argmax(1) == y).sum()) for x, y in data)
    return 100.0 * hits / len(data.dataset)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-samples", type=int, default=None, help="first N training images")
    parser.add_argument("--out", type=Path, default=Path("own_model.pt"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    train = loader(args.data_dir, "train", 64, args.train_samples, shuffle=True)
    test = loader(args.data_dir, "t10k", 1000, None, shuffle=False)

    model = OwnNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = compressor.file_config(model, optimizer, SCHEDULE,
                                       example_inputs=torch.zeros(1, 1, 28, 28))
    for epoch in range(args.epochs):                        # the loop is the user's own
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
        top1 = accuracy(model, test)
        scheduler.on_epoch_end(epoch)
        zero = float((model.fc1.weight == 0).float().mean())
        print(f"epoch {epoch}: top-1 {top1:.2f}%  fc1 {zero:.0%} zero  "
              f"block.conv_a {model.block.conv_a.out_channels} filters")

    compressor.save(model, args.out, scheduler=scheduler)
    again = compressor.load(args.out, model=OwnNet())
    print(f"saved {args.out}; reloaded: top-1 {accuracy(again, test):.2f}%")
    return top1


if __name__ == "__main__":
    main()
