"""Physical thinning: remove pruned channels so the model gets smaller and faster.

1. ``groups = compressor.graph.find_groups(model, example_input)``
2. a pruner zeros whole channels of prunable groups (``group_zero_masks``)
3. ``plan = plan_thinning(model, groups, masks=...)``: the channels that are zero in
   every producer and batchnorm of their group
4. ``recipe = thin_model(model, plan, optimizer, masks)``: smaller modules under the same
   names, optimizer state and masks sliced; the recipe (plain data, indices relative to
   the dense model) goes into the checkpoint
5. later: ``apply_recipe(build_model(...), recipe)`` then ``load_state_dict``.

``count_macs`` measures MACs and parameters before and after. The channel gather is
the C++ op ``torch.ops.compressor.gather_channels`` (``compressor.ops.gather_channels``).
"""

from .apply import Replaced, resize_module, thin_model
from .macs import TOTAL, count_macs
from .plan import ThinningPlan, plan_thinning
from .recipe import (RECIPE_FORMAT, Recipe, ThinningError, apply_recipe, thinning_recipe,
                     validate_recipe)

__all__ = ["RECIPE_FORMAT", "TOTAL", "Recipe", "Replaced", "ThinningError", "ThinningPlan",
           "apply_recipe", "count_macs", "plan_thinning", "resize_module",
           "thin_model", "thinning_recipe", "validate_recipe"]
