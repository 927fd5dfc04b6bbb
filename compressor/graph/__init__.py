"""Channel dependency groups of a model, from a torch.fx trace.

``find_groups(model, example_input)`` lists the :class:`ChannelGroup` s: sets of
tensor slices (producer filters, batchnorm entries, consumer input columns) that must
keep the same channel indices. In the order it works:

1. :mod:`.trace`  trace with ``torch.fx``, run once on the example input for shapes;
2. :mod:`.analysis`  walk the graph, giving each node's output a channel map
   (:mod:`.channel_map`) from what its op does to channels (:mod:`.op_tables`);
3. :mod:`.groups`  the result: members, prunability with a reason, and the helpers
   pruners use, :func:`group_param_slices` to score a group and
   :func:`group_zero_masks` to zero its channels; ``compressor.engine.thinning`` then
   removes the zeroed channels physically.
"""

from .errors import GraphError
from .groups import (
    ROLES,
    ChannelGroup,
    Member,
    ParamSlice,
    group_param_slices,
    group_zero_masks,
    member_tensor,
)
from .trace import find_groups

__all__ = ["ROLES", "ChannelGroup", "GraphError", "Member", "ParamSlice", "find_groups",
           "group_param_slices", "group_zero_masks", "member_tensor"]
