"""file_config in a user's own DistributedDataParallel loop: 2 ranks (gloo, CPU) get the
same masks, the same thinning and a working wrapper after thinning."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import compressor

from ..test_api import EXAMPLE, SCHEDULE, OwnNet, loader

WORLD = 2


def _worker(rank: int, init_file: str, out: str, perturb: bool) -> None:
    warnings.simplefilter("error")  # as in the test suite: no deprecated APIs
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(0)
        torch.set_num_threads(1)
        net = OwnNet()
        model = DistributedDataParallel(net)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        scheduler = compressor.file_config(model, optimizer, SCHEDULE, example_inputs=EXAMPLE)
        if perturb and rank == 1:  # the ranks' weights drift apart: local masks would differ
            with torch.no_grad():
                net.fc1.weight.add_(torch.randn_like(net.fc1.weight) * 0.05)
        data = loader(seed=rank)  # each rank its own shard
        masks_seen = []
        for epoch in range(3):
            scheduler.on_epoch_begin(epoch)
            for i, (x, y) in enumerate(data):
                scheduler.on_minibatch_begin(epoch, i, len(data))
                loss = F.cross_entropy(model(x), y)
                loss = scheduler.before_backward_pass(epoch, i, len(data), loss)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.on_minibatch_end(epoch, i, len(data))
            masks_seen.append(scheduler.masks.state_dict())
            scheduler.on_epoch_end(epoch)
        torch.save({"params": {k: v.detach() for k, v in net.named_parameters()}, "masks": masks_seen,
                    "recipe": scheduler.state_dict()["thinning"]}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _run(tmp_path, perturb: bool) -> list[dict]:
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path), perturb), nprocs=WORLD)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


@pytest.mark.slow
@pytest.mark.parametrize("perturb", [False, True], ids=["same-weights", "drifted-weights"])
def test_two_ranks_prune_and_thin_alike(tmp_path, perturb):
    a, b = _run(tmp_path, perturb)
    for epoch, (ma, mb) in enumerate(zip(a["masks"], b["masks"])):
        assert ma.keys() == mb.keys() and ma, epoch
        for name in ma:
            assert torch.equal(ma[name], mb[name]), (epoch, name)
    assert a["recipe"] == b["recipe"] and a["recipe"]["modules"]["conv_a"]["keep_out"]
    # after thinning the rebuilt wrapper synchronises again: the same parameters on both
    # ranks (BatchNorm running statistics are each rank's own between DDP's buffer syncs)
    for name in a["params"]:
        assert torch.equal(a["params"][name], b["params"][name]), name
    assert a["params"]["conv_a.weight"].shape == (8, 8, 3, 3)
