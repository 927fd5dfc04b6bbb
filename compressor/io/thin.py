"""``compress thin``: offline thinning of a checkpoint.

Every channel the checkpoint's masks zeroed in a whole dependency group is removed;
the result is an inference checkpoint (phase ``thinned``) that ``compressor.load``
rebuilds from its recipe.
"""

from __future__ import annotations

from pathlib import Path

from ..engine.thinning import TOTAL, count_macs, plan_thinning, thin_model, thinning_recipe
from ..errors import CheckpointError
from ..graph import find_groups
from .checkpoint import Phase, is_sparse_state, load_checkpoint, save_checkpoint
from .spec import dense_model_from_state, example_for, inference_spec

__all__ = ["thin_checkpoint"]


def thin_checkpoint(path: str | Path, out: str | Path) -> dict:
    """``compress thin``: remove every channel the checkpoint's masks zeroed in a whole
    dependency group; write an inference checkpoint. Returns params/MACs before and after."""
    state = load_checkpoint(path)
    if is_sparse_state(state):
        raise CheckpointError(f"{path} is a sparse inference checkpoint (`compress sparse`); thin "
                              "the checkpoint it was made from (or use `compress sparse --thin`)")
    model = dense_model_from_state(state, str(path))
    params = dict(model.named_parameters())  # folded scaling factors lose their masks
    masks = {k: v for k, v in state.get("scheduler", {}).get("masks", {}).items() if k in params}
    example = example_for(state)
    before = count_macs(model, example)[TOTAL]
    plan = plan_thinning(model, find_groups(model, example), masks=masks)
    thin_model(model, plan, masks=masks)
    after = count_macs(model, example)[TOTAL]
    thinned = {k: v for k, v in state.items() if k not in ("format", "format_version", "optimizer")}
    thinned.update(phase=Phase.THINNED.value, model_spec=inference_spec(state["model_spec"]),
                   model={k: v.detach().cpu() for k, v in model.state_dict().items()},
                   thinning=thinning_recipe(model),
                   scheduler={**state.get("scheduler", {}), "masks": masks})
    save_checkpoint(out, thinned)
    return {"channels_removed": int(plan.channels_removed), "params_before": before["params"],
            "params_after": after["params"], "macs_before": before["macs"], "macs_after": after["macs"]}
