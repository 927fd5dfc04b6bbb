"""The public Python API (compressor.file_config / prune / thin / save / load) on a model
of the user's own, driven by a plain training loop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import compressor


class OwnNet(nn.Module):
    """Not a built-in architecture: a residual block, BatchNorm, two Linear layers."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.conv_a = nn.Conv2d(8, 16, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(16)
        self.conv_b = nn.Conv2d(16, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc1 = nn.Linear(8 * 16, 32)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.relu(x + self.conv_b(F.relu(self.bn_a(self.conv_a(x)))))
        return self.fc2(F.relu(self.fc1(self.pool(x).flatten(1))))


EXAMPLE = torch.zeros(1, 1, 12, 12)


def loader(n: int = 64, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 12, 12, generator=g)
    y = (x.mean((1, 2, 3)) > 0).long() + (x[:, 0, 0, 0] > 1).long()
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)


def train(model, optimizer, scheduler, epochs: int, data: DataLoader, seen: list | None = None):
    """The user's own loop: Distiller's hook calls around a plain PyTorch step."""
    for epoch in range(epochs):
        scheduler.on_epoch_begin(epoch)
        for i, (x, y) in enumerate(data):
            scheduler.on_minibatch_begin(epoch, i, len(data))
            loss = F.cross_entropy(model(x), y)
            loss = scheduler.before_backward_pass(epoch, i, len(data), loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.on_minibatch_end(epoch, i, len(data))
            if seen is not None:
                seen.append(sparsity(model.fc1.weight))
        scheduler.on_epoch_end(epoch, metrics=loss.item())


def sparsity(t: torch.Tensor) -> float:
    return float((t == 0).float().mean())


SCHEDULE = """
pruners:
  fc:
    type: agp
    weights: [fc1.weight]
    final_sparsity: 0.75
  filters:
    type: level
    criterion: l1_filter
    weights: [conv_a.weight]
    sparsity: 0.5
regularizers:
  l2:
    type: l2
    weights: [fc2.weight]
    strength: 0.0001
lr_schedulers:
  decay:
    type: StepLR
    step_size: 1
    gamma: 0.5
extensions:
  thin:
    type: thinning
policies:
  - pruner: fc
    starting_step: 0
    ending_step: 16
    frequency: 4
  - pruner: filters
    epochs: [1]
  - regularizer: l2
    starting_epoch: 0
  - lr_scheduler: decay
    starting_epoch: 0
    ending_epoch: 3
  - extension: thin
    epochs: [2]
"""


def test_own_loop_prunes_ramps_by_step_and_thins_in_place():
    torch.manual_seed(0)
    model = OwnNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    conv_a = model.conv_a
    scheduler = compressor.file_config(model, optimizer, SCHEDULE, example_inputs=EXAMPLE)
    seen: list[float] = []
    train(model, optimizer, scheduler, 3, loader(), seen)
    # a step ramp within the first two epochs (8 steps each): masks at steps 0, 4, 8, 12
    assert seen[0] == 0.0 and 0 < seen[4] < seen[8] < seen[12] == pytest.approx(0.75, abs=0.01)
    assert seen[-1] == pytest.approx(0.75, abs=0.01)
    # filters pruned on epoch 1, thinned on epoch 2: conv_a 16 → 8, conv_b's inputs follow;
    # the module objects are the model's as before, the optimizer steps the new parameters
    assert model.conv_a is conv_a and model.conv_a.out_channels == 8 == model.bn_a.num_features
    assert model.conv_b.in_channels == 8 and model.conv_a.weight.shape == (8, 8, 3, 3)
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(p) for p in model.parameters()]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5 ** 3)
    assert [e["type"] for e in scheduler.events] == ["thinning"]
    assert model(torch.randn(2, 1, 12, 12)).shape == (2, 3)


def test_scheduler_state_round_trips_through_a_users_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = OwnNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = compressor.file_config(model, optimizer, SCHEDULE, example_inputs=EXAMPLE)
    train(model, optimizer, scheduler, 3, loader())
    path = tmp_path / "mine.pt"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, path)

    state = torch.load(path, weights_only=True)  # plain data only
    fresh = OwnNet()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.05, momentum=0.9)
    fresh_sched = compressor.file_config(fresh, fresh_opt, SCHEDULE, example_inputs=EXAMPLE)
    fresh_sched.load_state_dict(state["scheduler"])  # re-thins the dense model first
    fresh.load_state_dict(state["model"])
    fresh_opt.load_state_dict(state["optimizer"])
    x = torch.randn(4, 1, 12, 12)
    assert torch.equal(fresh.eval()(x), model.eval()(x))
    assert fresh_opt.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    # training goes on identically: masks and lr schedule restored
    model.train(), fresh.train()
    for m, o, s in ((model, optimizer, scheduler), (fresh, fresh_opt, fresh_sched)):
        torch.manual_seed(1)
        for epoch in (3,):
            s.on_epoch_begin(epoch)
            for i, (xb, yb) in enumerate(loader(seed=2)):
                s.on_minibatch_begin(epoch, i, 8)
                loss = s.before_backward_pass(epoch, i, 8, F.cross_entropy(m(xb), yb))
                o.zero_grad()
                loss.backward()
                o.step()
                s.on_minibatch_end(epoch, i, 8)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name


def test_save_and_load_a_thinned_own_model(tmp_path):
    torch.manual_seed(0)
    model = OwnNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = compressor.file_config(model, optimizer, SCHEDULE, example_inputs=EXAMPLE)
    train(model, optimizer, scheduler, 3, loader())
    path = compressor.save(model, tmp_path / "own.pt", scheduler=scheduler)
    assert torch.load(path, weights_only=True)["phase"] == "model"
    loaded = compressor.load(path, model=OwnNet())
    assert not loaded.training and loaded.conv_a.out_channels == 8
    x = torch.randn(3, 1, 12, 12)
    assert torch.equal(loaded(x), model.eval()(x))
    with pytest.raises(compressor.CompressorError, match="module 'conv_a' is not in the model"):
        compressor.load(path, model=nn.Sequential(nn.Linear(2, 2)))
    dense = compressor.save(OwnNet(), tmp_path / "dense.pt")
    with pytest.raises(compressor.CheckpointError, match="weights do not fit the model given"):
        compressor.load(dense, model=nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(compressor.CheckpointError, match="does not record an architecture"):
        compressor.load(dense)


def test_prune_one_shot_layer_and_global():
    torch.manual_seed(0)
    model = OwnNet()
    masks = compressor.prune(model, 0.5)
    assert set(masks) == {"stem.weight", "conv_a.weight", "conv_b.weight", "fc1.weight", "fc2.weight"}
    for name, mask in masks.items():
        weight = dict(model.named_parameters())[name]
        assert torch.equal(weight == 0, ~mask)
        assert sparsity(weight) == pytest.approx(0.5, abs=0.03)
    model = OwnNet()
    masks = compressor.prune(model, 0.8, scope="global", weights=["fc*.weight", "conv_*.weight"])
    total = sum(int((~m).sum()) for m in masks.values())
    assert abs(total - 0.8 * sum(m.numel() for m in masks.values())) <= 1


def test_prune_structured_then_thin_keeps_outputs():
    torch.manual_seed(0)
    model = OwnNet().eval()
    compressor.prune(model, 0.5, criterion="l1_filter", weights="conv_a.weight", example_inputs=EXAMPLE)
    x = torch.randn(5, 1, 12, 12)
    before = model(x)
    recipe = compressor.thin(model, EXAMPLE)
    assert recipe["modules"]["conv_a"]["keep_out"] and model.conv_a.out_channels == 8
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-6)


def test_thin_without_zero_channels_changes_nothing():
    model = OwnNet()
    recipe = compressor.thin(model, (EXAMPLE,))
    assert recipe["modules"] == {} and model.conv_a.out_channels == 16


def test_schedule_mistakes_are_listed_together_with_lines():
    bad = SCHEDULE.replace("[fc1.weight]", "[fc.weight]").replace("type: l2", "type: l3")
    with pytest.raises(compressor.ScheduleError) as info:
        compressor.file_config(OwnNet(), None, bad, example_inputs=EXAMPLE)
    text = str(info.value)
    assert "<schedule text>:" in text
    assert "pattern 'fc.weight' matches no parameter of the model; did you mean" in text
    assert "unknown regularizer type 'l3'" in text
    assert "an lr scheduler steps an optimizer" in text


def test_a_schedule_file_and_its_line_numbers(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(SCHEDULE.replace("[conv_a.weight]", "[conv_x.weight]"))
    with pytest.raises(compressor.ScheduleError, match=r"mine\.yaml:10: pruners\.filters\.weights"):
        compressor.file_config(OwnNet(), torch.optim.SGD(OwnNet().parameters(), lr=0.1), path,
                               example_inputs=EXAMPLE)
    with pytest.raises(compressor.CompressorError, match="not found"):
        compressor.file_config(OwnNet(), None, str(tmp_path / "missing.yaml"))


def test_tracing_components_need_example_inputs():
    model = OwnNet()
    with pytest.raises(compressor.ScheduleError) as info:
        compressor.file_config(model, torch.optim.SGD(model.parameters(), lr=0.1), SCHEDULE)
    assert "pruners.filters.criterion: structured criterion 'l1_filter' traces the model" in str(info.value)
    assert "extensions.thin: thinning traces the model" in str(info.value)


def test_ramps_need_the_end_of_their_window():
    text = """
pruners:
  fc: {type: agp, weights: [fc1.weight], final_sparsity: 0.5}
policies:
  - pruner: fc
    starting_step: 10
"""
    with pytest.raises(compressor.ScheduleError, match=r"policies\[0\]\.ending_step: pruner 'fc' ramps"):
        compressor.file_config(OwnNet(), None, text)
    both = text.replace("starting_step: 10", "starting_step: 10\n    ending_epoch: 3")
    with pytest.raises(compressor.ScheduleError, match="a policy runs on epochs or on steps"):
        compressor.file_config(OwnNet(), None, both)


def test_hooks_reject_misuse():
    model = OwnNet()
    scheduler = compressor.file_config(model, None, """
pruners:
  fc: {type: level, weights: [fc1.weight], sparsity: 0.5}
policies:
  - pruner: fc
    epochs: [0]
""")
    with pytest.raises(compressor.CompressorError,
                       match=r"minibatch_id must be in \[0, minibatches_per_epoch\)"):
        scheduler.on_minibatch_begin(0, 8, 8)
    other = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(compressor.CompressorError, match="not the one the scheduler was built with"):
        scheduler.on_epoch_begin(0, other)


def test_reduce_on_plateau_gets_the_metric():
    model = OwnNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = compressor.file_config(model, optimizer, """
lr_schedulers:
  plateau: {type: ReduceLROnPlateau, patience: 0, factor: 0.5}
policies:
  - lr_scheduler: plateau
    starting_epoch: 0
""")
    scheduler.on_epoch_end(0, metrics=1.0)
    scheduler.on_epoch_end(1, metrics=2.0)  # worse: lr halves
    assert optimizer.param_groups[0]["lr"] == 0.5
    with pytest.raises(compressor.CompressorError, match="pass the metric it watches"):
        scheduler.on_epoch_end(2)


def test_prune_argument_mistakes():
    with pytest.raises(compressor.CompressorError, match=r"compressor\.prune: sparsity: .*must be"):
        compressor.prune(OwnNet(), 1.5)
    with pytest.raises(compressor.CompressorError, match="pattern 'conv9.weight' matches no parameter"):
        compressor.prune(OwnNet(), 0.5, weights=["conv9.weight"])
    with pytest.raises(compressor.CompressorError, match="criterion"):
        compressor.prune(OwnNet(), 0.5, criterion="l3_filter")
    with pytest.raises(compressor.CompressorError, match="pass example_inputs"):
        compressor.prune(OwnNet(), 0.5, criterion="l1_filter", weights="conv_a.weight")
