"""The CLI on the user's own model, data and weights: ``arch: "file.py:callable"`` with a
residual add, ``image_folder`` data, ``model.weights`` from a plain state_dict whose
classifier has another class count; AGP + L1 filters + thinning; the checkpoints rebuild
the model everywhere (compressor.load, compress thin, resume)."""

from __future__ import annotations

import json

import pytest
import torch

import compressor
from compressor.cli import main
from compressor.io.checkpoint import load_checkpoint

from ..helpers import make_image_folder, run_cli
from ..test_user_models import NET

SCHEDULE = """\
version: 1
model:
  arch: "ARCH"
  options: {width: 8}
  weights: WEIGHTS
data:
  dataset: image_folder
  dir: DATA
  image_size: [16, 20]
  augment: true
  workers: 1
training:
  dense_epochs: 1
  epochs: 3
  batch_size: 4
  optimizer: {type: SGD, lr: 0.05, momentum: 0.9}
pruners:
  weights_agp:
    type: agp
    weights: [head.weight]
    initial_sparsity: 0.2
    final_sparsity: 0.6
  filters:
    type: level
    criterion: l1_filter
    weights: [body.weight]
    sparsity: 0.25
extensions:
  thin: {type: thinning}
policies:
  - {pruner: weights_agp, starting_epoch: 0, ending_epoch: 2}
  - {pruner: filters, epochs: [1]}
  - {extension: thin, epochs: [1]}
"""


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    (root / "nets").mkdir()
    (root / "nets" / "tiny.py").write_text(NET)
    images = make_image_folder(root / "images", train=4, val=2, size=(18, 22))
    # pretrained weights of the same architecture, trained for 5 classes (the data has 3)
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("own_tiny", root / "nets" / "tiny.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(5)
    pretrained = module.TinyResidual(width=8, classes=5)
    torch.save(pretrained.state_dict(), root / "tiny5.pth")
    text = (SCHEDULE.replace("ARCH", f"{root}/nets/tiny.py:make").replace("WEIGHTS", str(root / "tiny5.pth"))
            .replace("DATA", str(images)))
    (root / "s.yaml").write_text(text)
    out = root / "out"
    assert run_cli("--schedule", str(root / "s.yaml"), "--out", str(out), "--keep-checkpoints", "0") == 0
    return root, out, pretrained.state_dict()


@pytest.mark.slow
def test_own_model_image_folder_and_weights_through_the_cli(own_run, capsys):
    root, out, pretrained = own_run
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete" and report["data"] == {
        "dataset": "image_folder", "train_samples": 12, "test_samples": 6}
    weights = report["model"]["weights"]
    replaced = (weights["classifier_replaced"], weights["classes_in_file"], weights["classes_now"])
    assert replaced == ("head", 5, 3)
    md = (out / "report.md").read_text()
    assert "classifier `head` replaced: 5 classes in the file, 3 in the data set" in md
    # thinning removed a quarter of body's filters: 8 -> 6, and the residual add kept stem in step
    layers = report["structure"]["layers"]
    assert layers["body"]["shape_after"][0] < 8 and report["thinning"]
    dense = load_checkpoint(out / "checkpoints" / "dense_epoch_000.pt")
    assert dense["model_spec"]["arch"] == f"{root}/nets/tiny.py:make"
    # make(width=8) builds a 10-class head; the file's 5 classes were replaced by the data's 3
    assert dense["model_spec"]["classifier_replaced"] == "head"
    assert weights["tensors"] == len(pretrained) - 2  # all but the replaced head.weight / head.bias
    model = compressor.load(out / "checkpoints" / "final.pt")
    assert model(torch.randn(2, 3, 16, 20)).shape == (2, 3)
    assert model.body.out_channels == layers["body"]["shape_after"][0]


@pytest.mark.slow
def test_own_model_resumes_thins_and_benches_from_elsewhere(own_run, tmp_path, monkeypatch):
    root, out, _ = own_run
    monkeypatch.chdir(tmp_path)  # rebuilt from the recorded absolute path, not the schedule's
    assert run_cli("--resume-from", str(out / "checkpoints" / "epoch_000.pt"),
                   "--out", str(tmp_path / "resumed")) == 0
    a = load_checkpoint(out / "checkpoints" / "final.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "final.pt")
    assert all(torch.equal(t, b["model"][n]) for n, t in a["model"].items())
    assert main(["thin", str(out / "checkpoints" / "epoch_000.pt"), "--out",
                 str(tmp_path / "thin.pt")]) == 0
    assert compressor.load(tmp_path / "thin.pt")(torch.randn(1, 3, 16, 20)).shape == (1, 3)
    assert main(["bench", str(out / "checkpoints" / "final.pt"), "--no-onnx", "--batch-sizes", "1",
                 "--runs", "2", "--warmup", "1", "--budget", "1", "--json", str(tmp_path / "b.json")]) == 0
    bench = json.loads((tmp_path / "b.json").read_text())
    # the final model was thinned in the run; every variant is scored on the image folder's val/
    assert all(0 <= v["top1"] <= 100 for v in bench["variants"].values()) and "thinned" in bench["variants"]
