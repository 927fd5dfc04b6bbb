"""``compress bench``: latency, size and accuracy of a checkpoint's variants (see :mod:`.measure`)."""

from .measure import (build_variants, check_positive, onnx_reference, render_table, run_bench,
                      time_model, write_json)

__all__ = ["build_variants", "check_positive", "onnx_reference", "render_table", "run_bench",
           "time_model", "write_json"]
