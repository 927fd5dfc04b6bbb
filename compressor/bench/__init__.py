"""``compress bench``: how fast, small and accurate the variants of a checkpoint are.

1. :mod:`.variants`  the dense, masked, thinned and sparse-kernel models of a checkpoint;
2. :mod:`.ort`  the dense model exported to ONNX and run by onnxruntime, the reference
   runtime (optional: ``pip install 'compressor[onnx]'``), its outputs checked first;
3. :mod:`.measure`  ``run_bench``: every variant timed per batch size and thread count,
   with parameters, MACs, size and accuracy, and its speed-ups;
4. :mod:`.table`  the results as a markdown table and as JSON.
"""

from .measure import check_positive, run_bench, time_model
from .ort import onnx_reference
from .table import render_table, write_json
from .variants import build_variants

__all__ = ["build_variants", "check_positive", "onnx_reference", "render_table", "run_bench",
           "time_model", "write_json"]
