"""`compress sparse`: sparse-kernel inference checkpoints of masked and thinned checkpoints,
loaded back by compressor.load; bad input is a clear error with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import compressor
from compressor.cli import main
from compressor.errors import CheckpointError
from compressor.io.checkpoint import load_checkpoint, save_checkpoint
from compressor.io.sparse import sparse_checkpoint
from compressor.io.thin import thin_checkpoint
from compressor.models import build_model
from compressor.sparse import SparseConv2d, SparseLinear

from ..helpers import SPEC, apply_masks, masked_checkpoint, resnet_checkpoint


def masked_dense(path: Path) -> nn.Module:
    state = load_checkpoint(path)
    model = compressor.load(path)
    apply_masks(model, state["scheduler"]["masks"])
    return model


def sparse_layers(model: nn.Module) -> dict[str, str]:
    return {n: m.format for n, m in model.named_modules() if isinstance(m, (SparseLinear, SparseConv2d))}


def test_masked_round_trip(tmp_path):
    src = masked_checkpoint(tmp_path / "masked.pt")
    out = tmp_path / "sparse.pt"
    entry = sparse_checkpoint(src, out, measure=False, log=lambda _: None)
    # plain data: a weights-only load reads it directly
    raw = torch.load(out, weights_only=True)
    assert raw["phase"] == "sparse" and raw["model_spec"]["arch"] == "mnist_net"
    layers = raw["sparse"]["layers"]
    assert {n: r["format"] for n, r in layers.items()} == {"conv2": "csr", "fc1": "csr", "fc2": "2:4"}
    assert set(layers["fc1"]["buffers"]) == {"values", "col_idx", "row_ptr", "bias"}
    assert set(layers["fc2"]["buffers"]) == {"values", "indices", "bias"}
    assert not any(k.startswith(("fc1.", "conv2.", "fc2.")) for k in raw["model"])  # no dense copy
    summary = {s["layer"]: s for s in raw["sparse"]["summary"]}
    assert summary == {s["layer"]: s for s in entry["summary"]}
    assert summary["conv1"]["format"] == "dense"
    assert summary["fc1"]["sparsity"] == pytest.approx(0.9, abs=0.01)

    model = compressor.load(out)
    assert sparse_layers(model) == {"conv2": "csr", "fc1": "csr", "fc2": "2:4"} and not model.training
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(model(x), masked_dense(src)(x), rtol=1e-4, atol=1e-5)


def test_thinned_round_trip_and_cli(tmp_path, capsys):
    src = masked_checkpoint(tmp_path / "masked.pt", structured=True)
    thin_checkpoint(src, tmp_path / "thin.pt")
    assert main(["sparse", str(tmp_path / "thin.pt"), "--out", str(tmp_path / "sparse.pt"),
                 "--time-budget", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "fc1" in printed and "90.0%" in printed and "Linear/Conv2d layers use a sparse format" in printed
    raw = torch.load(tmp_path / "sparse.pt", weights_only=True)
    assert raw["thinning"]["modules"]["conv1"]["keep_out"] == [i for i in range(32) if i % 4]
    model = compressor.load(tmp_path / "sparse.pt")
    assert model.conv1.out_channels == 24 and model.conv1.weight.shape[0] == 24
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = masked_dense(src)(x)  # thinning is exact: the dense masked model's outputs
        assert torch.allclose(model(x), expected, rtol=1e-4, atol=1e-5)


def test_thin_option_equals_thinning_first(tmp_path):
    src = masked_checkpoint(tmp_path / "masked.pt", structured=True)
    entry = sparse_checkpoint(src, tmp_path / "s.pt", measure=False, thin=True, log=lambda _: None)
    assert entry["thinned_here"] == 8
    model = compressor.load(tmp_path / "s.pt")
    assert model.conv1.out_channels == 24 and sparse_layers(model)["fc1"] == "csr"
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(model(x), masked_dense(src)(x), rtol=1e-4, atol=1e-5)


def test_outputs_equal_the_converted_model(tmp_path):
    from compressor.sparse import convert

    src = masked_checkpoint(tmp_path / "masked.pt")
    sparse_checkpoint(src, tmp_path / "s.pt", measure=False, log=lambda _: None)
    converted = convert(masked_dense(src).eval(), measure=False)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(compressor.load(tmp_path / "s.pt")(x), converted(x))


def test_dense_checkpoint_converts_nothing(tmp_path):
    model = build_model("mnist_net", num_classes=10, in_channels=1, image_size=28)
    save_checkpoint(tmp_path / "dense.pt", {"model_spec": SPEC, "model": model.state_dict()})
    entry = sparse_checkpoint(tmp_path / "dense.pt", tmp_path / "s.pt", measure=False, log=lambda _: None)
    assert entry["layers"] == {} and all(s["format"] == "dense" for s in entry["summary"])
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(compressor.load(tmp_path / "s.pt")(x), model.eval()(x))


def test_cli_errors(tmp_path, capsys):
    def error(*argv: str) -> str:
        assert main(list(argv)) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    src = masked_checkpoint(tmp_path / "masked.pt")
    out = str(tmp_path / "s.pt")
    assert "not found" in error("sparse", str(tmp_path / "nope.pt"), "--out", out)
    assert "--min-sparsity must be in [0, 1]" in error("sparse", str(src), "--out", out,
                                                       "--min-sparsity", "1.5")
    assert "--batch-size must be at least 1" in error("sparse", str(src), "--out", out, "--batch-size", "0")
    state = load_checkpoint(src)
    state["scheduler"]["masks"]["fc1.weight"] = torch.ones(3, 3, dtype=torch.bool)
    save_checkpoint(tmp_path / "bad_mask.pt", state)
    assert "scheduler.masks['fc1.weight']" in error("sparse", str(tmp_path / "bad_mask.pt"), "--out", out)
    save_checkpoint(tmp_path / "bare.pt", {"model": {}})
    assert "no model_spec entry" in error("sparse", str(tmp_path / "bare.pt"), "--out", out)

    assert main(["sparse", str(src), "--out", out, "--no-measure"]) == 0
    capsys.readouterr()
    assert "already a sparse inference checkpoint" in error("sparse", out, "--out", str(tmp_path / "t.pt"))
    assert "sparse inference checkpoint" in error("thin", out, "--out", str(tmp_path / "t.pt"))
    assert "cannot be resumed" in error("--resume-from", out, "--out", str(tmp_path / "run"))
    assert not (tmp_path / "t.pt").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda s: s["sparse"]["layers"]["fc1"]["buffers"].pop("row_ptr"), "Missing key(s)"),
    (lambda s: s["sparse"]["layers"]["fc1"].update(format="3:7"), "sparse.layers['fc1']: format must be"),
    (lambda s: s["sparse"]["layers"]["fc1"].update(out=64), "sparse.layers['fc1']: a Linear 9216→64"),
    (lambda s: s["sparse"]["layers"]["fc1"].pop("kind"), "sparse.layers['fc1']: no 'kind' entry"),
    (lambda s: s["sparse"]["layers"].update(fc9=s["sparse"]["layers"]["fc1"]), "sparse.layers['fc9']"),
    (lambda s: s["sparse"].update(version=7), "sparse entry version 7"),
])
def test_damaged_sparse_checkpoint(tmp_path, capsys, damage, message):
    src = masked_checkpoint(tmp_path / "masked.pt")
    sparse_checkpoint(src, tmp_path / "s.pt", measure=False, log=lambda _: None)
    state = load_checkpoint(tmp_path / "s.pt")
    damage(state)
    save_checkpoint(tmp_path / "bad.pt", state)
    with pytest.raises(CheckpointError, match="bad.pt") as info:
        compressor.load(tmp_path / "bad.pt")
    assert message in str(info.value)
    assert main(["bench", str(tmp_path / "bad.pt"), "--runs", "1"]) == 2
    assert message in capsys.readouterr().err


def test_folded_batchnorms_round_trip(tmp_path, capsys):
    src, masked = resnet_checkpoint(tmp_path / "resnet.pt")
    out = tmp_path / "sparse.pt"
    assert main(["sparse", str(src), "--out", str(out), "--no-measure"]) == 0
    assert "layer1.0.bn1 folded in" in capsys.readouterr().out
    raw = torch.load(out, weights_only=True)
    layers = raw["sparse"]["layers"]
    assert layers["layer1.0.conv1"]["batchnorm"] == "layer1.0.bn1"
    assert sum("batchnorm" in r for r in layers.values()) == 20
    assert not any(".bn" in k or "downsample.1" in k for k in raw["model"])  # folded: not stored
    model = compressor.load(out)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), masked(x), rtol=1e-3, atol=1e-3)

    kept = tmp_path / "kept.pt"
    assert main(["sparse", str(src), "--out", str(kept), "--no-measure", "--keep-batchnorm"]) == 0
    state = load_checkpoint(kept)
    assert not any("batchnorm" in r for r in state["sparse"]["layers"].values())
    state["sparse"]["version"] = 1  # written before folding existed: still read
    save_checkpoint(tmp_path / "v1.pt", state)
    with torch.no_grad():
        torch.testing.assert_close(compressor.load(tmp_path / "v1.pt")(x), masked(x), rtol=1e-3, atol=1e-3)

    state = load_checkpoint(out)
    state["sparse"]["layers"]["layer1.0.conv1"]["batchnorm"] = "layer1.0.conv2"
    save_checkpoint(tmp_path / "bad.pt", state)
    with pytest.raises(CheckpointError, match=r"bad.pt: sparse.layers\['layer1.0.conv1'\].batchnorm: "
                                              r"'layer1.0.conv2' is not a BatchNorm2d"):
        compressor.load(tmp_path / "bad.pt")
