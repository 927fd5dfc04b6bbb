"""The thinning gather op against chained index_select (compressor/ops/thinning.py,
csrc/ops/thinning.cpp)."""

from __future__ import annotations

import pytest
import torch

from compressor.ops import gather_channels

OPS = torch.ops.compressor


# ---- the gather op -----------------------------------------------------------------------

def reference(w: torch.Tensor, out_idx, in_idx) -> torch.Tensor:
    """Two chained index_select calls."""
    if out_idx is not None:
        w = w.index_select(0, out_idx)
    if in_idx is not None:
        w = w.index_select(1, in_idx)
    return w.contiguous()


def random_index(size: int, gen: torch.Generator, kind: str) -> torch.Tensor | None:
    if kind == "none":
        return None
    if kind == "sorted":
        return torch.randperm(size, generator=gen)[:max(1, size * 2 // 3)].sort().values
    if kind == "shuffled":
        return torch.randint(0, size, (size + 2,), generator=gen)  # any order, repeats
    return torch.empty(0, dtype=torch.int64)  # "empty"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16,
                                   torch.bool])
@pytest.mark.parametrize("shape", [(7,), (5, 3), (13, 7, 5, 5), (6, 4, 3), (3, 5, 2, 3, 2),
                                   (64, 33, 3, 3), (1, 1, 1, 1)])
def test_gather_matches_index_select(dtype, shape):
    gen = torch.Generator().manual_seed(sum(shape))
    w = torch.randn(shape, generator=gen).to(dtype)
    for out_kind in ("none", "sorted", "shuffled", "empty"):
        for in_kind in ("none", "sorted", "shuffled", "empty") if len(shape) > 1 else ("none",):
            o = random_index(shape[0], gen, out_kind)
            i = random_index(shape[1], gen, in_kind) if len(shape) > 1 else None
            got = OPS.gather_channels(w, o, i)
            assert got.is_contiguous() and got.dtype == dtype
            assert torch.equal(got, reference(w, o, i)), (out_kind, in_kind)


@pytest.mark.parametrize("make", [
    lambda w: w.transpose(0, 1),
    lambda w: w.permute(0, 1, 3, 2),
    lambda w: w[::2, 1::2],
    lambda w: w[:, :, ::2],
    lambda w: w.contiguous(memory_format=torch.channels_last),
    lambda w: w.flatten(2)[:, :, 1:7],
    lambda w: w[:, 0],
    lambda w: w[:, 0, 0, :1].expand(10, 9),
], ids=["transposed", "permuted-inner", "stepped", "stepped-inner", "channels-last",
        "sliced-2d", "3d-view", "expanded"])
def test_gather_non_contiguous(make):
    gen = torch.Generator().manual_seed(1)
    w = make(torch.randn(10, 8, 4, 5, generator=gen))
    for o, i in ((torch.tensor([0, 2, 3]), torch.tensor([1, 0])), (None, torch.tensor([2])),
                 (torch.tensor([1]), None), (None, None)):
        assert torch.equal(OPS.gather_channels(w, o, i), reference(w, o, i))


def test_gather_all_kept_and_none_kept():
    w = torch.randn(6, 5, 3, 3)
    assert torch.equal(OPS.gather_channels(w, torch.arange(6), torch.arange(5)), w)
    assert torch.equal(OPS.gather_channels(w, None, None), w)
    none = OPS.gather_channels(w, torch.empty(0, dtype=torch.int64), None)
    assert none.shape == (0, 5, 3, 3)
    assert OPS.gather_channels(w, None, torch.empty(0, dtype=torch.int64)).shape == (6, 0, 3, 3)
    assert OPS.gather_channels(torch.empty(0, 4), None, torch.tensor([3])).shape == (0, 1)


@pytest.mark.parametrize("args, message", [
    ((torch.ones(4, 3, dtype=torch.int32), None, None), "w must be torch.float32"),
    ((torch.ones(4, 3), torch.tensor([0, 4]), None), r"out_idx\[1\] = 4 is out of range for "
                                                     r"w.size\(0\) = 4"),
    ((torch.ones(4, 3), None, torch.tensor([-1])), r"in_idx\[0\] = -1 is out of range"),
    ((torch.ones(4, 3), torch.tensor([0], dtype=torch.int32), None),
     "out_idx must be torch.int64, got torch.int32"),
    ((torch.ones(4, 3), None, torch.tensor([0.0])), "in_idx must be torch.int64"),
    ((torch.ones(4, 3), torch.tensor([[0]]), None), "out_idx must be 1-D"),
    ((torch.ones(4), None, torch.tensor([0])), "in_idx must be None for a 1-D w"),
    ((torch.tensor(1.0), None, None), "at least one dimension"),
], ids=["int-w", "out-range", "negative", "int32-idx", "float-idx", "2d-idx", "1d-w-in",
        "0d-w"])
def test_gather_rejects_bad_arguments(args, message):
    with pytest.raises(RuntimeError, match=f"compressor.gather_channels: .*{message}"):
        OPS.gather_channels(*args)


def test_gather_wrapper():
    w = torch.randn(4, 6, 2)
    assert torch.equal(gather_channels(w, [3, 1], (0, 5)),
                       reference(w, torch.tensor([3, 1]), torch.tensor([0, 5])))
    assert gather_channels(w.to("meta"), [1], None).shape == (1, 6, 2)
    with pytest.raises(TypeError, match="w must be a torch.Tensor"):
        gather_channels([1.0, 2.0], None, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="out_idx must be a tensor"):
        gather_channels(w, 3, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dense"):
        gather_channels(w.reshape(4, 12).to_sparse(), None, None)


@pytest.mark.parametrize("args", [
    (torch.randn(6, 5, 3, 3), torch.tensor([1, 4]), torch.tensor([0, 2, 3])),
    (torch.randn(7), torch.tensor([6, 0]), None),
    (torch.randn(5, 8).t().double(), None, torch.tensor([4])),
    (torch.randn(3, 4).half(), torch.empty(0, dtype=torch.int64), None),
], ids=["4d", "1d", "transposed", "empty"])
def test_gather_opcheck(args):
    result = torch.library.opcheck(OPS.gather_channels.default, args)
    assert set(result.values()) == {"SUCCESS"}, result


# ---- models --------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # the machine is shared; conftest restores the thread count
