"""The torch implementations of the mask, criteria and gather ops: what tensors on a device
without a C++ kernel (CUDA) run, forced on CPU tensors with COMPRESSOR_REFERENCE_OPS=1."""

from __future__ import annotations

import pytest
import torch

from compressor import ops

from ..helpers import VALID_SCHEDULE, run_cli


class _NoKernel:
    """Stands in for torch.ops.compressor: any C++ op called is a failure."""

    def __getattr__(self, name):
        raise AssertionError(f"the C++ op {name} ran although the reference path was forced")


@pytest.fixture
def reference_only(monkeypatch):
    """Force the reference path and make every C++ mask/criteria/gather op unreachable."""
    from compressor.ops import masks, structured, thinning

    monkeypatch.setenv("COMPRESSOR_REFERENCE_OPS", "1")
    for module in (masks, structured, thinning):
        monkeypatch.setattr(module, "_OPS", _NoKernel())


def _weights(seed: int, shape=(16, 8, 3, 3), dtype=torch.float32) -> torch.Tensor:
    w = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    w.view(-1)[::7] = w.view(-1)[3]  # ties
    return w


CASES = {
    "magnitude_threshold": lambda w: ops.magnitude_threshold(w, 0.37),
    "magnitude_mask": lambda w: ops.magnitude_mask(w, 0.37),
    "magnitude_mask_0": lambda w: ops.magnitude_mask(w, 0.0),
    "magnitude_mask_1": lambda w: ops.magnitude_mask(w, 1.0),
    "global_magnitude_masks": lambda w: ops.global_magnitude_masks([w, w[:3].flip(0), w[0, 0]], 0.6),
    "structure_norms_l1": lambda w: ops.structure_norms(w, 0, 1),
    "structure_norms_l2_dim1": lambda w: ops.structure_norms(w, 1, 2),
    "structure_norms_last": lambda w: ops.structure_norms(w, -1, 2),
    "fpgm_scores": lambda w: ops.fpgm_scores(w),
    "nm_mask": lambda w: ops.nm_mask(w, 2, 4),
    "block_mask": lambda w: ops.block_mask(w, 4, 8, 0.5),
    "gather_channels": lambda w: ops.gather_channels(w, [3, 0, 15, 3], [7, 1]),
    "gather_channels_out": lambda w: ops.gather_channels(w, torch.tensor([2, 5]), None),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_equals_the_kernel(case, dtype, monkeypatch, request):
    w = _weights(len(case), dtype=dtype)
    want = CASES[case](w)
    request.getfixturevalue("reference_only")
    got = CASES[case](w)
    for g, k in zip(*(x if isinstance(x, list) else [x] for x in (got, want))):
        if isinstance(k, float):
            assert g == k
        elif case.startswith(("structure_norms", "fpgm")):
            assert g.dtype == k.dtype and g.shape == k.shape
            torch.testing.assert_close(g, k, rtol=1e-6 if dtype != torch.float64 else 1e-12, atol=1e-5)
        else:
            assert g.dtype == k.dtype and torch.equal(g, k), case


def test_apply_mask_reference(reference_only):
    w = torch.tensor([1.0, float("nan"), -2.0, float("inf"), 3.0])
    ops.apply_mask_(w, torch.tensor([True, False, True, False, False]))
    assert w.tolist() == [1.0, 0.0, -2.0, 0.0, 0.0] and not torch.signbit(w).tolist()[4]
    strided = torch.arange(12.0).view(3, 4).t()  # not contiguous
    ops.apply_mask_(strided, strided > 5)
    assert strided.t().flatten().tolist() == [0.0] * 6 + [6.0, 7.0, 8.0, 9.0, 10.0, 11.0]


def test_reference_keeps_the_argument_checks(reference_only):
    with pytest.raises(TypeError, match="compressor.magnitude_mask: sparsity"):
        ops.magnitude_mask(torch.randn(3), "half")
    with pytest.raises(RuntimeError, match="compressor.magnitude_mask: sparsity"):
        ops.magnitude_mask(torch.randn(3), 1.5)
    with pytest.raises(RuntimeError, match="compressor.nm_mask: m"):
        ops.nm_mask(torch.randn(2, 6), 2, 4)
    with pytest.raises(RuntimeError, match="compressor.gather_channels: out_idx"):
        ops.gather_channels(torch.randn(4, 4), [4], None)


@pytest.mark.slow
def test_a_run_on_the_reference_path_equals_the_kernel_run(finished_run, tmp_path, monkeypatch):
    _, kernel_out = finished_run
    monkeypatch.setenv("COMPRESSOR_REFERENCE_OPS", "1")
    schedule = tmp_path / "s.yaml"
    schedule.write_text(VALID_SCHEDULE)
    out = tmp_path / "out"
    assert run_cli("--schedule", str(schedule), "--out", str(out)) == 0
    a = torch.load(kernel_out / "checkpoints" / "final.pt", weights_only=True)
    b = torch.load(out / "checkpoints" / "final.pt", weights_only=True)
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for name, mask in a["scheduler"]["masks"].items():
        assert torch.equal(mask, b["scheduler"]["masks"][name]), name


def test_sparse_layers_say_they_are_cpu_only():
    from compressor.sparse.modules import check_cpu_input

    check_cpu_input("SparseLinear", torch.empty(2, device="meta"))  # shapes only: allowed
    check_cpu_input("SparseLinear", torch.empty(2))
    with pytest.raises(ValueError, match=r"SparseConv2d runs on the CPU only \(the sparse kernels "
                                         r"are C\+\+ CPU kernels\); x is on cuda:0"):
        check_cpu_input("SparseConv2d", torch.device("cuda", 0))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ops_on_cuda_tensors_run_the_reference():
    w = _weights(0)
    for case, fn in CASES.items():
        want, got = fn(w), fn(w.cuda())
        got = got if isinstance(got, list) else [got]
        got = [g.cpu() if isinstance(g, torch.Tensor) else g for g in got]
        want = want if isinstance(want, list) else [want]
        for g, k in zip(got, want):
            torch.testing.assert_close(g, k), case
