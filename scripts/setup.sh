#!/usr/bin/env bash
# Set up a development environment in .venv: the pinned torch, the build tools, and
# compressor itself (editable, C++ extension built against that torch).
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
pip_install() { .venv/bin/pip install --disable-pip-version-check -q "$@" 2>&1 | grep -v "^WARNING: Location" || true; }

# torch first: the extension links against it, so it is built without build isolation
# (isolation would fetch a second multi-GB torch).
if ! .venv/bin/python -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '2.14.1')" 2>/dev/null; then
  echo "setup: installing torch==2.14.1 torchvision==0.29.1 (about a minute)"
  pip_install torch==2.14.1 torchvision==0.29.1
fi
pip_install "scikit-build-core>=0.10" "pybind11>=2.12" "pytest>=8" "pytest-benchmark>=4"
echo "setup: building compressor (C++ extension)"
# With the optional extras onnx (onnxruntime + onnx, `compress bench`'s reference runtime) and
# tensorboard (`--tensorboard DIR`) so the tests exercise them; compressor requires torch 2.14.x,
# so pip leaves the torch installed above alone.
pip_install --no-build-isolation -e ".[test,onnx,tensorboard]"
.venv/bin/python -c "import compressor, compressor._C as c; print(f'setup: compressor {compressor.__version__}, CPU kernels: {c.cpu_isa()}')"
