"""Channel dependency groups of a model, from a torch.fx trace.

``find_groups(model, example_input)`` lists the :class:`ChannelGroup` s: sets of
tensor slices (producer filters, batchnorm entries, consumer input columns) that must
keep the same channel indices. Pruners score a group with :func:`group_param_slices`
and zero channels with :func:`group_zero_masks`; ``compressor.thinning`` then removes
the zeroed channels physically.
"""

from .errors import GraphError
from .groups import (ROLES, ChannelGroup, Member, ParamSlice, group_param_slices,
                     group_zero_masks, member_tensor)
from .analysis import find_groups

__all__ = ["ROLES", "ChannelGroup", "GraphError", "Member", "ParamSlice", "find_groups",
           "group_param_slices", "group_zero_masks", "member_tensor"]
