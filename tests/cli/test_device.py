"""``--device``: checked when the arguments are parsed, before any schedule or data is read."""

from __future__ import annotations

import pytest
import torch

from compressor.cli import main


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_exits_2_before_any_work(tmp_path, capsys, device):
    # Neither the checkpoint nor the schedule exists: the device is checked first.
    for source in (["--resume-from", str(tmp_path / "missing.pt")],
                   ["--schedule", str(tmp_path / "missing.yaml")]):
        assert main([*source, "--device", device]) == 2
        err = capsys.readouterr().err
        assert f"--device {device}" in err and "no CUDA device" in err, err
        assert "missing" not in err and "Traceback" not in err


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "tpu"])
def test_unknown_device_is_a_usage_error(tmp_path, capsys, device):
    with pytest.raises(SystemExit) as exc:
        main(["--schedule", str(tmp_path / "missing.yaml"), "--device", device])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--device" in err and "cpu or cuda" in err, err
