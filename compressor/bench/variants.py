"""The variants of a checkpoint that ``compress bench`` times: :func:`build_variants`.

``dense`` (the run's dense weights when ``dense.pt`` sits next to the checkpoint,
else random weights of the architecture: the timing is the same), ``masked`` (the
checkpoint's pruned weights), ``thinned`` (its zeroed channels removed, when there are
any) and ``sparse`` (sparse-kernel layers from ``compressor.sparse.convert``). A sparse
checkpoint is its own ``sparse`` variant, its layers unpacked the masked or thinned one.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

from torch import nn

from ..io.checkpoint import is_sparse_state, load_checkpoint
from ..io.load import model_from_state
from ..io.sparse import densify
from ..io.spec import apply_stored_masks, build_from_spec, example_for, thin_zeroed
from ..nn.scaling import fold_scaling_factors
from ..sparse import convert

__all__ = ["build_variants"]


def build_variants(path: str, *, sparse: bool = True, log=print
                   ) -> tuple[dict[str, nn.Module], dict, dict[str, nn.Module]]:
    """The variants, the checkpoint, and for each variant the model whose weights
    describe it (a sparse-kernel model holds packed buffers: its source model counts)."""
    state = load_checkpoint(path)
    final = model_from_state(state, str(path)).eval()  # checks model_spec first
    spec = state["model_spec"]
    example = example_for(state)
    variants: dict[str, nn.Module] = {}
    dense_ckpt = Path(path).parent / "dense.pt"
    if dense_ckpt.is_file() and dense_ckpt.resolve() != Path(path).resolve():
        dense = model_from_state(load_checkpoint(dense_ckpt), str(dense_ckpt)).eval()
        log(f"bench: dense weights from {dense_ckpt}")
    else:  # random weights: the timing is the same
        dense = fold_scaling_factors(build_from_spec(spec)).eval()
    variants["dense"] = dense
    if is_sparse_state(state):  # written by `compress sparse`: the sparse model is the checkpoint
        unpacked = densify(final)  # the same weights in dense layers
        variants["thinned" if state.get("thinning") else "masked"] = unpacked
        variants["sparse"] = final
        log("bench: a sparse checkpoint; its layers unpacked are the "
            f"{'thinned' if state.get('thinning') else 'masked'} variant")
        return variants, state, {**variants, "sparse": unpacked}
    masks = apply_stored_masks(final, state, str(path))  # a run stores masked weights; be sure
    if state.get("thinning"):
        variants["thinned"] = final
    else:
        variants["masked"] = final
        thinned = copy.deepcopy(final)
        if thin_zeroed(thinned, example, masks):
            variants["thinned"] = thinned.eval()
    if sparse:
        source = variants.get("thinned", final)
        t0 = time.perf_counter()
        report: list = []
        variants["sparse"] = convert(source, example_inputs=(example,), report=report).eval()
        folded = sum(1 for r in report if r.batchnorm)
        log(f"bench: sparse conversion took {time.perf_counter() - t0:.1f} s"
            + (f"; {folded} BatchNorms folded into the sparse convs" if folded else ""))
        return variants, state, {**variants, "sparse": source}
    return variants, state, dict(variants)
