"""Physical thinning: remove pruned channels so the model gets smaller and faster.

1. ``groups = compressor.graph.find_groups(model, example_input)``
2. a pruner zeros whole channels of prunable groups (``group_zero_masks``)
3. ``plan = plan_thinning(model, groups, masks=...)`` (:mod:`.plan`): the channels that
   are zero in every producer and batchnorm of their group
4. ``recipe = thin_model(model, plan, optimizer, masks)`` (:mod:`.apply`): smaller
   modules under the same names (:mod:`.resize`, through the C++ gather
   ``compressor.ops.gather_channels``), optimizer state and masks sliced; the recipe
   (plain data, indices relative to the dense model, :mod:`.recipe`) goes into the
   checkpoint
5. later: ``apply_recipe(build_model(...), recipe)`` then ``load_state_dict``.

``count_macs`` (:mod:`.macs`) measures MACs and parameters before and after.
"""

from .apply import thin_model
from .macs import TOTAL, count_macs
from .plan import ThinningPlan, plan_thinning
from .recipe import RECIPE_FORMAT, Recipe, apply_recipe, thinning_recipe, validate_recipe
from .resize import Replaced, ThinningError, resize_module

__all__ = ["RECIPE_FORMAT", "TOTAL", "Recipe", "Replaced", "ThinningError", "ThinningPlan",
           "apply_recipe", "count_macs", "plan_thinning", "resize_module", "thin_model",
           "thinning_recipe", "validate_recipe"]
