"""The instruction-set detector (csrc/cpu/isa.{h,cpp}): ``compressor._C.cpu_isa()`` reports
what the sparse kernels select, including the COMPRESSOR_SPARSE_ISA override, and a bad
override is a clear ValueError from both ``cpu_isa()`` and the sparse ops."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import compressor._C as _C

OPS = torch.ops.compressor
ENV = "COMPRESSOR_SPARSE_ISA"
LEVELS = ["portable", "avx2", "avx512"]  # lowest first
BAD = ["avx-512", "AVX2", "sse4", " avx2", "avx512f"]


def cpu_isa_in_subprocess(value: str | None) -> subprocess.CompletedProcess:
    """``cpu_isa()`` in a fresh interpreter with COMPRESSOR_SPARSE_ISA = value (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if value is not None:
        env[ENV] = value
    code = "import compressor._C as c; print(c.cpu_isa())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def hardware() -> str:
    """The level of this CPU: cpu_isa() with no override, in a fresh process."""
    done = cpu_isa_in_subprocess(None)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_hardware_level_is_known(hardware):
    assert hardware in LEVELS


@pytest.mark.skipif(platform.machine() != "x86_64" or not Path("/proc/cpuinfo").exists(),
                    reason="checks the x86-64 CPU flags in /proc/cpuinfo")
def test_hardware_level_matches_cpu_flags(hardware):
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags:
        want = "avx512"
    elif {"avx2", "fma"} <= flags:
        want = "avx2"
    else:
        want = "portable"
    assert hardware == want


@pytest.mark.parametrize("value", LEVELS + [""])
def test_override_lowers_the_level_in_a_fresh_process(value, hardware):
    done = cpu_isa_in_subprocess(value)
    assert done.returncode == 0, done.stderr
    # Asking for more than the CPU has gives what it has; empty means no override.
    want = hardware if value == "" else LEVELS[min(LEVELS.index(value), LEVELS.index(hardware))]
    assert done.stdout.strip() == want


def test_override_is_read_on_every_call(monkeypatch, hardware):
    monkeypatch.setenv(ENV, "portable")
    assert _C.cpu_isa() == "portable"
    monkeypatch.setenv(ENV, "avx512")
    assert _C.cpu_isa() == hardware
    monkeypatch.delenv(ENV)
    assert _C.cpu_isa() == hardware


@pytest.mark.parametrize("value", BAD)
def test_bad_override_is_a_value_error_in_a_fresh_process(value):
    done = cpu_isa_in_subprocess(value)
    assert done.returncode == 1, (done.returncode, done.stderr)  # an exception, not a signal
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ValueError: {ENV}='{value}' is not an instruction set")
    assert "use portable, avx2, avx512 or avx512_vnni" in last


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(platform.machine() != "x86_64" or not Path("/proc/cpuinfo").exists(),
                    reason="checks the x86-64 CPU flags in /proc/cpuinfo")
def test_vnni_flag_follows_cpu_flags_and_override(monkeypatch, hardware):
    # The int8 kernels use VNNI when the CPU is avx512 with avx512_vnni and avx512vbmi and
    # the override is unset, empty or avx512_vnni; avx512_vnni selects avx512 for the rest.
    vnni = hardware == "avx512" and {"avx512_vnni", "avx512vbmi"} <= _cpu_flags()
    for value in LEVELS + ["avx512_vnni", "", None]:
        if value is None:
            monkeypatch.delenv(ENV, raising=False)
        else:
            monkeypatch.setenv(ENV, value)
        best = value in ("", None, "avx512_vnni")
        want_isa = hardware if best else LEVELS[min(LEVELS.index(value), LEVELS.index(hardware))]
        assert _C.cpu_isa() == want_isa
        assert _C.cpu_int8_isa() == ("avx512_vnni" if vnni and best else want_isa)


def _linear_inputs(batch: int):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(24, 40, generator=gen)
    w[torch.rand(w.shape, generator=gen) < 0.7] = 0
    x = torch.randn(batch, 40, generator=gen)
    return w, x


# batch 1 takes the rows layout (spmv), batch 16 the columns layout (spmm).
@pytest.mark.parametrize("batch", [1, 16])
def test_bad_override_fails_linear_ops_cleanly(monkeypatch, batch):
    w, x = _linear_inputs(batch)
    values, col, row_ptr = OPS.sparse_bsr_pack(w, 1, 1)
    nm_w = w.clone()
    nm_w.view(24, 10, 4)[..., 2:] = 0
    nm_values, nm_idx = OPS.sparse_nm24_pack(nm_w)
    monkeypatch.setenv(ENV, "bogus")
    with pytest.raises(ValueError, match=f"{ENV}='bogus' is not an instruction set"):
        OPS.sparse_bsr_linear(x, values, col, row_ptr, 24, 40)
    with pytest.raises(ValueError, match=f"{ENV}='bogus'"):
        OPS.sparse_nm24_linear(x, nm_values, nm_idx, 40)
    # Nothing is left behind: with the override gone the same call is right.
    monkeypatch.delenv(ENV)
    torch.testing.assert_close(OPS.sparse_bsr_linear(x, values, col, row_ptr, 24, 40), F.linear(x, w))


# The direct convolution and the im2col one (forced by a dilation wider than the image).
@pytest.mark.parametrize("dilation", [1, 5])
def test_bad_override_fails_conv_ops_cleanly(monkeypatch, dilation):
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(8, 3, 3, 3, generator=gen)
    w[torch.rand(w.shape, generator=gen) < 0.6] = 0
    x = torch.randn(2, 3, 12, 12, generator=gen)
    values, col, row_ptr = OPS.sparse_bsr_pack(w.flatten(1), 1, 1)
    args = (list(w.shape), None, [1, 1], [1, 1], [dilation, dilation])
    monkeypatch.setenv(ENV, "bogus")
    with pytest.raises(ValueError, match=f"{ENV}='bogus' is not an instruction set"):
        OPS.sparse_bsr_conv2d(x, values, col, row_ptr, *args)
    monkeypatch.delenv(ENV)
    torch.testing.assert_close(OPS.sparse_bsr_conv2d(x, values, col, row_ptr, *args),
                               F.conv2d(x, w, padding=1, dilation=dilation), rtol=1e-5, atol=1e-5)
