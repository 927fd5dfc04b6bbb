"""Persistence: checkpoints, and the models rebuilt from them.

1. :mod:`.checkpoint`  the format: plain data written atomically, read back with
   ``torch.load(weights_only=True)``; its :class:`Phase` says where a checkpoint stands;
2. :mod:`.spec`  a checkpoint's ``model_spec`` → the model (recipe, weights, masks);
3. :mod:`.load`  ``compressor.load(path)``: rebuilds any checkpoint, by its phase;
4. offline tools that write inference checkpoints: :mod:`.thin` (``compress thin``)
   and :mod:`.sparse` (``compress sparse``, and reading such checkpoints back);
5. :mod:`.weights`  ``model.weights``: plain state_dict files (torchvision, timm) loaded
   weights-only, the classifier replaced when the class count differs.
"""

from .checkpoint import Phase, is_sparse_state, load_checkpoint, save_checkpoint

# The readers (.load, .spec, .sparse) build architectures and import torchvision's model
# zoo: import them from their modules when needed, so `import compressor` stays light.
__all__ = ["Phase", "is_sparse_state", "load_checkpoint", "save_checkpoint"]
